//! The outside systems' clients built from configuration: the payment channels, the SMS
//! provider, the WeChat mini program's subscription messages and the live platforms (Douyin
//! shop, Kuaishou shop), pointed at the bundled sandboxes (with their keys, generated once and kept in the
//! database) in demo mode when no URL is configured, never in production.

use std::sync::Arc;
use std::time::Duration;

use actors::Clock;
use anyhow::Context as _;
use engine::ledger::Channel;
use persistence::DatabaseConnection;
use providers::couriers::kdniao::{Kdniao, KdniaoConfig};
use providers::crypto::{self, ChannelKeys, KeyPems};
use providers::live::douyin::client::{DouyinShop, DouyinShopConfig};
use providers::live::kuaishou::client::{KuaishouShop, KuaishouShopConfig};
use providers::payments::wechat::protocol::PlatformKeys;
use providers::payments::{AlipayClient, Channels, WechatClient};
use providers::sms::tencent::{TencentSms, TencentSmsConfig};
use providers::wechat_mp::WechatMp;
use sandbox::courier::CourierSandbox;
use sandbox::live::douyin::DouyinSandbox;
use sandbox::live::kuaishou::KuaishouSandbox;
use sandbox::sms::SmsSandbox;
use sandbox::wechat_mp::WechatMpSandbox;
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

#[derive(serde::Serialize, serde::Deserialize)]
struct MpCredentials {
    appid: String,
    secret: String,
}

