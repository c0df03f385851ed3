//! Signing control of [`RepoSim`]: which keys sign each role, and edits of the result.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;
use tufkit_core::crypto::{KeyId, SigningKey};
use tufkit_core::metadata::Signature;

use super::{is_top_level, JsonLayout, RepoSim};
use crate::keys::{envelope, signatures_over, to_json};

impl RepoSim {
    /// Signs `role` with exactly `keys` from now on (authorised or not).
    pub fn set_signers(&mut self, role: &str, keys: Vec<Arc<SigningKey>>) {
        self.signer_override.insert(role.to_string(), keys);
    }

    /// Goes back to signing `role` with its authorised keys.
    pub fn clear_signers(&mut self, role: &str) {
        self.signer_override.remove(role);
    }

    /// Adds a key that signs `role` in addition to the normal signers.
    pub fn add_extra_signer(&mut self, role: &str, key: Arc<SigningKey>) {
        self.extra_signers
            .entry(role.to_string())
            .or_default()
            .push(key);
    }

    /// Makes a fresh key that is not authorised for anything and signs `role` with it too.
    pub fn sign_with_unauthorised_key(&mut self, role: &str) -> Arc<SigningKey> {
        let key = self.new_key();
        self.add_extra_signer(role, key.clone());
        key
    }

    /// Edits the signature list of `role` after every signing, e.g.
    /// `sim.tweak_signatures("timestamp", |s| s.push(s[0].clone()))`.
    pub fn tweak_signatures(
        &mut self,
        role: &str,
        tweak: impl Fn(&mut Vec<Signature>) + Send + Sync + 'static,
    ) {
        self.tweaks.insert(role.to_string(), Arc::new(tweak));
    }

    /// Removes the signature tweak of `role`.
    pub fn clear_tweak(&mut self, role: &str) {
        self.tweaks.remove(role);
    }

    /// The keyids currently authorised for `role` (from root, or from every delegator).
    pub fn authorised_keyids(&self, role: &str) -> Vec<KeyId> {
        if is_top_level(role) {
            return self
                .root
                .roles
                .get(role)
                .map(|r| r.keyids.clone())
                .unwrap_or_default();
        }
        let mut out = Vec::new();
        for body in self.roles.values() {
            let Some(d) = &body.delegations else { continue };
            if let Some(r) = d.roles.iter().flatten().find(|r| r.name == role) {
                out.extend(r.keyids.iter().cloned());
            }
            if let Some(s) = d.succinct_roles.as_ref().filter(|s| s.is_bin(role)) {
                out.extend(s.keyids.iter().cloned());
            }
        }
        out
    }

    /// The private keys the simulator holds for the keyids authorised for `role`.
    pub fn keys(&self, role: &str) -> Vec<Arc<SigningKey>> {
        self.authorised_keyids(role)
            .iter()
            .filter_map(|id| self.keyring.get(id).cloned())
            .collect()
    }

    /// The keys that will sign `role` at its next publish.
    pub fn signers(&self, role: &str) -> Vec<Arc<SigningKey>> {
        let mut keys = match self.signer_override.get(role) {
            Some(keys) => keys.clone(),
            None => {
                let mut ids = self.authorised_keyids(role);
                if role == "root" {
                    if let Some(prev) = self.published_root.as_ref().and_then(|r| r.role("root")) {
                        ids.extend(prev.keyids.iter().cloned());
                    }
                }
                ids.iter()
                    .filter_map(|id| self.keyring.get(id).cloned())
                    .collect()
            }
        };
        keys.extend(self.extra_signers.get(role).into_iter().flatten().cloned());
        let mut seen = BTreeSet::new();
        keys.retain(|k| seen.insert(k.key_id().clone()));
        keys
    }

    /// The JSON of a role's current body.
    pub fn body_value(&self, role: &str) -> Value {
        match role {
            "root" => to_json(&self.root),
            "timestamp" => to_json(&self.timestamp),
            "snapshot" => to_json(&self.snapshot),
            name => to_json(self.role(name)),
        }
    }

    /// Signs `signed` as `role` would be signed now (signers, extras, tweak) and wraps it.
    pub fn sign_as(&self, role: &str, signed: &Value) -> Vec<u8> {
        let signers = self.signers(role);
        let refs: Vec<&SigningKey> = signers.iter().map(|k| k.as_ref()).collect();
        let mut sigs = signatures_over(signed, &refs);
        if let Some(tweak) = self.tweaks.get(role) {
            tweak(&mut sigs);
        }
        match self.layout {
            JsonLayout::Pretty => envelope(signed, &sigs),
            JsonLayout::Canonical => {
                let value = serde_json::json!({ "signed": signed, "signatures": sigs });
                tufkit_core::canonical::to_canonical(&value).expect("test metadata is canonical")
            }
            JsonLayout::Reordered => {
                let value = serde_json::json!({ "signed": signed, "signatures": sigs });
                let mut out = Vec::new();
                write_reordered(&value, &mut out);
                out
            }
        }
    }

    /// The bytes `role`'s current body would be published as, without publishing anything
    /// (no version bump, no meta recomputation). For hand-made variants.
    pub fn signed_bytes(&self, role: &str) -> Vec<u8> {
        self.sign_as(role, &self.body_value(role))
    }
}

/// Writes `value` as valid JSON that is far from canonical: object keys in reverse order,
/// spaces around separators, every non-ASCII character and `/` escaped, and integer zero
/// spelled `-0`.
fn write_reordered(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            out.extend_from_slice(b"{ ");
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            keys.reverse();
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b" , ");
                }
                write_escaped(k, out);
                out.extend_from_slice(b" : ");
                write_reordered(&map[k], out);
            }
            out.extend_from_slice(b" }");
        }
        Value::Array(items) => {
            out.extend_from_slice(b"[ ");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b" , ");
                }
                write_reordered(item, out);
            }
            out.extend_from_slice(b" ]");
        }
        Value::String(s) => write_escaped(s, out),
        Value::Number(n) if n.as_u64() == Some(0) => out.extend_from_slice(b"-0"),
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

fn write_escaped(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '/' => out.extend_from_slice(b"\\/"),
            c if (c as u32) < 0x20 || !c.is_ascii() => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.extend_from_slice(format!("\\u{unit:04x}").as_bytes());
                }
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}
