//! Criterion micro-benchmarks: canonical JSON, signature verification, parsing and the
//! trust state machine on a large targets document.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::Map;
use tufkit_core::crypto::{KeyKind, SigningKey};
use tufkit_core::metadata::{
    LazyTargets, MetaFile, Metadata, Parsed, RoleKeys, Root, Snapshot, TargetFile, Targets,
    Timestamp,
};
use tufkit_core::{SearchStep, TargetSearch, TrustedSet};

fn reference_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A signed targets document with `n` targets, as published bytes.
fn targets_bytes(n: usize, key: &SigningKey) -> Vec<u8> {
    let mut targets = BTreeMap::new();
    for i in 0..n {
        let path = format!("packages/pkg-{i}/pkg-{i}-1.0.{}.tar.gz", i % 17);
        let digest = tufkit_core::crypto::hash::sha256_hex(path.as_bytes());
        targets.insert(
            path,
            TargetFile {
                length: 1000 + i as u64,
                hashes: BTreeMap::from([("sha256".to_string(), digest)]),
                custom: None,
                unknown: Map::new(),
            },
        );
    }
    let signed = Targets {
        type_: "targets".into(),
        spec_version: "1.0.31".into(),
        version: 1,
        expires: reference_time() + Duration::days(90),
        targets,
        delegations: None,
        unknown: Map::new(),
    };
    signed_bytes(signed, key)
}

/// A repository signed by one key for every role, around a given targets document.
struct Repo {
    root: Vec<u8>,
    timestamp: Vec<u8>,
    snapshot: Vec<u8>,
    targets: Vec<u8>,
}

impl Repo {
    fn new(key: &SigningKey, targets: Vec<u8>) -> Repo {
        let expires = reference_time() + Duration::days(90);
        let role_keys = || RoleKeys {
            keyids: vec![key.key_id().clone()],
            threshold: 1,
            unknown: Map::new(),
        };
        let root = Root {
            type_: "root".into(),
            spec_version: "1.0.31".into(),
            version: 1,
            expires,
            consistent_snapshot: Some(true),
            keys: BTreeMap::from([(key.key_id().clone(), key.public_key().clone())]),
            roles: ["root", "timestamp", "snapshot", "targets"]
                .iter()
                .map(|r| (r.to_string(), role_keys()))
                .collect(),
            unknown: Map::new(),
        };
        let mut targets_meta = MetaFile::with_version(1);
        targets_meta.length = Some(targets.len() as u64);
        let snapshot = Snapshot {
            type_: "snapshot".into(),
            spec_version: "1.0.31".into(),
            version: 1,
            expires,
            meta: BTreeMap::from([("targets.json".to_string(), targets_meta)]),
            unknown: Map::new(),
        };
        let snapshot = signed_bytes(snapshot, key);
        let mut snapshot_meta = MetaFile::with_version(1);
        snapshot_meta.length = Some(snapshot.len() as u64);
        let timestamp = Timestamp {
            type_: "timestamp".into(),
            spec_version: "1.0.31".into(),
            version: 1,
            expires,
            meta: BTreeMap::from([("snapshot.json".to_string(), snapshot_meta)]),
            unknown: Map::new(),
        };
        Repo {
            root: signed_bytes(root, key),
            timestamp: signed_bytes(timestamp, key),
            snapshot,
            targets,
        }
    }

    /// The trust state machine from the trusted root to one target's info.
    fn refresh_and_look_up(&self, path: &str) -> TargetFile {
        let mut set = TrustedSet::new(&self.root, reference_time()).unwrap();
        set.check_final_root().unwrap();
        set.update_timestamp(&self.timestamp).unwrap();
        set.update_snapshot(&self.snapshot).unwrap();
        set.update_targets(self.targets.clone()).unwrap();
        match TargetSearch::new(path, 32).step(&set) {
            SearchStep::Found { target, .. } => target,
            other => panic!("{other:?}"),
        }
    }
}

/// Signed metadata as `tufkit publish` writes it (sorted keys, indented).
fn signed_bytes<T: tufkit_core::metadata::RoleMetadata>(signed: T, key: &SigningKey) -> Vec<u8> {
    let mut md = Metadata::new(signed);
    md.sign(key).unwrap();
    md.to_json_bytes().unwrap()
}

fn bench(c: &mut Criterion) {
    let (key, _) = SigningKey::generate(KeyKind::Ed25519).unwrap();
    for n in [1_000usize, 100_000] {
        let bytes = targets_bytes(n, &key);
        let mut g = c.benchmark_group(format!("targets_{n}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.sample_size(10);
        g.bench_function("json_value_parse", |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(&bytes).unwrap())
        });
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        g.bench_function("canonicalise_signed", |b| {
            b.iter(|| tufkit_core::canonical::to_canonical(&value["signed"]).unwrap())
        });
        g.bench_function("parse_validate", |b| {
            b.iter(|| Parsed::<Targets>::from_slice(&bytes, "targets").unwrap())
        });
        // What a client does: index the document (entries are not built), verify the
        // signature over the canonical span, build the one entry it looks up.
        let lookup = format!(
            "packages/pkg-{0}/pkg-{0}-1.0.{1}.tar.gz",
            n / 2,
            (n / 2) % 17
        );
        g.bench_function("client_index_verify_lookup", |b| {
            b.iter(|| {
                let doc = LazyTargets::parse(bytes.clone(), "targets").unwrap();
                let sig = hex::decode(&doc.signatures()[0].sig).unwrap();
                assert!(key.public().verify(doc.canonical_signed(), &sig));
                doc.target(&lookup).unwrap().unwrap()
            })
        });
        let repo = Repo::new(&key, bytes.clone());
        g.bench_function("trusted_set_refresh_lookup", |b| {
            b.iter(|| repo.refresh_and_look_up(&lookup))
        });
        g.finish();
    }

    let msg = vec![7u8; 4096];
    let mut g = c.benchmark_group("verify_4k");
    for kind in [KeyKind::Ed25519, KeyKind::EcdsaP256] {
        let (k, _) = SigningKey::generate(kind).unwrap();
        let sig = hex::decode(k.sign(&msg).unwrap().sig).unwrap();
        let public = k.public().clone();
        g.bench_function(format!("{kind:?}"), |b| {
            b.iter(|| assert!(public.verify(&msg, &sig)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
