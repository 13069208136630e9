//! Binding a merchant's shop on a live platform, and keeping the binding alive.
//!
//! The round trip: [`Live::authorize`] mints a `state` (32 random bytes) for the merchant who
//! asked, stores only its HMAC (keyed by a key derived from the token key) with the merchant,
//! the platform and an expiry, and answers the platform's authorize URL. The platform sends the
//! merchant's browser back to the callback with `code` and `state`; [`Live::callback`] uses the
//! state up (deleted by the one request that finds it, whatever comes next), and only a state
//! that exists, is unexpired and was issued for this platform lets the code be exchanged. A
//! forged, unknown, expired or reused state stores nothing. The grant's tokens are sealed
//! ([`super::seal`]) before they reach the database.
//!
//! [`Live::refresh_due`] is the sweep: grants whose access token expires within the margin
//! are refreshed (the rotated pair stored over the one read, by version); a grant the platform
//! says is revoked makes the shop disconnected, with the reason and the time, which is how the
//! merchant learns of it (the shop list shows it) — and a warning is logged.

use engine::{MerchantId, Timestamp};
use hmac::{Hmac, Mac as _};
use persistence::live::{self as store, Bound, SealedGrant, ShopRecord};
use providers::live::{Grant, LiveError, Platform};
use rand::Rng as _;
use sha2::Sha256;
use thiserror::Error;

use super::Live;
use super::seal::context;

type HmacSha256 = Hmac<Sha256>;

/// Why a binding step was refused.
#[derive(Debug, Error)]
pub enum BindError {
    #[error("this platform is not offered here")]
    NotOffered,
    #[error("too many authorisations pending: finish or wait for one to expire")]
    TooManyPending,
    /// Forged, unknown, expired, reused or for another platform: nothing is stored.
    #[error("the authorisation state is not valid")]
    InvalidState,
    #[error("the platform refused the authorisation code: {0}")]
    Refused(LiveError),
    #[error("the platform cannot be reached: {0}")]
    Unavailable(LiveError),
    #[error("this shop is bound to another merchant")]
    ShopTaken,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<persistence::DbErr> for BindError {
    fn from(e: persistence::DbErr) -> Self {
        Self::Internal(anyhow::Error::new(e).context("live shops storage"))
    }
}

/// A shop's state as the merchant sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShopState {
    Connected,
    /// The platform says the grant is gone (revoked): authorise again.
    Disconnected,
    /// The refresh token has died: authorise again.
    Expired,
}

impl ShopState {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::Disconnected => "disconnected",
            Self::Expired => "expired",
        }
    }
}

/// A bound shop as the merchant sees it (no token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundShop {
    pub platform: Platform,
    pub shop_id: String,
    pub shop_name: String,
    pub state: ShopState,
    pub access_expires_at: Timestamp,
    pub refresh_expires_at: Timestamp,
    pub bound_at: Timestamp,
    pub refreshed_at: Option<Timestamp>,
    pub disconnected_at: Option<Timestamp>,
    pub disconnected_reason: Option<String>,
}

impl BoundShop {
    fn of(record: &ShopRecord, now: Timestamp) -> Option<Self> {
        let platform = Platform::parse(&record.platform)?;
        let state = if record.status == store::DISCONNECTED {
            ShopState::Disconnected
        } else if now >= record.refresh_expires_at {
            ShopState::Expired
        } else {
            ShopState::Connected
        };
        Some(Self {
            platform,
            shop_id: record.shop_id.clone(),
            shop_name: record.shop_name.clone(),
            state,
            access_expires_at: record.access_expires_at,
            refresh_expires_at: record.refresh_expires_at,
            bound_at: record.bound_at,
            refreshed_at: record.refreshed_at,
            disconnected_at: record.disconnected_at,
            disconnected_reason: record.disconnected_reason.clone(),
        })
    }
}

/// What one refresh sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefreshReport {
    pub refreshed: u32,
    pub disconnected: u32,
    /// Failed for now (unreachable, refused otherwise): tried again next sweep.
    pub failed: u32,
}

impl Live {
    fn state_mac(&self, state: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.state_key).expect("HMAC takes keys of any length");
        mac.update(state.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Starts a round trip for `merchant`: the URL of the platform's consent page.
    pub async fn authorize(&self, merchant: MerchantId, platform: Platform) -> Result<String, BindError> {
        let client = self.platform(platform).ok_or(BindError::NotOffered)?;
        let raw: [u8; 32] = rand::rng().random();
        let state = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, raw);
        let now = self.clock.now();
        let recorded = store::insert_state(
            &self.db,
            &self.state_mac(&state),
            merchant.0,
            platform.as_str(),
            now,
            now.plus_millis(self.settings.state_ttl_ms),
            self.settings.max_pending_states,
        )
        .await?;
        if !recorded {
            return Err(BindError::TooManyPending);
        }
        Ok(client.authorize_url(&state, &self.callback_url(platform)))
    }

