//! Key generation, key files, and the key ring of reachable private keys.
//!
//! Private keys are PKCS#8 PEM files (mode 0600). tufkit finds the keys that can sign a
//! role by comparing public key material with the keys the metadata lists, so key files
//! can have any name and a rotation needs no configuration change.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use tufkit_core::crypto::{Key, KeyId, KeyKind, PublicKey, SigningKey};

use crate::error::{invalid, Error, Result};

/// Bits of a generated RSA key.
pub const RSA_BITS: usize = 3072;

/// The key algorithms `tufkit` can generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyType {
    /// Ed25519 (the default: small, fast, deterministic signatures).
    #[default]
    Ed25519,
    /// ECDSA on P-256 with SHA-256.
    Ecdsa,
    /// RSASSA-PSS with SHA-256 (3072-bit keys).
    Rsa,
}

impl KeyType {
    /// The signing algorithm of keys of this type.
    pub fn kind(self) -> KeyKind {
        match self {
            KeyType::Ed25519 => KeyKind::Ed25519,
            KeyType::Ecdsa => KeyKind::EcdsaP256,
            KeyType::Rsa => KeyKind::RsaPssSha256,
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Ed25519 => "ed25519",
            KeyType::Ecdsa => "ecdsa",
            KeyType::Rsa => "rsa",
        }
    }
}

impl FromStr for KeyType {
    type Err = Error;
    fn from_str(s: &str) -> Result<KeyType> {
        match s {
            "ed25519" => Ok(KeyType::Ed25519),
            "ecdsa" => Ok(KeyType::Ecdsa),
            "rsa" => Ok(KeyType::Rsa),
            _ => Err(invalid(format!(
                "unknown key type {s:?}: use ed25519, ecdsa or rsa"
            ))),
        }
    }
}

/// Generates a new private key; returns it with its PKCS#8 PEM text.
pub fn generate(key_type: KeyType) -> Result<(SigningKey, String)> {
    let der = match key_type {
        KeyType::Rsa => {
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, RSA_BITS)
                .map_err(|e| invalid(format!("RSA key generation failed: {e}")))?;
            key.to_pkcs8_der()
                .map_err(|e| invalid(format!("RSA key encoding failed: {e}")))?
                .as_bytes()
                .to_vec()
        }
        other => {
            SigningKey::generate(other.kind())
                .map_err(|e| Error::metadata("new key", e))?
                .1
        }
    };
    let key = SigningKey::from_pkcs8_der(&der).map_err(|e| Error::metadata("new key", e))?;
    Ok((key, SigningKey::pkcs8_pem(&der)))
}

/// Writes a private key PEM to a new file readable only by its owner (mode 0600).
pub fn write_private_key(path: &Path, pem: &str) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            invalid(format!(
                "{}: already exists; tufkit never overwrites a key file, choose another path",
                path.display()
            ))
        } else {
            Error::io(path, e)
        }
    })?;
    file.write_all(pem.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| Error::io(path, e))
}

/// Loads a private key file (PKCS#8 PEM or DER).
pub fn load_private_key(path: &Path) -> Result<SigningKey> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    SigningKey::from_pkcs8(&bytes).map_err(|e| Error::Key {
        path: path.to_path_buf(),
        reason: format!("{e} (expected a PKCS#8 PEM private key, e.g. from `tufkit key generate`)"),
    })
}

