//! Threshold counting and signature verification (spec 5.2, 5.3.4, 5.4.2, 5.5.3, 5.6.3).

use tufkit_core::crypto::{KeyId, KeyKind};
use tufkit_core::metadata::Signature;
use tufkit_core::{Error, TrustedSet};
use tufkit_testkit::drive::refresh;
use tufkit_testkit::keys::rsa_test_key;
use tufkit_testkit::{default_reference_time, generate_key, RepoSim};

fn t0() -> chrono::DateTime<chrono::Utc> {
    default_reference_time()
}

/// Trusts the sim's latest root and offers its latest timestamp.
fn load_timestamp(sim: &RepoSim) -> Result<(), Error> {
    let mut set = TrustedSet::new(&sim.bytes("root"), t0())?;
    set.update_timestamp(&sim.bytes("timestamp")).map(|_| ())
}

#[test]
fn duplicate_signature_keyid_is_rejected() {
    // A keyid signing twice is malformed metadata (python-tuf refuses it too), whatever
    // the threshold says.
    let mut sim = RepoSim::new(t0());
    sim.tweak_signatures("timestamp", |s| s.push(s[0].clone()));
    sim.publish_timestamp();
    let err = load_timestamp(&sim).unwrap_err();
    assert!(
        matches!(err, Error::DuplicateSignature { ref role, .. } if role == "timestamp"),
        "{err}"
    );
}

#[test]
fn same_key_under_two_keyids_counts_once() {
    // Threshold 2 must mean two distinct keys, not one key listed under two labels.
    let mut sim = RepoSim::new(t0());
    let key = sim.keys("timestamp")[0].clone();
    let alias = KeyId("alias-of-the-timestamp-key".into());
    sim.authorise_keyid("timestamp", alias.clone(), key.public_key().clone());
    sim.set_threshold("timestamp", 2);
    sim.tweak_signatures("timestamp", move |s| {
        let copy = Signature::new(alias.clone(), s[0].sig.clone());
        s.push(copy);
    });
    sim.publish();
    let err = load_timestamp(&sim).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ThresholdNotMet {
                valid: 1,
                threshold: 2,
                ..
            }
        ),
        "{err}"
    );
    // Control: a genuinely second key meets the threshold.
    sim.clear_tweak("timestamp");
    sim.add_key("timestamp");
    sim.publish();
    load_timestamp(&sim).unwrap();
}

