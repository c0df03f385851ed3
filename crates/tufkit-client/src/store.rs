//! The trusted metadata store: one file per role, exact bytes, written atomically.
//!
//! Files are named without version numbers (`root.json`, `timestamp.json`,
//! `snapshot.json`, `targets.json`, `<percent-encoded role>.json`) directly in the
//! metadata directory. A write goes to a hidden temporary file (suffix `.tmp`, never
//! `.json`) in the same directory, is flushed to disk, then renamed over the old file, so
//! a crash at any point leaves either the old or the new bytes, never a mix.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use tufkit_core::metadata::TOP_LEVEL_ROLES;
use tufkit_core::rolename::role_file_name;

use crate::error::{Error, Result};

/// Local storage of trusted metadata.
#[derive(Debug, Clone)]
pub struct MetadataStore {
    dir: PathBuf,
}

fn store_err(action: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::Store {
        action,
        path: path.to_path_buf(),
        source,
    }
}

impl MetadataStore {
    /// Opens (and creates if needed) the metadata directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<MetadataStore> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| store_err("create directory", &dir, e))?;
        Ok(MetadataStore { dir })
    }

    /// The metadata directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file name of a role's trusted metadata, refusing delegated names that would
    /// collide with a top-level file on a case-insensitive file system.
    pub fn file_name(role: &str) -> Result<String> {
        let file = role_file_name(role, None);
        if !TOP_LEVEL_ROLES.contains(&role)
            && TOP_LEVEL_ROLES
                .iter()
                .any(|top| file.eq_ignore_ascii_case(&format!("{top}.json")))
        {
            return Err(Error::UnsafeRoleName {
                role: role.to_string(),
                file,
            });
        }
        Ok(file)
    }

    /// The path of a role's trusted metadata file.
    pub fn path(&self, role: &str) -> Result<PathBuf> {
        Ok(self.dir.join(MetadataStore::file_name(role)?))
    }

    /// The stored bytes of a role, if any.
    pub fn read(&self, role: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(role)?;
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(store_err("read", &path, e)),
        }
    }

    /// Stores a role's bytes atomically (temporary file, fsync, rename, fsync directory).
    pub fn write(&self, role: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path(role)?;
        write_atomic(&self.dir, &path, bytes).map_err(|e| store_err("write", &path, e))
    }

    /// Deletes a role's stored metadata (no error if it is absent).
    pub fn remove(&self, role: &str) -> Result<()> {
        let path = self.path(role)?;
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.dir).map_err(|e| store_err("sync", &self.dir, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(store_err("delete", &path, e)),
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in `dir` (which must contain `path`).
pub(crate) fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".tufkit-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    // On error the temporary file is removed when `tmp` is dropped.
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Flushes a directory entry change (rename, delete) to disk where the OS supports it.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_atomically_and_leave_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetadataStore::open(dir.path().join("meta")).unwrap();
        assert_eq!(store.read("root").unwrap(), None);
        store.write("root", b"one").unwrap();
        store.write("root", b"two ").unwrap();
        store.write("../x", b"d").unwrap();
        assert_eq!(store.read("root").unwrap().unwrap(), b"two ");
        let mut names: Vec<String> = fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["..%2Fx.json", "root.json"]);
        store.remove("root").unwrap();
        store.remove("root").unwrap();
        assert_eq!(store.read("root").unwrap(), None);
    }

    #[test]
    fn delegated_names_cannot_shadow_top_level_files() {
        assert!(MetadataStore::file_name("Root").is_err());
        assert!(MetadataStore::file_name("TIMESTAMP").is_err());
        assert_eq!(MetadataStore::file_name("root").unwrap(), "root.json");
        assert_eq!(MetadataStore::file_name("a?b").unwrap(), "a%3Fb.json");
    }
}
