//! A workspace-local cache of when each published targets role expires.
//!
//! `publish` re-signs roles that expire soon, which would mean reading every published
//! role on every run. The expiry of a published role never changes for a given content,
//! so it is cached in `DIR/.tufkit-cache/roles.tsv` keyed by what the snapshot says about
//! the role (version, length and SHA-256): an entry is used only while the snapshot still
//! names exactly that file. A missing or damaged cache only costs time: the roles it
//! does not cover are read again.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use tufkit_core::metadata::MetaFile;
use tufkit_core::rolename::encode_role;

use crate::error::Result;
use crate::workspace::Workspace;

/// Directory of workspace caches (never published, safe to delete).
pub const CACHE_DIR: &str = ".tufkit-cache";

const FILE: &str = "roles.tsv";

/// What identifies one published role file, from its snapshot entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    version: u64,
    length: Option<u64>,
    sha256: Option<String>,
}

impl Key {
    fn of(meta: &MetaFile) -> Key {
        Key {
            version: meta.version,
            length: meta.length,
            sha256: meta.hashes.as_ref().and_then(|h| h.get("sha256").cloned()),
        }
    }
}

/// Cached expiry times of published targets roles.
#[derive(Debug, Default)]
pub struct ExpiryIndex {
    path: Option<PathBuf>,
    entries: HashMap<String, (Key, i64)>,
    changed: bool,
}

impl ExpiryIndex {
    /// Reads the cache of `ws` (empty if it is missing or unreadable).
    pub fn load(ws: &Workspace) -> ExpiryIndex {
        let path = ws.dir().join(CACHE_DIR).join(FILE);
        let mut index = ExpiryIndex {
            path: Some(path.clone()),
            ..ExpiryIndex::default()
        };
        let Ok(text) = fs::read_to_string(&path) else {
            return index;
        };
        for line in text.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            let [expires, version, length, sha256, role] = f[..] else {
                continue;
            };
            let (Ok(expires), Ok(version)) = (expires.parse::<i64>(), version.parse::<u64>())
            else {
                continue;
            };
            let Some(role) = crate::drafts::percent_decode(role) else {
                continue;
            };
            let key = Key {
                version,
                length: length.parse().ok(),
                sha256: (sha256 != "-").then(|| sha256.to_string()),
            };
            index.entries.insert(role, (key, expires));
        }
        index
    }

    /// The cached expiry of `role` as the snapshot entry `meta` describes it.
    pub fn get(&self, role: &str, meta: &MetaFile) -> Option<DateTime<Utc>> {
        let (key, expires) = self.entries.get(role)?;
        if *key != Key::of(meta) {
            return None;
        }
        DateTime::from_timestamp(*expires, 0)
    }

    /// Records the expiry of `role` published as `meta`.
    pub fn set(&mut self, role: &str, meta: &MetaFile, expires: DateTime<Utc>) {
        let entry = (Key::of(meta), expires.timestamp());
        if self.entries.get(role) != Some(&entry) {
            self.entries.insert(role.to_string(), entry);
            self.changed = true;
        }
    }

    /// Drops entries of roles `keep` says are no longer published.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        let before = self.entries.len();
        self.entries.retain(|r, _| keep(r));
        self.changed |= self.entries.len() != before;
    }

    /// Writes the cache back if it changed. Failing to write a cache is not an error.
    pub fn save(&mut self) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if !self.changed {
            return Ok(());
        }
        let mut names: Vec<&String> = self.entries.keys().collect();
        names.sort();
        let mut text = String::with_capacity(self.entries.len() * 120);
        for name in names {
            if let Some((k, expires)) = self.entries.get(name) {
                text.push_str(&format!(
                    "{expires}\t{}\t{}\t{}\t{}\n",
                    k.version,
                    k.length.map_or("-".to_string(), |l| l.to_string()),
                    k.sha256.as_deref().unwrap_or("-"),
                    encode_role(name)
                ));
            }
        }
        if crate::drafts::write_atomic(path, text.as_bytes()).is_ok() {
            self.changed = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_count_only_for_the_file_the_snapshot_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let mut index = ExpiryIndex {
            path: Some(path.clone()),
            ..ExpiryIndex::default()
        };
        let mut meta = MetaFile::with_version(3);
        meta.length = Some(10);
        let when = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        index.set("bins-0a", &meta, when);
        index.set("odd/name", &MetaFile::with_version(1), when);
        index.save().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let mut again = ExpiryIndex {
            path: Some(path),
            ..ExpiryIndex::default()
        };
        for line in text.lines() {
            assert_eq!(line.split('\t').count(), 5, "{line}");
        }
        // Round trip through the file format.
        again.entries = ExpiryIndex::parse_for_test(&text);
        assert_eq!(again.get("bins-0a", &meta), Some(when));
        assert_eq!(
            again.get("odd/name", &MetaFile::with_version(1)),
            Some(when)
        );
        // Another version or length of the role is another file: not covered.
        assert_eq!(again.get("bins-0a", &MetaFile::with_version(3)), None);
        meta.version = 4;
        assert_eq!(again.get("bins-0a", &meta), None);
    }

    impl ExpiryIndex {
        fn parse_for_test(text: &str) -> HashMap<String, (Key, i64)> {
            let dir = tempfile::tempdir().unwrap();
            let ws_dir = dir.path();
            fs::create_dir_all(ws_dir.join(CACHE_DIR)).unwrap();
            fs::write(ws_dir.join(CACHE_DIR).join(FILE), text).unwrap();
            fs::write(ws_dir.join("tufkit.toml"), "").unwrap();
            let ws = Workspace::open(ws_dir).unwrap();
            ExpiryIndex::load(&ws).entries
        }
    }
}
