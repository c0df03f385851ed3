//! The TUF metadata model: one set of types for clients and repositories.
//!
//! Every object keeps the fields tufkit does not know in an `unknown` map and writes them
//! back unchanged. Parsing ([`Parsed::from_slice`]) reads the bytes once into a JSON value,
//! canonicalises the `signed` value *as received* (that is what signatures cover), then
//! builds the typed model from the same value and validates it.

mod de;
mod delegations;
mod expires;
mod lazy;
mod root;
mod snapshot;
mod targets;

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use delegations::{DelegatedRole, Delegations, SuccinctRoles};
pub use expires::{format_expires, parse_expires};
pub use lazy::{DelegationsView, IndexedRole, Lazy, LazySnapshot, LazyTargets};
pub use root::{RoleKeys, Root, TOP_LEVEL_ROLES};
pub use snapshot::{MetaFile, Snapshot, Timestamp};
pub use targets::{TargetFile, Targets};

use crate::crypto::KeyId;
use crate::error::{Error, Result};

/// Algorithm name to lowercase hex digest.
pub type Hashes = BTreeMap<String, String>;

/// One signature in the envelope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signature {
    /// The keyid of the signing key (an opaque label when verifying).
    pub keyid: KeyId,
    /// Hex-encoded signature bytes. May be empty (a keyholder who has not signed yet).
    pub sig: String,
    /// Fields tufkit does not know.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

de::deserialize_keeping_unknown!(Signature, "a signature with keyid and sig",
    required { "keyid" => keyid: KeyId, "sig" => sig: String }
    optional {}
);

impl Signature {
    /// A signature with no unknown fields.
    pub fn new(keyid: KeyId, sig: String) -> Signature {
        Signature {
            keyid,
            sig,
            unknown: Map::new(),
        }
    }
}

/// The signed-metadata envelope: `{"signed": ..., "signatures": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metadata<T> {
    /// The signed role metadata.
    pub signed: T,
    /// Signatures over the canonical JSON of `signed`.
    pub signatures: Vec<Signature>,
    /// Envelope fields tufkit does not know.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Metadata<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct EnvelopeVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for EnvelopeVisitor<T> {
            type Value = Metadata<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a metadata envelope with signed and signatures")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Metadata<T>, A::Error> {
                use serde::de::Error as _;
                let (mut signed, mut signatures) = (None, None);
                let mut unknown = Map::new();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "signed" if signed.is_none() => signed = Some(map.next_value()?),
                        "signatures" if signatures.is_none() => {
                            signatures = Some(map.next_value()?)
                        }
                        "signed" | "signatures" => {
                            return Err(A::Error::custom(format!("duplicate field `{key}`")))
                        }
                        _ => {
                            let value: Value = map.next_value()?;
                            if unknown.insert(key.to_string(), value).is_some() {
                                return Err(A::Error::custom(format!("duplicate field `{key}`")));
                            }
                        }
                    }
                }
                Ok(Metadata {
                    signed: signed.ok_or_else(|| A::Error::missing_field("signed"))?,
                    signatures: signatures.ok_or_else(|| A::Error::missing_field("signatures"))?,
                    unknown,
                })
            }
        }
        d.deserialize_map(EnvelopeVisitor(std::marker::PhantomData))
    }
}

/// The accessors every role struct implements the same way (fields `_type`,
/// `spec_version`, `version`, `expires`).
macro_rules! common_accessors {
    () => {
        fn version(&self) -> u64 {
            self.version
        }
        fn expires(&self) -> DateTime<Utc> {
            self.expires
        }
        fn spec_version(&self) -> &str {
            &self.spec_version
        }
        fn type_field(&self) -> &str {
            &self.type_
        }
    };
}
pub(crate) use common_accessors;

/// Behaviour shared by the four kinds of role metadata.
pub trait RoleMetadata: Serialize + DeserializeOwned {
    /// The `_type` value for this kind.
    const TYPE: &'static str;
    /// The `version` field.
    fn version(&self) -> u64;
    /// The `expires` field.
    fn expires(&self) -> chrono::DateTime<chrono::Utc>;
    /// The `spec_version` field.
    fn spec_version(&self) -> &str;
    /// The `_type` field as received.
    fn type_field(&self) -> &str;
    /// Checks the constraints serde cannot express. `role` labels errors.
    fn validate(&self, role: &str) -> Result<()>;

    /// True when expired at `reference_time` (expired means `expires <= reference_time`).
    fn is_expired(&self, reference_time: chrono::DateTime<chrono::Utc>) -> bool {
        self.expires() <= reference_time
    }
}

