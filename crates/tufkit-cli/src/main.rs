//! `tufkit`: operate a TUF repository (init, sign, publish, rotate keys, verify, serve)
//! and fetch from one. A thin command-line layer over tufkit-repo and tufkit-client.

mod commands;
mod demo;
mod demo_attack;
mod fetch;
mod inspect;
mod progress;
mod rootcmd;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Operate and use TUF repositories.
#[derive(Parser, Debug)]
#[command(name = "tufkit", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a repository workspace, generate keys and publish version 1 of every role.
    Init(commands::InitArgs),
    /// Generate keys and export public keys.
    #[command(subcommand)]
    Key(commands::KeyCommand),
    /// Stage target files into the roles the delegations assign them to.
    Add(commands::AddArgs),
    /// Stage the removal of targets.
    Remove(commands::RemoveArgs),
    /// Delegate targets to another role (or to hashed bins), or revoke a delegation.
    Delegate(commands::DelegateArgs),
    /// Sign and publish every changed role, then snapshot and timestamp.
    Publish(commands::PublishArgs),
    /// Re-sign the timestamp with a fresh expiry (for cron).
    Timestamp(commands::RefreshArgs),
    /// Re-sign the snapshot (and then the timestamp) with a fresh expiry.
    Snapshot(commands::RefreshArgs),
    /// Show versions, expiry, keys, thresholds, staged changes and warnings.
    Status(commands::StatusArgs),
    /// Verify the published repository as a fresh client would.
    Verify(commands::DirArg),
    /// Offline root management: edit, then publish, the next root version.
    #[command(subcommand)]
    Root(rootcmd::RootCommand),
    /// Add a signature to a metadata file (e.g. DIR/staged/root.json) on the key holder's machine.
    Sign(commands::SignArgs),
    /// Revoke a compromised key everywhere and rotate the online keys.
    Revoke(commands::RevokeArgs),
    /// Serve DIR/repository over HTTP (for trying things out and tests).
    Serve(commands::ServeArgs),
    /// Fetch a target from a TUF repository, verifying everything on the way.
    Fetch(fetch::FetchArgs),
    /// Run the end-to-end demonstration in a temporary directory.
    Demo(demo::DemoArgs),
}

fn main() {
    // `tufkit status | head` must not end in a panic when the pipe closes.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or("");
        if msg.contains("failed printing to stdout") {
            std::process::exit(141);
        }
        default_hook(info);
    }));
    let cli = Cli::parse();
    if let Err(e) = dispatch(cli.command) {
        eprintln!("error: {}", report(&e));
        std::process::exit(1);
    }
}

/// One line for a person: the error and its causes, skipping a cause whose text the
/// message before it already contains (library errors often quote their source).
pub(crate) fn report(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Parses a full command line (`["tufkit", "publish", DIR]`) and runs it in this process.
pub(crate) fn run_line<S: AsRef<str>>(args: &[S]) -> anyhow::Result<()> {
    let cli = Cli::try_parse_from(args.iter().map(|a| a.as_ref()))?;
    dispatch(cli.command)
}

fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Init(a) => commands::init(a),
        Command::Key(a) => commands::key(a),
        Command::Add(a) => commands::add(a),
        Command::Remove(a) => commands::remove(a),
        Command::Delegate(a) => commands::delegate(a),
        Command::Publish(a) => commands::publish(a),
        Command::Timestamp(a) => commands::refresh("timestamp", a),
        Command::Snapshot(a) => commands::refresh("snapshot", a),
        Command::Status(a) => inspect::status(a),
        Command::Verify(a) => inspect::verify(a),
        Command::Root(a) => rootcmd::run(a),
        Command::Sign(a) => commands::sign(a),
        Command::Revoke(a) => commands::revoke(a),
        Command::Serve(a) => commands::serve(a),
        Command::Fetch(a) => fetch::run(a),
        Command::Demo(a) => demo::run(a),
    }
}

/// Opens a workspace, honouring `TUFKIT_NOW` (an RFC 3339 time used instead of the clock,
/// for tests and demonstrations) and printing progress to stderr.
pub(crate) fn open_workspace(dir: &PathBuf) -> anyhow::Result<tufkit_repo::Workspace> {
    open_workspace_with(dir, false)
}

/// [`open_workspace`], with no progress output at all when `quiet`.
pub(crate) fn open_workspace_with(
    dir: &PathBuf,
    quiet: bool,
) -> anyhow::Result<tufkit_repo::Workspace> {
    let mut ws = tufkit_repo::Workspace::open(dir)?;
    if let Some(now) = fixed_now()? {
        ws.set_now(now);
    }
    if !quiet {
        let p = progress::Progress::stderr();
        let lines = p.clone();
        ws.set_progress(Box::new(move |line| lines.line(line)));
        ws.set_progress_count(Box::new(move |task, done, total| {
            p.count(task, done, total)
        }));
    }
    Ok(ws)
}

/// The time set by `TUFKIT_NOW`, if any.
pub(crate) fn fixed_now() -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
    match std::env::var("TUFKIT_NOW") {
        Ok(v) if !v.is_empty() => {
            let t = tufkit_core::metadata::parse_expires(&v).ok_or_else(|| {
                anyhow::anyhow!(
                    "TUFKIT_NOW={v:?} is not an RFC 3339 time like 2030-01-01T00:00:00Z"
                )
            })?;
            Ok(Some(t))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn report_skips_causes_already_quoted() {
        let inner = anyhow::anyhow!("timestamp: version 5 is lower than 6");
        let outer = inner.context("timestamp rejected: timestamp: version 5 is lower than 6");
        let e = outer.context("cannot update");
        assert_eq!(
            super::report(&e),
            "cannot update: timestamp rejected: timestamp: version 5 is lower than 6"
        );
    }
}
