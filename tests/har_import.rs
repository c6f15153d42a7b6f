//! HAR import: real-tool fixtures (Chrome, mitmproxy, HTTP Toolkit), entries without frametap's fields, odd or
//! out-of-range messages, and Chrome's WebSocket over HTTP/2 (imported and replayed).

mod common;
#[path = "replay_support/mod.rs"]
mod support;

use common::har::*;
use frametap::capture::read_capture;
use frametap::convert::convert;
use frametap::event::*;
use frametap::har::{har_to_records, HarSource};
use serde_json::json;

#[test]
fn chrome_har_imports_in_array_order_and_says_what_is_missing() {
    let (records, warnings, report) = import_fixture("chrome-genesys.har");
    assert_eq!(report.source, Some(HarSource::Chrome));
    assert_eq!((report.connections, report.frames), (1, 8));
    assert!(warnings.iter().any(|w| w.contains("skipped 1 entry that is not a WebSocket connection")), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("go backwards at message 5")), "{warnings:?}");
    let Record::Meta(meta) = &records[0] else { panic!("meta first") };
    assert_eq!(meta.mode, "import");
    assert_eq!(meta.upstream.as_deref(), Some("wss://webmessaging.mypurecloud.com"));
    let Record::Open(open) = &records[1] else { panic!("open second") };
    assert_eq!(open.request.path, "/v1?deploymentId=6c1b2f0e-4d3a-4b8e-9a51-2f7c3d9e8b10&application=Messenger-1.0.0");
    assert_eq!(header(&open.request.headers, "origin"), Some("https://shop.example.com"));
    let response = open.response.as_ref().unwrap();
    assert_eq!(response.status, 101);
    assert_eq!(header(&response.headers, "sec-websocket-accept"), Some("Iiu/58MAWa9VT4uupkdlP9MBhlM="));
    let frames = frames(&records);
    let seqs: Vec<u64> = frames.iter().map(|f| f.seq).collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
    assert!(frames[0].text().unwrap().contains("configureSession"));
    assert_eq!((frames[0].from, frames[0].to), (Peer::Client, Peer::Server));
    assert!(frames[3].text().unwrap().contains("\"direction\":\"Inbound\""));
    assert!(frames[4].text().unwrap().contains("Typing"), "array order, although its time is earlier");
    assert!(frames[4].ts < frames[3].ts);
    assert!(frames[7].text().unwrap().contains("SessionExpiredEvent"));
    let note = notes(&records).into_iter().find(|n| n.code == "har-import-incomplete").unwrap();
    assert!(note.message.contains("Chrome DevTools") && note.message.contains("no close code"), "{}", note.message);
    assert!(note.message.contains("no Cookie or Authorization header"), "{}", note.message);
    // Chrome's `wait` runs to the last message (61 s here): not the handshake's round trip, so not kept as one.
    assert_eq!(open.handshake_ms, None);
    assert!(note.message.contains("no handshake round trip either"), "{}", note.message);
    assert!(!records.iter().any(|r| matches!(r, Record::Close(_))), "Chrome records no close");
}

#[test]
fn mitmproxy_har_and_zhar_import_alike() {
    let (records, _, report) = import_fixture("mitmproxy-echo.har");
    assert_eq!(report.source, Some(HarSource::Mitmproxy));
    let (zrecords, _, _) = import_fixture("mitmproxy-echo.zhar");
    let body = |r: &[Record]| r[1..r.len() - 1].to_vec();
    assert_eq!(body(&records), body(&zrecords));
    let Record::Open(open) = &records[1] else { panic!() };
    assert_eq!(open.upstream.as_deref(), Some("wss://echo.example.net/socket?room=7"), "https: becomes wss:");
    assert_eq!(open.handshake_ms, Some(9.353));
    let frames = frames(&records);
    assert_eq!(frames.len(), 5);
    assert_eq!(frames[2].opcode, Opcode::Binary);
    assert_eq!(frames[2].payload.as_ref(), &[0, 1, 2, 254, 255]);
    assert_eq!(frames[3].from, Peer::Server);
    assert!(notes(&records)[0].message.contains("mitmproxy"));
}

