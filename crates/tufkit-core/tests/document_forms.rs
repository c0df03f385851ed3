//! Metadata as files are really written: canonical bytes, pretty JSON, and JSON far from
//! canonical (keys reversed, escapes, `-0`). The client verifies signatures over the
//! canonical form of what it received whatever the layout, and builds the entries of
//! large maps (targets, snapshot meta) only when it reads them (ADR 0007).

use serde_json::json;
use tufkit_core::{Error, TrustedSet};
use tufkit_testkit::drive::{refresh, search};
use tufkit_testkit::{default_reference_time, JsonLayout, RepoSim};

const PATHS: [&str; 5] = [
    "plain/file.tar.gz",
    "caf\u{e9}/e\u{301}.txt",
    "quote\"and\\backslash.txt",
    "emoji/\u{1F600}.bin",
    "slash/a/b.txt",
];

/// A repository with awkward target paths in `targets` and in a delegated role, an unknown
/// field holding zero, and metadata written in `layout`.
fn repository(layout: JsonLayout) -> RepoSim {
    let mut sim = RepoSim::new(default_reference_time());
    sim.set_layout(layout);
    sim.add_delegation("targets", "role-a", &["delegated/*"], false);
    for (i, path) in PATHS.iter().enumerate() {
        sim.add_target("targets", path, vec![b'x'; i + 1]);
    }
    sim.add_target("role-a", "delegated/\u{e9}.txt", "in role-a");
    sim.targets_mut()
        .unknown
        .insert("x-zero".into(), json!({"count": 0, "list": [0, -1]}));
    sim.publish();
    sim
}

#[test]
fn every_layout_verifies_and_finds_every_target() {
    for layout in [
        JsonLayout::Canonical,
        JsonLayout::Pretty,
        JsonLayout::Reordered,
    ] {
        let sim = repository(layout);
        let mut set = refresh(&sim, default_reference_time())
            .unwrap_or_else(|e| panic!("{layout:?}: refresh failed: {e}"));
        for (i, path) in PATHS.iter().enumerate() {
            let run = search(&mut set, &sim, path, 32);
            let (role, file) = run
                .found
                .unwrap_or_else(|| panic!("{layout:?}: {path:?} not found"));
            assert_eq!((role.as_str(), file.length), ("targets", i as u64 + 1));
        }
        let run = search(&mut set, &sim, "delegated/\u{e9}.txt", 32);
        assert_eq!(run.found_in(), Some("role-a"), "{layout:?}");
        let targets = set.targets().unwrap();
        assert_eq!(targets.len(), PATHS.len());
        assert_eq!(targets.unknown()["x-zero"]["count"], json!(0));
        // The canonical form is the same whatever the file looked like.
        assert_eq!(
            targets.canonical_signed(),
            tufkit_core::canonical::to_canonical(&tufkit_testkit::keys::to_json(sim.targets()))
                .unwrap(),
            "{layout:?}"
        );
    }
}

#[test]
fn a_changed_byte_in_an_entry_nobody_reads_still_breaks_the_signature() {
    // The entries are not built, but the signature covers every byte of them.
    for layout in [
        JsonLayout::Canonical,
        JsonLayout::Pretty,
        JsonLayout::Reordered,
    ] {
        let mut sim = repository(layout);
        sim.tamper_role("targets", |bytes| {
            let text = String::from_utf8(bytes.clone()).unwrap();
            let needle = "file.tar.gz";
            let at = text.find(needle).unwrap();
            bytes[at] = b'P';
        });
        let err = refresh(&sim, default_reference_time()).unwrap_err();
        assert!(
            matches!(err, Error::ThresholdNotMet { ref role, .. } if role == "targets"),
            "{layout:?}: {err}"
        );
    }
}

