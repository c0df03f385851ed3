//! One strict JSON parse per metadata document: a borrowed [`Node`] tree that yields both
//! the canonical bytes signatures cover and, through serde, the typed model. Large maps
//! (a targets role's `targets`, a snapshot's `meta`) can be indexed instead of built
//! ([`parse_document`]), so a client pays per byte, not per entry, for what it never reads.

mod de;
mod reader;

pub use de::DeError;
pub use reader::{
    canonical_signed, object_fields, parse, parse_document, parse_document_str, Document,
    IndexSpec, Node, RawEntry, SignedForm,
};
