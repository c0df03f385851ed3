//! A small strict JSON reader that builds a [`Node`] tree borrowing strings from the input
//! (only strings with escapes are copied). Objects are stored with their keys sorted, and a
//! repeated key is an error: a document whose meaning depends on which duplicate a parser
//! keeps is never trusted.

use std::borrow::Cow;

use crate::error::Error;

const MAX_DEPTH: usize = 128;

/// One JSON value, borrowing from the document where it can.
#[derive(Debug)]
pub enum Node<'a> {
    /// `true`, `false` or `null`, as its bytes.
    Literal(&'static [u8]),
    /// An integer (within the u64/i64 range).
    Integer(i128),
    /// A string, decoded.
    Str(Cow<'a, str>),
    /// An array.
    Array(Vec<Node<'a>>),
    /// An object, entries sorted by key bytes, keys unique.
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    /// The value of `key` if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        match self {
            Node::Object(entries) => entries
                .binary_search_by(|(k, _)| k.as_bytes().cmp(key.as_bytes()))
                .ok()
                .map(|i| &entries[i].1),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Appends the canonical JSON encoding of this value (see [`crate::canonical`]).
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        write(self, out)
    }
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

fn err(msg: impl Into<String>) -> Error {
    Error::Canonical(msg.into())
}

impl<'a> Reader<'a> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn fail<T>(&self, what: &str) -> Result<T, Error> {
        Err(err(format!("invalid JSON at byte {}: {what}", self.pos)))
    }

    fn value(&mut self, depth: usize) -> Result<Node<'a>, Error> {
        if depth > MAX_DEPTH {
            return self.fail("nested too deeply");
        }
        self.skip_ws();
        match self.bytes.get(self.pos) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Node::Str(self.string()?)),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.fail("unexpected character"),
            None => self.fail("unexpected end of input"),
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<Node<'a>, Error> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(Node::Literal(word))
        } else {
            self.fail("unknown literal")
        }
    }

    fn number(&mut self) -> Result<Node<'a>, Error> {
        let start = self.pos;
        if self.bytes[self.pos] == b'-' {
            self.pos += 1;
        }
        let digits = self.pos;
        while let Some(b'0'..=b'9') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
        let n = self.pos - digits;
        if n == 0 || (n > 1 && self.bytes[digits] == b'0') {
            return self.fail("malformed number");
        }
        if let Some(b'.' | b'e' | b'E') = self.bytes.get(self.pos) {
            return Err(err(
                "canonical JSON allows integers only, found a fraction or exponent",
            ));
        }
        let v: i128 = self.text[start..self.pos]
            .parse()
            .map_err(|_| err("integer out of range"))?;
        if v > u64::MAX as i128 || v < i64::MIN as i128 {
            return Err(err("integer out of range"));
        }
        Ok(Node::Integer(v))
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let Some(h) = self.text.get(self.pos..self.pos + 4) else {
            return self.fail("truncated \\u escape");
        };
        let v = u32::from_str_radix(h, 16).or_else(|_| self.fail("bad \\u escape"))?;
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return self.fail("bad \\u escape");
        }
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<Cow<'a, str>, Error> {
        self.pos += 1; // opening quote
        let start = self.pos;
        // Fast path: no escapes.
        loop {
            match self.bytes.get(self.pos) {
                Some(b'"') => {
                    let s = &self.text[start..self.pos];
                    self.pos += 1;
                    return Ok(Cow::Borrowed(s));
                }
                Some(b'\\') => break,
                Some(&b) if b < 0x20 => return self.fail("control character in string"),
                Some(_) => self.pos += 1,
                None => return self.fail("unterminated string"),
            }
        }
        let mut out = String::from(&self.text[start..self.pos]);
        loop {
            match self.bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let Some(&e) = self.bytes.get(self.pos) else {
                        return self.fail("unterminated escape");
                    };
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                                    return self.fail("lone surrogate in \\u escape");
                                }
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return self.fail("lone surrogate in \\u escape");
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else if (0xDC00..0xE000).contains(&hi) {
                                return self.fail("lone surrogate in \\u escape");
                            } else {
                                hi
                            };
                            match char::from_u32(code) {
                                Some(c) => out.push(c),
                                None => return self.fail("invalid \\u escape"),
                            }
                        }
                        _ => return self.fail("unknown escape"),
                    }
                }
                Some(&b) if b < 0x20 => return self.fail("control character in string"),
                Some(_) => {
                    // Copy the run up to the next quote or backslash in one go.
                    let run = self.pos;
                    while let Some(&b) = self.bytes.get(self.pos) {
                        if b == b'"' || b == b'\\' || b < 0x20 {
                            break;
                        }
                        self.pos += 1;
                    }
                    out.push_str(&self.text[run..self.pos]);
                }
                None => return self.fail("unterminated string"),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Node<'a>, Error> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Node::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Node::Array(items));
                }
                _ => return self.fail("expected ',' or ']'"),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Node<'a>, Error> {
        self.pos += 1;
        let mut entries = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Node::Object(entries));
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return self.fail("expected a string key");
            }
            let key = self.string()?;
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b':') {
                return self.fail("expected ':'");
            }
            self.pos += 1;
            let value = self.value(depth + 1)?;
            entries.push((key, value));
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return self.fail("expected ',' or '}'"),
            }
        }
        entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(err(format!("object has the key {:?} twice", w[0].0)));
        }
        Ok(Node::Object(entries))
    }
}