#[test]
fn har_to_records_rejects_what_is_not_a_websocket_har() {
    let err = har_to_records(&json!({"entries": []})).unwrap_err().to_string();
    assert!(err.contains("no log.entries"), "{err}");
    let err = har_to_records(&json!({"log": {"entries": [{"request": {"url": "wss://x/"}, "_webSocketMessages": [
        {"type": "receive", "time": 1.7e9, "opcode": 2, "data": "***"}]}]}}))
    .unwrap_err();
    assert!(format!("{err:#}").contains("entry 1: message 1: binary data (opcode 2) is not base64"), "{err:#}");
}

/// A frametap HAR whose entries lost their `_frametap` fields (the log's kept): each such entry is imported from its
/// messages, as a Chrome HAR's would be, with a warning, and the `end` record counts what was written.
#[test]
fn entries_stripped_of_their_frametap_fields_import_like_chrome_entries() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original.jsonl");
    write_capture(&original, &rich_capture());
    let har = dir.path().join("session.har");
    convert(&cmd(&original, &har)).unwrap();
    let exported = frametap::har::read_har(&har).unwrap();
    let entry_count = exported["log"]["entries"].as_array().unwrap().len();
    assert!(entry_count >= 2);
    for strip in [vec![1], (0..entry_count).collect::<Vec<_>>()] {
        let mut edited = exported.clone();
        for index in &strip {
            edited["log"]["entries"][index].as_object_mut().unwrap().remove(frametap::har::EXTENSION);
        }
        let name = format!("stripped-{}", strip.len());
        let stripped = dir.path().join(format!("{name}.har"));
        std::fs::write(&stripped, serde_json::to_vec(&edited).unwrap()).unwrap();
        let back = dir.path().join(format!("{name}.jsonl"));
        let report = convert(&cmd(&stripped, &back)).unwrap();
        let warned = report.warnings.iter().filter(|w| w.contains("has no _frametap fields")).count();
        assert_eq!(warned, strip.len(), "{name}: {:?}", report.warnings);
        let capture = read_capture(&back).unwrap();
        // The fixture's odd records (a payload kept short of its `len`, a frame of a connection with no open) are
        // kept as they are, with their warnings.
        assert!(capture.has_end && capture.lost().next().is_none(), "{name}: {:?}", capture.problems);
        let Some((Record::End(end), rest)) = capture.records.split_last() else { panic!("{name}: no end") };
        let opens: Vec<ConnId> =
            rest.iter().filter_map(|r| if let Record::Open(o) = r { Some(o.conn) } else { None }).collect();
        let mut distinct = opens.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), opens.len(), "{name}: connection ids stay distinct: {opens:?}");
        assert_eq!(capture.connections().len(), entry_count, "{name}: every entry is a connection");
        let count = |kind: &str| rest.iter().filter(|r| r.kind() == kind).count() as u64;
        assert_eq!((end.connections, end.frames, end.records), (count("open"), count("frame"), rest.len() as u64));
        assert!(!end.complete && end.errors.len() == strip.len(), "{name}: {end:?}");
        // Each stripped entry's data messages are there as frames of its connection (an `error` item, a failed
        // upgrade's reason, becomes a note).
        for index in &strip {
            let messages = edited["log"]["entries"][index]["_webSocketMessages"].as_array().unwrap();
            let messages: Vec<_> = messages.iter().filter(|m| m["type"] != "error").collect();
            let conn = opens[opens.len() - strip.len() + strip.iter().position(|i| i == index).unwrap()];
            let frames = rest.iter().filter(|r| matches!(r, Record::Frame(f) if f.conn == conn)).count();
            assert_eq!(frames, messages.len(), "{name}: entry {index}");
        }
    }
}

