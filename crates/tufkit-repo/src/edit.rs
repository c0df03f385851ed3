//! Editing targets roles: staging and removing targets, delegating, revoking delegations.
//!
//! Edits go to drafts in `staged/roles/`; nothing is published until `publish`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use tufkit_core::crypto::hash::HashAlgorithm;
use tufkit_core::crypto::{Key, KeyId};
use tufkit_core::metadata::{
    DelegatedRole, Delegations, Metadata, SuccinctRoles, TargetFile, Targets, TOP_LEVEL_ROLES,
};

use crate::error::{invalid, Error, Result};
use crate::state::{authority_for, role_for_target, RoleSet};
use crate::workspace::Workspace;

/// One file to stage as a target.
#[derive(Debug, Clone)]
pub struct AddTarget {
    /// Local file with the content.
    pub file: PathBuf,
    /// Target path (defaults to the file name).
    pub target_path: Option<String>,
}

/// Where a staged target went.
#[derive(Debug, Clone)]
pub struct StagedTarget {
    /// Target path.
    pub path: String,
    /// Role whose draft lists it.
    pub role: String,
    /// Length in bytes.
    pub length: u64,
    /// SHA-256 in hex.
    pub sha256: String,
}

/// An empty targets role with this repository's spec version.
pub fn empty_targets(ws: &Workspace) -> Metadata<Targets> {
    Metadata::new(Targets {
        type_: "targets".into(),
        spec_version: ws.config().repository.spec_version.clone(),
        version: 1,
        expires: ws.now(),
        targets: BTreeMap::new(),
        delegations: None,
        unknown: Map::new(),
    })
}

/// The working copy of `role`: its draft, else its published version, else a new role.
fn working_copy(ws: &Workspace, roles: &RoleSet, role: &str) -> Metadata<Targets> {
    roles
        .get(role)
        .cloned()
        .unwrap_or_else(|| empty_targets(ws))
}

fn save_edit(ws: &Workspace, role: &str, mut m: Metadata<Targets>) -> Result<()> {
    // Content changed: earlier signatures no longer cover it.
    m.signatures.clear();
    ws.drafts().save_role(role, &m)
}

/// Parses `KEY=VALUE` custom metadata; VALUE is JSON if it parses as JSON, else a string.
pub fn parse_custom(items: &[String]) -> Result<Option<Value>> {
    if items.is_empty() {
        return Ok(None);
    }
    let mut map = Map::new();
    for item in items {
        let (k, v) = item.split_once('=').ok_or_else(|| {
            invalid(format!(
                "--custom {item:?}: expected KEY=VALUE, e.g. --custom version=1.2"
            ))
        })?;
        let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string()));
        map.insert(k.to_string(), value);
    }
    Ok(Some(Value::Object(map)))
}

/// Hashes a local file with every algorithm in `algs`; returns (length, hashes).
pub fn hash_file(path: &Path, algs: &[String]) -> Result<(u64, BTreeMap<String, String>)> {
    let mut file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut contexts: Vec<(String, ring::digest::Context)> = algs
        .iter()
        .map(|a| {
            let alg = match HashAlgorithm::from_name(a) {
                Some(HashAlgorithm::Sha384) => &ring::digest::SHA384,
                Some(HashAlgorithm::Sha512) => &ring::digest::SHA512,
                _ => &ring::digest::SHA256,
            };
            (a.clone(), ring::digest::Context::new(alg))
        })
        .collect();
    if !algs.iter().any(|a| a == "sha256") {
        contexts.push((
            "sha256".into(),
            ring::digest::Context::new(&ring::digest::SHA256),
        ));
    }
    let mut buf = vec![0u8; 1 << 16];
    let mut length = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        length += n as u64;
        for (_, c) in &mut contexts {
            c.update(&buf[..n]);
        }
    }
    Ok((
        length,
        contexts
            .into_iter()
            .map(|(a, c)| (a, hex::encode(c.finish())))
            .collect(),
    ))
}

