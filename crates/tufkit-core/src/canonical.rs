//! Canonical JSON as TUF signs it (the securesystemslib flavour of OLPC canonical JSON).
//!
//! Rules: object keys sorted by their UTF-8 bytes (the same as code point order), no
//! insignificant whitespace, integers only, and inside strings only `"` and `\` are
//! escaped; every other character, control characters and non-ASCII included, is written
//! as its raw UTF-8 bytes. Strings are *not* Unicode-normalised: python-tuf signs the
//! bytes as they are, so normalising (as `olpc-cjson` does, to NFC) would change what a
//! signature covers. See `docs/adr/0004-own-canonical-encoder.md`.

use serde_json::Value;

use crate::error::Error;

/// Encodes `value` as canonical JSON bytes.
///
/// Fails on floating-point numbers, which canonical JSON does not allow.
pub fn to_canonical(value: &Value) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out)?;
    Ok(out)
}

/// Appends the canonical JSON encoding of `value` to `out`.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), Error> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(i) = n.as_u64() {
                out.extend_from_slice(i.to_string().as_bytes());
            } else if let Some(i) = n.as_i64() {
                out.extend_from_slice(i.to_string().as_bytes());
            } else {
                return Err(Error::Canonical(format!(
                    "the number {n} is not an integer; canonical JSON allows integers only"
                )));
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // Sort explicitly: serde_json's map may keep insertion order when another
            // crate in the build enables its `preserve_order` feature.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write_canonical(v, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// Encodes `value` as tufkit publishes metadata: the canonical form laid out for people.
///
/// Keys are sorted and strings written as canonical JSON writes them, so the canonical
/// bytes differ from this only by whitespace (and by escaped control characters, which
/// canonical JSON writes raw but a JSON file cannot): a client gets the signed bytes with
/// a lexical pass instead of a sort (ADR 0007). Two-space indentation, `": "` between key
/// and value.
pub fn to_pretty(value: &Value) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(256);
    write_pretty(value, 0, &mut out)?;
    Ok(out)
}

fn newline(depth: usize, out: &mut Vec<u8>) {
    out.push(b'\n');
    out.resize(out.len() + 2 * depth, b' ');
}

fn write_pretty(value: &Value, depth: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    match value {
        Value::String(s) => write_json_string(s, out),
        Value::Array(items) if !items.is_empty() => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                newline(depth + 1, out);
                write_pretty(item, depth + 1, out)?;
            }
            newline(depth, out);
            out.push(b']');
        }
        Value::Object(map) if !map.is_empty() => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                newline(depth + 1, out);
                write_json_string(k, out);
                out.extend_from_slice(b": ");
                write_pretty(v, depth + 1, out)?;
            }
            newline(depth, out);
            out.push(b'}');
        }
        other => write_canonical(other, out)?,
    }
    Ok(())
}

/// Like [`write_string`], but control characters are escaped so the result is valid JSON.
fn write_json_string(s: &str, out: &mut Vec<u8>) {
    if !s.bytes().any(|b| b < 0x20) {
        return write_string(s, out);
    }
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\r' => out.extend_from_slice(b"\\r"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// Appends `s` as a canonical JSON string (only `"` and `\\` escaped).
pub(crate) fn write_string(s: &str, out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'"' || b == b'\\' {
            out.extend_from_slice(&bytes[start..i]);
            out.push(b'\\');
            out.push(b);
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(v: Value) -> String {
        String::from_utf8(to_canonical(&v).unwrap()).unwrap()
    }

    #[test]
    fn sorts_keys_and_drops_whitespace() {
        assert_eq!(
            canon(json!({"b": [1, 2, {"z": null, "a": true}], "a": "x"})),
            r#"{"a":"x","b":[1,2,{"a":true,"z":null}]}"#
        );
    }

    #[test]
    fn escapes_only_quote_and_backslash() {
        let v = json!({"k": "a\"b\\c\n\u{1}é\u{2028}"});
        assert_eq!(canon(v), "{\"k\":\"a\\\"b\\\\c\n\u{1}é\u{2028}\"}");
    }

    #[test]
    fn keys_sort_by_code_point_not_by_utf16() {
        // U+FF61 sorts before U+1F600 by code point; UTF-16 ordering would swap them.
        let v = json!({"\u{1F600}": 1, "\u{FF61}": 2, "Z": 3, "a": 4});
        assert_eq!(canon(v), "{\"Z\":3,\"a\":4,\"\u{FF61}\":2,\"\u{1F600}\":1}");
    }

    #[test]
    fn keeps_non_nfc_strings_as_they_are() {
        let decomposed = "e\u{301}";
        let out = to_canonical(&json!(decomposed)).unwrap();
        assert_eq!(out, format!("\"{decomposed}\"").into_bytes());
    }

    #[test]
    fn rejects_floats_and_accepts_negative_integers() {
        assert!(to_canonical(&json!(1.5)).is_err());
        assert_eq!(canon(json!(-3)), "-3");
        assert_eq!(canon(json!(u64::MAX)), u64::MAX.to_string());
    }

    #[test]
    fn agrees_with_olpc_cjson_on_nfc_input() {
        use serde::Serialize;
        let v = json!({"signed": {"_type": "targets", "n": [1, -2, 3], "s": "caf\u{e9} \"q\" \\"},
                        "empty": {}, "arr": []});
        let mut buf = Vec::new();
        let mut ser =
            serde_json::Serializer::with_formatter(&mut buf, olpc_cjson::CanonicalFormatter::new());
        v.serialize(&mut ser).unwrap();
        assert_eq!(to_canonical(&v).unwrap(), buf);
    }

    #[test]
    fn pretty_form_is_canonical_but_for_layout() {
        let v = json!({"b": [1, {"z": null, "a": "q\"\\\n\u{1}\u{e9}"}], "a": {}, "c": []});
        let pretty = to_pretty(&v).unwrap();
        let text = String::from_utf8(pretty.clone()).unwrap();
        assert!(
            text.starts_with("{\n  \"a\": {},\n  \"b\": [\n    1,"),
            "{text}"
        );
        // Valid JSON with the same value, and the same canonical bytes once read back.
        let back: Value = serde_json::from_slice(&pretty).unwrap();
        assert_eq!(back, v);
        let doc = format!("{{\"signed\": {text}}}");
        let d =
            crate::json::parse_document(doc.as_bytes(), crate::json::IndexSpec::default()).unwrap();
        assert_eq!(
            d.signed.as_ref().unwrap().1,
            crate::json::SignedForm::Compactable
        );
        let canonical = crate::json::canonical_signed(doc.as_bytes(), &d).unwrap();
        assert_eq!(canonical.as_ref(), to_canonical(&v).unwrap().as_slice());
    }
}
