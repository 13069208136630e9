//! sea-orm entities, one per table. Times are unix milliseconds (`BIGINT`), money is fen.

pub mod buyer;
pub mod flash_sale;
pub mod merchant;
pub mod order;
pub mod product;
pub mod setting;
