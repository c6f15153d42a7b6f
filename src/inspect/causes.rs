//! The cause rules of the close analysis: each reads a connection's history and adds the causes it sees.

use super::analyzer::{ConnHistory, RttSource, UpstreamRtt};
use super::announced::client_dropped;
use super::close::{
    cause, fragment_words, human_ms, ms_between, preview, Cause, Confidence, IDLE_MS, MIN_RESOLVABLE_RTT_MS,
    REACTION_MS, SOON_MS,
};
use super::violations::failed_over;
use crate::event::{Close, Peer, Ts};
use crate::profile::{Severity, Signal};

/// Who ended it: a TCP drop, the client, or frametap itself. `recorded`: the close comes from a recording
/// another tool made (an imported HAR), where no close timeout of frametap's ran.
pub(crate) fn who_closed(history: &ConnHistory, close: &Close, recorded: bool, causes: &mut Vec<Cause>) {
    let detail = close.detail.clone().into_iter().collect::<Vec<_>>();
    let first_close = history.first_close.as_ref();
    let unanswered = |message: String| {
        let message = format!("{message}, so the close handshake did not complete (this is how the connection ended, not why it was closed)");
        cause("close-unanswered", Confidence::Certain, message, detail.clone(), first_close.map(|c| c.seq))
    };
    if !close.clean && close.initiator_unknown {
        causes.push(cause(
            "tcp-drop",
            Confidence::Certain,
            "the connection ended without a close handshake; the recording does not say which side ended it".into(),
            detail.clone(),
            None,
        ));
    } else if !close.clean {
        let closer = close.initiator.as_str();
        match close.dropped_by {
            // Nobody dropped TCP: a side never answered the close, and frametap ended both connections when
            // the close timeout ran out; or, in a recording (a HAR marked "aborted"), the answer is not in it.
            None if first_close.is_some() => {
                let silent = match (close.initiator, history.closes_from) {
                    (Peer::Client, _) | (Peer::Proxy, [true, false]) => "the server",
                    (Peer::Server, _) | (Peer::Proxy, [false, true]) => "the client",
                    (Peer::Proxy, _) => "neither side",
                };
                causes.push(unanswered(if recorded {
                    format!(
                        "the {closer} closed first; the recording holds no close frame from {silent} and marks the connection aborted, without saying which side ended TCP or why"
                    )
                } else {
                    format!(
                        "the {closer} closed first; {silent} never answered with a close frame and frametap closed both TCP connections when its close timeout ran out"
                    )
                }));
            }
            // The close was the initiator's; the other side then ended TCP instead of answering it.
            Some(dropper) if first_close.is_some() && dropper != close.initiator => causes.push(unanswered(format!(
                "the {closer} closed first; the {} then ended TCP without answering the close frame",
                dropper.as_str()
            ))),
            dropped_by => {
                let dropper = dropped_by.unwrap_or(close.initiator);
                let sent = if first_close.is_some() {
                    " after a close frame, before the close handshake completed"
                } else {
                    " without a close frame"
                };
                let hint = match dropper {
                    _ if failed_over(history, close, dropper.other()).is_some() => {
                        "; that is how an endpoint fails a connection over a frame that breaks the protocol (see ws-violation)"
                    }
                    Peer::Client if !history.handshake_problems.is_empty() => {
                        "; that is how a browser fails a connection whose handshake answer it cannot accept (see handshake-mismatch)"
                    }
                    Peer::Client if super::rejected::rejected_after(history, close).is_some() => {
                        "; no frame at all had passed either way since the 101, so it most likely rejected the upgrade answer (see upgrade-rejected), not lost its network"
                    }
                    Peer::Server => "; a network path, a load balancer's idle timeout, or the server process going away are the usual reasons",
                    Peer::Client => "; the client process or its network went away (a closed laptop lid, a killed app, a lost Wi-Fi)",
                    Peer::Proxy => "",
                };
                causes.push(cause(
                    "tcp-drop",
                    Confidence::Certain,
                    format!("the {} ended the TCP connection{sent}{hint}", dropper.as_str()),
                    detail.clone(),
                    None,
                ));
            }
        }
    }
    let client_sent_first_close = first_close.is_some_and(|c| c.from == Peer::Client);
    match close.closer() {
        Some(Peer::Client) if close.clean || client_sent_first_close => {
            let what = match (&close.code, &close.reason) {
                (Some(code), Some(reason)) if !reason.is_empty() => format!("{code} {reason:?}"),
                (Some(code), _) => format!("{code}"),
                _ => "no code".into(),
            };
            let before_any_data = history.last_from(Peer::Client).is_none();
            let message = match failed_over(history, close, Peer::Server) {
                Some((seq, true)) => format!("the client closed the connection ({what}) over server frame #{seq}, which breaks the WebSocket protocol (see ws-violation): look at that frame, not at the client's code"),
                Some((seq, false)) => format!("the client closed the connection ({what}) right after server frame #{seq}, which breaks the WebSocket protocol (see ws-violation): likely over that frame, not for a reason in the client's code"),
                None if !history.handshake_problems.is_empty() && before_any_data => match super::violations::accepted_then_closed(history) {
                    None => format!("the client closed the connection ({what}) before sending anything, after an upgrade answer that breaks the handshake (see handshake-mismatch): look at the upstream's 101, not at the client's code"),
                    Some(_) => format!("the client closed the connection itself ({what}) before sending anything: look at the client's code; the upgrade's answer breaks the handshake (see handshake-mismatch), which a client that checks the chosen subprotocol itself may close over"),
                },
                None => format!("the client closed the connection itself ({what}): look at the client's code (a close() call, a page unload, a reconnect), not at the server"),
            };
            causes.push(cause(
                "client-closed",
                Confidence::Certain,
                message,
                // How TCP then ended is the evidence of `tcp-drop` or `close-unanswered`, not of this.
                if close.clean { detail } else { Vec::new() },
                first_close.map(|c| c.seq),
            ));
        }
        Some(Peer::Proxy) => causes.push(cause(
            "proxy-closed",
            Confidence::Certain,
            format!(
                "frametap itself ended the connection{}",
                close.detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default()
            ),
            Vec::new(),
            first_close.map(|c| c.seq),
        )),
        _ => {}
    }
}

