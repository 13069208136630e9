//! Typed settings: `config.toml` (every key, with its default and a comment) overridden by
//! environment variables `FLASHSALE__SECTION__KEY`. Every key has a default in code too, so a
//! missing file or key means the documented default, never a crash.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: Server,
    pub database: Database,
    pub journal: JournalSettings,
    pub actors: Actors,
    pub admission: Admission,
    pub auth: Auth,
    pub demo: Demo,
    pub log: Log,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Server {
    pub bind: String,
    pub workers: usize,
    pub backlog: u32,
    pub max_body_bytes: usize,
    pub public_url: String,
    pub shutdown_timeout_secs: u64,
}

impl Default for Server {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            workers: 0,
            backlog: 4096,
            max_body_bytes: 16 * 1024,
            public_url: String::new(),
            shutdown_timeout_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Database {
    pub url: String,
    pub max_connections: u32,
    pub sqlite_synchronous_full: bool,
}

impl Default for Database {
    fn default() -> Self {
        Self { url: "sqlite://data/flashsale.db".into(), max_connections: 8, sqlite_synchronous_full: true }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct JournalSettings {
    pub capacity: usize,
    pub batch_max: usize,
    pub linger_ms: u64,
    pub durable_ack: bool,
    pub ack_timeout_ms: u64,
}

impl Default for JournalSettings {
    fn default() -> Self {
        Self { capacity: 65_536, batch_max: 2_048, linger_ms: 0, durable_ack: true, ack_timeout_ms: 5_000 }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Actors {
    pub arbiters: usize,
    pub mailbox_capacity: usize,
    pub expiry_tick_ms: u64,
    pub expiry_batch: usize,
}

impl Default for Actors {
    fn default() -> Self {
        Self { arbiters: 1, mailbox_capacity: 8_192, expiry_tick_ms: 100, expiry_batch: 1_024 }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Admission {
    pub max_in_flight: usize,
    pub per_ip_per_sec: u32,
    pub per_ip_burst: u32,
    pub per_buyer_per_sec: u32,
    pub per_buyer_burst: u32,
    pub retry_after_secs: u32,
}

impl Default for Admission {
    fn default() -> Self {
        Self {
            max_in_flight: 8_192,
            per_ip_per_sec: 200,
            per_ip_burst: 400,
            per_buyer_per_sec: 2,
            per_buyer_burst: 10,
            retry_after_secs: 1,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Auth {
    pub token_secret: String,
    pub merchant_token_ttl_secs: u64,
    pub buyer_token_ttl_secs: u64,
}

impl Default for Auth {
    fn default() -> Self {
        Self { token_secret: String::new(), merchant_token_ttl_secs: 86_400, buyer_token_ttl_secs: 604_800 }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Demo {
    pub seed: bool,
}

impl Default for Demo {
    fn default() -> Self {
        Self { seed: true }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Log {
    pub level: String,
}

impl Default for Log {
    fn default() -> Self {
        Self { level: "info".into() }
    }
}

impl Settings {
    /// Reads `path` (or `config.toml` in the working directory, if it exists) and the
    /// `FLASHSALE__SECTION__KEY` environment variables.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        Self::load_with_env(path, None)
    }

    /// [`Settings::load`] with the environment given as a map instead of read from the
    /// process (for tests).
    pub fn load_with_env(
        path: Option<&Path>,
        env: Option<config::Map<String, String>>,
    ) -> anyhow::Result<Self> {
        let mut builder = config::Config::builder();
        builder = match path {
            Some(path) => builder.add_source(config::File::from(path).required(true)),
            None => builder.add_source(config::File::with_name("config.toml").required(false)),
        };
        builder = builder.add_source(
            config::Environment::with_prefix("FLASHSALE")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(env),
        );
        let settings: Settings = builder
            .build()
            .context("reading configuration")?
            .try_deserialize()
            .context("invalid configuration")?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> anyhow::Result<()> {
        let positive = [
            ("server.max_body_bytes", self.server.max_body_bytes),
            ("journal.capacity", self.journal.capacity),
            ("journal.batch_max", self.journal.batch_max),
            ("actors.arbiters", self.actors.arbiters),
            ("actors.mailbox_capacity", self.actors.mailbox_capacity),
            ("actors.expiry_batch", self.actors.expiry_batch),
            ("admission.max_in_flight", self.admission.max_in_flight),
        ];
        for (key, value) in positive {
            anyhow::ensure!(value > 0, "{key} must be greater than 0");
        }
        anyhow::ensure!(self.actors.expiry_tick_ms > 0, "actors.expiry_tick_ms must be greater than 0");
        anyhow::ensure!(self.journal.ack_timeout_ms > 0, "journal.ack_timeout_ms must be greater than 0");
        persistence::Backend::of(&self.database.url)?;
        Ok(())
    }

    pub fn ack_timeout(&self) -> Duration {
        Duration::from_millis(self.journal.ack_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped config.toml documents the defaults: it must say exactly what the code does.
    #[test]
    fn shipped_config_is_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config.toml");
        let from_file: Settings = config::Config::builder()
            .add_source(config::File::from(path.as_path()))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        assert_eq!(from_file, Settings::default());
    }

    #[test]
    fn environment_overrides_any_key() {
        let env = [
            ("FLASHSALE__ADMISSION__PER_IP_BURST", "12345"),
            ("FLASHSALE__SERVER__BIND", "127.0.0.1:0"),
            ("FLASHSALE__JOURNAL__DURABLE_ACK", "false"),
            ("OTHER__SERVER__BIND", "ignored"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let settings = Settings::load_with_env(None, Some(env)).unwrap();
        assert_eq!(settings.admission.per_ip_burst, 12_345);
        assert_eq!(settings.server.bind, "127.0.0.1:0");
        assert!(!settings.journal.durable_ack);
        assert_eq!(settings.admission.per_ip_per_sec, Admission::default().per_ip_per_sec);
    }

    #[test]
    fn nonsense_is_refused_at_start() {
        let env = [("FLASHSALE__JOURNAL__CAPACITY".to_owned(), "0".to_owned())].into_iter().collect();
        assert!(Settings::load_with_env(None, Some(env)).is_err());
        let env = [("FLASHSALE__SERVER__BINDD".to_owned(), "x".to_owned())].into_iter().collect();
        assert!(Settings::load_with_env(None, Some(env)).is_err(), "unknown keys are typos");
    }
}
