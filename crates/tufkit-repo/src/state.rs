//! The published repository as metadata, and the delegation tree of a set of roles.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;
use tufkit_core::crypto::{Key, KeyId};
use tufkit_core::metadata::{Metadata, Parsed, RoleMetadata, Root, Snapshot, Targets, Timestamp};
use tufkit_core::rolename::role_file_name;

use crate::error::{invalid, Error, Result};
use crate::storage::Storage;

/// Targets roles by name (`targets` and delegated roles).
pub type RoleSet = BTreeMap<String, Metadata<Targets>>;

/// What is currently published, read back from the storage.
#[derive(Debug, Clone)]
pub struct Published {
    /// The latest root.
    pub root: Metadata<Root>,
    /// The timestamp, if published.
    pub timestamp: Option<Metadata<Timestamp>>,
    /// The snapshot the timestamp names, if published.
    pub snapshot: Option<Metadata<Snapshot>>,
    /// Every targets role the snapshot lists.
    pub roles: RoleSet,
}

/// Reads and parses a metadata file from storage.
pub fn read_metadata<T: RoleMetadata>(
    storage: &dyn Storage,
    path: &str,
    role: &str,
) -> Result<Option<Metadata<T>>> {
    let Some(bytes) = storage.read(path)? else {
        return Ok(None);
    };
    let parsed = Parsed::<T>::from_slice(&bytes, role)
        .map_err(|e| Error::metadata(format!("repository/{path}"), e))?;
    Ok(Some(parsed.metadata))
}

/// The storage path of a role's metadata (`metadata/3.targets.json`).
pub fn metadata_path(role: &str, version: Option<u64>) -> String {
    format!("metadata/{}", role_file_name(role, version))
}

/// Versions of `N.root.json` present in storage, ascending.
pub fn root_versions(storage: &dyn Storage) -> Result<Vec<u64>> {
    let mut versions: Vec<u64> = storage
        .list("metadata")?
        .iter()
        .filter_map(|n| n.strip_suffix(".root.json")?.parse().ok())
        .collect();
    versions.sort_unstable();
    Ok(versions)
}

/// The published top-level metadata (root, timestamp, snapshot) without the targets
/// roles: what every command reads first, cheaply, before loading only the targets roles
/// it needs (see [`crate::roles::RoleStore`]).
#[derive(Debug, Clone)]
pub struct Head {
    /// The latest root.
    pub root: Metadata<Root>,
    /// The timestamp, if published.
    pub timestamp: Option<Metadata<Timestamp>>,
    /// The snapshot the timestamp names, if published.
    pub snapshot: Option<Metadata<Snapshot>>,
}

/// The latest published root version: `root.json` names it, and the versions after it
/// are probed (a root publish interrupted before `root.json` was replaced leaves one), so
/// the metadata directory, which holds a file per role and version, is not listed.
fn latest_root_version(storage: &dyn Storage) -> Result<u64> {
    let from_copy = storage
        .read(&metadata_path("root", None))?
        .and_then(|bytes| Parsed::<Root>::from_slice(&bytes, "root").ok())
        .map(|p| p.metadata.signed.version)
        .filter(|v| *v >= 1);
    let Some(mut latest) = from_copy else {
        return root_versions(storage)?.last().copied().ok_or_else(|| {
            invalid(
                "no metadata/N.root.json in the published tree: this is not an initialised tufkit repository (run `tufkit init DIR` first)",
            )
        });
    };
    while storage.exists(&metadata_path("root", Some(latest + 1)))? {
        latest += 1;
    }
    Ok(latest)
}

impl Head {
    /// Loads root, timestamp and snapshot.
    pub fn load(storage: &dyn Storage) -> Result<Head> {
        let latest = latest_root_version(storage)?;
        let root_path = metadata_path("root", Some(latest));
        let root: Metadata<Root> = read_metadata(storage, &root_path, "root")?.ok_or_else(|| {
            invalid(format!(
                "repository/{root_path} is missing although metadata/root.json names it: restore it, or run `tufkit verify` to see what clients would accept"
            ))
        })?;
        let consistent = root.signed.consistent();
        let timestamp: Option<Metadata<Timestamp>> =
            read_metadata(storage, &metadata_path("timestamp", None), "timestamp")?;
        let snapshot = match &timestamp {
            Some(ts) => {
                let v = ts.signed.snapshot_meta().version;
                let path = metadata_path("snapshot", consistent.then_some(v));
                let snap: Metadata<Snapshot> = read_metadata(storage, &path, "snapshot")?
                    .ok_or_else(|| {
                        invalid(format!(
                            "repository/{path} is missing although timestamp.json names it: the published tree is damaged; run `tufkit verify` and then `tufkit snapshot`"
                        ))
                    })?;
                Some(snap)
            }
            None => None,
        };
        Ok(Head {
            root,
            timestamp,
            snapshot,
        })
    }

    /// The published version of a targets role (0 if never published).
    pub fn role_version(&self, role: &str) -> u64 {
        self.snapshot
            .as_ref()
            .and_then(|s| s.signed.role_meta(role))
            .map(|m| m.version)
            .unwrap_or(0)
    }

