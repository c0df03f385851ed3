//! Routing new targets through classic delegations (`paths` and `path_hash_prefixes`)
//! with the indexed search gives the role a scan of every delegation gives.

mod common;

use serde_json::Map;
use tempfile::TempDir;
use tufkit_core::crypto::hash::HashAlgorithm;
use tufkit_core::metadata::{DelegatedRole, Delegations};
use tufkit_repo::edit::{delegate, empty_targets, Delegation, DelegationScope};
use tufkit_repo::keys::{generate, KeyType};
use tufkit_repo::roles::RoleStore;
use tufkit_repo::routing::DelegationIndex;
use tufkit_repo::Workspace;

fn digest(path: &str) -> String {
    HashAlgorithm::Sha256.hex_digest(path.as_bytes())
}

/// The first path `{stem}{n}` whose SHA-256 starts with `prefix` and with none of `not`.
fn path_with(stem: &str, prefix: &str, not: &[&str]) -> String {
    (0..)
        .map(|n| format!("{stem}{n}"))
        .find(|p| {
            let d = digest(p);
            d.starts_with(prefix) && !not.iter().any(|x| d.starts_with(x))
        })
        .unwrap()
}

/// Stages the delegations `(from, to, scope, terminating)` in order.
fn delegate_all(ws: &Workspace, list: &[(&str, &str, DelegationScope, bool)]) {
    let (key, _) = generate(KeyType::Ed25519).unwrap();
    for (from, to, scope, terminating) in list {
        delegate(
            ws,
            &Delegation {
                from: from.to_string(),
                to: to.to_string(),
                keys: vec![(key.key_id().clone(), key.public_key().clone())],
                threshold: 1,
                scope: scope.clone(),
                terminating: *terminating,
            },
        )
        .unwrap();
    }
}

fn prefixes(p: &[&str]) -> DelegationScope {
    DelegationScope::HashPrefixes(p.iter().map(|s| s.to_string()).collect())
}

fn globs(p: &[&str]) -> DelegationScope {
    DelegationScope::Paths(p.iter().map(|s| s.to_string()).collect())
}

/// Routes `path` in a fresh store, checking the indexed route against the scan.
fn route(ws: &Workspace, path: &str) -> String {
    let head = ws.head().unwrap();
    let store = RoleStore::new(ws, &head, true).unwrap();
    let indexed = store.route(path).unwrap();
    assert_eq!(indexed, store.route_by_scan(path).unwrap(), "{path}");
    indexed
}

#[test]
fn prefixes_of_different_lengths_each_route_to_their_role() {
    let tmp = TempDir::new().unwrap();
    let ws = common::new_repo(tmp.path(), common::t0());
    delegate_all(
        &ws,
        &[
            ("targets", "one", prefixes(&["0", "1"]), false),
            ("targets", "three", prefixes(&["abc", "ab1"]), false),
            ("targets", "four", prefixes(&["f0f0"]), false),
        ],
    );
    assert_eq!(route(&ws, &path_with("p", "1", &[])), "one");
    assert_eq!(route(&ws, &path_with("p", "abc", &[])), "three");
    assert_eq!(route(&ws, &path_with("p", "ab1", &[])), "three");
    assert_eq!(route(&ws, &path_with("p", "f0f0", &[])), "four");
    // Near misses stay with the delegator.
    assert_eq!(
        route(&ws, &path_with("p", "ab", &["abc", "ab1"])),
        "targets"
    );
    assert_eq!(route(&ws, &path_with("p", "f0f", &["f0f0"])), "targets");
}

#[test]
fn the_earlier_delegation_wins_whether_glob_or_shorter_or_longer_prefix() {
    let tmp = TempDir::new().unwrap();
    let ws = common::new_repo(tmp.path(), common::t0());
    delegate_all(
        &ws,
        &[
            ("targets", "special", globs(&["special/*"]), false),
            ("targets", "short", prefixes(&["a"]), false),
            ("targets", "long", prefixes(&["ab"]), false),
            ("targets", "long-first", prefixes(&["cd"]), false),
            ("targets", "short-later", prefixes(&["c"]), false),
            ("targets", "top-level", globs(&["*"]), false),
        ],
    );
    // A glob role before every prefix role wins over them.
    assert_eq!(route(&ws, &path_with("special/", "ab", &[])), "special");
    // A shorter prefix listed first wins over a longer one listed later...
    assert_eq!(route(&ws, &path_with("x/", "ab", &[])), "short");
    // ...and a longer prefix listed first wins over a shorter one listed later.
    assert_eq!(route(&ws, &path_with("x/", "cd", &[])), "long-first");
    assert_eq!(route(&ws, &path_with("x/", "c", &["cd"])), "short-later");
    // A glob role after the prefix roles: only when no earlier prefix matches.
    assert_eq!(route(&ws, &path_with("x", "a", &[])), "short");
    assert_eq!(route(&ws, &path_with("x", "0", &[])), "top-level");
    assert_eq!(route(&ws, &path_with("x/", "0", &[])), "targets");
}

