//! Public keys as TUF metadata lists them, and signature verification with `ring`.

use std::fmt;

use base64::Engine as _;
use ring::signature::{self, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::der;
use crate::error::{Error, Result};

/// A key identifier. Treated as an opaque label when verifying (TAP 12); computed as the
/// hex SHA-256 of the canonical key JSON when tufkit generates a key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub String);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for KeyId {
    fn from(s: &str) -> Self {
        KeyId(s.to_string())
    }
}

/// The `keyval` object of a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyVal {
    /// The public key: hex for ed25519, PEM SubjectPublicKeyInfo for ecdsa and rsa.
    pub public: String,
    /// Fields tufkit does not know, kept as received.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

/// A public key as listed in root or in delegations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Key {
    /// Key type: `ed25519`, `ecdsa`, `ecdsa-sha2-nistp256` or `rsa`.
    pub keytype: String,
    /// Signature scheme: `ed25519`, `ecdsa-sha2-nistp256` or `rsassa-pss-sha256`.
    pub scheme: String,
    /// Key material.
    pub keyval: KeyVal,
    /// Fields tufkit does not know (e.g. `keyid_hash_algorithms`, `x-...-keyowner`).
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

/// The signature algorithms tufkit verifies and creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// Ed25519 (`ed25519`/`ed25519`, hex public key).
    Ed25519,
    /// ECDSA P-256 with SHA-256 (`ecdsa`/`ecdsa-sha2-nistp256`, PEM public key, DER signatures).
    EcdsaP256,
    /// RSASSA-PSS with SHA-256, MGF1-SHA256, salt length 32 (`rsa`/`rsassa-pss-sha256`).
    RsaPssSha256,
}

impl KeyKind {
    /// The `keytype` tufkit writes for this kind.
    pub fn keytype(self) -> &'static str {
        match self {
            KeyKind::Ed25519 => "ed25519",
            KeyKind::EcdsaP256 => "ecdsa",
            KeyKind::RsaPssSha256 => "rsa",
        }
    }

    /// The `scheme` tufkit writes for this kind.
    pub fn scheme(self) -> &'static str {
        match self {
            KeyKind::Ed25519 => "ed25519",
            KeyKind::EcdsaP256 => "ecdsa-sha2-nistp256",
            KeyKind::RsaPssSha256 => "rsassa-pss-sha256",
        }
    }

    /// Parses a user-facing name: `ed25519`, `ecdsa` or `rsa`.
    pub fn from_name(name: &str) -> Option<KeyKind> {
        match name {
            "ed25519" => Some(KeyKind::Ed25519),
            "ecdsa" | "ecdsa-sha2-nistp256" => Some(KeyKind::EcdsaP256),
            "rsa" => Some(KeyKind::RsaPssSha256),
            _ => None,
        }
    }
}

/// The verification algorithm a key's `scheme` selects (a superset of [`KeyKind`], so that
/// keys made by other implementations verify too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scheme {
    Ed25519,
    EcdsaP256Sha256,
    EcdsaP384Sha384,
    RsaPss(u16),
    RsaPkcs1(u16),
}

/// A parsed public key ready to verify signatures.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PublicKey {
    kind: KeyKind,
    scheme: Scheme,
    /// Raw key: 32 bytes (ed25519), an uncompressed P-256 point, or a PKCS#1 RSAPublicKey.
    raw: Vec<u8>,
}

