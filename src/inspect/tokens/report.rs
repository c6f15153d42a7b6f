//! Turns a found credential into what is reported: kind, claims, times relative to when it was seen, flags.

use super::find::Candidate;
use super::{SeenToken, TokenKind};
use crate::event::Ts;
use crate::inspect::jwt::{decode_unverified, DecodedJwt};
use chrono::{DateTime, SecondsFormat};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// A token expiring this soon after it was seen is flagged `expiring-within-60s`.
pub const EXPIRING_SOON_SECS: i64 = 60;

const REST_ONLY_NOTE: &str =
    "Genesys getJwt token (JwtResponse): authorises REST calls such as attachments, not this WebSocket";

/// The first 12 hex digits of SHA-256: enough to tell tokens apart, useless for recovering one.
pub(crate) fn fingerprint(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// The first few characters and an ellipsis; never the whole secret (short secrets show less).
pub(crate) fn preview(value: &str) -> String {
    let shown = (value.chars().count() / 4).min(6);
    let head: String = value.chars().take(shown).collect();
    format!("{head}…")
}

/// "3 min 2 s", "59 s", "2 h 5 min", "3 d 4 h".
pub fn human_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    let pair = |big: u64, big_unit: &str, small: u64, small_unit: &str| {
        if small == 0 {
            format!("{big} {big_unit}")
        } else {
            format!("{big} {big_unit} {small} {small_unit}")
        }
    };
    if d > 0 {
        pair(d, "d", h, "h")
    } else if h > 0 {
        pair(h, "h", m, "min")
    } else if m > 0 {
        pair(m, "min", s, "s")
    } else {
        format!("{s} s")
    }
}

/// A time claim as epoch seconds, when it is a number (a fraction is floored).
pub(crate) fn epoch_claim(claims: &Map<String, Value>, name: &str) -> Option<i64> {
    let value = claims.get(name)?;
    value.as_i64().or_else(|| value.as_f64().filter(|f| f.is_finite()).map(|f| f.floor() as i64))
}

/// `{"utc", "relative", "epoch"}` for one time claim, judged against `seen_at`.
fn time_entry(name: &str, epoch: i64, seen_at: Ts) -> Value {
    let Some(utc) = DateTime::from_timestamp(epoch, 0).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)) else {
        // Beyond any date (`"exp": 1e300`): a count of days to it would only be the arithmetic's limit.
        let relative = if epoch > 0 { "after any date a clock can show" } else { "before any date a clock can show" };
        return json!({ "utc": "out of range", "relative": relative, "epoch": epoch });
    };
    let delta_micros = epoch.saturating_mul(1_000_000).saturating_sub(seen_at.micros());
    let secs = ((delta_micros.unsigned_abs() as f64) / 1e6).round() as u64;
    let span = human_duration(secs);
    let relative = match (name, delta_micros) {
        (_, 0) => "at the moment it was seen".to_owned(),
        ("exp", d) if d < 0 => format!("expired {span} before it was seen"),
        (_, d) if d < 0 => format!("{span} before it was seen"),
        _ => format!("in {span}"),
    };
    json!({ "utc": utc, "relative": relative, "epoch": epoch })
}

/// Scopes granted by `scope` (space-separated string or array) and `scp`.
fn granted_scopes(claims: &Map<String, Value>) -> Vec<String> {
    let mut scopes = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(s)) => scopes.extend(s.split_whitespace().map(str::to_owned)),
            Some(Value::Array(items)) => {
                scopes.extend(items.iter().filter_map(Value::as_str).flat_map(str::split_whitespace).map(str::to_owned))
            }
            _ => {}
        }
    }
    scopes
}

struct JwtFacts {
    times: Map<String, Value>,
    flags: Vec<String>,
    exp: Option<i64>,
    iat: Option<i64>,
    nbf: Option<i64>,
}

fn judge(jwt: &DecodedJwt, seen_at: Ts, require_scopes: &[String]) -> JwtFacts {
    let mut facts = JwtFacts { times: Map::new(), flags: Vec::new(), exp: None, iat: None, nbf: None };
    let alg_none = jwt.header.get("alg").and_then(Value::as_str).is_some_and(|alg| alg.eq_ignore_ascii_case("none"));
    if alg_none || jwt.signature_len == 0 {
        facts.flags.push("unsigned".into());
    }
    for name in ["exp", "iat", "nbf"] {
        if !jwt.claims.contains_key(name) {
            continue;
        }
        let Some(epoch) = epoch_claim(&jwt.claims, name) else {
            facts.flags.push(format!("{name}-not-a-number"));
            continue;
        };
        facts.times.insert(name.to_owned(), time_entry(name, epoch, seen_at));
        let delta_micros = epoch.saturating_mul(1_000_000).saturating_sub(seen_at.micros());
        match name {
            "exp" => {
                facts.exp = Some(epoch);
                if delta_micros <= 0 {
                    facts.flags.push("expired".into());
                } else if delta_micros <= EXPIRING_SOON_SECS * 1_000_000 {
                    facts.flags.push("expiring-within-60s".into());
                }
            }
            "iat" => facts.iat = Some(epoch),
            _ => {
                facts.nbf = Some(epoch);
                if delta_micros > 0 {
                    facts.flags.push("not-yet-valid".into());
                }
            }
        }
    }
    let granted = granted_scopes(&jwt.claims);
    for scope in require_scopes {
        if !granted.iter().any(|g| g == scope) {
            facts.flags.push(format!("missing-scope:{scope}"));
        }
    }
    facts
}