#[test]
fn a_malformed_entry_fails_only_when_it_is_read() {
    let mut sim = RepoSim::new(default_reference_time());
    sim.set_layout(JsonLayout::Canonical);
    sim.add_target("targets", "good.txt", "good");
    sim.add_target("targets", "bad.txt", "bad");
    sim.targets_mut()
        .targets
        .get_mut("bad.txt")
        .unwrap()
        .hashes
        .insert("sha256".into(), "not hex".into());
    sim.publish();
    let mut set = refresh(&sim, default_reference_time()).unwrap();
    let good = search(&mut set, &sim, "good.txt", 32);
    assert_eq!(good.found.unwrap().1.length, 4);
    let bad = search(&mut set, &sim, "bad.txt", 32);
    assert!(bad.found.is_none());
    let (role, err) = &bad.failures[0];
    assert_eq!(role, "targets");
    assert!(
        matches!(err, Error::InvalidField { field, .. } if field == "signed.targets.bad.txt.hashes.sha256"),
        "{err}"
    );
}

#[test]
fn duplicate_target_paths_are_refused_even_when_spelled_differently() {
    // `"a"` and `"\u0061"` are the same key: a client must not pick one of them.
    let mut sim = RepoSim::new(default_reference_time());
    sim.add_target("targets", "a", "x");
    sim.publish();
    sim.tamper_role("targets", |bytes| {
        let text = String::from_utf8(bytes.clone()).unwrap();
        let entry_at = text.find("\"a\": {").unwrap();
        let entry_end = entry_at + text[entry_at..].find('}').unwrap();
        let entry_end = entry_end + text[entry_end + 1..].find('}').unwrap() + 2;
        let entry = text[entry_at..entry_end].replacen("\"a\"", "\"\\u0061\"", 1);
        let doubled = format!("{}{entry},\n{}", &text[..entry_at], &text[entry_at..]);
        *bytes = doubled.into_bytes();
    });
    let err = refresh(&sim, default_reference_time()).unwrap_err();
    assert!(
        matches!(&err, Error::Json { role, reason } if role == "targets" && reason.contains("twice")),
        "{err}"
    );
}

#[test]
fn snapshot_rollback_is_checked_over_every_indexed_entry() {
    // 5.5.5 with the snapshot's meta map indexed: an entry whose bytes changed is built
    // and compared; one that disappears is refused.
    let mut sim = RepoSim::new(default_reference_time());
    sim.set_layout(JsonLayout::Canonical);
    sim.add_delegation("targets", "role-a", &["*"], false);
    sim.add_delegation("targets", "role-b", &["*"], false);
    sim.publish();
    sim.touch("role-b");
    sim.publish();
    let set = refresh(&sim, default_reference_time()).unwrap();
    let old_snapshot = set.snapshot().unwrap().bytes().to_vec();
    sim.override_snapshot_meta(
        "role-b",
        Some(tufkit_core::metadata::MetaFile::with_version(1)),
    );
    sim.publish_snapshot();
    sim.publish_timestamp();
    // The old snapshot is the trusted baseline; the new one lists role-b at version 1.
    let mut fresh = TrustedSet::new(&sim.trusted_root_bytes(1), default_reference_time()).unwrap();
    fresh
        .update_timestamp(&sim.file("metadata/timestamp.json").unwrap())
        .unwrap();
    fresh.load_local_snapshot(old_snapshot).unwrap();
    let v = fresh.timestamp().unwrap().snapshot_meta().version;
    let new_snapshot = sim.file(&sim.metadata_path("snapshot", v)).unwrap();
    let err = fresh.update_snapshot(new_snapshot).unwrap_err();
    assert!(
        matches!(err, Error::Rollback { ref role, trusted: 2, found: 1 } if role == "role-b"),
        "{err}"
    );
}

/// Re-signs `targets` at its published version after `edit` changes its JSON.
fn republish_targets_edited(sim: &mut RepoSim, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut value = sim.body_value("targets");
    edit(&mut value);
    let bytes = sim.sign_as("targets", &value);
    let version = sim.last_version("targets").unwrap();
    let path = sim.metadata_path("targets", version);
    sim.set_file(&path, bytes);
}

