//! What production mode refuses, and where secrets come from.
//!
//! Secrets are read from the environment (`FLASHSALE__AUTH__TOKEN_SECRET`, …) or from a file
//! named by the matching `*_file` setting (`auth.token_secret_file`, …), which is how container
//! platforms hand them over. In production a secret written into the configuration file itself
//! is refused: config files are copied, committed and attached to tickets, and a secret there
//! is a secret everywhere. Nothing secret is ever read from or written to the database there.
//!
//! [`startup_problems`] lists every reason not to start, all at once, so that an operator fixes
//! a deployment in one round instead of one error per restart.

use std::path::Path;

use providers::crypto;

use crate::{Mode, Settings};

/// Settings that hold secrets: never inline in the configuration file in production.
pub const SECRETS: [&str; 14] = [
    "trust.verification_secret_key",
    "auth.token_secret",
    "live.token_key",
    "live.douyin.app_secret",
    "live.kuaishou.app_secret",
    "live.kuaishou.sign_secret",
    "live.kuaishou.message_key",
    "sms.secret_key",
    "couriers.app_key",
    "wechat_mp.secret",
    "server.metrics_token",
    "payments.wechat.merchant_private_key",
    "payments.wechat.api_v3_key",
    "payments.alipay.app_private_key",
];

/// The environment variable that overrides `key` (`auth.token_secret` →
/// `FLASHSALE__AUTH__TOKEN_SECRET`).
pub fn env_name(key: &str) -> String {
    format!("FLASHSALE__{}", key.replace('.', "__").to_uppercase())
}

/// Which of [`SECRETS`] the configuration file itself sets (not the environment).
pub fn secrets_in_file(path: Option<&Path>) -> anyhow::Result<Vec<&'static str>> {
    let file = match path {
        Some(path) => config::File::from(path).required(true),
        None => config::File::with_name("config.toml").required(false),
    };
    let only_the_file = config::Config::builder().add_source(file).build()?;
    Ok(SECRETS
        .into_iter()
        .filter(|key| only_the_file.get_string(key).is_ok_and(|value| !value.trim().is_empty()))
        .collect())
}

/// Fills each setting that has a `*_file` twin from that file; one message per problem
/// (both set, unreadable, empty). Trailing newlines are not part of a secret.
pub fn read_secret_files(settings: &mut Settings) -> Vec<String> {
    let w = &mut settings.payments.wechat;
    let a = &mut settings.payments.alipay;
    let sms = &mut settings.sms;
    let mp = &mut settings.wechat_mp;
    let couriers = &mut settings.couriers;
    let live = &mut settings.live;
    let trust = &mut settings.trust;
    let (douyin, kuaishou) = (&mut live.douyin, &mut live.kuaishou);
    let slots: [(&str, &mut String, &str); 16] = [
        (
            "trust.verification_secret_key",
            &mut trust.verification_secret_key,
            &trust.verification_secret_key_file,
        ),
        ("live.token_key", &mut live.token_key, &live.token_key_file),
        ("live.douyin.app_secret", &mut douyin.app_secret, &douyin.app_secret_file),
        ("live.kuaishou.app_secret", &mut kuaishou.app_secret, &kuaishou.app_secret_file),
        ("live.kuaishou.sign_secret", &mut kuaishou.sign_secret, &kuaishou.sign_secret_file),
        ("live.kuaishou.message_key", &mut kuaishou.message_key, &kuaishou.message_key_file),
        ("auth.token_secret", &mut settings.auth.token_secret, &settings.auth.token_secret_file),
        ("sms.secret_key", &mut sms.secret_key, &sms.secret_key_file),
        ("couriers.app_key", &mut couriers.app_key, &couriers.app_key_file),
        ("wechat_mp.secret", &mut mp.secret, &mp.secret_file),
        ("server.metrics_token", &mut settings.server.metrics_token, &settings.server.metrics_token_file),
        ("payments.wechat.merchant_private_key", &mut w.merchant_private_key, &w.merchant_private_key_file),
        ("payments.wechat.platform_public_key", &mut w.platform_public_key, &w.platform_public_key_file),
        ("payments.wechat.api_v3_key", &mut w.api_v3_key, &w.api_v3_key_file),
        ("payments.alipay.app_private_key", &mut a.app_private_key, &a.app_private_key_file),
        ("payments.alipay.alipay_public_key", &mut a.alipay_public_key, &a.alipay_public_key_file),
    ];
    let mut problems = Vec::new();
    for (key, value, file) in slots {
        if file.is_empty() {
            continue;
        }
        if !value.is_empty() {
            problems.push(format!("{key} and {key}_file are both set: keep one"));
            continue;
        }
        match std::fs::read_to_string(file) {
            Ok(text) if text.trim().is_empty() => problems.push(format!("{key}_file: {file} is empty")),
            Ok(text) => *value = text.trim_end().to_owned(),
            Err(error) => problems.push(format!("{key}_file: cannot read {file}: {error}")),
        }
    }
    problems
}

