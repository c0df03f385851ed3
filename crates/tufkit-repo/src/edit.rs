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
    DelegatedRole, Delegations, Metadata, SuccinctRoles, Targets, TOP_LEVEL_ROLES,
};

use crate::error::{invalid, Error, Result};
use crate::roles::{Layer, RoleStore};
use crate::sources::{NewTarget, Source};
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
    Ok(crate::add::add(ws, new_targets(items, custom)?, role)?.staged)
}

/// The targets `items` describe (a target path defaults to the file name).
pub fn new_targets(items: &[AddTarget], custom: Option<Value>) -> Result<Vec<NewTarget>> {
    let mut targets = Vec::with_capacity(items.len());
    for item in items {
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
        targets.push(NewTarget {
            path,
            source: Source::File(item.file.clone()),
            custom: custom.clone(),
            line: None,
        });
    }
    Ok(targets)
}

/// Removes targets from whichever roles list them. Returns (path, role) pairs removed.
///
/// Each path is looked for in the roles a client's search for it would visit (read on
/// demand); only a path found in none of them makes this read every role.
pub fn remove_targets(ws: &Workspace, paths: &[String]) -> Result<Vec<(String, String)>> {
    let _lock = ws.lock()?;
    let head = ws.head()?;
    let mut store = RoleStore::new(ws, &head, true)?;
    let mut removed = Vec::new();
    for path in paths {
        let mut found = Vec::new();
        for name in search_order(&store, path)? {
            if store
                .get(&name)?
                .is_some_and(|m| m.signed.targets.contains_key(path))
            {
                found.push(name);
            }
        }
        if found.is_empty() {
            // Listed somewhere no delegation covers it? Look everywhere.
            let mut all = head.listed_roles();
            all.extend(store.draft_names());
            all.sort();
            all.dedup();
            store.preload(Layer::Working, &all)?;
            for name in all {
                if store
                    .get(&name)?
                    .is_some_and(|m| m.signed.targets.contains_key(path))
                {
                    found.push(name);
                }
            }
        }
        if found.is_empty() {
            return Err(invalid(format!(
                "target {path:?} is not listed in any role (see `tufkit status DIR`)"
            )));
        }
        for name in found {
            let m = store.edit(&name, || empty_targets(ws))?;
            if m.signed.targets.remove(path).is_some() {
                removed.push((path.clone(), name));
            }
        }
    }
    store.save_edits()?;
    Ok(removed)
}

/// Every role a client's search for `path` may visit, in pre-order, ignoring
/// `terminating` (a removal must find the path wherever a search could).
fn search_order(store: &RoleStore<'_>, path: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec!["targets".to_string()];
    let mut seen = std::collections::HashSet::new();
    while let Some(name) = stack.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(m) = store.get(&name)? else {
            continue;
        };
        out.push(name);
        if let Some(d) = &m.signed.delegations {
            let children = d.roles_for_target(path);
            stack.extend(children.into_iter().rev().map(|(c, _)| c));
        }
    }
    Ok(out)
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