#[test]
fn a_chrome_entry_that_never_connected_is_not_said_to_have_got_a_502_from_frametap() {
    let har = json!({"log": {"creator": {"name": "WebInspector", "version": "537.36"}, "entries": [{
        "startedDateTime": "2026-11-26T10:00:01.000Z", "time": 3.0, "_resourceType": "websocket",
        "request": {"method": "GET", "url": "wss://example.test/ws", "headers": []},
        "response": {"status": 0, "headers": [], "_error": "net::ERR_CONNECTION_REFUSED"},
        "_webSocketMessages": []
    }]}});
    let (records, _) = har_to_records(&har).unwrap();
    let note = notes(&records).into_iter().find(|n| n.code == "har-import-incomplete").unwrap().message.clone();
    assert!(note.contains("the WebSocket never opened") && !note.contains("how this connection ended"), "{note}");
    // The import writes the diagnosis beside the records, as the live proxy does (the web UI and a converted
    // capture show it), and it is what a fresh analysis derives.
    let imported = records.iter().find_map(|r| if let Record::Diagnosis(d) = r { Some(d.clone()) } else { None });
    let diagnosis = common::first_diagnosis(&records);
    assert_eq!(imported.as_ref(), Some(&diagnosis));
    let evidence = diagnosis.details["causes"][0]["evidence"].to_string();
    assert!(evidence.contains("the recording says it failed: net::ERR_CONNECTION_REFUSED"), "{evidence}");
    assert!(!evidence.contains("502"), "{evidence}");
    // Placed as the live proxy places it: after the notes about the handshake; it took the entry's time.
    let kinds: Vec<&str> = records.iter().filter(|r| r.conn() == Some(1)).map(|r| r.kind()).collect();
    assert_eq!(kinds, ["open", "note", "diagnosis"]);
    assert_eq!(diagnosis.details["duration_ms"], 3.0);
}

