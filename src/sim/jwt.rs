//! HS256 JSON Web Tokens for getJwt: signed with the simulator's random key, never trusted by anyone.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// The `iss` claim of every simulator JWT, so nobody mistakes one for a Genesys token.
pub const ISSUER: &str = "frametap-sim";

/// The claims of a guest JWT issued at `iat` (epoch seconds) for `ttl` seconds.
pub fn guest_claims(subject: &str, deployment_id: &str, iat: i64, ttl: u64) -> Value {
    json!({
        "iss": ISSUER,
        "sub": subject,
        "aud": deployment_id,
        "iat": iat,
        "exp": iat.saturating_add(ttl.min(i64::MAX as u64) as i64),
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

/// `header.claims.signature`, each part base64url without padding, signed with HMAC-SHA256.
pub fn sign_hs256(claims: &Value, key: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(hmac_sha256(key, signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

/// The claims of `jwt` when its HS256 signature is valid for `key` (expiry is not checked).
pub fn verify_hs256(jwt: &str, key: &[u8]) -> Option<Value> {
    let (signing_input, signature) = jwt.rsplit_once('.')?;
    let (_, payload) = signing_input.split_once('.')?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    mac.update(signing_input.as_bytes());
    mac.verify_slice(&signature).ok()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_token_verifies_and_carries_the_claims() {
        let claims = guest_claims("guest-1", "dep-1", 1_700_000_000, 60);
        let jwt = sign_hs256(&claims, b"key");
        assert_eq!(jwt.split('.').count(), 3);
        let back = verify_hs256(&jwt, b"key").expect("valid signature");
        assert_eq!(back["exp"], 1_700_000_060);
        assert_eq!(back["iat"], 1_700_000_000);
        assert_eq!(back["sub"], "guest-1");
        assert_eq!(back["iss"], ISSUER);
        assert!(verify_hs256(&jwt, b"other key").is_none());
    }

    #[test]
    fn hmac_matches_rfc_4231_test_vector() {
        // HMAC-SHA256 test vector from RFC 4231, case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