/// Checks the fields every role has: `_type`, `spec_version` (1.x), `version` (>= 1).
pub(crate) fn validate_common<T: RoleMetadata>(m: &T, role: &str) -> Result<()> {
    if m.type_field() != T::TYPE {
        return Err(Error::WrongType {
            role: role.into(),
            expected: T::TYPE.into(),
            found: m.type_field().into(),
        });
    }
    // Like python-tuf: MAJOR.MINOR or MAJOR.MINOR.PATCH, digits only, major 1.
    let parts: Vec<&str> = m.spec_version().split('.').collect();
    let well_formed = (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !well_formed || parts[0] != "1" {
        return Err(Error::UnsupportedSpecVersion {
            role: role.into(),
            found: m.spec_version().into(),
        });
    }
    if m.version() == 0 {
        return Err(invalid(role, "signed.version", "must be 1 or more"));
    }
    Ok(())
}

pub(crate) fn invalid(role: &str, field: &str, reason: impl Into<String>) -> Error {
    Error::InvalidField {
        role: role.into(),
        field: field.into(),
        reason: reason.into(),
    }
}

/// Validates hex digests: known algorithms must have the right length, all must be hex,
/// and the map must not be empty. `field` names the map; it is only built on error (a
/// large targets document has one map per target).
pub(crate) fn validate_hashes(
    role: &str,
    field: impl Fn() -> String,
    hashes: &Hashes,
) -> Result<()> {
    if hashes.is_empty() {
        return Err(invalid(role, &field(), "must list at least one hash"));
    }
    for (alg, value) in hashes {
        // Checked without decoding: a large targets document has a hash per target.
        if value.len() % 2 != 0 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(
                role,
                &format!("{}.{alg}", field()),
                "is not a hex string",
            ));
        }
        if let Some(known) = crate::crypto::hash::HashAlgorithm::from_name(alg) {
            if value.len() != 2 * known.output_len() {
                return Err(invalid(
                    role,
                    &format!("{}.{alg}", field()),
                    format!(
                        "has {} bytes, a {alg} digest has {}",
                        value.len() / 2,
                        known.output_len()
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn json_error(role: &str, e: Error) -> Error {
    Error::Json {
        role: role.into(),
        reason: e.to_string(),
    }
}

/// Checks `signed` exists and, when `_type` is a string, that it names `T`'s kind.
fn check_type<T: RoleMetadata>(root: &crate::json::Node<'_>, role: &str) -> Result<()> {
    let signed = root
        .get("signed")
        .ok_or_else(|| invalid(role, "signed", "is missing"))?;
    if let Some(t) = signed.get("_type").and_then(|t| t.as_str()) {
        if t != T::TYPE {
            return Err(Error::WrongType {
                role: role.into(),
                expected: T::TYPE.into(),
                found: t.into(),
            });
        }
    }
    Ok(())
}

/// Builds a typed value from a parsed node. On failure the node is read again with path
/// tracking, so the error names the field (`prefix` is prepended to that path); tracking
/// costs too much to do on every successful parse of a large document.
pub(crate) fn from_node<'de, V: serde::Deserialize<'de>>(
    node: &crate::json::Node<'de>,
    role: &str,
    prefix: &str,
) -> Result<V> {
    match V::deserialize(node) {
        Ok(v) => Ok(v),
        Err(plain) => {
            let (path, reason) = match serde_path_to_error::deserialize::<_, V>(node) {
                Err(e) => (e.path().to_string(), e.into_inner().to_string()),
                Ok(_) => (String::new(), plain.to_string()),
            };
            let field = match (prefix.is_empty(), path.as_str()) {
                (true, _) => path.clone(),
                (false, "" | ".") => prefix.to_string(),
                (false, p) => format!("{prefix}.{p}"),
            };
            Err(invalid(role, &field, reason))
        }
    }
}

/// Metadata parsed from bytes, with the canonical bytes its signatures cover.
#[derive(Debug, Clone)]
pub struct Parsed<T> {
    /// The typed metadata.
    pub metadata: Metadata<T>,
    canonical_signed: Vec<u8>,
}

impl<T: RoleMetadata> Parsed<T> {
    /// Parses and validates metadata bytes. `role` labels errors (e.g. `"timestamp"`).
    ///
    /// The bytes are parsed once; the canonical form of `signed` is taken from the value as
    /// received, so unknown fields and any `expires` spelling are covered exactly.
    pub fn from_slice(bytes: &[u8], role: &str) -> Result<Parsed<T>> {
        let text = std::str::from_utf8(bytes).map_err(|e| Error::Json {
            role: role.into(),
            reason: format!("not UTF-8: {e}"),
        })?;
        let doc = crate::json::parse_document_str(text, crate::json::IndexSpec::default())
            .map_err(|e| json_error(role, e))?;
        check_type::<T>(&doc.root, role)?;
        let canonical_signed = crate::json::canonical_signed(text, &doc)
            .map_err(|e| json_error(role, e))?
            .into_owned();
        let metadata: Metadata<T> = from_node(&doc.root, role, "")?;
        validate_common(&metadata.signed, role)?;
        metadata.signed.validate(role)?;
        Ok(Parsed {
            metadata,
            canonical_signed,
        })
    }

    /// The canonical JSON bytes of `signed` as received.
    pub fn canonical_signed(&self) -> &[u8] {
        &self.canonical_signed
    }

    /// The typed `signed` part.
    pub fn signed(&self) -> &T {
        &self.metadata.signed
    }
}

impl<T: RoleMetadata> Metadata<T> {
    /// Wraps `signed` in an envelope with no signatures.
    pub fn new(signed: T) -> Metadata<T> {
        Metadata {
            signed,
            signatures: Vec::new(),
            unknown: Map::new(),
        }
    }

    /// The canonical JSON of `signed` as this model serialises it (for signing).
    pub fn canonical_signed(&self) -> Result<Vec<u8>> {
        crate::canonical::to_canonical_bytes(&self.signed)
    }

    /// Adds (or replaces) the signature of `key` over the current `signed` content.
    pub fn sign(&mut self, key: &crate::crypto::SigningKey) -> Result<()> {
        let sig = key.sign(&self.canonical_signed()?)?;
        self.signatures.retain(|s| s.keyid != sig.keyid);
        self.signatures.push(sig);
        Ok(())
    }

    /// Serialises the envelope as tufkit publishes it: keys sorted as in canonical JSON,
    /// indented ([`crate::canonical::indent_canonical`]), with a final newline.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>> {
        let mut out =
            crate::canonical::indent_canonical(&crate::canonical::to_canonical_bytes(self)?);
        out.push(b'\n');
        Ok(out)
    }
}
