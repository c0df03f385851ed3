//! The client programs the driver times, one process per run: tufkit's `Updater` and
//! tough's `RepositoryLoader` (python-tuf's is `scripts/bench-python-client.py`).

use std::path::PathBuf;

use anyhow::{Context, Result};

/// Arguments shared by the client subcommands.
#[derive(Debug, clap::Args)]
pub struct ClientArgs {
    /// Base URL of the metadata (`http://.../metadata/` or `file:///...`).
    #[arg(long)]
    pub metadata_url: String,
    /// Base URL of the target files.
    #[arg(long)]
    pub targets_url: String,
    /// Local metadata directory; must hold the trusted `root.json`.
    #[arg(long)]
    pub dir: PathBuf,
    /// Where the target is stored (default: DIR/../downloads).
    #[arg(long)]
    pub download_dir: Option<PathBuf>,
    /// Target path to look up and download.
    pub target: String,
}

impl ClientArgs {
    fn downloads(&self) -> PathBuf {
        self.download_dir
            .clone()
            .unwrap_or_else(|| self.dir.join("..").join("downloads"))
    }

    fn root(&self) -> Result<Vec<u8>> {
        let path = self.dir.join("root.json");
        std::fs::read(&path).with_context(|| format!("reading the trusted root {}", path.display()))
    }
}

/// tufkit: refresh, search the delegations for the target, then reuse a verified local copy
/// or download it. Prints the role that listed the target.
pub fn tufkit(args: &ClientArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut updater =
            tufkit_client::Updater::builder(args.root()?, &args.metadata_url, &args.dir)
                .targets_url(&args.targets_url)
                .build()?;
        updater.refresh().await?;
        let info = updater.target_info(&args.target).await?;
        let downloads = args.downloads();
        let file = updater.get_target(&info, &downloads).await?;
        println!("{} {} {}", info.role, info.file.length, file.display());
        Ok(())
    })
}

/// tough: load the repository (tough verifies every delegated role up front), then save
/// the target. tough keeps no metadata between runs, so there is only a cold run.
#[cfg(feature = "tough")]
pub fn tough(args: &ClientArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let root = args.root()?;
        let metadata = url::Url::parse(&args.metadata_url)?;
        let targets = url::Url::parse(&args.targets_url)?;
        let limits = tough::Limits {
            max_root_size: 64 << 20,
            max_targets_size: 1 << 30,
            max_timestamp_size: 1 << 20,
            max_snapshot_size: 256 << 20,
            max_root_updates: 1024,
        };
        let datastore = args.dir.join("tough-datastore");
        std::fs::create_dir_all(&datastore)?;
        let repo = tough::RepositoryLoader::new(&root, metadata, targets)
            .limits(limits)
            .datastore(&datastore)
            .load()
            .await
            .map_err(|e| {
                anyhow::anyhow!("tough could not load the repository: {}", root_cause(&e))
            })?;
        let name = tough::TargetName::new(args.target.clone())?;
        let downloads = args.downloads();
        std::fs::create_dir_all(&downloads)?;
        repo.save_target(&name, &downloads, tough::Prefix::None)
            .await
            .map_err(|e| anyhow::anyhow!("tough could not save the target: {}", root_cause(&e)))?;
        println!("saved {}", args.target);
        Ok(())
    })
}

/// The innermost cause of an error (tough's messages repeat their sources).
#[cfg(feature = "tough")]
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Without the `tough` feature there is no tough client.
#[cfg(not(feature = "tough"))]
pub fn tough(_args: &ClientArgs) -> Result<()> {
    anyhow::bail!(
        "this tufkit-bench was built without the `tough` feature (cargo build --features tough)"
    )
}
