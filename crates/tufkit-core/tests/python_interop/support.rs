//! Helpers of `python_interop.rs`: the Python interpreter and scripts, the vector
//! manifest, TrustedSet walks and searches, tampering, and writing tufkit-signed metadata.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tufkit_core::canonical::to_canonical;
use tufkit_core::crypto::hash::HashAlgorithm;
use tufkit_core::crypto::{Key, KeyId, RoleKeysRef, SigningKey};
use tufkit_core::metadata::{
    format_expires, parse_expires, Delegations, MetaFile, Metadata, Parsed, RoleKeys, RoleMetadata,
    Root, Signature, Snapshot, TargetFile, Targets, Timestamp,
};
use tufkit_core::rolename::role_file_name;
use tufkit_core::{Error, SearchStep, TargetSearch, TrustedSet, DEFAULT_MAX_DELEGATIONS};

/// spec_version written into tufkit's metadata.
pub const SPEC_VERSION: &str = "1.0.31";
/// Reference time of the tufkit-written vectors (the same as gen_vectors.py's).
const REFERENCE_TIME: &str = "2030-06-01T00:00:00Z";

/// Runs `tests/interop/python/SCRIPT DIR`; panics with its output unless it succeeds.
pub fn run_script(script: &str, dir: &Path) -> String {
    tufkit_testkit::python::run_python_script(script, &[dir])
}

/// `manifest.json` as gen_vectors.py documents it.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// When the accepted vectors are valid.
    pub reference_time: String,
    /// Every vector.
    pub vectors: Vec<Vector>,
    /// Accepted files in client load order.
    pub walk: Vec<Step>,
    /// Target searches and their expected results.
    #[serde(default)]
    pub searches: Vec<Search>,
    /// PKCS#8 PEM private keys by kind.
    #[serde(default)]
    pub private_keys: BTreeMap<String, String>,
    /// Their public keys as securesystemslib writes them, by kind.
    #[serde(default)]
    pub public_keys: BTreeMap<String, PythonKey>,
}

/// A public key and the keyid securesystemslib computed for it.
#[derive(Debug, Clone, Deserialize)]
pub struct PythonKey {
    pub keyid: String,
    pub key: Value,
}

/// One metadata file and what must happen to it.
#[derive(Debug, Clone, Deserialize)]
pub struct Vector {
    pub file: String,
    pub canonical: String,
    pub role: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub delegator: String,
    pub verified_by: Vec<String>,
    pub verdict: String,
    pub reason: Option<String>,
    pub after: Option<String>,
}

/// One step of the client walk.
#[derive(Debug, Clone, Deserialize)]
pub struct Step {
    pub file: String,
    pub role: String,
    pub delegator: String,
}

/// A target path and the role expected to provide it (`None`: not found).
#[derive(Debug, Clone, Deserialize)]
pub struct Search {
    pub target: String,
    pub role: Option<String>,
    pub length: Option<u64>,
    pub hashes: Option<BTreeMap<String, String>>,
}

impl Manifest {
    /// Reads `DIR/manifest.json`.
    pub fn load(dir: &Path) -> Manifest {
        serde_json::from_slice(&read(dir, "manifest.json")).expect("manifest.json is malformed")
    }

    fn time(&self) -> DateTime<Utc> {
        parse_expires(&self.reference_time).expect("manifest reference_time")
    }
}

/// Reads `DIR/NAME`.
pub fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("cannot read {name}: {e}"))
}

/// Panics, showing where, if two canonical encodings differ.
pub fn assert_same_bytes(what: &str, ours: &[u8], theirs: &[u8]) {
    if ours == theirs {
        return;
    }
    let at = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(theirs.len()));
    let around = |b: &[u8]| {
        String::from_utf8_lossy(&b[at.saturating_sub(30)..(at + 30).min(b.len())]).into_owned()
    };
    panic!(
        "{what}: tufkit's canonical JSON differs from python-tuf's at byte {at} \
         (lengths {} / {}):\n tufkit: {:?}\n python: {:?}",
        ours.len(),
        theirs.len(),
        around(ours),
        around(theirs)
    );
}

