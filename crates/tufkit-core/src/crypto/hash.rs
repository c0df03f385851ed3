//! Hashing, length checks and the incremental target verifier (spec 5.5.2, 5.6.2, 5.7.3).

use std::collections::BTreeMap;

use ring::digest;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A hash algorithm tufkit can compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// Parses an algorithm name as TUF metadata spells it.
    pub fn from_name(name: &str) -> Option<HashAlgorithm> {
        match name {
            "sha256" => Some(HashAlgorithm::Sha256),
            "sha384" => Some(HashAlgorithm::Sha384),
            "sha512" => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }

    /// The name used in metadata.
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha384 => "sha384",
            HashAlgorithm::Sha512 => "sha512",
        }
    }

    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        self.ring().output_len()
    }

    fn ring(self) -> &'static digest::Algorithm {
        match self {
            HashAlgorithm::Sha256 => &digest::SHA256,
            HashAlgorithm::Sha384 => &digest::SHA384,
            HashAlgorithm::Sha512 => &digest::SHA512,
        }
    }

    /// Hashes `data` and returns lowercase hex.
    pub fn hex_digest(self, data: &[u8]) -> String {
        hex::encode(digest::digest(self.ring(), data))
    }
}

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    HashAlgorithm::Sha256.hex_digest(data)
}

/// Checks `data` against an optional listed length and optional listed hashes.
///
/// Every listed hash must match; an algorithm tufkit cannot compute is an error, so a
/// listed hash is never silently skipped.
pub fn check_length_and_hashes(
    what: &str,
    data: &[u8],
    length: Option<u64>,
    hashes: Option<&BTreeMap<String, String>>,
) -> Result<()> {
    if let Some(expected) = length {
        if data.len() as u64 != expected {
            return Err(Error::LengthMismatch {
                what: what.to_string(),
                expected,
                found: data.len() as u64,
            });
        }
    }
    if let Some(hashes) = hashes {
        let mut v = Verifier::new(what, length.unwrap_or(data.len() as u64), hashes)?;
        v.update(data)?;
        v.finish()?;
    }
    Ok(())
}

/// Verifies a stream of bytes against a length and hashes, chunk by chunk.
///
/// `update` fails as soon as more than `length` bytes arrive, so a caller can stop reading
/// an endless response; `finish` checks the exact length and every hash.
pub struct Verifier {
    what: String,
    length: u64,
    seen: u64,
    contexts: Vec<(HashAlgorithm, digest::Context, Vec<u8>)>,
}

impl Verifier {
    /// Prepares to verify `length` bytes against `hashes` (algorithm name to hex digest).
    pub fn new(what: &str, length: u64, hashes: &BTreeMap<String, String>) -> Result<Verifier> {
        let mut contexts = Vec::with_capacity(hashes.len());
        for (name, hex_value) in hashes {
            let alg =
                HashAlgorithm::from_name(name).ok_or_else(|| Error::UnsupportedHashAlgorithm {
                    what: what.to_string(),
                    algorithm: name.clone(),
                })?;
            let expected = hex::decode(hex_value).map_err(|_| Error::HashMismatch {
                what: what.to_string(),
                algorithm: name.clone(),
            })?;
            contexts.push((alg, digest::Context::new(alg.ring()), expected));
        }
        Ok(Verifier {
            what: what.to_string(),
            length,
            seen: 0,
            contexts,
        })
    }

    /// Feeds the next chunk.
    pub fn update(&mut self, chunk: &[u8]) -> Result<()> {
        self.seen = self.seen.saturating_add(chunk.len() as u64);
        if self.seen > self.length {
            return Err(Error::LengthMismatch {
                what: self.what.clone(),
                expected: self.length,
                found: self.seen,
            });
        }
        for (_, ctx, _) in &mut self.contexts {
            ctx.update(chunk);
        }
        Ok(())
    }

    /// Bytes fed so far.
    pub fn bytes_seen(&self) -> u64 {
        self.seen
    }

    /// Checks the final length and all hashes.
    pub fn finish(self) -> Result<()> {
        if self.seen != self.length {
            return Err(Error::LengthMismatch {
                what: self.what,
                expected: self.length,
                found: self.seen,
            });
        }
        for (alg, ctx, expected) in self.contexts {
            if ctx.finish().as_ref() != expected.as_slice() {
                return Err(Error::HashMismatch {
                    what: self.what,
                    algorithm: alg.name().to_string(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(data: &[u8]) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("sha256".to_string(), HashAlgorithm::Sha256.hex_digest(data)),
            ("sha512".to_string(), HashAlgorithm::Sha512.hex_digest(data)),
        ])
    }

    #[test]
    fn accepts_matching_data_in_chunks() {
        let data = b"hello world";
        let mut v = Verifier::new("t", data.len() as u64, &hashes(data)).unwrap();
        v.update(&data[..3]).unwrap();
        v.update(&data[3..]).unwrap();
        v.finish().unwrap();
    }

    #[test]
    fn rejects_extra_bytes_as_soon_as_they_arrive() {
        let data = b"hello";
        let mut v = Verifier::new("t", 3, &hashes(data)).unwrap();
        assert!(matches!(v.update(data), Err(Error::LengthMismatch { .. })));
    }

    #[test]
    fn rejects_short_data_and_each_wrong_hash() {
        let data = b"hello";
        assert!(matches!(
            check_length_and_hashes("t", &data[..4], Some(5), Some(&hashes(data))),
            Err(Error::LengthMismatch { .. })
        ));
        for alg in ["sha256", "sha512"] {
            let mut h = hashes(data);
            h.insert(alg.to_string(), hashes(b"jello")[alg].clone());
            let err = check_length_and_hashes("t", data, Some(5), Some(&h)).unwrap_err();
            assert_eq!(
                err,
                Error::HashMismatch {
                    what: "t".into(),
                    algorithm: alg.into()
                }
            );
        }
    }

    #[test]
    fn unknown_algorithm_is_an_error() {
        let mut h = hashes(b"x");
        h.insert("md5".into(), "00".into());
        assert!(matches!(
            check_length_and_hashes("t", b"x", None, Some(&h)),
            Err(Error::UnsupportedHashAlgorithm { .. })
        ));
    }
}