/// A rate-limit answer came before the close, or the close code says so.
pub(crate) fn rate_limited(history: &ConnHistory, close: &Close, close_at: Ts, causes: &mut Vec<Cause>) {
    let last = history.signals.iter().rev().find(|s| matches!(s.signal, Signal::RateLimited { .. }));
    // A rate-limit close code is said here, with its reason (`close-code` leaves it to this rule).
    let close_code = close
        .code
        .filter(|_| close.closer() == Some(Peer::Server))
        .and_then(|code| history.profile.rate_limit_close_code(code));
    let reason = close.reason.as_ref().filter(|r| !r.is_empty()).map(|r| format!("reason {r:?}"));
    if let Some(at) = last {
        let Signal::RateLimited { message } = &at.signal else {
            return;
        };
        let gap = ms_between(close_at, at.ts);
        // The client's own close frame, answered or not (a TCP drop is its process or network going away).
        let client_closed = close.closer() == Some(Peer::Client) && !client_dropped(close);
        let sent_after = history.last_from(Peer::Client).filter(|c| c.seq > at.seq);
        // A frame sent after the rate limit that itself breaks the protocol explains the close better.
        let broken_after =
            sent_after.filter(|c| history.findings_for(c.seq).any(|f| f.severity == Severity::Error)).map(|c| c.seq);
        // An ordinary answer after it (not an error, an announced end or another rate limit): the server went on
        // serving, so it did not end the connection over the rate limit then.
        let served_after = history.went_on_after(Peer::Server, at.seq).map(|(seq, _)| seq);
        // Only the server ends a connection over its own rate limit; a client may give up over it (below).
        let server_ended = close.closer() == Some(Peer::Server);
        // A server that closes over a rate limit does so within a minute of it.
        let recent = gap <= 60_000.0;
        // The server announced another end after it (a session expired) and closed right over that.
        let announced_after =
            super::announced::closed_over_announcement(history, close, close_at).filter(|(seq, _)| *seq > at.seq);
        let confidence = if recent
            && server_ended
            && broken_after.is_none()
            && served_after.is_none()
            && announced_after.is_none()
        {
            Confidence::Likely
        } else {
            Confidence::Possible
        };
        let consequence = match (client_closed, broken_after, sent_after.is_some()) {
            _ if client_dropped(close) => {
                "then the client dropped TCP itself, which a rate limit does not make a client do (its process or network went away)".to_owned()
            }
            _ if close.closer() == Some(Peer::Proxy) => {
                "not why this connection closed: frametap itself ended it (see proxy-closed)".to_owned()
            }
            _ if close.closer().is_none() => "the recording does not say who closed the connection".to_owned(),
            (false, _, _) if served_after.is_some() => format!(
                "the server went on answering normally after it (frame #{}), so it did not end the connection over it then",
                served_after.unwrap_or_default()
            ),
            _ if announced_after.is_some() => announced_after
                .as_ref()
                .map(|(seq, what)| super::announced::announced_instead(*seq, what))
                .unwrap_or_default(),
            // When the client closed, how soon and what it did in between say how much the rate limit explains.
            (true, _, true) => format!(
                "the client went on after it (it sent frame #{}) and then closed itself: more likely for its own reasons",
                sent_after.map_or(0, |c| c.seq)
            ),
            (true, _, false) if gap <= REACTION_MS => {
                "the client closed right after it, sending nothing else: it may have given up over it".to_owned()
            }
            (true, _, false) => {
                "the client closed itself much later, sending nothing in between: more likely for its own reasons"
                    .to_owned()
            }
            (false, Some(seq), _) => {
                format!(
                    "then client frame #{seq} broke the protocol, a likelier reason for the close (see protocol-lint)"
                )
            }
            (false, None, _) if !recent => format!(
                "the server closed {} after it: too long after it to say it closed over it",
                human_ms(gap)
            ),
            (false, None, true) => "sending on after that likely got the connection closed".to_owned(),
            (false, None, false) => "the close likely followed from it".to_owned(),
        };
        let mut evidence = vec![format!("frame #{}: {message}", at.seq)];
        evidence.extend(close_code);
        evidence.extend(reason);
        causes.push(cause(
            "rate-limit",
            confidence,
            format!("the server rate-limited the client {} before the close; {consequence}", human_ms(gap)),
            evidence,
            Some(at.seq),
        ));
    } else if let Some(message) = close_code {
        causes.push(cause("rate-limit", Confidence::Likely, message, reason.into_iter().collect(), None));
    }
}

