//! WeChat mini-program subscription messages (`subscribeMessage.send`): the access-token
//! protocol (`GET /cgi-bin/token`, cached until shortly before it expires, fetched again once
//! when the API calls it stale) and the message itself. The bundled sandbox
//! (`sandbox::wechat_mp`) speaks the same protocol with its own appid and secret.

pub mod client;
pub mod protocol;

pub use client::{MpError, WechatMp, WechatMpConfig};
