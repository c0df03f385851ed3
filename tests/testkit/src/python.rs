//! The python-tuf interpreter of the interop tests.
//!
//! `$TUFKIT_PYTHON`, else `.venv/bin/python` at the repository root (made by
//! `scripts/python-env.sh`, which `make test` runs). Without it the interop tests fail with
//! a message saying how to set it up; they never skip.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The root of the tufkit repository (the workspace).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The interpreter with python-tuf. Panics with what to do when it is missing.
pub fn python() -> PathBuf {
    let python = std::env::var_os("TUFKIT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    // A bare command name (e.g. TUFKIT_PYTHON=python3) is looked up in PATH.
    let bare = python.components().count() == 1;
    assert!(
        bare || python.exists(),
        "the python-tuf interop tests need {}: run scripts/python-env.sh from the repository \
         root (it creates .venv with python-tuf), or set TUFKIT_PYTHON to a Python that has \
         the packages of tests/interop/requirements.txt",
        python.display()
    );
    python
}

/// Runs `tests/interop/python/SCRIPT ARGS...` with the python-tuf interpreter and returns
/// its standard output; panics with both outputs unless it succeeds.
pub fn run_python_script<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(
    script: &str,
    args: &[S],
) -> String {
    let path = repo_root().join("tests/interop/python").join(script);
    let out = Command::new(python())
        .arg(&path)
        .args(args)
        .env("PYTHONIOENCODING", "utf-8")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e} (run scripts/python-env.sh)",
                path.display()
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} {args:?} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    stdout
}
