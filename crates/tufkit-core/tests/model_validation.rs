//! Metadata model validation: malformed metadata is rejected with an error naming the
//! field, valid variants are accepted, and unknown fields survive a round trip.

use serde_json::{json, Value};
use tufkit_core::metadata::{Metadata, Parsed, RoleMetadata, Root, Snapshot, Targets, Timestamp};
use tufkit_core::Error;
use tufkit_testkit::keys::parse_envelope;
use tufkit_testkit::{default_reference_time, RepoSim};

/// A named change to a JSON document.
type Edit = Box<dyn Fn(&mut Value)>;

fn sim() -> RepoSim {
    let mut sim = RepoSim::new(default_reference_time());
    sim.add_target("targets", "a.txt", "a");
    sim.add_delegation("targets", "role-a", &["a/*"], false);
    sim.add_delegation("targets", "role-b", &["b/*"], false);
    sim.publish();
    sim
}

/// The sim's latest envelope of `role` as JSON, edited by `edit`, back to bytes.
fn edited(sim: &RepoSim, role: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut env = parse_envelope(&sim.bytes(role));
    edit(&mut env);
    serde_json::to_vec(&env).unwrap()
}

fn parse<T: RoleMetadata>(bytes: &[u8], role: &str) -> Result<Parsed<T>, Error> {
    Parsed::<T>::from_slice(bytes, role)
}

/// Asserts an InvalidField error whose field path or reason names `name`.
#[track_caller]
fn assert_names_field<T: std::fmt::Debug>(result: Result<T, Error>, name: &str) {
    let err = result.unwrap_err();
    match &err {
        Error::InvalidField { field, reason, .. } => assert!(
            field.contains(name) || reason.contains(name),
            "error does not name {name:?}: {err}"
        ),
        other => panic!("expected InvalidField naming {name:?}, got {other:?}"),
    }
}

#[test]
fn wrong_type_is_rejected() {
    let sim = sim();
    let err = parse::<Snapshot>(&sim.bytes("timestamp"), "snapshot").unwrap_err();
    assert!(
        matches!(err, Error::WrongType { ref expected, ref found, .. } if expected == "snapshot" && found == "timestamp"),
        "{err}"
    );
    let bytes = edited(&sim, "root", |v| v["signed"]["_type"] = json!("Root"));
    assert!(matches!(
        parse::<Root>(&bytes, "root"),
        Err(Error::WrongType { .. })
    ));
}

#[test]
fn version_zero_and_non_integer_versions_are_rejected() {
    let sim = sim();
    let bytes = edited(&sim, "targets", |v| v["signed"]["version"] = json!(0));
    assert_names_field(parse::<Targets>(&bytes, "targets"), "version");
    for bad in [json!(-1), json!("2")] {
        let bytes = edited(&sim, "targets", |v| v["signed"]["version"] = bad);
        assert_names_field(parse::<Targets>(&bytes, "targets"), "version");
    }
    // A float is not canonical JSON at all; it is rejected before the model is built.
    let bytes = edited(&sim, "targets", |v| v["signed"]["version"] = json!(1.5));
    assert!(parse::<Targets>(&bytes, "targets").is_err());
    let bytes = edited(&sim, "timestamp", |v| {
        v["signed"]["meta"]["snapshot.json"]["version"] = json!(0)
    });
    assert_names_field(parse::<Timestamp>(&bytes, "timestamp"), "version");
}

#[test]
fn missing_fields_are_named() {
    let sim = sim();
    let remove = |role: &str, path: &[&str], field: &str| {
        edited(&sim, role, |v| {
            let mut obj = v;
            for p in path {
                obj = &mut obj[*p];
            }
            obj.as_object_mut().unwrap().remove(field);
        })
    };
    let cases: [(&str, &[&str], &str); 7] = [
        ("root", &["signed"], "expires"),
        ("root", &["signed"], "keys"),
        ("root", &["signed"], "spec_version"),
        ("timestamp", &["signed"], "meta"),
        ("targets", &["signed"], "targets"),
        ("targets", &[], "signatures"),
        ("snapshot", &["signed"], "version"),
    ];
    for (role, path, field) in cases {
        let bytes = remove(role, path, field);
        let result = match role {
            "root" => parse::<Root>(&bytes, role).map(|_| ()),
            "timestamp" => parse::<Timestamp>(&bytes, role).map(|_| ()),
            "snapshot" => parse::<Snapshot>(&bytes, role).map(|_| ()),
            _ => parse::<Targets>(&bytes, role).map(|_| ()),
        };
        assert_names_field(result, field);
    }
    // A top-level role missing from root.roles, and a role missing its threshold.
    let bytes = edited(&sim, "root", |v| {
        v["signed"]["roles"]
            .as_object_mut()
            .unwrap()
            .remove("snapshot");
    });
    assert_names_field(parse::<Root>(&bytes, "root"), "snapshot");
    let bytes = edited(&sim, "root", |v| {
        v["signed"]["roles"]["timestamp"]
            .as_object_mut()
            .unwrap()
            .remove("threshold");
    });
    assert_names_field(parse::<Root>(&bytes, "root"), "threshold");
    let bytes = edited(&sim, "timestamp", |v| {
        let meta = v["signed"]["meta"].as_object_mut().unwrap();
        let entry = meta.remove("snapshot.json").unwrap();
        meta.insert("other.json".into(), entry);
    });
    assert_names_field(parse::<Timestamp>(&bytes, "timestamp"), "snapshot.json");
}

