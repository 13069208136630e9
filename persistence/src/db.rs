//! Connecting to the database: SQLite under `data/` by default, Postgres by URL.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait as _, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, TransactionTrait as _,
};
use sea_orm_migration::MigratorTrait;

use crate::migration::Migrator;

/// Which kind of database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            anyhow::bail!("unsupported database url {url:?}: use sqlite://PATH or postgres://…")
        }
    }
}

/// Opens a pool and brings the schema up to date.
///
/// SQLite runs in WAL mode with `synchronous = FULL` unless told otherwise: with FULL a commit
/// survives power loss, not just a process crash. That is the durability point of everything
/// the order log does not carry (payments, money, the workflows' own writes), and of orders
/// when there is no log. Group commit keeps the fsync cost per batch, not per order.
pub async fn connect(
    url: &str,
    max_connections: u32,
    sqlite_synchronous_full: bool,
) -> anyhow::Result<DatabaseConnection> {
    let backend = Backend::of(url)?;
    let mut url = url.to_owned();
    if backend == Backend::Sqlite {
        let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
        let path = path.split('?').next().unwrap_or_default().to_owned();
        if let Some(dir) = Path::new(&path).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating database directory {}", dir.display()))?;
        }
        if !url.contains("mode=") {
            url.push_str(if url.contains('?') { "&mode=rwc" } else { "?mode=rwc" });
        }
    }
    let mut options = ConnectOptions::new(url.clone());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    options.map_sqlx_sqlite_opts(move |o| {
        o.journal_mode(SqliteJournalMode::Wal)
            .synchronous(if sqlite_synchronous_full {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
    });
    let db = Database::connect(options).await.with_context(|| format!("connecting to {}", redact(&url)))?;
    Migrator::up(&db, None).await.context("running migrations")?;
    Ok(db)
}

/// Begins a transaction that writes. On SQLite its first statement takes the write lock (an
/// UPDATE that matches nothing still does), so the transaction never holds a read snapshot it
/// must later upgrade: a deferred transaction that reads and then writes after another
/// connection committed fails at once with `SQLITE_BUSY_SNAPSHOT` (517), which `busy_timeout`
/// does not wait out, whereas taking the lock first waits its turn under `busy_timeout`. On
/// Postgres a plain `BEGIN`.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        txn.execute_unprepared("UPDATE settings SET value = value WHERE 0").await?;
    }
    Ok(txn)
}

/// The URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(Backend::of("sqlite://data/x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert!(Backend::of("mysql://h/db").is_err());
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    /// A writing transaction that reads first, while another connection commits a write: with
    /// `begin_write` the other one waits its turn and both commit. A deferred `BEGIN` here
    /// would hold a read snapshot, let the other commit, and then fail its own write with
    /// `SQLITE_BUSY_SNAPSHOT`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_transaction_that_reads_first_still_writes_while_another_commits() {
        use sea_orm::{ConnectionTrait as _, Statement};
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("lock.db").display());
        let db = connect(&url, 4, false).await.unwrap();
        let insert = |key: &str| {
            Statement::from_string(
                DbBackend::Sqlite,
                format!("INSERT INTO settings (key, value) VALUES ('{key}', 'x')"),
            )
        };
        let count =
            Statement::from_string(DbBackend::Sqlite, "SELECT COUNT(*) AS n FROM settings".to_owned());

        let first = begin_write(&db).await.unwrap();
        first.query_one_raw(count).await.unwrap();
        let other = tokio::spawn({
            let db = db.clone();
            let insert = insert("other");
            async move {
                let txn = begin_write(&db).await?;
                txn.execute_raw(insert).await?;
                txn.commit().await
            }
        });
        // Time for the other transaction to commit, if nothing held it back.
        tokio::time::sleep(Duration::from_millis(300)).await;
        first.execute_raw(insert("first")).await.expect("the first transaction's write after its read");
        first.commit().await.unwrap();
        other.await.unwrap().expect("the other transaction committed after waiting its turn");
        let keys: Vec<String> = db
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT key FROM settings WHERE key IN ('first', 'other') ORDER BY key".to_owned(),
            ))
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.try_get::<String>("", "key").unwrap())
            .collect();
        assert_eq!(keys, ["first", "other"]);
    }
}