/// The server closed soon after a client frame (in response, or crossed in flight), and that frame's lint; or
/// the client closed right after the server's error answer to it.
pub(crate) fn client_frame_rules(history: &ConnHistory, close: &Close, close_at: Ts, causes: &mut Vec<Cause>) {
    let Some(client) = history.last_from(Peer::Client) else {
        return;
    };
    let gap = ms_between(close_at, client.ts);
    let server_closed = close.closer() == Some(Peer::Server);
    let error_answer = history.signals.iter().rev().find_map(|s| match &s.signal {
        Signal::ErrorResponse { message, .. } if s.seq > client.seq => Some((s, message)),
        _ => None,
    });
    // The server's last moves after the client frame were an error answer (if any), then the close: an ordinary
    // answer after that error answer says the server went on serving, and the close is not about that frame.
    let client_spoke_last = history.preceding().is_some_and(|p| p.seq == client.seq)
        || error_answer.is_some_and(|(error, _)| history.went_on_after(Peer::Server, error.seq).is_none());
    let soon = server_closed && gap <= SOON_MS && client_spoke_last;
    // The server sent a close frame (answered or not, or the client then dropped TCP): it closed; only a server
    // that ended TCP without one dropped the connection.
    let verb = if close.clean || close.dropped_by.is_some_and(|p| p != close.initiator) || history.closes_from[1] {
        "closed"
    } else {
        "dropped the connection"
    };
    // A server's 1009 naming this frame, within a round trip that is only an upper bound: a fast reply to it.
    let too_big_reply = super::close_code::too_big_fast_reply(history, close) == Some(client.seq);
    let errors: Vec<String> =
        history.findings_for(client.seq).filter(|f| f.severity == Severity::Error).map(|f| f.message.clone()).collect();
    let frame_is_bad = !errors.is_empty();
    if frame_is_bad {
        let rules: Vec<&str> = history
            .findings_for(client.seq)
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.rule.as_str())
            .collect();
        let crossed = super::close::crossed_in_flight(history.upstream_rtt, gap) && !too_big_reply;
        let confidence = if soon && !crossed { Confidence::Likely } else { Confidence::Possible };
        causes.push(cause(
            "protocol-lint",
            confidence,
            format!(
                "client frame #{}{} {} breaks the {} protocol ({}){}",
                client.seq,
                client.message.map_or(String::new(), |m| format!(" ({})", fragment_words(&m, client.fin))),
                quoted_unless_structured(&short(&preview(client), 80)),
                history.profile.protocol(),
                crate::profile::rule_words(&rules),
                match (close.closer(), confidence) {
                    (Some(Peer::Server), Confidence::Likely) => "; the server likely closed because of it",
                    (Some(Peer::Server), _) => "; the server may have closed because of it",
                    _ => "",
                }
            ),
            errors,
            Some(client.seq),
        ));
    } else if let Some(first_bad) = history.findings.iter().find(|f| {
        f.severity == Severity::Error
            && f.seq.is_some_and(|seq| history.first_close.as_ref().is_none_or(|c| seq < c.seq))
    }) {
        causes.push(cause(
            "protocol-lint",
            Confidence::Possible,
            format!("an earlier client frame #{} broke the protocol", first_bad.seq.unwrap_or_default()),
            vec![first_bad.message.clone()],
            first_bad.seq,
        ));
    }
    if soon {
        if let Some((error, message)) = error_answer {
            let evidence = vec![format!("frame #{}", error.seq)];
            causes.push(cause("server-error-response", Confidence::Likely, message.clone(), evidence, Some(error.seq)));
        }
        causes.push(timing_cause(history.upstream_rtt, gap, client.seq, verb, (frame_is_bad, too_big_reply)));
        return;
    }
    // The client closed right after an error answer, sending nothing else: it may have closed over it.
    let client_closed = history.first_close.as_ref().is_some_and(|c| c.from == Peer::Client);
    if let Some((error, message)) =
        error_answer.filter(|(e, _)| client_closed && ms_between(close_at, e.ts) <= REACTION_MS)
    {
        let after = human_ms(ms_between(close_at, error.ts));
        causes.push(cause(
            "server-error-response",
            Confidence::Possible,
            format!("{message}; the client closed {after} after it, sending nothing else: possibly over it"),
            vec![format!("frame #{}", error.seq)],
            Some(error.seq),
        ));
    }
}

