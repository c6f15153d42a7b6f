//! The `upgrade-rejected` rule: a client that dropped TCP right after an accepted upgrade, having sent no frame at
//! all, most likely refused the 101 it got (a client fails the connection on an answer it does not accept); and
//! what in that 101 a client may refuse.

use super::analyzer::ConnHistory;
use super::close::{cause, human_ms, ms_between, Cause, Confidence, REACTION_MS};
use crate::event::{Close, Open, Peer};

/// Past this many header lines a 101 is near or past common clients' limits (tungstenite reads at most 124,
/// Python's websockets 128).
const MANY_HEADER_LINES: usize = 100;
/// Python's websockets refuses a header line longer than this (its `MAX_LINE_LENGTH`).
const LONG_HEADER_LINE: usize = 8192;

/// How long after the 101 the client dropped TCP, when this connection is one a client most likely ended by
/// refusing the upgrade answer: it dropped TCP within [`REACTION_MS`] of the 101, and no frame at all passed
/// either way (no close frame, and neither side sent anything: a server that spoke had a WebSocket the client
/// may have read, so the exchange began and the drop says nothing about the 101). `None` when the subprotocol
/// check (`handshake-mismatch`) already explains it.
pub(crate) fn rejected_after(history: &ConnHistory, close: &Close) -> Option<f64> {
    let dropped_silently = !close.clean
        && close.dropped_by == Some(Peer::Client)
        && history.first_close.is_none()
        && history.frames_from == [0, 0];
    if !dropped_silently || history.refused.is_some() || !history.handshake_problems.is_empty() {
        return None;
    }
    // From when the 101 was passed on; a capture that does not say (made before frametap recorded it) has only the
    // upgrade request's round trip, which leaves out the time it took to reach the upstream.
    let upgraded = history.upgraded_ms.or(history.handshake_ms).unwrap_or(0.0);
    let after = (ms_between(close.ts, history.opened?) - upgraded).max(0.0);
    (after <= REACTION_MS).then_some(after)
}

/// The `upgrade-rejected` cause, when [`rejected_after`] applies: the suspects in the 101 and how to confirm.
pub(crate) fn upgrade_rejected(history: &ConnHistory, close: &Close, causes: &mut Vec<Cause>) {
    let Some(after) = rejected_after(history, close) else {
        return;
    };
    let mut evidence = history.upgrade_suspects.clone();
    if evidence.is_empty() {
        evidence.push("nothing in the 101 looks wrong to frametap: compare it with what this client accepts".into());
    }
    evidence.push(
        "to confirm, read the client's own error: a browser's console says \"WebSocket connection to '…' failed\" \
         and why (Chrome adds \"Error during WebSocket handshake: …\"); a library raises its handshake error"
            .into(),
    );
    causes.push(cause(
        "upgrade-rejected",
        Confidence::Likely,
        format!(
            "the client dropped TCP {} after the 101, having sent no frame at all, and none came from the server: it most likely rejected the upgrade answer (a client that refuses a 101 ends the connection at once, without a close frame; the page sees 1006), rather than losing its network",
            human_ms(after)
        ),
        evidence,
        None,
    ));
}

/// What in `open`'s accepted 101, as the client got it, a client may refuse, each a phrase: its number of header
/// lines (always said, with a warning past [`MANY_HEADER_LINES`]), a header line past [`LONG_HEADER_LINE`] bytes,
/// a value with a control character or a byte that is not ASCII. Empty for a refused upgrade.
pub fn suspects(open: &Open) -> Vec<String> {
    let Some(response) = super::handshake::accepted(open) else {
        return Vec::new();
    };
    // frametap's own request means frametap relayed the 101: its own upgrade headers, the upstream's end-to-end
    // ones, and the `date` hyper adds when the upstream sent none. Otherwise (an imported recording) the headers
    // are as the client got them.
    let headers = if open.upstream_request.is_some() {
        let mut relayed = crate::proxy::server::switching_protocols_headers(b"");
        relayed.extend(crate::proxy::headers::client_response_headers(&response.headers));
        if crate::event::header(&relayed, "date").is_none() {
            relayed.push(("date".into(), String::new()));
        }
        relayed
    } else {
        response.headers.clone()
    };
    let lines = headers.len();
    let mut suspects = vec![if lines > MANY_HEADER_LINES {
        format!(
            "the 101 the client got had {lines} header lines: more than many clients read (tungstenite at most 124, Python's websockets 128), and a client refuses an answer past its limit"
        )
    } else {
        format!("the 101 the client got had {lines} header lines, fewer than any common client's limit")
    }];
    for (name, value) in &headers {
        let line = name.len() + 2 + value.len();
        if line > LONG_HEADER_LINE {
            suspects.push(format!(
                "its {name} header line is {line} bytes long: Python's websockets refuses a line past {LONG_HEADER_LINE}"
            ));
        }
        if value.chars().any(|c| !(c == '\t' || (' '..='~').contains(&c))) {
            suspects.push(format!(
                "its {name} header's value holds a control character or a character that is not ASCII ({:?}), which a strict client refuses",
                value.chars().take(60).collect::<String>()
            ));
        }
    }
    suspects
}

#[cfg(test)]
mod tests {
    use crate::event::Record;
    use crate::inspect::{AnalysisOptions, Analyzer};

    /// The rules named in the diagnosis of a client that dropped TCP 1.6 s after its request arrived, having sent
    /// nothing, on an upgrade whose request round trip took 5 ms; `upgraded_ms`: when the 101 went to the client.
    fn rules_for_a_silent_drop(upgraded_ms: Option<f64>) -> Vec<String> {
        let upgraded = upgraded_ms.map(|ms| format!(r#","upgraded_ms":{ms:.1}"#)).unwrap_or_default();
        let open = format!(
            r#"{{"kind":"open","conn":1,"ts":"2026-11-25T10:00:00.000000Z","request":{{"method":"GET","path":"/chat","headers":[]}},"response":{{"status":101,"headers":[]}},"handshake_ms":5.0{upgraded}}}"#
        );
        let close = r#"{"kind":"close","conn":1,"ts":"2026-11-25T10:00:01.600000Z","initiator":"client","clean":false,"dropped_by":"client","duration_ms":1600.0}"#;
        let mut analyzer = Analyzer::new(AnalysisOptions::default());
        let mut derived = Vec::new();
        for line in [open.as_str(), close] {
            let record: Record = serde_json::from_str(line).unwrap();
            derived.extend(analyzer.observe(&record, record.ts()));
        }
        let Some(Record::Diagnosis(diagnosis)) = derived.into_iter().find(|r| matches!(r, Record::Diagnosis(_))) else {
            panic!("no diagnosis");
        };
        diagnosis.details["causes"].as_array().unwrap().iter().map(|c| c["rule"].as_str().unwrap().to_owned()).collect()
    }

    /// Reaching the upstream took 1.5 s (a slow DNS, TLS or upstream proxy), which the request's round trip leaves
    /// out: the client dropped TCP 100 ms after the 101 it got, a rejection, not 1.595 s after it.
    #[test]
    fn the_window_starts_when_the_101_was_passed_on() {
        assert!(rules_for_a_silent_drop(Some(1500.0)).contains(&"upgrade-rejected".to_owned()));
        // A capture that does not say when (made before frametap recorded it) keeps the request's round trip.
        assert!(!rules_for_a_silent_drop(None).contains(&"upgrade-rejected".to_owned()));
        // A drop long after the 101 is no rejection of it.
        assert!(!rules_for_a_silent_drop(Some(100.0)).contains(&"upgrade-rejected".to_owned()));
    }
}
