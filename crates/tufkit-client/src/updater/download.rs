//! Verified target downloads and the local target cache (spec 5.7).
//!
//! A target is stored at `DEST/<target path>` (its `/`-separated segments as nested
//! directories). Bytes stream through a [`Verifier`] into a hidden temporary file in the
//! destination directory, which is renamed into place only once the length and every
//! listed hash matched; on any failure the temporary file is removed and nothing new is
//! left behind.

use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tufkit_core::crypto::hash::Verifier;

use super::{TargetInfo, Updater};
use crate::error::{Error, Result};
use crate::store::sync_dir;
use crate::transport::TransportError;
use crate::urls::{prefix_hash, target_remote_path};

/// Checks that a target path can be stored under a directory without leaving it, and
/// returns its segments.
pub fn validate_target_path(path: &str) -> Result<Vec<&str>> {
    let unsafe_path = |reason| Error::UnsafeTargetPath {
        path: path.to_string(),
        reason,
    };
    if path.is_empty() {
        return Err(unsafe_path("the path is empty"));
    }
    if path.starts_with('/') {
        return Err(unsafe_path("absolute paths are not allowed"));
    }
    if path.contains('\\') {
        return Err(unsafe_path("backslashes are not allowed"));
    }
    if path.contains('\0') {
        return Err(unsafe_path("NUL bytes are not allowed"));
    }
    let segments: Vec<&str> = path.split('/').collect();
    for seg in &segments {
        match *seg {
            "" => {
                return Err(unsafe_path(
                    "empty path segments ('//' or a trailing '/') are not allowed",
                ))
            }
            "." | ".." => return Err(unsafe_path("'.' and '..' segments are not allowed")),
            _ => {}
        }
        if cfg!(windows) && seg.contains(':') {
            return Err(unsafe_path("':' is not allowed in a path segment"));
        }
    }
    Ok(segments)
}

/// The local file a target is stored in under `dest_dir`.
fn local_target_path(info: &TargetInfo, dest_dir: &Path) -> Result<PathBuf> {
    let mut path = dest_dir.to_path_buf();
    for seg in validate_target_path(&info.path)? {
        path.push(seg);
    }
    Ok(path)
}

fn target_io(
    info: &TargetInfo,
    action: &'static str,
    file: &Path,
) -> impl Fn(std::io::Error) -> Error {
    let path = info.path.clone();
    let file = file.to_path_buf();
    move |source| Error::TargetIo {
        path: path.clone(),
        action,
        file: file.clone(),
        source,
    }
}

fn verification(info: &TargetInfo, url: Option<&str>) -> impl Fn(tufkit_core::Error) -> Error {
    let path = info.path.clone();
    let url = url.map(str::to_string);
    move |source| Error::TargetVerification {
        path: path.clone(),
        url: url.clone(),
        source: Box::new(source),
    }
}

/// Creates the missing ancestors of `dir` and returns those it created, outermost first.
fn create_dirs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.as_os_str().is_empty() || d.exists() {
            break;
        }
        missing.push(d.to_path_buf());
        cur = d.parent();
    }
    missing.reverse();
    std::fs::create_dir_all(dir)?;
    Ok(missing)
}

/// Removes directories created for a failed download, innermost first, if still empty.
fn remove_created_dirs(created: &[PathBuf]) {
    for d in created.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
}

