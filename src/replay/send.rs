//! `replay send`: dials a live upstream with the recorded handshake, plays the recorded client side against it
//! (with `--set` fields replaced, see [`super::sets`]), and reports which server frames differ from the recording.

use super::player::{play, PlayOptions, PlayReport};
use super::script::Script;
use crate::event::{millis, Headers, HttpRequest, HttpResponse, Note, Open, Peer, Record, Ts};
use crate::forward::UpstreamProxies;
use crate::pipeline::{ConnSink, EventSink};
use crate::proxy::headers::upstream_request_headers;
use crate::proxy::upstream::{self, UpstreamAnswer, UpstreamBase};
use anyhow::{bail, Result};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Where and how `replay send` sends.
#[derive(Clone)]
pub struct SendOptions {
    pub upstream: UpstreamBase,
    pub tls: Arc<rustls::ClientConfig>,
    /// HTTP proxies to reach the upstream through (`--upstream-proxy`, `HTTPS_PROXY`, …).
    pub proxies: UpstreamProxies,
    /// `--header 'Name: value'`: replaces (or adds) a handshake header.
    pub headers: Headers,
    pub play: PlayOptions,
    pub handshake_timeout: Duration,
}

/// What `replay send` did.
#[derive(Debug)]
pub struct SendReport {
    pub url: String,
    pub status: u16,
    /// Recorded headers left out because they carry redaction placeholders.
    pub dropped_headers: Vec<String>,
    /// The played session (none when the upstream refused the upgrade, as it did in the recording).
    pub play: Option<PlayReport>,
}

/// Replays the client side of `script` against `options.upstream`. Fails when the upstream cannot be reached or
/// refuses an upgrade the recording shows accepted; differing frames are reported, not errors.
pub async fn send(
    script: &Script,
    options: SendOptions,
    sink: EventSink,
    shutdown: watch::Receiver<bool>,
) -> Result<SendReport> {
    let recorded = script.open.upstream_request.as_ref().unwrap_or(&script.open.request);
    let (kept, dropped_headers) = without_placeholders(&recorded.headers);
    let (headers, _) = upstream_request_headers(&kept, true, &options.headers);
    let path = script.open.request.path.clone();
    let url = options.upstream.url_for(&path);
    let sink = sink.connection();
    let conn = sink.conn();
    let ts = Ts::now();
    let started = std::time::Instant::now();
    let answer =
        upstream::open(&options.upstream, &path, &headers, &options.tls, &options.proxies, options.handshake_timeout)
            .await;
    let mut open = Open {
        upstream: Some(url.clone()),
        ..Open::new(conn, ts, HttpRequest { method: "GET".into(), path: path.clone(), headers: headers.clone() })
    };
    let placeholder_note = (!dropped_headers.is_empty()).then(|| Note::warn("replay-placeholder-headers", Some(conn), ts, format!(
            "left out the recorded header(s) {} because they carry redaction placeholders (give real values with --header)",
            dropped_headers.join(", ")
        )));
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => {
            open.error = Some(e.to_string());
            if let Some(sent) = e.sent_headers() {
                open.request.headers = sent.clone();
            }
            open.response = e.answer();
            open.failed_ms = Some(millis(started.elapsed()));
            emit_open(&sink, open, placeholder_note).await;
            bail!("could not replay to {url}: {e}; check --upstream (and that the server is running)");
        }
    };
    let UpstreamAnswer { status, headers: answer_headers, body, upgraded, sent_headers, round_trip, tcp_rtt_ms } =
        answer;
    open.request.headers = sent_headers;
    open.handshake_ms = Some(millis(round_trip));
    open.upstream_tcp_rtt_ms = tcp_rtt_ms;
    let body_text = body.as_ref().filter(|b| !b.is_empty()).map(|b| String::from_utf8_lossy(b).into_owned());
    open.response = Some(HttpResponse { status, headers: answer_headers, body: body_text.clone(), body_base64: None });
    if upgraded.is_none() {
        open.failed_ms = Some(millis(started.elapsed()));
    }
    emit_open(&sink, open, placeholder_note).await;
    let recorded_status = script.open.relayed_response().map(|r| r.status);
    let Some((stream, prefix)) = upgraded else {
        if recorded_status == Some(status) {
            return Ok(SendReport { url, status, dropped_headers, play: None });
        }
        bail!(
            "{url} refused the upgrade with HTTP {status}{} where the recording shows {}: check --upstream, \
             --header and the recorded credentials (a redacted capture has none)",
            body_text.map(|b| format!(" ({})", b.trim())).unwrap_or_default(),
            recorded_status.map_or("no answer".to_owned(), |s| format!("HTTP {s}"))
        );
    };
    let report =
        play(stream, prefix, script.steps(Peer::Client), script.end(), Peer::Client, sink, options.play, shutdown)
            .await;
    Ok(SendReport { url, status, dropped_headers, play: Some(report) })
}

/// Emits the connection's `open` and the note about its handshake in one batch: the diagnosis of an upgrade that
/// failed follows the note.
async fn emit_open(sink: &ConnSink, open: Open, note: Option<Note>) {
    let mut records = vec![Record::from(open)];
    records.extend(note.map(Record::Note));
    sink.emit_all(&mut records).await;
}

/// The headers without those whose value holds a redaction placeholder, and the names left out.
fn without_placeholders(headers: &Headers) -> (Headers, Vec<String>) {
    let mut dropped = Vec::new();
    let kept = headers
        .iter()
        .filter(|(name, value)| {
            let placeholder = value
                .split(|c: char| c.is_whitespace() || matches!(c, ';' | ',' | '='))
                .any(crate::redact::is_placeholder);
            if placeholder {
                dropped.push(name.clone());
            }
            !placeholder
        })
        .cloned()
        .collect();
    (kept, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_headers_are_left_out() {
        let headers: Headers = vec![
            ("authorization".into(), "Bearer redacted-1a2b3c4d".into()),
            ("origin".into(), "https://app.example".into()),
            ("cookie".into(), "sid=redacted-99aa00bb".into()),
        ];
        let (kept, dropped) = without_placeholders(&headers);
        assert_eq!(kept, vec![("origin".to_owned(), "https://app.example".to_owned())]);
        assert_eq!(dropped, vec!["authorization", "cookie"]);
    }
}
