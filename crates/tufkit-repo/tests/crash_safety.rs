//! A publish interrupted at every write step leaves a repository that verifies, in its
//! old or its new state, and the next publish completes it.

mod common;

use common::*;
use tufkit_repo::edit::{add_targets, AddTarget};
use tufkit_repo::keys::{generate, write_private_key, KeyType};
use tufkit_repo::publish::{publish, PublishOptions};
use tufkit_repo::rootops::publish_root;
use tufkit_repo::Workspace;

/// Runs `action` with a storage that crashes after `allowed` writes, for every `allowed`
/// until the action succeeds; after each crash the tree must verify in the old state,
/// and a retry with working storage must complete and verify.
fn crash_at_every_step(
    setup: impl Fn(&std::path::Path) -> Workspace,
    action: impl Fn(&Workspace) -> bool,
) {
    crash_at_every_step_retry_at(setup, action, t0())
}

/// [`crash_at_every_step`] with the retry at `retry_at`.
fn crash_at_every_step_retry_at(
    setup: impl Fn(&std::path::Path) -> Workspace,
    action: impl Fn(&Workspace) -> bool,
    retry_at: chrono::DateTime<chrono::Utc>,
) {
    let mut allowed = 0;
    loop {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = setup(dir.path());
        let old_ts = timestamp_version(&ws);
        let (storage, _writes) = CrashingStorage::new(&ws, allowed);
        ws.set_storage(Box::new(storage));
        let completed = action(&ws);
        // Back to the real directory: what would a client see now?
        let ws = open(ws.dir(), retry_at);
        assert_verifies(&ws, retry_at);
        if completed {
            assert!(timestamp_version(&ws) > old_ts);
            break;
        }
        // Either nothing or the new state became visible; a retry finishes the job.
        assert!(action(&ws), "retry after a crash at write {allowed} failed");
        assert_verifies(&ws, retry_at);
        allowed += 1;
        assert!(allowed < 100, "the action never completed");
    }
}

fn staged_repo(dir: &std::path::Path) -> Workspace {
    let ws = new_repo(dir, t0());
    delegate_to_alice(&ws, false);
    let items: Vec<AddTarget> = ["alice/one.bin", "two.bin"]
        .iter()
        .map(|p| AddTarget {
            file: file(dir, &p.replace('/', "_"), p.as_bytes()),
            target_path: Some(p.to_string()),
        })
        .collect();
    add_targets(&ws, &items, None, None).unwrap();
    ws
}

#[test]
fn publish_interrupted_at_each_step_leaves_a_verifiable_repository() {
    crash_at_every_step(staged_repo, |ws| {
        publish(ws, &PublishOptions::publish()).is_ok()
    });
}

#[test]
fn a_publish_interrupted_at_each_step_is_resumed_an_hour_later() {
    // The retry signs with a later expiry, so its bytes differ from the files the
    // interrupted run left behind: those are resumed, not refused.
    crash_at_every_step_retry_at(
        staged_repo,
        |ws| match publish(ws, &PublishOptions::publish()) {
            Ok(_) => true,
            Err(e) => {
                eprintln!("publish: {e}");
                false
            }
        },
        t0() + hour(),
    );
}

#[test]
fn root_rotation_interrupted_at_each_step_leaves_a_verifiable_repository() {
    // Revocation rotates the snapshot and timestamp keys and re-keys targets through a new
    // root: the riskiest publish there is.
    let setup = |dir: &std::path::Path| {
        let ws = new_repo(dir, t0());
        let published = ws.published().unwrap();
        let targets_key = published.root.signed.roles["targets"].keyids[0].clone();
        let (new_key, pem) = generate(KeyType::Ed25519).unwrap();
        write_private_key(&ws.dir().join("keys/targets-new.pem"), &pem).unwrap();
        tufkit_repo::revoke::revoke_key(
            &ws,
            &targets_key,
            Some((new_key.key_id().clone(), new_key.public_key().clone())),
        )
        .unwrap();
        ws
    };
    crash_at_every_step(setup, |ws| match publish_root(ws, true) {
        Ok(_) => true,
        Err(e) => {
            eprintln!("publish_root: {e}");
            false
        }
    });
}
