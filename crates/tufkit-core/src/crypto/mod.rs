//! Keys, signatures, hashes and threshold counting.

mod der;
pub mod hash;
mod key;
mod signing;
mod threshold;

pub use key::{pem_decode, pem_encode, Key, KeyId, KeyKind, KeyVal, PublicKey};
pub use signing::SigningKey;
pub use threshold::{verify_threshold, RoleKeysRef};
