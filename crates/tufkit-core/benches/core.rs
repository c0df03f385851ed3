//! Criterion micro-benchmarks: canonical JSON, signature verification, parsing and the
//! trust state machine on a large targets document.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::Map;
use tufkit_core::crypto::{KeyKind, SigningKey};
use tufkit_core::metadata::{Metadata, Parsed, TargetFile, Targets};

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
    let mut md = Metadata::new(signed);
    md.sign(key).unwrap();
    serde_json::to_vec(&md).unwrap()
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