#[test]
fn zero_thresholds_are_rejected() {
    let sim = sim();
    let bytes = edited(&sim, "root", |v| {
        v["signed"]["roles"]["timestamp"]["threshold"] = json!(0)
    });
    assert_names_field(
        parse::<Root>(&bytes, "root"),
        "signed.roles.timestamp.threshold",
    );
    let bytes = edited(&sim, "targets", |v| {
        v["signed"]["delegations"]["roles"][1]["threshold"] = json!(0)
    });
    assert_names_field(parse::<Targets>(&bytes, "targets"), "roles[1].threshold");
}

#[test]
fn duplicate_delegated_role_names_are_rejected() {
    // Two entries for one name would let the weaker one decide who signs it.
    let sim = sim();
    let bytes = edited(&sim, "targets", |v| {
        v["signed"]["delegations"]["roles"][1]["name"] = json!("role-a")
    });
    assert_names_field(
        parse::<Targets>(&bytes, "targets"),
        "signed.delegations.roles[1]",
    );
}

#[test]
fn keyids_listed_twice_for_one_role_are_rejected() {
    // As in python-tuf: a keyid repeated in a role's list is a schema error, in root and in
    // delegations alike (counting would ignore the repeat, but such metadata is malformed).
    let sim = sim();
    let bytes = edited(&sim, "targets", |v| {
        let roles = &mut v["signed"]["delegations"]["roles"][0]["keyids"];
        let first = roles[0].clone();
        roles.as_array_mut().unwrap().push(first);
    });
    assert_names_field(
        parse::<Targets>(&bytes, "targets"),
        "signed.delegations.roles[0].keyids",
    );
    let bytes = edited(&sim, "root", |v| {
        let ids = &mut v["signed"]["roles"]["snapshot"]["keyids"];
        let first = ids[0].clone();
        ids.as_array_mut().unwrap().push(first);
    });
    assert_names_field(
        parse::<Root>(&bytes, "root"),
        "signed.roles.snapshot.keyids",
    );
}

#[test]
fn bad_hashes_are_rejected() {
    let sim = sim();
    let cases = [
        (json!({"sha256": "zz"}), "hashes.sha256"),
        (json!({"sha256": "abcd"}), "hashes.sha256"),
        (json!({"sha512": "ab".repeat(32)}), "hashes.sha512"),
        (json!({}), "hashes"),
    ];
    for (hashes, field) in cases {
        let bytes = edited(&sim, "targets", |v| {
            v["signed"]["targets"]["a.txt"]["hashes"] = hashes
        });
        assert_names_field(parse::<Targets>(&bytes, "targets"), field);
    }
    let bytes = edited(&sim, "timestamp", |v| {
        v["signed"]["meta"]["snapshot.json"]["hashes"] = json!({"sha256": "0g".repeat(32)})
    });
    assert_names_field(parse::<Timestamp>(&bytes, "timestamp"), "hashes.sha256");
}

#[test]
fn delegation_shape_errors_are_rejected() {
    let sim = sim();
    let bad: [(&str, Edit); 4] = [
        (
            "paths",
            Box::new(|v| {
                v["signed"]["delegations"]["roles"][0]["path_hash_prefixes"] = json!(["ab"])
            }),
        ),
        (
            "path_hash_prefixes",
            Box::new(|v| {
                let r = v["signed"]["delegations"]["roles"][0]
                    .as_object_mut()
                    .unwrap();
                r.remove("paths");
                r.insert("path_hash_prefixes".into(), json!(["xyz"]));
            }),
        ),
        (
            "cannot be a delegated role name",
            Box::new(|v| v["signed"]["delegations"]["roles"][0]["name"] = json!("snapshot")),
        ),
        (
            "succinct_roles",
            Box::new(|v| {
                v["signed"]["delegations"]["succinct_roles"] = json!({
                    "keyids": [], "threshold": 1, "bit_length": 4, "name_prefix": "bins"
                })
            }),
        ),
    ];
    for (name, edit) in bad {
        let bytes = edited(&sim, "targets", edit);
        assert_names_field(parse::<Targets>(&bytes, "targets"), name);
    }
}