impl PublicKey {
    /// Parses the key material of `key` for its keytype and scheme.
    pub fn from_key(key: &Key) -> Result<PublicKey> {
        let (kind, scheme) = match (key.keytype.as_str(), key.scheme.as_str()) {
            ("ed25519", "ed25519") => (KeyKind::Ed25519, Scheme::Ed25519),
            ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => (KeyKind::EcdsaP256, Scheme::EcdsaP256Sha256),
            ("ecdsa" | "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384") => (KeyKind::EcdsaP256, Scheme::EcdsaP384Sha384),
            ("rsa", "rsassa-pss-sha256") => (KeyKind::RsaPssSha256, Scheme::RsaPss(256)),
            ("rsa", "rsassa-pss-sha384") => (KeyKind::RsaPssSha256, Scheme::RsaPss(384)),
            ("rsa", "rsassa-pss-sha512") => (KeyKind::RsaPssSha256, Scheme::RsaPss(512)),
            ("rsa", "rsa-pkcs1v15-sha256") => (KeyKind::RsaPssSha256, Scheme::RsaPkcs1(256)),
            ("rsa", "rsa-pkcs1v15-sha384") => (KeyKind::RsaPssSha256, Scheme::RsaPkcs1(384)),
            ("rsa", "rsa-pkcs1v15-sha512") => (KeyKind::RsaPssSha256, Scheme::RsaPkcs1(512)),
            (t, s) => {
                return Err(Error::Key(format!(
                    "unsupported keytype/scheme {t:?}/{s:?} (supported: ed25519/ed25519, ecdsa/ecdsa-sha2-nistp256 or -nistp384, rsa/rsassa-pss-sha256|384|512 or rsa-pkcs1v15-sha256|384|512)"
                )))
            }
        };
        let public = key.keyval.public.trim();
        let raw = match kind {
            KeyKind::Ed25519 => {
                let raw = hex::decode(public)
                    .map_err(|_| Error::Key("ed25519 public key is not hex".into()))?;
                if raw.len() != 32 {
                    return Err(Error::Key(format!(
                        "ed25519 public key has {} bytes, expected 32",
                        raw.len()
                    )));
                }
                raw
            }
            KeyKind::EcdsaP256 => {
                let der = pem_decode(public, "PUBLIC KEY")?;
                let spki = der::parse_spki(&der).ok_or_else(|| {
                    Error::Key("ecdsa public key is not a valid SubjectPublicKeyInfo".into())
                })?;
                let (curve, point_len) = match scheme {
                    Scheme::EcdsaP384Sha384 => (der::OID_P384, 97),
                    _ => (der::OID_P256, 65),
                };
                if spki.algorithm != der::OID_EC_PUBLIC_KEY || spki.parameter != Some(curve) {
                    return Err(Error::Key(format!(
                        "ecdsa public key is not on the curve {} names",
                        key.scheme
                    )));
                }
                if spki.key.len() != point_len || spki.key[0] != 4 {
                    return Err(Error::Key(
                        "ecdsa public key is not an uncompressed curve point".into(),
                    ));
                }
                spki.key.to_vec()
            }
            KeyKind::RsaPssSha256 => {
                if let Ok(der) = pem_decode(public, "PUBLIC KEY") {
                    let spki = der::parse_spki(&der).ok_or_else(|| {
                        Error::Key("rsa public key is not a valid SubjectPublicKeyInfo".into())
                    })?;
                    if spki.algorithm != der::OID_RSA {
                        return Err(Error::Key("rsa public key has another algorithm".into()));
                    }
                    spki.key.to_vec()
                } else {
                    pem_decode(public, "RSA PUBLIC KEY")?
                }
            }
        };
        Ok(PublicKey { kind, scheme, raw })
    }