/// Parses metadata of `type_` with tufkit; returns its canonical `signed` bytes and signatures.
pub fn parse_any(
    bytes: &[u8],
    type_: &str,
    role: &str,
) -> Result<(Vec<u8>, Vec<Signature>), Error> {
    fn split<T: RoleMetadata>(p: Parsed<T>) -> (Vec<u8>, Vec<Signature>) {
        (p.canonical_signed().to_vec(), p.metadata.signatures)
    }
    Ok(match type_ {
        "root" => split(Parsed::<Root>::from_slice(bytes, role)?),
        "timestamp" => split(Parsed::<Timestamp>::from_slice(bytes, role)?),
        "snapshot" => split(Parsed::<Snapshot>::from_slice(bytes, role)?),
        "targets" => split(Parsed::<Targets>::from_slice(bytes, role)?),
        other => panic!("unknown metadata type {other:?}"),
    })
}

/// The keys a delegator lists for one role, owned.
pub struct OwnedRoleKeys {
    pub keys: BTreeMap<KeyId, Key>,
    keyids: Vec<KeyId>,
    threshold: u64,
}

impl OwnedRoleKeys {
    /// The view `verify_threshold` takes.
    pub fn as_ref(&self) -> RoleKeysRef<'_> {
        RoleKeysRef {
            keyids: &self.keyids,
            threshold: self.threshold,
        }
    }
}

/// Keys and threshold for `role` from the delegator metadata in `verifier` (a root, or a
/// targets role with `roles` or `succinct_roles`), read with tufkit.
pub fn role_keys_from(dir: &Path, verifier: &str, role: &str) -> OwnedRoleKeys {
    let bytes = read(dir, verifier);
    let value: Value = serde_json::from_slice(&bytes).unwrap();
    match value["signed"]["_type"].as_str() {
        Some("root") => {
            let root = Parsed::<Root>::from_slice(&bytes, "root").unwrap();
            let keys = root
                .signed()
                .role(role)
                .unwrap_or_else(|| panic!("{verifier} has no role {role}"));
            OwnedRoleKeys {
                keys: root.signed().keys.clone(),
                keyids: keys.keyids.clone(),
                threshold: keys.threshold,
            }
        }
        Some("targets") => {
            let targets = Parsed::<Targets>::from_slice(&bytes, verifier).unwrap();
            let d = targets
                .signed()
                .delegations
                .as_ref()
                .unwrap_or_else(|| panic!("{verifier} delegates nothing"));
            let keys = d
                .role_keys(role)
                .unwrap_or_else(|| panic!("{verifier} does not delegate {role}"));
            OwnedRoleKeys {
                keys: d.keys.clone(),
                keyids: keys.keyids.to_vec(),
                threshold: keys.threshold,
            }
        }
        other => panic!("{verifier}: {other:?} cannot delegate"),
    }
}

/// Loads one file into the trusted set as `role`.
pub fn apply(ts: &mut TrustedSet, bytes: &[u8], role: &str, delegator: &str) -> Result<(), Error> {
    match role {
        "root" => ts.update_root(bytes).map(drop),
        "timestamp" => ts.update_timestamp(bytes).map(drop),
        "snapshot" => ts.update_snapshot(bytes).map(drop),
        "targets" => ts.update_targets(bytes).map(drop),
        _ => ts
            .update_delegated_targets(bytes, role, delegator)
            .map(drop),
    }
}

/// Walks the manifest's `walk` at its reference time, stopping after file `until`.
pub fn walk(dir: &Path, m: &Manifest, until: Option<&str>) -> TrustedSet {
    let mut trusted: Option<TrustedSet> = None;
    for step in &m.walk {
        let bytes = read(dir, &step.file);
        let result = match trusted.as_mut() {
            None => TrustedSet::new(&bytes, m.time()).map(|ts| trusted = Some(ts)),
            Some(ts) => apply(ts, &bytes, &step.role, &step.delegator),
        };
        result.unwrap_or_else(|e| panic!("tufkit rejects {} as {}: {e}", step.file, step.role));
        if until == Some(step.file.as_str()) {
            break;
        }
    }
    trusted.expect("the walk has no root")
}

