//! Targets and snapshot metadata as a client holds them: the received bytes, the typed
//! fields, and an index of the one large map (`targets`, `meta`) whose entries are built
//! only when asked for.
//!
//! A registry's `targets.json` can list 100,000 targets and its snapshot 16,384 roles; a
//! client looks up one of them. [`Lazy::parse`] reads the whole document once (every byte
//! is checked: well-formed JSON, unique keys, integers only), verifies nothing itself, and
//! keeps the entries of the large map as byte ranges. An entry is built and validated when
//! it is read ([`Lazy::entry`]); a malformed entry is an error then, for that entry. See
//! `docs/adr/0007-indexed-targets-and-snapshot.md`.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use std::collections::BTreeMap;

use super::delegations::{check_role_name, node_matches};
use super::TOP_LEVEL_ROLES;
use super::{
    check_type, from_node, invalid, json_error, validate_common, DelegatedRole, Delegations,
    MetaFile, Metadata, Parsed, RoleMetadata, Signature, Snapshot, SuccinctRoles, TargetFile,
    Targets,
};
use crate::crypto::hash::HashAlgorithm;
use crate::crypto::{Key, KeyId};
use crate::error::{Error, Result};
use crate::json::RawEntry;

/// A role whose metadata has one large map that [`Lazy`] indexes instead of building.
pub trait IndexedRole: RoleMetadata {
    /// The field of `signed` that is indexed.
    const INDEXED_FIELD: &'static str;
    /// The type of the map's values.
    type Entry: DeserializeOwned;
    /// Whether `delegations.roles` is indexed too.
    const INDEX_DELEGATED_ROLES: bool;
    /// Checks one entry once built; `field` is its JSON path for errors.
    fn validate_entry(entry: &Self::Entry, role: &str, field: &str) -> Result<()>;
    /// The fields of `signed` tufkit does not know.
    fn unknown_fields(&self) -> &Map<String, Value>;
}

impl IndexedRole for Targets {
    const INDEXED_FIELD: &'static str = "targets";
    type Entry = TargetFile;
    const INDEX_DELEGATED_ROLES: bool = true;
    fn validate_entry(entry: &TargetFile, role: &str, field: &str) -> Result<()> {
        super::validate_hashes(role, || format!("{field}.hashes"), &entry.hashes)
    }
    fn unknown_fields(&self) -> &Map<String, Value> {
        &self.unknown
    }
}

impl IndexedRole for Snapshot {
    const INDEXED_FIELD: &'static str = "meta";
    type Entry = MetaFile;
    const INDEX_DELEGATED_ROLES: bool = false;
    fn validate_entry(entry: &MetaFile, role: &str, field: &str) -> Result<()> {
        entry.validate(role, || field.to_string())
    }
    fn unknown_fields(&self) -> &Map<String, Value> {
        &self.unknown
    }
}

/// Where the canonical bytes of `signed` are.
#[derive(Debug, Clone)]
enum Canonical {
    /// This range of the received bytes is canonical as it is.
    Received(std::ops::Range<usize>),
    /// Re-encoded (the received bytes had whitespace, escapes or unsorted keys).
    Encoded(Vec<u8>),
}

/// Parsed targets or snapshot metadata with its large map indexed (see the module docs).
#[derive(Debug, Clone)]
pub struct Lazy<T: IndexedRole> {
    role: String,
    /// The received bytes (checked to be UTF-8 once, when parsed).
    text: String,
    /// The envelope and `signed`, with the indexed map left empty.
    metadata: Metadata<T>,
    canonical: Canonical,
    index: Vec<RawEntry>,
    /// `delegations.roles`, when present and indexed.
    roles: Option<RolesIndex>,
}

/// The elements of `delegations.roles` in priority order, and their order by name.
#[derive(Debug, Clone)]
struct RolesIndex {
    elements: Vec<RawEntry>,
    by_name: Vec<usize>,
}

/// A targets role (top-level or delegated) as a client holds it.
pub type LazyTargets = Lazy<Targets>;
/// A snapshot as a client holds it.
pub type LazySnapshot = Lazy<Snapshot>;

