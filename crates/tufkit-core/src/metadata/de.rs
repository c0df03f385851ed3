//! Hand-rolled `Deserialize` for metadata objects that keep unknown fields.
//!
//! serde's `#[serde(flatten)]` would keep unknown fields too, but it buffers the whole
//! object (for `targets`, every target entry) into an intermediate tree before building the
//! struct. The visitor generated here reads each field once, straight into its type, puts
//! unknown fields in the `unknown` map, and rejects a field that appears twice.

/// `expires` as read from JSON: RFC 3339 with optional fractional seconds and offset.
pub(crate) struct Rfc3339(pub chrono::DateTime<chrono::Utc>);

impl<'de> serde::Deserialize<'de> for Rfc3339 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::expires::deserialize(d).map(Rfc3339)
    }
}

impl From<Rfc3339> for chrono::DateTime<chrono::Utc> {
    fn from(v: Rfc3339) -> Self {
        v.0
    }
}

/// Implements `Deserialize` for `$ty`, whose remaining field `unknown` collects the rest.
macro_rules! deserialize_keeping_unknown {
    (
        $ty:ident, $expecting:literal,
        required { $( $rj:literal => $rv:ident : $rt:ty ),* $(,)? }
        optional { $( $oj:literal => $ov:ident : $ot:ty ),* $(,)? }
    ) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct ObjectVisitor;
                impl<'de> serde::de::Visitor<'de> for ObjectVisitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$ty, A::Error> {
                        use serde::de::Error as _;
                        $( let mut $rv: Option<$rt> = None; )*
                        $( let mut $ov: Option<$ot> = None; )*
                        let mut unknown = serde_json::Map::new();
                        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                            match key.as_ref() {
                                $( $rj => {
                                    if $rv.is_some() {
                                        return Err(A::Error::duplicate_field($rj));
                                    }
                                    $rv = Some(map.next_value()?);
                                } )*
                                $( $oj => {
                                    if $ov.is_some() {
                                        return Err(A::Error::duplicate_field($oj));
                                    }
                                    $ov = Some(map.next_value()?);
                                } )*
                                _ => {
                                    let value: serde_json::Value = map.next_value()?;
                                    if unknown.insert(key.to_string(), value).is_some() {
                                        return Err(A::Error::custom(format!(
                                            "duplicate field `{key}`"
                                        )));
                                    }
                                }
                            }
                        }
                        Ok($ty {
                            $( $rv: $rv.ok_or_else(|| A::Error::missing_field($rj))?.into(), )*
                            $( $ov: $ov.map(Into::into), )*
                            unknown,
                        })
                    }
                }
                d.deserialize_map(ObjectVisitor)
            }
        }
    };
}

pub(crate) use deserialize_keeping_unknown;
