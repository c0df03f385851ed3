//! The files `tufkit init` lays down, embedded from `repo-template/` at build time.

/// The commented `tufkit.toml`.
pub const TUFKIT_TOML: &str = include_str!("../../../repo-template/tufkit.toml");
/// The `.gitignore` that keeps `keys/` out of version control.
pub const GITIGNORE: &str = include_str!("../../../repo-template/.gitignore");
/// The operator README.
pub const README: &str = include_str!("../../../repo-template/README.md");

/// Every template file with its path inside a new workspace.
pub const FILES: [(&str, &str); 3] = [
    ("tufkit.toml", TUFKIT_TOML),
    (".gitignore", GITIGNORE),
    ("README.md", README),
];