/// Stages target files into the roles the delegations assign them to (or into `role`).
pub fn add_targets(
    ws: &Workspace,
    items: &[AddTarget],
    role: Option<&str>,
    custom: Option<Value>,
) -> Result<Vec<StagedTarget>> {
    let _lock = ws.lock()?;
    let published = ws.published()?;
    let mut roles = ws.working_roles(&published)?;
    let algs = ws.config().repository.hash_algorithms.clone();
    let mut out = Vec::new();
    let mut touched = std::collections::BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let path = match &item.target_path {
            Some(p) => p.clone(),
            None => item
                .file
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
                .ok_or_else(|| {
                    invalid(format!(
                        "{}: cannot derive a target path; give one with --as",
                        item.file.display()
                    ))
                })?,
        };
        Targets::check_target_path(&path)
            .map_err(|e| invalid(format!("target path {path:?}: {e}")))?;
        let role_name = match role {
            Some(r) => r.to_string(),
            None => role_for_target(&roles, &path),
        };
        if role_name != "targets" {
            // The role must be delegated, and for this path.
            authority_for(&published.root.signed, &roles, &role_name)?;
            check_role_may_list(&roles, &role_name, &path)?;
        }
        if items.len() > 20 && i % 100 == 0 {
            ws.progress(&format!("hashing {}/{}: {}", i + 1, items.len(), path));
        }
        let (length, hashes) = hash_file(&item.file, &algs)?;
        let sha256 = hashes.get("sha256").cloned().unwrap_or_default();
        let staged = ws.drafts().file_path(&sha256);
        if !staged.exists() {
            let data = fs::read(&item.file).map_err(|e| Error::io(&item.file, e))?;
            crate::drafts::write_atomic(&staged, &data)?;
        }
        let listed: BTreeMap<String, String> = hashes
            .iter()
            .filter(|(a, _)| algs.contains(a))
            .map(|(a, h)| (a.clone(), h.clone()))
            .collect();
        let mut m = working_copy(ws, &roles, &role_name);
        m.signed.targets.insert(
            path.clone(),
            TargetFile {
                length,
                hashes: listed,
                custom: custom.clone(),
                unknown: Map::new(),
            },
        );
        roles.insert(role_name.clone(), m);
        touched.insert(role_name.clone());
        out.push(StagedTarget {
            path,
            role: role_name,
            length,
            sha256,
        });
    }
    for name in touched {
        if let Some(m) = roles.get(&name) {
            save_edit(ws, &name, m.clone())?;
        }
    }
    Ok(out)
}

/// Refuses to list a target in a delegated role whose delegation does not cover it:
/// clients would never trust it from there (spec 5.6.7.2.1.3).
fn check_role_may_list(roles: &RoleSet, role: &str, path: &str) -> Result<()> {
    for m in roles.values() {
        let Some(d) = &m.signed.delegations else {
            continue;
        };
        if d.role_keys(role).is_some() {
            let ok = match (&d.roles, &d.succinct_roles) {
                (Some(list), _) => list.iter().any(|r| r.name == role && r.matches(path)),
                (None, Some(s)) => s.bin_for(path) == role,
                _ => false,
            };
            if !ok {
                return Err(invalid(format!(
                    "target {path:?} is outside the paths delegated to {role}; clients would not trust it there. Choose a matching --as path or another --role"
                )));
            }
        }
    }
    Ok(())
}

/// Removes targets from whichever roles list them. Returns (path, role) pairs removed.
pub fn remove_targets(ws: &Workspace, paths: &[String]) -> Result<Vec<(String, String)>> {
    let _lock = ws.lock()?;
    let published = ws.published()?;
    let roles = ws.working_roles(&published)?;
    let mut removed = Vec::new();
    let mut edits: BTreeMap<String, Metadata<Targets>> = BTreeMap::new();
    for path in paths {
        let mut found = false;
        for (name, m) in &roles {
            let m = edits.entry(name.clone()).or_insert_with(|| m.clone());
            if m.signed.targets.remove(path).is_some() {
                removed.push((path.clone(), name.clone()));
                found = true;
            }
        }
        if !found {
            return Err(invalid(format!(
                "target {path:?} is not listed in any role (see `tufkit status DIR`)"
            )));
        }
    }
    for (name, m) in edits {
        if removed.iter().any(|(_, r)| *r == name) {
            save_edit(ws, &name, m)?;
        }
    }
    Ok(removed)
}

/// How a delegation chooses its targets.
#[derive(Debug, Clone)]
pub enum DelegationScope {
    /// Glob patterns.
    Paths(Vec<String>),
    /// Hex prefixes of SHA-256(target path).
    HashPrefixes(Vec<String>),
}

/// A request to delegate from one targets role to another.
#[derive(Debug, Clone)]
pub struct Delegation {
    /// The delegating role (default `targets`).
    pub from: String,
    /// The delegated role.
    pub to: String,
    /// Public keys of the delegated role's signers.
    pub keys: Vec<(KeyId, Key)>,
    /// Distinct keys required.
    pub threshold: u64,
    /// Which targets it is trusted for.
    pub scope: DelegationScope,
    /// Whether a search stops after this role.
    pub terminating: bool,
}

