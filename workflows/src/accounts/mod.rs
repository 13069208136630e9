//! Accounts that log in with a password (merchants, operators) and hold tokens: what a
//! password check may cost, how often it may fail, and which token versions are current.

pub mod login;
pub mod operators;
pub mod passwords;
pub mod roles;
pub mod tokens;
pub mod versions;
