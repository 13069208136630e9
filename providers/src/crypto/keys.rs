//! The key material of both payment channels, for the bundled sandboxes and the clients that talk
//! to them: four RSA-2048 key pairs and the WeChat Pay APIv3 key.
//!
//! With the bundled sandboxes the keys are generated on first start and kept in the database
//! (`settings`), so that restarts and the sandboxes' own records agree. A sandbox hosted
//! elsewhere (the crash test's) hands its keys over as PEM.

use rand::Rng as _;
use rsa::RsaPrivateKey;

use super::{KeyError, parse_private, private_pem, public_pem};

/// Every key of both sides of both channels.
#[derive(Clone)]
pub struct ChannelKeys {
    /// Signs our requests to WeChat Pay (the sandbox verifies with its public half).
    pub wechat_merchant: RsaPrivateKey,
    /// Signs WeChat Pay's responses and notifications (we verify with its public half).
    pub wechat_platform: RsaPrivateKey,
    pub wechat_api_v3_key: [u8; 32],
    /// Signs our requests to Alipay.
    pub alipay_app: RsaPrivateKey,
    /// Signs Alipay's responses and notifications.
    pub alipay_platform: RsaPrivateKey,
}

impl std::fmt::Debug for ChannelKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChannelKeys(…)")
    }
}

/// The same keys as text, as stored and as passed in configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyPems {
    pub wechat_merchant: String,
    pub wechat_platform: String,
    pub wechat_api_v3_key: String,
    pub alipay_app: String,
    pub alipay_platform: String,
}

/// The WeChat Pay APIv3 key (AES-256-GCM), 32 characters as the merchant platform shows it.
pub fn parse_api_v3_key(raw: &str) -> Result<[u8; 32], KeyError> {
    raw.as_bytes().try_into().map_err(|_| KeyError("the WeChat Pay APIv3 key must be 32 characters".into()))
}

impl ChannelKeys {
    /// Fresh keys. Takes a moment: four RSA-2048 generations.
    pub fn generate() -> Self {
        let mut rng = rsa::rand_core::OsRng;
        let mut key = || RsaPrivateKey::new(&mut rng, 2048).expect("RSA key generation");
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut api_v3_key = [0u8; 32];
        for byte in &mut api_v3_key {
            *byte = ALPHABET[rand::rng().random_range(0..ALPHABET.len())];
        }
        Self {
            wechat_merchant: key(),
            wechat_platform: key(),
            wechat_api_v3_key: api_v3_key,
            alipay_app: key(),
            alipay_platform: key(),
        }
    }

    pub fn to_pems(&self) -> KeyPems {
        KeyPems {
            wechat_merchant: private_pem(&self.wechat_merchant),
            wechat_platform: private_pem(&self.wechat_platform),
            wechat_api_v3_key: String::from_utf8(self.wechat_api_v3_key.to_vec()).expect("ASCII key"),
            alipay_app: private_pem(&self.alipay_app),
            alipay_platform: private_pem(&self.alipay_platform),
        }
    }

    pub fn from_pems(pems: &KeyPems) -> Result<Self, KeyError> {
        Ok(Self {
            wechat_merchant: parse_private(&pems.wechat_merchant, "wechat merchant key")?,
            wechat_platform: parse_private(&pems.wechat_platform, "wechat platform key")?,
            wechat_api_v3_key: parse_api_v3_key(&pems.wechat_api_v3_key)?,
            alipay_app: parse_private(&pems.alipay_app, "alipay app key")?,
            alipay_platform: parse_private(&pems.alipay_platform, "alipay platform key")?,
        })
    }

    /// The environment that points a `flashsale` process at a sandbox hosted elsewhere with
    /// these keys (`FLASHSALE__PAYMENTS__…`).
    pub fn platform_env(&self, sandbox_base: &str) -> Vec<(String, String)> {
        let pems = self.to_pems();
        [
            ("WECHAT__BASE_URL", format!("{sandbox_base}/sandbox/wechat")),
            ("WECHAT__MERCHANT_PRIVATE_KEY", pems.wechat_merchant),
            ("WECHAT__PLATFORM_PUBLIC_KEY", public_pem(&self.wechat_platform.to_public_key())),
            ("WECHAT__API_V3_KEY", pems.wechat_api_v3_key),
            ("ALIPAY__GATEWAY_URL", format!("{sandbox_base}/sandbox/alipay/gateway.do")),
            ("ALIPAY__APP_PRIVATE_KEY", pems.alipay_app),
            ("ALIPAY__ALIPAY_PUBLIC_KEY", public_pem(&self.alipay_platform.to_public_key())),
        ]
        .into_iter()
        .map(|(k, v)| (format!("FLASHSALE__PAYMENTS__{k}"), v))
        .collect()
    }
}
