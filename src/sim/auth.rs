//! `configureAuthenticatedSession`'s `data.code`: a JWT from the OAuth code exchange, read (never verified) with
//! the project's decoder; one that does not decode, has no `exp`, or has expired is refused (docs/simulator.md).

use serde_json::Value;

use crate::inspect::jwt::decode_unverified;
use crate::inspect::tokens::epoch_claim;

/// What the simulator keeps of an accepted `data.code`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthCode {
    /// The code's `sub` claim, when it is a non-empty string: the signed-in user, named in getJwt's token.
    pub subject: Option<String>,
    /// The code's `exp`, epoch seconds.
    pub exp: i64,
}

/// Reads `data.code` at `now` (epoch seconds); its `exp` must be more than `margin` seconds ahead
/// (`--auth-code-margin`). `Err`: why it is refused, in words for the 401 error frame.
pub fn check_code(code: &str, now: i64, margin: u64) -> Result<AuthCode, String> {
    let refused = |why: String| {
        format!("unauthorised: configureAuthenticatedSession refused: {why}; re-authenticate: exchange a fresh OAuth code for a new JWT and send it as data.code")
    };
    let jwt = decode_unverified(code).map_err(|e| refused(format!("data.code is not a JWT ({e})")))?;
    let Some(exp) = epoch_claim(&jwt.claims, "exp") else {
        return Err(refused("the data.code JWT has no numeric `exp` claim, so it cannot be judged current".into()));
    };
    let when = || chrono::DateTime::from_timestamp(exp, 0).map(|t| t.to_rfc3339()).unwrap_or_else(|| exp.to_string());
    if exp <= now {
        let ago = now.saturating_sub(exp);
        return Err(refused(format!(
            "the data.code JWT expired at {} (exp {exp}), {ago} s before this request",
            when()
        )));
    }
    let margin = i64::try_from(margin).unwrap_or(i64::MAX);
    if exp <= now.saturating_add(margin) {
        let left = exp - now;
        return Err(refused(format!(
            "the data.code JWT expires at {} (exp {exp}), in {left} s: within the {margin} s margin this simulator requires (sim-auth-code-margin)",
            when()
        )));
    }
    let subject = jwt.claims.get("sub").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    Ok(AuthCode { subject, exp })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::jwt::encode_part;

    fn code(claims: &str) -> String {
        format!(
            "{}.{}.{}",
            encode_part(br#"{"alg":"RS256","typ":"JWT"}"#),
            encode_part(claims.as_bytes()),
            encode_part(b"sig")
        )
    }

    #[test]
    fn a_current_code_is_accepted_with_its_subject() {
        let accepted = check_code(&code(r#"{"sub":"user-7","exp":1000}"#), 999, 0).unwrap();
        assert_eq!(accepted, AuthCode { subject: Some("user-7".into()), exp: 1000 });
        assert_eq!(check_code(&code(r#"{"exp":1000.5}"#), 999, 0).unwrap().subject, None);
    }

    #[test]
    fn broken_stale_or_timeless_codes_are_refused_saying_why() {
        let not_jwt = check_code("4/0AbCdEf-the-oidc-code", 0, 0).unwrap_err();
        assert!(
            not_jwt.contains("data.code is not a JWT (1 part, expected 3)") && not_jwt.contains("re-authenticate"),
            "{not_jwt}"
        );
        let expired = check_code(&code(r#"{"exp":1000}"#), 1042, 0).unwrap_err();
        assert!(expired.contains("expired at 1970-01-01T00:16:40+00:00 (exp 1000), 42 s before"), "{expired}");
        assert!(
            check_code(&code(r#"{"exp":1000}"#), 1000, 0).is_err(),
            "exp is the first second it is no longer valid"
        );
        let close = check_code(&code(r#"{"exp":1000}"#), 997, 5).unwrap_err();
        assert!(
            close.contains("expires at 1970-01-01T00:16:40+00:00 (exp 1000), in 3 s: within the 5 s margin"),
            "{close}"
        );
        assert!(check_code(&code(r#"{"exp":1000}"#), 994, 5).is_ok(), "6 s ahead is past a 5 s margin");
        let timeless = check_code(&code(r#"{"exp":"soon"}"#), 0, 0).unwrap_err();
        assert!(timeless.contains("no numeric `exp`"), "{timeless}");
    }
}
