//! Payment channels' wire protocols: WeChat Pay API v3 and Alipay (RSA2). Pure functions over
//! keys, headers and bodies, so that the adapters, the bundled sandboxes and the tests all run
//! the same signing and verification code.
//!
//! [`adapter`] puts them on the wire (HTTP clients with failover), [`keys`] holds the key
//! material.

pub mod adapter;
pub mod alipay;
pub mod keys;
pub mod wechat;

/// Two RSA-2048 key pairs, made once per test run (generation takes a while): the genuine
/// party's and an impostor's.
#[cfg(test)]
pub(crate) fn test_keys() -> &'static (rsa::RsaPrivateKey, rsa::RsaPrivateKey) {
    static KEYS: std::sync::OnceLock<(rsa::RsaPrivateKey, rsa::RsaPrivateKey)> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rsa::rand_core::OsRng;
        let mut key = || rsa::RsaPrivateKey::new(&mut rng, 2048).expect("RSA key generation");
        (key(), key())
    })
}
