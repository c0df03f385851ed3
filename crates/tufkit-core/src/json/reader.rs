//! A small strict JSON reader that builds a [`Node`] tree borrowing strings from the input
//! (only strings with escapes are copied). Objects are stored with their keys sorted, and a
//! repeated key is an error: a document whose meaning depends on which duplicate a parser
//! keeps is never trusted.

use std::borrow::Cow;
use std::ops::Range;

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

/// How the bytes of the `signed` value relate to its canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedForm {
    /// The bytes are canonical as received: signatures cover exactly this span.
    Canonical,
    /// Keys are in canonical order; only whitespace, escapes or `-0` differ, so a lexical
    /// pass over the span gives the canonical bytes.
    Compactable,
    /// Some object has its keys out of canonical order: the canonical bytes need a tree.
    Unsorted,
}

/// One entry of an indexed object (see [`parse_document`]): where its key and value are
/// in the document. The value was checked to be well-formed JSON but not built.
#[derive(Debug, Clone)]
pub struct RawEntry {
    /// The key's bytes between its quotes, as received.
    pub key: Range<usize>,
    /// The decoded key when the received key has escapes.
    pub decoded: Option<Box<str>>,
    /// The value's bytes.
    pub value: Range<usize>,
}

impl RawEntry {
    /// The decoded key.
    pub fn key_str<'t>(&'t self, text: &'t str) -> &'t str {
        match &self.decoded {
            Some(k) => k,
            None => text.get(self.key.clone()).unwrap_or(""),
        }
    }
}

/// A parsed metadata document: the tree, where `signed` is, and the optional index.
#[derive(Debug)]
pub struct Document<'a> {
    /// The value tree (an indexed object appears in it as an empty object).
    pub root: Node<'a>,
    /// The byte span of the top-level `signed` value and its relation to canonical form.
    pub signed: Option<(Range<usize>, SignedForm)>,
    /// The entries of the indexed object `signed.<field>`, sorted by decoded key.
    pub index: Option<Vec<RawEntry>>,
    /// The elements of `signed.delegations.roles` in order, when indexed; `key` is the
    /// element's `name` (an empty range and no decoded name when it has none).
    pub roles: Option<Vec<RawEntry>>,
}

/// Where a captured string value is: its raw range and, when escaped, its decoded form.
type Captured = (Range<usize>, Option<Box<str>>);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Top,
    Signed,
    Delegations,
    Plain,
}

/// What [`parse_document`] indexes instead of building.
#[derive(Debug, Clone, Copy, Default)]
pub struct IndexSpec {
    /// An object field of `signed` whose entries become [`Document::index`].
    pub map: Option<&'static str>,
    /// Index the array `signed.delegations.roles` into [`Document::roles`], each element
    /// keyed by its `name`.
    pub delegated_roles: bool,
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Non-canonical spellings seen so far (whitespace, escapes, `-0`).
    dirty: usize,
    /// Objects seen so far whose keys were not in canonical order.
    unsorted: usize,
    spec: IndexSpec,
    index: Option<Vec<RawEntry>>,
    roles: Option<Vec<RawEntry>>,
    signed: Option<(Range<usize>, SignedForm)>,
}

