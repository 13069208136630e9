//! sea-orm entities, one per table. Times are unix milliseconds (`BIGINT`), money is fen.

pub mod audit_entry;
pub mod banned_number;
pub mod buyer;
pub mod buyer_address;
pub mod buyer_code;
pub mod capture;
pub mod flash_sale;
pub mod merchant;
pub mod merchant_ban;
pub mod merchant_document;
pub mod merchant_qualification;
pub mod merchant_token_version;
pub mod operator;
pub mod order;
pub mod order_address;
pub mod outbox_message;
pub mod partner;
pub mod payment;
pub mod posting;
pub mod posting_line;
pub mod product;
pub mod setting;
pub mod shipment;
pub mod split_rule;
pub mod tracking_event;
pub mod withdrawal;
