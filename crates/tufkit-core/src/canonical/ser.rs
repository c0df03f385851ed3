//! A serde `Serializer` that writes canonical JSON straight from typed values, with no
//! intermediate `serde_json::Value` tree (a 100,000-target document would need one
//! allocation per map node and string; here entries are written once, in place).
//!
//! Object entries are written in the order serde gives them while recording where each
//! one is; if the keys did not arrive sorted (struct fields come in declaration order),
//! the object's bytes are put in order afterwards. Maps serde iterates in order (a
//! `BTreeMap`, like the `targets` map) are never moved.

use serde::ser::{self, Impossible, Serialize};

use super::write_string;
use crate::error::Error;

/// Encodes `value` as canonical JSON bytes, straight from its `Serialize` implementation.
pub fn to_canonical_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(256);
    value.serialize(Canon { out: &mut out })?;
    Ok(out)
}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::Canonical(msg.to_string())
    }
}

fn not_allowed(what: &str) -> Error {
    Error::Canonical(format!(
        "{what} cannot be written as canonical JSON (integers, strings, booleans, null, arrays and objects only)"
    ))
}

struct Canon<'a> {
    out: &'a mut Vec<u8>,
}

/// An array being written.
struct Seq<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

/// An object being written: where it starts and where each entry is.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
    entries: Vec<(String, std::ops::Range<usize>)>,
    sorted: bool,
    pending_key: Option<String>,
}

impl<'a> Obj<'a> {
    fn new(out: &'a mut Vec<u8>, len: Option<usize>) -> Obj<'a> {
        out.push(b'{');
        let start = out.len();
        Obj {
            out,
            start,
            entries: Vec::with_capacity(len.unwrap_or(0).min(1 << 16)),
            sorted: true,
            pending_key: None,
        }
    }

    fn begin_entry(&mut self, key: String) {
        if !self.entries.is_empty() {
            self.out.push(b',');
        }
        if let Some((last, _)) = self.entries.last() {
            if last.as_bytes() >= key.as_bytes() {
                self.sorted = false;
            }
        }
        let begin = self.out.len();
        write_string(&key, self.out);
        self.out.push(b':');
        self.entries.push((key, begin..begin));
    }

    fn end_entry(&mut self) {
        let end = self.out.len();
        if let Some((_, range)) = self.entries.last_mut() {
            range.end = end;
        }
    }

    fn finish(self) -> Result<(), Error> {
        let Obj {
            out,
            start,
            mut entries,
            sorted,
            ..
        } = self;
        if !sorted {
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(Error::Canonical(format!(
                    "the key {:?} would appear twice in one object",
                    w[0].0
                )));
            }
            let written = out.split_off(start);
            for (i, (_, range)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(&written[range.start - start..range.end - start]);
            }
        }
        out.push(b'}');
        Ok(())
    }
}

macro_rules! integers {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method(self, v: $ty) -> Result<(), Error> {
            self.out.extend_from_slice(v.to_string().as_bytes());
            Ok(())
        })*
    };
}

impl<'a> ser::Serializer for Canon<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Seq<'a>;
    type SerializeTupleStruct = Seq<'a>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Obj<'a>;
    type SerializeStruct = Obj<'a>;
    type SerializeStructVariant = Impossible<(), Error>;

    integers!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64,
        serialize_i128: i128, serialize_u128: u128);

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out
            .extend_from_slice(if v { b"true" as &[u8] } else { b"false" });
        Ok(())
    }
    fn serialize_f32(self, _: f32) -> Result<(), Error> {
        Err(not_allowed("a floating-point number"))
    }
    fn serialize_f64(self, _: f64) -> Result<(), Error> {
        Err(not_allowed("a floating-point number"))
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_string(v.encode_utf8(&mut [0u8; 4]), self.out);
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_string(v, self.out);
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> {
        Err(not_allowed("a byte string"))
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, v: &'static str) -> Result<(), Error> {
        self.serialize_str(v)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        let mut obj = Obj::new(self.out, Some(1));
        obj.begin_entry(variant.to_string());
        value.serialize(Canon { out: obj.out })?;
        obj.end_entry();
        obj.finish()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Seq<'a>, Error> {
        self.out.push(b'[');
        Ok(Seq {
            out: self.out,
            first: true,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq<'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Seq<'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(not_allowed("a tuple variant"))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Obj<'a>, Error> {
        Ok(Obj::new(self.out, len))
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Obj<'a>, Error> {
        Ok(Obj::new(self.out, Some(len)))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(not_allowed("a struct variant"))
    }
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        value.serialize(Canon { out: self.out })
    }
    fn end(self) -> Result<(), Error> {
        self.out.push(b']');
        Ok(())
    }
}

impl ser::SerializeTuple for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeMap for Obj<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.pending_key = Some(key.serialize(KeyString)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .pending_key
            .take()
            .ok_or_else(|| Error::Canonical("a map value came without its key".into()))?;
        self.begin_entry(key);
        value.serialize(Canon { out: self.out })?;
        self.end_entry();
        Ok(())
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStruct for Obj<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.begin_entry(key.to_string());
        value.serialize(Canon { out: self.out })?;
        self.end_entry();
        Ok(())
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// Object keys: strings only.
struct KeyString;

macro_rules! key_not_string {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method(self, _: $ty) -> Result<String, Error> {
            Err(not_allowed("an object key that is not a string"))
        })*
    };
}

impl ser::Serializer for KeyString {
    type Ok = String;
    type Error = Error;
    type SerializeSeq = Impossible<String, Error>;
    type SerializeTuple = Impossible<String, Error>;
    type SerializeTupleStruct = Impossible<String, Error>;
    type SerializeTupleVariant = Impossible<String, Error>;
    type SerializeMap = Impossible<String, Error>;
    type SerializeStruct = Impossible<String, Error>;
    type SerializeStructVariant = Impossible<String, Error>;

    fn serialize_str(self, v: &str) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_char(self, v: char) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<String, Error> {
        value.serialize(self)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        v: &'static str,
    ) -> Result<String, Error> {
        Ok(v.to_string())
    }
    key_not_string!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16,
        serialize_i32: i32, serialize_i64: i64, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_f32: f32, serialize_f64: f64,
        serialize_bytes: &[u8], serialize_unit_struct: &'static str);
    fn serialize_none(self) -> Result<String, Error> {
        Err(not_allowed("an object key that is not a string"))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<String, Error> {
        Err(not_allowed("an object key that is not a string"))
    }
    fn serialize_unit(self) -> Result<String, Error> {
        Err(not_allowed("an object key that is not a string"))
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, Error> {
        Err(not_allowed("an object key that is not a string"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(not_allowed("an object key that is not a string"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(not_allowed("an object key that is not a string"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(not_allowed("an object key that is not a string"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(not_allowed("an object key that is not a string"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(not_allowed("an object key that is not a string"))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Err(not_allowed("an object key that is not a string"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(not_allowed("an object key that is not a string"))
    }
}
