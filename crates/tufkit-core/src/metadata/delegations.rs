//! Delegations: ordered `roles` (spec 4.5) or TAP 15 `succinct_roles` (hashed bins).

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use serde_json::{Map, Value};

use super::de::deserialize_keeping_unknown;
use super::{invalid, TOP_LEVEL_ROLES};
use crate::crypto::hash::HashAlgorithm;
use crate::crypto::{Key, KeyId, RoleKeysRef};
use crate::error::Result;
use crate::json::Node;

/// The `delegations` object of a targets role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delegations {
    /// Keys the delegated roles use, by keyid.
    pub keys: BTreeMap<KeyId, Key>,
    /// Delegated roles in priority order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<DelegatedRole>>,
    /// Hashed bins (TAP 15), instead of `roles`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succinct_roles: Option<SuccinctRoles>,
    /// Fields tufkit does not know.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

/// One entry of `delegations.roles`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DelegatedRole {
    /// Role name (also its metadata file name, percent-encoded by clients).
    pub name: String,
    /// Keyids authorised to sign for the role.
    pub keyids: Vec<KeyId>,
    /// Distinct keys required.
    pub threshold: u64,
    /// When true, a search that reaches this role does not go on to later roles.
    pub terminating: bool,
    /// Glob patterns, matched per `/`-separated segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    /// Hex prefixes of the SHA-256 of target paths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hash_prefixes: Option<Vec<String>>,
    /// Fields tufkit does not know.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

/// TAP 15 succinct hashed-bin delegation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuccinctRoles {
    /// Keyids shared by every bin.
    pub keyids: Vec<KeyId>,
    /// Distinct keys required.
    pub threshold: u64,
    /// Number of leading bits of SHA-256(path) that select the bin (1 to 32).
    pub bit_length: u32,
    /// Bin names are `{name_prefix}-{index in hex}`.
    pub name_prefix: String,
    /// Fields tufkit does not know.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

deserialize_keeping_unknown!(Delegations, "a delegations object",
    required { "keys" => keys: BTreeMap<KeyId, Key> }
    optional { "roles" => roles: Vec<DelegatedRole>, "succinct_roles" => succinct_roles: SuccinctRoles }
);

deserialize_keeping_unknown!(DelegatedRole, "a delegated role",
    required {
        "name" => name: String,
        "keyids" => keyids: Vec<KeyId>,
        "threshold" => threshold: u64,
        "terminating" => terminating: bool,
    }
    optional { "paths" => paths: Vec<String>, "path_hash_prefixes" => path_hash_prefixes: Vec<String> }
);

deserialize_keeping_unknown!(SuccinctRoles, "succinct_roles",
    required {
        "keyids" => keyids: Vec<KeyId>,
        "threshold" => threshold: u64,
        "bit_length" => bit_length: u32,
        "name_prefix" => name_prefix: String,
    }
    optional {}
);

/// A delegated role name must be non-empty and not a top-level role's name.
pub(crate) fn check_role_name(role: &str, field: &str, name: &str) -> Result<()> {
    if name.is_empty() || TOP_LEVEL_ROLES.contains(&name) {
        return Err(invalid(
            role,
            field,
            format!("{name:?} cannot be a delegated role name"),
        ));
    }
    Ok(())
}

/// Whether a delegated role is trusted for a target (5.6.7.2.1.3), from the `paths` and
/// `path_hash_prefixes` values of its JSON, without building the role; `path_digest` is
/// the hex SHA-256 of the path. Gives the same answer as [`DelegatedRole::matches`] for
/// every well-formed role.
pub(crate) fn node_matches(
    paths: Option<&Node<'_>>,
    path_hash_prefixes: Option<&Node<'_>>,
    target_path: &str,
    path_digest: &str,
) -> bool {
    if let Some(Node::Array(patterns)) = paths {
        return patterns
            .iter()
            .any(|p| p.as_str().is_some_and(|p| path_matches(p, target_path)));
    }
    if let Some(Node::Array(prefixes)) = path_hash_prefixes {
        return prefixes
            .iter()
            .any(|p| p.as_str().is_some_and(|p| path_digest.starts_with(p)));
    }
    false
}

