//! `target_files = "link"`: `add` keeps no copy, `publish` hard-links the source files
//! into the published tree, refusing any source that changed since it was hashed.

mod common;

use std::path::Path;

use common::*;
use tufkit_repo::add::add_with;
use tufkit_repo::config::TargetFiles;
use tufkit_repo::publish::{publish, PublishOptions};
use tufkit_repo::sources::from_dir;
use tufkit_repo::Workspace;

fn sha256(data: &[u8]) -> String {
    tufkit_core::crypto::hash::sha256_hex(data)
}

fn add_linked(ws: &Workspace, folder: &Path) -> tufkit_repo::add::AddReport {
    let (items, _) = from_dir(folder, None, false, None).unwrap();
    add_with(ws, items, None, TargetFiles::Link).unwrap()
}

#[cfg(unix)]
fn inode(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).unwrap().ino()
}

#[cfg(unix)]
#[test]
fn linked_targets_are_the_source_files_and_outlive_them() {
    let dir = tempfile::tempdir().unwrap();
    let ws = new_repo(dir.path(), t0());
    let src = dir.path().join("dist");
    std::fs::create_dir_all(&src).unwrap();
    let a = file(&src, "a.tgz", b"content of a");
    file(&src, "b.tgz", b"content of b");
    let report = add_linked(&ws, &src);
    assert_eq!((report.files_hashed, report.files_linked), (2, 2));
    // No private copy was made.
    let copies = ws.drafts().dir().join("files");
    assert_eq!(std::fs::read_dir(&copies).map_or(0, |d| d.count()), 0);

    publish(&ws, &PublishOptions::publish()).unwrap();
    let sha = sha256(b"content of a");
    let published = ws.repository_dir().join(format!("targets/{sha}.a.tgz"));
    // The very file (a hard link), and with sha512 listed too, under both names.
    assert_eq!(inode(&published), inode(&a));
    let files = published_files(&ws);
    let with_a: Vec<&String> = files
        .iter()
        .filter(|(_, v)| v.as_slice() == b"content of a")
        .map(|(k, _)| k)
        .collect();
    assert_eq!(with_a.len(), 2, "{with_a:?}");
    assert_verifies(&ws, t0());
    // The records are gone with the drafts; removing the source keeps the target.
    assert!(!ws.drafts().dir().join("linked.jsonl").exists());
    std::fs::remove_file(&a).unwrap();
    assert_eq!(std::fs::read(&published).unwrap(), b"content of a");
    assert_verifies(&ws, t0());
}

#[test]
fn a_source_changed_after_add_is_refused_and_nothing_is_published() {
    let dir = tempfile::tempdir().unwrap();
    let ws = new_repo(dir.path(), t0());
    let visible = |ws: &Workspace| {
        // What clients see (the timestamp), and whether any target file was placed.
        let targets = ws.repository_dir().join("targets");
        let placed = std::fs::read_dir(targets).map_or(0, |d| d.count());
        (timestamp_version(ws), placed)
    };
    let before = visible(&ws);
    let src = dir.path().join("dist");
    std::fs::create_dir_all(&src).unwrap();
    let a = file(&src, "a.tgz", b"content of a");
    add_linked(&ws, &src);
    // Rewritten in place (a build writing over its output): not what was hashed.
    std::fs::write(&a, b"CONTENT OF A, rebuilt").unwrap();
    let err = publish(&ws, &PublishOptions::publish()).unwrap_err();
    assert!(err.to_string().contains("changed"), "{err}");
    assert_eq!(visible(&ws), before);
    // Removed: refused the same way.
    std::fs::remove_file(&a).unwrap();
    let err = publish(&ws, &PublishOptions::publish()).unwrap_err();
    assert!(err.to_string().contains("a.tgz"), "{err}");
    assert_eq!(visible(&ws), before);
    // Added again (this time as a copy), it publishes.
    file(&src, "a.tgz", b"content of a, v2");
    let (items, _) = from_dir(&src, None, false, None).unwrap();
    add_with(&ws, items, None, TargetFiles::Copy).unwrap();
    publish(&ws, &PublishOptions::publish()).unwrap();
    assert_verifies(&ws, t0());
}

/// A source on another filesystem than the published tree cannot be hard-linked: it is
/// copied when added, like in copy mode.
#[cfg(target_os = "linux")]
#[test]
fn a_source_on_another_filesystem_is_copied() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let Ok(other) = tempfile::tempdir_in("/dev/shm") else {
        return; // no second filesystem here
    };
    let dev = |p: &Path| std::fs::metadata(p).unwrap().dev();
    if dev(other.path()) == dev(dir.path()) {
        return;
    }
    let ws = new_repo(dir.path(), t0());
    let a = file(other.path(), "a.tgz", b"content of a");
    let report = add_linked(&ws, other.path());
    assert_eq!((report.files_hashed, report.files_linked), (1, 0));
    std::fs::remove_file(&a).unwrap();
    publish(&ws, &PublishOptions::publish()).unwrap();
    let sha = sha256(b"content of a");
    let published = ws.repository_dir().join(format!("targets/{sha}.a.tgz"));
    assert_eq!(std::fs::read(published).unwrap(), b"content of a");
    assert_verifies(&ws, t0());
}

/// Without consistent snapshots the target path names one file, replaced on each
/// publish: a linked source goes there through a temporary link.
#[cfg(unix)]
#[test]
fn linked_targets_replace_plain_names_without_consistent_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repo");
    std::fs::create_dir_all(&path).unwrap();
    let text = tufkit_repo::template::TUFKIT_TOML
        .replace("consistent_snapshot = true", "consistent_snapshot = false");
    std::fs::write(path.join("tufkit.toml"), text).unwrap();
    let config = tufkit_repo::Config::load(&path.join("tufkit.toml")).unwrap();
    let mut ws = Workspace::with_config(path, config);
    ws.set_now(t0());
    tufkit_repo::init::init_workspace(&ws, &Default::default()).unwrap();
    let src = dir.path().join("dist");
    std::fs::create_dir_all(&src).unwrap();
    let a = file(&src, "a.tgz", b"one");
    add_linked(&ws, &src);
    publish(&ws, &PublishOptions::publish()).unwrap();
    let plain = ws.repository_dir().join("targets/a.tgz");
    assert_eq!(std::fs::read(&plain).unwrap(), b"one");
    // A new release: a new file under the same name (not an in-place rewrite).
    std::fs::remove_file(&a).unwrap();
    file(&src, "a.tgz", b"two");
    add_linked(&ws, &src);
    publish(&ws, &PublishOptions::publish()).unwrap();
    assert_eq!(std::fs::read(&plain).unwrap(), b"two");
    assert_eq!(inode(&plain), inode(&a));
    assert!(
        std::fs::read_dir(ws.dir().join(".tufkit-tmp")).map_or(0, |d| d.count()) == 0,
        "no temporary files left"
    );
}
