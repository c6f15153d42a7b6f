//! HAR import of Playwright's `recordHar` files: message times in epoch milliseconds, a WebSocket that failed with
//! `_failureText`, times not recorded (`-1`), and messages kept in an attached file. The two fixtures were recorded
//! by Playwright 1.65.1 driving headless Chromium 156 against `frametap sim genesys` (docs/replay.md). And what
//! `inspect` says of a HAR that records no close.

mod common;

use common::har::*;
use frametap::event::*;
use frametap::har::{har_to_records, HarSource};
use serde_json::json;

#[test]
fn a_playwright_har_imports_with_its_millisecond_times() {
    let (records, warnings, report) = import_fixture("playwright-genesys.har");
    assert_eq!(report.source, Some(HarSource::Playwright));
    assert_eq!((report.connections, report.frames), (1, 8));
    assert_eq!(warnings, ["skipped 1 entry that is not a WebSocket connection (plain HTTP)"], "no time is refused");
    let Record::Open(open) = &records[1] else { panic!("open second") };
    assert_eq!(header(&open.request.headers, "origin"), Some("http://127.0.0.1:19555"));
    let frames = frames(&records);
    // Playwright's `time`s are epoch milliseconds: read as such, the 8 messages span the 37 ms the entry says.
    let span = frames[7].ts.micros() - frames[0].ts.micros();
    assert_eq!(span, 36_967, "the first message at 1795771765711.502 ms, the last at 1795771765748.469 ms");
    assert!(frames.windows(2).all(|w| w[0].ts <= w[1].ts), "in order");
    assert!(frames[0].ts >= open.ts, "not before the WebSocket's own start");
    assert!(frames[0].ts.micros() - open.ts.micros() < 1_000_000, "within a second of it");
    assert!(frames[4].text().unwrap().contains("no action"));
    let note = notes(&records).into_iter().find(|n| n.code == "har-import-incomplete").unwrap();
    assert!(note.message.contains("saved by Playwright") && note.message.contains("no close code"), "{}", note.message);
    let linted =
        records.iter().any(|r| matches!(r, Record::Annotation(a) if a.seq == 5 && a.text.contains("no `action`")));
    assert!(linted, "the request without `action` is flagged as the live proxy flags it");
}

/// Chrome refused the WebSocket before any upgrade (a `data:` page reaching loopback: Local Network Access); Playwright
/// says why in `_failureText`, which the import keeps as the connection's error and the diagnosis quotes.
#[test]
fn a_playwright_websocket_that_failed_says_why() {
    let (records, _, report) = import_fixture("playwright-blocked.har");
    assert_eq!(report.source, Some(HarSource::Playwright));
    let Record::Open(open) = &records[1] else { panic!("open second") };
    let why = "Error in connection establishment: net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS";
    assert_eq!(open.error.as_deref(), Some(why));
    let diagnosis = records.iter().find_map(|r| if let Record::Diagnosis(d) = r { Some(d) } else { None });
    let summary = diagnosis.expect("a diagnosis").details["summary"].as_str().unwrap().to_owned();
    assert!(summary.contains("ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS"), "{summary}");
}

fn playwright_har(messages: serde_json::Value, content: serde_json::Value) -> serde_json::Value {
    json!({"log": {"creator": {"name": "Playwright", "version": "1.65.1"}, "entries": [{
        "startedDateTime": "2026-11-27T09:29:25.711Z", "time": -1, "_resourceType": "websocket",
        "request": {"method": "GET", "url": "wss://webmessaging.example.com/v1?deploymentId=d", "headers": []},
        "response": {"status": 101, "headers": [], "content": content},
        "timings": {"send": -1, "wait": -1, "receive": -1},
        "_webSocketMessages": messages
    }]}})
}

/// With `omitTiming` every `time` is -1; and times no capture can hold: one warning per kind, naming the messages.
#[test]
fn times_not_recorded_or_out_of_range_are_said_once_per_kind() {
    let message = |time: f64, data: &str| json!({"type": "send", "time": time, "opcode": 1, "data": data});
    let messages =
        json!([message(-1.0, "a"), message(-1.0, "b"), message(1e300, "c"), message(2e300, "d"), message(-1.0, "e")]);
    let (records, warnings) = har_to_records(&playwright_har(messages, json!({"size": -1}))).unwrap();
    let texts: Vec<&str> = frames(&records).iter().map(|f| f.text().unwrap()).collect();
    assert_eq!(texts, ["a", "b", "c", "d", "e"], "every message kept");
    let about_times: Vec<&String> = warnings.iter().filter(|w| w.contains("`time`")).collect();
    assert_eq!(
        about_times,
        [
            "entry 1, 3 messages (the first: 1): `time` -1 (not recorded): dated as the message before it",
            "entry 1, 2 messages (the first: 3): `time` 1e300 (milliseconds) is out of range (no date a capture can \
             hold): dated as the message before it"
        ],
        "{warnings:#?}"
    );
}

/// `inspect` on a HAR whose tool records no close says the HAR lacks it, not that the capture was cut short or still
/// open.
#[test]
fn inspect_says_the_har_does_not_record_how_the_connection_ended() {
    let report = inspect_report(fixture("playwright-genesys.har"));
    assert!(report.contains("no close record: the HAR does not record how this connection ended"), "{report}");
    assert!(!report.contains("still open") && !report.contains("cut short"), "{report}");
}
