//! Test keys and signing helpers: fresh ed25519/ECDSA keys, fixed RSA keys, and signing of
//! hand-built JSON so tests can sign exactly the bytes they want a client to see.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use tufkit_core::canonical::to_canonical;
use tufkit_core::crypto::{KeyKind, SigningKey};
use tufkit_core::metadata::Signature;

/// The fixed reference time tests use: 2030-01-01T00:00:00Z.
pub fn default_reference_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
        .single()
        .expect("2030-01-01T00:00:00Z is a valid time")
}

/// The fixed RSA-2048 PKCS#8 test keys under `tests/testkit/keys/` (ring cannot generate RSA).
const RSA_PEMS: [&str; 6] = [
    include_str!("../keys/rsa-1.pem"),
    include_str!("../keys/rsa-2.pem"),
    include_str!("../keys/rsa-3.pem"),
    include_str!("../keys/rsa-4.pem"),
    include_str!("../keys/rsa-5.pem"),
    include_str!("../keys/rsa-6.pem"),
];

/// How many distinct RSA test keys exist.
pub const RSA_TEST_KEY_COUNT: usize = RSA_PEMS.len();

/// RSA test key number `index % RSA_TEST_KEY_COUNT` (parsed once, then shared).
pub fn rsa_test_key(index: usize) -> Arc<SigningKey> {
    static KEYS: OnceLock<Vec<Arc<SigningKey>>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        RSA_PEMS
            .iter()
            .map(|pem| {
                Arc::new(
                    SigningKey::from_pkcs8(pem.as_bytes()).expect("bundled RSA test key loads"),
                )
            })
            .collect()
    });
    keys[index % keys.len()].clone()
}

/// A fresh ed25519 or ECDSA P-256 key. For RSA, returns fixed test key 0; use
/// [`rsa_test_key`] to pick others.
pub fn generate_key(kind: KeyKind) -> Arc<SigningKey> {
    match kind {
        KeyKind::RsaPssSha256 => rsa_test_key(0),
        _ => Arc::new(
            SigningKey::generate(kind)
                .expect("ring generates ed25519/ECDSA keys")
                .0,
        ),
    }
}

/// Signs the canonical JSON of `signed` with each key, in order.
pub fn signatures_over(signed: &Value, keys: &[&SigningKey]) -> Vec<Signature> {
    let canonical = to_canonical(signed).expect("test metadata is canonicalisable");
    keys.iter()
        .map(|k| k.sign(&canonical).expect("test key signs"))
        .collect()
}

/// Builds the metadata envelope `{"signed": ..., "signatures": [...]}` as pretty JSON.
pub fn envelope(signed: &Value, signatures: &[Signature]) -> Vec<u8> {
    let value = json!({ "signed": signed, "signatures": signatures });
    let mut out = serde_json::to_vec_pretty(&value).expect("JSON values serialise");
    out.push(b'\n');
    out
}

/// Signs a hand-built `signed` JSON value (unknown fields, odd `expires` spellings and all)
/// with `keys` and returns the envelope bytes. The signatures cover exactly this value.
pub fn sign_value(signed: &Value, keys: &[&SigningKey]) -> Vec<u8> {
    envelope(signed, &signatures_over(signed, keys))
}

/// Serialises a typed `signed` body (e.g. a `Root`) and signs it like [`sign_value`].
pub fn sign_metadata<T: Serialize>(signed: &T, keys: &[&SigningKey]) -> Vec<u8> {
    sign_value(&to_json(signed), keys)
}

/// The JSON value of a typed body, for hand-editing before [`sign_value`].
pub fn to_json<T: Serialize>(body: &T) -> Value {
    serde_json::to_value(body).expect("metadata bodies serialise")
}

/// Parses envelope bytes back into a JSON value, for tests that edit signed bytes.
pub fn parse_envelope(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("envelope bytes are JSON")
}
