//! Where uploaded files live: the [`ObjectStore`] port, and [`FsStore`], the default, a
//! directory (under `data/` by default). Keys are relative paths of plain characters; a key
//! that could leave the root (`..`, an absolute path, a backslash) is refused. A write goes to
//! a temporary file first and is renamed into place, so a reader never sees half a file.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("object key {0:?} is not a plain relative path")]
    BadKey(String),
    #[error("object {0:?} does not exist")]
    NotFound(String),
    #[error("object store i/o on {key:?}: {source}")]
    Io { key: String, source: std::io::Error },
}

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Stores and reads whole objects by key.
pub trait ObjectStore: Send + Sync {
    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> StoreFuture<'a, ()>;
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Vec<u8>>;
    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()>;
}

pub const MAX_KEY_LEN: usize = 512;

/// A key of lowercase letters, digits, `-`, `_`, `.` and `/`-separated segments, none empty,
/// none `.` or `..`.
pub fn check_key(key: &str) -> Result<(), StoreError> {
    let plain = !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_./".contains(&b))
        && key.split('/').all(|segment| !segment.is_empty() && segment != "." && segment != "..");
    if plain { Ok(()) } else { Err(StoreError::BadKey(key.to_owned())) }
}

/// Objects as files under `root`.
pub struct FsStore {
    root: PathBuf,
}

impl FsStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }
}

fn io(key: &str) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            StoreError::NotFound(key.to_owned())
        } else {
            StoreError::Io { key: key.to_owned(), source }
        }
    }
}

/// Runs file work off the async threads.
async fn blocking<T: Send + 'static>(
    key: &str,
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Io { key: key.to_owned(), source: std::io::Error::other(e) })?
        .map_err(io(key))
}

impl ObjectStore for FsStore {
    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let path = self.path(key)?;
            blocking(key, move || {
                let dir = path.parent().expect("a key has a file name");
                std::fs::create_dir_all(dir)?;
                let temporary = dir.join(format!(
                    ".{}.{}.part",
                    path.file_name().and_then(|n| n.to_str()).unwrap_or("object"),
                    rand::random::<u64>()
                ));
                std::fs::write(&temporary, &bytes)?;
                std::fs::rename(&temporary, &path).inspect_err(|_| {
                    let _ = std::fs::remove_file(&temporary);
                })
            })
            .await
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Vec<u8>> {
        Box::pin(async move {
            let path = self.path(key)?;
            blocking(key, move || std::fs::read(path)).await
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let path = self.path(key)?;
            blocking(key, move || std::fs::remove_file(path)).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_keys_are_accepted() {
        for good in ["a", "merchants/7/ab01.png", "x/y-z_1.jpg"] {
            assert!(check_key(good).is_ok(), "{good}");
        }
        for bad in ["", "/etc/passwd", "../x", "a/../b", "a//b", "a/./b", "A.png", "a\\b", "a/", "名.png"] {
            assert!(matches!(check_key(bad), Err(StoreError::BadKey(_))), "{bad}");
        }
    }

    #[tokio::test]
    async fn objects_round_trip_and_overwrite_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::new(dir.path().join("documents"));
        store.put("merchants/1/a.png", b"first".to_vec()).await.unwrap();
        assert_eq!(store.get("merchants/1/a.png").await.unwrap(), b"first");
        store.put("merchants/1/a.png", b"second".to_vec()).await.unwrap();
        assert_eq!(store.get("merchants/1/a.png").await.unwrap(), b"second");
        let leftovers: Vec<_> =
            std::fs::read_dir(dir.path().join("documents/merchants/1")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
        store.delete("merchants/1/a.png").await.unwrap();
        assert!(matches!(store.get("merchants/1/a.png").await, Err(StoreError::NotFound(_))));
        assert!(matches!(store.put("../escape", vec![]).await, Err(StoreError::BadKey(_))));
        assert!(!dir.path().join("escape").exists());
    }
}
