//! Bulk adds (`--from-dir`, `--manifest`), routing to hashed bins, and publishing in
//! proportion to what changed.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use chrono::Duration;
use common::*;
use tufkit_core::metadata::SuccinctRoles;
use tufkit_repo::add::add;
use tufkit_repo::edit::delegate_succinct_bins;
use tufkit_repo::keys::{generate, write_private_key, KeyType};
use tufkit_repo::publish::{publish, PublishOptions};
use tufkit_repo::sources::{from_dir, from_manifest};
use tufkit_repo::verify::verify_workspace;
use tufkit_repo::Workspace;

fn sha256(data: &[u8]) -> String {
    tufkit_core::crypto::hash::sha256_hex(data)
}

/// A repository whose top-level targets delegates to 2^bits succinct bins, published.
fn bins_repo(dir: &Path, bits: u32) -> Workspace {
    let ws = new_repo(dir, t0());
    let (key, pem) = generate(KeyType::Ed25519).unwrap();
    write_private_key(&ws.dir().join("keys/bins.pem"), &pem).unwrap();
    let bins = delegate_succinct_bins(
        &ws,
        "targets",
        bits,
        "bins",
        &[(key.key_id().clone(), key.public_key().clone())],
        1,
    )
    .unwrap();
    assert_eq!(bins.len(), 1 << bits);
    publish(&ws, &PublishOptions::publish()).unwrap();
    ws
}

fn succinct(ws: &Workspace) -> SuccinctRoles {
    let p = ws.published().unwrap();
    p.roles["targets"]
        .signed
        .delegations
        .as_ref()
        .unwrap()
        .succinct_roles
        .clone()
        .unwrap()
}

fn write(dir: &Path, rel: &str, content: &[u8]) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

#[test]
fn from_dir_stages_every_file_under_nested_folders_with_slash_paths() {
    let dir = tempfile::tempdir().unwrap();
    let ws = new_repo(dir.path(), t0());
    let src = dir.path().join("dist");
    write(&src, "top.txt", b"top");
    write(&src, "a/b/deep.txt", b"deep");
    write(&src, "a/side.txt", b"side");
    write(&src, ".hidden/secret.txt", b"hidden dir");
    write(&src, ".env", b"hidden file");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(src.join("top.txt"), src.join("link.txt")).unwrap();
        std::os::unix::fs::symlink(src.join("a"), src.join("linked-dir")).unwrap();
    }
    let (items, skipped) = from_dir(&src, Some("pkgs"), false, None).unwrap();
    let paths: Vec<&str> = items.iter().map(|t| t.path.as_str()).collect();
    assert_eq!(
        paths,
        ["pkgs/a/b/deep.txt", "pkgs/a/side.txt", "pkgs/top.txt"]
    );
    assert_eq!(skipped.hidden, 2);
    #[cfg(unix)]
    assert_eq!(skipped.symlinks, 2, "symbolic links are not followed");
    let (with_hidden, _) = from_dir(&src, None, true, None).unwrap();
    let paths: BTreeSet<&str> = with_hidden.iter().map(|t| t.path.as_str()).collect();
    assert!(paths.contains(".env") && paths.contains(".hidden/secret.txt"));
    assert!(paths.contains("a/b/deep.txt") && !paths.contains("link.txt"));

    let report = add(&ws, items, None).unwrap();
    assert_eq!(report.files_hashed, 3);
    assert_eq!(report.roles["targets"], 3);
    let published = publish(&ws, &PublishOptions::publish()).unwrap();
    // sha256 and sha512 names of each of the three files.
    assert_eq!(published.target_files, 6);
    let p = ws.published().unwrap();
    let deep = &p.roles["targets"].signed.targets["pkgs/a/b/deep.txt"];
    assert_eq!(deep.length, 4);
    assert_eq!(deep.hashes["sha256"], sha256(b"deep"));
    let file = ws
        .repository_dir()
        .join(format!("targets/pkgs/a/b/{}.deep.txt", sha256(b"deep")));
    assert_eq!(std::fs::read(file).unwrap(), b"deep");
    // Staged content moved into the published tree: nothing left behind.
    let staged = std::fs::read_dir(ws.dir().join("staged/files"))
        .unwrap()
        .count();
    assert_eq!(staged, 0);
    assert_verifies(&ws, t0());
}

