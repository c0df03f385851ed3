//! Shared helpers for tufkit-repo integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tufkit_repo::init::{init, InitOptions};
use tufkit_repo::storage::{DirStorage, Storage};
use tufkit_repo::verify::{verify, VerifyReport};
use tufkit_repo::{Error, Workspace};

/// The fixed start time of every test repository.
pub fn t0() -> DateTime<Utc> {
    "2030-01-01T00:00:00Z".parse().unwrap()
}

/// A new repository at `dir/repo`, initialised at `t0()`, opened at `now`.
pub fn new_repo(dir: &Path, now: DateTime<Utc>) -> Workspace {
    let path = dir.join("repo");
    init(&path, &InitOptions::default(), Some(t0())).unwrap();
    open(&path, now)
}

/// Generates alice's key into `keys/alice.pem` and stages a delegation of `alice/*` from
/// targets to it (threshold 1). Returns the key.
pub fn delegate_to_alice(ws: &Workspace, terminating: bool) -> tufkit_core::crypto::SigningKey {
    use tufkit_repo::edit::{delegate, Delegation, DelegationScope};
    use tufkit_repo::keys::{generate, write_private_key, KeyType};
    let (alice, pem) = generate(KeyType::Ed25519).unwrap();
    write_private_key(&ws.dir().join("keys/alice.pem"), &pem).unwrap();
    delegate(
        ws,
        &Delegation {
            from: "targets".into(),
            to: "alice".into(),
            keys: vec![(alice.key_id().clone(), alice.public_key().clone())],
            threshold: 1,
            scope: DelegationScope::Paths(vec!["alice/*".into()]),
            terminating,
        },
    )
    .unwrap();
    alice
}

/// Opens a workspace with a fixed clock.
pub fn open(path: &Path, now: DateTime<Utc>) -> Workspace {
    let mut ws = Workspace::open(path).unwrap();
    ws.set_now(now);
    ws
}

/// Verifies the published tree at `now` as a fresh client.
pub fn verify_at(ws: &Workspace, now: DateTime<Utc>) -> VerifyReport {
    verify(ws.storage(), now, &|_| {}).unwrap()
}

/// Asserts the published tree verifies at `now`.
pub fn assert_verifies(ws: &Workspace, now: DateTime<Utc>) {
    let r = verify_at(ws, now);
    assert!(r.ok(), "verify failed: {:?}", r.problems);
}

/// Writes a file under `dir` and returns its path.
pub fn file(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// The published timestamp version.
pub fn timestamp_version(ws: &Workspace) -> u64 {
    ws.published().unwrap().timestamp.unwrap().signed.version
}

/// One hour.
pub fn hour() -> Duration {
    Duration::hours(1)
}

/// A storage that fails every write after the first `allowed` ones: a crash at that step.
pub struct CrashingStorage {
    inner: DirStorage,
    allowed: usize,
    writes: Arc<AtomicUsize>,
}

impl CrashingStorage {
    /// Wraps the directory storage of `ws`.
    pub fn new(ws: &Workspace, allowed: usize) -> (CrashingStorage, Arc<AtomicUsize>) {
        let writes = Arc::new(AtomicUsize::new(0));
        (
            CrashingStorage {
                inner: DirStorage::new(ws.repository_dir(), ws.dir().join(".tufkit-tmp")),
                allowed,
                writes: writes.clone(),
            },
            writes,
        )
    }

    fn step(&self) -> tufkit_repo::Result<()> {
        if self.writes.fetch_add(1, Ordering::SeqCst) >= self.allowed {
            return Err(Error::Invalid("simulated crash".into()));
        }
        Ok(())
    }
}

impl Storage for CrashingStorage {
    fn read(&self, path: &str) -> tufkit_repo::Result<Option<Vec<u8>>> {
        self.inner.read(path)
    }
    fn exists(&self, path: &str) -> tufkit_repo::Result<bool> {
        self.inner.exists(path)
    }
    fn list(&self, dir: &str) -> tufkit_repo::Result<Vec<String>> {
        self.inner.list(dir)
    }
    fn put_new(&self, path: &str, data: &[u8]) -> tufkit_repo::Result<()> {
        self.step()?;
        self.inner.put_new(path, data)
    }
    fn put_replace(&self, path: &str, data: &[u8]) -> tufkit_repo::Result<()> {
        self.step()?;
        self.inner.put_replace(path, data)
    }
    fn put_new_from_file(&self, path: &str, source: &Path) -> tufkit_repo::Result<()> {
        self.step()?;
        self.inner.put_new_from_file(path, source)
    }
}

/// A storage that counts the metadata files read through it.
pub struct CountingStorage {
    inner: DirStorage,
    /// Paths read, in order.
    pub reads: Arc<std::sync::Mutex<Vec<String>>>,
}

impl CountingStorage {
    /// Wraps the directory storage of `ws`.
    pub fn new(ws: &Workspace) -> (CountingStorage, Arc<std::sync::Mutex<Vec<String>>>) {
        let reads = Arc::new(std::sync::Mutex::new(Vec::new()));
        (
            CountingStorage {
                inner: DirStorage::new(ws.repository_dir(), ws.dir().join(".tufkit-tmp")),
                reads: reads.clone(),
            },
            reads,
        )
    }
}

impl Storage for CountingStorage {
    fn read(&self, path: &str) -> tufkit_repo::Result<Option<Vec<u8>>> {
        self.reads.lock().unwrap().push(path.to_string());
        self.inner.read(path)
    }
    fn exists(&self, path: &str) -> tufkit_repo::Result<bool> {
        self.inner.exists(path)
    }
    fn list(&self, dir: &str) -> tufkit_repo::Result<Vec<String>> {
        self.reads.lock().unwrap().push(format!("{dir}/"));
        self.inner.list(dir)
    }
    fn put_new(&self, path: &str, data: &[u8]) -> tufkit_repo::Result<()> {
        self.inner.put_new(path, data)
    }
    fn put_replace(&self, path: &str, data: &[u8]) -> tufkit_repo::Result<()> {
        self.inner.put_replace(path, data)
    }
    fn put_new_from_file(&self, path: &str, source: &Path) -> tufkit_repo::Result<()> {
        self.inner.put_new_from_file(path, source)
    }
    fn put_batch(&self, files: &[tufkit_repo::BatchFile<'_>]) -> tufkit_repo::Result<()> {
        self.inner.put_batch(files)
    }
}

/// Every file of the published tree with its bytes.
pub fn published_files(ws: &Workspace) -> std::collections::BTreeMap<String, Vec<u8>> {
    let root = ws.repository_dir();
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(&root).unwrap().to_str().unwrap().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}