/// Every reason the server must not start with these settings. Empty = start.
pub fn startup_problems(settings: &Settings) -> Vec<String> {
    let mut problems = settings.secret_file_problems.clone();
    if settings.mode == Mode::Production {
        production_problems(settings, &mut problems);
    }
    problems
}

/// The message naming every problem, for the log and the exit.
pub fn refusal(problems: &[String]) -> String {
    let plural = if problems.len() == 1 { "" } else { "s" };
    let mut message = format!("refusing to start, {} problem{plural}:", problems.len());
    for problem in problems {
        message.push_str("\n  - ");
        message.push_str(problem);
    }
    message
}

fn production_problems(s: &Settings, problems: &mut Vec<String>) {
    let mut refuse = |message: String| problems.push(message);
    if s.sandbox.enabled {
        refuse("sandbox.enabled is true: the bundled payment sandboxes exist in demo mode only".into());
    }
    if s.demo.seed {
        refuse("demo.seed is true: production does not seed a demo merchant".into());
    }
    if !s.operator.password.is_empty() {
        refuse(
            "operator.password is set: it only seeds demo mode's admin; add operators with \
             `flashsale operator add`"
                .into(),
        );
    }
    if !s.server.public_url.starts_with("https://") {
        refuse(format!(
            "server.public_url is {:?}: production needs the https:// address buyers and channels reach",
            s.server.public_url
        ));
    }
    let missing = |key: &str| format!("{key} is not set: supply it from {} or {key}_file", env_name(key));
    if s.auth.token_secret.is_empty() {
        refuse(missing("auth.token_secret"));
    } else if s.auth.token_secret.chars().count() < 32 {
        refuse("auth.token_secret is shorter than 32 characters".into());
    }
    for key in &s.secrets_in_file {
        refuse(format!(
            "{key} is written in the configuration file: secrets come from {} or {key}_file",
            env_name(key)
        ));
    }
    let p = &s.payments;
    if p.channels.is_empty() {
        refuse("payments.channels is empty: buyers could not pay".into());
    }
    let offered = |name: &str| p.channels.iter().any(|c| c == name);
    let mut check_key = |key: &str, value: &str, parse: fn(&str, &str) -> anyhow::Result<()>| {
        if value.is_empty() {
            refuse(missing(key));
        } else if let Err(error) = parse(value, key) {
            refuse(format!("{error:#}"));
        }
    };
    let private: fn(&str, &str) -> anyhow::Result<()> =
        |pem, key| Ok(crypto::parse_private(pem, key).map(drop)?);
    let public: fn(&str, &str) -> anyhow::Result<()> =
        |pem, key| Ok(crypto::parse_public(pem, key).map(drop)?);
    let api_v3: fn(&str, &str) -> anyhow::Result<()> =
        |raw, key| crypto::parse_api_v3_key(raw).map(drop).map_err(|e| anyhow::anyhow!("{key}: {e}"));
    if offered("wechat") {
        let w = &p.wechat;
        check_key("payments.wechat.base_url", &w.base_url, |_, _| Ok(()));
        check_key("payments.wechat.merchant_private_key", &w.merchant_private_key, private);
        check_key("payments.wechat.platform_public_key", &w.platform_public_key, public);
        check_key("payments.wechat.api_v3_key", &w.api_v3_key, api_v3);
    }
    if offered("alipay") {
        let a = &p.alipay;
        check_key("payments.alipay.gateway_url", &a.gateway_url, |_, _| Ok(()));
        check_key("payments.alipay.app_private_key", &a.app_private_key, private);
        check_key("payments.alipay.alipay_public_key", &a.alipay_public_key, public);
    }
    // Buyers log in with an SMS code: without a provider nobody could buy.
    let sms = &s.sms;
    check_key("sms.provider_url", &sms.provider_url, |_, _| Ok(()));
    check_key("sms.secret_id", &sms.secret_id, |_, _| Ok(()));
    check_key("sms.secret_key", &sms.secret_key, |_, _| Ok(()));
    // Merchants are reviewed by the verification service: the sandbox is demo mode's only.
    let t = &s.trust;
    check_key("trust.verification_faceid_url", &t.verification_faceid_url, |_, _| Ok(()));
    check_key("trust.verification_ocr_url", &t.verification_ocr_url, |_, _| Ok(()));
    check_key("trust.verification_secret_id", &t.verification_secret_id, |_, _| Ok(()));
    check_key("trust.verification_secret_key", &t.verification_secret_key, |_, _| Ok(()));
    // Merchants ship every paid order: without a courier account nothing would leave.
    let couriers = &s.couriers;
    check_key("couriers.provider_url", &couriers.provider_url, |_, _| Ok(()));
    check_key("couriers.ebusiness_id", &couriers.ebusiness_id, |_, _| Ok(()));
    check_key("couriers.app_key", &couriers.app_key, |_, _| Ok(()));
    // WeChat subscription messages are optional (no mini program: SMS only), but a mini
    // program named without its secret could never send.
    let mp = &s.wechat_mp;
    if !mp.api_url.is_empty() || !mp.appid.is_empty() {
        check_key("wechat_mp.api_url", &mp.api_url, |_, _| Ok(()));
        check_key("wechat_mp.appid", &mp.appid, |_, _| Ok(()));
        check_key("wechat_mp.secret", &mp.secret, |_, _| Ok(()));
    }
    // Live platforms: the bundled sandboxes never stand in for one in production.
    let live = &s.live;
    let bound = |name: &str| live.platforms.iter().any(|p| p == name);
    if !live.platforms.is_empty() {
        let token_key: fn(&str, &str) -> anyhow::Result<()> = |raw, key| {
            anyhow::ensure!(
                raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()),
                "{key} must be 64 hex characters (32 bytes)"
            );
            Ok(())
        };
        check_key("live.token_key", &live.token_key, token_key);
    }
    if bound("douyin") {
        let d = &live.douyin;
        check_key("live.douyin.api_url", &d.api_url, |_, _| Ok(()));
        check_key("live.douyin.authorize_url", &d.authorize_url, |_, _| Ok(()));
        check_key("live.douyin.service_id", &d.service_id, |_, _| Ok(()));
        check_key("live.douyin.app_key", &d.app_key, |_, _| Ok(()));
        check_key("live.douyin.app_secret", &d.app_secret, |_, _| Ok(()));
    }
    if bound("kuaishou") {
        let k = &live.kuaishou;
        check_key("live.kuaishou.api_url", &k.api_url, |_, _| Ok(()));
        check_key("live.kuaishou.authorize_url", &k.authorize_url, |_, _| Ok(()));
        check_key("live.kuaishou.app_key", &k.app_key, |_, _| Ok(()));
        check_key("live.kuaishou.app_secret", &k.app_secret, |_, _| Ok(()));
        check_key("live.kuaishou.sign_secret", &k.sign_secret, |_, _| Ok(()));
        check_key("live.kuaishou.message_key", &k.message_key, |_, _| Ok(()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_defaults_start_and_production_defaults_name_each_problem() {
        assert!(startup_problems(&Settings::default()).is_empty());
        let production = Settings { mode: Mode::Production, ..Settings::default() };
        let problems = startup_problems(&production);
        for key in [
            "sandbox.enabled",
            "demo.seed",
            "server.public_url",
            "auth.token_secret",
            "payments.wechat.base_url",
            "payments.wechat.merchant_private_key",
            "payments.wechat.platform_public_key",
            "payments.wechat.api_v3_key",
            "payments.alipay.gateway_url",
            "payments.alipay.app_private_key",
            "payments.alipay.alipay_public_key",
            "sms.provider_url",
            "sms.secret_id",
            "sms.secret_key",
            "trust.verification_faceid_url",
            "trust.verification_ocr_url",
            "trust.verification_secret_id",
            "trust.verification_secret_key",
            "couriers.provider_url",
            "couriers.ebusiness_id",
            "couriers.app_key",
            "live.token_key",
            "live.douyin.api_url",
            "live.douyin.authorize_url",
            "live.douyin.service_id",
            "live.douyin.app_key",
            "live.douyin.app_secret",
            "live.kuaishou.api_url",
            "live.kuaishou.authorize_url",
            "live.kuaishou.app_key",
            "live.kuaishou.app_secret",
            "live.kuaishou.sign_secret",
            "live.kuaishou.message_key",
        ] {
            assert_eq!(
                problems.iter().filter(|p| p.starts_with(key)).count(),
                1,
                "{key} named once in {problems:#?}"
            );
        }
        assert_eq!(problems.len(), 33, "{problems:#?}");
    }

    #[test]
    fn secret_files_fill_their_setting_and_say_what_is_wrong() {
        let dir = std::env::temp_dir().join(format!("flashsale-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = dir.join("token_secret");
        std::fs::write(&secret, "0123456789abcdef0123456789abcdef\n").unwrap();
        let empty = dir.join("empty");
        std::fs::write(&empty, "\n").unwrap();

        let mut settings = Settings::default();
        settings.auth.token_secret_file = secret.display().to_string();
        settings.server.metrics_token = "inline".into();
        settings.server.metrics_token_file = secret.display().to_string();
        settings.payments.wechat.api_v3_key_file = empty.display().to_string();
        settings.payments.alipay.app_private_key_file = dir.join("missing").display().to_string();
        let problems = read_secret_files(&mut settings);
        assert_eq!(settings.auth.token_secret, "0123456789abcdef0123456789abcdef");
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].starts_with("server.metrics_token and server.metrics_token_file are both set"));
        assert!(
            problems[1].starts_with("payments.wechat.api_v3_key_file: ") && problems[1].ends_with("is empty")
        );
        assert!(problems[2].starts_with("payments.alipay.app_private_key_file: cannot read"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn wechat_messages_are_optional_but_a_named_mini_program_needs_its_keys() {
        let production = Settings { mode: Mode::Production, ..Settings::default() };
        let named = |problems: &[String]| -> Vec<String> {
            problems.iter().filter(|p| p.starts_with("wechat_mp.")).cloned().collect()
        };
        assert!(named(&startup_problems(&production)).is_empty(), "no mini program: SMS only");
        let mut half = production.clone();
        half.wechat_mp.appid = "wx0123456789abcdef".into();
        let problems = named(&startup_problems(&half));
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems[0].starts_with("wechat_mp.api_url is not set"));
        assert!(
            problems[1]
                .starts_with("wechat_mp.secret is not set: supply it from FLASHSALE__WECHAT_MP__SECRET")
        );
    }

    #[test]
    fn env_names() {
        assert_eq!(env_name("payments.wechat.api_v3_key"), "FLASHSALE__PAYMENTS__WECHAT__API_V3_KEY");
    }
}