impl Updater {
    /// The local copy of a target under `dest_dir` if it exists and matches the listed
    /// length and every listed hash; `None` when it must be downloaded.
    pub async fn cached_target(
        &self,
        info: &TargetInfo,
        dest_dir: &Path,
    ) -> Result<Option<PathBuf>> {
        let local = local_target_path(info, dest_dir)?;
        let io = target_io(info, "read", &local);
        let mut file = match tokio::fs::File::open(&local).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let meta = file.metadata().await.map_err(&io)?;
        if !meta.is_file() || meta.len() != info.file.length {
            return Ok(None);
        }
        let mut verifier = Verifier::new(&info.path, info.file.length, &info.file.hashes)
            .map_err(verification(info, None))?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = file.read(&mut buf).await.map_err(&io)?;
            if n == 0 {
                break;
            }
            if verifier.update(&buf[..n]).is_err() {
                return Ok(None);
            }
        }
        Ok(verifier.finish().is_ok().then_some(local))
    }

    /// The URL a target is downloaded from (spec 5.7.2).
    pub fn target_url(&self, info: &TargetInfo) -> Result<String> {
        let base = self
            .targets_base
            .as_deref()
            .ok_or_else(|| Error::MissingTargetsUrl {
                path: info.path.clone(),
            })?;
        let trusted = self.trusted.as_ref().ok_or(Error::NotRefreshed)?;
        let consistent = trusted.root().consistent();
        let prefix = if consistent && self.config.prefix_targets_with_hash {
            prefix_hash(&info.file.hashes)
        } else {
            None
        };
        Ok(format!("{base}{}", target_remote_path(&info.path, prefix)))
    }

    /// Downloads a target into `dest_dir`, verifying its length and every listed hash
    /// while streaming (spec 5.7.3), and returns the stored file's path.
    ///
    /// Unsafe target paths and unverifiable hash algorithms are refused before any
    /// request. The file appears only after it verified.
    pub async fn download_target(&self, info: &TargetInfo, dest_dir: &Path) -> Result<PathBuf> {
        let local = local_target_path(info, dest_dir)?;
        let url = self.target_url(info)?;
        // Fails on unknown hash algorithms before anything is requested.
        let mut verifier = Verifier::new(&info.path, info.file.length, &info.file.hashes)
            .map_err(verification(info, Some(&url)))?;
        let parent = local.parent().unwrap_or(dest_dir).to_path_buf();
        let created = create_dirs(&parent).map_err(target_io(info, "create directory", &parent))?;
        let result = self
            .stream_to_file(info, &url, &local, &parent, &mut verifier)
            .await;
        let result = result.and_then(|tmp| {
            verifier_finish(verifier, info, &url)?;
            tmp.persist(&local)
                .map_err(|e| target_io(info, "store", &local)(e.error))?;
            sync_dir(&parent).map_err(target_io(info, "sync", &parent))?;
            Ok(local)
        });
        if result.is_err() {
            remove_created_dirs(&created);
        }
        result
    }

    /// Streams `url` into a temporary file next to `local`; the file is deleted when the
    /// returned path (or an error) is dropped.
    async fn stream_to_file(
        &self,
        info: &TargetInfo,
        url: &str,
        local: &Path,
        parent: &Path,
        verifier: &mut Verifier,
    ) -> Result<tempfile::TempPath> {
        let tmp = tempfile::Builder::new()
            .prefix(".tufkit-")
            .suffix(".tmp")
            .tempfile_in(parent)
            .map_err(target_io(info, "create a temporary file in", parent))?;
        let (file, tmp_path) = tmp.into_parts();
        let io = target_io(info, "write", local);
        let mut file = tokio::fs::File::from_std(file);
        // 5.7.3: never read more than the listed length.
        // A response longer than the listed length breaks the length rule (5.7.3).
        let fail = |e: TransportError| match e {
            TransportError::TooLarge { .. } => {
                verification(info, Some(url))(tufkit_core::Error::LengthMismatch {
                    what: info.path.clone(),
                    expected: info.file.length,
                    found: info.file.length.saturating_add(1),
                })
            }
            e => Error::transport(&format!("target {:?}", info.path), e),
        };
        let mut stream = self
            .transport
            .get(url, info.file.length)
            .await
            .map_err(fail)?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(fail)?;
            verifier
                .update(&chunk)
                .map_err(verification(info, Some(url)))?;
            file.write_all(&chunk).await.map_err(&io)?;
        }
        file.flush().await.map_err(&io)?;
        file.sync_all().await.map_err(&io)?;
        drop(file);
        Ok(tmp_path)
    }

    /// A verified local copy of the target if there is one, else a fresh download.
    pub async fn get_target(&self, info: &TargetInfo, dest_dir: &Path) -> Result<PathBuf> {
        match self.cached_target(info, dest_dir).await? {
            Some(path) => Ok(path),
            None => self.download_target(info, dest_dir).await,
        }
    }
}

fn verifier_finish(verifier: Verifier, info: &TargetInfo, url: &str) -> Result<()> {
    verifier.finish().map_err(verification(info, Some(url)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_target_paths_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "a/../b",
            "..",
            "a//b",
            "a/",
            "./a",
            "a\\b",
            "a\0b",
        ] {
            assert!(
                matches!(
                    validate_target_path(bad),
                    Err(Error::UnsafeTargetPath { .. })
                ),
                "{bad:?} accepted"
            );
        }
        assert_eq!(
            validate_target_path("a/b c/d.txt").unwrap(),
            ["a", "b c", "d.txt"]
        );
        assert_eq!(validate_target_path("..a/b..").unwrap(), ["..a", "b.."]);
    }
}
