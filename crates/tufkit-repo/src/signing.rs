//! Signing metadata with reachable keys and counting valid signatures.

use std::collections::HashSet;

use tufkit_core::crypto::{KeyId, PublicKey};
use tufkit_core::metadata::{Metadata, RoleMetadata, Signature};

use crate::error::{invalid, Error, Result};
use crate::keys::KeyRing;
use crate::state::Authority;

/// The canonical bytes of `signed` that signatures cover.
///
/// Serialised once as plain JSON, then canonicalised by tufkit-core's strict reader:
/// several times faster than going through a `serde_json::Value` tree, which matters
/// for roles listing 100,000 targets. A float or a repeated key is an error.
pub fn canonical_signed<T: RoleMetadata>(m: &Metadata<T>) -> Result<Vec<u8>> {
    let plain = serde_json::to_vec(&m.signed)
        .map_err(|e| invalid(format!("cannot encode {} metadata: {e}", T::TYPE)))?;
    let tree = tufkit_core::json::parse(&plain).map_err(|e| Error::metadata(T::TYPE, e))?;
    let mut out = Vec::with_capacity(plain.len());
    tree.write_canonical(&mut out);
    Ok(out)
}

/// Keyids of `auth` whose signatures on `m` verify, each distinct key counted once.
pub fn valid_signers<T: RoleMetadata>(m: &Metadata<T>, auth: &Authority) -> Result<Vec<KeyId>> {
    let msg = canonical_signed(m)?;
    Ok(valid_signers_over(&msg, &m.signatures, auth))
}

/// Like [`valid_signers`] over already canonicalised bytes.
pub fn valid_signers_over(msg: &[u8], sigs: &[Signature], auth: &Authority) -> Vec<KeyId> {
    let mut counted: HashSet<PublicKey> = HashSet::new();
    let mut out = Vec::new();
    for sig in sigs {
        if !auth.keyids.contains(&sig.keyid) {
            continue;
        }
        let Some(public) = auth
            .keys
            .get(&sig.keyid)
            .and_then(|k| PublicKey::from_key(k).ok())
        else {
            continue;
        };
        let Ok(raw) = hex::decode(sig.sig.trim()) else {
            continue;
        };
        if !raw.is_empty() && !counted.contains(&public) && public.verify(msg, &raw) {
            counted.insert(public);
            out.push(sig.keyid.clone());
        }
    }
    out
}

/// Drops signatures that do not verify over the current content with any key `auths`
/// list (stale signatures from before an edit).
pub fn drop_invalid_signatures<T: RoleMetadata>(
    m: &mut Metadata<T>,
    auths: &[&Authority],
) -> Result<()> {
    let msg = canonical_signed(m)?;
    m.signatures.retain(|sig| {
        auths.iter().any(|a| {
            a.keys
                .get(&sig.keyid)
                .and_then(|k| PublicKey::from_key(k).ok())
                .zip(hex::decode(sig.sig.trim()).ok())
                .is_some_and(|(p, raw)| p.verify(&msg, &raw))
        })
    });
    Ok(())
}

/// Adds a signature from every reachable key `auth` authorises that has not signed yet.
/// Returns the keyids that signed now.
pub fn sign_with_reachable<T: RoleMetadata>(
    m: &mut Metadata<T>,
    auth: &Authority,
    ring: &KeyRing,
) -> Result<Vec<KeyId>> {
    let msg = canonical_signed(m)?;
    sign_over(&msg, &mut m.signatures, auth, ring)
}

/// Like [`sign_with_reachable`] over the already canonicalised bytes `msg` of the
/// metadata whose signatures are `sigs` (large roles are canonicalised once).
pub fn sign_over(
    msg: &[u8],
    sigs: &mut Vec<Signature>,
    auth: &Authority,
    ring: &KeyRing,
) -> Result<Vec<KeyId>> {
    let already = valid_signers_over(msg, sigs, auth);
    let mut signed = Vec::new();
    for keyid in &auth.keyids {
        if already.contains(keyid) || signed.contains(keyid) {
            continue;
        }
        let Some(key) = auth.keys.get(keyid) else {
            continue;
        };
        let Some(entry) = ring.find(key) else {
            continue;
        };
        let mut sig = entry
            .key
            .sign(msg)
            .map_err(|e| Error::metadata(entry.path.display().to_string(), e))?;
        // Sign under the keyid the metadata lists (it may differ from tufkit's own).
        sig.keyid = keyid.clone();
        sigs.retain(|s| &s.keyid != keyid);
        sigs.push(sig);
        signed.push(keyid.clone());
    }
    Ok(signed)
}

/// Fails with [`Error::ThresholdNotMet`] unless `auth`'s threshold is met.
pub fn check_threshold<T: RoleMetadata>(
    role: &str,
    m: &Metadata<T>,
    auth: &Authority,
) -> Result<()> {
    let valid = valid_signers(m, auth)?;
    if valid.len() as u64 >= auth.threshold {
        return Ok(());
    }
    Err(Error::ThresholdNotMet {
        role: role.to_string(),
        have: valid.len() as u64,
        need: auth.threshold,
        missing: auth
            .keyids
            .iter()
            .filter(|k| !valid.contains(k))
            .map(|k| k.0.clone())
            .collect(),
    })
}
