//! The outside systems' clients built from configuration: the payment channels and the SMS
//! provider, pointed at the bundled sandboxes (with their keys, generated once and kept in the
//! database) in demo mode when no URL is configured, never in production.

use std::sync::Arc;
use std::time::Duration;

use actors::Clock;
use anyhow::Context as _;
use engine::ledger::Channel;
use persistence::DatabaseConnection;
use providers::couriers::kdniao::{Kdniao, KdniaoConfig};
use providers::crypto::{self, ChannelKeys, KeyPems};
use providers::payments::wechat::protocol::PlatformKeys;
use providers::payments::{AlipayClient, Channels, WechatClient};
use providers::sms::tencent::{TencentSms, TencentSmsConfig};
use sandbox::courier::CourierSandbox;
use sandbox::sms::SmsSandbox;
use workflows::kept_keys;

use settings::Settings;

/// The bundled sandboxes' keys: generated once, then kept in the database so that restarts
/// (and payments in flight across them) see the same keys.
pub(crate) async fn sandbox_keys(db: &DatabaseConnection) -> anyhow::Result<ChannelKeys> {
    let pems: KeyPems = kept_keys::kept(db, "sandbox_keys", || ChannelKeys::generate().to_pems()).await?;
    Ok(ChannelKeys::from_pems(&pems)?)
}

/// The channel adapters: the bundled sandbox's keys and URLs when a channel's URL is empty
/// and this is demo mode with the sandbox on, else the configured service and keys. There is
/// no `sandbox_keys` in production, so a channel can never fall back to the sandbox there.
pub(crate) fn channel_clients(
    settings: &Settings,
    base_url: &str,
    sandbox_keys: Option<&ChannelKeys>,
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<Channels> {
    let p = &settings.payments;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(p.channel_timeout_ms))
        // Below the usual 5 s keep-alive of servers, so a pooled connection is rarely stale.
        .pool_idle_timeout(Duration::from_secs(4))
        .build()
        .context("building the channels' HTTP client")?;
    let preference: Vec<Channel> = p.channels.iter().filter_map(|c| Channel::parse(c)).collect();
    let bundled_keys = |channel: &str| {
        sandbox_keys.ok_or_else(|| {
            anyhow::anyhow!(
                "payments.{channel}: no URL is set and the bundled sandbox is off (sandbox.enabled)"
            )
        })
    };
    let mut bundled = Vec::new();
    let wechat = if preference.contains(&Channel::Wechat) {
        let w = &p.wechat;
        let (base, key, platform_key, api_v3_key) = if w.base_url.is_empty() {
            let k = bundled_keys("wechat")?;
            bundled.push(Channel::Wechat);
            (
                format!("{base_url}/sandbox/wechat"),
                k.wechat_merchant.clone(),
                k.wechat_platform.to_public_key(),
                k.wechat_api_v3_key,
            )
        } else {
            (
                w.base_url.trim_end_matches('/').to_owned(),
                crypto::parse_private(&w.merchant_private_key, "payments.wechat.merchant_private_key")?,
                crypto::parse_public(&w.platform_public_key, "payments.wechat.platform_public_key")?,
                crypto::parse_api_v3_key(&w.api_v3_key)?,
            )
        };
        let mut platform = PlatformKeys::default();
        platform.insert(w.platform_serial.clone(), platform_key);
        Some(WechatClient {
            http: http.clone(),
            base_url: base,
            appid: w.appid.clone(),
            mchid: w.mchid.clone(),
            serial_no: w.merchant_serial_no.clone(),
            key,
            platform,
            api_v3_key,
            notify_url: format!("{base_url}/api/v1/payments/wechat/notify"),
            clock: clock.clone(),
        })
    } else {
        None
    };
    let alipay = if preference.contains(&Channel::Alipay) {
        let a = &p.alipay;
        let (gateway, key, public) = if a.gateway_url.is_empty() {
            let k = bundled_keys("alipay")?;
            bundled.push(Channel::Alipay);
            (
                format!("{base_url}/sandbox/alipay/gateway.do"),
                k.alipay_app.clone(),
                k.alipay_platform.to_public_key(),
            )
        } else {
            (
                a.gateway_url.clone(),
                crypto::parse_private(&a.app_private_key, "payments.alipay.app_private_key")?,
                crypto::parse_public(&a.alipay_public_key, "payments.alipay.alipay_public_key")?,
            )
        };
        Some(AlipayClient {
            http,
            gateway_url: gateway,
            app_id: a.app_id.clone(),
            key,
            alipay_public: public,
            notify_url: format!("{base_url}/api/v1/payments/alipay/notify"),
            clock: clock.clone(),
        })
    } else {
        None
    };
    let mut channels = Channels::new(
        wechat,
        alipay,
        preference,
        Duration::from_secs(settings.payments.failover_cooldown_secs),
    );
    channels.bundled = bundled;
    Ok(channels)
}

