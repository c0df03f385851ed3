//! Threshold signature counting (spec 5.3.4, 5.4.2, 5.5.3, 5.6.3).

use std::collections::{BTreeMap, HashSet};

use super::key::{Key, KeyId, PublicKey};
use crate::error::{Error, Result};
use crate::metadata::Signature;

/// The keys authorised for one role and how many of them must sign.
#[derive(Debug, Clone, Copy)]
pub struct RoleKeysRef<'a> {
    /// Keyids authorised for the role (order irrelevant, duplicates counted once).
    pub keyids: &'a [KeyId],
    /// Distinct keys required.
    pub threshold: u64,
}

/// Checks that `signatures` over `canonical_signed` reach the threshold of `role_keys`.
///
/// Rules: a duplicate keyid among the signatures rejects the metadata; a signature counts
/// only if its keyid is authorised, the key is listed in `keys`, the key is usable and the
/// signature verifies; each distinct public key counts once, whatever keyids it is listed
/// under; empty, malformed or unverifiable signatures are ignored, not fatal.
pub fn verify_threshold(
    role: &str,
    canonical_signed: &[u8],
    signatures: &[Signature],
    keys: &BTreeMap<KeyId, Key>,
    role_keys: RoleKeysRef<'_>,
    by: &str,
) -> Result<()> {
    let mut seen_keyids: HashSet<&KeyId> = HashSet::with_capacity(signatures.len());
    for sig in signatures {
        if !seen_keyids.insert(&sig.keyid) {
            return Err(Error::DuplicateSignature {
                role: role.to_string(),
                keyid: sig.keyid.0.clone(),
            });
        }
    }
    let authorised: HashSet<&KeyId> = role_keys.keyids.iter().collect();
    let mut counted: HashSet<PublicKey> = HashSet::new();
    for sig in signatures {
        if counted.len() as u64 >= role_keys.threshold {
            break;
        }
        if !authorised.contains(&sig.keyid) {
            continue;
        }
        let Some(key) = keys.get(&sig.keyid) else {
            continue;
        };
        let Ok(public) = PublicKey::from_key(key) else {
            continue;
        };
        if counted.contains(&public) {
            continue;
        }
        let Ok(raw_sig) = hex::decode(sig.sig.trim()) else {
            continue;
        };
        if raw_sig.is_empty() {
            continue;
        }
        if public.verify(canonical_signed, &raw_sig) {
            counted.insert(public);
        }
    }
    let valid = counted.len() as u64;
    if valid >= role_keys.threshold {
        Ok(())
    } else {
        Err(Error::ThresholdNotMet {
            role: role.to_string(),
            valid,
            threshold: role_keys.threshold,
            by: by.to_string(),
        })
    }
}
