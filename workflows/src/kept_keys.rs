//! Keys of the bundled sandboxes: generated on the first start, then kept in the database
//! (the settings table) so that restarts, and payments or messages in flight across them, see
//! the same keys. Two first starts at once both use the keys that were stored first.
//!
//! Demo mode only: production configures every outside system's keys and never reads these.

use anyhow::Context as _;
use persistence::{DatabaseConnection, repo};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The keys stored under `name`, or the ones `generate` makes (on a blocking thread: key
/// generation can take a while), stored first.
pub async fn kept<T, F>(db: &DatabaseConnection, name: &str, generate: F) -> anyhow::Result<T>
where
    T: Serialize + DeserializeOwned,
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let stored = match repo::setting(db, name).await? {
        Some(stored) => stored,
        None => {
            let fresh = tokio::task::spawn_blocking(generate).await?;
            repo::setting_or_insert(db, name, serde_json::to_string(&fresh)?).await?
        }
    };
    serde_json::from_str(&stored).with_context(|| format!("stored {name}"))
}
