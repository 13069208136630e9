//! [`TokenSeal`]: a shop's tokens encrypted at rest with AES-256-GCM under the deployment's
//! token key. The associated data names the platform, the shop and which token it is, so a
//! sealed token copied into another row (or swapped with its twin) does not open.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::Rng as _;

pub struct TokenSeal {
    cipher: Aes256Gcm,
}

impl TokenSeal {
    pub fn new(key: [u8; 32]) -> Self {
        Self { cipher: Aes256Gcm::new(&key.into()) }
    }

    /// Base64 of a fresh 12-byte nonce followed by the ciphertext and tag.
    pub fn seal(&self, context: &str, token: &str) -> String {
        let nonce: [u8; 12] = rand::rng().random();
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: token.as_bytes(), aad: context.as_bytes() })
            .expect("AES-GCM encrypts any message of this size");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        STANDARD.encode(out)
    }

    /// The token sealed under `context`, or `None` when it does not open (another key, another
    /// row, tampered).
    pub fn open(&self, context: &str, sealed: &str) -> Option<String> {
        let bytes = STANDARD.decode(sealed).ok()?;
        if bytes.len() < 12 + 16 {
            return None;
        }
        let (nonce, body) = bytes.split_at(12);
        let nonce = Nonce::from(<[u8; 12]>::try_from(nonce).ok()?);
        let plain = self.cipher.decrypt(&nonce, Payload { msg: body, aad: context.as_bytes() }).ok()?;
        String::from_utf8(plain).ok()
    }
}

/// The associated data of a shop's token.
pub fn context(platform: &str, shop_id: &str, which: &str) -> String {
    format!("live-token:{platform}:{shop_id}:{which}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_token_opens_only_under_its_key_and_its_context() {
        let seal = TokenSeal::new([7; 32]);
        let sealed = seal.seal("live-token:douyin:1:access", "act.secret");
        assert!(!sealed.contains("act.secret"));
        assert_ne!(sealed, seal.seal("live-token:douyin:1:access", "act.secret"), "fresh nonce each time");
        assert_eq!(seal.open("live-token:douyin:1:access", &sealed).as_deref(), Some("act.secret"));
        assert_eq!(seal.open("live-token:douyin:2:access", &sealed), None, "another shop's row");
        assert_eq!(seal.open("live-token:douyin:1:refresh", &sealed), None, "the twin token's slot");
        assert_eq!(TokenSeal::new([8; 32]).open("live-token:douyin:1:access", &sealed), None);
        let mut tampered = STANDARD.decode(&sealed).unwrap();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(seal.open("live-token:douyin:1:access", &STANDARD.encode(tampered)), None);
    }
}
