//! The offline root ceremony and key revocation, driven through the library.

mod common;

use common::*;
use tufkit_core::crypto::verify_threshold;
use tufkit_core::metadata::Parsed;
use tufkit_repo::init::{init, InitOptions};
use tufkit_repo::keys::{generate, write_private_key, KeyType};
use tufkit_repo::rootops::{add_key, publish_root, remove_key, set_threshold, sign_file};

/// A repository with 3 root keys (threshold 2) whose root keys are moved offline.
fn offline_root_repo(dir: &std::path::Path) -> (tufkit_repo::Workspace, Vec<std::path::PathBuf>) {
    let path = dir.join("repo");
    let report = init(
        &path,
        &InitOptions {
            key_type: KeyType::Ed25519,
            root_keys: 3,
            root_threshold: 2,
        },
        Some(t0()),
    )
    .unwrap();
    let offline = dir.join("offline");
    std::fs::create_dir_all(&offline).unwrap();
    let mut root_keys = Vec::new();
    for (role, file, _) in report.key_files {
        if role == "root" {
            let dest = offline.join(file.file_name().unwrap());
            std::fs::rename(&file, &dest).unwrap();
            root_keys.push(dest);
        }
    }
    (open(&path, t0()), root_keys)
}

#[test]
fn rotating_the_targets_key_needs_old_and_new_root_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let (ws, root_keys) = offline_root_repo(dir.path());
    let old_targets = ws.published().unwrap().root.signed.roles["targets"].keyids[0].clone();
    let (new_targets, pem) = generate(KeyType::Ecdsa).unwrap();
    write_private_key(&ws.dir().join("keys/targets-2.pem"), &pem).unwrap();
    add_key(
        &ws,
        "targets",
        new_targets.key_id().clone(),
        new_targets.public_key().clone(),
    )
    .unwrap();
    remove_key(&ws, "targets", &old_targets).unwrap();

    // No root key is online: publishing is refused and says who must sign.
    let err = publish_root(&ws, true).unwrap_err().to_string();
    assert!(err.contains("0/2"), "{err}");
    let staged = ws.drafts().root_path();
    sign_file(&staged, &root_keys[0]).unwrap();
    // Signing twice with the same key still counts once.
    sign_file(&staged, &root_keys[0]).unwrap();
    let err = publish_root(&ws, true).unwrap_err().to_string();
    assert!(err.contains("1/2"), "{err}");
    sign_file(&staged, &root_keys[2]).unwrap();
    let report = publish_root(&ws, true).unwrap();
    assert!(report.published.contains(&("root".into(), 2)));
    assert!(report.published.contains(&("targets".into(), 2)));
    assert_verifies(&ws, t0());

    // The new targets metadata is accepted under the new targets key alone.
    let p = ws.published().unwrap();
    let bytes = std::fs::read(ws.repository_dir().join("metadata/2.targets.json")).unwrap();
    let parsed = Parsed::<tufkit_core::metadata::Targets>::from_slice(&bytes, "targets").unwrap();
    let keys = &p.root.signed.roles["targets"];
    assert_eq!(keys.keyids, [new_targets.key_id().clone()]);
    verify_threshold(
        "targets",
        parsed.canonical_signed(),
        &parsed.metadata.signatures,
        &p.root.signed.keys,
        keys.as_ref(),
        "",
    )
    .unwrap();
    assert!(ws.drafts().root().unwrap().is_none(), "staged root cleared");
}

#[test]
fn a_staged_root_lacking_the_old_threshold_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (ws, root_keys) = offline_root_repo(dir.path());
    // Replace two of the three root keys with new ones; only new keys sign.
    let mut new_files = Vec::new();
    for i in 0..2 {
        let (k, pem) = generate(KeyType::Ed25519).unwrap();
        let f = dir.path().join(format!("newroot{i}.pem"));
        write_private_key(&f, &pem).unwrap();
        add_key(&ws, "root", k.key_id().clone(), k.public_key().clone()).unwrap();
        new_files.push(f);
    }
    let p = ws.published().unwrap();
    for old in &p.root.signed.roles["root"].keyids[..2] {
        remove_key(&ws, "root", old).unwrap();
    }
    set_threshold(&ws, "root", 2).unwrap();
    let staged = ws.drafts().root_path();
    for f in &new_files {
        sign_file(&staged, f).unwrap();
    }
    let err = publish_root(&ws, false).unwrap_err().to_string();
    assert!(
        err.contains("0/2 signature(s) from the current root keys"),
        "{err}"
    );
    // Old key holders sign too (one old key is also in the new root).
    sign_file(&staged, &root_keys[0]).unwrap();
    sign_file(&staged, &root_keys[1]).unwrap();
    publish_root(&ws, false).unwrap();
    assert_verifies(&ws, t0());
    assert_eq!(ws.published().unwrap().root.signed.version, 2);
}

#[test]
fn revoking_a_delegated_key_rotates_online_keys_and_drops_the_key() {
    use tufkit_repo::publish::{publish, PublishOptions};
    let dir = tempfile::tempdir().unwrap();
    let ws = new_repo(dir.path(), t0());
    let (alice2, pem2) = generate(KeyType::Ed25519).unwrap();
    write_private_key(&ws.dir().join("keys/alice2.pem"), &pem2).unwrap();
    let alice = delegate_to_alice(&ws, false);
    publish(&ws, &PublishOptions::publish()).unwrap();
    let before = ws.published().unwrap().root.signed;

    let report = tufkit_repo::revoke::revoke_key(
        &ws,
        alice.key_id(),
        Some((alice2.key_id().clone(), alice2.public_key().clone())),
    )
    .unwrap();
    assert_eq!(
        report.delegated_roles,
        [("alice".to_string(), "targets".to_string())]
    );
    assert_eq!(report.new_keys.len(), 2);
    assert!(
        report.quarantined.is_some(),
        "compromised key moved out of keys/"
    );
    assert!(report.root.complete(), "root keys are online in this test");
    publish_root(&ws, true).unwrap();
    assert_verifies(&ws, t0());

    let p = ws.published().unwrap();
    for role in ["snapshot", "timestamp"] {
        assert_ne!(
            p.root.signed.roles[role].keyids, before.roles[role].keyids,
            "{role} key rotated (spec 5.3.11)"
        );
    }
    let d = p.roles["targets"].signed.delegations.as_ref().unwrap();
    assert!(!d.keys.contains_key(alice.key_id()));
    let alice_role = &d.roles.as_ref().unwrap()[0];
    assert_eq!(alice_role.keyids, [alice2.key_id().clone()]);
    // Alice's role was re-signed by the replacement key only.
    let signers: Vec<_> = p.roles["alice"]
        .signatures
        .iter()
        .map(|s| s.keyid.clone())
        .collect();
    assert_eq!(signers, [alice2.key_id().clone()]);
}

#[test]
fn revoking_the_timestamp_key_needs_no_replacement() {
    let dir = tempfile::tempdir().unwrap();
    let ws = new_repo(dir.path(), t0());
    let before = ws.published().unwrap().root.signed;
    let ts_key = before.roles["timestamp"].keyids[0].clone();
    let report = tufkit_repo::revoke::revoke_key(&ws, &ts_key, None).unwrap();
    assert_eq!(report.top_level_roles, ["timestamp"]);
    publish_root(&ws, true).unwrap();
    assert_verifies(&ws, t0());
    let after = ws.published().unwrap().root.signed;
    assert!(!after.keys.contains_key(&ts_key));
    assert_eq!(after.roles["timestamp"].keyids.len(), 1);
}
