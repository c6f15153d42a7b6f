//! The `token-expired` rule of the close analysis: a JWT in force on the connection that expired by the close (or
//! had expired before the frame carrying it was sent), and what rules it out (docs/diagnosis.md).

use super::analyzer::ConnHistory;
use super::close::{cause, human_ms, utc, Cause, Confidence};
use super::tokens::{SeenToken, TokenKind};
use crate::event::{Close, Peer, Ts};
use crate::profile::Signal;
use serde_json::{json, Value};

/// A JWT in force on this connection expired at or before the close. Tokens first seen after the first close
/// frame (`closed_at_seq`) came too late to have caused it. Likely when the server ended the connection and
/// had not gone on answering normally after the expiry; possible otherwise.
pub(crate) fn token_rules(
    history: &ConnHistory,
    closed_at_seq: Option<u64>,
    close: &Close,
    close_at: Ts,
    causes: &mut Vec<Cause>,
    ruled_out: &mut Vec<Value>,
) {
    let seen: &[SeenToken] = history.tokens.seen();
    let close_micros = close_at.micros();
    let expired_by_close = |exp: i64| exp.saturating_mul(1_000_000) <= close_micros;
    let mut in_force = 0;
    let in_time = |t: &&SeenToken| closed_at_seq.is_none_or(|close_seq| t.seq.is_none_or(|seq| seq < close_seq));
    for (at, token) in seen.iter().enumerate().filter(|(_, t)| t.kind == TokenKind::Jwt && in_time(t)) {
        let Some(exp) = token.exp else { continue };
        let place = token.seq.map(|s| format!("frame #{s}")).unwrap_or_else(|| "the handshake".into());
        if token.rest_only {
            if expired_by_close(exp) {
                ruled_out.push(json!({"rule": "token-expired", "message": format!("the JWT from {} ({place}) expired at {}, but it only authorises REST calls, not this WebSocket", token.source, utc(exp))}));
            }
            continue;
        }
        in_force += 1;
        if !expired_by_close(exp) {
            continue;
        }
        if let Some(later) = replaced_by(token, &seen[at + 1..], closed_at_seq) {
            let message = format!(
                "the JWT from {} ({place}) expired at {}, but frame #{} had replaced it with another ({}, exp {}) before the close",
                token.source,
                utc(exp),
                later.seq.unwrap_or_default(),
                later.source,
                later.exp.map(utc).unwrap_or_default()
            );
            ruled_out.push(json!({"rule": "token-expired", "message": message}));
            continue;
        }
        // The server's last ordinary answer (not an error, an announced end or a rate limit, even when one came
        // later), sent after the expiry: a server that answered so did not end the connection over that expiry.
        let served_after = history
            .went_on_after(Peer::Server, token.seq.unwrap_or(0))
            .filter(|&(_, ts)| ts.micros() > exp.saturating_mul(1_000_000));
        if let Some(stale) = sent_expired(history, token, exp, served_after.is_some()) {
            push_ahead_of_the_refusal_it_explains(history, exp, stale, causes);
            continue;
        }
        let announced = super::announced::closed_over_announcement(history, close, close_at);
        let confidence = if close.closer() == Some(Peer::Server) && served_after.is_none() && announced.is_none() {
            Confidence::Likely
        } else {
            Confidence::Possible
        };
        let mut evidence = vec![format!(
            "exp {} ({exp}); first seen in {place}; the close came at {}",
            utc(exp),
            close_at.to_rfc3339()
        )];
        if let Some((seq, ts)) = served_after {
            evidence.push(format!(
                "the server went on answering after it had expired (frame #{seq}, {} after exp), so it did not end the connection over it then",
                human_ms((ts.micros() - exp.saturating_mul(1_000_000)) as f64 / 1000.0)
            ));
        }
        if let Some((seq, what)) = announced {
            evidence.push(super::announced::announced_instead(seq, &what));
        }
        let expired = cause(
            "token-expired",
            confidence,
            format!(
                "a token in force on this connection ({}) expired {} before the close",
                token.source,
                human_ms((close_micros - exp.saturating_mul(1_000_000)) as f64 / 1000.0)
            ),
            evidence,
            token.seq,
        );
        push_ahead_of_the_refusal_it_explains(history, exp, expired, causes);
    }
    if in_force == 0 {
        let rest_only_seen = seen.iter().any(|t| t.kind == TokenKind::Jwt && t.rest_only && t.exp.is_some());
        let message = if rest_only_seen {
            "no other JWT with an `exp` was seen on this connection, so nothing that authorises this WebSocket expired by the clock"
        } else {
            "no JWT with an `exp` was in force on this connection, so nothing here expired by the clock"
        };
        ruled_out.push(json!({"rule": "token-expired", "message": message}));
    }
}