fn check_delegator(roles: &RoleSet, from: &str) -> Result<()> {
    if from != "targets" && !roles.contains_key(from) {
        return Err(invalid(format!(
            "delegating role {from:?} does not exist; delegate to it first"
        )));
    }
    Ok(())
}

fn check_threshold_fits(threshold: u64, keys: usize, role: &str) -> Result<()> {
    if threshold == 0 || threshold > keys as u64 {
        return Err(invalid(format!(
            "{role}: threshold {threshold} cannot be met by {keys} key(s); give more --key or a lower --threshold"
        )));
    }
    Ok(())
}

/// Names tufkit gives new roles use only `A-Z a-z 0-9 - _ . ~` (and do not start with
/// `.`): such a name is the same percent-encoded or not, so the file a client requests
/// (`3.NAME.json`) is the file a static web server or object store serves for it.
/// Clients still accept other names from other repositories.
pub fn check_new_role_name(name: &str) -> Result<()> {
    let safe = !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b));
    if !safe {
        return Err(invalid(format!(
            "{name:?} cannot be a role name: use letters, digits and - _ . ~ (not starting with '.'), at most 200 characters"
        )));
    }
    if TOP_LEVEL_ROLES.contains(&name) {
        return Err(invalid(format!(
            "{name:?} is a top-level role and cannot be delegated"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod role_name_tests {
    use super::check_new_role_name;

    #[test]
    fn only_names_that_need_no_escaping_are_accepted() {
        for ok in ["partner", "registry.npmjs.org", "bins-0a", "A_b~c"] {
            assert!(check_new_role_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "../x", "a/b", "a?b", "c#d", "sp ace", ".hidden", "targets", "é",
        ] {
            assert!(check_new_role_name(bad).is_err(), "{bad}");
        }
    }
}

/// Adds (or replaces) a delegation in the draft of its delegating role.
pub fn delegate(ws: &Workspace, d: &Delegation) -> Result<()> {
    let _lock = ws.lock()?;
    let published = ws.published()?;
    let roles = ws.working_roles(&published)?;
    check_delegator(&roles, &d.from)?;
    check_new_role_name(&d.to)?;
    check_threshold_fits(d.threshold, d.keys.len(), &d.to)?;
    let mut parent = working_copy(ws, &roles, &d.from);
    let delegations = parent
        .signed
        .delegations
        .get_or_insert_with(|| Delegations {
            keys: BTreeMap::new(),
            roles: Some(Vec::new()),
            succinct_roles: None,
            unknown: Map::new(),
        });
    if delegations.succinct_roles.is_some() {
        return Err(invalid(format!(
            "{} delegates to hashed bins, which cannot be mixed with named delegations; delegate from one of the bins or from another role",
            d.from
        )));
    }
    for (id, key) in &d.keys {
        delegations.keys.insert(id.clone(), key.clone());
    }
    let (paths, path_hash_prefixes) = match &d.scope {
        DelegationScope::Paths(p) => (Some(p.clone()), None),
        DelegationScope::HashPrefixes(p) => {
            if let Some(bad) = p.iter().find(|x| !x.bytes().all(|b| b.is_ascii_hexdigit())) {
                return Err(invalid(format!("--hash-prefixes {bad:?} is not hex")));
            }
            (
                None,
                Some(p.iter().map(|x| x.to_ascii_lowercase()).collect()),
            )
        }
    };
    let entry = DelegatedRole {
        name: d.to.clone(),
        keyids: d.keys.iter().map(|(id, _)| id.clone()).collect(),
        threshold: d.threshold,
        terminating: d.terminating,
        paths,
        path_hash_prefixes,
        unknown: Map::new(),
    };
    let list = delegations.roles.get_or_insert_with(Vec::new);
    match list.iter_mut().find(|r| r.name == d.to) {
        Some(existing) => *existing = entry,
        None => list.push(entry),
    }
    prune_unused_keys(delegations);
    save_edit(ws, &d.from, parent)?;
    // A new delegated role starts empty.
    if !roles.contains_key(&d.to) {
        save_edit(ws, &d.to, empty_targets(ws))?;
    }
    Ok(())
}

/// Delegates everything from `from` to 2^bit_length hashed bins (TAP 15) and creates
/// an empty draft for every bin. Returns the bin names.
pub fn delegate_succinct_bins(
    ws: &Workspace,
    from: &str,
    bit_length: u32,
    name_prefix: &str,
    keys: &[(KeyId, Key)],
    threshold: u64,
) -> Result<Vec<String>> {
    let _lock = ws.lock()?;
    if !(1..=16).contains(&bit_length) {
        return Err(invalid(format!(
            "--succinct-bins {bit_length}: use 1 to 16 (2 to 65536 bins)"
        )));
    }
    check_new_role_name(name_prefix)?;
    check_threshold_fits(threshold, keys.len(), name_prefix)?;
    let published = ws.published()?;
    let roles = ws.working_roles(&published)?;
    check_delegator(&roles, from)?;
    let mut parent = working_copy(ws, &roles, from);
    if let Some(d) = &parent.signed.delegations {
        if d.roles.as_ref().is_some_and(|r| !r.is_empty()) {
            return Err(invalid(format!(
                "{from} already has named delegations; hashed bins replace all delegations of a role, so revoke those first or delegate the bins from another role"
            )));
        }
    }
    let succinct = SuccinctRoles {
        keyids: keys.iter().map(|(id, _)| id.clone()).collect(),
        threshold,
        bit_length,
        name_prefix: name_prefix.to_string(),
        unknown: Map::new(),
    };
    let bins: Vec<String> = (0..succinct.bin_count())
        .map(|i| succinct.bin_name(i))
        .collect();
    // Targets the delegator listed move into their bins.
    let moved: Vec<(String, TargetFile)> = std::mem::take(&mut parent.signed.targets)
        .into_iter()
        .collect();
    parent.signed.delegations = Some(Delegations {
        keys: keys.iter().cloned().collect(),
        roles: None,
        succinct_roles: Some(succinct.clone()),
        unknown: Map::new(),
    });
    let mut bin_roles: BTreeMap<String, Metadata<Targets>> = BTreeMap::new();
    for (i, bin) in bins.iter().enumerate() {
        if bins.len() > 1000 && i % 1000 == 0 {
            ws.progress(&format!("creating bin {}/{}", i + 1, bins.len()));
        }
        bin_roles.insert(bin.clone(), working_copy(ws, &roles, bin));
    }
    for (path, file) in moved {
        if let Some(m) = bin_roles.get_mut(&succinct.bin_for(&path)) {
            m.signed.targets.insert(path, file);
        }
    }
    save_edit(ws, from, parent)?;
    for (bin, m) in bin_roles {
        save_edit(ws, &bin, m)?;
    }
    Ok(bins)
}

/// Removes the delegation to `role` from whichever role delegates it.
///
/// The role's metadata stays published and listed in the snapshot (clients reject a
/// snapshot from which a role disappears, spec 5.5.5); clients simply stop searching it.
pub fn revoke_delegation(ws: &Workspace, role: &str) -> Result<String> {
    let _lock = ws.lock()?;
    let published = ws.published()?;
    let roles = ws.working_roles(&published)?;
    for (name, m) in &roles {
        let Some(d) = &m.signed.delegations else {
            continue;
        };
        if d.roles
            .as_ref()
            .is_some_and(|l| l.iter().any(|r| r.name == role))
        {
            let mut m = m.clone();
            if let Some(d) = m.signed.delegations.as_mut() {
                if let Some(l) = d.roles.as_mut() {
                    l.retain(|r| r.name != role);
                }
                prune_unused_keys(d);
                if d.roles.as_ref().is_some_and(|l| l.is_empty()) {
                    m.signed.delegations = None;
                }
            }
            save_edit(ws, name, m)?;
            ws.drafts().remove_role(role)?;
            return Ok(name.clone());
        }
        if d.succinct_roles
            .as_ref()
            .is_some_and(|s| s.name_prefix == role)
        {
            let mut m = m.clone();
            m.signed.delegations = None;
            save_edit(ws, name, m)?;
            return Ok(name.clone());
        }
    }
    Err(invalid(format!(
        "no targets role delegates to {role:?} (for hashed bins, give the bin name prefix)"
    )))
}

/// Drops keys no delegation in `d` uses any more.
pub fn prune_unused_keys(d: &mut Delegations) {
    let mut used: Vec<&KeyId> = Vec::new();
    if let Some(list) = &d.roles {
        used.extend(list.iter().flat_map(|r| r.keyids.iter()));
    }
    if let Some(s) = &d.succinct_roles {
        used.extend(s.keyids.iter());
    }
    let used: std::collections::HashSet<KeyId> = used.into_iter().cloned().collect();
    d.keys.retain(|k, _| used.contains(k));
}