fn err(msg: impl Into<String>) -> Error {
    Error::Canonical(msg.into())
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl<'a> Reader<'a> {
    fn from_str(text: &'a str, spec: IndexSpec) -> Reader<'a> {
        Reader {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            dirty: 0,
            unsorted: 0,
            spec,
            index: None,
            roles: None,
            signed: None,
        }
    }

    fn skip_ws(&mut self) {
        let start = self.pos;
        while let Some(&b) = self.bytes.get(self.pos) {
            if !is_ws(b) {
                break;
            }
            self.pos += 1;
        }
        if self.pos != start {
            self.dirty += 1;
        }
    }

    fn fail<T>(&self, what: &str) -> Result<T, Error> {
        Err(err(format!("invalid JSON at byte {}: {what}", self.pos)))
    }

    fn value(&mut self, depth: usize, ctx: Ctx) -> Result<Node<'a>, Error> {
        if depth > MAX_DEPTH {
            return self.fail("nested too deeply");
        }
        self.skip_ws();
        match self.bytes.get(self.pos) {
            Some(b'{') => self.object(depth, ctx),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Node::Str(self.string()?)),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number().map(Node::Integer),
            Some(_) => self.fail("unexpected character"),
            None => self.fail("unexpected end of input"),
        }
    }

    /// Checks a value without building it (the entries of an indexed object).
    fn skip_value(&mut self, depth: usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return self.fail("nested too deeply");
        }
        self.skip_ws();
        match self.bytes.get(self.pos) {
            Some(b'{') => self.skip_object(depth, None).map(drop),
            Some(b'[') => {
                self.pos += 1;
                self.skip_ws();
                if self.bytes.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    if !self.next_entry(b']')? {
                        return Ok(());
                    }
                }
            }
            Some(b'"') => self.string().map(drop),
            Some(b't') => self.literal(b"true").map(drop),
            Some(b'f') => self.literal(b"false").map(drop),
            Some(b'n') => self.literal(b"null").map(drop),
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            Some(_) => self.fail("unexpected character"),
            None => self.fail("unexpected end of input"),
        }
    }

    /// Skips an object, checking its keys are unique. Keys in canonical order need no
    /// memory; otherwise the keys are collected once more and compared. With `capture`,
    /// returns where the string value of that key is (and its decoded form if escaped).
    fn skip_object(
        &mut self,
        depth: usize,
        capture: Option<&str>,
    ) -> Result<Option<Captured>, Error> {
        let start = self.pos;
        self.pos += 1;
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(None);
        }
        let mut prev: Option<Cow<'a, str>> = None;
        let mut sorted = true;
        let mut captured = None;
        loop {
            let key = self.key()?;
            let wanted = capture == Some(key.as_ref()) && self.bytes.get(self.pos) == Some(&b'"');
            if sorted {
                if let Some(p) = &prev {
                    if p.as_bytes() >= key.as_bytes() {
                        sorted = false;
                    }
                }
                prev = Some(key);
            }
            if wanted {
                let value_start = self.pos + 1;
                let value = self.string()?;
                let range = value_start..self.pos - 1;
                captured = Some(match value {
                    Cow::Borrowed(_) => (range, None),
                    Cow::Owned(v) => (range, Some(v.into_boxed_str())),
                });
            } else {
                self.skip_value(depth + 1)?;
            }
            if !self.next_entry(b'}')? {
                break;
            }
        }
        if !sorted {
            self.unsorted += 1;
            let end = self.pos;
            self.pos = start + 1;
            let mut keys = Vec::new();
            loop {
                keys.push(self.key()?);
                self.skip_value(depth + 1)?;
                self.skip_ws();
                if self.bytes.get(self.pos) == Some(&b'}') {
                    break;
                }
                self.pos += 1;
            }
            self.pos = end;
            keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
                return Err(err(format!("object has the key {:?} twice", w[0])));
            }
        }
        Ok(captured)
    }

    /// Reads the array `signed.delegations.roles` into [`RawEntry`]s in order, each keyed
    /// by the element's `name`; elements are checked but not built.
    fn index_roles(&mut self, depth: usize) -> Result<Vec<RawEntry>, Error> {
        if depth > MAX_DEPTH {
            return self.fail("nested too deeply");
        }
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(items);
        }
        loop {
            self.skip_ws();
            let start = self.pos;
            let name = if self.bytes.get(self.pos) == Some(&b'{') {
                self.skip_object(depth + 1, Some("name"))?
            } else {
                self.skip_value(depth + 1)?;
                None
            };
            let (key, decoded) = name.unwrap_or((0..0, None));
            items.push(RawEntry {
                key,
                decoded,
                value: start..self.pos,
            });
            if !self.next_entry(b']')? {
                return Ok(items);
            }
        }
    }

    /// After a value in an object or array: consumes `,` (true: another entry follows) or
    /// `close` (false: the container ends).
    fn next_entry(&mut self, close: u8) -> Result<bool, Error> {
        self.skip_ws();
        match self.bytes.get(self.pos) {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(&b) if b == close => {
                self.pos += 1;
                Ok(false)
            }
            _ if close == b'}' => self.fail("expected ',' or '}'"),
            _ => self.fail("expected ',' or ']'"),
        }
    }

    /// Reads `"key":` and leaves the position at the value (whitespace skipped).
    fn key(&mut self) -> Result<Cow<'a, str>, Error> {
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
        self.skip_ws();
        Ok(key)
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<Node<'a>, Error> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(Node::Literal(word))
        } else {
            self.fail("unknown literal")
        }
    }

    fn number(&mut self) -> Result<i128, Error> {
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
        if n > 20 {
            return Err(err("integer out of range"));
        }
        let mut v: i128 = 0;
        for &d in &self.bytes[digits..self.pos] {
            v = v * 10 + i128::from(d - b'0');
        }
        if digits != start {
            if v == 0 {
                self.dirty += 1; // `-0` is written `0`
            }
            v = -v;
        }
        if v > u64::MAX as i128 || v < i64::MIN as i128 {
            return Err(err("integer out of range"));
        }
        Ok(v)
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let Some(h) = self.text.get(self.pos..self.pos + 4) else {
            return self.fail("truncated \\u escape");
        };
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return self.fail("bad \\u escape");
        }
        let v = u32::from_str_radix(h, 16).or_else(|_| self.fail("bad \\u escape"))?;
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<Cow<'a, str>, Error> {
        self.pos += 1; // opening quote
        let start = self.pos;
        // Fast path: no escapes.
        let stop = find_string_stop(self.bytes, start);
        match stop.map(|i| (i, self.bytes[i])) {
            Some((i, b'"')) => {
                self.pos = i + 1;
                return Ok(Cow::Borrowed(&self.text[start..i]));
            }
            Some((i, b'\\')) => self.pos = i,
            Some((i, _)) => {
                self.pos = i;
                return self.fail("control character in string");
            }
            None => {
                self.pos = self.bytes.len();
                return self.fail("unterminated string");
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
                    if e != b'"' && e != b'\\' {
                        // Canonical JSON escapes only `"` and `\`.
                        self.dirty += 1;
                    }
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
            items.push(self.value(depth + 1, Ctx::Plain)?);
            if !self.next_entry(b']')? {
                return Ok(Node::Array(items));
            }
        }
    }

    fn object(&mut self, depth: usize, ctx: Ctx) -> Result<Node<'a>, Error> {
        self.pos += 1;
        let mut entries: Vec<(Cow<'a, str>, Node<'a>)> = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Node::Object(entries));
        }
        let mut sorted = true;
        loop {
            let key = self.key()?;
            if let Some((prev, _)) = entries.last() {
                if prev.as_bytes() >= key.as_bytes() {
                    sorted = false;
                }
            }
            let value = if ctx == Ctx::Top && key == "signed" {
                let (start, dirty, unsorted) = (self.pos, self.dirty, self.unsorted);
                let value = self.value(depth + 1, Ctx::Signed)?;
                let form = if self.unsorted != unsorted {
                    SignedForm::Unsorted
                } else if self.dirty != dirty {
                    SignedForm::Compactable
                } else {
                    SignedForm::Canonical
                };
                self.signed = Some((start..self.pos, form));
                value
            } else if ctx == Ctx::Signed
                && self.spec.map == Some(key.as_ref())
                && self.bytes.get(self.pos) == Some(&b'{')
                && self.index.is_none()
            {
                let index = self.index_object(depth + 1)?;
                self.index = Some(index);
                Node::Object(Vec::new())
            } else if ctx == Ctx::Signed && key == "delegations" {
                self.value(depth + 1, Ctx::Delegations)?
            } else if ctx == Ctx::Delegations
                && self.spec.delegated_roles
                && key == "roles"
                && self.bytes.get(self.pos) == Some(&b'[')
                && self.roles.is_none()
            {
                let roles = self.index_roles(depth + 1)?;
                self.roles = Some(roles);
                Node::Array(Vec::new())
            } else {
                self.value(depth + 1, Ctx::Plain)?
            };
            entries.push((key, value));
            if !self.next_entry(b'}')? {
                break;
            }
        }
        if !sorted {
            self.unsorted += 1;
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(err(format!("object has the key {:?} twice", w[0].0)));
            }
        }
        Ok(Node::Object(entries))
    }

    /// Reads an object into [`RawEntry`]s: keys kept as spans, values checked but not built.
    fn index_object(&mut self, depth: usize) -> Result<Vec<RawEntry>, Error> {
        if depth > MAX_DEPTH {
            return self.fail("nested too deeply");
        }
        self.pos += 1;
        let mut entries: Vec<RawEntry> = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(entries);
        }
        let mut sorted = true;
        loop {
            self.skip_ws();
            let key_start = self.pos + 1;
            let key = self.key()?;
            let key_end = self.text[..self.pos]
                .rfind('"')
                .unwrap_or(key_start)
                .max(key_start);
            if let Some(prev) = entries.last() {
                if prev.key_str(self.text).as_bytes() >= key.as_bytes() {
                    sorted = false;
                }
            }
            let decoded = match key {
                Cow::Borrowed(_) => None,
                Cow::Owned(k) => Some(k.into_boxed_str()),
            };
            let value_start = self.pos;
            self.skip_value(depth + 1)?;
            entries.push(RawEntry {
                key: key_start..key_end,
                decoded,
                value: value_start..self.pos,
            });
            if !self.next_entry(b'}')? {
                break;
            }
        }
        if !sorted {
            self.unsorted += 1;
            let text = self.text;
            entries.sort_unstable_by(|a, b| {
                a.key_str(text).as_bytes().cmp(b.key_str(text).as_bytes())
            });
            if let Some(w) = entries
                .windows(2)
                .find(|w| w[0].key_str(text) == w[1].key_str(text))
            {
                return Err(err(format!(
                    "object has the key {:?} twice",
                    w[0].key_str(text)
                )));
            }
        }
        Ok(entries)
    }

    /// Writes the canonical form of the well-formed span `range`, whose object keys are
    /// already in canonical order: whitespace dropped, strings and integers re-encoded.
    fn write_compact(&mut self, range: Range<usize>, out: &mut Vec<u8>) -> Result<(), Error> {
        self.pos = range.start;
        while self.pos < range.end {
            let b = self.bytes[self.pos];
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => self.pos += 1,
                b'{' | b'}' | b'[' | b']' | b',' | b':' => {
                    out.push(b);
                    self.pos += 1;
                }
                b'"' => {
                    // A string without escapes is already canonical: copy it.
                    let from = self.pos;
                    match find_string_stop(self.bytes, from + 1) {
                        Some(end) if self.bytes[end] == b'"' => {
                            out.extend_from_slice(&self.bytes[from..=end]);
                            self.pos = end + 1;
                        }
                        _ => {
                            let s = self.string()?;
                            crate::canonical::write_string(&s, out);
                        }
                    }
                }
                b'0'..=b'9' => {
                    // A non-negative integer is canonical as written (no leading zeros).
                    let from = self.pos;
                    while let Some(b'0'..=b'9') = self.bytes.get(self.pos) {
                        self.pos += 1;
                    }
                    out.extend_from_slice(&self.bytes[from..self.pos]);
                }
                b'-' => {
                    let v = self.number()?;
                    out.extend_from_slice(v.to_string().as_bytes());
                }
                b't' => out.extend_from_slice(self.literal_bytes(b"true")?),
                b'f' => out.extend_from_slice(self.literal_bytes(b"false")?),
                b'n' => out.extend_from_slice(self.literal_bytes(b"null")?),
                _ => return self.fail("unexpected character"),
            }
        }
        Ok(())
    }

    fn literal_bytes(&mut self, word: &'static [u8]) -> Result<&'static [u8], Error> {
        self.literal(word).map(|_| word)
    }
}