/// `in-response` or `crossed-in-flight`: compares the gap between client frame #`seq` and the server's close
/// with the upstream round trip, and says which round trip that was. A reply cannot come back faster than one
/// round trip; below [`MIN_RESOLVABLE_RTT_MS`] the round trip is too short to tell a reply from a crossing.
/// `frame_is_bad`: frame #`seq` breaks the protocol; `too_big_reply`: the server's 1009 names it, and the round trip
/// is an upper bound (`close_code::too_big_fast_reply`): both make a reply the likelier reading.
fn timing_cause(
    rtt: Option<UpstreamRtt>,
    gap: f64,
    seq: u64,
    verb: &str,
    (frame_is_bad, too_big_reply): (bool, bool),
) -> Cause {
    let in_response = |confidence, evidence: Vec<String>| {
        let how_sure = if confidence == Confidence::Likely { "likely" } else { "possibly" };
        cause(
            "in-response",
            confidence,
            format!(
                "the server {verb} {} after client frame #{seq}: {how_sure} in response to frame #{seq}",
                human_ms(gap)
            ),
            evidence,
            Some(seq),
        )
    };
    let Some(UpstreamRtt { ms, source }) = rtt else {
        let evidence = format!("gap {gap} ms; no upstream round trip was measured to compare it with");
        return in_response(Confidence::Possible, vec![evidence]);
    };
    // Round to 0.1 ms for the evidence text (the handshake time carries nanoseconds); a kernel round trip on
    // loopback is a few microseconds, kept to 0.001 ms so it does not read as 0.
    let rtt = if ms < 0.1 { (ms * 1000.0).round() / 1000.0 } else { (ms * 10.0).round() / 10.0 };
    let measured = format!("round trip {rtt} ms from {}", source.words());
    if rtt < MIN_RESOLVABLE_RTT_MS {
        let evidence = format!(
            "gap {gap} ms; the upstream round trip ({rtt} ms) is too short to tell a reply from a close that crossed the frame{}",
            if frame_is_bad { ", and the frame breaks the protocol, so a reply is the likelier reading" } else { "" }
        );
        let confidence = if frame_is_bad { Confidence::Likely } else { Confidence::Possible };
        return in_response(confidence, vec![evidence, measured]);
    }
    if gap > rtt {
        return in_response(Confidence::Likely, vec![format!("gap {gap} ms > round trip {rtt} ms"), measured]);
    }
    if too_big_reply {
        let evidence = format!(
            "gap {gap} ms ≤ round trip {rtt} ms, but that round trip is an upper bound (the server's own processing time is in it), and the server's 1009 names frame #{seq} as the message past its limit: a fast reply to it is the likelier reading than a close that crossed it (see close-code)"
        );
        return in_response(Confidence::Possible, vec![evidence, measured]);
    }
    let upper_bound = if source == RttSource::Kernel {
        ""
    } else {
        " (that round trip is an upper bound: the server's own processing time is in it, so a fast reply can look like this)"
    };
    cause(
        "crossed-in-flight",
        Confidence::Possible,
        format!(
            "the server's close came {} after client frame #{seq}, within one upstream round trip ({}, {}): it was likely sent before frame #{seq} reached the server, so that frame is probably not what it answered{upper_bound}",
            human_ms(gap),
            human_ms(rtt),
            source.short_words(),
        ),
        vec![format!("gap {gap} ms ≤ round trip {rtt} ms"), measured],
        Some(seq),
    )
}

