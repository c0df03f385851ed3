//! `tufkit root ...`: the offline root ceremony.

use std::path::PathBuf;

use clap::Subcommand;
use tufkit_repo::duration::parse_duration;
use tufkit_repo::rootops;

use crate::commands::print_publish;
use crate::open_workspace;

/// Root ceremony commands; all but `publish` edit DIR/staged/root.json.
#[derive(Subcommand, Debug)]
pub enum RootCommand {
    /// Add a key to a top-level role in the staged root.
    AddKey {
        /// The repository workspace.
        dir: PathBuf,
        /// root, targets, snapshot or timestamp.
        #[arg(long)]
        role: String,
        /// Public key (TUF key JSON or a private key PEM).
        pubkey_file: PathBuf,
    },
    /// Remove a key from a top-level role in the staged root.
    RemoveKey {
        /// The repository workspace.
        dir: PathBuf,
        /// root, targets, snapshot or timestamp.
        #[arg(long)]
        role: String,
        /// The keyid to remove.
        keyid: String,
    },
    /// Set a top-level role's threshold in the staged root.
    SetThreshold {
        /// The repository workspace.
        dir: PathBuf,
        /// root, targets, snapshot or timestamp.
        #[arg(long)]
        role: String,
        /// Signatures required.
        threshold: u64,
    },
    /// Set the staged root's expiry to now + DURATION.
    Expire {
        /// The repository workspace.
        dir: PathBuf,
        /// e.g. 365d.
        #[arg(long = "in")]
        period: String,
    },
    /// Publish the staged root once signed by a threshold of old and new root keys.
    Publish {
        /// The repository workspace.
        dir: PathBuf,
        /// Do not add signatures from root keys found in the key directories.
        #[arg(long)]
        no_auto_sign: bool,
    },
}

fn show(
    ws: &tufkit_repo::Workspace,
    root: &tufkit_core::metadata::Metadata<tufkit_core::metadata::Root>,
) -> anyhow::Result<()> {
    let current = ws.published()?.root.signed;
    let s = rootops::root_signature_status(&current, root)?;
    println!(
        "Staged root v{} at {}",
        s.version,
        ws.drafts().root_path().display()
    );
    for (role, keys) in &root.signed.roles {
        println!(
            "  {role:9} threshold {} of [{}]",
            keys.threshold,
            keys.keyids
                .iter()
                .map(|k| k.0.chars().take(12).collect::<String>())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!("  expires {}", root.signed.expires);
    println!(
        "Signatures: {}/{} from current root keys, {}/{} from its own root keys.",
        s.old.0, s.old.1, s.new.0, s.new.1
    );
    if !s.complete() {
        println!(
            "Each root key holder signs it in turn: tufkit sign {} --key ROOT_KEYFILE",
            ws.drafts().root_path().display()
        );
    }
    println!("Then: tufkit root publish {}", ws.dir().display());
    Ok(())
}

/// Runs a root subcommand.
pub fn run(cmd: RootCommand) -> anyhow::Result<()> {
    match cmd {
        RootCommand::AddKey {
            dir,
            role,
            pubkey_file,
        } => {
            let ws = open_workspace(&dir)?;
            let (keyid, key) = tufkit_repo::keys::load_public_key(&pubkey_file)?;
            let root = rootops::add_key(&ws, &role, keyid.clone(), key)?;
            println!("Added key {keyid} to {role}.");
            show(&ws, &root)
        }
        RootCommand::RemoveKey { dir, role, keyid } => {
            let ws = open_workspace(&dir)?;
            let root = rootops::remove_key(&ws, &role, &tufkit_core::crypto::KeyId(keyid.clone()))?;
            println!("Removed key {keyid} from {role}.");
            show(&ws, &root)
        }
        RootCommand::SetThreshold {
            dir,
            role,
            threshold,
        } => {
            let ws = open_workspace(&dir)?;
            let root = rootops::set_threshold(&ws, &role, threshold)?;
            println!("Set the {role} threshold to {threshold}.");
            show(&ws, &root)
        }
        RootCommand::Expire { dir, period } => {
            let ws = open_workspace(&dir)?;
            let root = rootops::expire_in(&ws, parse_duration(&period)?)?;
            show(&ws, &root)
        }
        RootCommand::Publish { dir, no_auto_sign } => {
            let ws = open_workspace(&dir)?;
            let report = rootops::publish_root(&ws, !no_auto_sign)?;
            print_publish(&report);
            if !report.pending.is_empty() {
                std::process::exit(2);
            }
            Ok(())
        }
    }
}