/// The first position at or after `from` holding `"`, `\\` or a control character: eight
/// bytes at a time, then byte by byte in the chunk that has one.
fn find_string_stop(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    fn has_zero(x: u64) -> bool {
        x.wrapping_sub(ONES) & !x & HIGH != 0
    }
    let rest = bytes.get(from..)?;
    let mut chunks = rest.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        // A byte below 0x20, or equal to `"` or `\\` (equal: the XOR makes it zero).
        let below = x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0;
        if below
            || has_zero(x ^ (ONES * u64::from(b'"')))
            || has_zero(x ^ (ONES * u64::from(b'\\')))
        {
            break;
        }
        offset += 8;
    }
    rest[offset..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| from + offset + i)
}

/// Reads the object in `range` of `text` (a well-formed object, e.g. an entry
/// [`parse_document`] indexed) and builds only the values of the keys in `wanted`, in that
/// order; other values are skipped without being built.
pub fn object_fields<'a, const N: usize>(
    text: &'a str,
    range: Range<usize>,
    wanted: [&str; N],
) -> Result<[Option<Node<'a>>; N], Error> {
    let Some(slice) = text.get(range) else {
        return Err(err("object_fields: range outside the document"));
    };
    let mut reader = Reader::from_str(slice, IndexSpec::default());
    let mut out: [Option<Node<'a>>; N] = std::array::from_fn(|_| None);
    reader.skip_ws();
    if reader.bytes.get(reader.pos) != Some(&b'{') {
        return reader.fail("expected an object");
    }
    reader.pos += 1;
    reader.skip_ws();
    if reader.bytes.get(reader.pos) == Some(&b'}') {
        return Ok(out);
    }
    loop {
        let key = reader.key()?;
        match wanted.iter().position(|w| *w == key) {
            Some(i) => out[i] = Some(reader.value(1, Ctx::Plain)?),
            None => reader.skip_value(1)?,
        }
        if !reader.next_entry(b'}')? {
            return Ok(out);
        }
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
    parse_document(bytes, IndexSpec::default()).map(|d| d.root)
}

/// Parses a metadata document, noting where the top-level `signed` value is and whether
/// its bytes are canonical as received. What `spec` names is not built: its entries are
/// checked and returned as spans in [`Document::index`] (a targets role's `targets`, a
/// snapshot's `meta`) and [`Document::roles`] (`delegations.roles`).
pub fn parse_document(bytes: &[u8], spec: IndexSpec) -> Result<Document<'_>, Error> {
    let text = std::str::from_utf8(bytes).map_err(|e| err(format!("not UTF-8: {e}")))?;
    parse_document_str(text, spec)
}

/// [`parse_document`] for text already known to be UTF-8.
pub fn parse_document_str(text: &str, spec: IndexSpec) -> Result<Document<'_>, Error> {
    let bytes = text.as_bytes();
    let mut reader = Reader::from_str(text, spec);
    let root = reader.value(0, Ctx::Top)?;
    reader.skip_ws();
    if reader.pos != bytes.len() {
        return reader.fail("trailing characters after the document");
    }
    Ok(Document {
        root,
        signed: reader.signed,
        index: reader.index,
        roles: reader.roles,
    })
}

