//! Role names in URLs and file names.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything except `A-Z a-z 0-9 - _ . ~` is escaped.
const ROLE_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a role name for a URL path segment or a file name.
///
/// `/`, `?`, `#`, `%` and every non-ASCII byte are escaped, so an encoded name is always
/// one path segment and can never leave a directory. Only `.` and `..` stay special;
/// [`role_file_name`] never returns them because it appends `.json`.
pub fn encode_role(name: &str) -> String {
    utf8_percent_encode(name, ROLE_ESCAPE).to_string()
}

/// The file name of a role's metadata, optionally version-prefixed: `3.role%2Fx.json`.
pub fn role_file_name(name: &str, version: Option<u64>) -> String {
    match version {
        Some(v) => format!("{v}.{}.json", encode_role(name)),
        None => format!("{}.json", encode_role(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_stay_one_segment() {
        assert_eq!(role_file_name("../x", None), "..%2Fx.json");
        assert_eq!(role_file_name("a?b#c", Some(2)), "2.a%3Fb%23c.json");
        assert_eq!(
            role_file_name("registry.npmjs.org", Some(5)),
            "5.registry.npmjs.org.json"
        );
        assert_eq!(encode_role("sp ace%é"), "sp%20ace%25%C3%A9");
        assert_eq!(encode_role("A-Z_a.z~0"), "A-Z_a.z~0");
    }
}
