//! The `token-expired` rule of the close analysis: a JWT in force on the connection that expired by the close,
//! and what rules it out (docs/diagnosis.md).

use super::analyzer::ConnHistory;
use super::close::{cause, human_ms, utc, Cause, Confidence};
use super::tokens::{SeenToken, TokenKind};
use crate::event::{Close, Peer, Ts};
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
    // The server's last data frame before the close, when it was an ordinary answer (not an error, an
    // announced end or a rate limit): a server that answered so after a token expired did not end the
    // connection over that expiry.
    let served = history.last_from(Peer::Server).filter(|last| !history.is_signal(last.seq));
    let close_micros = close_at.micros();
    let expired_by_close = |exp: i64| exp.saturating_mul(1_000_000) <= close_micros;
    let mut in_force = 0;
    let in_time = |t: &&SeenToken| closed_at_seq.is_none_or(|close_seq| t.seq.is_none_or(|seq| seq < close_seq));
    for token in seen.iter().filter(|t| t.kind == TokenKind::Jwt).filter(in_time) {
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
        let served_after = served.filter(|last| {
            last.ts.micros() > exp.saturating_mul(1_000_000) && token.seq.is_none_or(|seq| last.seq > seq)
        });
        let confidence = if close.closer() == Some(Peer::Server) && served_after.is_none() {
            Confidence::Likely
        } else {
            Confidence::Possible
        };
        let mut evidence = vec![format!(
            "exp {} ({exp}); first seen in {place}; the close came at {}",
            utc(exp),
            close_at.to_rfc3339()
        )];
        if let Some(last) = served_after {
            evidence.push(format!(
                "the server went on answering after it had expired (frame #{}, {} after exp), so it did not end the connection over it then",
                last.seq,
                human_ms((last.ts.micros() - exp.saturating_mul(1_000_000)) as f64 / 1000.0)
            ));
        }
        causes.push(cause(
            "token-expired",
            confidence,
            format!(
                "a token in force on this connection ({}) expired {} before the close",
                token.source,
                human_ms((close_micros - exp.saturating_mul(1_000_000)) as f64 / 1000.0)
            ),
            evidence,
            token.seq,
        ));
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
