//! A repository workspace: policy, keys, drafts and the published tree together.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::config::{Config, CONFIG_FILE};
use crate::drafts::Drafts;
use crate::error::{invalid, Result};
use crate::keys::KeyRing;
use crate::lock::Lock;
use crate::state::{Head, Published, RoleSet};
use crate::storage::{DirStorage, Storage};

/// Directory (inside the workspace) where published files are staged before their rename.
pub const TMP_DIR: &str = ".tufkit-tmp";

/// A callback for progress lines on long operations.
pub type ProgressFn = Box<dyn Fn(&str) + Send + Sync>;

/// A callback for counted progress: (task, done, total). Called often and from worker
/// threads; the receiver decides how often to show it.
pub type CountFn = Box<dyn Fn(&str, u64, u64) + Send + Sync>;

/// An opened repository workspace.
pub struct Workspace {
    dir: PathBuf,
    config: Config,
    storage: Box<dyn Storage + Send + Sync>,
    drafts: Drafts,
    now: Option<DateTime<Utc>>,
    progress: Option<ProgressFn>,
    count: Option<CountFn>,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace")
            .field("dir", &self.dir)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Workspace {
    /// Opens the workspace at `dir` (it must hold `tufkit.toml`).
    pub fn open(dir: impl AsRef<Path>) -> Result<Workspace> {
        let dir = dir.as_ref().to_path_buf();
        let config_path = dir.join(CONFIG_FILE);
        if !config_path.exists() {
            return Err(invalid(format!(
                "{}: no {CONFIG_FILE} here; is this a tufkit repository? Create one with `tufkit init {}`",
                dir.display(),
                dir.display()
            )));
        }
        let config = Config::load(&config_path)?;
        Ok(Workspace::with_config(dir, config))
    }

    /// A workspace at `dir` with an already loaded configuration.
    pub fn with_config(dir: PathBuf, config: Config) -> Workspace {
        let storage = DirStorage::new(dir.join(&config.publish.destination), dir.join(TMP_DIR));
        Workspace {
            drafts: Drafts::new(&dir),
            dir,
            config,
            storage: Box::new(storage),
            now: None,
            progress: None,
            count: None,
        }
    }

    /// Replaces the published-tree storage (e.g. an object store, or a test double).
    pub fn set_storage(&mut self, storage: Box<dyn Storage + Send + Sync>) {
        self.storage = storage;
    }

    /// Fixes the clock used for expiry decisions (tests, demos).
    pub fn set_now(&mut self, now: DateTime<Utc>) {
        self.now = Some(now);
    }

    /// Sets a callback for progress lines on long operations.
    pub fn set_progress(&mut self, progress: ProgressFn) {
        self.progress = Some(progress);
    }

    /// Sets a callback for counted progress (hashing files, signing roles, writing files).
    pub fn set_progress_count(&mut self, count: CountFn) {
        self.count = Some(count);
    }

    /// Reports that `done` of `total` items of `task` are finished, if anyone listens.
    pub fn progress_count(&self, task: &str, done: u64, total: u64) {
        if let Some(c) = &self.count {
            c(task, done, total);
        }
    }

    /// Reports a progress line, if anyone listens.
    pub fn progress(&self, line: &str) {
        if let Some(p) = &self.progress {
            p(line);
        }
    }

    /// The current time (or the fixed one).
    ///
    /// Whole seconds: metadata carries no fractional seconds.
    pub fn now(&self) -> DateTime<Utc> {
        let now = self.now.unwrap_or_else(Utc::now);
        DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
    }

    /// The workspace directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory of the published tree.
    pub fn repository_dir(&self) -> PathBuf {
        self.dir.join(&self.config.publish.destination)
    }

    /// The policy.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The published tree.
    pub fn storage(&self) -> &dyn Storage {
        self.storage.as_ref()
    }

    /// The drafts in `staged/`.
    pub fn drafts(&self) -> &Drafts {
        &self.drafts
    }

    /// Takes the one-writer lock.
    pub fn lock(&self) -> Result<Lock> {
        Lock::acquire(&self.dir)
    }

    /// Loads every reachable private key.
    pub fn keyring(&self) -> Result<KeyRing> {
        KeyRing::load(&self.config.key_dirs(&self.dir))
    }

    /// Reads the published state back from storage, every targets role included.
    pub fn published(&self) -> Result<Published> {
        Published::load(self.storage())
    }

    /// Reads the published root, timestamp and snapshot (not the targets roles).
    pub fn head(&self) -> Result<Head> {
        Head::load(self.storage())
    }

    /// Published targets roles with the drafts laid over them.
    pub fn working_roles(&self, published: &Published) -> Result<RoleSet> {
        let mut roles = published.roles.clone();
        roles.extend(self.drafts.roles()?);
        Ok(roles)
    }
}
