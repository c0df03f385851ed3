//! `tufkit-conformance`: the tufkit client behind the command line that the TUF client
//! conformance suite drives.
//!
//! ```text
//! tufkit-conformance --metadata-dir DIR init ROOTFILE
//! tufkit-conformance --metadata-url URL --metadata-dir DIR refresh
//! tufkit-conformance --metadata-url URL --metadata-dir DIR --target-name PATH [--target-name PATH ...]
//!                    --target-dir TDIR --target-base-url TURL download
//! ```
//!
//! Options come before the subcommand, each as two arguments, in any order. The exit
//! status is 0 on complete success and 1 on any failure (argument errors and panics
//! included); diagnostics go to stderr.
//!
//! * `init` stores ROOTFILE's bytes as `DIR/root.json` and makes no request; the root is
//!   verified by the next `refresh`, before its first request.
//! * `refresh` runs the top-level update; every accepted role is stored in DIR as
//!   `ROLE.json` (exact bytes received, percent-encoded role names).
//! * `download` refreshes, then for each target in order: searches the delegations, reuses
//!   the stored file if it still matches the listed length and hashes, otherwise downloads
//!   and verifies it. It stops at the first failure.
//!
//! Target files are stored at `TDIR/<target path>`: the `/`-separated segments of the
//! target path become nested directories (paths with empty, `.` or `..` segments,
//! backslashes or a leading `/` are refused), so one target path always maps to one file.
//! "Now" is read once per run from the system clock (libfaketime works).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use tufkit_client::store::MetadataStore;
use tufkit_client::{Config, DefaultTransport, HttpOptions, Updater};

const USAGE: &str = "usage: tufkit-conformance [--metadata-dir DIR] [--metadata-url URL] \
[--target-name PATH ...] [--target-dir DIR] [--target-base-url URL] (init ROOTFILE | refresh | download)";

#[derive(Debug, Default)]
struct Options {
    metadata_dir: Option<PathBuf>,
    metadata_url: Option<String>,
    target_names: Vec<String>,
    target_dir: Option<PathBuf>,
    target_base_url: Option<String>,
    command: Option<String>,
    positional: Vec<String>,
}

/// Progress on stdout; a closed stdout must not turn success into failure.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

fn parse(args: Vec<String>) -> Result<Options, String> {
    let mut opts = Options::default();
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if !name.starts_with("--") {
            if opts.command.is_none() {
                opts.command = Some(arg);
            } else {
                opts.positional.push(arg);
            }
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => iter
                .next()
                .ok_or_else(|| format!("option {name} needs a value"))?,
        };
        match name.as_str() {
            "--metadata-dir" => opts.metadata_dir = Some(PathBuf::from(value)),
            "--metadata-url" => opts.metadata_url = Some(value),
            "--target-name" => opts.target_names.push(value),
            "--target-dir" => opts.target_dir = Some(PathBuf::from(value)),
            "--target-base-url" => opts.target_base_url = Some(value),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(opts)
}

fn required<'a, T>(value: &'a Option<T>, name: &str, command: &str) -> Result<&'a T, String> {
    value
        .as_ref()
        .ok_or_else(|| format!("{command} needs {name}"))
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn updater(opts: &Options, command: &str) -> Result<Updater, String> {
    let dir = required(&opts.metadata_dir, "--metadata-dir", command)?;
    let url = required(&opts.metadata_url, "--metadata-url", command)?;
    let root_path = dir.join("root.json");
    let root = std::fs::read(&root_path).map_err(|e| {
        format!(
            "cannot read the trusted root {}: {e} (run `init` first)",
            root_path.display()
        )
    })?;
    // The suite's server is on 127.0.0.1: never route it through a proxy.
    let http = HttpOptions {
        use_system_proxy: false,
        ..HttpOptions::default()
    };
    let transport = DefaultTransport::with_http_options(http).map_err(|e| e.to_string())?;
    let mut builder = Updater::builder(root, url, dir.clone())
        .config(Config::default())
        .transport(Arc::new(transport));
    if let Some(turl) = &opts.target_base_url {
        builder = builder.targets_url(turl);
    }
    builder.build().map_err(|e| e.to_string())
}

