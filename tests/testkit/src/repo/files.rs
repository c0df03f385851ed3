//! The served files of [`RepoSim`] and the published history of every role.

use tufkit_core::rolename::role_file_name;

use super::{RepoSim, SharedFiles};

impl RepoSim {
    /// The served-file map the HTTP server shares; updated on every publish.
    pub fn files(&self) -> SharedFiles {
        self.files.clone()
    }

    /// The bytes served at `path` (e.g. `metadata/timestamp.json`), if any.
    pub fn file(&self, path: &str) -> Option<Vec<u8>> {
        self.files.read().ok()?.get(path).cloned()
    }

    /// Serves `bytes` at `path` (ignores [`RepoSim::freeze`]: attacks write directly).
    pub fn set_file(&mut self, path: &str, bytes: Vec<u8>) {
        let mut files = self.files.write().unwrap_or_else(|e| e.into_inner());
        files.insert(path.to_string(), bytes);
    }

    /// Stops serving `path`.
    pub fn remove_file(&mut self, path: &str) {
        let mut files = self.files.write().unwrap_or_else(|e| e.into_inner());
        files.remove(path);
    }

    pub(crate) fn write_file(&mut self, path: &str, bytes: Vec<u8>) {
        if !self.frozen {
            self.set_file(path, bytes);
        }
    }

    /// The URL path of `role` at `version` under the current root's consistent_snapshot.
    pub fn metadata_path(&self, role: &str, version: u64) -> String {
        match role {
            "root" => format!("metadata/{version}.root.json"),
            "timestamp" => "metadata/timestamp.json".to_string(),
            name if self.root.consistent() => {
                format!("metadata/{}", role_file_name(name, Some(version)))
            }
            name => format!("metadata/{}", role_file_name(name, None)),
        }
    }

    /// The URL paths of target `path` as published: one per listed hash when consistent.
    pub fn target_urls(&self, role: &str, path: &str) -> Vec<String> {
        if !self.root.consistent() {
            return vec![format!("targets/{path}")];
        }
        let Some(info) = self.roles.get(role).and_then(|r| r.targets.get(path)) else {
            return Vec::new();
        };
        let (dir, base) = match path.rsplit_once('/') {
            Some((d, b)) => (format!("{d}/"), b),
            None => (String::new(), path),
        };
        info.hashes
            .values()
            .map(|h| format!("targets/{dir}{h}.{base}"))
            .collect()
    }

    pub(super) fn write_target_files(&mut self, role: &str) {
        let paths: Vec<String> = self.role(role).targets.keys().cloned().collect();
        for path in paths {
            let Some(content) = self
                .contents
                .get(&(role.to_string(), path.clone()))
                .cloned()
            else {
                continue;
            };
            for url in self.target_urls(role, &path) {
                self.write_file(&url, content.clone());
            }
        }
    }

    /// The latest published bytes of `role`. Panics if it was never published.
    #[track_caller]
    pub fn bytes(&self, role: &str) -> Vec<u8> {
        let v = self
            .last_version(role)
            .unwrap_or_else(|| panic!("RepoSim never published {role:?}"));
        self.history[role][&v].clone()
    }

    /// The published bytes of `role` at `version`, if that version was published.
    pub fn bytes_at(&self, role: &str, version: u64) -> Option<Vec<u8>> {
        self.history.get(role)?.get(&version).cloned()
    }

    /// The bytes of root `version`, to bootstrap a client. Panics if never published.
    #[track_caller]
    pub fn trusted_root_bytes(&self, version: u64) -> Vec<u8> {
        self.bytes_at("root", version)
            .unwrap_or_else(|| panic!("RepoSim never published root v{version}"))
    }
}