impl DelegatedRole {
    /// Checks this entry of `delegations.roles`; `field` is its JSON path for errors.
    pub(crate) fn validate(&self, role: &str, field: &str) -> Result<()> {
        check_role_name(role, &format!("{field}.name"), &self.name)?;
        if self.threshold == 0 {
            return Err(invalid(
                role,
                &format!("{field}.threshold"),
                "must be 1 or more",
            ));
        }
        check_unique_keyids(role, &format!("{field}.keyids"), &self.keyids)?;
        match (&self.paths, &self.path_hash_prefixes) {
            (Some(_), Some(_)) => Err(invalid(
                role,
                field,
                "has both paths and path_hash_prefixes",
            )),
            (None, None) => Err(invalid(role, field, "needs paths or path_hash_prefixes")),
            (None, Some(prefixes)) => {
                for p in prefixes {
                    if !p.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(invalid(
                            role,
                            &format!("{field}.path_hash_prefixes"),
                            format!("{p:?} is not a hex prefix"),
                        ));
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// True if this role is trusted for `target_path` (spec 5.6.7.2.1.3).
    pub fn matches(&self, target_path: &str) -> bool {
        self.matches_with_digest(
            target_path,
            &HashAlgorithm::Sha256.hex_digest(target_path.as_bytes()),
        )
    }

    /// [`DelegatedRole::matches`] with the hex SHA-256 of the path computed by the caller
    /// (once per search step, not once per role: hashed-bin repositories list thousands).
    pub(crate) fn matches_with_digest(&self, target_path: &str, path_digest: &str) -> bool {
        if let Some(patterns) = &self.paths {
            return patterns.iter().any(|p| path_matches(p, target_path));
        }
        if let Some(prefixes) = &self.path_hash_prefixes {
            return prefixes.iter().any(|p| path_digest.starts_with(p.as_str()));
        }
        false
    }

    /// A borrowed view for threshold checks.
    pub fn keys(&self) -> RoleKeysRef<'_> {
        RoleKeysRef {
            keyids: &self.keyids,
            threshold: self.threshold,
        }
    }
}

impl SuccinctRoles {
    /// Number of bins: 2^bit_length.
    pub fn bin_count(&self) -> u64 {
        1u64 << self.bit_length
    }

    fn hex_width(&self) -> usize {
        // Width of the largest index (2^bit_length - 1) in hex.
        (self.bit_length as usize).div_ceil(4).max(1)
    }

    /// The name of bin `index`.
    pub fn bin_name(&self, index: u64) -> String {
        format!(
            "{}-{:0width$x}",
            self.name_prefix,
            index,
            width = self.hex_width()
        )
    }

    /// The bin responsible for `target_path`: the first `bit_length` bits of SHA-256(path).
    pub fn bin_for(&self, target_path: &str) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, target_path.as_bytes());
        let d = digest.as_ref();
        let first = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
        let index = (first as u64) >> (32 - self.bit_length);
        self.bin_name(index)
    }

    /// True if `role` is one of the bins.
    pub fn is_bin(&self, role: &str) -> bool {
        let Some(suffix) = role
            .strip_prefix(&self.name_prefix)
            .and_then(|r| r.strip_prefix('-'))
        else {
            return false;
        };
        if suffix.len() != self.hex_width()
            || !suffix
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return false;
        }
        u64::from_str_radix(suffix, 16).is_ok_and(|i| i < self.bin_count())
    }

    /// A borrowed view for threshold checks.
    pub fn keys(&self) -> RoleKeysRef<'_> {
        RoleKeysRef {
            keyids: &self.keyids,
            threshold: self.threshold,
        }
    }
}

impl Delegations {
    /// The delegation entry for `role`, as (keys, terminating), if this object delegates to it.
    pub fn role_keys(&self, role: &str) -> Option<RoleKeysRef<'_>> {
        if let Some(roles) = &self.roles {
            return roles.iter().find(|r| r.name == role).map(|r| r.keys());
        }
        if let Some(s) = &self.succinct_roles {
            if s.is_bin(role) {
                return Some(s.keys());
            }
        }
        None
    }

    /// The roles to visit for `target_path`, in priority order, with their `terminating` flag.
    pub fn roles_for_target(&self, target_path: &str) -> Vec<(String, bool)> {
        if let Some(roles) = &self.roles {
            let digest = HashAlgorithm::Sha256.hex_digest(target_path.as_bytes());
            return roles
                .iter()
                .filter(|r| r.matches_with_digest(target_path, &digest))
                .map(|r| (r.name.clone(), r.terminating))
                .collect();
        }
        if let Some(s) = &self.succinct_roles {
            return vec![(s.bin_for(target_path), false)];
        }
        Vec::new()
    }

    pub(crate) fn validate(&self, role: &str) -> Result<()> {
        match (&self.roles, &self.succinct_roles) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    role,
                    "signed.delegations",
                    "has both roles and succinct_roles",
                ))
            }
            (None, None) => {
                return Err(invalid(
                    role,
                    "signed.delegations",
                    "needs roles or succinct_roles",
                ))
            }
            _ => {}
        }
        if let Some(roles) = &self.roles {
            let mut names = HashSet::new();
            for (i, r) in roles.iter().enumerate() {
                let field = format!("signed.delegations.roles[{i}]");
                if !names.insert(r.name.as_str()) {
                    return Err(invalid(
                        role,
                        &field,
                        format!("role name {:?} is delegated twice", r.name),
                    ));
                }
                r.validate(role, &field)?;
            }
        }
        if let Some(s) = &self.succinct_roles {
            if !(1..=32).contains(&s.bit_length) {
                return Err(invalid(
                    role,
                    "signed.delegations.succinct_roles.bit_length",
                    "must be 1 to 32",
                ));
            }
            if s.threshold == 0 {
                return Err(invalid(
                    role,
                    "signed.delegations.succinct_roles.threshold",
                    "must be 1 or more",
                ));
            }
            check_unique_keyids(role, "signed.delegations.succinct_roles.keyids", &s.keyids)?;
        }
        Ok(())
    }
}

