//! Key, threshold, delegation and target management of [`RepoSim`].

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Map;
use tufkit_core::crypto::hash::HashAlgorithm;
use tufkit_core::crypto::{Key, KeyId, SigningKey};
use tufkit_core::metadata::{DelegatedRole, Delegations, SuccinctRoles, TargetFile};

use super::{hashes_of, is_top_level, RepoSim};

impl RepoSim {
    /// Applies `edit` to every delegation entry (ordered or succinct) for `role`, with the
    /// delegator's key map; marks the delegators and the roles whose keys changed (every
    /// bin of a succinct delegation) as changed. Panics if nobody delegates `role`.
    #[track_caller]
    fn edit_delegation_entries(
        &mut self,
        role: &str,
        mut edit: impl FnMut(&mut Vec<KeyId>, &mut u64, &mut BTreeMap<KeyId, Key>),
    ) {
        let mut delegators = vec![role.to_string()];
        for (name, body) in self.roles.iter_mut() {
            let Some(d) = body.delegations.as_mut() else {
                continue;
            };
            let Delegations {
                keys,
                roles,
                succinct_roles,
                ..
            } = d;
            for r in roles.iter_mut().flatten().filter(|r| r.name == role) {
                edit(&mut r.keyids, &mut r.threshold, keys);
                delegators.push(name.clone());
            }
            if let Some(s) = succinct_roles.as_mut().filter(|s| s.is_bin(role)) {
                edit(&mut s.keyids, &mut s.threshold, keys);
                delegators.push(name.clone());
                delegators.extend((0..s.bin_count()).map(|i| s.bin_name(i)));
            }
        }
        assert!(delegators.len() > 1, "no role delegates to {role:?}");
        self.dirty.extend(delegators);
    }

    /// Makes a new key and authorises it for `role` (top-level: in root; delegated: in
    /// every delegation to it, shared by all bins of a succinct delegation).
    pub fn add_key(&mut self, role: &str) -> Arc<SigningKey> {
        let key = self.new_key();
        self.add_existing_key(role, key.clone());
        key
    }

    /// Authorises `key` for `role` (see [`RepoSim::add_key`]); the sim keeps it to sign.
    #[track_caller]
    pub fn add_existing_key(&mut self, role: &str, key: Arc<SigningKey>) {
        let id = key.key_id().clone();
        let public = key.public_key().clone();
        self.keyring.insert(id.clone(), key);
        self.authorise_keyid(role, id, public);
    }

    /// Authorises `public` under the keyid label `id` for `role`, whatever `id` is (e.g. the
    /// same key material under a second keyid). The key map entry is replaced if present.
    #[track_caller]
    pub fn authorise_keyid(&mut self, role: &str, id: KeyId, public: Key) {
        if is_top_level(role) {
            self.touch(role);
            let root = self.root_mut();
            root.keys.insert(id.clone(), public);
            let entry = root
                .roles
                .get_mut(role)
                .unwrap_or_else(|| panic!("root has no role {role:?}"));
            if !entry.keyids.contains(&id) {
                entry.keyids.push(id);
            }
            return;
        }
        self.edit_delegation_entries(role, |keyids, _, keys| {
            keys.insert(id.clone(), public.clone());
            if !keyids.contains(&id) {
                keyids.push(id.clone());
            }
        });
    }

    /// Withdraws `keyid` from `role` (the key entry stays listed if another role uses it).
    #[track_caller]
    pub fn remove_key(&mut self, role: &str, keyid: &KeyId) {
        if is_top_level(role) {
            self.touch(role);
            let root = self.root_mut();
            if let Some(entry) = root.roles.get_mut(role) {
                entry.keyids.retain(|k| k != keyid);
            }
            if !root.roles.values().any(|r| r.keyids.contains(keyid)) {
                root.keys.remove(keyid);
            }
            return;
        }
        self.edit_delegation_entries(role, |keyids, _, _| keyids.retain(|k| k != keyid));
    }

    /// Replaces every key of `role` with one new key (threshold unchanged); returns it.
    pub fn rotate_keys(&mut self, role: &str) -> Arc<SigningKey> {
        for id in self.authorised_keyids(role) {
            self.remove_key(role, &id);
        }
        self.add_key(role)
    }

    /// Sets the signature threshold of `role` (in root or in every delegation to it).
    #[track_caller]
    pub fn set_threshold(&mut self, role: &str, threshold: u64) {
        if is_top_level(role) {
            self.touch(role);
            let root = self.root_mut();
            root.roles
                .get_mut(role)
                .unwrap_or_else(|| panic!("root has no role {role:?}"))
                .threshold = threshold;
            return;
        }
        self.edit_delegation_entries(role, |_, t, _| *t = threshold);
    }

    // ----- targets ------------------------------------------------------------------

    /// Hash algorithms listed for targets added from now on (default: sha256).
    pub fn set_target_hash_algorithms(&mut self, algorithms: &[HashAlgorithm]) {
        self.target_hashes = algorithms.to_vec();
    }

    /// Lists `content` as target `path` in `role` and serves it from the role's next publish.
    #[track_caller]
    pub fn add_target(
        &mut self,
        role: &str,
        path: &str,
        content: impl Into<Vec<u8>>,
    ) -> TargetFile {
        let content = content.into();
        let info = TargetFile {
            length: content.len() as u64,
            hashes: hashes_of(&content, &self.target_hashes),
            custom: None,
            unknown: Map::new(),
        };
        self.role_mut(role)
            .targets
            .insert(path.to_string(), info.clone());
        self.contents
            .insert((role.to_string(), path.to_string()), content);
        info
    }

    /// Removes target `path` from `role` (its files stay served, as on a real mirror).
    #[track_caller]
    pub fn remove_target(&mut self, role: &str, path: &str) {
        self.role_mut(role).targets.remove(path);
        self.contents.remove(&(role.to_string(), path.to_string()));
    }

