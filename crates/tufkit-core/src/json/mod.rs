//! One strict JSON parse per metadata document: a borrowed [`Node`] tree that yields both
//! the canonical bytes signatures cover and, through serde, the typed model.

mod de;
mod reader;

pub use de::DeError;
pub use reader::{parse, Node};
