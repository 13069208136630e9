//! Merchants' qualification: the document images behind it ([`documents`], kept in an
//! [`store::ObjectStore`]) and its automated review ([`review`]) through the verification
//! service.

pub mod documents;
pub mod review;
pub mod store;
pub mod trust;
