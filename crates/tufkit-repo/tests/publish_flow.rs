//! Publishing, refreshing and the safety rules, driven through the library.

mod common;

use chrono::Duration;
use common::*;
use tufkit_repo::edit::{add_targets, delegate, AddTarget, Delegation, DelegationScope};
use tufkit_repo::keys::{generate, write_private_key, KeyType};
use tufkit_repo::publish::{publish, PublishOptions};
use tufkit_repo::refresh::{refresh, RefreshOutcome};
use tufkit_repo::Error;

fn add(ws: &tufkit_repo::Workspace, dir: &std::path::Path, name: &str, path: &str) {
    let f = file(dir, name, name.as_bytes());
    add_targets(
        ws,
        &[AddTarget {
            file: f,
            target_path: Some(path.into()),
        }],
        None,
        None,
    )
    .unwrap();
}

#[test]
fn init_publishes_version_one_of_every_role_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let ws = new_repo(dir.path(), t0());
    let p = ws.published().unwrap();
    assert_eq!(p.root.signed.version, 1);
    assert_eq!(p.timestamp.as_ref().unwrap().signed.version, 1);
    assert_eq!(p.snapshot.as_ref().unwrap().signed.version, 1);
    assert_eq!(p.role_version("targets"), 1);
    assert_eq!(p.root.signed.expires, t0() + Duration::days(365));
    assert_eq!(
        p.timestamp.unwrap().signed.expires,
        t0() + Duration::days(1)
    );
    assert!(p.root.signed.consistent());
    assert_verifies(&ws, t0());
    // The template is laid down.
    let gitignore = std::fs::read_to_string(ws.dir().join(".gitignore")).unwrap();
    assert!(gitignore.lines().any(|l| l.trim() == "keys/"));
}

#[test]
fn publish_bumps_only_changed_roles() {
    let dir = tempfile::tempdir().unwrap();
    let ws = new_repo(dir.path(), t0());
    delegate_to_alice(&ws, true);
    publish(&ws, &PublishOptions::publish()).unwrap();
    let before = ws.published().unwrap();
    assert_eq!(before.role_version("targets"), 2);
    assert_eq!(before.role_version("alice"), 1);

    add(&ws, dir.path(), "a.txt", "alice/a.txt");
    let report = publish(&ws, &PublishOptions::publish()).unwrap();
    let names: Vec<&str> = report.published.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(names, ["alice", "snapshot", "timestamp"]);
    let after = ws.published().unwrap();
    assert_eq!(after.role_version("targets"), 2, "targets did not change");
    assert_eq!(after.role_version("alice"), 2);
    assert!(after.roles["alice"]
        .signed
        .targets
        .contains_key("alice/a.txt"));
    assert_verifies(&ws, t0());

    // Nothing staged: nothing published.
    let report = publish(&ws, &PublishOptions::publish()).unwrap();
    assert!(report.nothing_to_do());
}

#[test]
fn timestamp_refresh_honours_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let ws = new_repo(dir.path(), t0());
    match refresh(&ws, "timestamp", Some(hour())).unwrap() {
        RefreshOutcome::NotNeeded { role, .. } => assert_eq!(role, "timestamp"),
        other => panic!("expected no refresh, got {other:?}"),
    }
    assert_eq!(timestamp_version(&ws), 1);
    // Without the flag it always re-signs, and only the timestamp.
    refresh(&ws, "timestamp", None).unwrap();
    assert_eq!(timestamp_version(&ws), 2);
    assert_eq!(ws.published().unwrap().snapshot.unwrap().signed.version, 1);
    // 23h30m later the timestamp expires within 1h.
    let later = t0() + Duration::minutes(23 * 60 + 30);
    let ws = open(ws.dir(), later);
    match refresh(&ws, "timestamp", Some(hour())).unwrap() {
        RefreshOutcome::Published(r) => assert_eq!(r.published, [("timestamp".into(), 3)]),
        other => panic!("expected a refresh, got {other:?}"),
    }
    assert_eq!(
        ws.published().unwrap().timestamp.unwrap().signed.expires,
        later + Duration::days(1)
    );
    // snapshot: snapshot then timestamp.
    refresh(&ws, "snapshot", None).unwrap();
    let p = ws.published().unwrap();
    assert_eq!(p.snapshot.unwrap().signed.version, 2);
    assert_eq!(p.timestamp.unwrap().signed.version, 4);
    assert_verifies(&ws, later);
}

#[test]
fn an_expired_timestamp_is_refused_until_refreshed() {
    let dir = tempfile::tempdir().unwrap();
    let ws = new_repo(dir.path(), t0());
    let late = t0() + Duration::days(2);
    let report = verify_at(&ws, late);
    assert!(!report.ok());
    assert!(
        report.problems[0].contains("expired"),
        "{:?}",
        report.problems
    );
    let ws = open(ws.dir(), late);
    refresh(&ws, "timestamp", None).unwrap();
    // The snapshot (7d) is still valid; a new timestamp restores service.
    assert_verifies(&ws, late);
}

#[test]
fn publish_refreshes_roles_that_are_expiring_soon() {
    let dir = tempfile::tempdir().unwrap();
    let ws = new_repo(dir.path(), t0());
    // 80 of targets' 90 days have passed: inside the 25% refresh window.
    let later = t0() + Duration::days(80);
    let ws = open(ws.dir(), later);
    let report = publish(&ws, &PublishOptions::publish()).unwrap();
    assert!(report.published.contains(&("targets".into(), 2)));
    assert!(report
        .warnings
        .iter()
        .any(|w| w.starts_with("targets: expires in")));
    assert_verifies(&ws, later);
}