/// The subscription-message client and, with an empty `wechat_mp.api_url` in demo mode, the
/// bundled sandbox it talks to. `None` for the client: no mini program is configured, and
/// WeChat messages are skipped (production without `wechat_mp.appid`).
pub(crate) async fn wechat_mp(
    db: &DatabaseConnection,
    settings: &Settings,
    base_url: &str,
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<(Option<WechatMp>, Option<Arc<WechatMpSandbox>>)> {
    let mp = &settings.wechat_mp;
    let sandboxed =
        mp.api_url.is_empty() && settings.sandbox.enabled && settings.mode == settings::Mode::Demo;
    let (url, appid, secret, sandbox) = if sandboxed {
        let MpCredentials { appid, secret } = kept_keys::kept(db, "wechat_mp_sandbox_credentials", || {
            let (appid, secret) = sandbox::wechat_mp::generate_credentials();
            MpCredentials { appid, secret }
        })
        .await?;
        let sandbox = WechatMpSandbox::new(settings.wechat_mp_sandbox(&appid, &secret), clock.clone());
        (format!("{base_url}/sandbox/wechat-mp"), appid, secret, Some(Arc::new(sandbox)))
    } else if mp.api_url.is_empty() || mp.appid.is_empty() {
        return Ok((None, None));
    } else {
        (mp.api_url.clone(), mp.appid.clone(), mp.secret.clone(), None)
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(mp.timeout_ms))
        .pool_idle_timeout(Duration::from_secs(4))
        .build()
        .context("building the wechat_mp HTTP client")?;
    let client = WechatMp::new(settings.wechat_mp_client(&url, &appid, &secret), http, clock.clone())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((Some(client), sandbox))
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

/// The live sandboxes' apps as stored (generated once, kept in the database).
#[derive(serde::Serialize, serde::Deserialize)]
struct LiveSandboxApps {
    douyin_app_key: String,
    douyin_app_secret: String,
    douyin_service_id: String,
    kuaishou_app_key: String,
    kuaishou_app_secret: String,
    kuaishou_sign_secret: String,
    kuaishou_message_key: String,
}

/// The live platforms' clients, the bundled sandboxes they talk to (demo mode, empty
/// `api_url`), and the token key.
pub(crate) struct LiveWiring {
    pub platforms: workflows::live::Platforms,
    pub douyin_sandbox: Option<Arc<DouyinSandbox>>,
    pub kuaishou_sandbox: Option<Arc<KuaishouSandbox>>,
    pub token_key: [u8; 32],
}

/// Builds the clients of the platforms in `live.platforms`: with an empty `api_url`, the
/// bundled sandbox on this server (demo mode with the sandbox on only; production refused to
/// start before this), its app generated once and kept, pushing to our notify endpoint.
pub(crate) async fn live(
    db: &DatabaseConnection,
    settings: &Settings,
    base_url: &str,
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<LiveWiring> {
    let l = &settings.live;
    let demo = settings.mode == settings::Mode::Demo;
    let token_key = if l.token_key.is_empty() {
        anyhow::ensure!(demo, "live.token_key is not set");
        let fresh: [u8; 32] = rand::random();
        let stored = kept_keys::kept(db, "live_token_key", move || hex::encode(fresh)).await?;
        workflows::live::parse_token_key(&stored)?
    } else {
        workflows::live::parse_token_key(&l.token_key)?
    };
    let offered = |name: &str| l.platforms.iter().any(|p| p == name);
    let bundled = |name: &str| -> anyhow::Result<bool> {
        let empty = match name {
            "douyin" => l.douyin.api_url.is_empty(),
            _ => l.kuaishou.api_url.is_empty(),
        };
        if empty {
            anyhow::ensure!(
                demo && settings.sandbox.enabled,
                "live.{name}.api_url: no URL is set and the bundled sandbox is off (sandbox.enabled)"
            );
        }
        Ok(empty)
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(l.call_timeout_ms))
        .pool_idle_timeout(Duration::from_secs(4))
        .build()
        .context("building the live platforms' HTTP client")?;
    let apps = if (offered("douyin") && bundled("douyin")?) || (offered("kuaishou") && bundled("kuaishou")?) {
        Some(
            kept_keys::kept(db, "live_sandbox_apps", || {
                let douyin = sandbox::live::douyin::DouyinApp::generate("sandbox-service", "");
                let kuaishou = sandbox::live::kuaishou::KuaishouApp::generate();
                LiveSandboxApps {
                    douyin_app_key: douyin.app_key,
                    douyin_app_secret: douyin.app_secret,
                    douyin_service_id: douyin.service_id,
                    kuaishou_app_key: kuaishou.app_key,
                    kuaishou_app_secret: kuaishou.app_secret,
                    kuaishou_sign_secret: kuaishou.sign_secret,
                    kuaishou_message_key: kuaishou.message_key,
                }
            })
            .await?,
        )
    } else {
        None
    };
    let shop_settings = |platform: &str| sandbox::live::ShopSettings {
        push_url: Some(format!("{base_url}/api/v1/platforms/{platform}/notify")),
        retry_scale: settings.sandbox.retry_scale,
        ..sandbox::live::ShopSettings::default()
    };
    let mut wiring = LiveWiring {
        platforms: workflows::live::Platforms::default(),
        douyin_sandbox: None,
        kuaishou_sandbox: None,
        token_key,
    };
    if offered("douyin") {
        let d = &l.douyin;
        let config = match (&apps, d.api_url.is_empty()) {
            (Some(apps), true) => {
                let app = sandbox::live::douyin::DouyinApp {
                    app_key: apps.douyin_app_key.clone(),
                    app_secret: apps.douyin_app_secret.clone(),
                    service_id: apps.douyin_service_id.clone(),
                    redirect_uri: format!("{base_url}/api/v1/platforms/douyin/callback"),
                };
                let sandbox = DouyinSandbox::new(app, shop_settings("douyin"), clock.clone());
                wiring.douyin_sandbox = Some(Arc::new(sandbox));
                DouyinShopConfig {
                    gateway: format!("{base_url}/sandbox/douyin"),
                    authorize_url: format!("{base_url}/sandbox/douyin/authorize"),
                    service_id: apps.douyin_service_id.clone(),
                    app_key: apps.douyin_app_key.clone(),
                    app_secret: apps.douyin_app_secret.clone(),
                }
            }
            _ => DouyinShopConfig {
                gateway: d.api_url.trim_end_matches('/').to_owned(),
                authorize_url: d.authorize_url.clone(),
                service_id: d.service_id.clone(),
                app_key: d.app_key.clone(),
                app_secret: d.app_secret.clone(),
            },
        };
        let client = DouyinShop::new(config, http.clone(), clock.clone()).map_err(|e| anyhow::anyhow!(e))?;
        wiring.platforms.douyin = Some(Arc::new(client));
    }
    if offered("kuaishou") {
        let k = &l.kuaishou;
        let config = match (&apps, k.api_url.is_empty()) {
            (Some(apps), true) => {
                let app = sandbox::live::kuaishou::KuaishouApp {
                    app_key: apps.kuaishou_app_key.clone(),
                    app_secret: apps.kuaishou_app_secret.clone(),
                    sign_secret: apps.kuaishou_sign_secret.clone(),
                    message_key: apps.kuaishou_message_key.clone(),
                };
                let sandbox = KuaishouSandbox::new(app, shop_settings("kuaishou"), clock.clone())
                    .map_err(|e| anyhow::anyhow!("kuaishou sandbox: {e}"))?;
                wiring.kuaishou_sandbox = Some(Arc::new(sandbox));
                KuaishouShopConfig {
                    openapi: format!("{base_url}/sandbox/kuaishou"),
                    authorize_url: format!("{base_url}/sandbox/kuaishou/oauth/authorize"),
                    app_key: apps.kuaishou_app_key.clone(),
                    app_secret: apps.kuaishou_app_secret.clone(),
                    sign_secret: apps.kuaishou_sign_secret.clone(),
                    message_key: apps.kuaishou_message_key.clone(),
                    scopes: k.scopes.clone(),
                }
            }
            _ => KuaishouShopConfig {
                openapi: k.api_url.trim_end_matches('/').to_owned(),
                authorize_url: k.authorize_url.clone(),
                app_key: k.app_key.clone(),
                app_secret: k.app_secret.clone(),
                sign_secret: k.sign_secret.clone(),
                message_key: k.message_key.clone(),
                scopes: k.scopes.clone(),
            },
        };
        let client = KuaishouShop::new(config, http, clock.clone()).map_err(|e| anyhow::anyhow!(e))?;
        wiring.platforms.kuaishou = Some(Arc::new(client));
    }
    Ok(wiring)
}
