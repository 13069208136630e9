//! Each component's own settings struct, made from the deployment's settings: the components
//! know nothing of `config.toml`, and the binary's wiring only joins what these make.

use std::sync::Arc;
use std::time::Duration;

use actors::{ActorSettings, HoldCaps, SettlementSettings};
use engine::settlement::WithdrawalPolicy;
use persistence::{WriterSettings, WriterStatus};
use providers::wechat_mp::WechatMpConfig;
use sandbox::SandboxSettings;
use sandbox::courier::CourierSandboxSettings;
use sandbox::sms::SmsSandboxSettings;
use sandbox::wechat_mp::WechatMpSandboxSettings;
use workflows::accounts::login::{PasswordWorkSettings, ThrottleSettings};
use workflows::admission::Limits;
use workflows::fulfilment::shipping::FulfilmentSettings;
use workflows::live::LiveSettings;
use workflows::orders::export::ExportSettings;
use workflows::payments::PaymentSettings;

use crate::Settings;

impl Settings {
    /// The journal writer's batching, reporting to `status`.
    pub fn writer(&self, status: Arc<WriterStatus>) -> WriterSettings {
        WriterSettings {
            batch_max: self.journal.batch_max,
            linger: Duration::from_millis(self.journal.linger_ms),
            status,
        }
    }

    /// The stock actors' arbiters, mailboxes and expiry.
    pub fn stock_actors(&self) -> ActorSettings {
        ActorSettings {
            arbiters: self.actors.arbiters,
            mailbox_capacity: self.actors.mailbox_capacity,
            expiry_retry: Duration::from_millis(self.actors.expiry_retry_ms),
            expiry_batch: self.actors.expiry_batch,
        }
    }

    /// The caps on unpaid orders per buyer and per network, across sales.
    pub fn hold_caps(&self) -> HoldCaps {
        HoldCaps {
            per_buyer: self.admission.max_unpaid_orders_per_buyer,
            per_network: self.admission.max_unpaid_orders_per_network,
        }
    }

    /// The settlement actors' mailboxes, channel fees and withdrawal policy.
    pub fn settlement(&self) -> SettlementSettings {
        let p = &self.payments;
        SettlementSettings {
            mailbox_capacity: p.settlement_mailbox,
            fee_bps_wechat: p.fee_bps_wechat,
            fee_bps_alipay: p.fee_bps_alipay,
            fee_bps_douyin: self.live.douyin_fee_bps,
            fee_bps_kuaishou: self.live.kuaishou_fee_bps,
            withdrawals: WithdrawalPolicy {
                daily_limit_fen: p.withdrawal_daily_limit_fen,
                minimum_fen: p.withdrawal_minimum_fen,
            },
        }
    }

    /// The payment workflow's waits and intervals.
    pub fn payment_workflow(&self) -> PaymentSettings {
        let p = &self.payments;
        PaymentSettings {
            ack_timeout: self.ack_timeout(),
            query_after: Duration::from_millis(p.query_after_ms),
            query_interval: Duration::from_millis(p.query_interval_ms),
            refund_interval: Duration::from_millis(p.refund_interval_ms),
            return_policy: engine::aftersales::ReturnPolicy {
                no_reason_days: self.aftersales.no_reason_days,
            },
        }
    }

    /// How much password hashing may run and wait at once.
    pub fn password_work(&self) -> PasswordWorkSettings {
        PasswordWorkSettings {
            concurrency: self.auth.hash_concurrency,
            queue: self.auth.hash_queue,
            wait: Duration::from_millis(self.auth.hash_wait_ms),
            retry_after_secs: self.admission.retry_after_secs,
        }
    }

    /// The per-account log-in throttle.
    pub fn login_throttle(&self) -> ThrottleSettings {
        ThrottleSettings {
            failures_allowed: self.auth.login_failures_allowed,
            max_block: Duration::from_secs(self.auth.login_backoff_max_secs),
            tracked_accounts: self.auth.login_tracked_accounts,
        }
    }

    /// The in-flight cap and the token buckets.
    pub fn admission_limits(&self) -> Limits {
        let a = &self.admission;
        Limits {
            max_in_flight: a.max_in_flight,
            per_ip_per_sec: a.per_ip_per_sec,
            per_ip_burst: a.per_ip_burst,
            per_buyer_per_sec: a.per_buyer_per_sec,
            per_buyer_burst: a.per_buyer_burst,
            retry_after_secs: a.retry_after_secs,
        }
    }

    /// The bundled payment sandboxes, as seen at `public_url`.
    pub fn payment_sandbox(&self, public_url: &str) -> SandboxSettings {
        let (w, a) = (&self.payments.wechat, &self.payments.alipay);
        SandboxSettings {
            wechat_mchid: w.mchid.clone(),
            wechat_appid: w.appid.clone(),
            wechat_merchant_serial: w.merchant_serial_no.clone(),
            wechat_platform_serial: w.platform_serial.clone(),
            alipay_app_id: a.app_id.clone(),
            public_url: public_url.to_owned(),
            notify: self.sandbox.notify,
            retry_scale: self.sandbox.retry_scale,
        }
    }