/// Searches `target` (spec 5.6.7), loading delegated roles from `DIR/ROLE.json` on demand.
pub fn search(dir: &Path, ts: &mut TrustedSet, target: &str) -> Option<(String, TargetFile)> {
    let mut search = TargetSearch::new(target, DEFAULT_MAX_DELEGATIONS);
    for _ in 0..64 {
        match search.step(ts) {
            SearchStep::NeedRole { role, delegator } => {
                let bytes = read(dir, &role_file_name(&role, None));
                ts.update_delegated_targets(&bytes, &role, &delegator)
                    .unwrap_or_else(|e| panic!("search {target:?}: tufkit rejects {role}: {e}"));
            }
            SearchStep::Found { target, role } => return Some((role, target)),
            SearchStep::NotFound => {
                assert!(
                    search.failures().is_empty(),
                    "search {target:?}: {:?}",
                    search.failures()
                );
                return None;
            }
        }
    }
    panic!("search {target:?} did not finish")
}

/// Changes the first ASCII letter or digit of a string value, keeping hex valid.
pub fn flip_char(v: &mut Value) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string();
    let (i, c) = s
        .char_indices()
        .find(|(_, c)| c.is_ascii_alphanumeric())
        .expect("nothing to flip");
    let flipped = match c {
        '9' => '0',
        'f' => 'a',
        '0'..='8' | 'a'..='e' => (c as u8 + 1) as char,
        c if c.is_ascii_uppercase() => c.to_ascii_lowercase(),
        c => c.to_ascii_uppercase(),
    };
    *v = Value::String(format!("{}{flipped}{}", &s[..i], &s[i + 1..]));
}

/// Renames key `from` of a JSON object to `to`.
pub fn rename_key(obj: &mut Value, from: &str, to: &str) {
    let map = obj.as_object_mut().expect("an object");
    let v = map
        .remove(from)
        .unwrap_or_else(|| panic!("no key {from:?}"));
    map.insert(to.to_string(), v);
}

/// The expiry of every tufkit-written vector.
pub fn expires() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2040, 1, 1, 0, 0, 0).unwrap()
}