    /// Names of the targets roles the snapshot lists.
    pub fn listed_roles(&self) -> Vec<String> {
        self.snapshot
            .as_ref()
            .map(|s| {
                s.signed
                    .meta
                    .keys()
                    .filter_map(|f| f.strip_suffix(".json"))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Published {
    /// Loads the published state: the top-level roles and every targets role the
    /// snapshot lists (parsed in parallel). Commands that change the repository load
    /// only the roles they need instead ([`Head`], [`crate::roles::RoleStore`]).
    pub fn load(storage: &dyn Storage) -> Result<Published> {
        let head = Head::load(storage)?;
        let consistent = head.root.signed.consistent();
        let wanted: Vec<(String, u64)> = head
            .listed_roles()
            .into_iter()
            .map(|r| {
                let v = head.role_version(&r);
                (r, v)
            })
            .collect();
        let loaded =
            crate::parallel::try_map(wanted, crate::parallel::cpu_threads(), |(role, v)| {
                let path = metadata_path(&role, consistent.then_some(v));
                read_metadata::<Targets>(storage, &path, &role).map(|m| (role, m))
            })?;
        let roles: RoleSet = loaded
            .into_iter()
            .filter_map(|(r, m)| m.map(|m| (r, m)))
            .collect();
        Ok(Published {
            root: head.root,
            timestamp: head.timestamp,
            snapshot: head.snapshot,
            roles,
        })
    }

    /// The published version of a targets role (0 if never published).
    pub fn role_version(&self, role: &str) -> u64 {
        self.snapshot
            .as_ref()
            .and_then(|s| s.signed.role_meta(role))
            .map(|m| m.version)
            .unwrap_or(0)
    }
}

/// Who may sign a targets role: the delegator's keys for it and its threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Authority {
    /// The delegating role (`root` for `targets`).
    pub delegator: String,
    /// Keys the delegator lists, by keyid.
    pub keys: BTreeMap<KeyId, Key>,
    /// Keyids authorised for the role.
    pub keyids: Vec<KeyId>,
    /// Distinct keys required.
    pub threshold: u64,
}

impl Authority {
    /// The authority of a top-level role in `root`.
    pub fn top_level(root: &Root, role: &str) -> Result<Authority> {
        let r = root.role(role).ok_or_else(|| {
            invalid(format!(
                "root v{} does not define role {role}",
                root.version
            ))
        })?;
        Ok(Authority {
            delegator: "root".into(),
            keys: root.keys.clone(),
            keyids: r.keyids.clone(),
            threshold: r.threshold,
        })
    }
}

/// Finds who delegates to `role` in `roles`, breadth-first from `targets` (the first
/// delegation found wins, as for a client's pre-order search).
pub fn authority_for(root: &Root, roles: &RoleSet, role: &str) -> Result<Authority> {
    if role == "targets" {
        return Authority::top_level(root, "targets");
    }
    let mut queue = VecDeque::from(["targets".to_string()]);
    let mut seen = std::collections::HashSet::new();
    while let Some(name) = queue.pop_front() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(d) = roles.get(&name).and_then(|m| m.signed.delegations.as_ref()) else {
            continue;
        };
        if let Some(keys) = d.role_keys(role) {
            return Ok(Authority {
                delegator: name,
                keys: d.keys.clone(),
                keyids: keys.keyids.to_vec(),
                threshold: keys.threshold,
            });
        }
        if let Some(list) = &d.roles {
            queue.extend(list.iter().map(|r| r.name.clone()));
        }
        if let Some(s) = &d.succinct_roles {
            // Bins exist only if they have metadata; visit those.
            queue.extend(roles.keys().filter(|n| s.is_bin(n)).cloned());
        }
    }
    Err(invalid(format!(
        "role {role:?} is not delegated by any targets role; delegate it first with `tufkit delegate DIR --to {role} ...`"
    )))
}

/// The role a new target at `path` belongs in: the role a client's search would reach
/// first that lists it already, else the deepest first-priority delegation matching it.
pub fn role_for_target(roles: &RoleSet, path: &str) -> String {
    let mut current = "targets".to_string();
    let mut seen = std::collections::HashSet::new();
    loop {
        if !seen.insert(current.clone()) {
            return current;
        }
        let Some(meta) = roles.get(&current) else {
            return current;
        };
        if meta.signed.targets.contains_key(path) {
            return current;
        }
        let next = meta
            .signed
            .delegations
            .as_ref()
            .and_then(|d| d.roles_for_target(path).into_iter().next());
        match next {
            Some((child, _)) => current = child,
            None => return current,
        }
    }
}

/// Serialises metadata as tufkit publishes it (pretty JSON plus a newline).
pub fn to_bytes<T: Serialize + RoleMetadata>(m: &Metadata<T>) -> Result<Vec<u8>> {
    m.to_json_bytes()
        .map_err(|e| Error::metadata(format!("{} metadata", T::TYPE), e))
}