    /// The platform sent the merchant back: use the state up, exchange the code, store the
    /// sealed grant.
    pub async fn callback(
        &self,
        platform: Platform,
        code: &str,
        state: &str,
    ) -> Result<BoundShop, BindError> {
        let client = self.platform(platform).ok_or(BindError::NotOffered)?;
        // A state is 43 characters; anything else was never ours (and is not worth a query).
        if state.len() != 43 || code.is_empty() || code.len() > 512 {
            return Err(BindError::InvalidState);
        }
        let now = self.clock.now();
        let merchant = store::take_state(&self.db, &self.state_mac(state), platform.as_str(), now)
            .await?
            .ok_or(BindError::InvalidState)?;
        let grant = client.exchange_code(code).await.map_err(|e| match e {
            LiveError::Transport(_) => BindError::Unavailable(e),
            other => BindError::Refused(other),
        })?;
        let sealed = self.sealed(platform, &grant);
        match store::bind(&self.db, merchant, platform.as_str(), &sealed, now).await? {
            Bound::TakenByAnother => Err(BindError::ShopTaken),
            Bound::Shop(record) => {
                tracing::info!(merchant, platform = platform.as_str(), shop_id = %record.shop_id, "live shop bound");
                Ok(BoundShop::of(&record, now).expect("a platform we parsed"))
            }
        }
    }

    fn sealed(&self, platform: Platform, grant: &Grant) -> SealedGrant {
        let p = platform.as_str();
        SealedGrant {
            shop_id: grant.shop_id.clone(),
            shop_name: grant.shop_name.clone(),
            access_token_sealed: self.seal.seal(&context(p, &grant.shop_id, "access"), &grant.access_token),
            refresh_token_sealed: self
                .seal
                .seal(&context(p, &grant.shop_id, "refresh"), &grant.refresh_token),
            access_expires_at: grant.access_expires_at,
            refresh_expires_at: grant.refresh_expires_at,
            scopes: grant.scopes.clone(),
        }
    }

    /// The grant of a stored shop, its tokens opened.
    pub fn grant_of(&self, record: &ShopRecord) -> Result<Grant, BindError> {
        let open = |which: &str, sealed: &str| {
            self.seal.open(&context(&record.platform, &record.shop_id, which), sealed).ok_or_else(|| {
                BindError::Internal(anyhow::anyhow!(
                    "the {which} token of live shop {} does not open under the token key",
                    record.id
                ))
            })
        };
        Ok(Grant {
            access_token: open("access", &record.access_token_sealed)?,
            refresh_token: open("refresh", &record.refresh_token_sealed)?,
            access_expires_at: record.access_expires_at,
            refresh_expires_at: record.refresh_expires_at,
            shop_id: record.shop_id.clone(),
            shop_name: record.shop_name.clone(),
            scopes: record.scopes.clone(),
        })
    }

    /// The merchant's bound shops.
    pub async fn shops(&self, merchant: MerchantId) -> Result<Vec<BoundShop>, BindError> {
        let now = self.clock.now();
        Ok(store::shops_of(&self.db, merchant.0)
            .await?
            .iter()
            .filter_map(|r| BoundShop::of(r, now))
            .collect())
    }

    /// Marks a shop disconnected because its grant is gone; logged for the operators, shown to
    /// the merchant in the shop list.
    pub async fn disconnect(&self, record: &ShopRecord, error: &LiveError) -> Result<bool, BindError> {
        let now = self.clock.now();
        let platform_name = match record.platform.as_str() {
            "douyin" => "抖店",
            "kuaishou" => "快手小店",
            other => other,
        };
        let shop_name = if record.shop_name.is_empty() { &record.shop_id } else { &record.shop_name };
        let notice = engine::notification::Notice::shop_disconnected(
            engine::MerchantId(record.merchant_id),
            platform_name,
            shop_name,
            format!("{}.{}", record.id, record.version),
            now,
        );
        let done =
            store::disconnect(&self.db, record.id, record.version, &error.to_string(), now, &notice).await?;
        if done {
            tracing::warn!(
                merchant = record.merchant_id,
                platform = %record.platform,
                shop_id = %record.shop_id,
                %error,
                "live shop disconnected: the merchant must authorise again"
            );
        }
        Ok(done)
    }

    /// One refresh sweep: at most `refresh_batch` grants that expire within the margin.
    pub async fn refresh_due(&self) -> Result<RefreshReport, BindError> {
        let now = self.clock.now();
        let due = store::due_for_refresh(
            &self.db,
            now.plus_millis(self.settings.refresh_margin_ms),
            self.settings.refresh_batch,
        )
        .await?;
        let mut report = RefreshReport::default();
        for record in due {
            let Some(client) = Platform::parse(&record.platform).and_then(|p| self.platform(p)) else {
                continue;
            };
            let grant = self.grant_of(&record)?;
            match client.refresh(&grant).await {
                Ok(fresh) => {
                    let platform = client.platform();
                    let sealed = self.sealed(platform, &Grant { shop_id: record.shop_id.clone(), ..fresh });
                    if store::store_refreshed(&self.db, record.id, record.version, &sealed, now).await? {
                        report.refreshed += 1;
                    }
                }
                Err(error) if error.is_revoked() => {
                    if self.disconnect(&record, &error).await? {
                        report.disconnected += 1;
                    }
                }
                Err(error) => {
                    tracing::warn!(shop = record.id, %error, "live grant refresh failed; tried again next sweep");
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }
}
