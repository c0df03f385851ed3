//! Interop with python-tuf, the TUF reference implementation, in both directions.
//!
//! 1. `tests/interop/python/gen_vectors.py` makes and signs metadata with python-tuf for
//!    every key type; tufkit-core must parse it, produce the same canonical bytes, verify
//!    every signature, walk its TrustedSet through it, find every target, and reject
//!    tampered copies and the rejected vectors.
//! 2. tufkit-core signs metadata with the same key types (RSA and one key of each kind
//!    made by Python, loaded as PKCS#8), and `verify_with_python_tuf.py` checks it with
//!    python-tuf: canonical bytes, signatures, python-tuf's client trust set, searches.
//!
//! The Python environment comes from `scripts/python-env.sh` (`.venv` at the repository
//! root) or `TUFKIT_PYTHON`. Without it these tests fail: they never skip silently.

#[path = "python_interop/support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};
use support::*;
use tufkit_core::canonical::to_canonical;
use tufkit_core::crypto::{verify_threshold, KeyKind, PublicKey, SigningKey};
use tufkit_core::metadata::{DelegatedRole, Delegations, Root, Snapshot, SuccinctRoles, Timestamp};
use tufkit_core::Error;

const NON_NFC: &str = "e\u{301}";

#[test]
fn python_tuf_vectors_verify_in_tufkit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    run_script("gen_vectors.py", dir);
    let m = Manifest::load(dir);
    assert!(
        m.vectors.len() >= 14,
        "too few vectors: {}",
        m.vectors.len()
    );

    // Every vector: same canonical bytes as python-tuf, signatures as the verdict says.
    let mut keytypes = BTreeSet::new();
    for v in &m.vectors {
        let bytes = read(dir, &v.file);
        let (canonical, signatures) = parse_any(&bytes, &v.type_, &v.role).unwrap_or_else(|e| {
            panic!("{}: tufkit cannot parse python-tuf's metadata: {e}", v.file)
        });
        let python_canonical = read(dir, &v.canonical);
        assert_same_bytes(&v.file, &canonical, &python_canonical);
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_same_bytes(
            &v.file,
            &to_canonical(&value["signed"]).unwrap(),
            &python_canonical,
        );

        let mut verified = BTreeSet::new();
        for verifier in &v.verified_by {
            let keys = role_keys_from(dir, verifier, &v.role);
            let result = verify_threshold(
                &v.role,
                &canonical,
                &signatures,
                &keys.keys,
                keys.as_ref(),
                "",
            );
            match (v.verdict.as_str(), v.reason.as_deref()) {
                ("reject", Some("signature")) => assert!(
                    matches!(result, Err(Error::ThresholdNotMet { .. })),
                    "{}: must fail the threshold of {verifier}, got {result:?}",
                    v.file
                ),
                _ => result.unwrap_or_else(|e| panic!("{} by {verifier}: {e}", v.file)),
            }
            if v.verdict == "accept" {
                // Each signature on its own, so every key type is really exercised.
                for sig in signatures
                    .iter()
                    .filter(|s| keys.as_ref().keyids.contains(&s.keyid))
                {
                    let key = &keys.keys[&sig.keyid];
                    let public = PublicKey::from_key(key).unwrap();
                    let raw = hex::decode(&sig.sig).unwrap();
                    assert!(
                        public.verify(&canonical, &raw),
                        "{}: signature of {} ({}) fails",
                        v.file,
                        sig.keyid,
                        key.keytype
                    );
                    keytypes.insert(key.keytype.clone());
                    verified.insert(sig.keyid.clone());
                }
            }
        }
        if v.verdict == "accept" {
            assert_eq!(
                verified.len(),
                signatures.len(),
                "{}: a signature is by no authorised key",
                v.file
            );
        }
    }
    let want: BTreeSet<String> = ["ecdsa", "ecdsa-sha2-nistp256", "ed25519", "rsa"]
        .map(String::from)
        .into();
    assert_eq!(
        keytypes, want,
        "key types whose python-tuf signatures tufkit verified"
    );

    // The whole walk, in client order, at the reference time.
    let ts = walk(dir, &m, None);
    for step in &m.walk {
        if !matches!(
            step.role.as_str(),
            "root" | "timestamp" | "snapshot" | "targets"
        ) {
            assert!(
                ts.targets_role(&step.role).is_some(),
                "{} not trusted after the walk",
                step.role
            );
        }
    }
    assert_eq!(
        ts.root().version,
        2,
        "the rotated root must be the trusted one"
    );

    // Rejected vectors, each met in the state where a client would meet it.
    for v in m.vectors.iter().filter(|v| v.verdict == "reject") {
        let mut ts = walk(dir, &m, v.after.as_deref());
        let err = apply(&mut ts, &read(dir, &v.file), &v.role, &v.delegator)
            .expect_err(&format!("{} must be rejected ({:?})", v.file, v.reason));
        match v.reason.as_deref() {
            Some("signature") => assert!(
                matches!(err, Error::ThresholdNotMet { .. }),
                "{}: {err}",
                v.file
            ),
            Some("expired") => assert!(matches!(err, Error::Expired { .. }), "{}: {err}", v.file),
            other => panic!("{}: unknown reason {other:?}", v.file),
        }
    }

    // Target searches through paths, hash prefixes and succinct bins, loading roles lazily.
    let top: Vec<Step> = m
        .walk
        .iter()
        .filter(|s| s.delegator == "root")
        .cloned()
        .collect();
    let mut ts = walk(
        dir,
        &Manifest {
            walk: top,
            ..m.clone()
        },
        None,
    );
    assert!(m.searches.iter().filter(|s| s.role.is_some()).count() >= 10);
    for s in &m.searches {
        let found = search(dir, &mut ts, &s.target);
        match (&s.role, found) {
            (None, None) => {}
            (Some(role), Some((found_role, file))) => {
                assert_eq!(&found_role, role, "{:?} found in the wrong role", s.target);
                assert_eq!(Some(file.length), s.length, "{:?} length", s.target);
                assert_eq!(
                    Some(&file.hashes),
                    s.hashes.as_ref(),
                    "{:?} hashes",
                    s.target
                );
            }
            (want, got) => panic!(
                "{:?}: expected {want:?}, found {:?}",
                s.target,
                got.map(|g| g.0)
            ),
        }
    }

    check_tampered_copies(dir, &m);
}