/// A JSON object literal as an unknown-fields map.
pub fn unknown(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// A root role entry for `signers`.
pub fn role_keys(signers: &[&SigningKey], threshold: u64) -> RoleKeys {
    RoleKeys {
        keyids: signers.iter().map(|s| s.key_id().clone()).collect(),
        threshold,
        unknown: Map::new(),
    }
}

/// The public key of `s` with unknown fields in the key and in its keyval.
pub fn key_with_unknown(s: &SigningKey, owner: &str) -> Key {
    let mut key = s.public_key().clone();
    key.unknown.insert(
        "x-tufkit-keyowner".into(),
        json!(format!("{owner} \u{2603}")),
    );
    key.keyval
        .unknown
        .insert("x-tufkit-keyval-note".into(), json!("kept as is"));
    key
}

fn hashes_of(data: &[u8]) -> BTreeMap<String, String> {
    [HashAlgorithm::Sha256, HashAlgorithm::Sha512]
        .into_iter()
        .map(|a| (a.name().to_string(), a.hex_digest(data)))
        .collect()
}

/// Target info for `path` (content "content of PATH"); `custom` null means none.
fn target_file(path: &str, custom: Value) -> TargetFile {
    let data = format!("content of {path}");
    TargetFile {
        length: data.len() as u64,
        hashes: hashes_of(data.as_bytes()),
        custom: (!custom.is_null()).then_some(custom),
        unknown: unknown(json!({"x-tufkit-target-note": "unknown field in a target"})),
    }
}

/// A targets role listing `targets` (path, custom) with optional delegations.
pub fn targets_with(
    version: u64,
    targets: &[(&str, Value)],
    delegations: Option<Delegations>,
) -> Targets {
    Targets {
        type_: "targets".into(),
        spec_version: SPEC_VERSION.into(),
        version,
        expires: expires(),
        targets: targets
            .iter()
            .map(|(p, c)| (p.to_string(), target_file(p, c.clone())))
            .collect(),
        delegations,
        unknown: Map::new(),
    }
}

/// Writes tufkit-signed metadata, FILE.canonical and a manifest for verify_with_python_tuf.py.
pub struct Out {
    dir: PathBuf,
    files: BTreeMap<String, Vec<u8>>,
    vectors: Vec<Value>,
    walk: Vec<Value>,
}

impl Out {
    /// Writes into `dir`.
    pub fn new(dir: &Path) -> Out {
        Out {
            dir: dir.to_path_buf(),
            files: BTreeMap::new(),
            vectors: Vec::new(),
            walk: Vec::new(),
        }
    }

    /// Signs `signed` with every key and writes it as `name`.
    pub fn write<T: RoleMetadata>(&mut self, name: &str, signed: T, keys: &[&SigningKey]) {
        let mut md = Metadata::new(signed);
        for k in keys {
            md.sign(k).unwrap();
        }
        self.write_md(name, &md);
    }

    /// Writes an envelope as it is (e.g. with signatures over other content).
    pub fn write_md<T: RoleMetadata>(&mut self, name: &str, md: &Metadata<T>) {
        let bytes = md.to_json_bytes().unwrap();
        let canonical = md.canonical_signed().unwrap();
        // What tufkit signs must be what it reads back.
        let parsed = Parsed::<T>::from_slice(&bytes, name).unwrap();
        assert_same_bytes(name, parsed.canonical_signed(), &canonical);
        std::fs::write(self.dir.join(name), &bytes).unwrap();
        std::fs::write(self.dir.join(format!("{name}.canonical")), &canonical).unwrap();
        self.files.insert(name.to_string(), bytes);
    }

    /// Snapshot/timestamp entry (version, length, hashes) for a file written before.
    pub fn meta(&self, name: &str, version: u64) -> MetaFile {
        let bytes = &self.files[name];
        MetaFile {
            version,
            length: Some(bytes.len() as u64),
            hashes: Some(hashes_of(bytes)),
            unknown: unknown(json!({"x-tufkit-meta-note": "q\"b\\"})),
        }
    }

    fn entry(
        file: &str,
        role: &str,
        delegator: &str,
        verified_by: &[&str],
        verdict: &str,
    ) -> Value {
        let type_ = match role {
            "root" | "timestamp" | "snapshot" => role,
            _ => "targets",
        };
        json!({"file": file, "canonical": format!("{file}.canonical"), "role": role, "type": type_,
               "delegator": delegator, "verified_by": verified_by, "verdict": verdict,
               "reference_time": REFERENCE_TIME})
    }

    /// Declares an accepted file; the walk follows the order of these calls.
    pub fn vector(&mut self, file: &str, role: &str, delegator: &str, verified_by: &[&str]) {
        self.vectors
            .push(Self::entry(file, role, delegator, verified_by, "accept"));
        self.walk
            .push(json!({"file": file, "role": role, "delegator": delegator}));
    }

    /// Declares a file whose signatures must not verify.
    pub fn reject(&mut self, file: &str, role: &str, delegator: &str, verified_by: &[&str]) {
        let mut v = Self::entry(file, role, delegator, verified_by, "reject");
        v["reason"] = json!("signature");
        v["after"] = self
            .walk
            .last()
            .map(|s| s["file"].clone())
            .unwrap_or(Value::Null);
        self.vectors.push(v);
    }

    /// Writes manifest.json with the searches (target, role that must provide it).
    pub fn finish(self, searches: &[(String, Option<String>)]) {
        let searches: Vec<Value> = searches
            .iter()
            .map(|(path, role)| match role {
                Some(role) => {
                    let tf = target_file(path, Value::Null);
                    json!({"target": path, "role": role, "length": tf.length, "hashes": tf.hashes})
                }
                None => json!({"target": path, "role": null}),
            })
            .collect();
        let time = parse_expires(REFERENCE_TIME).unwrap();
        let manifest = json!({
            "generator": format!("tufkit-core {}", env!("CARGO_PKG_VERSION")),
            "reference_time": format_expires(&time),
            "vectors": self.vectors,
            "walk": self.walk,
            "searches": searches,
        });
        let text = serde_json::to_vec_pretty(&manifest).unwrap();
        std::fs::write(self.dir.join("manifest.json"), text).unwrap();
        // Make sure the canonical encoder accepts the manifest's own strings too.
        to_canonical(&manifest).unwrap();
    }
}
