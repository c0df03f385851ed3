//! `tufkit.toml`: the repository's policy (expiry periods, hashes, key locations).
//!
//! Keys and thresholds are *not* configured here: the signed metadata is the only source
//! of truth for them. This file only says how long signatures last, which hashes to list,
//! where private keys may be found and where the published tree lives.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::duration::parse_duration;
use crate::error::{Error, Result};

/// Name of the policy file inside a workspace.
pub const CONFIG_FILE: &str = "tufkit.toml";

/// The parsed `tufkit.toml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Expiry period per role.
    #[serde(default)]
    pub expiry: ExpiryPolicy,
    /// Format choices for published metadata.
    #[serde(default)]
    pub repository: RepositoryPolicy,
    /// Where private keys are looked up.
    #[serde(default)]
    pub keys: KeySources,
    /// Where the published tree is written.
    #[serde(default)]
    pub publish: PublishPolicy,
}

/// How long each role's signature is valid after it is (re-)signed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpiryPolicy {
    /// Root (default 365d).
    #[serde(default = "d365")]
    pub root: String,
    /// Top-level targets (default 90d).
    #[serde(default = "d90")]
    pub targets: String,
    /// Delegated targets roles without an entry in `roles` (default 90d).
    #[serde(default = "d90")]
    pub delegated: String,
    /// Snapshot (default 7d).
    #[serde(default = "d7")]
    pub snapshot: String,
    /// Timestamp (default 1d).
    #[serde(default = "d1")]
    pub timestamp: String,
    /// Per delegated role overrides, by role name (e.g. `"bins-00" = "1d"`).
    #[serde(default)]
    pub roles: BTreeMap<String, String>,
}

fn d365() -> String {
    "365d".into()
}
fn d90() -> String {
    "90d".into()
}
fn d7() -> String {
    "7d".into()
}
fn d1() -> String {
    "1d".into()
}

impl Default for ExpiryPolicy {
    fn default() -> Self {
        ExpiryPolicy {
            root: d365(),
            targets: d90(),
            delegated: d90(),
            snapshot: d7(),
            timestamp: d1(),
            roles: BTreeMap::new(),
        }
    }
}

/// Metadata format choices.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryPolicy {
    /// Publish `VERSION.ROLE.json` and `HASH.name` targets (spec 6.2). Default true.
    #[serde(default = "yes")]
    pub consistent_snapshot: bool,
    /// Hashes listed for target files (default sha256 and sha512).
    #[serde(default = "default_hashes")]
    pub hash_algorithms: Vec<String>,
    /// `spec_version` written into new metadata.
    #[serde(default = "default_spec_version")]
    pub spec_version: String,
    /// How `add` keeps the content of target files until `publish` (default copy).
    #[serde(default)]
    pub target_files: TargetFiles,
}

/// How `add` keeps the content of a local target file until `publish`, and how
/// `publish` places it in the published tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetFiles {
    /// A private copy in `staged/files/`, moved into place by `publish`: later changes
    /// to the source file never reach the published tree.
    #[default]
    Copy,
    /// No copy: `publish` hard-links the source file itself into the published tree
    /// (a copy where linking is impossible). Fast for many files, but the published
    /// target then shares its content with the source file, which must not be rewritten
    /// in place afterwards.
    Link,
}

fn yes() -> bool {
    true
}
fn default_hashes() -> Vec<String> {
    vec!["sha256".into(), "sha512".into()]
}
fn default_spec_version() -> String {
    "1.0.31".into()
}

impl Default for RepositoryPolicy {
    fn default() -> Self {
        RepositoryPolicy {
            consistent_snapshot: true,
            hash_algorithms: default_hashes(),
            spec_version: default_spec_version(),
            target_files: TargetFiles::default(),
        }
    }
}

/// Where signing keys are found: every PKCS#8 PEM file in these directories, by keyid.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySources {
    /// Directories (relative to the workspace) searched for private keys.
    #[serde(default = "default_key_dirs")]
    pub dirs: Vec<String>,
}

fn default_key_dirs() -> Vec<String> {
    vec!["keys".into()]
}

impl Default for KeySources {
    fn default() -> Self {
        KeySources {
            dirs: default_key_dirs(),
        }
    }
}

/// Publishing policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishPolicy {
    /// Directory of the published tree, relative to the workspace (default `repository`).
    #[serde(default = "default_destination")]
    pub destination: String,
    /// Fraction of a role's expiry period below which it counts as expiring soon and is
    /// re-signed by `publish` (default 0.25).
    #[serde(default = "default_refresh_fraction")]
    pub refresh_fraction: f64,
}