#[test]
fn manifest_targets_are_listed_without_files_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let ws = new_repo(dir.path(), t0());
    let manifest = dir.path().join("targets.jsonl");
    let h = |s: &str| sha256(s.as_bytes());
    std::fs::write(
        &manifest,
        format!(
            "{{\"path\":\"pkgs/a-1.0.tgz\",\"length\":100,\"hashes\":{{\"sha256\":\"{}\"}}}}\n\n\
             {{\"path\":\"pkgs/b-2.0.tgz\",\"length\":200,\"hashes\":{{\"sha256\":\"{}\",\"blake2b-256\":\"{}\"}},\"custom\":{{\"yanked\":false}}}}\n",
            h("a"),
            h("b"),
            h("b2")
        ),
    )
    .unwrap();
    let items = from_manifest(&manifest).unwrap();
    assert_eq!(items.len(), 2);
    add(&ws, items, None).unwrap();
    let report = publish(&ws, &PublishOptions::publish()).unwrap();
    assert_eq!(report.target_files, 0, "hosted elsewhere: no file copied");
    let p = ws.published().unwrap();
    let b = &p.roles["targets"].signed.targets["pkgs/b-2.0.tgz"];
    assert_eq!(b.length, 200);
    assert_eq!(b.hashes["blake2b-256"], h("b2"));
    assert_eq!(b.custom.as_ref().unwrap()["yanked"], false);
    let v = verify_workspace(&ws, &|_| {}).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!((v.hosted_elsewhere, v.targets_checked), (2, 0));
}

#[test]
fn manifest_errors_name_every_bad_line_and_stage_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ws = new_repo(dir.path(), t0());
    let good = format!(
        "{{\"path\":\"x/ok.tgz\",\"length\":1,\"hashes\":{{\"sha256\":\"{}\"}}}}",
        sha256(b"ok")
    );
    let manifest = dir.path().join("bad.jsonl");
    std::fs::write(
        &manifest,
        format!(
            "{good}\n{{\"path\":\"x/no-length.tgz\",\"hashes\":{{}}}}\n\n{{\"path\":\"x/y\",\"length\":1,\"hashes\":{{\"sha256\":\"beef\"}}}}\n{good}\n"
        ),
    )
    .unwrap();
    let e = from_manifest(&manifest).unwrap_err().to_string();
    assert!(e.contains("2 bad line(s)"), "{e}");
    assert!(e.contains("line 2: missing field `length`"), "{e}");
    assert!(e.contains("line 4: x/y: hashes.sha256 has 2 bytes"), "{e}");
    assert!(!e.contains("line 1:") && !e.contains("line 5:"), "{e}");
    // Line 5 repeats line 1's path: refused when staging, naming both lines.
    std::fs::write(&manifest, format!("{good}\n{good}\n")).unwrap();
    let items = from_manifest(&manifest).unwrap();
    let e = add(&ws, items, None).unwrap_err().to_string();
    assert!(
        e.contains("\"x/ok.tgz\" is given twice: by manifest line 1 and by manifest line 2"),
        "{e}"
    );
    assert!(
        ws.drafts().role_names().unwrap().is_empty(),
        "nothing staged"
    );
}

#[test]
fn targets_are_routed_to_the_bins_their_paths_map_to() {
    let dir = tempfile::tempdir().unwrap();
    let ws = bins_repo(dir.path(), 4);
    let bins = succinct(&ws);
    let src = dir.path().join("src");
    for i in 0..40 {
        write(
            &src,
            &format!("pkg-{}/pkg-{i}.tgz", i % 3),
            format!("{i}").as_bytes(),
        );
    }
    let (items, _) = from_dir(&src, None, false, None).unwrap();
    let report = add(&ws, items, None).unwrap();
    for t in &report.staged {
        assert_eq!(t.role, bins.bin_for(&t.path), "{}", t.path);
    }
    publish(&ws, &PublishOptions::publish()).unwrap();
    let p = ws.published().unwrap();
    let mut listed = 0;
    for i in 0..bins.bin_count() {
        let name = bins.bin_name(i);
        for path in p.roles[&name].signed.targets.keys() {
            assert_eq!(bins.bin_for(path), name);
            listed += 1;
        }
    }
    assert_eq!(listed, 40);
    // The top-level role lists none of them.
    assert!(p.roles["targets"].signed.targets.is_empty());
    assert_verifies(&ws, t0());
}