impl<T: IndexedRole> Lazy<T> {
    /// Parses `bytes` once: checks every byte, builds all fields but the indexed map, and
    /// validates what is built. `role` labels errors (e.g. `"targets"`, `"bins-0a"`).
    pub fn parse(bytes: Vec<u8>, role: &str) -> Result<Lazy<T>> {
        let text = String::from_utf8(bytes).map_err(|e| Error::Json {
            role: role.into(),
            reason: format!("not UTF-8: {}", e.utf8_error()),
        })?;
        let (metadata, canonical, index, roles) = {
            let spec = crate::json::IndexSpec {
                map: Some(T::INDEXED_FIELD),
                delegated_roles: T::INDEX_DELEGATED_ROLES,
            };
            let doc =
                crate::json::parse_document_str(&text, spec).map_err(|e| json_error(role, e))?;
            check_type::<T>(&doc.root, role)?;
            let Some((range, _)) = doc.signed.clone() else {
                return Err(invalid(role, "signed", "is missing"));
            };
            let canonical = match crate::json::canonical_signed(&text, &doc)
                .map_err(|e| json_error(role, e))?
            {
                Cow::Borrowed(_) => Canonical::Received(range),
                Cow::Owned(v) => Canonical::Encoded(v),
            };
            let metadata: Metadata<T> = from_node(&doc.root, role, "")?;
            let Some(index) = doc.index else {
                // The field is missing or not an object: the typed parse above says which.
                return Err(invalid(
                    role,
                    &format!("signed.{}", T::INDEXED_FIELD),
                    "must be an object",
                ));
            };
            let roles = match doc.roles {
                Some(elements) => Some(RolesIndex::new(elements, &text, role)?),
                None => None,
            };
            (metadata, canonical, index, roles)
        };
        validate_common(&metadata.signed, role)?;
        metadata.signed.validate(role)?;
        Ok(Lazy {
            role: role.to_string(),
            text,
            metadata,
            canonical,
            index,
            roles,
        })
    }

    /// The bytes as received (what a client stores).
    pub fn bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    /// The canonical JSON of `signed`, which signatures cover.
    pub fn canonical_signed(&self) -> &[u8] {
        match &self.canonical {
            Canonical::Received(r) => self.bytes().get(r.clone()).unwrap_or_default(),
            Canonical::Encoded(v) => v,
        }
    }

    /// The signatures in the envelope.
    pub fn signatures(&self) -> &[Signature] {
        &self.metadata.signatures
    }

    /// The `version` field.
    pub fn version(&self) -> u64 {
        self.metadata.signed.version()
    }

    /// The `expires` field.
    pub fn expires(&self) -> chrono::DateTime<chrono::Utc> {
        self.metadata.signed.expires()
    }

    /// True when expired at `reference_time`.
    pub fn is_expired(&self, reference_time: chrono::DateTime<chrono::Utc>) -> bool {
        self.metadata.signed.is_expired(reference_time)
    }

    /// Number of entries in the indexed map.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when the indexed map is empty.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The keys of the indexed map, in canonical (sorted) order.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.index.iter().map(move |e| e.key_str(&self.text))
    }

    /// Every entry of the indexed map as (key, received bytes), in key order.
    pub fn raw_entries(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.index.iter().map(move |e| {
            let raw = self.bytes().get(e.value.clone()).unwrap_or_default();
            (e.key_str(&self.text), raw)
        })
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.index
            .binary_search_by(|e| e.key_str(&self.text).as_bytes().cmp(key.as_bytes()))
            .ok()
    }

    /// The received bytes of the entry for `key`, unparsed.
    pub fn raw_entry(&self, key: &str) -> Option<&[u8]> {
        let i = self.position(key)?;
        self.bytes().get(self.index[i].value.clone())
    }

    /// Builds and validates the entry for `key` (`None` when the map has no such key).
    pub fn entry(&self, key: &str) -> Result<Option<T::Entry>> {
        let Some(raw) = self.raw_entry(key) else {
            return Ok(None);
        };
        let field = format!("signed.{}.{key}", T::INDEXED_FIELD);
        let node = crate::json::parse(raw).map_err(|e| json_error(&self.role, e))?;
        let entry: T::Entry = from_node(&node, &self.role, &field)?;
        T::validate_entry(&entry, &self.role, &field)?;
        Ok(Some(entry))
    }

    /// The whole metadata, every entry built (for tools that list everything).
    pub fn to_metadata(&self) -> Result<Metadata<T>> {
        Parsed::<T>::from_slice(self.bytes(), &self.role).map(|p| p.metadata)
    }

    /// Unknown fields of `signed`.
    pub fn unknown(&self) -> &Map<String, Value> {
        self.metadata.signed.unknown_fields()
    }
}

