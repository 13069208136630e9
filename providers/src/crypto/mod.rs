//! The crypto every provider shares: SHA256withRSA signatures, PEM in and out, random nonces,
//! and (in [`keys`]) the payment channels' key material.
//!
//! WeChat Pay and Alipay sign with the same primitive (RSA PKCS#1 v1.5 over SHA-256, base64);
//! one implementation serves both, their sandboxes and the tests.

pub mod keys;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::Rng as _;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use thiserror::Error;

pub use keys::{ChannelKeys, KeyPems, parse_api_v3_key};

/// SHA256withRSA (PKCS#1 v1.5), base64.
pub fn rsa_sign(key: &RsaPrivateKey, message: &[u8]) -> String {
    let signature = SigningKey::<Sha256>::new(key.clone()).sign(message);
    BASE64.encode(signature.to_bytes())
}

pub fn rsa_verify(key: &RsaPublicKey, message: &[u8], signature_b64: &str) -> bool {
    let Ok(bytes) = BASE64.decode(signature_b64.trim()) else { return false };
    let Ok(signature) = Signature::try_from(bytes.as_slice()) else { return false };
    VerifyingKey::<Sha256>::new(key.clone()).verify(message, &signature).is_ok()
}

/// A random string of `len` characters from `A-Z0-9`, as the channels' nonces are written.
pub fn nonce(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..len).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// Key material that could not be read; the message names the setting it came from.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct KeyError(String);

pub fn private_pem(key: &RsaPrivateKey) -> String {
    key.to_pkcs8_pem(LineEnding::LF).expect("PKCS#8 encoding of an RSA key").to_string()
}

pub fn public_pem(key: &RsaPublicKey) -> String {
    key.to_public_key_pem(LineEnding::LF).expect("SPKI encoding of an RSA key")
}

pub fn parse_private(pem: &str, what: &str) -> Result<RsaPrivateKey, KeyError> {
    RsaPrivateKey::from_pkcs8_pem(pem.trim())
        .map_err(|e| KeyError(format!("{what}: not a PKCS#8 RSA private key PEM: {e}")))
}

pub fn parse_public(pem: &str, what: &str) -> Result<RsaPublicKey, KeyError> {
    RsaPublicKey::from_public_key_pem(pem.trim())
        .map_err(|e| KeyError(format!("{what}: not an RSA public key PEM: {e}")))
}

/// Two RSA-2048 key pairs, made once per test run (generation takes a while): the genuine
/// party's and an impostor's.
#[cfg(test)]
pub(crate) fn test_keys() -> &'static (RsaPrivateKey, RsaPrivateKey) {
    static KEYS: std::sync::OnceLock<(RsaPrivateKey, RsaPrivateKey)> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rsa::rand_core::OsRng;
        let mut key = || RsaPrivateKey::new(&mut rng, 2048).expect("RSA key generation");
        (key(), key())
    })
}
