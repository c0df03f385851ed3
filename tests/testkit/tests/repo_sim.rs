//! The simulator itself: file layout, versioning and signing rules that every other test
//! relies on.

use tufkit_core::crypto::hash::{sha256_hex, HashAlgorithm};
use tufkit_core::crypto::KeyKind;
use tufkit_core::metadata::{Parsed, Root, Snapshot, Targets, Timestamp};
use tufkit_testkit::drive::refresh;
use tufkit_testkit::keys::parse_envelope;
use tufkit_testkit::{default_reference_time, RepoSim};

fn t0() -> chrono::DateTime<chrono::Utc> {
    default_reference_time()
}

fn files(sim: &RepoSim) -> Vec<String> {
    sim.files().read().unwrap().keys().cloned().collect()
}

#[test]
fn new_repository_publishes_version_1_of_everything_consistently() {
    let sim = RepoSim::new(t0());
    assert_eq!(
        files(&sim),
        [
            "metadata/1.root.json",
            "metadata/1.snapshot.json",
            "metadata/1.targets.json",
            "metadata/root.json",
            "metadata/timestamp.json",
        ]
    );
    let root = Parsed::<Root>::from_slice(&sim.trusted_root_bytes(1), "root").unwrap();
    assert_eq!(root.signed().consistent_snapshot, Some(true));
    assert_eq!(root.signed().expires, sim.default_expires());
    for role in ["root", "timestamp", "snapshot", "targets"] {
        assert_eq!(root.signed().roles[role].keyids.len(), 1, "{role}");
        assert_eq!(sim.last_version(role), Some(1));
    }
    let set = refresh(&sim, t0()).unwrap();
    assert_eq!(set.targets().unwrap().version(), 1);
}

#[test]
fn publish_bumps_changed_roles_and_always_snapshot_and_timestamp() {
    let mut sim = RepoSim::new(t0());
    sim.add_delegation("targets", "team/a", &["a/*"], false);
    sim.add_target("team/a", "a/file.txt", "hello");
    sim.publish();
    assert_eq!(sim.last_version("root"), Some(1));
    assert_eq!(sim.last_version("targets"), Some(2));
    assert_eq!(sim.last_version("team/a"), Some(1));
    assert_eq!(sim.last_version("snapshot"), Some(2));
    // Role names are percent-encoded in file names; snapshot meta uses the raw name.
    assert!(sim.file("metadata/1.team%2Fa.json").is_some());
    let snap = Parsed::<Snapshot>::from_slice(&sim.bytes("snapshot"), "snapshot").unwrap();
    assert_eq!(snap.signed().role_meta("team/a").unwrap().version, 1);
    assert_eq!(snap.signed().role_meta("targets").unwrap().version, 2);
    // Targets are served as {dir}/{sha256}.{basename}.
    let url = format!("targets/a/{}.file.txt", sha256_hex(b"hello"));
    assert_eq!(sim.file(&url).unwrap(), b"hello");
    assert_eq!(sim.target_urls("team/a", "a/file.txt"), [url]);

    // An unchanged role keeps its version; an explicitly higher version is kept.
    sim.publish();
    assert_eq!(sim.last_version("targets"), Some(2));
    assert_eq!(sim.last_version("snapshot"), Some(3));
    sim.timestamp_mut().version = 10;
    sim.publish();
    assert_eq!(sim.last_version("timestamp"), Some(10));
    sim.timestamp_mut().version = 1;
    sim.publish();
    assert_eq!(sim.last_version("timestamp"), Some(11));
}

#[test]
fn non_consistent_repositories_use_plain_names() {
    let mut sim = RepoSim::new(t0());
    sim.set_consistent_snapshot(false);
    sim.add_target("targets", "dir/f.bin", "x");
    sim.publish();
    assert!(sim.file("metadata/snapshot.json").is_some());
    assert!(sim.file("metadata/targets.json").is_some());
    assert_eq!(sim.file("targets/dir/f.bin").unwrap(), b"x");
    assert!(sim.file("metadata/2.root.json").is_some());
    refresh(&sim, t0()).unwrap();
}