    /// The key family (ed25519, ECDSA or RSA) of this key.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// Checks `sig` over `msg`. Any malformed input simply fails to verify.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let alg: &dyn signature::VerificationAlgorithm = match self.scheme {
            Scheme::Ed25519 => &signature::ED25519,
            // ring accepts high-S ECDSA signatures, as TUF peers expect.
            Scheme::EcdsaP256Sha256 => &signature::ECDSA_P256_SHA256_ASN1,
            Scheme::EcdsaP384Sha384 => &signature::ECDSA_P384_SHA384_ASN1,
            Scheme::RsaPss(384) => &signature::RSA_PSS_2048_8192_SHA384,
            Scheme::RsaPss(512) => &signature::RSA_PSS_2048_8192_SHA512,
            Scheme::RsaPss(_) => &signature::RSA_PSS_2048_8192_SHA256,
            Scheme::RsaPkcs1(384) => &signature::RSA_PKCS1_2048_8192_SHA384,
            Scheme::RsaPkcs1(512) => &signature::RSA_PKCS1_2048_8192_SHA512,
            Scheme::RsaPkcs1(_) => &signature::RSA_PKCS1_2048_8192_SHA256,
        };
        UnparsedPublicKey::new(alg, &self.raw)
            .verify(msg, sig)
            .is_ok()
    }

    /// Builds the TUF key JSON for this public key.
    pub fn to_key(&self) -> Key {
        let curve = match self.scheme {
            Scheme::EcdsaP384Sha384 => der::OID_P384,
            _ => der::OID_P256,
        };
        let public = match self.kind {
            KeyKind::Ed25519 => hex::encode(&self.raw),
            KeyKind::EcdsaP256 => pem_encode(
                &der::build_spki(der::OID_EC_PUBLIC_KEY, Some(curve), &self.raw),
                "PUBLIC KEY",
            ),
            KeyKind::RsaPssSha256 => pem_encode(
                &der::build_spki(der::OID_RSA, None, &self.raw),
                "PUBLIC KEY",
            ),
        };
        let scheme = match self.scheme {
            Scheme::Ed25519 => "ed25519",
            Scheme::EcdsaP256Sha256 => "ecdsa-sha2-nistp256",
            Scheme::EcdsaP384Sha384 => "ecdsa-sha2-nistp384",
            Scheme::RsaPss(384) => "rsassa-pss-sha384",
            Scheme::RsaPss(512) => "rsassa-pss-sha512",
            Scheme::RsaPss(_) => "rsassa-pss-sha256",
            Scheme::RsaPkcs1(384) => "rsa-pkcs1v15-sha384",
            Scheme::RsaPkcs1(512) => "rsa-pkcs1v15-sha512",
            Scheme::RsaPkcs1(_) => "rsa-pkcs1v15-sha256",
        };
        Key {
            keytype: self.kind.keytype().into(),
            scheme: scheme.into(),
            keyval: KeyVal {
                public,
                unknown: Map::new(),
            },
            unknown: Map::new(),
        }
    }

    pub(crate) fn from_raw(kind: KeyKind, raw: Vec<u8>) -> PublicKey {
        let scheme = match kind {
            KeyKind::Ed25519 => Scheme::Ed25519,
            KeyKind::EcdsaP256 => Scheme::EcdsaP256Sha256,
            KeyKind::RsaPssSha256 => Scheme::RsaPss(256),
        };
        PublicKey { kind, scheme, raw }
    }
}

impl Key {
    /// The keyid tufkit assigns: hex SHA-256 of the canonical JSON of
    /// `{keytype, scheme, keyval}` (unknown fields excluded).
    pub fn key_id(&self) -> Result<KeyId> {
        let value = serde_json::json!({
            "keytype": self.keytype,
            "scheme": self.scheme,
            "keyval": serde_json::to_value(&self.keyval).map_err(|e| Error::Key(e.to_string()))?,
        });
        let bytes = crate::canonical::to_canonical(&value)?;
        Ok(KeyId(hex::encode(ring::digest::digest(
            &ring::digest::SHA256,
            &bytes,
        ))))
    }
}

/// Decodes the first PEM block labelled `label`.
pub fn pem_decode(text: &str, label: &str) -> Result<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text
        .find(&begin)
        .ok_or_else(|| Error::Key(format!("no PEM block \"{label}\" found")))?
        + begin.len();
    let stop = text[start..]
        .find(&end)
        .ok_or_else(|| Error::Key(format!("PEM block \"{label}\" is not terminated")))?
        + start;
    let body: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| Error::Key(format!("PEM block \"{label}\" is not valid base64: {e}")))
}

/// Encodes DER bytes as a PEM block (64-column lines, trailing newline).
pub fn pem_encode(der: &[u8], label: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