#[test]
fn hash_prefix_delegations_are_searched_without_building_every_role() {
    let digest =
        |p: &str| tufkit_core::crypto::hash::HashAlgorithm::Sha256.hex_digest(p.as_bytes());
    let mut sim = RepoSim::new(default_reference_time());
    sim.set_layout(JsonLayout::Canonical);
    let lows = ["0", "1", "2", "3", "4", "5", "6", "7"];
    let highs = ["8", "9", "a", "b", "c", "d", "e", "f"];
    sim.add_hash_prefix_delegation("targets", "bins-lo", &lows);
    sim.add_hash_prefix_delegation("targets", "bins-hi", &highs);
    let paths = [
        "pkg/one.tar.gz",
        "pkg/two.tar.gz",
        "pkg/three.tar.gz",
        "pkg/four.tar.gz",
    ];
    for path in paths {
        let bin = if digest(path).as_str() < "8" {
            "bins-lo"
        } else {
            "bins-hi"
        };
        sim.add_target(bin, path, path);
    }
    sim.publish();
    let mut set = refresh(&sim, default_reference_time()).unwrap();
    for path in paths {
        let want = if digest(path).as_str() < "8" {
            "bins-lo"
        } else {
            "bins-hi"
        };
        let run = search(&mut set, &sim, path, 32);
        assert_eq!(run.found_in(), Some(want), "{path}: {:?}", run.failures);
        // Only the bin on the path is requested (once per trusted set).
        assert!(
            run.requested_names().iter().all(|r| *r == want),
            "{:?}",
            run.requested
        );
    }
    let view = set.targets().unwrap().delegations().unwrap();
    assert_eq!(view.role_names(), vec!["bins-lo", "bins-hi"]);
    assert_eq!(
        view.role("bins-hi")
            .unwrap()
            .unwrap()
            .path_hash_prefixes
            .unwrap()
            .len(),
        8
    );
    assert!(view.role("bins-none").unwrap().is_none());
    assert_eq!(view.to_delegations().unwrap().roles.unwrap().len(), 2);
}

#[test]
fn a_malformed_delegated_role_fails_only_the_searches_that_reach_it() {
    let mut sim = RepoSim::new(default_reference_time());
    sim.set_layout(JsonLayout::Canonical);
    sim.add_target("targets", "top.txt", "top");
    sim.add_delegation("targets", "broken", &["broken/*"], false);
    sim.add_delegation("targets", "role-a", &["a/*"], false);
    sim.add_target("role-a", "a/x.txt", "x");
    sim.publish();
    republish_targets_edited(&mut sim, |v| {
        v["delegations"]["roles"][0]["threshold"] = json!(0);
    });
    let mut set = refresh(&sim, default_reference_time()).unwrap();
    assert_eq!(
        search(&mut set, &sim, "top.txt", 32).found_in(),
        Some("targets")
    );
    assert_eq!(
        search(&mut set, &sim, "a/x.txt", 32).found_in(),
        Some("role-a")
    );
    let run = search(&mut set, &sim, "broken/y.txt", 32);
    assert!(run.found.is_none());
    assert!(
        matches!(&run.failures[0].1, Error::InvalidField { field, .. } if field == "signed.delegations.roles[0].threshold"),
        "{:?}",
        run.failures
    );
}

#[test]
fn delegated_role_names_are_checked_when_the_document_is_read() {
    type Edit = fn(&mut serde_json::Value);
    let edits: [(&str, Edit); 3] = [
        ("delegated twice", |v| {
            v["delegations"]["roles"][1]["name"] = json!("role-a")
        }),
        ("is missing or not a string", |v| {
            let role = v["delegations"]["roles"][1].as_object_mut().unwrap();
            role.remove("name");
        }),
        ("cannot be a delegated role name", |v| {
            v["delegations"]["roles"][0]["name"] = json!("root")
        }),
    ];
    for (reason, edit) in edits {
        let mut sim = RepoSim::new(default_reference_time());
        sim.add_delegation("targets", "role-a", &["a/*"], false);
        sim.add_delegation("targets", "role-b", &["b/*"], false);
        sim.publish();
        republish_targets_edited(&mut sim, edit);
        let err = refresh(&sim, default_reference_time()).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidField { role, reason: r, .. } if role == "targets" && r.contains(reason)),
            "{reason}: {err}"
        );
    }
}

