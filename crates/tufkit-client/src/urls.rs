//! Request URLs and file names for metadata and targets (spec 5.3.2, 5.5.1, 5.7.2).
//!
//! A URL is always `base + name`: the base is used byte for byte (its percent-escapes are
//! never decoded or re-encoded) and role names are percent-encoded with everything except
//! `A-Z a-z 0-9 - _ . ~` escaped.

use std::collections::BTreeMap;

use tufkit_core::rolename::role_file_name;

/// Makes sure a base URL ends with `/`, so that `base + name` names a file inside it.
pub fn normalize_base(base: &str) -> String {
    let mut base = base.to_string();
    if !base.ends_with('/') {
        base.push('/');
    }
    base
}

/// `N.root.json`: root files are always version-prefixed (5.3.2).
pub fn root_file_name(version: u64) -> String {
    format!("{version}.root.json")
}

/// The remote file name of snapshot, targets or a delegated role: `V.ROLE.json` with
/// consistent snapshots, `ROLE.json` otherwise (5.5.1, 5.6.1). Timestamp is never prefixed.
pub fn role_remote_name(role: &str, version: u64, consistent_snapshot: bool) -> String {
    if consistent_snapshot && role != "timestamp" {
        role_file_name(role, Some(version))
    } else {
        role_file_name(role, None)
    }
}

/// The hash whose value prefixes a consistent target file name: sha256 if listed, else the
/// first listed algorithm.
pub fn prefix_hash(hashes: &BTreeMap<String, String>) -> Option<&str> {
    hashes
        .get("sha256")
        .or_else(|| hashes.values().next())
        .map(String::as_str)
}

/// The path of a target relative to the targets base URL (5.7.2): `dirs/HASH.basename`
/// when `hash_prefix` is given, else the target path itself. Not percent-encoded.
pub fn target_remote_path(target_path: &str, hash_prefix: Option<&str>) -> String {
    match hash_prefix {
        None => target_path.to_string(),
        Some(hash) => match target_path.rsplit_once('/') {
            Some((dirs, base)) => format!("{dirs}/{hash}.{base}"),
            None => format!("{hash}.{target_path}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert_eq!(normalize_base("http://h/a%2Fb"), "http://h/a%2Fb/");
        assert_eq!(normalize_base("http://h/a%2Fb/"), "http://h/a%2Fb/");
        assert_eq!(root_file_name(7), "7.root.json");
        assert_eq!(role_remote_name("snapshot", 3, true), "3.snapshot.json");
        assert_eq!(role_remote_name("snapshot", 3, false), "snapshot.json");
        assert_eq!(role_remote_name("timestamp", 3, true), "timestamp.json");
        assert_eq!(role_remote_name("../x", 1, true), "1...%2Fx.json");
        assert_eq!(role_remote_name("a?b#c", 2, false), "a%3Fb%23c.json");
        assert_eq!(target_remote_path("a/b/c.txt", Some("ff")), "a/b/ff.c.txt");
        assert_eq!(target_remote_path("c.txt", Some("ff")), "ff.c.txt");
        assert_eq!(target_remote_path("a b/c", None), "a b/c");
        let mut h = BTreeMap::new();
        h.insert("sha512".to_string(), "bb".to_string());
        assert_eq!(prefix_hash(&h), Some("bb"));
        h.insert("sha256".to_string(), "aa".to_string());
        assert_eq!(prefix_hash(&h), Some("aa"));
    }
}