fn init(opts: &Options) -> Result<(), String> {
    let dir = required(&opts.metadata_dir, "--metadata-dir", "init")?;
    let [root_file] = opts.positional.as_slice() else {
        return Err("init needs exactly one argument: the trusted root file".into());
    };
    let bytes = std::fs::read(root_file)
        .map_err(|e| format!("cannot read the trusted root {root_file}: {e}"))?;
    let store = MetadataStore::open(dir).map_err(|e| e.to_string())?;
    store.write("root", &bytes).map_err(|e| e.to_string())?;
    say(&format!("stored the trusted root in {}", dir.display()));
    Ok(())
}

fn refresh(opts: &Options) -> Result<(), String> {
    let mut updater = updater(opts, "refresh")?;
    runtime()?
        .block_on(updater.refresh())
        .map_err(|e| e.to_string())?;
    say("refresh complete");
    Ok(())
}

fn download(opts: &Options) -> Result<(), String> {
    let target_dir = required(&opts.target_dir, "--target-dir", "download")?;
    required(&opts.target_base_url, "--target-base-url", "download")?;
    if opts.target_names.is_empty() {
        return Err("download needs at least one --target-name".into());
    }
    let mut updater = updater(opts, "download")?;
    runtime()?.block_on(async {
        updater.refresh().await.map_err(|e| e.to_string())?;
        for name in &opts.target_names {
            let info = updater.target_info(name).await.map_err(|e| e.to_string())?;
            let cached = updater
                .cached_target(&info, target_dir)
                .await
                .map_err(|e| e.to_string())?;
            let (path, how) = match cached {
                Some(path) => (path, "already up to date"),
                None => {
                    let path = updater
                        .download_target(&info, target_dir)
                        .await
                        .map_err(|e| e.to_string())?;
                    (path, "downloaded")
                }
            };
            say(&format!(
                "{name}: {how}: {} (listed by {})",
                path.display(),
                info.role
            ));
        }
        Ok(())
    })
}

fn run(args: Vec<String>) -> Result<(), String> {
    let opts = parse(args)?;
    match opts.command.as_deref() {
        Some("init") => init(&opts),
        Some("refresh") => refresh(&opts),
        Some("download") => download(&opts),
        Some(other) => Err(format!("unknown subcommand {other:?}")),
        None => Err("no subcommand given".into()),
    }
}

fn main() -> ExitCode {
    let args: Result<Vec<String>, _> = std::env::args_os()
        .skip(1)
        .map(|a| {
            a.into_string()
                .map_err(|a| format!("argument {a:?} is not valid UTF-8"))
        })
        .collect();
    // Everything, panics included, ends in exit status 0 or 1.
    let outcome = std::panic::catch_unwind(|| args.and_then(run));
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(message)) => {
            eprintln!("tufkit-conformance: error: {message}");
            if message.starts_with("unknown") || message.starts_with("no subcommand") {
                eprintln!("{USAGE}");
            }
            ExitCode::from(1)
        }
        Err(_) => {
            eprintln!("tufkit-conformance: internal error (panic); see the message above");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_options_in_any_order_with_repeated_targets() {
        let o = parse(args(&[
            "--metadata-url",
            "http://h/a%2Fb/",
            "--target-name",
            "x y",
            "--metadata-dir",
            "/d ir",
            "--target-name",
            "--odd",
            "download",
        ]))
        .unwrap();
        assert_eq!(o.metadata_url.as_deref(), Some("http://h/a%2Fb/"));
        assert_eq!(o.metadata_dir, Some(PathBuf::from("/d ir")));
        assert_eq!(o.target_names, ["x y", "--odd"]);
        assert_eq!(o.command.as_deref(), Some("download"));
        let o = parse(args(&["--metadata-dir", "/d", "init", "root.json"])).unwrap();
        assert_eq!(o.positional, ["root.json"]);
        assert!(parse(args(&["--bogus", "1", "refresh"])).is_err());
        assert!(parse(args(&["--metadata-dir"])).is_err());
    }
}