#[test]
fn spec_version_major_must_be_1() {
    let sim = sim();
    let with = |s: &str| edited(&sim, "snapshot", |v| v["signed"]["spec_version"] = json!(s));
    for ok in ["1.0", "1.0.31", "1.99.0"] {
        parse::<Snapshot>(&with(ok), "snapshot").unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    // python-tuf accepts two or three numeric components with major 1, and nothing else.
    for bad in ["2.0", "2.0.0", "0.9", "1", "1.0.0.0", "1.x", "", "v1.0"] {
        let err = parse::<Snapshot>(&with(bad), "snapshot").unwrap_err();
        assert!(
            matches!(err, Error::UnsupportedSpecVersion { ref found, .. } if found == bad),
            "{bad:?}: {err}"
        );
    }
}

#[test]
fn invalid_expires_is_rejected() {
    let sim = sim();
    for bad in ["2030-01-01", "tomorrow", "2030-13-01T00:00:00Z"] {
        let bytes = edited(&sim, "targets", |v| v["signed"]["expires"] = json!(bad));
        assert_names_field(parse::<Targets>(&bytes, "targets"), "expires");
    }
}

/// Adds unknown fields at every level of a metadata envelope.
fn decorate(env: &mut Value) {
    env["x-envelope"] = json!({"a": 1});
    env["signatures"][0]["x-sig"] = json!([true]);
    env["signed"]["x-top"] = json!("t");
}

#[test]
fn unknown_fields_round_trip_unchanged() {
    // A repository tool that drops unknown fields on re-signing would silently strip data
    // other tools depend on (and invalidate co-signers' signatures).
    let sim = sim();
    let root_id = sim.keys("root")[0].key_id().0.clone();
    let deleg_id = sim.keys("role-a")[0].key_id().0.clone();
    let cases: Vec<(&str, Edit)> = vec![
        (
            "root",
            Box::new(move |v| {
                v["signed"]["keys"][&root_id]["x-keyowner"] = json!("alice");
                v["signed"]["keys"][&root_id]["keyval"]["x-kv"] = json!(1);
                v["signed"]["roles"]["targets"]["x-role"] = json!({});
            }),
        ),
        (
            "timestamp",
            Box::new(|v| v["signed"]["meta"]["snapshot.json"]["x-meta"] = json!(null)),
        ),
        (
            "snapshot",
            Box::new(|v| v["signed"]["meta"]["targets.json"]["x-meta"] = json!(7)),
        ),
        (
            "targets",
            Box::new(move |v| {
                v["signed"]["targets"]["a.txt"]["x-target"] = json!("z");
                v["signed"]["targets"]["a.txt"]["custom"] = json!({"any": ["thing"]});
                v["signed"]["delegations"]["x-deleg"] = json!(1);
                v["signed"]["delegations"]["roles"][0]["x-dr"] = json!(2);
                v["signed"]["delegations"]["keys"][&deleg_id]["x-k"] = json!(3);
            }),
        ),
    ];
    for (role, edit) in cases {
        let bytes = edited(&sim, role, |v| {
            decorate(v);
            edit(v);
        });
        let original: Value = serde_json::from_slice(&bytes).unwrap();
        let again = match role {
            "root" => round_trip::<Root>(&bytes, role),
            "timestamp" => round_trip::<Timestamp>(&bytes, role),
            "snapshot" => round_trip::<Snapshot>(&bytes, role),
            _ => round_trip::<Targets>(&bytes, role),
        };
        assert_eq!(again, original, "{role} lost or changed fields");
    }
}

/// parse -> serialise -> parse -> serialise; returns the final JSON value.
fn round_trip<T: RoleMetadata>(bytes: &[u8], role: &str) -> Value {
    let first: Metadata<T> = Parsed::<T>::from_slice(bytes, role).unwrap().metadata;
    let bytes = first.to_json_bytes().unwrap();
    let second = Parsed::<T>::from_slice(&bytes, role).unwrap();
    assert_eq!(
        second.canonical_signed(),
        first.canonical_signed().unwrap().as_slice(),
        "{role}: canonical bytes changed"
    );
    serde_json::to_value(&second.metadata).unwrap()
}