/// One-character changes python-tuf's signatures must not cover.
fn check_tampered_copies(dir: &std::path::Path, m: &Manifest) {
    type Tamper = fn(&mut Value);
    let cases: [(&str, &str, Tamper); 8] = [
        ("targets.json", "custom field value", |v| {
            flip_char(&mut v["signed"]["targets"][format!("{NON_NFC}.txt")]["custom"]["note"])
        }),
        ("targets.json", "target hash", |v| {
            flip_char(&mut v["signed"]["targets"][format!("{NON_NFC}.txt")]["hashes"]["sha256"])
        }),
        ("targets.json", "non-NFC path made NFC", |v| {
            rename_key(
                &mut v["signed"]["targets"],
                &format!("{NON_NFC}.txt"),
                "\u{e9}.txt",
            )
        }),
        ("role-a.json", "non-NFC path segment made NFC", |v| {
            let from = format!("unicode/{NON_NFC}/caf\u{e9}.txt");
            rename_key(
                &mut v["signed"]["targets"],
                &from,
                "unicode/\u{e9}/caf\u{e9}.txt",
            )
        }),
        ("role-frac.json", "control character in custom", |v| {
            v["signed"]["targets"]
                .as_object_mut()
                .unwrap()
                .values_mut()
                .for_each(|t| {
                    t["custom"]["ctl"] = json!("\u{2}\n\t");
                })
        }),
        ("role-frac.json", "fractional expires", |v| {
            v["signed"]["expires"] = json!("2040-01-01T00:00:00.123457Z")
        }),
        ("hashed.json", "unknown field in succinct_roles", |v| {
            flip_char(&mut v["signed"]["delegations"]["succinct_roles"]["x-tufkit-succinct-note"])
        }),
        ("2.root.json", "unknown field in a key", |v| {
            for key in v["signed"]["keys"].as_object_mut().unwrap().values_mut() {
                if key.get("x-tufkit-keyowner").is_some() {
                    flip_char(&mut key["x-tufkit-keyowner"]);
                }
            }
        }),
    ];
    for (file, what, tamper) in cases {
        let v = m.vectors.iter().find(|v| v.file == file).unwrap();
        let original: Value = serde_json::from_slice(&read(dir, file)).unwrap();
        let mut tampered = original.clone();
        tamper(&mut tampered);
        assert_ne!(
            tampered, original,
            "{file}: tampering with the {what} changed nothing"
        );
        for (value, expect_ok) in [(original, true), (tampered, false)] {
            let bytes = serde_json::to_vec(&value).unwrap();
            let (canonical, sigs) = parse_any(&bytes, &v.type_, &v.role)
                .unwrap_or_else(|e| panic!("{file} ({what}): {e}"));
            for verifier in &v.verified_by {
                let keys = role_keys_from(dir, verifier, &v.role);
                let r = verify_threshold(&v.role, &canonical, &sigs, &keys.keys, keys.as_ref(), "");
                if expect_ok {
                    r.unwrap_or_else(|e| panic!("{file} re-serialised unchanged: {e}"));
                } else {
                    assert!(
                        matches!(r, Err(Error::ThresholdNotMet { .. })),
                        "{file} with a tampered {what} must fail the signature check of {verifier}, got {r:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn tufkit_metadata_verifies_in_python_tuf() {
    let keys_tmp = tempfile::tempdir().unwrap();
    run_script("gen_vectors.py", keys_tmp.path());
    let m = Manifest::load(keys_tmp.path());
    let py_key = |kind: &str| {
        let pem = read(keys_tmp.path(), &m.private_keys[kind]);
        let key = SigningKey::from_pkcs8(&pem)
            .unwrap_or_else(|e| panic!("python's {kind} PKCS#8 key: {e}"));
        // tufkit must describe the key, and compute its keyid, exactly as securesystemslib.
        let python = &m.public_keys[kind];
        assert_eq!(
            serde_json::to_value(key.public_key()).unwrap(),
            python.key,
            "{kind} key JSON"
        );
        assert_eq!(key.key_id().0, python.keyid, "{kind} keyid");
        key
    };
    let (py_ed, py_ec, py_rsa) = (py_key("ed25519"), py_key("ecdsa"), py_key("rsa"));
    let gen = |kind| SigningKey::generate(kind).unwrap().0;
    let (tk_ed, tk_ed2, tk_ec) = (
        gen(KeyKind::Ed25519),
        gen(KeyKind::Ed25519),
        gen(KeyKind::EcdsaP256),
    );

    let tmp = tempfile::tempdir().unwrap();
    let mut out = Out::new(tmp.path());

    // Roots: v1, and v2 with the python ed25519 root key replaced, signed by both sets.
    let make_root = |version, root_keys: [&SigningKey; 3]| {
        let mut keys = BTreeMap::new();
        let mut roles = BTreeMap::new();
        let assign = [
            ("root", root_keys.to_vec(), 3),
            ("timestamp", vec![&tk_ec], 1),
            ("snapshot", vec![&py_rsa], 1),
            ("targets", vec![&tk_ed], 1),
        ];
        for (role, signers, threshold) in assign {
            for s in &signers {
                keys.insert(s.key_id().clone(), key_with_unknown(s, role));
            }
            let mut rk = role_keys(&signers, threshold);
            rk.unknown.insert(
                "x-tufkit-role-note".into(),
                json!(format!("{role} {NON_NFC}")),
            );
            roles.insert(role.to_string(), rk);
        }
        Root {
            type_: "root".into(),
            spec_version: SPEC_VERSION.into(),
            version,
            expires: expires(),
            consistent_snapshot: Some(true),
            keys,
            roles,
            unknown: unknown(json!({"x-tufkit-signed-note": {"ctl": "\u{1}\n\t", "n": [1, -2]}})),
        }
    };
    out.write(
        "1.root.json",
        make_root(1, [&py_ed, &tk_ec, &py_rsa]),
        &[&py_ed, &tk_ec, &py_rsa],
    );
    out.vector("1.root.json", "root", "root", &["1.root.json"]);
    out.write(
        "2.root.json",
        make_root(2, [&tk_ed2, &tk_ec, &py_rsa]),
        &[&py_ed, &tk_ed2, &tk_ec, &py_rsa],
    );
    out.vector(
        "2.root.json",
        "root",
        "root",
        &["1.root.json", "2.root.json"],
    );

    // Delegated roles: paths, path_hash_prefixes, succinct bins.
    let paths_target = format!("dir/{NON_NFC}\u{1}.bin");
    out.write(
        "tk-a.json",
        targets_with(1, &[(&paths_target, json!({"awkward": "q\"b\\"}))], None),
        &[&py_ed],
    );
    let hashed_target = "hp/one.txt";
    out.write(
        "tk-b.json",
        targets_with(2, &[(hashed_target, Value::Null)], None),
        &[&tk_ec],
    );
    let succinct = SuccinctRoles {
        keyids: vec![py_rsa.key_id().clone(), tk_ed.key_id().clone()],
        threshold: 2,
        bit_length: 2,
        name_prefix: "tkbin".into(),
        unknown: unknown(json!({"x-tufkit-succinct-note": NON_NFC})),
    };
    let bin_target = "bins/\u{1F600}.txt";
    let bin = succinct.bin_for(bin_target);
    let bin_keys = [&py_rsa, &tk_ed];
    let hashed_delegations = Delegations {
        keys: bin_keys
            .iter()
            .map(|k| (k.key_id().clone(), k.public_key().clone()))
            .collect(),
        roles: None,
        succinct_roles: Some(succinct),
        unknown: Map::new(),
    };
    out.write(
        "tk-hashed.json",
        targets_with(1, &[], Some(hashed_delegations)),
        &[&py_ec],
    );
    out.write(
        &format!("{bin}.json"),
        targets_with(1, &[(bin_target, json!(["bin"]))], None),
        &bin_keys,
    );

    // Top-level targets with awkward paths, custom values and unknown fields everywhere.
    let top_paths = [
        format!("tk/{NON_NFC}.txt"),
        "tk/ctl\u{1}\n\t.bin".to_string(),
        "tk/\u{1F600}\u{4E2D}\u{6587}.txt".to_string(),
        "tk/quote\"back\\slash.txt".to_string(),
    ];
    let top_custom = json!({"note": format!("caf{NON_NFC} \"q\" \\"), "ctl": "\u{1}\n\t", "nested": {"z": [1, -2], "a": null}});
    let top: Vec<(&str, Value)> = top_paths
        .iter()
        .map(|p| (p.as_str(), top_custom.clone()))
        .collect();
    let role = |name: &str,
                key: &SigningKey,
                terminating,
                paths: Option<Vec<String>>,
                prefixes: Option<Vec<String>>| DelegatedRole {
        name: name.into(),
        keyids: vec![key.key_id().clone()],
        threshold: 1,
        terminating,
        paths,
        path_hash_prefixes: prefixes,
        unknown: unknown(json!({"x-tufkit-role-note": "\u{fc}n\u{ef}code"})),
    };
    let prefix = tufkit_core::crypto::hash::sha256_hex(hashed_target.as_bytes())[..4].to_string();
    let delegations = Delegations {
        keys: [&py_ed, &tk_ec, &py_ec]
            .iter()
            .map(|k| (k.key_id().clone(), key_with_unknown(k, "delegated")))
            .collect(),
        roles: Some(vec![
            role("tk-a", &py_ed, false, Some(vec!["dir/*".into()]), None),
            role("tk-b", &tk_ec, false, None, Some(vec![prefix])),
            role("tk-hashed", &py_ec, true, Some(vec!["bins/*".into()]), None),
        ]),
        succinct_roles: None,
        unknown: unknown(json!({"x-tufkit-delegations-note": "\u{1}"})),
    };
    let mut targets = targets_with(3, &top, Some(delegations));
    targets.unknown = unknown(json!({"x-tufkit-signed-note": [NON_NFC, "\u{1F600}"]}));
    out.write("targets.json", targets.clone(), &[&tk_ed]);

    // A tampered copy python-tuf must reject: a custom value changed after signing.
    let mut tampered = tufkit_core::metadata::Metadata::new(targets);
    tampered.sign(&tk_ed).unwrap();
    tampered
        .signed
        .targets
        .get_mut(&top_paths[0])
        .unwrap()
        .custom = Some(json!("changed"));
    out.write_md("reject-targets.tampered.json", &tampered);

    // Snapshot and timestamp list every file with its length and hashes.
    let bin_file = format!("{bin}.json");
    let listed = [
        ("targets.json", 3),
        ("tk-a.json", 1),
        ("tk-b.json", 2),
        ("tk-hashed.json", 1),
        (&bin_file, 1),
    ];
    let meta = listed
        .iter()
        .map(|(name, version)| (name.to_string(), out.meta(name, *version)))
        .collect();
    let snapshot = Snapshot {
        type_: "snapshot".into(),
        spec_version: SPEC_VERSION.into(),
        version: 4,
        expires: expires(),
        meta,
        unknown: unknown(json!({"x-tufkit-signed-note": NON_NFC})),
    };
    out.write("snapshot.json", snapshot, &[&py_rsa]);
    let timestamp = Timestamp {
        type_: "timestamp".into(),
        spec_version: SPEC_VERSION.into(),
        version: 9,
        expires: expires(),
        meta: BTreeMap::from([("snapshot.json".to_string(), out.meta("snapshot.json", 4))]),
        unknown: Map::new(),
    };
    out.write("timestamp.json", timestamp, &[&tk_ec]);

    for (file, role) in [
        ("timestamp.json", "timestamp"),
        ("snapshot.json", "snapshot"),
        ("targets.json", "targets"),
    ] {
        out.vector(file, role, "root", &["2.root.json"]);
    }
    out.reject(
        "reject-targets.tampered.json",
        "targets",
        "root",
        &["2.root.json"],
    );
    for role in ["tk-a", "tk-b", "tk-hashed"] {
        out.vector(&format!("{role}.json"), role, "targets", &["targets.json"]);
    }
    out.vector(
        &format!("{bin}.json"),
        &bin,
        "tk-hashed",
        &["tk-hashed.json"],
    );

    let mut searches: Vec<(String, Option<String>)> = top_paths
        .iter()
        .map(|p| (p.clone(), Some("targets".to_string())))
        .collect();
    searches.push((paths_target, Some("tk-a".into())));
    searches.push((hashed_target.into(), Some("tk-b".into())));
    searches.push((bin_target.into(), Some(bin.clone())));
    searches.push(("tk/\u{e9}.txt".into(), None));
    out.finish(&searches);

    // tufkit reads back what it wrote: the same walk and searches must pass here too.
    let written = Manifest::load(tmp.path());
    let mut ts = walk(tmp.path(), &written, None);
    for s in &written.searches {
        let found = search(tmp.path(), &mut ts, &s.target).map(|f| f.0);
        assert_eq!(found, s.role, "tufkit search for {:?}", s.target);
    }

    let stdout = run_script("verify_with_python_tuf.py", tmp.path());
    eprintln!("{stdout}");
    for v in &written.vectors {
        let mut expected = vec![
            format!("ok   canonical  {} (raw)", v.file),
            format!("ok   parse      {}", v.file),
        ];
        if v.verdict == "accept" {
            expected.push(format!("ok   canonical  {} (python-tuf)", v.file));
            expected.extend(
                v.verified_by
                    .iter()
                    .map(|by| format!("ok   signature  {} by {by}", v.file)),
            );
        } else {
            expected.push(format!("ok   rejected   {} (signature", v.file));
        }
        for line in expected {
            assert!(
                stdout.contains(&line),
                "python-tuf output lacks {line:?}:\n{stdout}"
            );
        }
    }
    for step in &written.walk {
        let line = format!("ok   walk       {} as {}", step.file, step.role);
        assert!(
            stdout.contains(&line),
            "python-tuf output lacks {line:?}:\n{stdout}"
        );
    }
    let search_lines = stdout
        .lines()
        .filter(|l| l.starts_with("ok   search"))
        .count();
    assert_eq!(
        search_lines,
        written.searches.len(),
        "python-tuf searches:\n{stdout}"
    );
    assert!(
        stdout
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("all ") && l.ends_with(" checks passed")),
        "{stdout}"
    );
}