/// A keyid listed twice for one role is a schema error (as in python-tuf).
fn check_unique_keyids(role: &str, field: &str, keyids: &[KeyId]) -> Result<()> {
    let mut seen = HashSet::new();
    match keyids.iter().find(|k| !seen.insert(*k)) {
        Some(dup) => Err(invalid(role, field, format!("lists keyid {dup} twice"))),
        None => Ok(()),
    }
}

/// Glob match of a target path against a delegation pattern, segment by segment.
///
/// Pattern and path must have the same number of `/`-separated segments; within a
/// segment `*` matches any run of characters, `?` one character, `[abc]`/`[!abc]`/`[a-z]` a
/// class. Matching is case-sensitive and never crosses `/`.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.split('/').collect();
    let segs: Vec<&str> = path.split('/').collect();
    pat.len() == segs.len() && pat.iter().zip(&segs).all(|(p, s)| glob_segment(p, s))
}

fn glob_segment(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matcher with backtracking to the last `*`.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = match_class(&p, pi, t[ti]) {
                        if matched {
                            pi = next;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        // An unterminated class is a literal '['.
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class starting at `p[start] == '['`; returns (matched, index after `]`).
fn match_class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = i < p.len() && p[i] == '!';
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() && (first || p[i] != ']') {
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    if i >= p.len() {
        return None;
    }
    Some((matched != negate, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_per_segment() {
        assert!(path_matches("*", "file.txt"));
        assert!(!path_matches("*", "dir/file.txt"));
        assert!(path_matches("dir/*", "dir/file.txt"));
        assert!(!path_matches("dir/*", "dir/sub/file.txt"));
        assert!(path_matches("*/*.tgz", "a/b.tgz"));
        assert!(path_matches("f?le", "file"));
        assert!(!path_matches("f?le", "f/le"));
        assert!(!path_matches("File", "file"));
        assert!(path_matches("v[0-9].txt", "v3.txt"));
        assert!(!path_matches("v[!0-9].txt", "v3.txt"));
        assert!(path_matches("a*b*c", "aXXbYYc"));
        assert!(!path_matches("a*b*c", "aXXbYY"));
        assert!(path_matches("", ""));
        assert!(path_matches("[", "["));
    }

    #[test]
    fn succinct_bins_follow_tap15() {
        let s = SuccinctRoles {
            keyids: vec![],
            threshold: 1,
            bit_length: 8,
            name_prefix: "bins".into(),
            unknown: Map::new(),
        };
        assert_eq!(s.bin_name(0), "bins-00");
        assert_eq!(s.bin_name(255), "bins-ff");
        // sha256("a") starts with 0xca
        assert_eq!(s.bin_for("a"), "bins-ca");
        assert!(s.is_bin("bins-ca"));
        assert!(!s.is_bin("bins-ca0"));
        assert!(!s.is_bin("bins-CA"));
        let s5 = SuccinctRoles {
            bit_length: 5,
            ..s.clone()
        };
        assert_eq!(s5.bin_name(31), "bins-1f");
        assert_eq!(s5.bin_for("a"), format!("bins-{:02x}", 0xca >> 3));
        let s1 = SuccinctRoles {
            bit_length: 1,
            ..s.clone()
        };
        assert_eq!(s1.bin_name(1), "bins-1");
        let s32 = SuccinctRoles {
            bit_length: 32,
            ..s
        };
        assert_eq!(s32.bin_name(0), "bins-00000000");
    }
}