/// The canonical bytes of the `signed` value of `doc`, which [`parse_document_str`] read
/// from `text`: the received span itself when it is canonical, else re-encoded.
pub fn canonical_signed<'b>(text: &'b str, doc: &Document<'_>) -> Result<Cow<'b, [u8]>, Error> {
    let Some((range, form)) = doc.signed.clone() else {
        return Err(err("the document has no signed value"));
    };
    let bytes = text.as_bytes();
    match form {
        SignedForm::Canonical => Ok(Cow::Borrowed(&bytes[range])),
        SignedForm::Compactable => {
            let mut out = Vec::with_capacity(range.len());
            Reader::from_str(text, IndexSpec::default()).write_compact(range, &mut out)?;
            Ok(Cow::Owned(out))
        }
        SignedForm::Unsorted => {
            // Keys out of order somewhere: sort them through a full tree (rare; python-tuf
            // and tufkit write sorted keys).
            let tree = parse_document_str(text, IndexSpec::default())?.root;
            let signed = tree
                .get("signed")
                .ok_or_else(|| err("the document has no signed value"))?;
            let mut out = Vec::with_capacity(range.len());
            signed.write_canonical(&mut out);
            Ok(Cow::Owned(out))
        }
    }
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

    fn form(doc: &str) -> SignedForm {
        parse_document(doc.as_bytes(), IndexSpec::default())
            .unwrap()
            .signed
            .unwrap()
            .1
    }

    #[test]
    fn tells_how_far_the_signed_bytes_are_from_canonical() {
        assert_eq!(
            form(r#"{"signed":{"a":[1,"x"],"b":{}}, "signatures": []}"#),
            SignedForm::Canonical
        );
        assert_eq!(form(r#"{"signed":{"a":"q\"b\\"}}"#), SignedForm::Canonical);
        assert_eq!(form(r#"{"signed":{"a": 1}}"#), SignedForm::Compactable);
        assert_eq!(
            form(r#"{"signed":{"a":"\u00e9"}}"#),
            SignedForm::Compactable
        );
        assert_eq!(form(r#"{"signed":{"a":"\/"}}"#), SignedForm::Compactable);
        assert_eq!(form(r#"{"signed":{"a":-0}}"#), SignedForm::Compactable);
        assert_eq!(form(r#"{"signed":{"b":1,"a":2}}"#), SignedForm::Unsorted);
        assert_eq!(
            form(r#"{"signed":{"a":[{"d":1,"c":2}]}}"#),
            SignedForm::Unsorted
        );
        // Whitespace around `signed` is outside its span.
        assert_eq!(
            form("{ \"signed\" :\n {\"a\":1} \n}"),
            SignedForm::Canonical
        );
    }

    #[test]
    fn canonical_bytes_are_the_same_from_every_form() {
        for doc in [
            r#"{"signed":{"a":[1,-2,{"b":null,"c":true}],"d":"\u00e9\n\/"}}"#,
            "{\"signed\": {\n  \"z\": [ 0 , -3 ],\n  \"a\": \"caf\u{e9}\" }, \"signatures\": []}",
            r#"{"signatures":[],"signed":{"k":{"y":1,"x":{"q":"\"","p":"\\"}}}}"#,
        ] {
            for map in [None, Some("k"), Some("z")] {
                let spec = IndexSpec {
                    map,
                    delegated_roles: true,
                };
                let d = parse_document(doc.as_bytes(), spec).unwrap();
                let got = canonical_signed(doc, &d).unwrap();
                assert_eq!(got.as_ref(), via_value(doc).as_slice(), "{doc} {map:?}");
            }
        }
        // serde_json reads `-0` as a float; as an integer it is `0` (as in python-tuf).
        let doc = r#"{"signed": {"a": -0}}"#;
        let d = parse_document_str(doc, IndexSpec::default()).unwrap();
        assert_eq!(canonical_signed(doc, &d).unwrap().as_ref(), br#"{"a":0}"#);
    }

    fn map_spec() -> IndexSpec {
        IndexSpec {
            map: Some("m"),
            delegated_roles: false,
        }
    }

    fn index(doc: &str) -> Result<Vec<(String, String)>, Error> {
        let d = parse_document(doc.as_bytes(), map_spec())?;
        let entries = d.index.ok_or_else(|| err("no index"))?;
        Ok(entries
            .iter()
            .map(|e| (e.key_str(doc).to_string(), doc[e.value.clone()].to_string()))
            .collect())
    }

    #[test]
    fn indexes_an_object_without_building_it() {
        let got =
            index(r#"{"signed":{"m":{"b":{"x":[1,2]},"a\u00e9":"s","c":-0},"n":1}}"#).unwrap();
        let want = [("a\u{e9}", "\"s\""), ("b", "{\"x\":[1,2]}"), ("c", "-0")];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);
        // The indexed object is empty in the tree; other fields are built.
        let d = parse_document(br#"{"signed":{"m":{"a":1},"n":1}}"#, map_spec()).unwrap();
        let signed = d.root.get("signed").unwrap();
        assert!(matches!(signed.get("m"), Some(Node::Object(e)) if e.is_empty()));
        assert!(matches!(signed.get("n"), Some(Node::Integer(1))));
        // Only `signed.m` is indexed, not an `m` elsewhere.
        let d =
            parse_document(br#"{"m":{"a":1},"signed":{"x":{"m":{"b":2}}}}"#, map_spec()).unwrap();
        assert!(d.index.is_none());
    }

    #[test]
    fn indexed_entries_are_checked_like_the_rest() {
        for doc in [
            r#"{"signed":{"m":{"a":1,"a":2}}}"#,
            r#"{"signed":{"m":{"a":1,"\u0061":2}}}"#,
            r#"{"signed":{"m":{"a":{"x":1,"x":2}}}}"#,
            r#"{"signed":{"m":{"a":{"y":1,"x":2,"y":3}}}}"#,
            r#"{"signed":{"m":{"a":[{"k":1,"k":1}]}}}"#,
            r#"{"signed":{"m":{"a":1.5}}}"#,
            r#"{"signed":{"m":{"a":"\ud800"}}}"#,
            r#"{"signed":{"m":{"a":tru}}}"#,
            r#"{"signed":{"m":{"a":[1,]}}}"#,
            r#"{"signed":{"m":{"a":{"b":}}}}"#,
            r#"{"signed":{"m":{"a":1}"#,
        ] {
            assert!(index(doc).is_err(), "{doc}");
        }
        let deep = format!(
            r#"{{"signed":{{"m":{{"a":{}{}}}}}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(index(&deep).is_err());
        // Unsorted but unique keys in a skipped value are fine.
        assert!(index(r#"{"signed":{"m":{"a":{"y":1,"x":2}}}}"#).is_ok());
    }

    #[test]
    fn string_stop_search_agrees_with_a_byte_by_byte_search() {
        let naive = |b: &[u8], from: usize| {
            b[from..]
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .map(|i| from + i)
        };
        let alphabet = [
            b'a', b'"', b'\\', 0x1f, 0x20, 0x21, 0x5b, 0x5d, 0x80, 0xff, 0x00, b'~',
        ];
        let mut seed = 0x2545_f491_u32;
        for len in 0..40 {
            for _ in 0..200 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 17;
                        seed ^= seed << 5;
                        // Mostly plain bytes, so stops land at every offset of a chunk.
                        if seed % 7 == 0 {
                            alphabet[(seed >> 8) as usize % alphabet.len()]
                        } else {
                            b'a' + (seed >> 8) as u8 % 26
                        }
                    })
                    .collect();
                for from in 0..=len {
                    assert_eq!(
                        find_string_stop(&bytes, from),
                        naive(&bytes, from),
                        "{bytes:?} {from}"
                    );
                }
            }
        }
    }

    #[test]
    fn object_fields_builds_only_what_is_asked() {
        let doc = r#"{"b": [1, {"x": 2}], "a": "s", "c": {"d": true}}"#;
        let [c, a, z] = object_fields(doc, 0..doc.len(), ["c", "a", "z"]).unwrap();
        assert!(matches!(c, Some(Node::Object(ref e)) if e.len() == 1));
        assert_eq!(a.as_ref().and_then(|n| n.as_str()), Some("s"));
        assert!(z.is_none());
        assert!(object_fields("[1]", 0..3, ["a"]).is_err());
        assert!(object_fields("{}", 0..9, ["a"]).is_err());
    }
}
