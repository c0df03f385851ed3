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

mod ser;
pub use ser::to_canonical_bytes;

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

/// Lays out canonical JSON bytes for people: two-space indentation, `": "` between key and
/// value, control characters in strings escaped (canonical JSON writes them raw, which a
/// JSON file cannot hold). Keys stay in canonical order and strings as canonical JSON
/// writes them, so the canonical bytes differ from this only by whitespace and those
/// escapes: a client gets the signed bytes back with a lexical pass (ADR 0007).
pub fn indent_canonical(canonical: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(canonical.len() + canonical.len() / 4);
    let mut depth = 0usize;
    let mut i = 0;
    while i < canonical.len() {
        let b = canonical[i];
        match b {
            b'"' => {
                // Copy the string, escaping control characters.
                out.push(b'"');
                i += 1;
                while i < canonical.len() {
                    let c = canonical[i];
                    match c {
                        b'\\' => {
                            out.push(c);
                            if let Some(&next) = canonical.get(i + 1) {
                                out.push(next);
                            }
                            i += 2;
                            continue;
                        }
                        b'"' => break,
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b'\t' => out.extend_from_slice(b"\\t"),
                        b'\r' => out.extend_from_slice(b"\\r"),
                        c if c < 0x20 => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
                        c => out.push(c),
                    }
                    i += 1;
                }
                out.push(b'"');
            }
            b'{' | b'[' => {
                let close = if b == b'{' { b'}' } else { b']' };
                if canonical.get(i + 1) == Some(&close) {
                    out.push(b);
                    out.push(close);
                    i += 1;
                } else {
                    depth += 1;
                    out.push(b);
                    newline(depth, &mut out);
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(depth, &mut out);
                out.push(b);
            }
            b',' => {
                out.push(b',');
                newline(depth, &mut out);
            }
            b':' => out.extend_from_slice(b": "),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn newline(depth: usize, out: &mut Vec<u8>) {
    out.push(b'\n');
    out.resize(out.len() + 2 * depth, b' ');
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
        let pretty = indent_canonical(&to_canonical(&v).unwrap());
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
        let canonical = crate::json::canonical_signed(&doc, &d).unwrap();
        assert_eq!(canonical.as_ref(), to_canonical(&v).unwrap().as_slice());
    }

    #[test]
    fn serializer_agrees_with_the_value_encoder() {
        use crate::metadata::{DelegatedRole, Delegations, TargetFile, Targets};
        let mut targets = std::collections::BTreeMap::new();
        for path in ["b/\u{e9}", "a\"q\\", "c\n\u{1}", "e\u{301}", "\u{1F600}"] {
            let mut unknown = serde_json::Map::new();
            unknown.insert(
                "zz".into(),
                json!({"y": [1, -2, {"b": null, "a": true}], "x": "s"}),
            );
            targets.insert(
                path.to_string(),
                TargetFile {
                    length: 7,
                    hashes: [("sha256".to_string(), "ab".repeat(32))].into(),
                    custom: Some(json!({"k": {"n": 0, "m": "v"}})),
                    unknown,
                },
            );
        }
        let role = DelegatedRole {
            name: "r".into(),
            keyids: vec![],
            threshold: 1,
            terminating: false,
            paths: Some(vec!["*".into()]),
            path_hash_prefixes: None,
            unknown: serde_json::Map::new(),
        };
        let t = Targets {
            type_: "targets".into(),
            spec_version: "1.0.31".into(),
            version: 3,
            expires: chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
            targets,
            delegations: Some(Delegations {
                keys: Default::default(),
                roles: Some(vec![role]),
                succinct_roles: None,
                unknown: serde_json::Map::new(),
            }),
            unknown: [("x-extra".to_string(), json!([1, 2]))]
                .into_iter()
                .collect(),
        };
        let via_value = to_canonical(&serde_json::to_value(&t).unwrap()).unwrap();
        assert_eq!(to_canonical_bytes(&t).unwrap(), via_value);
        assert!(to_canonical_bytes(&1.5f64).is_err());
        // A flattened unknown field named like a known one would give a key twice.
        let mut dup = t.clone();
        dup.unknown.insert("version".into(), json!(9));
        assert!(to_canonical_bytes(&dup).is_err());
    }
}