/// The SMS sandbox's keys as stored.
#[derive(serde::Serialize, serde::Deserialize)]
struct SmsKeys {
    secret_id: String,
    secret_key: String,
}

/// The SMS adapter and, with an empty `sms.provider_url`, the bundled sandbox it talks to
/// (its keys generated once and kept in the database, like the payment sandboxes').
pub(crate) async fn sms(
    db: &DatabaseConnection,
    settings: &Settings,
    base_url: &str,
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<(TencentSms, Option<Arc<SmsSandbox>>)> {
    let s = &settings.sms;
    let (url, secret_id, secret_key, sandbox) = if s.provider_url.is_empty() {
        anyhow::ensure!(
            settings.sandbox.enabled,
            "sms.provider_url: no URL is set and the bundled sandbox is off (sandbox.enabled)"
        );
        let SmsKeys { secret_id, secret_key } = kept_keys::kept(db, "sms_sandbox_keys", || {
            let (secret_id, secret_key) = sandbox::sms::generate_keys();
            SmsKeys { secret_id, secret_key }
        })
        .await?;
        let sandbox = SmsSandbox::new(settings.sms_sandbox(&secret_id, &secret_key), clock.clone());
        (format!("{base_url}/sandbox/sms"), secret_id, secret_key, Some(Arc::new(sandbox)))
    } else {
        (s.provider_url.clone(), s.secret_id.clone(), s.secret_key.clone(), None)
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(s.timeout_ms))
        .pool_idle_timeout(Duration::from_secs(4))
        .build()
        .context("building the sms HTTP client")?;
    let client = TencentSms::new(
        TencentSmsConfig {
            url,
            region: s.region.clone(),
            secret_id,
            secret_key,
            sdk_app_id: s.sdk_app_id.clone(),
            sign_name: s.sign_name.clone(),
        },
        http,
        clock.clone(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((client, sandbox))
}

/// The courier sandbox's account as stored.
#[derive(serde::Serialize, serde::Deserialize)]
struct CourierKeys {
    ebusiness_id: String,
    app_key: String,
}

/// The KDNiao adapter and, with an empty `couriers.provider_url`, the bundled sandbox it talks
/// to (its account generated once and kept in the database), pushing to this server.
pub(crate) async fn courier(
    db: &DatabaseConnection,
    settings: &Settings,
    base_url: &str,
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<(Kdniao, Option<Arc<CourierSandbox>>)> {
    let c = &settings.couriers;
    let (url, ebusiness_id, app_key, sandbox) = if c.provider_url.is_empty() {
        anyhow::ensure!(
            settings.sandbox.enabled,
            "couriers.provider_url: no URL is set and the bundled sandbox is off (sandbox.enabled)"
        );
        let CourierKeys { ebusiness_id, app_key } = kept_keys::kept(db, "courier_sandbox_keys", || {
            let (ebusiness_id, app_key) = sandbox::courier::generate_keys();
            CourierKeys { ebusiness_id, app_key }
        })
        .await?;
        let sandbox =
            CourierSandbox::new(settings.courier_sandbox(&ebusiness_id, &app_key, base_url), clock.clone());
        (format!("{base_url}/sandbox/courier"), ebusiness_id, app_key, Some(Arc::new(sandbox)))
    } else {
        (c.provider_url.clone(), c.ebusiness_id.clone(), c.app_key.clone(), None)
    };
    let http = reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(4))
        .build()
        .context("building the courier HTTP client")?;
    let client = Kdniao::new(
        KdniaoConfig {
            url,
            ebusiness_id,
            app_key,
            timeout: Duration::from_millis(c.timeout_ms),
            attempts: c.attempts,
            backoff: Duration::from_millis(c.backoff_ms),
            push_max_age: Duration::from_secs(c.push_max_age_secs),
            accounts: Vec::new(),
        },
        http,
        clock.clone(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((client, sandbox))
}