/// The JWT that replaced `token` before the close, among the tokens first seen after it (`later`): one from the same
/// place (a refreshed `data.code` in a new configure, a new JWT in the same field of a later frame) that was still
/// valid when it was sent. Once replaced, `token` is no longer what authorises the connection, so its expiry is not
/// why it closed (a replacement already stale when sent replaces nothing: its own cause says so).
fn replaced_by<'a>(token: &SeenToken, later: &'a [SeenToken], closed_at_seq: Option<u64>) -> Option<&'a SeenToken> {
    later.iter().find(|next| {
        next.kind == TokenKind::Jwt
            && !next.rest_only
            && next.source == token.source
            && next.seq.is_some_and(|seq| closed_at_seq.is_none_or(|close| seq < close))
            && next.exp.is_some_and(|exp| exp.saturating_mul(1_000_000) > next.ts.micros())
    })
}

/// Adds a `token-expired` cause; when the server's answer that `server-error-response` names is a 401
/// (re-authenticate) sent at or after the JWT's `exp`, the expiry is why the server refused, the more specific and
/// more actionable of the two: it goes just before that cause, so it leads the diagnosis and its summary at the
/// same confidence (the sort by confidence keeps this order). Any other error answer keeps its own place.
fn push_ahead_of_the_refusal_it_explains(history: &ConnHistory, exp: i64, expired: Cause, causes: &mut Vec<Cause>) {
    let exp_micros = exp.saturating_mul(1_000_000);
    let reauthenticate_after_exp = |seq: u64| {
        history.signals.iter().any(|s| {
            s.seq == seq && s.ts.micros() >= exp_micros && matches!(s.signal, Signal::ErrorResponse { code: 401, .. })
        })
    };
    match causes.iter().position(|c| c.rule == "server-error-response" && c.seq.is_some_and(reauthenticate_after_exp)) {
        Some(at) => causes.insert(at, expired),
        None => causes.push(expired),
    }
}

/// A JWT that had already expired when the frame carrying it was sent (`exp` against that frame's own time, not
/// the close's): the server had no current token from the start. Likely when the server answered with an error
/// after it, or never answered normally; possible when it went on serving (`served_after`).
fn sent_expired(history: &ConnHistory, token: &SeenToken, exp: i64, served_after: bool) -> Option<Cause> {
    let seq = token.seq?;
    let exp_micros = exp.saturating_mul(1_000_000);
    if exp_micros > token.ts.micros() {
        return None;
    }
    let refused = history.signals.iter().find(|s| s.seq > seq && matches!(s.signal, Signal::ErrorResponse { .. }));
    let confidence = if refused.is_some() || !served_after { Confidence::Likely } else { Confidence::Possible };
    let before = human_ms((token.ts.micros() - exp_micros) as f64 / 1000.0);
    let answer = match (refused, served_after) {
        (Some(error), _) => format!("; the server answered with an error (frame #{})", error.seq),
        (None, true) => "; the server went on answering normally after it, so it may not have needed it".to_owned(),
        (None, false) => String::new(),
    };
    let mut evidence =
        vec![format!("exp {} ({exp}); frame #{seq} was sent at {}, {before} later", utc(exp), token.ts.to_rfc3339())];
    evidence.extend(history.profile.stale_token_hint(&token.source));
    Some(cause(
        "token-expired",
        confidence,
        format!(
            "the JWT in frame #{seq} ({}) had already expired when it was sent ({before} before){answer}",
            token.source
        ),
        evidence,
        Some(seq),
    ))
}
