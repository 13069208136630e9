//! Payment channels' wire protocols: WeChat Pay API v3 and Alipay (RSA2). Pure functions over
//! keys, headers and bodies, so that the adapters, the bundled sandboxes and the tests all run
//! the same signing and verification code.
//!
//! Not yet wired to HTTP: the payment endpoints, notification routes, sandboxes and the active
//! query are the next step (see ARCHITECTURE.md, known limits).

pub mod alipay;
pub mod wechat;
