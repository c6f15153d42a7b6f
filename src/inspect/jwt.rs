//! Decodes JSON Web Tokens (header and claims) WITHOUT verifying the signature: frametap shows, it never vouches.

use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig};
use base64::{alphabet, Engine as _};
use serde_json::{Map, Value};

/// base64url, padding optional (some issuers pad), trailing bits tolerated.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// A JWT's readable parts. Nothing here has been verified.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedJwt {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    /// Length of the decoded signature in bytes (0 for an unsecured `alg: none` token).
    pub signature_len: usize,
}

/// Why a string that travels as a JWT cannot be read. `Display` is the reason shown to the user.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("empty token")]
    Empty,
    #[error("{found} parts, expected 3 (an encrypted JWE, which cannot be read without the key)")]
    Encrypted { found: usize },
    #[error("{found} part{}, expected 3", if *found == 1 { "" } else { "s" })]
    WrongPartCount { found: usize },
    #[error("part {part} is empty")]
    EmptyPart { part: usize },
    #[error("bad base64 in part {part}: {detail}")]
    BadBase64 { part: usize, detail: String },
    #[error("part {part} is not JSON: {detail}")]
    NotJson { part: usize, detail: String },
    #[error("header is not a JSON object")]
    HeaderNotObject,
    #[error("claims are not a JSON object")]
    ClaimsNotObject,
}

fn is_b64url_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'='
}

/// Cheap test for "this string is a JWT": three base64url parts whose first decodes to a JSON object
/// with `alg` or `typ`. Byte checks come first, so ordinary strings are rejected without decoding.
pub fn looks_like_jwt(s: &str) -> bool {
    let bytes = s.as_bytes();
    // `{"` base64url-encodes to `eyJ`; every JOSE header starts that way.
    if bytes.len() < 10 || !s.starts_with("eyJ") {
        return false;
    }
    let mut dots = 0;
    for &b in bytes {
        if b == b'.' {
            dots += 1;
        } else if !is_b64url_byte(b) {
            return false;
        }
    }
    if dots != 2 {
        return false;
    }
    let header = s.split('.').next().unwrap_or_default();
    match decode_object(header, 1) {
        Ok(Some(map)) => map.contains_key("alg") || map.contains_key("typ"),
        _ => false,
    }
}

/// True for a string that is presented as a JWT even if it is broken: it starts like a JOSE header
/// (`eyJ`) and has at least one dot. Used to report malformed tokens rather than ignore them.
pub fn is_jwt_candidate(s: &str) -> bool {
    s.len() >= 8 && s.starts_with("eyJ") && s.contains('.') && !s.bytes().any(|b| b.is_ascii_whitespace())
}

/// Decodes header and claims without checking the signature (there is no key to check it with).
pub fn decode_unverified(s: &str) -> Result<DecodedJwt, JwtError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(JwtError::Empty);
    }
    let parts: Vec<&str> = s.split('.').collect();
    match parts.len() {
        3 => {}
        5 => return Err(JwtError::Encrypted { found: 5 }),
        found => return Err(JwtError::WrongPartCount { found }),
    }
    let header = decode_object(parts[0], 1)?.ok_or(JwtError::HeaderNotObject)?;
    let claims = decode_object(parts[1], 2)?.ok_or(JwtError::ClaimsNotObject)?;
    let signature_len = if parts[2].is_empty() { 0 } else { decode_part(parts[2], 3)?.len() };
    Ok(DecodedJwt { header, claims, signature_len })
}

/// A token's first part as a JOSE header: `Some` when it decodes to a JSON object (redaction keeps such a
/// header readable, as it keeps a JWT's).
pub fn decode_header(part: &str) -> Option<Map<String, Value>> {
    decode_object(part, 1).ok().flatten()
}