#[test]
fn mangled_documents_never_panic_and_both_readers_agree() {
    // Thousands of byte-level mutations of real metadata (pretty and canonical): every one
    // is either refused with an error or read the same way by the indexing reader (what
    // clients use) and the full reader (what repositories use).
    use tufkit_core::metadata::{LazySnapshot, LazyTargets, Parsed, Snapshot, Targets};
    let mut docs = Vec::new();
    for layout in [
        JsonLayout::Pretty,
        JsonLayout::Canonical,
        JsonLayout::Reordered,
    ] {
        let mut sim = repository(layout);
        sim.add_hash_prefix_delegation("targets", "bins-a", &["0", "1"]);
        sim.publish();
        let targets_v = sim.last_version("targets").unwrap();
        docs.push((
            "targets",
            sim.file(&sim.metadata_path("targets", targets_v)).unwrap(),
        ));
        let snapshot_v = sim.last_version("snapshot").unwrap();
        docs.push((
            "snapshot",
            sim.file(&sim.metadata_path("snapshot", snapshot_v))
                .unwrap(),
        ));
    }
    let interesting = b"{}[],:\"\\ 0-9aeu\n\x01\xc3\xa9";
    let mut seed = 0x9e37_79b9_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut agreed = 0;
    for round in 0..3000 {
        let (kind, original) = &docs[round % docs.len()];
        let mut bytes = original.clone();
        for _ in 0..1 + next() % 3 {
            let at = (next() as usize) % bytes.len();
            match next() % 3 {
                0 => bytes[at] = interesting[(next() as usize) % interesting.len()],
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, interesting[(next() as usize) % interesting.len()]),
            }
        }
        if *kind == "targets" {
            let full = Parsed::<Targets>::from_slice(&bytes, "targets");
            let lazy = LazyTargets::parse(bytes.clone(), "targets");
            // What the full reader accepts, the indexing reader accepts too.
            assert!(full.is_err() || lazy.is_ok(), "{:?}", lazy.err());
            if let (Ok(full), Ok(lazy)) = (&full, lazy) {
                agreed += 1;
                assert_eq!(full.canonical_signed(), lazy.canonical_signed());
                for (path, file) in &full.signed().targets {
                    assert_eq!(lazy.target(path).unwrap().as_ref(), Some(file));
                }
                let view = lazy.delegations().map(|d| d.to_delegations().unwrap());
                assert_eq!(view.as_ref(), full.signed().delegations.as_ref());
            }
        } else {
            let full = Parsed::<Snapshot>::from_slice(&bytes, "snapshot");
            let lazy = LazySnapshot::parse(bytes.clone(), "snapshot");
            assert!(full.is_err() || lazy.is_ok(), "{:?}", lazy.err());
            if let (Ok(full), Ok(lazy)) = (&full, lazy) {
                agreed += 1;
                assert_eq!(full.canonical_signed(), lazy.canonical_signed());
                for (name, meta) in &full.signed().meta {
                    assert_eq!(lazy.entry(name).unwrap().as_ref(), Some(meta));
                }
            }
        }
    }
    // Some mutations keep the document valid (whitespace, a changed digit or letter).
    assert!(
        agreed > 100,
        "only {agreed} mangled documents were read at all"
    );
}

#[test]
fn delegations_after_the_one_that_lists_the_target_are_never_built() {
    // Delegations are read in order as the search reaches them: a malformed role after
    // the role that lists the target is not even looked at; one before it fails only
    // its own lookups.
    let mut sim = RepoSim::new(default_reference_time());
    sim.set_layout(JsonLayout::Canonical);
    sim.add_delegation("targets", "first", &["pkg/*"], false);
    sim.add_delegation("targets", "second", &["pkg/*"], false);
    sim.add_target("first", "pkg/a.txt", "a");
    sim.add_target("second", "pkg/b.txt", "b");
    sim.publish();
    republish_targets_edited(&mut sim, |v| {
        v["delegations"]["roles"][1]["threshold"] = json!(0);
    });
    let mut set = refresh(&sim, default_reference_time()).unwrap();
    let run = search(&mut set, &sim, "pkg/a.txt", 32);
    assert_eq!(run.found_in(), Some("first"));
    assert!(run.failures.is_empty(), "{:?}", run.failures);
    assert_eq!(run.requested_names(), vec!["first"]);
    let run = search(&mut set, &sim, "pkg/b.txt", 32);
    assert!(run.found.is_none());
    assert!(
        matches!(&run.failures[..], [(role, Error::InvalidField { field, .. })] if role == "targets" && field == "signed.delegations.roles[1].threshold"),
        "{:?}",
        run.failures
    );
}
