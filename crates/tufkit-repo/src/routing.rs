//! Which delegated role of one targets role a target path goes to, without checking every
//! delegated role in turn.
//!
//! A repository with classic hashed bins (PEP 458 style) has one targets role delegating
//! to thousands of roles, each with `path_hash_prefixes`. Finding the first of them that
//! matches a path by trying each in priority order costs one prefix check per role for
//! every target; adding a million targets would make billions. A [`DelegationIndex`] is
//! built once per delegating role and answers the same question with one hash lookup per
//! distinct prefix length, plus the `paths` roles placed before the best prefix match.

use std::collections::HashMap;

use tufkit_core::crypto::hash::HashAlgorithm;
use tufkit_core::metadata::{DelegatedRole, Delegations, SuccinctRoles};

/// Length of a hex SHA-256 digest: no longer prefix can match.
const DIGEST_HEX_LEN: usize = 64;

/// The delegations of one targets role, indexed for [`DelegationIndex::first_match`].
#[derive(Debug, Clone)]
pub struct DelegationIndex {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// No delegations: no role is trusted for any path.
    Empty,
    /// `delegations.roles` (spec 4.5), in priority order.
    Roles(RolesIndex),
    /// TAP 15 hashed bins: the bin is computed from the path.
    Succinct(SuccinctRoles),
}

#[derive(Debug, Clone, Default)]
struct RolesIndex {
    /// Name and `terminating` flag of each delegated role, by priority (position).
    roles: Vec<(String, bool)>,
    /// The roles with `paths` globs, by position (tried in order).
    globs: Vec<(usize, DelegatedRole)>,
    /// Each hash prefix, with the position of the first role listing it.
    prefixes: HashMap<Box<str>, usize>,
    /// The distinct lengths of the prefixes (at most 64), shortest first.
    lengths: Vec<usize>,
}

impl DelegationIndex {
    /// Indexes `delegations` (or nothing, for a role that delegates nothing).
    pub fn new(delegations: Option<&Delegations>) -> DelegationIndex {
        let Some(d) = delegations else {
            return DelegationIndex { kind: Kind::Empty };
        };
        // As `Delegations::roles_for_target`: `roles`, when present, decides alone.
        if let Some(list) = &d.roles {
            return DelegationIndex {
                kind: Kind::Roles(RolesIndex::new(list)),
            };
        }
        match &d.succinct_roles {
            Some(s) => DelegationIndex {
                kind: Kind::Succinct(s.clone()),
            },
            None => DelegationIndex { kind: Kind::Empty },
        }
    }

    /// The first delegated role, in priority order, trusted for `path` (spec
    /// 5.6.7.2.1.3), with its `terminating` flag: the first entry of
    /// [`Delegations::roles_for_target`] for the same delegations.
    pub fn first_match(&self, path: &str) -> Option<(String, bool)> {
        match &self.kind {
            Kind::Empty => None,
            Kind::Succinct(s) => Some((s.bin_for(path), false)),
            Kind::Roles(r) => r.first_match(path).and_then(|i| r.roles.get(i).cloned()),
        }
    }
}

impl RolesIndex {
    fn new(list: &[DelegatedRole]) -> RolesIndex {
        let mut index = RolesIndex::default();
        for (position, role) in list.iter().enumerate() {
            index.roles.push((role.name.clone(), role.terminating));
            // A role with `paths` is matched by them alone, even if it also lists
            // prefixes (as `DelegatedRole::matches` does).
            if role.paths.is_some() {
                index.globs.push((position, role.clone()));
                continue;
            }
            for prefix in role.path_hash_prefixes.iter().flatten() {
                if prefix.len() > DIGEST_HEX_LEN {
                    continue;
                }
                // Earlier roles come first: the first to list a prefix keeps it.
                index
                    .prefixes
                    .entry(prefix.as_str().into())
                    .or_insert(position);
            }
        }
        let mut lengths: Vec<usize> = index.prefixes.keys().map(|p| p.len()).collect();
        lengths.sort_unstable();
        lengths.dedup();
        index.lengths = lengths;
        index
    }

    /// The position of the first role trusted for `path`.
    fn first_match(&self, path: &str) -> Option<usize> {
        let mut best: Option<usize> = None;
        if !self.lengths.is_empty() {
            let digest = HashAlgorithm::Sha256.hex_digest(path.as_bytes());
            for &len in &self.lengths {
                let Some(head) = digest.get(..len) else {
                    break;
                };
                if let Some(&position) = self.prefixes.get(head) {
                    best = Some(best.map_or(position, |b| b.min(position)));
                }
            }
        }
        // A glob role wins only if it comes before the best prefix match.
        for (position, role) in &self.globs {
            if best.is_some_and(|b| *position >= b) {
                break;
            }
            if role.matches(path) {
                return Some(*position);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn role(name: &str, paths: Option<&[&str]>, prefixes: Option<&[&str]>) -> DelegatedRole {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        DelegatedRole {
            name: name.into(),
            keyids: Vec::new(),
            threshold: 1,
            terminating: false,
            paths: paths.map(strings),
            path_hash_prefixes: prefixes.map(strings),
            unknown: Map::new(),
        }
    }

    #[test]
    fn an_empty_prefix_and_an_overlong_prefix_behave_as_in_a_scan() {
        let d = Delegations {
            keys: Default::default(),
            roles: Some(vec![
                role("long", None, Some(&[&"0".repeat(65)])),
                role("none", None, None),
                role("all", None, Some(&[""])),
            ]),
            succinct_roles: None,
            unknown: Map::new(),
        };
        let index = DelegationIndex::new(Some(&d));
        for path in ["a", "b/c", "0"] {
            assert_eq!(index.first_match(path), Some(("all".into(), false)));
            assert_eq!(
                index.first_match(path),
                d.roles_for_target(path).into_iter().next()
            );
        }
        assert_eq!(DelegationIndex::new(None).first_match("a"), None);
    }
}