impl Lazy<Targets> {
    /// What this role says about `target_path`, if it lists it (built and validated now).
    pub fn target(&self, target_path: &str) -> Result<Option<TargetFile>> {
        self.entry(target_path)
    }

    /// The roles this role delegates to, if any.
    pub fn delegations(&self) -> Option<DelegationsView<'_>> {
        let delegations = self.metadata.signed.delegations.as_ref()?;
        Some(DelegationsView {
            delegations,
            roles: self.roles.as_ref(),
            text: &self.text,
            role: &self.role,
        })
    }
}

impl Lazy<Snapshot> {
    /// The entry for a targets role, by role name (`ROLE.json` in `meta`).
    pub fn role_meta(&self, role: &str) -> Result<Option<MetaFile>> {
        self.entry(&format!("{role}.json"))
    }
}

impl RolesIndex {
    /// Checks every element has a valid, unique name (the rest is checked when built).
    fn new(elements: Vec<RawEntry>, text: &str, role: &str) -> Result<RolesIndex> {
        for (i, e) in elements.iter().enumerate() {
            let field = || format!("signed.delegations.roles[{i}].name");
            // An element without a string `name` has an empty key range at offset 0.
            if e.key == (0..0) && e.decoded.is_none() {
                return Err(invalid(role, &field(), "is missing or not a string"));
            }
            let name = e.key_str(text);
            if name.is_empty() || TOP_LEVEL_ROLES.contains(&name) {
                check_role_name(role, &field(), name)?;
            }
        }
        let mut by_name: Vec<usize> = (0..elements.len()).collect();
        // Hashed bins are usually listed in name order already.
        let in_order = elements
            .windows(2)
            .all(|w| w[0].key_str(text) < w[1].key_str(text));
        if !in_order {
            by_name.sort_by(|&a, &b| elements[a].key_str(text).cmp(elements[b].key_str(text)));
        }
        if let Some(w) = by_name
            .windows(2)
            .find(|w| elements[w[0]].key_str(text) == elements[w[1]].key_str(text))
        {
            let later = w[0].max(w[1]);
            return Err(invalid(
                role,
                &format!("signed.delegations.roles[{later}]"),
                format!(
                    "role name {:?} is delegated twice",
                    elements[later].key_str(text)
                ),
            ));
        }
        Ok(RolesIndex { elements, by_name })
    }
}

/// The `delegations` of a targets role as a client holds it: keys and succinct roles are
/// built; the entries of `roles` are built when a search or a signature check reaches them.
#[derive(Debug, Clone, Copy)]
pub struct DelegationsView<'a> {
    delegations: &'a Delegations,
    roles: Option<&'a RolesIndex>,
    text: &'a str,
    role: &'a str,
}

