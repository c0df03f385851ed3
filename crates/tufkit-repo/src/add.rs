//! Staging new targets in bulk: hash files on every core while copying them into
//! `staged/files/`, route each target to the role the delegations assign it, and save
//! the drafts of the roles that changed.
//!
//! Only the roles on the way are read: for a hashed-bin repository, `targets` and the
//! bins the new paths map to.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Map;
use tufkit_core::crypto::hash::HashAlgorithm;
use tufkit_core::metadata::TargetFile;

use crate::config::TargetFiles;
use crate::edit::{empty_targets, StagedTarget};
use crate::error::{invalid, Error, Result};
use crate::links::LinkedSource;
use crate::parallel;
use crate::roles::RoleStore;
use crate::sources::{NewTarget, Source};
use crate::workspace::Workspace;

/// What a bulk add staged.
#[derive(Debug, Clone, Default)]
pub struct AddReport {
    /// Every staged target, in the order given (for a manifest, only when there are at
    /// most [`crate::manifest::LIST_LIMIT`]).
    pub staged: Vec<StagedTarget>,
    /// How many targets were staged.
    pub targets: usize,
    /// Targets staged per role.
    pub roles: BTreeMap<String, usize>,
    /// Total length of the staged targets.
    pub bytes: u64,
    /// Files hashed (copied into `staged/files/`, or recorded to be linked).
    pub files_hashed: usize,
    /// Of those, files recorded for `publish` to hard-link instead of copied.
    pub files_linked: usize,
}

/// How often (in items) workers report counted progress.
const COUNT_EVERY: u64 = 64;

static STAGE_COUNTER: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// One read buffer per hashing thread, whatever the number of files.
    static BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 1 << 16]);
}

fn contexts(algs: &[String]) -> Vec<(String, ring::digest::Context)> {
    let mut contexts: Vec<(String, ring::digest::Context)> = algs
        .iter()
        .filter(|a| a.as_str() != "sha256")
        .map(|a| {
            let alg = match HashAlgorithm::from_name(a) {
                Some(HashAlgorithm::Sha384) => &ring::digest::SHA384,
                Some(HashAlgorithm::Sha512) => &ring::digest::SHA512,
                _ => &ring::digest::SHA256,
            };
            (a.clone(), ring::digest::Context::new(alg))
        })
        .collect();
    contexts.push((
        "sha256".into(),
        ring::digest::Context::new(&ring::digest::SHA256),
    ));
    contexts
}

fn finish(contexts: Vec<(String, ring::digest::Context)>) -> BTreeMap<String, String> {
    contexts
        .into_iter()
        .map(|(a, c)| (a, hex::encode(c.finish())))
        .collect()
}

/// Reads into `buf` until it is full or the file ends; returns the bytes read.
/// Reads the rest of `input` through `buf`, hashing every chunk with `contexts` and
/// handing it to `sink`; returns the number of bytes read.
fn hash_rest(
    input: &mut fs::File,
    buf: &mut [u8],
    contexts: &mut [(String, ring::digest::Context)],
    file: &Path,
    mut sink: impl FnMut(&[u8]) -> Result<()>,
) -> Result<u64> {
    let mut length = 0u64;
    loop {
        let n = fill(input, buf, file)?;
        if n == 0 {
            return Ok(length);
        }
        length += n as u64;
        for (_, c) in contexts.iter_mut() {
            c.update(&buf[..n]);
        }
        sink(&buf[..n])?;
    }
}

fn fill(input: &mut fs::File, buf: &mut [u8], file: &Path) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(file, e)),
        }
    }
    Ok(got)
}

/// Writes `data` as `files_dir/<sha256>` unless a file with exactly that content is
/// there already (one left by an interrupted add is replaced).
fn stage_small(files_dir: &Path, sha256: &str, data: &[u8]) -> Result<()> {
    let dest = files_dir.join(sha256);
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&dest)
    {
        Ok(mut f) => f.write_all(data).map_err(|e| Error::io(&dest, e)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let intact =
                fs::read(&dest).is_ok_and(|have| HashAlgorithm::Sha256.hex_digest(&have) == sha256);
            if intact {
                return Ok(());
            }
            let tmp = temp_name(files_dir);
            fs::write(&tmp, data)
                .and_then(|_| fs::rename(&tmp, &dest))
                .map_err(|e| {
                    let _ = fs::remove_file(&tmp);
                    Error::io(&dest, e)
                })
        }
        Err(e) => Err(Error::io(&dest, e)),
    }
}