    /// The bundled SMS sandbox with its keys.
    pub fn sms_sandbox(&self, secret_id: &str, secret_key: &str) -> SmsSandboxSettings {
        let s = &self.sms;
        SmsSandboxSettings {
            secret_id: secret_id.to_owned(),
            secret_key: secret_key.to_owned(),
            sdk_app_id: s.sdk_app_id.clone(),
            sign_name: s.sign_name.clone(),
            // The login template and every notification template are approved there.
            templates: s
                .sandbox_templates
                .iter()
                .map(|t| (t.id.clone(), t.text.clone()))
                .chain(self.notifications.sms_templates())
                .collect(),
            inbox_capacity: s.sandbox_inbox_capacity,
        }
    }

    /// The bundled WeChat mini-program sandbox with its credentials and every notification
    /// template.
    pub fn wechat_mp_sandbox(&self, appid: &str, secret: &str) -> WechatMpSandboxSettings {
        WechatMpSandboxSettings {
            appid: appid.to_owned(),
            secret: secret.to_owned(),
            token_ttl_secs: self.wechat_mp.sandbox_token_ttl_secs,
            templates: self.notifications.wechat_templates(),
            inbox_capacity: self.wechat_mp.sandbox_inbox_capacity,
        }
    }

    /// The subscription-message client of the mini program `appid` at `url`.
    pub fn wechat_mp_client(&self, url: &str, appid: &str, secret: &str) -> WechatMpConfig {
        let mp = &self.wechat_mp;
        WechatMpConfig {
            url: url.to_owned(),
            appid: appid.to_owned(),
            secret: secret.to_owned(),
            miniprogram_state: mp.miniprogram_state.clone(),
            lang: mp.lang.clone(),
            refresh_before_secs: mp.refresh_before_secs,
        }
    }

    /// The bundled courier sandbox, pushing tracking to this server's push endpoint.
    pub fn courier_sandbox(
        &self,
        ebusiness_id: &str,
        app_key: &str,
        base_url: &str,
    ) -> CourierSandboxSettings {
        CourierSandboxSettings {
            ebusiness_id: ebusiness_id.to_owned(),
            app_key: app_key.to_owned(),
            callback_url: Some(format!("{base_url}/api/v1/couriers/kdniao/push")),
            retry_scale: self.sandbox.retry_scale,
            capacity: self.couriers.sandbox_capacity,
        }
    }

    /// Completion after delivery and the sweep that does it.
    pub fn fulfilment_workflow(&self) -> FulfilmentSettings {
        let f = &self.fulfilment;
        FulfilmentSettings {
            auto_complete_after_ms: i64::from(f.auto_complete_after_days) * 24 * 3_600_000,
            sweep_interval: Duration::from_secs(f.sweep_interval_secs),
            sweep_batch: f.sweep_batch,
            ..FulfilmentSettings::default()
        }
    }

    /// The merchants' order exports: what is answered at once, the jobs and their files.
    pub fn export_settings(&self) -> ExportSettings {
        let f = &self.fulfilment;
        let dir = if f.export_dir.is_empty() {
            std::env::temp_dir().join("flashsale-exports")
        } else {
            std::path::PathBuf::from(&f.export_dir)
        };
        ExportSettings {
            direct_max_rows: f.export_direct_max_rows,
            max_rows: f.export_max_rows,
            max_jobs: f.export_max_jobs,
            dir,
            ttl: Duration::from_secs(f.export_ttl_secs),
        }
    }

    /// The live workflow's settings, its callbacks under `public_url`.
    pub fn live_workflow(&self, public_url: &str) -> LiveSettings {
        let l = &self.live;
        let ms = |secs: u64| i64::try_from(secs.saturating_mul(1_000)).unwrap_or(i64::MAX);
        LiveSettings {
            callback_base: format!("{public_url}/api/v1/platforms"),
            state_ttl_ms: ms(l.oauth_state_ttl_secs),
            refresh_margin_ms: ms(l.refresh_margin_secs),
            push_max_age_ms: ms(l.push_max_age_secs),
            slice_units: l.slice_units,
            top_up_below: l.top_up_below,
            poll_max_pages: l.poll_max_pages,
            lease_retries: l.lease_retries,
            lease_retry_base_ms: l.lease_retry_base_ms,
            waybill_max_attempts: l.waybill_max_attempts,
            waybill_retry_base_ms: ms(l.waybill_retry_base_secs),
            ack_timeout: self.ack_timeout(),
            ..LiveSettings::default()
        }
    }
}