#[test]
fn adding_one_target_rewrites_only_its_bin_the_snapshot_and_the_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let ws = bins_repo(dir.path(), 6);
    let src = dir.path().join("src");
    for i in 0..150 {
        write(
            &src,
            &format!("p/{i}.tgz"),
            format!("content {i}").as_bytes(),
        );
    }
    let (items, _) = from_dir(&src, None, false, None).unwrap();
    add(&ws, items, None).unwrap();
    publish(&ws, &PublishOptions::publish()).unwrap();
    assert_verifies(&ws, t0());
    let before = published_files(&ws);
    let head = ws.head().unwrap();
    let bin = succinct(&ws).bin_for("new/one.tgz");

    // Add and publish through a storage that records what is read.
    let mut ws = open(ws.dir(), t0());
    let (storage, reads) = CountingStorage::new(&ws);
    ws.set_storage(Box::new(storage));
    let one = file(dir.path(), "one.tgz", b"the new one");
    tufkit_repo::edit::add_targets(
        &ws,
        &[tufkit_repo::edit::AddTarget {
            file: one,
            target_path: Some("new/one.tgz".into()),
        }],
        None,
        None,
    )
    .unwrap();
    let report = publish(&ws, &PublishOptions::publish()).unwrap();
    let names: Vec<&str> = report.published.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(names, [bin.as_str(), "snapshot", "timestamp"]);
    let bins_read: BTreeSet<String> = reads
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.contains(".bins-"))
        .cloned()
        .collect();
    let bin_version = head.role_version(&bin);
    assert_eq!(
        bins_read,
        BTreeSet::from([format!("metadata/{bin_version}.{bin}.json")]),
        "only the one bin the path maps to is read"
    );
    assert!(
        !reads.lock().unwrap().iter().any(|p| p == "metadata/"),
        "the metadata directory is not listed"
    );

    let after = published_files(&ws);
    let snapshot_version = head.snapshot.as_ref().unwrap().signed.version + 1;
    let added: BTreeSet<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    let changed: BTreeSet<&String> = before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(*v))
        .map(|(k, _)| k)
        .collect();
    let sha = sha256(b"the new one");
    let sha512 = tufkit_core::crypto::hash::HashAlgorithm::Sha512.hex_digest(b"the new one");
    let expected_added: BTreeSet<String> = [
        format!("metadata/{}.{bin}.json", bin_version + 1),
        format!("metadata/{snapshot_version}.snapshot.json"),
        format!("targets/new/{sha}.one.tgz"),
        format!("targets/new/{sha512}.one.tgz"),
    ]
    .into();
    assert_eq!(added, expected_added.iter().collect());
    assert_eq!(
        changed,
        BTreeSet::from([&"metadata/timestamp.json".to_string()]),
        "every other published file is byte-identical"
    );
    assert_verifies(&ws, t0());
}

#[test]
fn expiring_bins_are_re_signed_and_the_expiry_cache_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let ws = bins_repo(dir.path(), 4);
    let cache = ws
        .dir()
        .join(tufkit_repo::index::CACHE_DIR)
        .join("roles.tsv");
    let lines = std::fs::read_to_string(&cache).unwrap().lines().count();
    assert_eq!(lines, 17, "targets and 16 bins");
    // A lost cache is rebuilt from the published roles.
    std::fs::remove_file(&cache).unwrap();
    let later = t0() + Duration::days(80);
    let ws = open(ws.dir(), later);
    let report = publish(&ws, &PublishOptions::publish()).unwrap();
    let resigned = report
        .published
        .iter()
        .filter(|(r, v)| r.starts_with("bins-") && *v == 2)
        .count();
    assert_eq!(resigned, 16);
    assert!(
        report.warnings.iter().any(|w| w.contains("17 roles")),
        "{:?}",
        report.warnings
    );
    assert!(cache.exists());
    assert_verifies(&ws, later);
    // With a warm cache nothing is due any more.
    assert!(publish(&ws, &PublishOptions::publish())
        .unwrap()
        .nothing_to_do());
}