fn decode_part(part: &str, index: usize) -> Result<Vec<u8>, JwtError> {
    if part.is_empty() {
        return Err(JwtError::EmptyPart { part: index });
    }
    B64URL.decode(part).map_err(|e| JwtError::BadBase64 { part: index, detail: e.to_string() })
}

/// Decodes one part as JSON; `Ok(None)` when it is JSON but not an object.
fn decode_object(part: &str, index: usize) -> Result<Option<Map<String, Value>>, JwtError> {
    let bytes = decode_part(part, index)?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Ok(None),
        Err(e) => Err(JwtError::NotJson { part: index, detail: e.to_string() }),
    }
}

/// Encodes bytes as unpadded base64url (used by tests and by redaction to build placeholders).
pub fn encode_part(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(header: &str, claims: &str, sig: &[u8]) -> String {
        format!("{}.{}.{}", encode_part(header.as_bytes()), encode_part(claims.as_bytes()), encode_part(sig))
    }

    #[test]
    fn good_token_decodes_header_claims_and_signature_length() {
        let t = jwt(r#"{"alg":"HS256","typ":"JWT"}"#, r#"{"sub":"guest","exp":1700000000}"#, &[7; 32]);
        assert!(looks_like_jwt(&t));
        let d = decode_unverified(&t).unwrap();
        assert_eq!(d.header["alg"], "HS256");
        assert_eq!(d.claims["exp"], 1700000000);
        assert_eq!(d.signature_len, 32);
    }

    #[test]
    fn padded_parts_and_unsecured_tokens_are_accepted() {
        let padded = format!("{}=.{}.", encode_part(br#"{"alg":"none"}"#), encode_part(br#"{"a":1}"#));
        let d = decode_unverified(&padded).unwrap();
        assert_eq!(d.signature_len, 0);
        assert_eq!(d.header["alg"], "none");
    }

    #[test]
    fn every_malformed_case_has_its_reason() {
        let h = encode_part(br#"{"alg":"HS256"}"#);
        let c = encode_part(br#"{"sub":"x"}"#);
        let cases = [
            (String::new(), "empty token"),
            (format!("{h}.{c}"), "2 parts, expected 3"),
            (h.clone(), "1 part, expected 3"),
            (format!("{h}.{c}.a.b.c"), "5 parts, expected 3 (an encrypted JWE"),
            (format!("{h}.{c}.a.b"), "4 parts, expected 3"),
            (format!(".{c}.sig"), "part 1 is empty"),
            (format!("{h}..sig"), "part 2 is empty"),
            (format!("{h}.ey$$.sig"), "bad base64 in part 2"),
            (format!("{h}.{c}.s!g"), "bad base64 in part 3"),
            (format!("{}.{c}.sig", encode_part(b"not json")), "part 1 is not JSON"),
            (format!("{h}.{}.sig", encode_part(b"{\"a\":")), "part 2 is not JSON"),
            (format!("{}.{c}.sig", encode_part(b"[1]")), "header is not a JSON object"),
            (format!("{h}.{}.sig", encode_part(b"[1,2]")), "claims are not a JSON object"),
        ];
        for (token, reason) in cases {
            let err = decode_unverified(&token).expect_err(&token);
            assert!(err.to_string().starts_with(reason), "{token}: got {err}, want {reason}");
        }
    }

    #[test]
    fn cheap_check_rejects_ordinary_strings() {
        assert!(!looks_like_jwt("hello.world.again"));
        assert!(!looks_like_jwt("3f9a1c2b-0000-4000-8000-123456789abc"));
        assert!(!looks_like_jwt(&format!("{}.e30.x", encode_part(br#"{"x":1}"#)))); // no alg/typ
        assert!(!looks_like_jwt(&format!("{}.e30", encode_part(br#"{"alg":"x"}"#))));
        assert!(is_jwt_candidate(&format!("{}.e30", encode_part(br#"{"alg":"x"}"#))));
        assert!(!is_jwt_candidate("Hello there. How are you?"));
    }
}
