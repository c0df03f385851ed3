//! The [`Updater`]: fetches, verifies (through `tufkit_core::TrustedSet`) and stores.

mod download;
mod refresh;
mod search;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tufkit_core::metadata::TargetFile;
use tufkit_core::TrustedSet;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::MetadataStore;
use crate::transport::{fetch_bytes, DefaultTransport, Transport, TransportError};
use crate::urls::normalize_base;

pub use download::validate_target_path;

/// A target found by a delegation search: its path, what the metadata says about it,
/// and the role that listed it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetInfo {
    /// The target path, as listed in metadata.
    pub path: String,
    /// Length, hashes and custom data.
    pub file: TargetFile,
    /// The targets role that listed the target.
    pub role: String,
}

impl TargetInfo {
    /// The listed SHA-256, if there is one.
    pub fn sha256(&self) -> Option<&str> {
        self.file.hashes.get("sha256").map(String::as_str)
    }
}

/// Builds an [`Updater`].
#[derive(Debug)]
pub struct UpdaterBuilder {
    root: Vec<u8>,
    metadata_url: String,
    metadata_dir: PathBuf,
    targets_url: Option<String>,
    config: Config,
    transport: Option<Arc<dyn Transport>>,
}

impl UpdaterBuilder {
    /// Sets the base URL of target files.
    pub fn targets_url(mut self, url: &str) -> UpdaterBuilder {
        self.targets_url = Some(normalize_base(url));
        self
    }

    /// Sets the configuration.
    pub fn config(mut self, config: Config) -> UpdaterBuilder {
        self.config = config;
        self
    }

    /// Uses this transport instead of the default HTTP(S) + `file://` one.
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> UpdaterBuilder {
        self.transport = Some(transport);
        self
    }

    /// Opens the metadata store and builds the updater. Makes no request.
    pub fn build(self) -> Result<Updater> {
        let transport = match self.transport {
            Some(t) => t,
            None => Arc::new(DefaultTransport::new().map_err(Error::TransportSetup)?),
        };
        Ok(Updater {
            store: MetadataStore::open(self.metadata_dir)?,
            bootstrap_root: self.root,
            metadata_base: self.metadata_url,
            targets_base: self.targets_url,
            config: self.config,
            transport,
            trusted: None,
        })
    }
}

/// The TUF client: refreshes top-level metadata, searches delegations for targets and
/// downloads verified target files.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let root = std::fs::read("root.json")?;
/// let mut updater = tufkit_client::Updater::builder(root, "https://example.com/metadata/", "cache")
///     .targets_url("https://example.com/targets/")
///     .build()?;
/// updater.refresh().await?;
/// let info = updater.target_info("app/v1.tar.gz").await?;
/// let file = updater.get_target(&info, std::path::Path::new("downloads")).await?;
/// println!("verified {} (listed by {})", file.display(), info.role);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Updater {
    config: Config,
    transport: Arc<dyn Transport>,
    store: MetadataStore,
    bootstrap_root: Vec<u8>,
    metadata_base: String,
    targets_base: Option<String>,
    trusted: Option<TrustedSet>,
}

impl Updater {
    /// Starts building an updater from the bootstrap root (trusted out of band), the
    /// metadata base URL and the local metadata directory.
    ///
    /// A `root.json` already in the metadata directory (from an earlier update) is
    /// preferred over the bootstrap root unless the bootstrap root is newer.
    pub fn builder(
        root: impl Into<Vec<u8>>,
        metadata_url: &str,
        metadata_dir: impl Into<PathBuf>,
    ) -> UpdaterBuilder {
        UpdaterBuilder {
            root: root.into(),
            metadata_url: normalize_base(metadata_url),
            metadata_dir: metadata_dir.into(),
            targets_url: None,
            config: Config::default(),
            transport: None,
        }
    }

    /// Like [`Updater::builder`], reading the bootstrap root from a file.
    pub fn builder_from_root_file(
        root_file: &Path,
        metadata_url: &str,
        metadata_dir: impl Into<PathBuf>,
    ) -> Result<UpdaterBuilder> {
        let root = std::fs::read(root_file).map_err(|source| Error::Store {
            action: "read the trusted root",
            path: root_file.to_path_buf(),
            source,
        })?;
        Ok(Updater::builder(root, metadata_url, metadata_dir))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The metadata store.
    pub fn store(&self) -> &MetadataStore {
        &self.store
    }

    /// The trusted metadata of the last successful refresh.
    pub fn trusted(&self) -> Option<&TrustedSet> {
        self.trusted.as_ref()
    }

    fn metadata_url(&self, name: &str) -> String {
        format!("{}{name}", self.metadata_base)
    }

    async fn fetch_metadata(&self, what: &str, url: &str, max_len: u64) -> Result<Vec<u8>> {
        fetch_bytes(self.transport.as_ref(), url, max_len)
            .await
            .map_err(|e| Error::transport(what, e))
    }

    /// Fetches a role whose length may be listed by trusted metadata: at most the listed
    /// length (a longer response breaks the length rule, 5.5.2 / 5.6.2), else `cap`.
    async fn fetch_listed(
        &self,
        role: &str,
        url: &str,
        listed_length: Option<u64>,
        cap: u64,
    ) -> Result<Vec<u8>> {
        let Some(expected) = listed_length else {
            return self.fetch_metadata(role, url, cap).await;
        };
        match fetch_bytes(self.transport.as_ref(), url, expected).await {
            Ok(bytes) => Ok(bytes),
            Err(TransportError::TooLarge { .. }) => Err(Error::metadata(
                role,
                Some(url),
                tufkit_core::Error::LengthMismatch {
                    what: role.to_string(),
                    expected,
                    found: expected.saturating_add(1),
                },
            )),
            Err(e) => Err(Error::transport(role, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn updater_and_its_futures_can_move_between_threads() {
        let dir = tempfile::tempdir().unwrap();
        let mut updater = Updater::builder(Vec::new(), "http://127.0.0.1:9/m", dir.path())
            .build()
            .unwrap();
        assert_send(&updater);
        assert_send(&updater.refresh());
        assert_send(&updater.target_info("t"));
        // Base URLs get their trailing '/' and nothing else.
        assert_eq!(
            updater.metadata_url("1.root.json"),
            "http://127.0.0.1:9/m/1.root.json"
        );
    }
}
