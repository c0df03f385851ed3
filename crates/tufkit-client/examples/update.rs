//! Embedding the tufkit updater: refresh trusted metadata, then download one verified
//! target. Built by `cargo test` (so it keeps compiling) and shown in docs/client-guide.md.
//!
//! ```text
//! cargo run -p tufkit-client --example update -- \
//!     ROOT.json METADATA_URL TARGETS_URL METADATA_DIR TARGET_PATH OUT_DIR
//! ```
//! URLs may be `https://`, `http://` or `file://` (an offline copy of the repository).

use std::path::PathBuf;

use tufkit_client::{Config, Updater};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, metadata_url, targets_url, metadata_dir, target, out] = args.as_slice() else {
        eprintln!(
            "usage: update ROOT.json METADATA_URL TARGETS_URL METADATA_DIR TARGET_PATH OUT_DIR"
        );
        std::process::exit(2);
    };

    // The root shipped with the application (trusted out of band). A newer root.json
    // already in METADATA_DIR, from an earlier update, takes precedence.
    let config = Config {
        // Defaults follow python-tuf; lower a cap if your repository is small.
        max_targets_size: 10_000_000,
        ..Config::default()
    };
    let mut updater = Updater::builder_from_root_file(root.as_ref(), metadata_url, metadata_dir)?
        .targets_url(targets_url)
        .config(config)
        .build()?;

    // Spec 5.1-5.6: root chain, timestamp, snapshot, targets. Every accepted role is
    // stored in METADATA_DIR at once; nothing unverified is ever written there.
    updater.refresh().await?;

    // Spec 5.6.7: the delegation search, fetching only the roles on the search path.
    let info = updater.target_info(target).await?;
    println!(
        "{} is {} bytes, listed by role {:?}",
        info.path, info.file.length, info.role
    );

    // Spec 5.7: reuse a local copy that still matches, else download at most the listed
    // length, verify every hash while streaming, and rename into place.
    let file: PathBuf = updater.get_target(&info, out.as_ref()).await?;
    println!("verified copy at {}", file.display());
    Ok(())
}
