//! Timestamp and snapshot metadata (spec 4.4, 4.6).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::de::{deserialize_keeping_unknown, Rfc3339};
use super::{invalid, validate_hashes, Hashes, RoleMetadata};
use crate::error::Result;

/// What timestamp says about snapshot, and snapshot about each targets role (`METAFILES`).
///
/// `Deserialize` is written by hand (no `flatten` buffering): a snapshot of a hashed-bin
/// repository lists tens of thousands of these.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetaFile {
    /// Version of the listed metadata.
    pub version: u64,
    /// Length in bytes, if listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// Hashes, if listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashes: Option<Hashes>,
    /// Fields tufkit does not know.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

deserialize_keeping_unknown!(MetaFile, "a meta object with a version",
    required { "version" => version: u64 }
    optional { "length" => length: u64, "hashes" => hashes: Hashes }
);

impl MetaFile {
    /// A meta entry with only a version.
    pub fn with_version(version: u64) -> MetaFile {
        MetaFile {
            version,
            length: None,
            hashes: None,
            unknown: Map::new(),
        }
    }

    pub(crate) fn validate(&self, role: &str, field: impl Fn() -> String) -> Result<()> {
        if self.version == 0 {
            return Err(invalid(
                role,
                &format!("{}.version", field()),
                "must be 1 or more",
            ));
        }
        if let Some(h) = &self.hashes {
            validate_hashes(role, || format!("{}.hashes", field()), h)?;
        }
        Ok(())
    }
}

/// The `signed` part of `timestamp.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timestamp {
    /// Always `"timestamp"`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// TUF specification version (1.x).
    pub spec_version: String,
    /// Version.
    pub version: u64,
    /// Expiry.
    #[serde(with = "super::expires")]
    pub expires: DateTime<Utc>,
    /// Exactly one entry, `snapshot.json`.
    pub meta: BTreeMap<String, MetaFile>,
    /// Fields tufkit does not know.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

impl Timestamp {
    /// The `snapshot.json` entry (validated to exist).
    pub fn snapshot_meta(&self) -> &MetaFile {
        // validate() guarantees the entry; an empty default keeps this panic-free anyway.
        static EMPTY: std::sync::OnceLock<MetaFile> = std::sync::OnceLock::new();
        self.meta
            .get("snapshot.json")
            .unwrap_or_else(|| EMPTY.get_or_init(|| MetaFile::with_version(0)))
    }
}

deserialize_keeping_unknown!(Timestamp, "timestamp metadata",
    required {
        "_type" => type_: String,
        "spec_version" => spec_version: String,
        "version" => version: u64,
        "expires" => expires: Rfc3339,
        "meta" => meta: BTreeMap<String, MetaFile>,
    }
    optional {}
);

impl RoleMetadata for Timestamp {
    const TYPE: &'static str = "timestamp";
    super::common_accessors!();
    fn validate(&self, role: &str) -> Result<()> {
        let entry = self
            .meta
            .get("snapshot.json")
            .ok_or_else(|| invalid(role, "signed.meta", "must list snapshot.json"))?;
        if self.meta.len() != 1 {
            return Err(invalid(role, "signed.meta", "must list only snapshot.json"));
        }
        entry.validate(role, || "signed.meta.snapshot.json".to_string())
    }
}

/// The `signed` part of `snapshot.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// Always `"snapshot"`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// TUF specification version (1.x).
    pub spec_version: String,
    /// Version.
    pub version: u64,
    /// Expiry.
    #[serde(with = "super::expires")]
    pub expires: DateTime<Utc>,
    /// `ROLE.json` to version (and optionally length and hashes) for every targets role.
    pub meta: BTreeMap<String, MetaFile>,
    /// Fields tufkit does not know.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

impl Snapshot {
    /// The entry for a targets role, by role name.
    pub fn role_meta(&self, role: &str) -> Option<&MetaFile> {
        self.meta.get(&format!("{role}.json"))
    }
}

deserialize_keeping_unknown!(Snapshot, "snapshot metadata",
    required {
        "_type" => type_: String,
        "spec_version" => spec_version: String,
        "version" => version: u64,
        "expires" => expires: Rfc3339,
        "meta" => meta: BTreeMap<String, MetaFile>,
    }
    optional {}
);

impl RoleMetadata for Snapshot {
    const TYPE: &'static str = "snapshot";
    super::common_accessors!();
    fn validate(&self, role: &str) -> Result<()> {
        for (name, entry) in &self.meta {
            entry.validate(role, || format!("signed.meta.{name}"))?;
        }
        Ok(())
    }
}