impl<'a> DelegationsView<'a> {
    fn text(&self) -> &'a str {
        self.text
    }

    /// Keys the delegated roles use, by keyid.
    pub fn keys(&self) -> &'a BTreeMap<KeyId, Key> {
        &self.delegations.keys
    }

    /// TAP 15 hashed bins, if this role delegates that way.
    pub fn succinct_roles(&self) -> Option<&'a SuccinctRoles> {
        self.delegations.succinct_roles.as_ref()
    }

    /// Names of the roles in `delegations.roles`, in priority order.
    pub fn role_names(&self) -> Vec<&'a str> {
        match self.roles {
            Some(index) => {
                let text = self.text();
                index.elements.iter().map(|e| e.key_str(text)).collect()
            }
            None => self
                .delegations
                .roles
                .iter()
                .flatten()
                .map(|r| r.name.as_str())
                .collect(),
        }
    }

    fn build(&self, index: &RolesIndex, i: usize) -> Result<DelegatedRole> {
        let field = format!("signed.delegations.roles[{i}]");
        let element = &index.elements[i];
        let raw = self
            .text
            .as_bytes()
            .get(element.value.clone())
            .unwrap_or_default();
        let node = crate::json::parse(raw).map_err(|e| json_error(self.role, e))?;
        let role: DelegatedRole = from_node(&node, self.role, &field)?;
        role.validate(self.role, &field)?;
        Ok(role)
    }

    /// The entry of `delegations.roles` for `name`, built and validated now.
    pub fn role(&self, name: &str) -> Result<Option<DelegatedRole>> {
        let Some(index) = self.roles else {
            return Ok(self
                .delegations
                .roles
                .iter()
                .flatten()
                .find(|r| r.name == name)
                .cloned());
        };
        let text = self.text();
        let Ok(pos) = index
            .by_name
            .binary_search_by(|&i| index.elements[i].key_str(text).cmp(name))
        else {
            return Ok(None);
        };
        self.build(index, index.by_name[pos]).map(Some)
    }

    /// The keyids and threshold this role gives `name` (a listed role or a succinct bin).
    pub fn role_keys(&self, name: &str) -> Result<Option<(Vec<KeyId>, u64)>> {
        if self.roles.is_some() || self.delegations.roles.is_some() {
            return Ok(self.role(name)?.map(|r| (r.keyids, r.threshold)));
        }
        Ok(self
            .delegations
            .role_keys(name)
            .map(|k| (k.keyids.to_vec(), k.threshold)))
    }

    /// The roles to visit for `target_path` in priority order, with their `terminating`
    /// flag, up to the first terminating one (spec 5.6.7.2). Only roles whose paths match
    /// are built.
    pub fn roles_for_target(&self, target_path: &str) -> Result<Vec<(String, bool)>> {
        let digest = HashAlgorithm::Sha256.hex_digest(target_path.as_bytes());
        let mut out = Vec::new();
        let mut from = 0;
        while let Some((i, name, terminating)) = self.next_match(target_path, &digest, from)? {
            out.push((name, terminating));
            if terminating {
                break;
            }
            from = i + 1;
        }
        Ok(out)
    }

    /// The first delegation at position `from` or later that is trusted for
    /// `target_path` (5.6.7.2.1.3), as (position, role name, terminating); `path_digest`
    /// is the hex SHA-256 of the path. A search asks for the next one only after the
    /// previous one's subtree, so roles after the one that lists the target are never
    /// read. Only a matching role is built (and validated).
    pub fn next_match(
        &self,
        target_path: &str,
        path_digest: &str,
        from: usize,
    ) -> Result<Option<(usize, String, bool)>> {
        let Some(index) = self.roles else {
            if let Some(roles) = &self.delegations.roles {
                return Ok(roles
                    .iter()
                    .enumerate()
                    .skip(from)
                    .find(|(_, r)| r.matches_with_digest(target_path, path_digest))
                    .map(|(i, r)| (i, r.name.clone(), r.terminating)));
            }
            if let Some(s) = self.succinct_roles().filter(|_| from == 0) {
                return Ok(Some((0, s.bin_for(target_path), false)));
            }
            return Ok(None);
        };
        for (i, element) in index.elements.iter().enumerate().skip(from) {
            // 5.6.7.2.1.3: read the patterns straight from the JSON; build only a match.
            let [paths, prefixes] = crate::json::object_fields(
                self.text,
                element.value.clone(),
                ["paths", "path_hash_prefixes"],
            )
            .map_err(|e| json_error(self.role, e))?;
            if !node_matches(paths.as_ref(), prefixes.as_ref(), target_path, path_digest) {
                continue;
            }
            let role = self.build(index, i)?;
            if role.matches_with_digest(target_path, path_digest) {
                return Ok(Some((i, role.name, role.terminating)));
            }
        }
        Ok(None)
    }

    /// The whole `delegations` object, every role built and validated.
    pub fn to_delegations(&self) -> Result<Delegations> {
        let mut delegations = self.delegations.clone();
        if let Some(index) = self.roles {
            let roles = (0..index.elements.len())
                .map(|i| self.build(index, i))
                .collect::<Result<Vec<_>>>()?;
            delegations.roles = Some(roles);
        }
        Ok(delegations)
    }
}
