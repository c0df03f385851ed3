//! Support of the peer interop tests: repositories written by python-tuf
//! (`tests/interop/python/peer_*.py`) and by the `tough` crate's editor are read from
//! disk, served over the testkit loopback HTTP server or as `file://` URLs, and updated
//! from with tufkit-client (see `tests/python_repo.rs` and `tests/tough_repo.rs`).
//!
//! The Python interpreter is `$TUFKIT_PYTHON`, else `.venv/bin/python` at the repository
//! root (made by `scripts/python-env.sh`). Without it the python-tuf tests fail with a
//! message saying how to set it up; they never skip.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::path::Path;

pub use tufkit_testkit::{Server, SharedFiles};

pub use tufkit_testkit::python::{python, repo_root, run_python_script};

/// Every regular file under `dir`, as '/'-separated paths relative to `dir`, sorted.
/// A missing directory has no files.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("path under the root");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Every entry (files and directories) under `dir`, relative and sorted: for checking
/// that a failed download left nothing, not even an empty directory.
pub fn entries_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.expect("directory entry").path();
            let rel = path.strip_prefix(root).expect("path under the root");
            out.push(rel.to_string_lossy().replace('\\', "/"));
            if path.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Replaces the contents of `files` with every file under `root/metadata` and
/// `root/targets`, keyed `metadata/...` and `targets/...` as the server serves them.
pub fn load_repository(files: &SharedFiles, root: &Path) {
    let mut map = files.write().unwrap_or_else(|e| e.into_inner());
    map.clear();
    for sub in ["metadata", "targets"] {
        for rel in files_under(&root.join(sub)) {
            let bytes = std::fs::read(root.join(sub).join(&rel))
                .unwrap_or_else(|e| panic!("cannot read {sub}/{rel}: {e}"));
            map.insert(format!("{sub}/{rel}"), bytes);
        }
    }
}

/// Serves the repository directory `root` (its `metadata/` and `targets/`) over loopback
/// HTTP. Call [`load_repository`] with the returned files after changing the directory.
pub fn serve_repository(root: &Path) -> (Server, SharedFiles) {
    let files = SharedFiles::default();
    load_repository(&files, root);
    (Server::start(files.clone()), files)
}

/// The `file://` URL of a directory, ending with `/`.
pub fn file_url(dir: &Path) -> String {
    let abs = dir.canonicalize().expect("canonical directory path");
    let mut url = String::from("file://");
    for byte in abs.to_string_lossy().bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                url.push(byte as char)
            }
            other => url.push_str(&format!("%{other:02X}")),
        }
    }
    if !url.ends_with('/') {
        url.push('/');
    }
    url
}

/// The path of a target relative to the targets base URL in a consistent-snapshot
/// repository (spec 5.7.2): `dirs/HASH.basename`.
pub fn consistent_target_path(target: &str, hash: &str) -> String {
    match target.rsplit_once('/') {
        Some((dirs, base)) => format!("{dirs}/{hash}.{base}"),
        None => format!("{hash}.{target}"),
    }
}

/// Reads and parses a JSON file.
pub fn read_json(path: &Path) -> serde_json::Value {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consistent_target_paths_prefix_the_basename() {
        assert_eq!(consistent_target_path("a/b/c.txt", "ff"), "a/b/ff.c.txt");
        assert_eq!(consistent_target_path("c.txt", "ff"), "ff.c.txt");
    }

    #[test]
    fn file_urls_escape_what_a_url_path_cannot_hold() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a b%");
        std::fs::create_dir_all(&sub).unwrap();
        let url = file_url(&sub);
        assert!(url.starts_with("file:///"), "{url}");
        assert!(url.ends_with("/a%20b%25/"), "{url}");
    }
}