/// Loads a public key file: TUF key JSON (as `tufkit key public` writes it) or a private
/// key PEM, whose public half is used. Returns the keyid tufkit assigns and the key.
pub fn load_public_key(path: &Path) -> Result<(KeyId, Key)> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    let key = if bytes.trim_ascii_start().starts_with(b"{") {
        let key: Key = serde_json::from_slice(&bytes).map_err(|e| Error::Key {
            path: path.to_path_buf(),
            reason: format!("not TUF key JSON ({{\"keytype\", \"scheme\", \"keyval\"}}): {e}"),
        })?;
        PublicKey::from_key(&key).map_err(|e| Error::Key {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        key
    } else {
        load_private_key(path)?.public_key().clone()
    };
    let keyid = key.key_id().map_err(|e| Error::Key {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok((keyid, key))
}

/// The TUF key JSON of a public key, pretty-printed, for `tufkit key public`.
pub fn public_key_json(key: &Key) -> Result<String> {
    serde_json::to_string_pretty(key)
        .map(|s| s + "\n")
        .map_err(|e| invalid(format!("cannot encode key: {e}")))
}

/// One reachable private key and the file it came from.
#[derive(Debug)]
pub struct KeyEntry {
    /// The key file.
    pub path: PathBuf,
    /// The loaded key.
    pub key: SigningKey,
}

/// The private keys reachable from the key directories.
#[derive(Debug, Default)]
pub struct KeyRing {
    entries: Vec<KeyEntry>,
    /// Files in the key directories that are not usable keys, with why.
    pub skipped: Vec<(PathBuf, String)>,
}

impl KeyRing {
    /// Loads every `*.pem` / `*.key` / `*.der` file in `dirs` (missing directories are fine).
    pub fn load(dirs: &[PathBuf]) -> Result<KeyRing> {
        let mut ring = KeyRing::default();
        for dir in dirs {
            let entries = match fs::read_dir(dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(dir, e)),
            };
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("pem" | "key" | "der")
                    )
                })
                .collect();
            paths.sort();
            for path in paths {
                match load_private_key(&path) {
                    Ok(key) => ring.add(path, key),
                    Err(e) => ring.skipped.push((path, e.to_string())),
                }
            }
        }
        Ok(ring)
    }

    /// Adds a key (later duplicates of the same key are ignored).
    pub fn add(&mut self, path: PathBuf, key: SigningKey) {
        if self.entries.iter().all(|e| e.key.public() != key.public()) {
            self.entries.push(KeyEntry { path, key });
        }
    }

    /// The private key for the public `key`, if reachable (matched by key material, so
    /// keyids assigned by other tools work too).
    pub fn find(&self, key: &Key) -> Option<&KeyEntry> {
        let public = PublicKey::from_key(key).ok()?;
        self.entries.iter().find(|e| *e.key.public() == public)
    }

    /// The private key whose tufkit keyid is `keyid`.
    pub fn find_by_keyid(&self, keyid: &KeyId) -> Option<&KeyEntry> {
        self.entries.iter().find(|e| e.key.key_id() == keyid)
    }

    /// All reachable keys.
    pub fn entries(&self) -> &[KeyEntry] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_through_files_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        for t in [KeyType::Ed25519, KeyType::Ecdsa] {
            let (key, pem) = generate(t).unwrap();
            let path = dir.path().join(format!("{}.pem", t.name()));
            write_private_key(&path, &pem).unwrap();
            assert!(write_private_key(&path, &pem).is_err(), "never overwrites");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = fs::metadata(&path).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600);
            }
            let (keyid, public) = load_public_key(&path).unwrap();
            assert_eq!(&keyid, key.key_id());
            assert_eq!(&public, key.public_key());
            let json = dir.path().join(format!("{}.pub.json", t.name()));
            fs::write(&json, public_key_json(&public).unwrap()).unwrap();
            assert_eq!(load_public_key(&json).unwrap().0, keyid);
        }
        let ring = KeyRing::load(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(ring.entries().len(), 2);
        assert!(ring.skipped.is_empty());
    }

    #[test]
    fn rsa_keys_are_generated_and_usable() {
        let (key, pem) = generate(KeyType::Rsa).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(key.public_key().keytype, "rsa");
        let sig = key.sign(b"msg").unwrap();
        let raw = hex::decode(sig.sig).unwrap();
        assert!(key.public().verify(b"msg", &raw));
    }
}