#[test]
fn meta_hashes_and_target_hash_algorithms_are_configurable() {
    let mut sim = RepoSim::new(t0());
    sim.set_meta_hashes(true);
    sim.set_target_hash_algorithms(&[HashAlgorithm::Sha256, HashAlgorithm::Sha512]);
    let info = sim.add_target("targets", "f", "data");
    assert_eq!(info.hashes.len(), 2);
    sim.publish();
    assert_eq!(sim.target_urls("targets", "f").len(), 2);
    let ts = Parsed::<Timestamp>::from_slice(&sim.bytes("timestamp"), "timestamp").unwrap();
    let meta = ts.signed().snapshot_meta();
    assert_eq!(meta.length, Some(sim.bytes("snapshot").len() as u64));
    assert!(meta.hashes.is_some());
    refresh(&sim, t0()).unwrap();
}

#[test]
fn root_rotation_is_cosigned_by_the_previous_root_keys() {
    let mut sim = RepoSim::new(t0());
    let old = sim.keys("root")[0].key_id().clone();
    let new = sim.rotate_keys("root");
    sim.publish_root();
    let env = parse_envelope(&sim.bytes("root"));
    let keyids: Vec<&str> = env["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["keyid"].as_str().unwrap())
        .collect();
    assert!(keyids.contains(&old.0.as_str()));
    assert!(keyids.contains(&new.key_id().0.as_str()));
    // The next rotation no longer involves the first key.
    sim.publish_root();
    let env = parse_envelope(&sim.bytes("root"));
    assert_eq!(env["signatures"].as_array().unwrap().len(), 1);
}

#[test]
fn every_key_kind_produces_a_loadable_repository() {
    for kind in [KeyKind::Ed25519, KeyKind::EcdsaP256, KeyKind::RsaPssSha256] {
        let mut sim = RepoSim::with_key_kind(t0(), kind);
        sim.add_delegation("targets", "d", &["*"], false);
        sim.rotate_keys("timestamp");
        sim.publish();
        let ids: std::collections::BTreeSet<_> = ["root", "timestamp", "snapshot", "targets"]
            .iter()
            .map(|r| sim.keys(r)[0].key_id().clone())
            .collect();
        assert_eq!(ids.len(), 4, "{kind:?}: roles must not share keys");
        refresh(&sim, t0()).unwrap();
    }
}

#[test]
fn attacks_change_only_what_is_served() {
    let mut sim = RepoSim::new(t0());
    sim.add_target("targets", "f", "genuine");
    sim.publish();
    let genuine = sim.bytes("targets");

    sim.rollback("targets", 1);
    assert_eq!(
        sim.file("metadata/2.targets.json").unwrap(),
        sim.bytes_at("targets", 1).unwrap()
    );
    assert_eq!(sim.bytes("targets"), genuine);

    sim.serve_target("targets", "f", "evil");
    assert_eq!(
        sim.file(&sim.target_urls("targets", "f")[0]).unwrap(),
        b"evil"
    );
    assert_eq!(sim.target_content("targets", "f").unwrap(), b"genuine");

    sim.tamper_role("timestamp", |b| b[0] = b'X');
    assert_eq!(sim.file("metadata/timestamp.json").unwrap()[0], b'X');

    sim.freeze();
    sim.publish();
    assert_eq!(sim.file("metadata/timestamp.json").unwrap()[0], b'X');
    sim.unfreeze();
    sim.publish();
    assert_eq!(
        sim.file("metadata/timestamp.json").unwrap(),
        sim.bytes("timestamp")
    );

    sim.serve_endless("metadata/timestamp.json", 1 << 20);
    assert_eq!(sim.file("metadata/timestamp.json").unwrap().len(), 1 << 20);
}

#[test]
fn removing_a_delegation_drops_the_role_from_the_next_snapshot() {
    let mut sim = RepoSim::new(t0());
    sim.add_delegation("targets", "d", &["*"], false);
    sim.publish();
    sim.remove_delegation("targets", "d");
    sim.publish();
    let snap = Parsed::<Snapshot>::from_slice(&sim.bytes("snapshot"), "snapshot").unwrap();
    assert!(snap.signed().role_meta("d").is_none());
    let targets = Parsed::<Targets>::from_slice(&sim.bytes("targets"), "targets").unwrap();
    assert!(targets
        .signed()
        .delegations
        .as_ref()
        .unwrap()
        .roles
        .as_ref()
        .unwrap()
        .is_empty());
}