#[test]
fn signatures_of_unauthorised_keys_are_ignored() {
    // The snapshot key, a key root lists for another role, and a key root does not list
    // at all must not count towards the timestamp threshold.
    let mut sim = RepoSim::new(t0());
    let a = sim.keys("timestamp")[0].clone();
    let b = sim.add_key("timestamp");
    sim.set_threshold("timestamp", 2);
    let snapshot_key = sim.keys("snapshot")[0].clone();
    let foreign = sim.new_key();
    sim.set_signers("timestamp", vec![a, snapshot_key.clone(), foreign]);
    // And a signature made by the snapshot key but labelled with b's keyid.
    let b_id = b.key_id().clone();
    sim.tweak_signatures("timestamp", move |s| {
        let forged = s
            .iter()
            .find(|sig| sig.keyid == *snapshot_key.key_id())
            .map(|sig| Signature::new(b_id.clone(), sig.sig.clone()));
        s.extend(forged);
    });
    sim.publish();
    let err = load_timestamp(&sim).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ThresholdNotMet {
                valid: 1,
                threshold: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn empty_and_garbage_signatures_are_ignored_not_fatal() {
    // A keyholder who has not signed yet (empty sig) or junk must not block metadata
    // that a threshold of valid signatures supports.
    let mut sim = RepoSim::new(t0());
    let b = sim.add_key("timestamp");
    let b_id = b.key_id().clone();
    let snapshot_id = sim.keys("snapshot")[0].key_id().clone();
    sim.set_signers("timestamp", vec![sim.keys("timestamp")[0].clone()]);
    sim.tweak_signatures("timestamp", move |s| {
        let junk = vec![
            Signature::new(b_id.clone(), String::new()),
            Signature::new(KeyId("unknown-1".into()), "zz-not-hex".into()),
            Signature::new(KeyId("unknown-2".into()), String::new()),
            Signature::new(snapshot_id.clone(), "00".repeat(64)),
        ];
        s.splice(0..0, junk);
    });
    sim.publish();
    load_timestamp(&sim).unwrap();

    // With threshold 2 the empty signature of b does not count.
    sim.set_threshold("timestamp", 2);
    sim.publish();
    let err = load_timestamp(&sim).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ThresholdNotMet {
                valid: 1,
                threshold: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn threshold_above_key_count_is_accepted_in_root_but_cannot_be_met() {
    let mut sim = RepoSim::new(t0());
    sim.set_threshold("timestamp", 3);
    sim.publish();
    let mut set = TrustedSet::new(&sim.trusted_root_bytes(1), t0()).unwrap();
    set.update_root(&sim.trusted_root_bytes(2)).unwrap();
    assert_eq!(set.root().roles["timestamp"].threshold, 3);
    let err = set.update_timestamp(&sim.bytes("timestamp")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ThresholdNotMet {
                valid: 1,
                threshold: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn flipped_signature_byte_is_rejected_for_every_key_type() {
    for kind in [KeyKind::Ed25519, KeyKind::EcdsaP256, KeyKind::RsaPssSha256] {
        let mut sim = RepoSim::with_key_kind(t0(), kind);
        refresh(&sim, t0()).unwrap();
        sim.tweak_signatures("targets", |s| {
            let mut raw = hex_decode(&s[0].sig);
            raw[10] ^= 1;
            s[0].sig = hex_encode(&raw);
        });
        sim.touch("targets");
        sim.publish();
        let err = refresh(&sim, t0()).unwrap_err();
        assert!(
            matches!(err, Error::ThresholdNotMet { ref role, .. } if role == "targets"),
            "{kind:?}: {err}"
        );
    }
}

#[test]
fn ed25519_ecdsa_and_rsa_keys_verify_side_by_side() {
    let mut sim = RepoSim::new(t0());
    let old = sim.keys("timestamp")[0].key_id().clone();
    sim.remove_key("timestamp", &old);
    sim.add_existing_key("timestamp", generate_key(KeyKind::EcdsaP256));
    let old = sim.keys("targets")[0].key_id().clone();
    sim.remove_key("targets", &old);
    sim.add_existing_key("targets", rsa_test_key(2));
    sim.publish();
    let set = refresh(&sim, t0()).unwrap();
    assert_eq!(
        set.root().keys[&sim.keys("targets")[0].key_id().clone()].keytype,
        "rsa"
    );
    assert_eq!(set.targets().unwrap().version(), 2);
}

#[test]
fn ecdsa_key_listed_with_keytype_ecdsa_sha2_nistp256_verifies() {
    // Older python-tuf and go-tuf repositories spell the keytype this way.
    let mut sim = RepoSim::with_key_kind(t0(), KeyKind::EcdsaP256);
    let id = sim.keys("timestamp")[0].key_id().clone();
    sim.root_mut().keys.get_mut(&id).unwrap().keytype = "ecdsa-sha2-nistp256".into();
    sim.publish();
    let set = refresh(&sim, t0()).unwrap();
    assert_eq!(set.root().keys[&id].keytype, "ecdsa-sha2-nistp256");
    assert!(set.timestamp().is_some());
}

// ----- ECDSA high-S --------------------------------------------------------------------

/// The order of the P-256 group.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Splits a DER `SEQUENCE { INTEGER r, INTEGER s }` into 32-byte big-endian r and s.
fn split_der(sig: &[u8]) -> ([u8; 32], [u8; 32]) {
    assert_eq!(sig[0], 0x30);
    let mut rest = &sig[2..];
    let mut ints = Vec::new();
    for _ in 0..2 {
        assert_eq!(rest[0], 0x02);
        let len = rest[1] as usize;
        let value = &rest[2..2 + len];
        let value = &value[value.len().saturating_sub(32)..];
        let mut out = [0u8; 32];
        out[32 - value.len()..].copy_from_slice(value);
        ints.push(out);
        rest = &rest[2 + len..];
    }
    (ints[0], ints[1])
}

fn der_integer(v: &[u8; 32]) -> Vec<u8> {
    let mut body: Vec<u8> = v.iter().copied().skip_while(|&b| b == 0).collect();
    if !matches!(body.first(), Some(&b) if b & 0x80 == 0) {
        body.insert(0, 0);
    }
    let mut out = vec![0x02, body.len() as u8];
    out.extend(body);
    out
}

fn join_der(r: &[u8; 32], s: &[u8; 32]) -> Vec<u8> {
    let mut body = der_integer(r);
    body.extend(der_integer(s));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

/// n - s, big-endian.
fn negate_mod_n(s: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = P256_N[i] as i16 - s[i] as i16 - borrow;
        borrow = 0;
        if d < 0 {
            d += 256;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    out
}

fn is_high(s: &[u8; 32]) -> bool {
    // s > n/2  <=>  s > n - s
    *s > negate_mod_n(s)
}

#[test]
fn ecdsa_high_s_signature_is_accepted() {
    // TUF peers (securesystemslib/cryptography) produce and accept both S forms; a client
    // enforcing low-S would reject valid metadata from those repositories.
    let mut sim = RepoSim::with_key_kind(t0(), KeyKind::EcdsaP256);
    sim.tweak_signatures("timestamp", |sigs| {
        for sig in sigs.iter_mut() {
            let (r, s) = split_der(&hex_decode(&sig.sig));
            let high = if is_high(&s) { s } else { negate_mod_n(&s) };
            sig.sig = hex_encode(&join_der(&r, &high));
        }
    });
    sim.publish();
    let bytes = sim.bytes("timestamp");
    let env: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let sig = hex_decode(env["signatures"][0]["sig"].as_str().unwrap());
    assert!(
        is_high(&split_der(&sig).1),
        "test must present a high-S signature"
    );
    load_timestamp(&sim).unwrap();
}
