//! Target files staged by reference (`target_files = "link"`): instead of a private copy
//! in `staged/files/`, `add` records where the hashed file is and which file it was
//! (device, inode, length, modification time), and `publish` hard-links that very file
//! into the published tree: one directory entry per target instead of a copy and a
//! rename, which is what makes publishing 100,000 files fast.
//!
//! The record is checked when the file is placed: a source that was replaced, rewritten
//! or removed since `add` is refused (before anything names it), never published. Where
//! a hard link cannot be made (another filesystem), the recorded file is copied instead,
//! after the same check.
//!
//! The records live in `staged/linked.jsonl`, one JSON object per line, keyed by the
//! SHA-256 of the content (like the copies in `staged/files/`).

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{invalid, Error, Result};

/// File name of the records, inside `staged/`.
pub const LINKED_FILE: &str = "linked.jsonl";

/// Which file a staged target's content is, as it was when it was hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedSource {
    /// SHA-256 of the content (hex).
    pub sha256: String,
    /// Absolute path of the source file.
    pub path: PathBuf,
    /// Device of the file.
    pub dev: u64,
    /// Inode of the file.
    pub ino: u64,
    /// Length in bytes.
    pub len: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i128,
}

/// The identity of a file: (device, inode, length, modification time in ns).
pub type Identity = (u64, u64, u64, i128);

/// The identity of the file `meta` describes; `None` where the platform has no inodes.
#[cfg(unix)]
pub fn identity(meta: &fs::Metadata) -> Option<Identity> {
    use std::os::unix::fs::MetadataExt;
    let mtime = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
    Some((meta.dev(), meta.ino(), meta.len(), mtime))
}

/// The identity of the file `meta` describes; `None` where the platform has no inodes.
#[cfg(not(unix))]
pub fn identity(_meta: &fs::Metadata) -> Option<Identity> {
    None
}

impl LinkedSource {
    /// A record for `path` (made absolute) whose content hashed to `sha256`.
    pub fn new(sha256: String, path: &Path, id: Identity) -> Result<LinkedSource> {
        let path = std::path::absolute(path).map_err(|e| Error::io(path, e))?;
        Ok(LinkedSource {
            sha256,
            path,
            dev: id.0,
            ino: id.1,
            len: id.2,
            mtime_ns: id.3,
        })
    }

    /// True if `meta` describes the recorded file, unchanged.
    pub fn matches(&self, meta: &fs::Metadata) -> bool {
        identity(meta) == Some((self.dev, self.ino, self.len, self.mtime_ns))
    }

    /// The error for a source that is no longer what `add` hashed.
    pub fn changed(&self) -> Error {
        invalid(format!(
            "{}: the file changed or was replaced after `tufkit add` hashed it (target content {}), so it is not published; run `tufkit add` for it again, then publish",
            self.path.display(),
            self.sha256
        ))
    }

    /// Checks that `path` (the source, or a hard link just made to it) is the recorded
    /// file, unchanged.
    pub fn check(&self, path: &Path) -> Result<()> {
        match fs::symlink_metadata(path) {
            Ok(meta) if self.matches(&meta) => Ok(()),
            Ok(_) => Err(self.changed()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(invalid(format!(
                "{}: the file is gone since `tufkit add` hashed it (target content {}); run `tufkit add` for it again, then publish",
                self.path.display(),
                self.sha256
            ))),
            Err(e) => Err(Error::io(path, e)),
        }
    }
}

/// The records of `staged/`, by SHA-256 (empty if there are none).
pub fn load(staged_dir: &Path) -> Result<BTreeMap<String, LinkedSource>> {
    let path = staged_dir.join(LINKED_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let rec: LinkedSource = serde_json::from_str(line).map_err(|e| {
            invalid(format!(
                "{} line {}: {e}; the file is written by `tufkit add`: remove it and add the affected targets again",
                path.display(),
                i + 1
            ))
        })?;
        out.insert(rec.sha256.clone(), rec);
    }
    Ok(out)
}

/// Replaces the records of `staged/` with `records` (atomically; none: the file goes).
pub fn save(staged_dir: &Path, records: &BTreeMap<String, LinkedSource>) -> Result<()> {
    let path = staged_dir.join(LINKED_FILE);
    if records.is_empty() {
        return match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
            _ => Ok(()),
        };
    }
    let mut text = String::with_capacity(records.len() * 200);
    for rec in records.values() {
        let line = serde_json::to_string(rec).map_err(|e| invalid(e.to_string()))?;
        text.push_str(&line);
        text.push('\n');
    }
    crate::drafts::write_atomic(&path, text.as_bytes())
}

/// Adds `new` to the records (a later record for the same content wins).
pub fn record(staged_dir: &Path, new: Vec<LinkedSource>) -> Result<()> {
    if new.is_empty() {
        return Ok(());
    }
    let mut all = load(staged_dir)?;
    for rec in new {
        all.insert(rec.sha256.clone(), rec);
    }
    save(staged_dir, &all)
}

/// Drops the records whose content no draft needs any more.
pub fn prune(staged_dir: &Path, keep: &HashSet<String>) -> Result<()> {
    let mut all = load(staged_dir)?;
    let before = all.len();
    all.retain(|sha, _| keep.contains(sha));
    if all.len() == before {
        return Ok(());
    }
    save(staged_dir, &all)
}

/// The device of `dir`, or of its nearest existing ancestor (the published tree before
/// the first publish): a source file can be hard-linked there only from that device.
pub fn device(dir: &Path) -> Option<u64> {
    let mut next = Some(dir);
    while let Some(d) = next {
        if let Ok(meta) = fs::metadata(d) {
            return identity(&meta).map(|id| id.0);
        }
        next = d.parent();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_notice_a_changed_source() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("a.bin");
        fs::write(&src, b"abc").unwrap();
        let id = identity(&fs::metadata(&src).unwrap()).unwrap();
        let rec = LinkedSource::new("ab".repeat(32), &src, id).unwrap();
        rec.check(&src).unwrap();
        record(dir.path(), vec![rec.clone()]).unwrap();
        assert_eq!(load(dir.path()).unwrap().get(&rec.sha256), Some(&rec));
        assert_eq!(device(&dir.path().join("not/yet/there")), Some(id.0));

        // Rewritten in place (another length): refused.
        fs::write(&src, b"abcd").unwrap();
        assert!(rec.check(&src).unwrap_err().to_string().contains("changed"));
        fs::remove_file(&src).unwrap();
        assert!(rec.check(&src).unwrap_err().to_string().contains("gone"));

        prune(dir.path(), &HashSet::new()).unwrap();
        assert!(load(dir.path()).unwrap().is_empty());
        assert!(!dir.path().join(LINKED_FILE).exists());
    }
}
