//! Repository shapes: what a generated benchmark repository looks like, and where it is
//! cached.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// Bumped whenever the generator's output changes, so cached repositories are rebuilt.
pub const GENERATOR_VERSION: u32 = 2;

/// How targets are spread over targets roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Every target in the top-level `targets.json`.
    Flat,
    /// Classic hashed bins: `delegations.roles` with `path_hash_prefixes` (PEP 458 style).
    Bins,
    /// TAP 15 succinct hashed bins: `delegations.succinct_roles`.
    Succinct,
}

impl Layout {
    /// The lowercase name used in cache keys and tables.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Flat => "flat",
            Layout::Bins => "bins",
            Layout::Succinct => "succinct",
        }
    }
}

/// One repository shape: layout, number of targets and number of bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// Where targets are listed.
    pub layout: Layout,
    /// Number of targets.
    pub targets: u64,
    /// Number of bins (a power of two from 2 to 2^24; ignored for flat).
    pub bins: u64,
}

impl Shape {
    /// A flat repository with `targets` targets.
    pub fn flat(targets: u64) -> Shape {
        Shape {
            layout: Layout::Flat,
            targets,
            bins: 0,
        }
    }

    /// A hashed-bin repository (`layout` is `Bins` or `Succinct`).
    pub fn binned(layout: Layout, targets: u64, bins: u64) -> Shape {
        Shape {
            layout,
            targets,
            bins,
        }
    }

    /// Checks the parameters the generator relies on.
    pub fn validate(&self) -> Result<()> {
        if self.targets == 0 || self.targets > u32::MAX as u64 {
            bail!("--targets must be between 1 and {}", u32::MAX);
        }
        if self.layout != Layout::Flat
            && (!self.bins.is_power_of_two() || self.bins < 2 || self.bins > 1 << 24)
        {
            bail!(
                "--bins must be a power of two from 2 to 16777216 for {} repositories, not {}",
                self.layout.name(),
                self.bins
            );
        }
        Ok(())
    }

    /// Number of leading bits of SHA-256(path) that select a bin.
    pub fn bit_length(&self) -> u32 {
        self.bins.max(1).trailing_zeros()
    }

    /// The cache directory name, e.g. `flat-100000` or `succinct-1000000x16384`.
    pub fn key(&self) -> String {
        match self.layout {
            Layout::Flat => format!("flat-{}", self.targets),
            l => format!("{}-{}x{}", l.name(), self.targets, self.bins),
        }
    }

    /// A short human label: `100k flat`, `1M in 16,384 bins`, `100k in 1,024 succinct bins`.
    pub fn label(&self) -> String {
        let n = human_count(self.targets);
        match self.layout {
            Layout::Flat => format!("{n} flat"),
            Layout::Bins => format!("{n} in {} bins", thousands(self.bins)),
            Layout::Succinct => format!("{n} in {} succinct bins", thousands(self.bins)),
        }
    }

    /// The target path with index `i` (the generator lists `0..targets`).
    pub fn target_path(i: u64) -> String {
        format!("pkg-{i}/pkg-{i}-1.{}.{}.tar.gz", i % 7, i % 13)
    }

    /// The index of the target every client looks up.
    pub fn lookup_index(&self) -> u64 {
        self.targets / 2
    }
}

/// `1k`, `100k`, `1M`, or the plain number.
pub fn human_count(n: u64) -> String {
    if n >= 1_000_000 && n % 1_000_000 == 0 {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n % 1_000 == 0 {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

/// `16384` as `16,384`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What the generator records about a repository it wrote (`DIR/bench.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RepoInfo {
    /// Generator version that wrote the repository.
    pub generator_version: u32,
    /// The shape.
    pub shape: Shape,
    /// The target the clients look up.
    pub lookup_target: String,
    /// Its length in bytes.
    pub lookup_length: u64,
    /// Size of the published `targets.json` in bytes.
    pub targets_json_bytes: u64,
    /// Size of the published `snapshot.json` in bytes.
    pub snapshot_json_bytes: u64,
    /// Size of the bin that lists the looked-up target (0 for flat).
    pub lookup_bin_bytes: u64,
    /// The bin that lists the looked-up target (empty for flat).
    pub lookup_bin: String,
    /// Total bytes of all metadata files.
    pub metadata_bytes: u64,
    /// Number of metadata files.
    pub metadata_files: u64,
    /// Seconds the generation took.
    pub generate_seconds: f64,
}

impl RepoInfo {
    /// The info file of a repository directory.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("bench.json")
    }

    /// Reads the info of a complete repository written by this generator version.
    pub fn load_current(dir: &Path, shape: &Shape) -> Option<RepoInfo> {
        let bytes = std::fs::read(RepoInfo::path(dir)).ok()?;
        let info: RepoInfo = serde_json::from_slice(&bytes).ok()?;
        (info.generator_version == GENERATOR_VERSION && info.shape == *shape).then_some(info)
    }

    /// Writes the info file (the last file the generator writes).
    pub fn store(&self, dir: &Path) -> Result<()> {
        let path = RepoInfo::path(dir);
        let bytes = serde_json::to_vec_pretty(self)?;
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_labels_and_bits() {
        let s = Shape::binned(Layout::Succinct, 1_000_000, 16_384);
        assert_eq!(s.key(), "succinct-1000000x16384");
        assert_eq!(s.label(), "1M in 16,384 succinct bins");
        assert_eq!(s.bit_length(), 14);
        assert_eq!(Shape::flat(100_000).label(), "100k flat");
        assert!(Shape::binned(Layout::Bins, 10, 1000).validate().is_err());
        assert!(Shape::binned(Layout::Bins, 10, 1024).validate().is_ok());
        assert_eq!(thousands(1_024), "1,024");
        assert_eq!(thousands(999), "999");
    }
}
