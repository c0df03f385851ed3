//! `tufkit init`: a new workspace from the template, fresh keys, version 1 of every role.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Map;
use tufkit_core::crypto::KeyId;
use tufkit_core::metadata::{Metadata, RoleKeys, Root};

use crate::config::Config;
use crate::error::{invalid, Error, Result};
use crate::keys::{generate, write_private_key, KeyType};
use crate::publish::{publish_locked, PublishOptions, PublishReport};
use crate::signing::sign_with_reachable;
use crate::state::{metadata_path, to_bytes, Authority};
use crate::workspace::Workspace;

/// Choices for a new repository.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Algorithm of every generated key.
    pub key_type: KeyType,
    /// Number of root keys.
    pub root_keys: usize,
    /// Root threshold.
    pub root_threshold: u64,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            key_type: KeyType::Ed25519,
            root_keys: 1,
            root_threshold: 1,
        }
    }
}

/// What `init` created.
#[derive(Debug, Clone)]
pub struct InitReport {
    /// The trusted root to ship to clients.
    pub trusted_root: PathBuf,
    /// Generated key files per role.
    pub key_files: Vec<(String, PathBuf, KeyId)>,
    /// The first publish.
    pub publish: PublishReport,
}

/// Creates a workspace at `dir` (which must not exist or be empty) and publishes v1.
/// `now` fixes the clock (tests, demos); `None` uses the system clock.
pub fn init(dir: &Path, opts: &InitOptions, now: Option<DateTime<Utc>>) -> Result<InitReport> {
    if opts.root_keys == 0 || opts.root_threshold == 0 {
        return Err(invalid(
            "--root-keys and --root-threshold must be at least 1",
        ));
    }
    if opts.root_threshold > opts.root_keys as u64 {
        return Err(invalid(format!(
            "--root-threshold {} cannot be met by {} root key(s)",
            opts.root_threshold, opts.root_keys
        )));
    }
    if dir.exists() {
        let mut entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        if entries.next().is_some() {
            return Err(invalid(format!(
                "{}: directory is not empty; `tufkit init` only creates new repositories",
                dir.display()
            )));
        }
    }
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for (name, text) in crate::template::FILES {
        fs::write(dir.join(name), text).map_err(|e| Error::io(dir.join(name), e))?;
    }
    let config = Config::load(&dir.join(crate::config::CONFIG_FILE))?;
    let mut ws = Workspace::with_config(dir.to_path_buf(), config);
    if let Some(now) = now {
        ws.set_now(now);
    }
    init_workspace(&ws, opts)
}

/// Generates keys and publishes version 1 of every role into an existing workspace.
pub fn init_workspace(ws: &Workspace, opts: &InitOptions) -> Result<InitReport> {
    let _lock = ws.lock()?;
    let key_dir = ws
        .config()
        .key_dirs(ws.dir())
        .into_iter()
        .next()
        .unwrap_or_else(|| ws.dir().join("keys"));
    fs::create_dir_all(&key_dir).map_err(|e| Error::io(&key_dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&key_dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(&key_dir, e))?;
    }
    let mut root = Root {
        type_: "root".into(),
        spec_version: ws.config().repository.spec_version.clone(),
        version: 1,
        expires: ws.now() + ws.config().expiry_period("root"),
        consistent_snapshot: Some(ws.config().repository.consistent_snapshot),
        keys: BTreeMap::new(),
        roles: BTreeMap::new(),
        unknown: Map::new(),
    };
    let mut key_files = Vec::new();
    let plan: Vec<(&str, usize, u64)> = vec![
        ("root", opts.root_keys, opts.root_threshold),
        ("targets", 1, 1),
        ("snapshot", 1, 1),
        ("timestamp", 1, 1),
    ];
    for (role, count, threshold) in plan {
        let mut keyids = Vec::new();
        for i in 0..count {
            ws.progress(&format!(
                "generating {} key for {role}",
                opts.key_type.name()
            ));
            let (key, pem) = generate(opts.key_type)?;
            let keyid = key.key_id().clone();
            let name = if count > 1 {
                format!("{role}-{}-{}.pem", i + 1, &keyid.0[..8])
            } else {
                format!("{role}-{}.pem", &keyid.0[..8])
            };
            let path = key_dir.join(name);
            write_private_key(&path, &pem)?;
            root.keys.insert(keyid.clone(), key.public_key().clone());
            keyids.push(keyid.clone());
            key_files.push((role.to_string(), path, keyid));
        }
        root.roles.insert(
            role.to_string(),
            RoleKeys {
                keyids,
                threshold,
                unknown: Map::new(),
            },
        );
    }
    let mut root_md = Metadata::new(root);
    let auth = Authority::top_level(&root_md.signed, "root")?;
    sign_with_reachable(&mut root_md, &auth, &ws.keyring()?)?;
    let bytes = to_bytes(&root_md)?;
    ws.storage()
        .put_new(&metadata_path("root", Some(1)), &bytes)?;
    ws.storage()
        .put_replace(&metadata_path("root", None), &bytes)?;
    ws.drafts()
        .save_role("targets", &crate::edit::empty_targets(ws))?;
    let publish = publish_locked(ws, &PublishOptions::publish())?;
    Ok(InitReport {
        trusted_root: ws.repository_dir().join("metadata").join("1.root.json"),
        key_files,
        publish,
    })
}
