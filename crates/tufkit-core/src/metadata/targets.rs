//! Targets metadata (spec 4.5), for the top-level role and delegated roles alike.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::de::{deserialize_keeping_unknown, Rfc3339};
use super::{invalid, validate_hashes, Delegations, Hashes, RoleMetadata};
use crate::error::Result;

/// What a targets role says about one target file.
///
/// `Deserialize` is written by hand: a document can list millions of these, and serde's
/// `flatten` (used elsewhere for unknown fields) buffers every entry first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetFile {
    /// Length in bytes.
    pub length: u64,
    /// Hashes of the content (at least one).
    pub hashes: Hashes,
    /// Opaque application data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Value>,
    /// Fields tufkit does not know.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

deserialize_keeping_unknown!(TargetFile, "a target file object with length and hashes",
    required { "length" => length: u64, "hashes" => hashes: Hashes }
    optional { "custom" => custom: Value }
);

/// The `signed` part of `targets.json` or of a delegated role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Targets {
    /// Always `"targets"`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// TUF specification version (1.x).
    pub spec_version: String,
    /// Version.
    pub version: u64,
    /// Expiry.
    #[serde(with = "super::expires")]
    pub expires: DateTime<Utc>,
    /// Target path to target info.
    pub targets: BTreeMap<String, TargetFile>,
    /// Roles this role delegates to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegations: Option<Delegations>,
    /// Fields tufkit does not know.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

deserialize_keeping_unknown!(Targets, "targets metadata",
    required {
        "_type" => type_: String,
        "spec_version" => spec_version: String,
        "version" => version: u64,
        "expires" => expires: Rfc3339,
        "targets" => targets: BTreeMap<String, TargetFile>,
    }
    optional { "delegations" => delegations: Delegations }
);

impl RoleMetadata for Targets {
    const TYPE: &'static str = "targets";
    super::common_accessors!();
    fn validate(&self, role: &str) -> Result<()> {
        for (path, file) in &self.targets {
            validate_hashes(
                role,
                || format!("signed.targets.{path}.hashes"),
                &file.hashes,
            )?;
        }
        if let Some(d) = &self.delegations {
            d.validate(role)?;
        }
        Ok(())
    }
}

impl Targets {
    /// Rejects target paths no client should write to disk as given (used by repositories).
    pub fn check_target_path(path: &str) -> Result<()> {
        let bad = path.is_empty()
            || path.starts_with('/')
            || path.contains('\\')
            || path.contains('\0')
            || path
                .split('/')
                .any(|seg| seg.is_empty() || seg == "." || seg == "..");
        if bad {
            return Err(invalid(
                "targets",
                &format!("signed.targets.{path}"),
                "target paths must be relative, '/'-separated, without empty, '.' or '..' segments",
            ));
        }
        Ok(())
    }
}
