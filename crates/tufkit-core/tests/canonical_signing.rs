//! Signatures are verified over the canonical form of the `signed` value *as received*:
//! unknown fields and any `expires` spelling are covered, and formatting is not.

use serde_json::{json, Value};
use tufkit_core::{Error, TrustedSet};
use tufkit_testkit::keys::{envelope, parse_envelope, signatures_over};
use tufkit_testkit::{default_reference_time, RepoSim};

/// A named change to a JSON document.
type Edit = Box<dyn Fn(&mut Value)>;

fn t0() -> chrono::DateTime<chrono::Utc> {
    default_reference_time()
}

/// The sim's root body with unknown fields at several depths and a fractional expiry.
fn decorated_root(sim: &RepoSim) -> Value {
    let mut root = sim.body_value("root");
    let id = sim.keys("root")[0].key_id().0.clone();
    root["x-custom"] = json!({"nested": [1, "a", {"deep": true}]});
    root["keys"][&id]["x-keyowner"] = json!("alice");
    root["keys"][&id]["keyval"]["x-extra"] = json!("kept");
    root["roles"]["root"]["x-note"] = json!("quorum of one");
    root["expires"] = json!("2030-02-01T00:00:00.123Z");
    root
}

#[test]
fn unknown_fields_and_fractional_expires_verify_when_signed_as_received() {
    // A verifier that re-serialises its typed model would drop the unknown fields and
    // write `...00Z`, and so reject this correctly signed root.
    let sim = RepoSim::new(t0());
    let root = decorated_root(&sim);
    let keys = sim.keys("root");
    let bytes = envelope(&root, &signatures_over(&root, &[keys[0].as_ref()]));
    let set = TrustedSet::new(&bytes, t0()).unwrap();
    assert_eq!(
        set.root().unknown["x-custom"]["nested"][2]["deep"],
        json!(true)
    );
    let id = keys[0].key_id();
    assert_eq!(set.root().keys[id].unknown["x-keyowner"], json!("alice"));
    assert_eq!(set.root().keys[id].keyval.unknown["x-extra"], json!("kept"));
    assert_eq!(
        set.root().roles["root"].unknown["x-note"],
        json!("quorum of one")
    );
}

#[test]
fn tampering_with_any_signed_field_breaks_the_signature() {
    let sim = RepoSim::new(t0());
    let root = decorated_root(&sim);
    let keys = sim.keys("root");
    let sigs = signatures_over(&root, &[keys[0].as_ref()]);
    let id = keys[0].key_id().0.clone();
    let edits: Vec<(&str, Edit)> = vec![
        (
            "nested unknown value",
            Box::new(|v| v["x-custom"]["nested"][0] = json!(2)),
        ),
        (
            "unknown field removed",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("x-custom");
            }),
        ),
        ("unknown field added", Box::new(|v| v["x-new"] = json!(0))),
        (
            "same instant, other spelling",
            Box::new(|v| v["expires"] = json!("2030-02-01T00:00:00.123000Z")),
        ),
        (
            "fraction dropped",
            Box::new(|v| v["expires"] = json!("2030-02-01T00:00:00Z")),
        ),
        (
            "unknown key field",
            Box::new(move |v| v["keys"][&id]["x-keyowner"] = json!("mallory")),
        ),
        ("version", Box::new(|v| v["version"] = json!(2))),
        (
            "threshold",
            Box::new(|v| v["roles"]["targets"]["threshold"] = json!(2)),
        ),
        (
            "consistent_snapshot",
            Box::new(|v| v["consistent_snapshot"] = json!(false)),
        ),
    ];
    for (what, edit) in edits {
        let mut tampered = root.clone();
        edit(&mut tampered);
        let err = TrustedSet::new(&envelope(&tampered, &sigs), t0()).unwrap_err();
        assert!(
            matches!(err, Error::ThresholdNotMet { valid: 0, .. }),
            "{what}: {err}"
        );
    }
}

#[test]
fn unknown_fields_in_timestamp_meta_are_signed_and_envelope_extras_are_not() {
    let sim = RepoSim::new(t0());
    let mut ts = sim.body_value("timestamp");
    ts["meta"]["snapshot.json"]["x-mirror-hint"] = json!("eu");
    ts["expires"] = json!("2030-01-15T12:00:00.5+02:00");
    let keys = sim.keys("timestamp");
    let sigs = signatures_over(&ts, &[keys[0].as_ref()]);
    let mut env = parse_envelope(&envelope(&ts, &sigs));
    // Fields outside `signed` are not covered and must not matter.
    env["x-envelope-note"] = json!("unsigned");
    env["signatures"][0]["x-sig-note"] = json!("unsigned");
    let bytes = serde_json::to_vec(&env).unwrap();
    let mut set = TrustedSet::new(&sim.bytes("root"), t0()).unwrap();
    set.update_timestamp(&bytes).unwrap();
    let meta = set.timestamp().unwrap().snapshot_meta();
    assert_eq!(meta.unknown["x-mirror-hint"], json!("eu"));

    // Changing the signed unknown field is tampering.
    env["signed"]["meta"]["snapshot.json"]["x-mirror-hint"] = json!("us");
    let mut set = TrustedSet::new(&sim.bytes("root"), t0()).unwrap();
    let err = set
        .update_timestamp(&serde_json::to_vec(&env).unwrap())
        .unwrap_err();
    assert!(matches!(err, Error::ThresholdNotMet { .. }), "{err}");
}

/// Writes `v` as JSON with object keys in reverse order and extra whitespace.
fn write_scrambled(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            out.push_str("{ ");
            let mut entries: Vec<_> = map.iter().collect();
            entries.reverse();
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(" ,\n ");
                }
                out.push_str(&serde_json::to_string(k).unwrap());
                out.push_str(" :\t");
                write_scrambled(v, out);
            }
            out.push_str(" }");
        }
        Value::Array(items) => {
            out.push_str("[ ");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(" , ");
                }
                write_scrambled(item, out);
            }
            out.push_str(" ]");
        }
        other => out.push_str(&serde_json::to_string(other).unwrap()),
    }
}

#[test]
fn key_order_and_whitespace_of_received_bytes_do_not_matter() {
    // Repositories publish pretty or compact JSON in any key order; the signature covers
    // the canonical form, not the bytes.
    let sim = RepoSim::new(t0());
    let env = parse_envelope(&sim.bytes("root"));
    let mut text = String::new();
    write_scrambled(&env, &mut text);
    // Keys come in reverse order: `signed` before `signatures`, `version` before `_type`.
    assert!(text.find("\"signed\"").unwrap() < text.find("\"signatures\"").unwrap());
    assert!(text.find("\"version\"").unwrap() < text.find("\"_type\"").unwrap());
    TrustedSet::new(text.as_bytes(), t0()).unwrap();
    // Escaped and unescaped spellings of the same string are the same value, too.
    let escaped = text.replacen("\"root\"", "\"\\u0072oot\"", 1);
    assert_ne!(escaped, text);
    TrustedSet::new(escaped.as_bytes(), t0()).unwrap();
}