#[test]
fn published_versioned_files_are_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let ws = new_repo(dir.path(), t0());
    // Something else already wrote the next targets version.
    std::fs::write(ws.repository_dir().join("metadata/2.targets.json"), b"{}").unwrap();
    add(&ws, dir.path(), "a.txt", "a.txt");
    let err = publish(&ws, &PublishOptions::publish()).unwrap_err();
    assert!(matches!(err, Error::WouldOverwrite { .. }), "{err}");
    assert_eq!(timestamp_version(&ws), 1, "nothing became visible");
    assert_verifies(&ws, t0());
}

#[test]
fn one_writer_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let ws = new_repo(dir.path(), t0());
    let _held = ws.lock().unwrap();
    let err = publish(&ws, &PublishOptions::publish()).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
}

#[test]
fn a_role_without_reachable_keys_stays_a_draft_until_signed() {
    let dir = tempfile::tempdir().unwrap();
    let ws = new_repo(dir.path(), t0());
    let (bob, pem) = generate(KeyType::Ecdsa).unwrap();
    // Bob's key is NOT in keys/.
    let bob_file = dir.path().join("bob.pem");
    write_private_key(&bob_file, &pem).unwrap();
    delegate(
        &ws,
        &Delegation {
            from: "targets".into(),
            to: "bob".into(),
            keys: vec![(bob.key_id().clone(), bob.public_key().clone())],
            threshold: 1,
            scope: DelegationScope::Paths(vec!["bob/*".into()]),
            terminating: false,
        },
    )
    .unwrap();
    add(&ws, dir.path(), "b.txt", "bob/b.txt");
    let report = publish(&ws, &PublishOptions::publish()).unwrap();
    assert_eq!(report.pending.len(), 1);
    assert_eq!(report.pending[0].role, "bob");
    assert_eq!(report.pending[0].missing, [bob.key_id().clone()]);
    assert!(report.published.is_empty());
    assert_eq!(
        timestamp_version(&ws),
        1,
        "thresholds are checked before writing"
    );
    // Bob signs his draft on his own machine; publishing then goes through.
    tufkit_repo::rootops::sign_file(&report.pending[0].draft, &bob_file).unwrap();
    let report = publish(&ws, &PublishOptions::publish()).unwrap();
    assert!(report.pending.is_empty(), "{:?}", report.pending);
    assert_eq!(ws.published().unwrap().role_version("bob"), 1);
    assert_verifies(&ws, t0());
}

#[test]
fn without_consistent_snapshots_files_are_replaced_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repo");
    std::fs::create_dir_all(&path).unwrap();
    let text = tufkit_repo::template::TUFKIT_TOML
        .replace("consistent_snapshot = true", "consistent_snapshot = false");
    std::fs::write(path.join("tufkit.toml"), text).unwrap();
    let config = tufkit_repo::Config::load(&path.join("tufkit.toml")).unwrap();
    let mut ws = tufkit_repo::Workspace::with_config(path.clone(), config);
    ws.set_now(t0());
    tufkit_repo::init::init_workspace(&ws, &Default::default()).unwrap();
    assert!(!ws.published().unwrap().root.signed.consistent());
    for content in ["one", "two"] {
        let f = file(dir.path(), "a.txt", content.as_bytes());
        add_targets(
            &ws,
            &[AddTarget {
                file: f,
                target_path: Some("dir/a.txt".into()),
            }],
            None,
            None,
        )
        .unwrap();
        publish(&ws, &PublishOptions::publish()).unwrap();
        let served = std::fs::read(ws.repository_dir().join("targets/dir/a.txt")).unwrap();
        assert_eq!(served, content.as_bytes());
        assert!(ws.repository_dir().join("metadata/targets.json").exists());
        assert_verifies(&ws, t0());
    }
}

#[test]
fn a_pending_publish_keeps_the_signatures_of_the_roles_that_met_their_threshold() {
    // Signed roles are kept as bytes only; when another role lacks signatures, those
    // bytes go back into the drafts, signatures and all.
    let dir = tempfile::tempdir().unwrap();
    let ws = new_repo(dir.path(), t0());
    delegate_to_alice(&ws, false);
    let (bob, _pem) = generate(KeyType::Ed25519).unwrap();
    delegate(
        &ws,
        &Delegation {
            from: "targets".into(),
            to: "bob".into(),
            keys: vec![(bob.key_id().clone(), bob.public_key().clone())],
            threshold: 1,
            scope: DelegationScope::Paths(vec!["bob/*".into()]),
            terminating: false,
        },
    )
    .unwrap();
    add(&ws, dir.path(), "a.txt", "alice/a.txt");
    add(&ws, dir.path(), "b.txt", "bob/b.txt");
    let report = publish(&ws, &PublishOptions::publish()).unwrap();
    assert_eq!(report.pending.len(), 1);
    assert_eq!(report.pending[0].role, "bob");
    for role in ["targets", "alice"] {
        let draft = ws.drafts().role(role).unwrap().unwrap();
        assert_eq!(draft.signatures.len(), 1, "{role}: signature not kept");
        assert_eq!(
            draft.signed.version,
            ws.published().unwrap().role_version(role) + 1,
            "{role}"
        );
    }
    let alice = ws.drafts().role("alice").unwrap().unwrap();
    assert!(alice.signed.targets.contains_key("alice/a.txt"));
    assert!(ws
        .drafts()
        .role("bob")
        .unwrap()
        .unwrap()
        .signatures
        .is_empty());
}
