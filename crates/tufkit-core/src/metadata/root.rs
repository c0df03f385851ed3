//! Root metadata (spec 4.3).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::de::{deserialize_keeping_unknown, Rfc3339};
use super::{invalid, RoleMetadata};
use crate::crypto::{Key, KeyId, RoleKeysRef};
use crate::error::Result;

/// The four top-level roles every root must define.
pub const TOP_LEVEL_ROLES: [&str; 4] = ["root", "timestamp", "snapshot", "targets"];

/// Keys and threshold of one top-level role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleKeys {
    /// Keyids authorised to sign for the role.
    pub keyids: Vec<KeyId>,
    /// Distinct keys required. A threshold above the number of keys is accepted here and
    /// simply cannot be met later.
    pub threshold: u64,
    /// Fields tufkit does not know.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

deserialize_keeping_unknown!(RoleKeys, "a role with keyids and threshold",
    required { "keyids" => keyids: Vec<KeyId>, "threshold" => threshold: u64 }
    optional {}
);

impl RoleKeys {
    /// A borrowed view for threshold checks.
    pub fn as_ref(&self) -> RoleKeysRef<'_> {
        RoleKeysRef {
            keyids: &self.keyids,
            threshold: self.threshold,
        }
    }
}

/// The `signed` part of `root.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Root {
    /// Always `"root"`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// TUF specification version (1.x).
    pub spec_version: String,
    /// Version, starting at 1, exactly +1 per new root.
    pub version: u64,
    /// Expiry.
    #[serde(with = "super::expires")]
    pub expires: DateTime<Utc>,
    /// Whether metadata and targets are published with version/hash prefixes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent_snapshot: Option<bool>,
    /// Every key any top-level role uses, by keyid.
    pub keys: BTreeMap<KeyId, Key>,
    /// Keys and threshold per top-level role.
    pub roles: BTreeMap<String, RoleKeys>,
    /// Fields tufkit does not know.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

deserialize_keeping_unknown!(Root, "root metadata",
    required {
        "_type" => type_: String,
        "spec_version" => spec_version: String,
        "version" => version: u64,
        "expires" => expires: Rfc3339,
        "keys" => keys: BTreeMap<KeyId, Key>,
        "roles" => roles: BTreeMap<String, RoleKeys>,
    }
    optional { "consistent_snapshot" => consistent_snapshot: bool }
);

impl Root {
    /// Keys and threshold of a top-level role (`root`, `timestamp`, `snapshot`, `targets`).
    pub fn role(&self, name: &str) -> Option<&RoleKeys> {
        self.roles.get(name)
    }

    /// True when the repository publishes consistent snapshots.
    pub fn consistent(&self) -> bool {
        self.consistent_snapshot.unwrap_or(false)
    }
}

impl RoleMetadata for Root {
    const TYPE: &'static str = "root";
    super::common_accessors!();
    fn validate(&self, role: &str) -> Result<()> {
        for name in TOP_LEVEL_ROLES {
            let keys = self
                .roles
                .get(name)
                .ok_or_else(|| invalid(role, &format!("signed.roles.{name}"), "is missing"))?;
            if keys.threshold == 0 {
                return Err(invalid(
                    role,
                    &format!("signed.roles.{name}.threshold"),
                    "must be 1 or more",
                ));
            }
            let mut seen = HashSet::new();
            for id in &keys.keyids {
                if !seen.insert(id) {
                    return Err(invalid(
                        role,
                        &format!("signed.roles.{name}.keyids"),
                        format!("lists keyid {id} twice"),
                    ));
                }
            }
        }
        Ok(())
    }
}