/// True when a JWT's signature is one of `frametap redact`'s placeholders.
fn signature_redacted(value: &str) -> bool {
    value.rsplit('.').next().is_some_and(|sig| sig.starts_with("redacted"))
}

/// Classifies a candidate, found in the record of time `ts` (frame `seq`, or the handshake), and builds both the
/// analysis view and the `token` record's details.
pub(crate) fn describe(
    candidate: &Candidate<'_>,
    (ts, seq): (Ts, Option<u64>),
    seen_at: Ts,
    require_scopes: &[String],
) -> (SeenToken, Map<String, Value>) {
    let value = candidate.value.as_ref();
    let mut details = Map::new();
    let mut seen = SeenToken {
        source: candidate.source.clone(),
        kind: TokenKind::Opaque,
        exp: None,
        iat: None,
        nbf: None,
        seq,
        ts,
        rest_only: candidate.rest_only,
        fingerprint: fingerprint(value),
    };
    let decoded = crate::inspect::jwt::is_jwt_candidate(value).then(|| decode_unverified(value));
    match decoded {
        Some(Ok(jwt)) => {
            seen.kind = TokenKind::Jwt;
            // Header and claims identify a JWT; a redacted signature must not change its fingerprint.
            seen.fingerprint = fingerprint(value.rsplit_once('.').map_or(value, |(signed, _)| signed));
            let facts = judge(&jwt, seen_at, require_scopes);
            (seen.exp, seen.iat, seen.nbf) = (facts.exp, facts.iat, facts.nbf);
            details.insert("token_kind".into(), "jwt".into());
            details.insert("verified".into(), false.into());
            details.insert("header".into(), Value::Object(jwt.header));
            details.insert("claims".into(), Value::Object(jwt.claims));
            details.insert("times".into(), Value::Object(facts.times));
            details.insert("flags".into(), json!(facts.flags));
            if candidate.rest_only {
                details.insert("note".into(), REST_ONLY_NOTE.into());
            }
            if signature_redacted(value) {
                details.insert("signature_redacted".into(), true.into());
            }
        }
        Some(Err(error)) => {
            seen.kind = TokenKind::Malformed;
            details.insert("token_kind".into(), "malformed".into());
            details.insert("verified".into(), false.into());
            details.insert("flags".into(), json!(["malformed"]));
            details.insert("reason".into(), error.to_string().into());
            if crate::redact::is_placeholder(value) {
                details.insert("placeholder".into(), true.into());
            }
        }
        None => {
            details.insert("token_kind".into(), "opaque".into());
            details.insert("flags".into(), json!([]));
            let note = candidate.opaque_note.as_deref().unwrap_or("opaque credential");
            details.insert("note".into(), note.into());
            if value.starts_with("redacted-") || value.starts_with("00000000-0000-4000-8000-") {
                details.insert("placeholder".into(), true.into());
            }
        }
    }
    details.insert("rest_only".into(), candidate.rest_only.into());
    details.insert("fingerprint".into(), seen.fingerprint.clone().into());
    details.insert("preview".into(), preview(value).into());
    (seen, details)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(59), "59 s");
        assert_eq!(human_duration(182), "3 min 2 s");
        assert_eq!(human_duration(180), "3 min");
        assert_eq!(human_duration(3600 + 300), "1 h 5 min");
        assert_eq!(human_duration(2 * 86_400 + 3 * 3600 + 7), "2 d 3 h");
    }

    #[test]
    fn a_time_past_any_date_says_so_instead_of_counting_days_to_a_limit() {
        let seen = Ts(DateTime::from_timestamp(1_767_323_045, 0).unwrap());
        let far = time_entry("exp", i64::MAX, seen);
        assert_eq!(
            (far["utc"].as_str(), far["relative"].as_str()),
            (Some("out of range"), Some("after any date a clock can show"))
        );
        let past = time_entry("exp", i64::MIN, seen);
        assert_eq!(past["relative"], "before any date a clock can show");
        assert_eq!(time_entry("exp", 1_767_323_045 + 59, seen)["relative"], "in 59 s");
    }

    #[test]
    fn previews_never_show_the_whole_secret() {
        assert_eq!(preview("3f9a1c2b-0000-4000-8000-123456789abc"), "3f9a1c…");
        assert_eq!(preview("hunter22"), "hu…");
        assert_eq!(preview("abc"), "…");
    }
}
