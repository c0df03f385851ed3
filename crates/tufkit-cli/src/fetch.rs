//! `tufkit fetch`: update trusted metadata and download verified targets.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use tufkit_client::{Config, TargetInfo, Updater};
use tufkit_core::crypto::hash::sha256_hex;

/// Arguments of `tufkit fetch`.
#[derive(clap::Args, Debug)]
pub struct FetchArgs {
    /// The trusted root.json to start from (used when the cache holds no newer root).
    #[arg(long, value_name = "ROOT.json")]
    pub root: PathBuf,
    /// Base URL of the repository's metadata (http://, https:// or file://).
    #[arg(long, value_name = "URL")]
    pub metadata_url: String,
    /// Base URL of the repository's target files (http://, https:// or file://).
    #[arg(long, value_name = "URL")]
    pub targets_url: String,
    /// Directory keeping the trusted metadata between runs
    /// [default: $XDG_CACHE_HOME/tufkit/<sha256 of the metadata URL>, or ~/.cache/...].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Directory the targets are written to, at their target paths.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Target paths to download, as listed in the repository's targets metadata.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
}

/// The default metadata cache for a repository: one directory per metadata URL.
fn default_cache_dir(metadata_url: &str) -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".cache"),
            None => bail!(
                "cannot choose a metadata cache: neither XDG_CACHE_HOME nor HOME is set; pass --cache DIR"
            ),
        },
    };
    Ok(base
        .join("tufkit")
        .join(sha256_hex(metadata_url.as_bytes())))
}

/// The SHA-256 of a verified target: the listed one, or computed from the stored file.
fn target_sha256(info: &TargetInfo, file: &Path) -> anyhow::Result<String> {
    if let Some(sha) = info.sha256() {
        return Ok(sha.to_string());
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok(sha256_hex(&bytes))
}

/// Runs `tufkit fetch`: refresh, then download and verify every target.
///
/// Prints one tab-separated line per verified target: path, length, `sha256:HEX` and
/// the role that listed it. Every target is tried; fails if the refresh fails or any
/// target cannot be verified. `TUFKIT_NOW` (RFC 3339) replaces the clock.
pub fn run(args: FetchArgs) -> anyhow::Result<()> {
    let cache = match &args.cache {
        Some(dir) => dir.clone(),
        None => default_cache_dir(&args.metadata_url)?,
    };
    // 5.1: a fixed reference time (audits of old states, tests), else the clock.
    let config = Config {
        reference_time: crate::fixed_now()?,
        ..Config::default()
    };
    let mut updater = Updater::builder_from_root_file(&args.root, &args.metadata_url, cache)?
        .targets_url(&args.targets_url)
        .config(config)
        .build()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        updater
            .refresh()
            .await
            .context("cannot update the repository metadata")?;
        let mut failures = Vec::new();
        for target in &args.targets {
            let result = async {
                let info = updater.target_info(target).await?;
                let file = updater.get_target(&info, &args.out).await?;
                Ok::<_, tufkit_client::Error>((info, file))
            }
            .await;
            match result {
                Ok((info, file)) => {
                    let sha = target_sha256(&info, &file)?;
                    println!(
                        "{}\t{}\tsha256:{}\t{}",
                        info.path, info.file.length, sha, info.role
                    );
                }
                Err(e) => failures.push(e.to_string()),
            }
        }
        match failures.as_slice() {
            [] => Ok(()),
            [only] => Err(anyhow!("{only}")),
            [first, ..] => {
                for f in &failures {
                    eprintln!("tufkit fetch: {f}");
                }
                Err(anyhow!(
                    "{} of {} targets failed; first: {first}",
                    failures.len(),
                    args.targets.len()
                ))
            }
        }
    })
}
