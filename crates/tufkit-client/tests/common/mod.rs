//! Shared set-up of the client integration tests: a RepoSim served by the loopback
//! server, and an updater pointed at it with a fixed reference time.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use tempfile::TempDir;
use tufkit_client::{Config, Updater};
use tufkit_testkit::{default_reference_time, RepoSim, Server};

pub struct Env {
    pub sim: RepoSim,
    pub server: Server,
    pub dir: TempDir,
    /// The root the client is bootstrapped with.
    pub bootstrap: Vec<u8>,
}

impl Env {
    /// A fresh repository (all roles v1) and a client that trusts root v1.
    pub fn new() -> Env {
        Env::with_sim(RepoSim::new(default_reference_time()))
    }

    pub fn with_sim(sim: RepoSim) -> Env {
        let server = Server::start(sim.files());
        let bootstrap = sim.trusted_root_bytes(1);
        Env {
            sim,
            server,
            dir: tempfile::tempdir().unwrap(),
            bootstrap,
        }
    }

    pub fn metadata_dir(&self) -> PathBuf {
        self.dir.path().join("metadata")
    }

    pub fn target_dir(&self) -> PathBuf {
        self.dir.path().join("targets")
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.sim.reference_time()
    }

    /// An updater at the simulator's reference time.
    pub fn updater(&self) -> Updater {
        self.updater_at(self.now())
    }

    pub fn updater_at(&self, time: DateTime<Utc>) -> Updater {
        self.updater_with(Config::default().with_reference_time(time))
    }

    pub fn updater_with(&self, config: Config) -> Updater {
        Updater::builder(
            self.bootstrap.clone(),
            &self.server.metadata_url(),
            self.metadata_dir(),
        )
        .targets_url(&self.server.targets_url())
        .config(config)
        .build()
        .unwrap()
    }

    /// A refresh at the reference time; returns the requests it made.
    pub async fn refresh(&self) -> Result<Vec<String>, tufkit_client::Error> {
        self.server.clear_requests();
        // On failure the requests stay in the log for `requests()`.
        self.updater().refresh().await?;
        Ok(self.server.take_requests())
    }

    /// Requests since the last call, without the `metadata/` prefix for metadata files.
    pub fn requests(&self) -> Vec<String> {
        self.server
            .take_requests()
            .into_iter()
            .map(|r| r.strip_prefix("metadata/").map(str::to_string).unwrap_or(r))
            .collect()
    }

    /// File names in the metadata directory, sorted (every file, not only `*.json`).
    pub fn stored_files(&self) -> Vec<String> {
        list_files(&self.metadata_dir())
    }

    pub fn stored(&self, file: &str) -> Option<Vec<u8>> {
        std::fs::read(self.metadata_dir().join(file)).ok()
    }

    /// The `signed.version` of a stored role file.
    pub fn stored_version(&self, file: &str) -> Option<u64> {
        let bytes = self.stored(file)?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        v["signed"]["version"].as_u64()
    }

    /// Every regular file under the target directory, relative paths, sorted.
    pub fn target_files(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.target_dir(), &self.target_dir(), &mut out);
        out.sort();
        out
    }
}

pub fn list_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let e = e.unwrap();
        let path = e.path();
        if path.is_dir() {
            walk(root, &path, out);
        } else {
            out.push(path.strip_prefix(root).unwrap().display().to_string());
        }
    }
}

/// The four files a complete refresh stores.
pub const TOP_LEVEL_FILES: [&str; 4] = [
    "root.json",
    "snapshot.json",
    "targets.json",
    "timestamp.json",
];

pub fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The core rule behind a metadata rejection.
pub fn core_error(e: &tufkit_client::Error) -> &tufkit_core::Error {
    match e {
        tufkit_client::Error::Metadata { source, .. } => source,
        other => panic!("expected a metadata rule failure, got: {other}"),
    }
}
