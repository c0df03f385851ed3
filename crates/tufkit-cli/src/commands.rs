//! The operator commands: argument definitions and output, over tufkit-repo.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use tufkit_repo::config::TargetFiles;
use tufkit_repo::duration::{format_duration, parse_duration};
use tufkit_repo::edit::{AddTarget, DelegationScope};
use tufkit_repo::keys::{self, KeyType};
use tufkit_repo::publish::{PublishOptions, PublishReport};
use tufkit_repo::refresh::RefreshOutcome;
use tufkit_repo::sources::{self, NewTarget};

use crate::open_workspace;

/// A repository workspace directory.
#[derive(Args, Debug)]
pub struct DirArg {
    /// The repository workspace.
    pub dir: PathBuf,
}

/// `tufkit init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// Directory to create (must not exist or be empty).
    pub dir: PathBuf,
    /// Algorithm of the generated keys.
    #[arg(long, default_value = "ed25519", value_parser = ["ed25519", "ecdsa", "rsa"])]
    pub key_type: String,
    /// Number of root keys.
    #[arg(long, default_value_t = 1)]
    pub root_keys: usize,
    /// Root signatures required.
    #[arg(long, default_value_t = 1)]
    pub root_threshold: u64,
}

/// `tufkit key ...`.
#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Generate a PKCS#8 PEM private key; prints its keyid and public key.
    Generate {
        /// Algorithm.
        #[arg(long = "type", default_value = "ed25519", value_parser = ["ed25519", "ecdsa", "rsa"])]
        key_type: String,
        /// Private key file to create (mode 0600).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public key of a key file as TUF key JSON.
    Public {
        /// Private key (PEM) or public key JSON.
        file: PathBuf,
        /// Also write the JSON to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `tufkit add`.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// The repository workspace.
    pub dir: PathBuf,
    /// Files to stage.
    #[arg(required_unless_present_any = ["from_dir", "manifest"])]
    pub files: Vec<PathBuf>,
    /// Target path (one file), or a directory prefix ending in `/` (several files).
    #[arg(long = "as", conflicts_with_all = ["from_dir", "manifest"])]
    pub as_path: Option<String>,
    /// Stage every regular file under FOLDER, as targets named by their path relative to
    /// it (`/`-separated). Symbolic links are not followed; hidden files are skipped.
    #[arg(long, value_name = "FOLDER", conflicts_with_all = ["files", "manifest"])]
    pub from_dir: Option<PathBuf>,
    /// With --from-dir: put the target paths under this prefix (`pkgs` -> `pkgs/a/b`).
    #[arg(long, value_name = "P", requires = "from_dir")]
    pub prefix: Option<String>,
    /// With --from-dir: include hidden files and directories (names starting with `.`).
    #[arg(long, requires = "from_dir")]
    pub include_hidden: bool,
    /// Stage targets hosted elsewhere, from a JSON-lines file: one
    /// {"path", "length", "hashes": {"sha256": ...}, "custom": {...}} object per line.
    /// No file is copied.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["files", "custom"])]
    pub manifest: Option<PathBuf>,
    /// Put the targets in this role instead of the one the delegations choose.
    #[arg(long)]
    pub role: Option<String>,
    /// Custom metadata KEY=VALUE (VALUE is JSON if it parses, else a string).
    #[arg(long = "custom")]
    pub custom: Vec<String>,
    /// Keep no copy: `publish` hard-links the files themselves into the published tree
    /// (fast; the files must then never be rewritten in place). Overrides
    /// `repository.target_files` in tufkit.toml.
    #[arg(long, conflicts_with_all = ["copy", "manifest"])]
    pub link: bool,
    /// Keep a private copy of each file until `publish` (later changes to the files never
    /// reach the published tree). Overrides `repository.target_files` in tufkit.toml.
    #[arg(long, conflicts_with = "manifest")]
    pub copy: bool,
    /// No progress output on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `tufkit publish`.
#[derive(Args, Debug)]
pub struct PublishArgs {
    /// The repository workspace.
    pub dir: PathBuf,
    /// No progress output on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `tufkit remove`.
#[derive(Args, Debug)]
pub struct RemoveArgs {
    /// The repository workspace.
    pub dir: PathBuf,
    /// Target paths to remove.
    #[arg(required = true)]
    pub targets: Vec<String>,
}

/// `tufkit delegate`.
#[derive(Args, Debug)]
pub struct DelegateArgs {
    /// The repository workspace.
    pub dir: PathBuf,
    /// Delegated role name.
    #[arg(long, conflicts_with_all = ["succinct_bins", "revoke"])]
    pub to: Option<String>,
    /// Delegating role.
    #[arg(long, default_value = "targets")]
    pub from: String,
    /// Public key files (TUF key JSON or a private key PEM) of the role's signers.
    #[arg(long = "key", num_args = 1..)]
    pub keys: Vec<PathBuf>,
    /// Signatures required.
    #[arg(long, default_value_t = 1)]
    pub threshold: u64,
    /// Target path patterns (`*` and `?` do not cross `/`).
    #[arg(long, num_args = 1.., conflicts_with = "hash_prefixes")]
    pub paths: Vec<String>,
    /// Hex prefixes of SHA-256(target path).
    #[arg(long, num_args = 1..)]
    pub hash_prefixes: Vec<String>,
    /// Stop the client's search after this role.
    #[arg(long)]
    pub terminating: bool,
    /// Delegate to 2^BIT_LENGTH hashed bins (TAP 15).
    #[arg(long, value_name = "BIT_LENGTH", conflicts_with = "revoke")]
    pub succinct_bins: Option<u32>,
    /// Bin name prefix.
    #[arg(long, default_value = "bins")]
    pub name_prefix: String,
    /// Remove the delegation to ROLE.
    #[arg(long, value_name = "ROLE")]
    pub revoke: Option<String>,
}

/// `tufkit timestamp` / `tufkit snapshot`.
#[derive(Args, Debug)]
pub struct RefreshArgs {
    /// The repository workspace.
    pub dir: PathBuf,
    /// Only re-sign when the published one expires within DURATION (30d, 12h, 90m, 3600s).
    #[arg(long, value_name = "DURATION")]
    pub if_expiring_within: Option<String>,
}

/// `tufkit status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The repository workspace.
    pub dir: PathBuf,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// `tufkit sign`.
#[derive(Args, Debug)]
pub struct SignArgs {
    /// Metadata file to sign (e.g. DIR/staged/root.json or DIR/staged/roles/ROLE.json).
    pub file: PathBuf,
    /// Private key file.
    #[arg(long)]
    pub key: PathBuf,
}

/// `tufkit revoke`.
#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// The repository workspace.
    pub dir: PathBuf,
    /// Keyid of the compromised key.
    pub keyid: String,
    /// Public key (JSON or private PEM) that takes the revoked key's place.
    #[arg(long, value_name = "PUBKEY_FILE")]
    pub replace_with: Option<PathBuf>,
}

/// `tufkit serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The repository workspace.
    pub dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
}

fn key_type(name: &str) -> anyhow::Result<KeyType> {
    Ok(name.parse::<KeyType>()?)
}

/// Prints what a publish did (or what it still needs).
pub fn print_publish(report: &PublishReport) {
    for w in &report.warnings {
        println!("warning: {w}");
    }
    if !report.pending.is_empty() {
        println!("Nothing was published: these roles need more signatures first.");
        // Group roles that need the same signers (hashed bins share their keys).
        let mut groups: Vec<(Vec<String>, u64, u64, Vec<&tufkit_repo::publish::Pending>)> =
            Vec::new();
        for p in &report.pending {
            let missing: Vec<String> = p.missing.iter().map(|k| k.0.clone()).collect();
            match groups
                .iter_mut()
                .find(|g| g.0 == missing && g.1 == p.have && g.2 == p.need)
            {
                Some(g) => g.3.push(p),
                None => groups.push((missing, p.have, p.need, vec![p])),
            }
        }
        for (missing, have, need, roles) in groups {
            let names: Vec<&str> = roles.iter().map(|p| p.role.as_str()).collect();
            let shown = if names.len() > 6 {
                format!(
                    "{} .. {} ({} roles)",
                    names[0],
                    names[names.len() - 1],
                    names.len()
                )
            } else {
                names.join(", ")
            };
            println!(
                "  {shown}: {have}/{need} signature(s); still needed from keyid(s): {}",
                missing.join(", ")
            );
            for p in roles.iter().take(6) {
                println!("    tufkit sign {} --key KEYFILE", p.draft.display());
            }
            if roles.len() > 6 {
                println!("    (and the other drafts in the same directory)");
            }
        }
        println!("Then run `tufkit publish` again.");
        return;
    }
    if report.published.is_empty() {
        println!("Nothing to publish: no staged changes and nothing expiring soon.");
        return;
    }
    if report.target_files > 0 {
        println!("Copied {} target file(s).", report.target_files);
    }
    let many = report.published.len() > PUBLISHED_LIMIT;
    let (delegated, top): (Vec<_>, Vec<_>) = report.published.iter().partition(|(r, _)| {
        many && !["targets", "snapshot", "timestamp", "root"].contains(&r.as_str())
    });
    if let (Some(first), Some(last)) = (delegated.first(), delegated.last()) {
        println!(
            "Published {} delegated targets roles ({} v{} .. {} v{})",
            delegated.len(),
            first.0,
            first.1,
            last.0,
            last.1
        );
    }
    for (role, version) in top {
        println!("Published {role} v{version}");
    }
}

/// Roles listed one per line after a publish; more delegated roles are summarised.
const PUBLISHED_LIMIT: usize = 24;

/// Runs `tufkit init`.
pub fn init(a: InitArgs) -> anyhow::Result<()> {
    let opts = tufkit_repo::init::InitOptions {
        key_type: key_type(&a.key_type)?,
        root_keys: a.root_keys,
        root_threshold: a.root_threshold,
    };
    let report = tufkit_repo::init::init(&a.dir, &opts, crate::fixed_now()?)?;
    println!("Created repository workspace {}", a.dir.display());
    for (role, path, keyid) in &report.key_files {
        println!("  {role:9} key {keyid}  {}", path.display());
    }
    print_publish(&report.publish);
    println!();
    println!(
        "Trusted root to ship to clients: {}",
        report.trusted_root.display()
    );
    println!();
    println!("Next steps:");
    println!(
        "  1. Ship {} with your clients (out of band).",
        report.trusted_root.display()
    );
    println!("  2. Move the root key(s) (keys/root-*.pem) to offline storage; root changes are");
    println!("     signed on an air-gapped machine with `tufkit sign`.");
    println!(
        "  3. Add targets: tufkit add {} FILE... && tufkit publish {}",
        a.dir.display(),
        a.dir.display()
    );
    println!(
        "  4. Refresh the timestamp from cron: tufkit timestamp {} --if-expiring-within 6h",
        a.dir.display()
    );
    println!(
        "  5. Serve {}/repository as is (or try `tufkit serve {}`).",
        a.dir.display(),
        a.dir.display()
    );
    Ok(())
}

/// Runs `tufkit key`.
pub fn key(cmd: KeyCommand) -> anyhow::Result<()> {
    match cmd {
        KeyCommand::Generate { key_type: t, out } => {
            let (key, pem) = keys::generate(key_type(&t)?)?;
            keys::write_private_key(&out, &pem)?;
            println!("Wrote private key {} (mode 0600)", out.display());
            println!("keyid: {}", key.key_id());
            print!("{}", keys::public_key_json(key.public_key())?);
        }
        KeyCommand::Public { file, out } => {
            let (keyid, key) = keys::load_public_key(&file)?;
            let json = keys::public_key_json(&key)?;
            if let Some(out) = out {
                std::fs::write(&out, &json)
                    .with_context(|| format!("writing {}", out.display()))?;
                eprintln!("Wrote public key {} (keyid {keyid})", out.display());
            }
            print!("{json}");
        }
    }
    Ok(())
}

/// Targets listed one per line by `tufkit add`; more are summarised per role.
const LIST_LIMIT: usize = 100;

/// Runs `tufkit add`.
pub fn add(a: AddArgs) -> anyhow::Result<()> {
    let ws = crate::open_workspace_with(&a.dir, a.quiet)?;
    let custom = tufkit_repo::edit::parse_custom(&a.custom)?;
    if let Some(manifest) = &a.manifest {
        let report = tufkit_repo::manifest::add_manifest(&ws, manifest, a.role.as_deref())?;
        print_added(&report, &a.dir);
        return Ok(());
    }
    let items: Vec<NewTarget> = if let Some(folder) = &a.from_dir {
        let (items, skipped) = sources::from_dir(
            folder,
            a.prefix.as_deref(),
            a.include_hidden,
            custom.as_ref(),
        )?;
        if skipped.symlinks + skipped.hidden + skipped.other > 0 {
            eprintln!(
                "Skipped under {}: {} symbolic link(s) (not followed), {} hidden name(s){}, {} special file(s)",
                folder.display(),
                skipped.symlinks,
                skipped.hidden,
                if skipped.hidden > 0 { " (add them with --include-hidden)" } else { "" },
                skipped.other
            );
        }
        if items.is_empty() {
            bail!("{}: no regular files to add", folder.display());
        }
        items
    } else {
        file_items(&a, custom)?
    };
    let mode = match (a.link, a.copy) {
        (true, _) => TargetFiles::Link,
        (_, true) => TargetFiles::Copy,
        _ => ws.config().repository.target_files,
    };
    let report = tufkit_repo::add::add_with(&ws, items, a.role.as_deref(), mode)?;
    print_added(&report, &a.dir);
    Ok(())
}

/// What `tufkit add` staged: each target, or a summary per role for many.
fn print_added(report: &tufkit_repo::add::AddReport, dir: &std::path::Path) {
    if report.targets <= LIST_LIMIT {
        for t in &report.staged {
            println!(
                "Staged {} ({} bytes, sha256 {}) in {}",
                t.path, t.length, t.sha256, t.role
            );
        }
    } else {
        let roles = tufkit_repo::manifest::busiest_roles(report);
        let shown: Vec<String> = roles
            .iter()
            .take(5)
            .map(|(r, n)| format!("{r} ({n})"))
            .collect();
        println!(
            "Staged {} targets ({} bytes, {} file(s) hashed, {} of them copied, {} to be linked) in {} role(s): {}{}",
            report.targets,
            report.bytes,
            report.files_hashed,
            report.files_hashed - report.files_linked,
            report.files_linked,
            roles.len(),
            shown.join(", "),
            if roles.len() > 5 { ", ..." } else { "" }
        );
    }
    println!("Run `tufkit publish {}` to publish.", dir.display());
}

/// The files given on the command line, with their target paths.
fn file_items(a: &AddArgs, custom: Option<serde_json::Value>) -> anyhow::Result<Vec<NewTarget>> {
    let named: Vec<(PathBuf, Option<String>)> = match &a.as_path {
        Some(p) if p.ends_with('/') => a
            .files
            .iter()
            .map(|f| {
                let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                (f.clone(), Some(format!("{p}{name}")))
            })
            .collect(),
        Some(p) => {
            if a.files.len() != 1 {
                bail!("--as {p:?} names one target but {} files were given; end it with '/' to use it as a directory prefix", a.files.len());
            }
            vec![(a.files[0].clone(), Some(p.clone()))]
        }
        None => a.files.iter().map(|f| (f.clone(), None)).collect(),
    };
    let items: Vec<AddTarget> = named
        .into_iter()
        .map(|(file, target_path)| AddTarget { file, target_path })
        .collect();
    tufkit_repo::edit::new_targets(&items, custom).map_err(Into::into)
}

/// Runs `tufkit remove`.
pub fn remove(a: RemoveArgs) -> anyhow::Result<()> {
    let ws = open_workspace(&a.dir)?;
    for (path, role) in tufkit_repo::edit::remove_targets(&ws, &a.targets)? {
        println!("Staged removal of {path} from {role}");
    }
    println!("Run `tufkit publish {}` to publish.", a.dir.display());
    Ok(())
}

fn load_keys(
    files: &[PathBuf],
) -> anyhow::Result<Vec<(tufkit_core::crypto::KeyId, tufkit_core::crypto::Key)>> {
    if files.is_empty() {
        bail!("give the signers' public keys with --key PUBKEY_FILE (from `tufkit key public`)");
    }
    files
        .iter()
        .map(|f| keys::load_public_key(f).map_err(Into::into))
        .collect()
}

/// Runs `tufkit delegate`.
pub fn delegate(a: DelegateArgs) -> anyhow::Result<()> {
    let ws = open_workspace(&a.dir)?;
    if let Some(role) = &a.revoke {
        let from = tufkit_repo::edit::revoke_delegation(&ws, role)?;
        println!("Staged: {from} no longer delegates to {role}.");
        println!("Run `tufkit publish {}` to publish.", a.dir.display());
        return Ok(());
    }
    let keys = load_keys(&a.keys)?;
    if let Some(bits) = a.succinct_bins {
        let bins = tufkit_repo::edit::delegate_succinct_bins(
            &ws,
            &a.from,
            bits,
            &a.name_prefix,
            &keys,
            a.threshold,
        )?;
        println!(
            "Staged: {} delegates to {} hashed bins {} .. {} (TAP 15)",
            a.from,
            bins.len(),
            bins.first().map(String::as_str).unwrap_or(""),
            bins.last().map(String::as_str).unwrap_or("")
        );
    } else {
        let Some(to) = a.to.clone() else {
            bail!("say what to delegate: --to ROLE (with --paths or --hash-prefixes), --succinct-bins BIT_LENGTH, or --revoke ROLE");
        };
        let scope = match (a.paths.is_empty(), a.hash_prefixes.is_empty()) {
            (false, true) => DelegationScope::Paths(a.paths.clone()),
            (true, false) => DelegationScope::HashPrefixes(a.hash_prefixes.clone()),
            _ => bail!("give exactly one of --paths PATTERN... or --hash-prefixes PREFIX..."),
        };
        tufkit_repo::edit::delegate(
            &ws,
            &tufkit_repo::edit::Delegation {
                from: a.from.clone(),
                to: to.clone(),
                keys: keys.clone(),
                threshold: a.threshold,
                scope,
                terminating: a.terminating,
            },
        )?;
        println!(
            "Staged: {} delegates to {to} (threshold {} of {} key(s){})",
            a.from,
            a.threshold,
            keys.len(),
            if a.terminating { ", terminating" } else { "" }
        );
    }
    println!("Run `tufkit publish {}` to publish.", a.dir.display());
    Ok(())
}

/// Runs `tufkit publish`.
pub fn publish(a: PublishArgs) -> anyhow::Result<()> {
    let ws = crate::open_workspace_with(&a.dir, a.quiet)?;
    let report = tufkit_repo::publish::publish(&ws, &PublishOptions::publish())?;
    print_publish(&report);
    if !report.pending.is_empty() {
        std::process::exit(2);
    }
    Ok(())
}

/// Runs `tufkit timestamp` or `tufkit snapshot` (`role`).
pub fn refresh(role: &str, a: RefreshArgs) -> anyhow::Result<()> {
    let ws = open_workspace(&a.dir)?;
    let within = a
        .if_expiring_within
        .as_deref()
        .map(parse_duration)
        .transpose()?;
    match tufkit_repo::refresh::refresh(&ws, role, within)? {
        RefreshOutcome::NotNeeded { role, expires } => {
            println!(
                "{role} expires at {expires} (in {}), not within {}: nothing to do.",
                format_duration(expires - ws.now()),
                a.if_expiring_within.unwrap_or_default()
            );
        }
        RefreshOutcome::Published(report) => print_publish(&report),
    }
    Ok(())
}

/// Runs `tufkit sign`.
pub fn sign(a: SignArgs) -> anyhow::Result<()> {
    let keyid = tufkit_repo::rootops::sign_file(&a.file, &a.key)?;
    println!("Signed {} with key {keyid}", a.file.display());
    Ok(())
}

/// Runs `tufkit revoke`.
pub fn revoke(a: RevokeArgs) -> anyhow::Result<()> {
    let ws = open_workspace(&a.dir)?;
    let replacement = a
        .replace_with
        .as_deref()
        .map(keys::load_public_key)
        .transpose()?;
    let r = tufkit_repo::revoke::revoke_key(
        &ws,
        &tufkit_core::crypto::KeyId(a.keyid.clone()),
        replacement,
    )?;
    println!("Revoking key {}", a.keyid);
    if !r.top_level_roles.is_empty() {
        println!(
            "  removed from top-level role(s) {} in the staged root",
            r.top_level_roles.join(", ")
        );
    }
    for (role, from) in &r.delegated_roles {
        println!("  removed from delegated role {role} (delegation staged in {from})");
    }
    for (role, path, keyid) in &r.new_keys {
        println!("  new {role} key {keyid} ({}): clients will drop any fast-forwarded timestamp/snapshot", path.display());
    }
    if let Some(q) = &r.quarantined {
        println!(
            "  the compromised private key was moved out of reach to {}",
            q.display()
        );
    }
    println!();
    println!("Signatures still needed:");
    let root_path = ws.drafts().root_path();
    if r.root.complete() {
        println!("  staged root v{}: complete", r.root.version);
    } else {
        println!(
            "  staged root v{}: {}/{} from current root keys, {}/{} from its own root keys; key holders of {} run:",
            r.root.version, r.root.old.0, r.root.old.1, r.root.new.0, r.root.new.1,
            r.root.missing.iter().map(|k| k.0.as_str()).collect::<Vec<_>>().join(", ")
        );
        println!("    tufkit sign {} --key ROOT_KEYFILE", root_path.display());
    }
    for (role, keyids, threshold) in &r.delegators_to_sign {
        println!(
            "  {role}: {threshold} signature(s) from {} on {}",
            keyids
                .iter()
                .map(|k| k.0.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            ws.drafts().role_path(role).display()
        );
    }
    println!();
    println!(
        "Then complete the rotation with: tufkit root publish {}",
        a.dir.display()
    );
    Ok(())
}

/// Runs `tufkit serve`.
pub fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let ws = open_workspace(&a.dir)?;
    let server = tufkit_repo::serve::Server::start(&ws.repository_dir(), &a.addr)?;
    println!(
        "Serving {} at {}/ (Ctrl-C to stop)",
        ws.repository_dir().display(),
        server.url()
    );
    println!(
        "  metadata: {}/metadata/   targets: {}/targets/",
        server.url(),
        server.url()
    );
    server.wait();
    Ok(())
}