fn check_delegator(store: &RoleStore<'_>, from: &str) -> Result<()> {
    if from != "targets" && !store.exists(from) {
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

/// Adds (or replaces) a delegation in the draft of its delegating role.
pub fn delegate(ws: &Workspace, d: &Delegation) -> Result<()> {
    let _lock = ws.lock()?;
    let head = ws.head()?;
    let mut store = RoleStore::new(ws, &head, true)?;
    check_delegator(&store, &d.from)?;
    check_new_role_name(&d.to)?;
    check_threshold_fits(d.threshold, d.keys.len(), &d.to)?;
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
    let to_exists = store.exists(&d.to);
    let parent = store.edit(&d.from, || empty_targets(ws))?;
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
    // A new delegated role starts empty.
    if !to_exists {
        store.edit(&d.to, || empty_targets(ws))?;
    }
    store.save_edits()?;
    Ok(())
}

/// Delegates everything from `from` to 2^bit_length hashed bins (TAP 15) and creates
/// a draft for every bin (empty, or with the targets it already lists or takes over
/// from `from`): every bin the delegation names is published and signed, since clients
/// fetch the one their target maps to. Returns the bin names.
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
    let head = ws.head()?;
    let mut store = RoleStore::new(ws, &head, true)?;
    check_delegator(&store, from)?;
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
    let parent = store.edit(from, || empty_targets(ws))?;
    if let Some(d) = &parent.signed.delegations {
        if d.roles.as_ref().is_some_and(|r| !r.is_empty()) {
            return Err(invalid(format!(
                "{from} already has named delegations; hashed bins replace all delegations of a role, so revoke those first or delegate the bins from another role"
            )));
        }
    }
    // Targets the delegator listed move into their bins.
    let moved = std::mem::take(&mut parent.signed.targets);
    parent.signed.delegations = Some(Delegations {
        keys: keys.iter().cloned().collect(),
        roles: None,
        succinct_roles: Some(succinct.clone()),
        unknown: Map::new(),
    });
    // Bins that exist already keep what they list.
    let existing: Vec<String> = bins.iter().filter(|b| store.exists(b)).cloned().collect();
    store.preload(Layer::Working, &existing)?;
    if bins.len() > 256 {
        ws.progress(&format!("creating {} bin drafts", bins.len()));
    }
    for bin in &bins {
        store.edit(bin, || empty_targets(ws))?;
    }
    for (path, file) in moved {
        store
            .edit(&succinct.bin_for(&path), || empty_targets(ws))?
            .signed
            .targets
            .insert(path, file);
    }
    store.save_edits()?;
    Ok(bins)
}

/// Removes the delegation to `role` from whichever role delegates it.
///
/// The role's metadata stays published and listed in the snapshot (clients reject a
/// snapshot from which a role disappears, spec 5.5.5); clients simply stop searching it.
pub fn revoke_delegation(ws: &Workspace, role: &str) -> Result<String> {
    let _lock = ws.lock()?;
    let head = ws.head()?;
    let mut store = RoleStore::new(ws, &head, true)?;
    let root = &head.root.signed;
    // A named role: its delegator. Hashed bins: the role delegating with this prefix.
    let named = match store.authority(root, role) {
        Ok(a) if a.delegator != "root" => store.get(&a.delegator)?.and_then(|m| {
            let listed = m
                .signed
                .delegations
                .as_ref()
                .and_then(|d| d.roles.as_ref())
                .is_some_and(|l| l.iter().any(|r| r.name == role));
            listed.then_some(a.delegator)
        }),
        _ => None,
    };
    let (name, is_named) = match named {
        Some(n) => (n, true),
        None => match find_succinct_delegator(&store, role)? {
            Some(n) => (n, false),
            None => {
                return Err(invalid(format!(
                "no targets role delegates to {role:?} (for hashed bins, give the bin name prefix)"
            )))
            }
        },
    };
    let m = store.edit(&name, || empty_targets(ws))?;
    if is_named {
        if let Some(d) = m.signed.delegations.as_mut() {
            if let Some(l) = d.roles.as_mut() {
                l.retain(|r| r.name != role);
            }
            prune_unused_keys(d);
            if d.roles.as_ref().is_some_and(|l| l.is_empty()) {
                m.signed.delegations = None;
            }
        }
    } else {
        m.signed.delegations = None;
    }
    store.save_edits()?;
    if is_named {
        ws.drafts().remove_role(role)?;
    }
    Ok(name)
}

/// The role whose succinct delegation uses `prefix`, looking at the delegators
/// reachable from `targets` through named delegations.
fn find_succinct_delegator(store: &RoleStore<'_>, prefix: &str) -> Result<Option<String>> {
    let mut queue = std::collections::VecDeque::from(["targets".to_string()]);
    let mut seen = std::collections::HashSet::new();
    while let Some(name) = queue.pop_front() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(m) = store.get(&name)? else {
            continue;
        };
        let Some(d) = &m.signed.delegations else {
            continue;
        };
        if d.succinct_roles
            .as_ref()
            .is_some_and(|s| s.name_prefix == prefix)
        {
            return Ok(Some(name));
        }
        if let Some(list) = &d.roles {
            queue.extend(list.iter().map(|r| r.name.clone()));
        }
    }
    Ok(None)
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