fn temp_name(files_dir: &Path) -> PathBuf {
    files_dir.join(format!(
        ".{}.{}.tmp",
        std::process::id(),
        STAGE_COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Reads `file` once, hashing it with `algs` (and SHA-256, which names staged content)
/// while copying it into `files_dir/<sha256>`. What is staged is exactly what was
/// hashed, even if the file changes meanwhile. Memory use is one buffer per thread,
/// whatever the file size.
///
/// A file that fits the buffer is written straight under its name, created only if
/// absent (a partial file from an interrupted add is noticed by its hash and replaced);
/// a larger one goes through a temporary file renamed into place.
pub fn hash_and_stage(
    file: &Path,
    algs: &[String],
    files_dir: &Path,
) -> Result<(u64, BTreeMap<String, String>)> {
    let mut input = fs::File::open(file).map_err(|e| Error::io(file, e))?;
    let mut contexts = contexts(algs);
    BUFFER.with(|buf| {
        let mut buf = buf.borrow_mut();
        let first = fill(&mut input, &mut buf[..], file)?;
        for (_, c) in &mut contexts {
            c.update(&buf[..first]);
        }
        if first < buf.len() {
            let hashes = finish(contexts);
            let sha256 = hashes.get("sha256").cloned().unwrap_or_default();
            stage_small(files_dir, &sha256, &buf[..first])?;
            return Ok((first as u64, hashes));
        }
        let tmp = temp_name(files_dir);
        let result = (|| {
            let mut out = fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
            out.write_all(&buf[..first])
                .map_err(|e| Error::io(&tmp, e))?;
            let rest = hash_rest(&mut input, &mut buf[..], &mut contexts, file, |chunk| {
                out.write_all(chunk).map_err(|e| Error::io(&tmp, e))
            })?;
            let length = first as u64 + rest;
            let hashes = finish(std::mem::take(&mut contexts));
            let sha256 = hashes.get("sha256").cloned().unwrap_or_default();
            let dest = files_dir.join(&sha256);
            fs::rename(&tmp, &dest).map_err(|e| Error::io(&dest, e))?;
            Ok((length, hashes))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    })
}

/// How one file was staged: its length and hashes, and (when linked) the record of
/// the source file `publish` links into place.
type Staged = (u64, BTreeMap<String, String>, Option<LinkedSource>);

/// Hashes `file` without copying it and records which file it is, for `publish` to
/// hard-link (see [`crate::links`]). Falls back to a private copy
/// ([`hash_and_stage`]) when the file cannot be linked into the published tree (another
/// filesystem, no inodes) or when it changes while being hashed.
pub fn hash_and_link(
    file: &Path,
    algs: &[String],
    files_dir: &Path,
    repo_dev: Option<u64>,
) -> Result<Staged> {
    let copy = || hash_and_stage(file, algs, files_dir).map(|(l, h)| (l, h, None));
    let mut input = fs::File::open(file).map_err(|e| Error::io(file, e))?;
    let before = input
        .metadata()
        .ok()
        .and_then(|m| crate::links::identity(&m));
    let Some(before) = before.filter(|id| Some(id.0) == repo_dev) else {
        drop(input);
        return copy();
    };
    let mut contexts = contexts(algs);
    let length = BUFFER.with(|buf| {
        hash_rest(
            &mut input,
            &mut buf.borrow_mut()[..],
            &mut contexts,
            file,
            |_| Ok(()),
        )
    })?;
    let after = input
        .metadata()
        .ok()
        .and_then(|m| crate::links::identity(&m));
    drop(input);
    if after != Some(before) || length != before.2 {
        // Written to while being read: take a private copy of what is there now.
        return copy();
    }
    let hashes = finish(contexts);
    let sha256 = hashes.get("sha256").cloned().unwrap_or_default();
    let record = LinkedSource::new(sha256, file, before)?;
    Ok((length, hashes, Some(record)))
}

/// Refuses a target path given twice in one add (naming both places).
fn check_unique(items: &[NewTarget]) -> Result<()> {
    let mut seen: std::collections::HashMap<&str, usize> =
        std::collections::HashMap::with_capacity(items.len());
    for (i, t) in items.iter().enumerate() {
        if let Some(first) = seen.insert(t.path.as_str(), i) {
            return Err(invalid(format!(
                "target path {:?} is given twice: by {} and by {}; each target path can list one file",
                t.path,
                items[first].origin(),
                t.origin()
            )));
        }
    }
    Ok(())
}

/// Stages `items` into the roles the delegations assign them to (or all into `role`),
/// under the workspace lock, keeping file content as the policy says
/// (`repository.target_files`). Nothing is staged if any item fails.
pub fn add(ws: &Workspace, items: Vec<NewTarget>, role: Option<&str>) -> Result<AddReport> {
    add_with(ws, items, role, ws.config().repository.target_files)
}

/// [`add`], keeping file content as `mode` says: a private copy, or a record of the
/// source file for `publish` to hard-link (see [`crate::links`]).
pub fn add_with(
    ws: &Workspace,
    items: Vec<NewTarget>,
    role: Option<&str>,
    mode: TargetFiles,
) -> Result<AddReport> {
    let _lock = ws.lock()?;
    if items.is_empty() {
        return Err(invalid("no targets to add"));
    }
    check_unique(&items)?;
    let head = ws.head()?;
    let mut store = RoleStore::new(ws, &head, true)?;
    let root = &head.root.signed;

    // Where each target goes (the roles on the way are read in parallel), checked
    // before any byte is hashed.
    let roles: Vec<String> = match role {
        Some(r) => {
            if r != "targets" {
                store.authority(root, r)?;
            }
            parallel::try_map(items.iter().collect(), parallel::cpu_threads(), |t| {
                store.check_may_list(r, &t.path).map(|_| r.to_string())
            })?
        }
        None => parallel::try_map(items.iter().collect(), parallel::cpu_threads(), |t| {
            store.route(&t.path)
        })?,
    };
    // Hash and stage the files, on every core.
    let algs = ws.config().repository.hash_algorithms.clone();
    let files_dir = ws.drafts().dir().join("files");
    fs::create_dir_all(&files_dir).map_err(|e| Error::io(&files_dir, e))?;
    let files: Vec<(usize, &PathBuf)> = items
        .iter()
        .enumerate()
        .filter_map(|(i, t)| match &t.source {
            Source::File(p) => Some((i, p)),
            Source::Hosted { .. } => None,
        })
        .collect();
    let total = files.len() as u64;
    let done = AtomicU64::new(0);
    if total > 0 {
        ws.progress_count("hashing", 0, total);
    }
    let repo_dev = match mode {
        TargetFiles::Link => crate::links::device(&ws.repository_dir()),
        TargetFiles::Copy => None,
    };
    let hashed = parallel::try_map(files, parallel::cpu_threads() * 2, |(i, p)| {
        let r = match mode {
            TargetFiles::Link => hash_and_link(p, &algs, &files_dir, repo_dev),
            TargetFiles::Copy => hash_and_stage(p, &algs, &files_dir).map(|(l, h)| (l, h, None)),
        }
        .map(|h| (i, h));
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if n % COUNT_EVERY == 0 || n == total {
            ws.progress_count("hashing", n, total);
        }
        r
    })?;
    let files_hashed = hashed.len();
    let mut by_item: Vec<Option<(u64, BTreeMap<String, String>)>> = vec![None; items.len()];
    let mut linked = Vec::new();
    for (i, (length, hashes, record)) in hashed {
        by_item[i] = Some((length, hashes));
        linked.extend(record);
    }

    // Into the working copies of their roles, one role at a time.
    let mut report = AddReport {
        files_hashed,
        files_linked: linked.len(),
        ..AddReport::default()
    };
    let mut hosted: Vec<String> = Vec::new();
    let mut entries: Vec<Option<(String, TargetFile)>> = Vec::with_capacity(roles.len());
    let mut staged: Vec<StagedTarget> = Vec::with_capacity(roles.len());
    for ((item, role_name), h) in items.into_iter().zip(roles).zip(by_item) {
        let (length, hashes, sha256) = match (item.source, h) {
            (Source::File(_), Some((length, all))) => {
                let sha256 = all.get("sha256").cloned().unwrap_or_default();
                let listed = all.into_iter().filter(|(a, _)| algs.contains(a)).collect();
                (length, listed, sha256)
            }
            (Source::Hosted { length, hashes }, _) => {
                let sha256 = hashes.get("sha256").cloned().unwrap_or_default();
                hosted.push(item.path.clone());
                (length, hashes, sha256)
            }
            (Source::File(p), None) => {
                return Err(invalid(format!("{}: was not hashed", p.display())))
            }
        };
        report.bytes += length;
        entries.push(Some((
            item.path.clone(),
            TargetFile {
                length,
                hashes,
                custom: item.custom,
                unknown: Map::new(),
            },
        )));
        staged.push(StagedTarget {
            path: item.path,
            role: role_name,
            length,
            sha256,
        });
    }
    let mut by_role: std::collections::HashMap<&str, Vec<usize>> = Default::default();
    for (i, t) in staged.iter().enumerate() {
        by_role.entry(t.role.as_str()).or_default().push(i);
    }
    for (role, indices) in by_role {
        let m = store.edit(role, || empty_targets(ws))?;
        for &i in &indices {
            if let Some((path, file)) = entries[i].take() {
                m.signed.targets.insert(path, file);
            }
        }
        report.roles.insert(role.to_string(), indices.len());
    }
    report.targets = staged.len();
    report.staged = staged;
    if !hosted.is_empty() {
        let refs: Vec<&str> = hosted.iter().map(String::as_str).collect();
        crate::hosted::record(ws, &refs)?;
    }
    // The records first: a draft naming content with neither a copy nor a record is
    // refused by `publish`, never published.
    crate::links::record(ws.drafts().dir(), linked)?;
    let edited = store.edited().len();
    if edited > 64 {
        ws.progress(&format!("saving {edited} draft roles"));
    }
    store.save_edits()?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_content_is_what_was_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("big.bin");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(&src, &data).unwrap();
        let files = dir.path().join("files");
        fs::create_dir_all(&files).unwrap();
        let algs = vec!["sha512".to_string()];
        let (len, hashes) = hash_and_stage(&src, &algs, &files).unwrap();
        assert_eq!(len, data.len() as u64);
        assert_eq!(hashes["sha256"], HashAlgorithm::Sha256.hex_digest(&data));
        assert_eq!(hashes["sha512"], HashAlgorithm::Sha512.hex_digest(&data));
        assert_eq!(fs::read(files.join(&hashes["sha256"])).unwrap(), data);
        // Only the staged file remains: no temporary files left behind.
        assert_eq!(fs::read_dir(&files).unwrap().count(), 1);
        assert!(hash_and_stage(&dir.path().join("missing"), &algs, &files).is_err());

        // A small file goes straight under its name; a damaged copy left there by an
        // interrupted add is noticed and replaced.
        let small = dir.path().join("small.txt");
        fs::write(&small, b"small").unwrap();
        let sha = HashAlgorithm::Sha256.hex_digest(b"small");
        fs::write(files.join(&sha), b"sma").unwrap();
        let (len, hashes) = hash_and_stage(&small, &algs, &files).unwrap();
        assert_eq!((len, hashes["sha256"].as_str()), (5, sha.as_str()));
        assert_eq!(fs::read(files.join(&sha)).unwrap(), b"small");
        assert_eq!(fs::read_dir(&files).unwrap().count(), 2);
    }
}
