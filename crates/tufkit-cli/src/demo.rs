//! `tufkit demo` (what `make demo` runs): a guided tour in a temporary directory.
//!
//! Every step runs real `tufkit` commands in this process (the same code as the command
//! line, `tufkit fetch` included) and prints a transcript: set up a repository, publish,
//! serve and fetch; rotate the targets key through the offline root ceremony; revoke a
//! stolen key and watch a forged release be refused; replay an old timestamp; let the
//! timestamp expire and restore service with `tufkit timestamp`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use tufkit_repo::serve::Server;

use crate::demo_attack::{copy_tree, forge_release};
use crate::run_line;

/// Arguments of `tufkit demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Run in this (new or empty) directory and keep it, instead of a temporary one.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

struct Demo {
    step: usize,
}

impl Demo {
    fn step(&mut self, title: &str) {
        self.step += 1;
        println!();
        println!("=== Step {}: {title} ===", self.step);
    }

    fn say(&self, text: &str) {
        println!("# {text}");
    }

    /// Runs `tufkit ARGS`, echoing it; fails the demo if it fails.
    fn run(&self, args: &[&str]) -> anyhow::Result<()> {
        println!("$ tufkit {}", args.join(" "));
        let mut line = vec!["tufkit"];
        line.extend_from_slice(args);
        run_line(&line).with_context(|| format!("`tufkit {}` failed", args.join(" ")))
    }

    /// Runs `tufkit ARGS` that must fail (an attack being refused); prints why.
    fn refused(&self, args: &[&str]) -> anyhow::Result<()> {
        println!("$ tufkit {}", args.join(" "));
        let mut line = vec!["tufkit"];
        line.extend_from_slice(args);
        match run_line(&line) {
            Ok(()) => bail!(
                "`tufkit {}` succeeded, but it must be refused",
                args.join(" ")
            ),
            Err(e) => {
                println!("REFUSED (as it should be): {}", crate::report(&e));
                Ok(())
            }
        }
    }
}

fn fetch_args<'a>(server: &'a str, cache: &'a str, targets: &[&'a str]) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "fetch".into(),
        "--root".into(),
        "shipped-root.json".into(),
        "--metadata-url".into(),
        format!("{server}/metadata"),
        "--targets-url".into(),
        format!("{server}/targets"),
        "--cache".into(),
        cache.into(),
        "--out".into(),
        "downloads".into(),
    ];
    v.extend(targets.iter().map(|t| t.to_string()));
    v
}

fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn keyid_of(file: &Path) -> anyhow::Result<String> {
    Ok(tufkit_repo::keys::load_public_key(file)?.0 .0)
}

fn first_key(dir: &Path, prefix: &str) -> anyhow::Result<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".pem"))
        })
        .collect();
    found.sort();
    found
        .into_iter()
        .next()
        .with_context(|| format!("no {prefix}*.pem in {}", dir.display()))
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let temp;
    let dir = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let previous_cwd = std::env::current_dir()?;
    std::env::set_current_dir(&dir)?;
    std::env::remove_var("TUFKIT_NOW");
    let result = tour();
    std::env::remove_var("TUFKIT_NOW");
    std::env::set_current_dir(previous_cwd)?;
    result?;
    println!();
    println!(
        "Demo finished in {:.1}s{}",
        started.elapsed().as_secs_f64(),
        match &args.dir {
            Some(d) => format!("; everything is in {}", d.display()),
            None => String::new(),
        }
    );
    Ok(())
}

