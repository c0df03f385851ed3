//! Where published files go: the [`Storage`] trait and its directory implementation.
//!
//! Paths are relative to the published tree and `/`-separated (`metadata/3.root.json`,
//! `targets/app/<hash>.app.tgz`). Two kinds of writes exist: versioned or content-addressed
//! files are written once and never change ([`Storage::put_new`]); the few unversioned
//! files (`timestamp.json`, and `root.json` / `ROLE.json` copies) are replaced atomically
//! ([`Storage::put_replace`]). Either way a reader sees the old file or the new one,
//! never a partial one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{invalid, Error, Result};
use crate::links::LinkedSource;

/// What one file of a batch write holds.
#[derive(Debug, Clone, Copy)]
pub enum Content<'a> {
    /// These bytes.
    Bytes(&'a [u8]),
    /// The content of a local file that never changes while it exists (a staged target
    /// file): a storage may hard-link it instead of copying it.
    File(&'a Path),
    /// Like `File`, and the caller gives the file up: a storage may move it into place
    /// (it is then gone from its old path) instead of copying or linking it.
    Move(&'a Path),
    /// The content of a file outside the workspace, recorded by `add` when it was hashed:
    /// a storage may hard-link it, and must refuse it if it is no longer the recorded file
    /// unchanged ([`LinkedSource::check`]).
    Linked(&'a LinkedSource),
}

/// Reads a linked source, refusing it unless it is the recorded file, unchanged before
/// and after the read.
pub(crate) fn read_linked(rec: &LinkedSource) -> Result<Vec<u8>> {
    let mut file = fs::File::open(&rec.path).map_err(|_| rec.changed())?;
    let same = |f: &fs::File| f.metadata().is_ok_and(|m| rec.matches(&m));
    if !same(&file) {
        return Err(rec.changed());
    }
    let mut data = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut data).map_err(|e| Error::io(&rec.path, e))?;
    if !same(&file) || data.len() as u64 != rec.len {
        return Err(rec.changed());
    }
    Ok(data)
}

/// One file of [`Storage::put_batch`].
#[derive(Debug, Clone)]
pub struct BatchFile<'a> {
    /// Path inside the published tree.
    pub path: String,
    /// Its content.
    pub content: Content<'a>,
    /// Replace an existing file ([`Storage::put_replace`]) instead of writing it once
    /// ([`Storage::put_new`]).
    pub replace: bool,
}

/// A destination for the published repository.
///
/// Implementations are shared between threads (files are read and written in parallel).
pub trait Storage: Send + Sync {
    /// Reads a file; `None` if it does not exist.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>>;
    /// True if a file exists at `path`.
    fn exists(&self, path: &str) -> Result<bool>;
    /// Names of the files directly inside directory `dir` (empty if it does not exist).
    fn list(&self, dir: &str) -> Result<Vec<String>>;
    /// Writes a file that must never change: a no-op if it already holds exactly `data`,
    /// [`Error::WouldOverwrite`] if it holds anything else.
    fn put_new(&self, path: &str, data: &[u8]) -> Result<()>;
    /// Atomically creates or replaces a file.
    fn put_replace(&self, path: &str, data: &[u8]) -> Result<()>;
    /// Like [`Storage::put_new`] with the content of a local file (target files can be
    /// large, so they are streamed).
    fn put_new_from_file(&self, path: &str, source: &Path) -> Result<()>;

    /// Writes a set of files none of which anything published refers to yet (new
    /// versions, target files): each with the semantics of `put_new` or `put_replace`,
    /// all of them durable when this returns. The order among them is unspecified. The
    /// default writes them one by one; [`DirStorage`] writes them all, then makes them
    /// durable together, which is what makes publishing thousands of files fast.
    fn put_batch(&self, files: &[BatchFile<'_>]) -> Result<()> {
        for f in files {
            match (f.content, f.replace) {
                (Content::Bytes(b), false) => self.put_new(&f.path, b)?,
                (Content::Bytes(b), true) => self.put_replace(&f.path, b)?,
                (Content::File(p) | Content::Move(p), false) => {
                    self.put_new_from_file(&f.path, p)?
                }
                (Content::File(p) | Content::Move(p), true) => {
                    let data = fs::read(p).map_err(|e| Error::io(p, e))?;
                    self.put_replace(&f.path, &data)?
                }
                (Content::Linked(rec), false) => self.put_new(&f.path, &read_linked(rec)?)?,
                (Content::Linked(rec), true) => self.put_replace(&f.path, &read_linked(rec)?)?,
            }
        }
        Ok(())
    }
}

/// A published tree in a local directory.
#[derive(Debug, Clone)]
pub struct DirStorage {
    root: PathBuf,
    tmp: PathBuf,
}

impl DirStorage {
    /// Publishes into `root`, staging files in `tmp` (must be on the same filesystem so
    /// that the final rename is atomic).
    pub fn new(root: impl Into<PathBuf>, tmp: impl Into<PathBuf>) -> DirStorage {
        DirStorage {
            root: root.into(),
            tmp: tmp.into(),
        }
    }

    /// The directory of the published tree.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The local path of `path`, refusing anything that could leave the tree.
    pub fn local_path(&self, path: &str) -> Result<PathBuf> {
        if path.is_empty()
            || path.starts_with('/')
            || path.contains('\\')
            || path.contains('\0')
            || path
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return Err(invalid(format!(
                "refusing to write {path:?}: not a plain relative path inside the repository"
            )));
        }
        Ok(self.root.join(path))
    }

    /// A fresh temporary file name in the staging directory.
    pub(crate) fn temp_path(&self) -> Result<PathBuf> {
        fs::create_dir_all(&self.tmp).map_err(|e| Error::io(&self.tmp, e))?;
        Ok(self.tmp.join(format!(
            "{}.{}.tmp",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )))
    }

    /// The staging directory.
    pub(crate) fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    pub(crate) fn stage_then_rename(
        &self,
        dest: &Path,
        fill: impl FnOnce(&mut fs::File) -> std::io::Result<()>,
    ) -> Result<()> {
        fs::create_dir_all(&self.tmp).map_err(|e| Error::io(&self.tmp, e))?;
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let name = format!(
            "{}.{}.tmp",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let tmp = self.tmp.join(name);
        let result = (|| {
            let mut file = fs::File::create(&tmp)?;
            fill(&mut file)?;
            file.sync_all()?;
            drop(file);
            fs::rename(&tmp, dest)?;
            // Make the rename itself durable.
            if let Some(parent) = dest.parent() {
                if let Ok(dir) = fs::File::open(parent) {
                    let _ = dir.sync_all();
                }
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(|e| Error::io(dest, e))
    }
}

static TMP_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(crate) fn same_content(a: &Path, b: &Path) -> std::io::Result<bool> {
    let (ma, mb) = (fs::metadata(a)?, fs::metadata(b)?);
    if ma.len() != mb.len() {
        return Ok(false);
    }
    Ok(fs::read(a)? == fs::read(b)?)
}

impl Storage for DirStorage {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let local = self.local_path(path)?;
        match fs::read(&local) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(local, e)),
        }
    }

    fn exists(&self, path: &str) -> Result<bool> {
        Ok(self.local_path(path)?.is_file())
    }

    fn list(&self, dir: &str) -> Result<Vec<String>> {
        let local = self.local_path(dir)?;
        let entries = match fs::read_dir(&local) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(local, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&local, e))?;
            if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
                if let Some(name) = entry.file_name().to_str() {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    fn put_new(&self, path: &str, data: &[u8]) -> Result<()> {
        if let Some(existing) = self.read(path)? {
            return if existing == data {
                Ok(())
            } else {
                Err(Error::WouldOverwrite { path: path.into() })
            };
        }
        let dest = self.local_path(path)?;
        self.stage_then_rename(&dest, |f| f.write_all(data))
    }

    fn put_replace(&self, path: &str, data: &[u8]) -> Result<()> {
        let dest = self.local_path(path)?;
        self.stage_then_rename(&dest, |f| f.write_all(data))
    }

    fn put_new_from_file(&self, path: &str, source: &Path) -> Result<()> {
        let dest = self.local_path(path)?;
        if dest.exists() {
            return match same_content(&dest, source) {
                Ok(true) => Ok(()),
                Ok(false) => Err(Error::WouldOverwrite { path: path.into() }),
                Err(e) => Err(Error::io(dest, e)),
            };
        }
        let mut input = fs::File::open(source).map_err(|e| Error::io(source, e))?;
        self.stage_then_rename(&dest, |f| std::io::copy(&mut input, f).map(|_| ()))
    }

    fn put_batch(&self, files: &[BatchFile<'_>]) -> Result<()> {
        crate::batch::put_batch(self, files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_files_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let s = DirStorage::new(dir.path().join("repo"), dir.path().join("tmp"));
        s.put_new("metadata/1.root.json", b"one").unwrap();
        s.put_new("metadata/1.root.json", b"one").unwrap();
        assert!(matches!(
            s.put_new("metadata/1.root.json", b"two"),
            Err(Error::WouldOverwrite { .. })
        ));
        s.put_replace("metadata/timestamp.json", b"a").unwrap();
        s.put_replace("metadata/timestamp.json", b"b").unwrap();
        assert_eq!(s.read("metadata/timestamp.json").unwrap().unwrap(), b"b");
        assert_eq!(
            s.list("metadata").unwrap(),
            ["1.root.json", "timestamp.json"]
        );
        assert!(s.read("metadata/nope").unwrap().is_none());
        assert!(s.put_new("../escape", b"x").is_err());
        assert!(s.put_new("a//b", b"x").is_err());
        // Nothing is left behind in the staging directory.
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }
}