    /// The genuine content of target `path` in `role`, if added with [`RepoSim::add_target`].
    pub fn target_content(&self, role: &str, path: &str) -> Option<&[u8]> {
        self.contents
            .get(&(role.to_string(), path.to_string()))
            .map(|c| c.as_slice())
    }

    // ----- delegations --------------------------------------------------------------

    fn delegations_mut(&mut self, delegator: &str) -> &mut Delegations {
        self.role_mut(delegator)
            .delegations
            .get_or_insert_with(|| Delegations {
                keys: BTreeMap::new(),
                roles: Some(Vec::new()),
                succinct_roles: None,
                unknown: Map::new(),
            })
    }

    /// `delegator` delegates `name` for glob `paths` to one new key, threshold 1; creates
    /// the (empty) role. Returns the key.
    pub fn add_delegation(
        &mut self,
        delegator: &str,
        name: &str,
        paths: &[&str],
        terminating: bool,
    ) -> Arc<SigningKey> {
        let key = self.new_key();
        let role = delegated_role(name, terminating);
        let role = DelegatedRole {
            paths: Some(paths.iter().map(|p| p.to_string()).collect()),
            ..role
        };
        self.add_delegation_with(delegator, role, std::slice::from_ref(&key));
        key
    }

    /// `delegator` delegates `name` for SHA-256 path hash `prefixes` to one new key.
    pub fn add_hash_prefix_delegation(
        &mut self,
        delegator: &str,
        name: &str,
        prefixes: &[&str],
    ) -> Arc<SigningKey> {
        let key = self.new_key();
        let role = DelegatedRole {
            path_hash_prefixes: Some(prefixes.iter().map(|p| p.to_string()).collect()),
            ..delegated_role(name, false)
        };
        self.add_delegation_with(delegator, role, std::slice::from_ref(&key));
        key
    }

    /// Appends `role` to `delegator`'s ordered delegations, adding `keys` to its key map
    /// and to the role's keyids. Creates the delegated role's body if it does not exist yet
    /// (signed by these keys); an existing role (a diamond) keeps its body and signers.
    #[track_caller]
    pub fn add_delegation_with(
        &mut self,
        delegator: &str,
        mut role: DelegatedRole,
        keys: &[Arc<SigningKey>],
    ) {
        for k in keys {
            self.keyring.insert(k.key_id().clone(), k.clone());
            if !role.keyids.contains(k.key_id()) {
                role.keyids.push(k.key_id().clone());
            }
        }
        let name = role.name.clone();
        let d = self.delegations_mut(delegator);
        for k in keys {
            d.keys.insert(k.key_id().clone(), k.public_key().clone());
        }
        d.roles
            .as_mut()
            .unwrap_or_else(|| panic!("{delegator} uses succinct_roles; cannot add {name:?}"))
            .push(role);
        if !self.roles.contains_key(&name) {
            let body = self.new_targets_body();
            self.roles.insert(name.clone(), body);
            self.dirty.insert(name);
        }
    }

    /// `delegator` delegates to 2^`bit_length` hashed bins named `{name_prefix}-{hex}`
    /// (TAP 15) sharing one new key; creates every bin. Returns the key.
    pub fn add_succinct_delegation(
        &mut self,
        delegator: &str,
        name_prefix: &str,
        bit_length: u32,
    ) -> Arc<SigningKey> {
        let key = self.new_key();
        let succinct = SuccinctRoles {
            keyids: vec![key.key_id().clone()],
            threshold: 1,
            bit_length,
            name_prefix: name_prefix.to_string(),
            unknown: Map::new(),
        };
        let bins: Vec<String> = (0..succinct.bin_count())
            .map(|i| succinct.bin_name(i))
            .collect();
        let d = self.delegations_mut(delegator);
        d.keys
            .insert(key.key_id().clone(), key.public_key().clone());
        d.roles = None;
        d.succinct_roles = Some(succinct);
        for bin in bins {
            let body = self.new_targets_body();
            self.roles.insert(bin.clone(), body);
            self.dirty.insert(bin);
        }
        key
    }

    /// The bin of `delegator`'s succinct delegation responsible for `target_path`.
    #[track_caller]
    pub fn bin_for(&self, delegator: &str, target_path: &str) -> String {
        self.role(delegator)
            .delegations
            .as_ref()
            .and_then(|d| d.succinct_roles.as_ref())
            .unwrap_or_else(|| panic!("{delegator} has no succinct delegation"))
            .bin_for(target_path)
    }

    /// Removes `delegator`'s delegation to `name`; the role itself goes too (and so leaves
    /// the next snapshot) when nobody else delegates to it.
    pub fn remove_delegation(&mut self, delegator: &str, name: &str) {
        if let Some(roles) = self.delegations_mut(delegator).roles.as_mut() {
            roles.retain(|r| r.name != name);
        }
        if !self.is_delegated(name) {
            self.roles.remove(name);
            self.dirty.remove(name);
        }
    }

    fn is_delegated(&self, name: &str) -> bool {
        self.roles.values().any(|b| {
            b.delegations.as_ref().is_some_and(|d| {
                d.roles.iter().flatten().any(|r| r.name == name)
                    || d.succinct_roles.as_ref().is_some_and(|s| s.is_bin(name))
            })
        })
    }
}

/// A delegated role entry with no keys and no paths yet, threshold 1.
pub fn delegated_role(name: &str, terminating: bool) -> DelegatedRole {
    DelegatedRole {
        name: name.to_string(),
        keyids: Vec::new(),
        threshold: 1,
        terminating,
        paths: None,
        path_hash_prefixes: None,
        unknown: Map::new(),
    }
}