fn tour() -> anyhow::Result<()> {
    let mut d = Demo { step: 0 };
    println!("tufkit demo: a TUF repository from creation to incident response.");

    d.step("create a repository with two root keys (threshold 2)");
    d.run(&["init", "repo", "--root-keys", "2", "--root-threshold", "2"])?;
    d.say("The root keys go offline: here, a directory standing for two air-gapped machines.");
    std::fs::create_dir_all("offline")?;
    let mut root_keys = Vec::new();
    for i in 1..=2 {
        let key = first_key(Path::new("repo/keys"), &format!("root-{i}-"))?;
        let dest = PathBuf::from("offline").join(key.file_name().unwrap_or_default());
        std::fs::rename(&key, &dest)?;
        println!("$ mv {} {}", key.display(), dest.display());
        root_keys.push(dest.display().to_string());
    }
    std::fs::copy("repo/repository/metadata/1.root.json", "shipped-root.json")?;
    d.say("Clients ship with repo/repository/metadata/1.root.json (copied to shipped-root.json).");

    d.step("add targets and publish");
    std::fs::write("hello.txt", "Hello from a TUF repository!\n")?;
    std::fs::write("app-1.0.tar.gz", b"pretend this is an application release")?;
    d.run(&["add", "repo", "hello.txt"])?;
    d.run(&[
        "add",
        "repo",
        "app-1.0.tar.gz",
        "--as",
        "app/app-1.0.tar.gz",
        "--custom",
        "version=\"1.0\"",
    ])?;
    d.run(&["publish", "repo"])?;

    d.step("serve the repository on loopback and fetch with a client");
    let server = Server::start(Path::new("repo/repository"), "127.0.0.1:0")?;
    let url = server.url();
    println!(
        "$ tufkit serve repo --addr {}   (running in the background)",
        server.addr()
    );
    d.run(&as_strs(&fetch_args(
        &url,
        "client-cache",
        &["hello.txt", "app/app-1.0.tar.gz"],
    )))?;
    println!("$ cat downloads/hello.txt");
    print!("{}", std::fs::read_to_string("downloads/hello.txt")?);

    d.step("rotate the targets key through the offline root ceremony");
    let old_targets = keyid_of(&first_key(Path::new("repo/keys"), "targets-")?)?;
    d.run(&["key", "generate", "--out", "repo/keys/targets-2026.pem"])?;
    d.run(&[
        "root",
        "add-key",
        "repo",
        "--role",
        "targets",
        "repo/keys/targets-2026.pem",
    ])?;
    d.run(&[
        "root",
        "remove-key",
        "repo",
        "--role",
        "targets",
        &old_targets,
    ])?;
    d.say("Each root key holder signs the staged root on their own machine, in any order:");
    d.run(&["sign", "repo/staged/root.json", "--key", &root_keys[1]])?;
    d.run(&["sign", "repo/staged/root.json", "--key", &root_keys[0]])?;
    d.run(&["root", "publish", "repo"])?;
    d.say("The client walks the root chain v1 -> v2 and trusts the new targets key:");
    d.run(&as_strs(&fetch_args(
        &url,
        "client-cache",
        &["app/app-1.0.tar.gz"],
    )))?;

    d.step("delegate partner/* to a partner who signs their own releases");
    d.run(&["key", "generate", "--out", "repo/keys/partner.pem"])?;
    d.run(&[
        "key",
        "public",
        "repo/keys/partner.pem",
        "--out",
        "partner.pub.json",
    ])?;
    d.run(&[
        "delegate",
        "repo",
        "--to",
        "partner",
        "--key",
        "partner.pub.json",
        "--paths",
        "partner/*",
    ])?;
    std::fs::write("tool.bin", b"the partner's legitimate tool")?;
    d.run(&["add", "repo", "tool.bin", "--as", "partner/tool.bin"])?;
    d.run(&["publish", "repo"])?;
    d.run(&as_strs(&fetch_args(
        &url,
        "client-cache",
        &["partner/tool.bin"],
    )))?;

    d.step("the partner key is stolen: an attacker serves a forged release");
    std::fs::create_dir_all("attacker")?;
    std::fs::copy("repo/keys/partner.pem", "attacker/stolen-partner.pem")?;
    let evil = b"malware";
    forge_release(
        Path::new("repo/repository"),
        Path::new("mirror"),
        "partner",
        Path::new("attacker/stolen-partner.pem"),
        Path::new("repo/keys"),
        "partner/evil.bin",
        evil,
    )?;
    let mirror = Server::start(Path::new("mirror"), "127.0.0.1:0")?;
    d.say(&format!(
        "The attacker signed partner/evil.bin with the stolen key and serves it at {}.",
        mirror.url()
    ));
    d.say("Before the key is revoked, a client accepts it:");
    d.run(&as_strs(&fetch_args(
        &mirror.url(),
        "victim-cache-1",
        &["partner/evil.bin"],
    )))?;
    drop(mirror);

    d.step("incident response: revoke the stolen key");
    let stolen = keyid_of(Path::new("attacker/stolen-partner.pem"))?;
    d.run(&["key", "generate", "--out", "repo/keys/partner-2.pem"])?;
    d.run(&[
        "revoke",
        "repo",
        &stolen,
        "--replace-with",
        "repo/keys/partner-2.pem",
    ])?;
    d.say("The root keys are offline, so their holders sign the staged root:");
    d.run(&["sign", "repo/staged/root.json", "--key", &root_keys[0]])?;
    d.run(&["sign", "repo/staged/root.json", "--key", &root_keys[1]])?;
    d.run(&["root", "publish", "repo"])?;
    d.run(&["verify", "repo"])?;

    d.step("the attacker tries again with the revoked key");
    forge_release(
        Path::new("repo/repository"),
        Path::new("mirror"),
        "partner",
        Path::new("attacker/stolen-partner.pem"),
        Path::new("repo/keys"),
        "partner/evil.bin",
        evil,
    )?;
    let mirror = Server::start(Path::new("mirror"), "127.0.0.1:0")?;
    d.say("Even with the online keys, a release signed with the revoked key is refused,");
    d.say("while targets of other roles on the same server still verify:");
    d.refused(&as_strs(&fetch_args(
        &mirror.url(),
        "victim-cache-2",
        &["hello.txt", "app/app-1.0.tar.gz", "partner/evil.bin"],
    )))?;
    drop(mirror);
    d.say(
        "And the real repository serves the partner's legitimate tool, re-signed with the new key:",
    );
    d.run(&as_strs(&fetch_args(
        &url,
        "client-cache",
        &["partner/tool.bin"],
    )))?;

    d.step("a rollback to an old timestamp is refused");
    copy_tree(Path::new("repo/repository"), Path::new("old-copy"))?;
    d.run(&["timestamp", "repo"])?;
    d.run(&as_strs(&fetch_args(&url, "client-cache", &["hello.txt"])))?;
    let replay = Server::start(Path::new("old-copy"), "127.0.0.1:0")?;
    d.say(&format!(
        "An attacker replays the previous timestamp at {}:",
        replay.url()
    ));
    d.refused(&as_strs(&fetch_args(
        &replay.url(),
        "client-cache",
        &["hello.txt"],
    )))?;
    drop(replay);

    d.step("the timestamp expires (the cron job stopped); tufkit timestamp restores service");
    let later = chrono::Utc::now() + chrono::Duration::days(2);
    let later = tufkit_core::metadata::format_expires(&later);
    d.say(&format!("Two days later (TUFKIT_NOW={later}):"));
    std::env::set_var("TUFKIT_NOW", &later);
    d.refused(&as_strs(&fetch_args(&url, "client-cache", &["hello.txt"])))?;
    d.run(&["status", "repo"])?;
    d.run(&["timestamp", "repo", "--if-expiring-within", "6h"])?;
    d.run(&as_strs(&fetch_args(&url, "client-cache", &["hello.txt"])))?;
    d.run(&["verify", "repo"])?;
    std::env::remove_var("TUFKIT_NOW");
    drop(server);
    Ok(())
}