fn write(node: &Node<'_>, out: &mut Vec<u8>) {
    match node {
        Node::Literal(w) => out.extend_from_slice(w),
        Node::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Node::Str(s) => crate::canonical::write_string(s, out),
        Node::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out);
            }
            out.push(b']');
        }
        Node::Object(entries) => {
            out.push(b'{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                crate::canonical::write_string(k, out);
                out.push(b':');
                write(v, out);
            }
            out.push(b'}');
        }
    }
}

/// Parses a whole JSON document (UTF-8, no trailing data, integers only, unique keys).
pub fn parse(bytes: &[u8]) -> Result<Node<'_>, Error> {
    let text = std::str::from_utf8(bytes).map_err(|e| err(format!("not UTF-8: {e}")))?;
    let mut reader = Reader {
        text,
        bytes,
        pos: 0,
    };
    let root = reader.value(0)?;
    reader.skip_ws();
    if reader.pos != bytes.len() {
        return reader.fail("trailing characters after the document");
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn via_value(doc: &str) -> Vec<u8> {
        let v: serde_json::Value = serde_json::from_str(doc).unwrap();
        crate::canonical::to_canonical(&v["signed"]).unwrap()
    }

    fn via_node(doc: &str) -> Result<Vec<u8>, Error> {
        let node = parse(doc.as_bytes())?;
        let signed = node.get("signed").ok_or_else(|| err("no signed"))?;
        let mut out = Vec::new();
        signed.write_canonical(&mut out);
        Ok(out)
    }

    #[test]
    fn matches_the_value_encoder() {
        for doc in [
            r#"{"signed": {"b": [1, -2, {"z": null, "a": true}], "a": "x\"y\\z\/w"}, "signatures": []}"#,
            r#"{"signatures":[],"signed":{"s":"\u00e9\u0301\ud83d\ude00\n\t\u0001","n":18446744073709551615,"m":-9223372036854775808}}"#,
            "{\"signed\": {\"raw\": \"caf\u{e9} e\u{301} \u{1F600}\", \"empty\": {}, \"arr\": []}}",
            r#"  {"signed": "just a string"}  "#,
        ] {
            assert_eq!(via_node(doc).unwrap(), via_value(doc), "{doc}");
        }
    }

    #[test]
    fn rejects_what_serde_json_rejects_and_duplicates() {
        for doc in [
            r#"{"signed": {"a": 1.5}}"#,
            r#"{"signed": {"a": 1e3}}"#,
            r#"{"signed": {"a": 01}}"#,
            r#"{"signed": {"a": "\ud800"}}"#,
            r#"{"signed": {"a": "\x"}}"#,
            "{\"signed\": {\"a\": \"\u{1}\"}}",
            r#"{"signed": {"a": 1, "a": 2}}"#,
            r#"{"signed": {"a": 1}} x"#,
            r#"{"signed": {"a": 1}"#,
            r#"{"signed": {"a": tru}}"#,
            r#"{"signed": {"a": 18446744073709551616}}"#,
            r#"[1]"#,
            r#"{"other": 1}"#,
        ] {
            assert!(via_node(doc).is_err(), "{doc}");
        }
        assert!(parse(&[b'"', 0xff, b'"']).is_err());
        let deep = format!("{{\"signed\": {}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(via_node(&deep).is_err());
    }
}
