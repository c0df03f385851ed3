//! The little DER needed for public keys: reading and writing SubjectPublicKeyInfo.

const SEQUENCE: u8 = 0x30;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
const NULL: u8 = 0x05;

/// DER of OID 1.2.840.10045.2.1 (id-ecPublicKey).
pub(crate) const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// DER of OID 1.2.840.10045.3.1.7 (prime256v1 / P-256).
pub(crate) const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER of OID 1.3.132.0.34 (secp384r1 / P-384).
pub(crate) const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
/// DER of OID 1.2.840.113549.1.1.1 (rsaEncryption).
pub(crate) const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// DER of OID 1.3.101.112 (Ed25519).
pub(crate) const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// Reads one TLV; returns (tag, contents, rest).
fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | b as usize;
        }
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The parts of a SubjectPublicKeyInfo.
pub(crate) struct Spki<'a> {
    /// Algorithm OID contents.
    pub algorithm: &'a [u8],
    /// Parameter OID contents, if the parameters are an OID.
    pub parameter: Option<&'a [u8]>,
    /// The subjectPublicKey bits (without the unused-bits byte).
    pub key: &'a [u8],
}

/// Parses a DER SubjectPublicKeyInfo.
pub(crate) fn parse_spki(der: &[u8]) -> Option<Spki<'_>> {
    let (tag, body, rest) = read_tlv(der)?;
    if tag != SEQUENCE || !rest.is_empty() {
        return None;
    }
    let (tag, alg, body) = read_tlv(body)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, algorithm, alg_rest) = read_tlv(alg)?;
    if tag != OID {
        return None;
    }
    let parameter = match read_tlv(alg_rest) {
        Some((OID, p, _)) => Some(p),
        _ => None,
    };
    let (tag, bits, rest) = read_tlv(body)?;
    if tag != BIT_STRING || !rest.is_empty() {
        return None;
    }
    let (&unused, key) = bits.split_first()?;
    if unused != 0 {
        return None;
    }
    Some(Spki {
        algorithm,
        parameter,
        key,
    })
}

fn write_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    write_len(contents.len(), &mut out);
    out.extend_from_slice(contents);
    out
}

/// Builds a DER SubjectPublicKeyInfo.
pub(crate) fn build_spki(algorithm: &[u8], parameter: Option<&[u8]>, key: &[u8]) -> Vec<u8> {
    let mut alg = tlv(OID, algorithm);
    match parameter {
        Some(p) => alg.extend(tlv(OID, p)),
        None if algorithm == OID_RSA => alg.extend([NULL, 0]),
        None => {}
    }
    let mut bits = vec![0u8];
    bits.extend_from_slice(key);
    let mut body = tlv(SEQUENCE, &alg);
    body.extend(tlv(BIT_STRING, &bits));
    tlv(SEQUENCE, &body)
}

/// Finds the algorithm OID of a PKCS#8 PrivateKeyInfo (and its parameter OID).
pub(crate) fn pkcs8_algorithm(der: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let (tag, body, _) = read_tlv(der)?;
    if tag != SEQUENCE {
        return None;
    }
    let (_version_tag, _version, body) = read_tlv(body)?;
    let (tag, alg, _) = read_tlv(body)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, algorithm, rest) = read_tlv(alg)?;
    if tag != OID {
        return None;
    }
    let parameter = match read_tlv(rest) {
        Some((OID, p, _)) => Some(p),
        _ => None,
    };
    Some((algorithm, parameter))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spki_round_trip_and_long_lengths() {
        let key = vec![7u8; 300];
        let der = build_spki(OID_RSA, None, &key);
        let spki = parse_spki(&der).unwrap();
        assert_eq!(spki.algorithm, OID_RSA);
        assert_eq!(spki.key, &key[..]);
    }

    #[test]
    fn truncated_input_is_rejected() {
        let der = build_spki(OID_EC_PUBLIC_KEY, Some(OID_P256), &[4u8; 65]);
        for cut in 0..der.len() {
            assert!(parse_spki(&der[..cut]).is_none(), "cut at {cut}");
        }
    }
}
