//! Drafts in `DIR/staged/`: edited targets roles, target files waiting to be published,
//! and the next root version.
//!
//! A draft role is a full metadata envelope. Editing its content drops its signatures;
//! `tufkit sign` can add signatures to it, and `publish` keeps signatures that still
//! verify, so key holders who are not on the publishing machine can sign in turn.

use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use tufkit_core::metadata::{Metadata, Parsed, RoleMetadata, Root, Targets};
use tufkit_core::rolename::encode_role;

use crate::error::{Error, Result};
use crate::state::RoleSet;

/// The `staged/` directory of a workspace.
#[derive(Debug, Clone)]
pub struct Drafts {
    dir: PathBuf,
}

impl Drafts {
    /// Drafts under `workspace/staged`.
    pub fn new(workspace: &Path) -> Drafts {
        Drafts {
            dir: workspace.join("staged"),
        }
    }

    /// The `staged/` directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of the draft of a targets role.
    pub fn role_path(&self, role: &str) -> PathBuf {
        self.dir
            .join("roles")
            .join(format!("{}.json", encode_role(role)))
    }

    /// The path of the staged next root.
    pub fn root_path(&self) -> PathBuf {
        self.dir.join("root.json")
    }

    /// Where staged target content is kept, by SHA-256.
    pub fn file_path(&self, sha256: &str) -> PathBuf {
        self.dir.join("files").join(sha256)
    }

    /// Every draft targets role.
    pub fn roles(&self) -> Result<RoleSet> {
        let dir = self.dir.join("roles");
        let mut out = RoleSet::new();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io(&dir, e)),
        };
        for entry in entries {
            let path = entry.map_err(|e| Error::io(&dir, e))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let m: Metadata<Targets> = read_envelope(&path, "targets")?;
            let name = role_name_from_file(&path).unwrap_or_default();
            out.insert(name, m);
        }
        Ok(out)
    }

    /// Names of the roles that have a draft (without reading the drafts).
    pub fn role_names(&self) -> Result<Vec<String>> {
        let dir = self.dir.join("roles");
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&dir, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| Error::io(&dir, e))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            if let Some(name) = role_name_from_file(&path) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// The draft of one role, if there is one.
    ///
    /// Drafts are this workspace's own files and what is signed is re-serialised from
    /// the parsed model, so they are read with the plain (faster) JSON parser and then
    /// validated; published metadata is always read with the strict one.
    pub fn role(&self, role: &str) -> Result<Option<Metadata<Targets>>> {
        let path = self.role_path(role);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        let m: Metadata<Targets> = match serde_json::from_slice(&bytes) {
            Ok(m) => m,
            // Let the strict parser say precisely what is wrong.
            Err(_) => {
                return Parsed::<Targets>::from_slice(&bytes, role)
                    .map(|p| Some(p.metadata))
                    .map_err(|e| Error::metadata(path.display().to_string(), e))
            }
        };
        if m.signed.type_ != "targets" || m.signed.version == 0 {
            return Parsed::<Targets>::from_slice(&bytes, role)
                .map(|p| Some(p.metadata))
                .map_err(|e| Error::metadata(path.display().to_string(), e));
        }
        m.signed
            .validate(role)
            .map_err(|e| Error::metadata(path.display().to_string(), e))?;
        Ok(Some(m))
    }

    /// Saves the draft of `role`.
    pub fn save_role(&self, role: &str, m: &Metadata<Targets>) -> Result<()> {
        write_envelope(&self.role_path(role), m)
    }

    /// Saves many drafts, in parallel.
    pub fn save_roles(&self, roles: Vec<(String, &Metadata<Targets>)>) -> Result<()> {
        crate::parallel::try_map(roles, crate::parallel::io_threads(), |(name, m)| {
            self.save_role(&name, m)
        })
        .map(|_| ())
    }

    /// Deletes the draft of `role`.
    pub fn remove_role(&self, role: &str) -> Result<()> {
        remove_if_exists(&self.role_path(role))
    }

    /// SHA-256 names of the staged target files.
    pub fn staged_files(&self) -> Result<std::collections::HashSet<String>> {
        let dir = self.dir.join("files");
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
            Err(e) => return Err(Error::io(&dir, e)),
        };
        let mut out = std::collections::HashSet::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            if let Some(name) = entry.file_name().to_str() {
                if !name.starts_with('.') {
                    out.insert(name.to_string());
                }
            }
        }
        Ok(out)
    }

    /// The staged next root, if any.
    pub fn root(&self) -> Result<Option<Metadata<Root>>> {
        let path = self.root_path();
        if !path.exists() {
            return Ok(None);
        }
        read_envelope(&path, "root").map(Some)
    }

    /// Saves the staged next root.
    pub fn save_root(&self, m: &Metadata<Root>) -> Result<()> {
        write_envelope(&self.root_path(), m)
    }

    /// Deletes the staged root.
    pub fn remove_root(&self) -> Result<()> {
        remove_if_exists(&self.root_path())
    }

    /// Deletes staged target content no draft refers to any more.
    pub fn prune_files(&self, keep: &std::collections::HashSet<String>) -> Result<()> {
        let dir = self.dir.join("files");
        let Ok(entries) = fs::read_dir(&dir) else {
            return Ok(());
        };
        let doomed: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| !keep.contains(e.file_name().to_string_lossy().as_ref()))
            .map(|e| e.path())
            .collect();
        crate::parallel::try_map(doomed, crate::parallel::io_threads(), |p| {
            remove_if_exists(&p)
        })
        .map(|_| ())
    }
}

/// Decodes the role name of a draft file name (`bins%2Fx.json` -> `bins/x`).
fn role_name_from_file(path: &Path) -> Option<String> {
    let stem = path.file_name()?.to_str()?.strip_suffix(".json")?;
    percent_decode(stem)
}

pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Reads and validates a metadata envelope from a local file.
pub fn read_envelope<T: RoleMetadata + DeserializeOwned>(
    path: &Path,
    role: &str,
) -> Result<Metadata<T>> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    Parsed::<T>::from_slice(&bytes, role)
        .map(|p| p.metadata)
        .map_err(|e| Error::metadata(path.display().to_string(), e))
}

/// Writes a metadata envelope to a local file atomically.
pub fn write_envelope<T: RoleMetadata>(path: &Path, m: &Metadata<T>) -> Result<()> {
    let bytes = m
        .to_json_bytes()
        .map_err(|e| Error::metadata(path.display().to_string(), e))?;
    write_atomic(path, &bytes)
}

/// Writes `data` to `path` through a temporary file in the same directory.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = parent.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    fs::write(&tmp, data)
        .and_then(|_| fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io(path, e)
        })
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn role_names_round_trip_through_file_names() {
        let d = super::Drafts::new(std::path::Path::new("/w"));
        let p = d.role_path("team/a b");
        assert_eq!(super::role_name_from_file(&p).as_deref(), Some("team/a b"));
    }
}