fn default_destination() -> String {
    "repository".into()
}
fn default_refresh_fraction() -> f64 {
    0.25
}

impl Default for PublishPolicy {
    fn default() -> Self {
        PublishPolicy {
            destination: default_destination(),
            refresh_fraction: default_refresh_fraction(),
        }
    }
}

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Config::parse(&text, path)
    }

    /// Parses and validates TOML text (`path` labels errors).
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let err = |reason: String| Error::Config {
            path: path.to_path_buf(),
            reason,
        };
        let e = &self.expiry;
        for (name, value) in [
            ("expiry.root", &e.root),
            ("expiry.targets", &e.targets),
            ("expiry.delegated", &e.delegated),
            ("expiry.snapshot", &e.snapshot),
            ("expiry.timestamp", &e.timestamp),
        ]
        .into_iter()
        .chain(e.roles.iter().map(|(k, v)| (k.as_str(), v)))
        {
            let d = parse_duration(value).map_err(|x| err(format!("{name}: {x}")))?;
            if d <= Duration::zero() {
                return Err(err(format!("{name}: the expiry period must be positive")));
            }
        }
        for alg in &self.repository.hash_algorithms {
            if tufkit_core::crypto::hash::HashAlgorithm::from_name(alg).is_none() {
                return Err(err(format!(
                    "repository.hash_algorithms: unsupported {alg:?} (use sha256, sha384, sha512)"
                )));
            }
        }
        if self.repository.hash_algorithms.is_empty() {
            return Err(err("repository.hash_algorithms: list at least one".into()));
        }
        let f = self.publish.refresh_fraction;
        if !(0.0..1.0).contains(&f) {
            return Err(err(
                "publish.refresh_fraction: must be at least 0 and below 1".into(),
            ));
        }
        Ok(())
    }

    /// The expiry period of `role` (top-level name or delegated role name).
    pub fn expiry_period(&self, role: &str) -> Duration {
        let e = &self.expiry;
        let text = match role {
            "root" => &e.root,
            "targets" => &e.targets,
            "snapshot" => &e.snapshot,
            "timestamp" => &e.timestamp,
            other => e.roles.get(other).unwrap_or(&e.delegated),
        };
        // Validated in `load`; a default keeps this infallible for hand-built configs.
        parse_duration(text).unwrap_or_else(|_| Duration::days(1))
    }

    /// The window before expiry in which a role counts as expiring soon.
    pub fn refresh_window(&self, role: &str) -> Duration {
        let period = self.expiry_period(role).num_seconds() as f64;
        Duration::seconds((period * self.publish.refresh_fraction) as i64)
    }

    /// Key directories resolved against the workspace directory.
    pub fn key_dirs(&self, workspace: &Path) -> Vec<PathBuf> {
        self.keys.dirs.iter().map(|d| workspace.join(d)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_issue() {
        let c = Config::parse("", Path::new("t.toml")).unwrap();
        assert_eq!(c.expiry_period("root"), Duration::days(365));
        assert_eq!(c.expiry_period("targets"), Duration::days(90));
        assert_eq!(c.expiry_period("some-team"), Duration::days(90));
        assert_eq!(c.expiry_period("snapshot"), Duration::days(7));
        assert_eq!(c.expiry_period("timestamp"), Duration::days(1));
        assert!(c.repository.consistent_snapshot);
        assert_eq!(c.repository.hash_algorithms, ["sha256", "sha512"]);
    }

    #[test]
    fn template_parses_and_overrides_apply() {
        let c = Config::parse(crate::template::TUFKIT_TOML, Path::new("t.toml")).unwrap();
        assert_eq!(c.expiry_period("timestamp"), Duration::days(1));
        let c = Config::parse(
            "[expiry]\ntimestamp = \"6h\"\n[expiry.roles]\nbins-0 = \"2d\"\n",
            Path::new("t.toml"),
        )
        .unwrap();
        assert_eq!(c.expiry_period("timestamp"), Duration::hours(6));
        assert_eq!(c.expiry_period("bins-0"), Duration::days(2));
    }

    #[test]
    fn rejects_bad_values_naming_the_field() {
        let e = Config::parse("[expiry]\nsnapshot = \"soon\"\n", Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("expiry.snapshot"), "{e}");
        let e = Config::parse(
            "[repository]\nhash_algorithms = [\"md5\"]\n",
            Path::new("t.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("md5"), "{e}");
        assert!(Config::parse("[nope]\n", Path::new("t.toml")).is_err());
    }
}