#[test]
fn terminating_delegations_route_as_before() {
    let tmp = TempDir::new().unwrap();
    let ws = common::new_repo(tmp.path(), common::t0());
    delegate_all(
        &ws,
        &[
            ("targets", "stop", prefixes(&["a"]), true),
            ("targets", "rest", globs(&["*"]), false),
            ("stop", "deeper", prefixes(&["ab"]), true),
            ("stop", "sibling", prefixes(&["a0"]), false),
        ],
    );
    assert_eq!(route(&ws, &path_with("f", "ab", &[])), "deeper");
    assert_eq!(route(&ws, &path_with("f", "a0", &[])), "sibling");
    // Reached `stop`, which delegates nothing for it: the search ends there, and the
    // later `rest` is not tried.
    assert_eq!(route(&ws, &path_with("f", "a", &["ab", "a0"])), "stop");
    assert_eq!(route(&ws, &path_with("f", "b", &[])), "rest");
}

#[test]
fn an_edit_to_a_delegator_is_seen_by_the_next_route() {
    let tmp = TempDir::new().unwrap();
    let ws = common::new_repo(tmp.path(), common::t0());
    delegate_all(&ws, &[("targets", "one", prefixes(&["1"]), false)]);
    let path = path_with("p", "2", &[]);
    let head = ws.head().unwrap();
    let mut store = RoleStore::new(&ws, &head, true).unwrap();
    assert_eq!(store.route(&path).unwrap(), "targets");
    let targets = store.edit("targets", || empty_targets(&ws)).unwrap();
    let d = targets.signed.delegations.as_mut().unwrap();
    let mut two = d.roles.as_ref().unwrap()[0].clone();
    two.name = "two".into();
    two.path_hash_prefixes = Some(vec!["2".into()]);
    d.roles.as_mut().unwrap().push(two);
    assert_eq!(store.route(&path).unwrap(), "two");
}

/// A small deterministic generator (xorshift), so that failures can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }
}

/// A delegation list mixing glob roles and prefix roles of lengths 0 to 4 (some shared
/// by several roles, some upper case, which never match), in random order.
fn random_delegations(rng: &mut Rng, count: usize) -> Delegations {
    let dirs = ["a", "b", "c", "lib"];
    let mut roles = Vec::new();
    for i in 0..count {
        let mut role = DelegatedRole {
            name: format!("r{i}"),
            keyids: Vec::new(),
            threshold: 1,
            terminating: rng.below(4) == 0,
            paths: None,
            path_hash_prefixes: None,
            unknown: Map::new(),
        };
        match rng.below(10) {
            0 | 1 => {
                let dir = dirs[rng.below(dirs.len() as u64) as usize];
                let glob = match rng.below(3) {
                    0 => format!("{dir}/*"),
                    1 => format!("{dir}/*.{}", rng.hex(1)),
                    _ => "*/*".to_string(),
                };
                role.paths = Some(vec![glob]);
            }
            // An empty list: trusted for nothing.
            2 => role.path_hash_prefixes = Some(Vec::new()),
            _ => {
                let n = 1 + rng.below(3) as usize;
                let mut list = Vec::new();
                for _ in 0..n {
                    let len = match rng.below(20) {
                        0 => 0,
                        1 => 4,
                        x => 1 + (x % 3) as usize,
                    };
                    let p = rng.hex(len);
                    list.push(if rng.below(30) == 0 {
                        p.to_uppercase()
                    } else {
                        p
                    });
                }
                role.path_hash_prefixes = Some(list);
            }
        }
        roles.push(role);
    }
    Delegations {
        keys: Default::default(),
        roles: Some(roles),
        succinct_roles: None,
        unknown: Map::new(),
    }
}

fn random_path(rng: &mut Rng) -> String {
    let dirs = ["a", "b", "c", "lib", "x"];
    let dir = dirs[rng.below(dirs.len() as u64) as usize];
    format!("{dir}/{}.{}", rng.below(1_000_000), rng.hex(1))
}

#[test]
fn the_index_matches_a_scan_of_every_delegation_on_random_paths() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for count in [1, 5, 40, 300] {
        let d = random_delegations(&mut rng, count);
        let index = DelegationIndex::new(Some(&d));
        for _ in 0..1_000 {
            let path = random_path(&mut rng);
            assert_eq!(
                index.first_match(&path),
                d.roles_for_target(&path).into_iter().next(),
                "{path} with {count} roles"
            );
        }
    }
}

#[test]
fn routing_through_nested_random_delegations_matches_the_scan() {
    let tmp = TempDir::new().unwrap();
    let ws = common::new_repo(tmp.path(), common::t0());
    let mut rng = Rng(0x0dd_ba11_cafe_0002);
    let head = ws.head().unwrap();
    let mut store = RoleStore::new(&ws, &head, true).unwrap();
    let top = random_delegations(&mut rng, 200);
    // A few of the roles delegate further, to roles of their own.
    for parent in ["r3", "r10", "r50"] {
        let mut inner = random_delegations(&mut rng, 30);
        for r in inner.roles.iter_mut().flatten() {
            r.name = format!("{parent}-{}", r.name);
        }
        store
            .edit(parent, || empty_targets(&ws))
            .unwrap()
            .signed
            .delegations = Some(inner);
    }
    store
        .edit("targets", || empty_targets(&ws))
        .unwrap()
        .signed
        .delegations = Some(top);
    store.save_edits().unwrap();

    let store = RoleStore::new(&ws, &head, true).unwrap();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..3_000 {
        let path = random_path(&mut rng);
        let routed = store.route(&path).unwrap();
        assert_eq!(routed, store.route_by_scan(&path).unwrap(), "{path}");
        seen.insert(routed);
    }
    // The paths reached roles at every depth.
    assert!(seen.iter().any(|r| r.starts_with('r') && !r.contains('-')));
    assert!(seen.iter().any(|r| r.contains('-')));
}