#[test]
fn messages_dated_before_the_entry_start_are_said_so_not_called_backwards() {
    let har = json!({"log": {"creator": {"name": "WebInspector", "version": "537.36"}, "entries": [{
        "startedDateTime": "2026-11-26T10:00:30.000Z", "time": 3.0, "_resourceType": "websocket",
        "request": {"method": "GET", "url": "wss://example.test/ws", "headers": []},
        "response": {"status": 101, "headers": []},
        "_webSocketMessages": [
            {"type": "send", "time": 1795687206.0, "opcode": 1, "data": "first"},
            {"type": "receive", "time": 1795687207.0, "opcode": 1, "data": "second"}
        ]
    }]}});
    let (_, warnings) = har_to_records(&har).unwrap();
    assert!(!warnings.iter().any(|w| w.contains("go backwards")), "the times rise: {warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("dated before the entry's startedDateTime")), "{warnings:?}");
}

/// Hand-edited or other tools' HARs: a message whose `data` is no string (an exporter that parsed JSON payloads),
/// one without `data`, one without a `time`. None is dropped or emptied silently.
#[test]
fn messages_with_missing_or_odd_fields_are_kept_and_warned_about() {
    let har = json!({"log": {"creator": {"name": "WebInspector"}, "entries": [{
        "startedDateTime": "2026-11-26T10:00:00.000Z",
        "time": 5000,
        "request": {"method": "GET", "url": "wss://example.com/socket", "headers": []},
        "response": {"status": 101, "headers": []},
        "_resourceType": "websocket",
        "_webSocketMessages": [
            {"type": "send", "time": 1795687201.0, "opcode": 1, "data": {"action": "subscribe", "n": 1}},
            {"type": "receive", "time": 1795687202.0, "opcode": 1},
            {"type": "send", "opcode": 1, "data": "no time"},
            {"type": "receive", "time": 1795687203.0, "opcode": 1, "data": "last"}
        ]
    }]}});
    let (records, warnings) = har_to_records(&har).unwrap();
    let frames = frames(&records);
    let texts: Vec<&str> = frames.iter().map(|f| f.text().unwrap()).collect();
    assert_eq!(texts, [r#"{"action":"subscribe","n":1}"#, "", "no time", "last"], "every message, in order");
    let warned = |needle: &str| assert!(warnings.iter().any(|w| w.contains(needle)), "{needle:?} in {warnings:#?}");
    warned("entry 1, message 1: `data` is not a string (an object): imported as its JSON text");
    warned("entry 1, message 2: no `data`: imported as an empty message");
    warned("entry 1, message 3: no usable `time`: dated as the message before it");
    assert_eq!(frames[2].ts, frames[1].ts);
}

/// A message `time` no capture can hold (1e300 seconds) is warned about, and the message kept, dated as the
/// message before it.
#[test]
fn a_message_time_out_of_range_is_warned_about_and_the_message_kept() {
    let har = json!({"log": {"creator": {"name": "WebInspector"}, "entries": [{
        "startedDateTime": "2026-11-26T10:00:00.000Z", "time": 5000, "_resourceType": "websocket",
        "request": {"method": "GET", "url": "wss://example.com/socket", "headers": []},
        "response": {"status": 101, "headers": []},
        "_webSocketMessages": [
            {"type": "send", "time": 1795687201.0, "opcode": 1, "data": "first"},
            {"type": "receive", "time": 1e300, "opcode": 1, "data": "far off"},
            {"type": "send", "time": 1795687203.0, "opcode": 1, "data": "last"}
        ]
    }]}});
    let (records, warnings) = har_to_records(&har).unwrap();
    let frames = frames(&records);
    let texts: Vec<&str> = frames.iter().map(|f| f.text().unwrap()).collect();
    assert_eq!(texts, ["first", "far off", "last"]);
    assert_eq!(frames[1].ts, frames[0].ts, "dated as the message before it");
    assert!(warnings.iter().any(|w| w.contains("entry 1, message 2: `time` 1e300 is out of range")), "{warnings:#?}");
}

/// A Chrome HAR of a WebSocket over HTTP/2 (RFC 8441): the extended CONNECT is answered 200, not 101, with a
/// `:status` pseudo-header. The import took it for an upgrade refused with 200 — "[certain] the WebSocket never
/// opened" beside the messages it carried — and `replay serve` answered 500 (":status" is no header name).
fn chrome_http2_websocket_har() -> serde_json::Value {
    json!({"log": {"creator": {"name": "WebInspector", "version": "537.36"}, "pages": [], "entries": [{
        "startedDateTime": "2026-11-26T10:00:00.000Z", "time": 2500.0, "_resourceType": "websocket",
        "request": {"method": "CONNECT", "url": "wss://chat.example.test/socket", "httpVersion": "h2", "headers": [
            {"name": ":method", "value": "CONNECT"}, {"name": ":protocol", "value": "websocket"},
            {"name": ":authority", "value": "chat.example.test"}, {"name": ":scheme", "value": "https"},
            {"name": ":path", "value": "/socket"}, {"name": "origin", "value": "https://shop.example.com"},
            {"name": "sec-websocket-version", "value": "13"}]},
        "response": {"status": 200, "statusText": "", "httpVersion": "h2",
            "headers": [{"name": ":status", "value": "200"}, {"name": "date", "value": "Thu, 26 Nov 2026 10:00:00 GMT"}],
            "content": {"size": 0, "mimeType": "x-unknown"}},
        "timings": {"blocked": -1, "dns": -1, "ssl": -1, "connect": -1, "send": 0, "wait": 12.5, "receive": 0},
        "_webSocketMessages": [
            {"type": "send", "time": 1795687200.5, "opcode": 1, "data": "{\"op\":\"hello\"}"},
            {"type": "receive", "time": 1795687201.0, "opcode": 1, "data": "{\"op\":\"welcome\"}"}
        ]
    }]}})
}

#[test]
fn a_chrome_websocket_over_http2_is_imported_as_opened() {
    let (records, warnings) = har_to_records(&chrome_http2_websocket_har()).unwrap();
    let open = records.iter().find_map(|r| if let Record::Open(o) = r { Some(o) } else { None }).unwrap();
    let response = open.response.as_ref().unwrap();
    assert_eq!(response.status, 101, "{open:?}");
    assert!(response.headers.iter().all(|(name, _)| !name.starts_with(':')), "{response:?}");
    assert_eq!(open.failed_ms, None);
    assert!(warnings.iter().any(|w| w.contains("a WebSocket over HTTP/2 or HTTP/3")), "{warnings:?}");
    let note = notes(&records).into_iter().find(|n| n.code == "har-import-incomplete").unwrap().message.clone();
    assert!(note.contains("opened over HTTP/2") && !note.contains("never opened"), "{note}");
    assert_eq!(frames(&records).len(), 2);
    let refused = records
        .iter()
        .any(|r| matches!(r, Record::Diagnosis(d) if format!("{:?}", d.details).contains("upgrade-refused")));
    assert!(!refused, "a WebSocket that carried messages is not a refused upgrade: {records:?}");
    // An HTTP/1.1 answer of 200 to an upgrade, with no message, stays what it is: a refusal.
    let mut plain = chrome_http2_websocket_har();
    let entry = &mut plain["log"]["entries"][0];
    entry["request"]["method"] = json!("GET");
    entry["request"]["httpVersion"] = json!("HTTP/1.1");
    entry["request"]["headers"] = json!([{"name": "Host", "value": "chat.example.test"}]);
    entry["response"]["httpVersion"] = json!("HTTP/1.1");
    entry["_webSocketMessages"] = json!([]);
    let (records, _) = har_to_records(&plain).unwrap();
    let open = records.iter().find_map(|r| if let Record::Open(o) = r { Some(o) } else { None }).unwrap();
    assert_eq!(open.response.as_ref().unwrap().status, 200);
}

/// `replay serve` of that HAR upgrades a real client and plays the recorded server message (it answered 500).
#[tokio::test]
async fn replay_serve_plays_a_chrome_websocket_over_http2() {
    let dir = tempfile::tempdir().unwrap();
    let har = dir.path().join("h2.har");
    std::fs::write(&har, chrome_http2_websocket_har().to_string()).unwrap();
    let (addr, stop, _reports) = support::start_serving(&har, &dir.path().join("out.jsonl")).await;
    let mut ws = support::connect(addr, "/socket").await;
    ws.send(true, Opcode::Text, b"{\"op\":\"hello\"}").await;
    let (opcode, _, payload) = support::read(&mut ws).await.expect("the recorded server message");
    assert_eq!((opcode, payload.as_slice()), (Opcode::Text, &b"{\"op\":\"welcome\"}"[..]));
    let _ = stop.send(());
}

/// Chromium 156's own HAR export (DevTools' `HAR.Log.build`, what "Export HAR (with sensitive data)" writes) of a page
/// whose WebSockets went through `frametap proxy` to its simulator: one that talked (text both ways, then binary),
/// one to a port with no listener, one the server refused (400). Every message comes in, at Chrome's time to the
/// microsecond; a failed one's reason, which Chrome 156 writes only as an `error` message (`_error` is null), is the
/// connection's error.
#[test]
fn a_chromium_156_export_imports_with_every_message() {
    let (records, warnings, report) = import_fixture("chrome156-sim.har");
    assert_eq!(report.source, Some(HarSource::Chrome));
    assert_eq!((report.connections, report.frames), (3, 3), "{warnings:?}");
    let har = frametap::har::read_har(&fixture("chrome156-sim.har")).unwrap();
    let messages = har["log"]["entries"][1]["_webSocketMessages"].as_array().unwrap();
    let frames = frames(&records);
    assert_eq!(frames.len(), messages.len());
    for (frame, message) in frames.iter().zip(messages) {
        let data = message["data"].as_str().unwrap();
        let from = if message["type"] == "send" { Peer::Client } else { Peer::Server };
        assert_eq!(frame.from, from, "{message}");
        let opcode = Opcode::from_u8(message["opcode"].as_u64().unwrap() as u8);
        assert_eq!(frame.opcode, opcode, "{message}");
        let sent = match opcode {
            Opcode::Binary => base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data).unwrap(),
            _ => data.as_bytes().to_vec(),
        };
        assert_eq!(frame.payload.as_ref(), sent.as_slice(), "{message}");
        let micros = (message["time"].as_f64().unwrap() * 1e6).round() as i64;
        assert_eq!(frame.ts.micros(), micros, "{message}");
    }
    let errors: Vec<Option<&str>> =
        records.iter().filter_map(|r| if let Record::Open(o) = r { Some(o.error.as_deref()) } else { None }).collect();
    assert_eq!(
        errors,
        [
            None,
            Some("Error in connection establishment: net::ERR_CONNECTION_REFUSED"),
            Some("Error during WebSocket handshake: Unexpected response code: 400"),
        ]
    );
    // The refused one is dated 1969 by Chromium itself: the warning says so, not that the HAR is from an old Chrome.
    let undated: Vec<&String> =
        warnings.iter().filter(|w| w.contains("monotonic") || w.contains("wall-clock")).collect();
    assert_eq!(undated.len(), 1, "{warnings:?}");
    assert!(undated[0].contains(": the recording has no wall-clock time"), "{undated:?}");
    assert!(undated[0].contains("1969-12-31T23:59:59") && !undated[0].contains("old Chrome"), "{undated:?}");
}