/// A preview as it reads inside a sentence: JSON and `<n bytes: …>` stand out by themselves; plain text is quoted.
fn quoted_unless_structured(preview: &str) -> String {
    if preview.starts_with(['{', '[', '<']) {
        preview.to_owned()
    } else {
        format!("{preview:?}")
    }
}

fn short(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Long silence before the close: no data frame either way, or none from the client while the server closed.
/// Who closed first decides what the silence means: a server (or its load balancer) ending a silent connection
/// is the idle-timeout signature; a client doing so is its own choice, not the server's timeout.
pub(crate) fn idle(history: &ConnHistory, close: &Close, close_at: Ts, causes: &mut Vec<Cause>) {
    let Some(since_any) = history.preceding().map(|p| p.ts).or(history.opened) else {
        return;
    };
    let quiet_all = ms_between(close_at, since_any);
    let client_last = history.last_from(Peer::Client);
    let client_since = client_last.map(|c| c.ts).or(history.opened);
    let quiet_client = client_since.map(|t| ms_between(close_at, t)).unwrap_or(0.0);
    let note = history.profile.idle_note().map(|n| format!("; {n}")).unwrap_or_default();
    let closer = close.closer();
    // `quiet_since`: when the silence the message speaks of began.
    let (message, since, seq, quiet_since) = if quiet_all >= IDLE_MS {
        let last = history
            .preceding()
            .map(|p| format!("#{}", p.seq))
            .unwrap_or_else(|| "none (idle since the handshake)".into());
        let quiet = human_ms(quiet_all);
        let message = match closer {
            Some(Peer::Server) => format!("no data frame for {quiet} before the close: likely an idle timeout{note}"),
            Some(Peer::Client) => format!(
                "no data frame for {quiet} before the client ended the connection: not the server's idle timeout (the client closed first); possibly the client's own inactivity handling, or a person who left"
            ),
            Some(Peer::Proxy) => format!(
                "no data frame for {quiet} before frametap ended the connection: not the server's idle timeout (see proxy-closed)"
            ),
            None => format!(
                "no data frame for {quiet} before the close: possibly an idle timeout, if the server closed (the recording does not say which side did){note}"
            ),
        };
        (message, format!("last data frame {last}"), history.preceding().map(|p| p.seq), since_any)
    } else if quiet_client >= IDLE_MS && closer == Some(Peer::Server) {
        let last = client_last.map(|c| format!("#{}", c.seq)).unwrap_or_else(|| "none since the handshake".into());
        (
            format!(
                "the client sent no data frame for {} before the server closed: likely an inactivity timeout{note}",
                human_ms(quiet_client)
            ),
            format!("last client data frame {last}"),
            client_last.map(|c| c.seq),
            client_since.unwrap_or(since_any),
        )
    } else {
        return;
    };
    let pings = match history.last_control {
        Some(t) if t > quiet_since => {
            " (pings or pongs still flowed, so the TCP path was alive; an application-level timeout is likelier)"
        }
        _ => "",
    };
    let confidence = if closer == Some(Peer::Server) { Confidence::Likely } else { Confidence::Possible };
    causes.push(cause("idle", confidence, message, vec![format!("{since}{pings}")], seq));
}
