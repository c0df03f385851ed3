//! Private keys (PKCS#8) and signing.

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};

use super::der;
use super::key::{pem_decode, pem_encode, Key, KeyId, KeyKind, PublicKey};
use crate::error::{Error, Result};
use crate::metadata::Signature;

enum Pair {
    Ed25519(Ed25519KeyPair),
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// A private key that signs TUF metadata.
pub struct SigningKey {
    pair: Pair,
    public: PublicKey,
    key: Key,
    keyid: KeyId,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("keyid", &self.keyid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Loads a PKCS#8 private key from DER bytes (ed25519, ECDSA P-256 or RSA).
    pub fn from_pkcs8_der(der_bytes: &[u8]) -> Result<SigningKey> {
        let (alg, param) = der::pkcs8_algorithm(der_bytes)
            .ok_or_else(|| Error::Key("not a PKCS#8 private key".into()))?;
        let (pair, public) = if alg == der::OID_ED25519 {
            let kp = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der_bytes)
                .map_err(|e| Error::Key(format!("invalid ed25519 PKCS#8 key: {e}")))?;
            let public = PublicKey::from_raw(KeyKind::Ed25519, kp.public_key().as_ref().to_vec());
            (Pair::Ed25519(kp), public)
        } else if alg == der::OID_EC_PUBLIC_KEY {
            if param != Some(der::OID_P256) {
                return Err(Error::Key("only P-256 ECDSA keys are supported".into()));
            }
            let kp = EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                der_bytes,
                &SystemRandom::new(),
            )
            .map_err(|e| Error::Key(format!("invalid ECDSA PKCS#8 key: {e}")))?;
            let public = PublicKey::from_raw(KeyKind::EcdsaP256, kp.public_key().as_ref().to_vec());
            (Pair::Ecdsa(kp), public)
        } else if alg == der::OID_RSA {
            let kp = RsaKeyPair::from_pkcs8(der_bytes)
                .map_err(|e| Error::Key(format!("invalid RSA PKCS#8 key: {e}")))?;
            if kp.public().modulus_len() < 256 {
                return Err(Error::Key("RSA keys must have at least 2048 bits".into()));
            }
            let public = PublicKey::from_raw(KeyKind::RsaPssSha256, kp.public().as_ref().to_vec());
            (Pair::Rsa(kp), public)
        } else {
            return Err(Error::Key(
                "unsupported private key algorithm (use ed25519, ECDSA P-256 or RSA)".into(),
            ));
        };
        let key = public.to_key();
        let keyid = key.key_id()?;
        Ok(SigningKey {
            pair,
            public,
            key,
            keyid,
        })
    }

    /// Loads a private key from PEM (`PRIVATE KEY`, PKCS#8) or from raw PKCS#8 DER bytes.
    pub fn from_pkcs8(bytes: &[u8]) -> Result<SigningKey> {
        match std::str::from_utf8(bytes) {
            Ok(text) if text.contains("-----BEGIN") => {
                SigningKey::from_pkcs8_der(&pem_decode(text, "PRIVATE KEY")?)
            }
            _ => SigningKey::from_pkcs8_der(bytes),
        }
    }

    /// Generates a new key and returns it with its PKCS#8 DER encoding.
    ///
    /// RSA generation is not available through `ring`; tufkit-repo generates RSA keys.
    pub fn generate(kind: KeyKind) -> Result<(SigningKey, Vec<u8>)> {
        let rng = SystemRandom::new();
        let der_bytes = match kind {
            KeyKind::Ed25519 => Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|e| Error::Key(format!("key generation failed: {e}")))?
                .as_ref()
                .to_vec(),
            KeyKind::EcdsaP256 => {
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
                    .map_err(|e| Error::Key(format!("key generation failed: {e}")))?
                    .as_ref()
                    .to_vec()
            }
            KeyKind::RsaPssSha256 => {
                return Err(Error::Key(
                    "RSA key generation is done by tufkit-repo".into(),
                ))
            }
        };
        let key = SigningKey::from_pkcs8_der(&der_bytes)?;
        Ok((key, der_bytes))
    }

    /// Encodes PKCS#8 DER as PEM.
    pub fn pkcs8_pem(der_bytes: &[u8]) -> String {
        pem_encode(der_bytes, "PRIVATE KEY")
    }

    /// The TUF key JSON of the public half.
    pub fn public_key(&self) -> &Key {
        &self.key
    }

    /// The parsed public half.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The keyid (hex SHA-256 of the canonical public key JSON).
    pub fn key_id(&self) -> &KeyId {
        &self.keyid
    }

    /// Signs `msg` (normally canonical JSON of a `signed` object).
    pub fn sign(&self, msg: &[u8]) -> Result<Signature> {
        let rng = SystemRandom::new();
        let sig = match &self.pair {
            Pair::Ed25519(kp) => kp.sign(msg).as_ref().to_vec(),
            Pair::Ecdsa(kp) => kp
                .sign(&rng, msg)
                .map_err(|e| Error::Key(format!("signing failed: {e}")))?
                .as_ref()
                .to_vec(),
            Pair::Rsa(kp) => {
                let mut out = vec![0u8; kp.public().modulus_len()];
                kp.sign(&signature::RSA_PSS_SHA256, &rng, msg, &mut out)
                    .map_err(|e| Error::Key(format!("signing failed: {e}")))?;
                out
            }
        };
        Ok(Signature::new(self.keyid.clone(), hex::encode(sig)))
    }
}
