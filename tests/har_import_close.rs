//! HAR import of how connections ended: who closed (or that the HAR does not say), aborted entries, close frames
//! and raw close payloads among the messages, and close times.

mod common;

use common::har::*;
use frametap::event::*;
use frametap::har::{har_to_records, HarSource};
use serde_json::json;

#[test]
fn http_toolkit_close_is_kept_without_a_guess_at_the_closer() {
    let (records, _, report) = import_fixture("httptoolkit-genesys.har");
    assert_eq!(report.source, Some(HarSource::HttpToolkit));
    let Record::Open(open) = &records[1] else { panic!() };
    assert_eq!(open.ts.to_rfc3339(), "2026-11-24T14:10:44.120000Z", "+01:00 becomes UTC");
    let close = records.iter().find_map(|r| if let Record::Close(c) = r { Some(c) } else { None }).unwrap();
    assert_eq!((close.code, close.reason.as_deref()), (Some(4000), Some("feature unavailable")));
    assert!(close.detail.as_deref().unwrap().contains("not who closed first"));
    assert!((close.duration_ms - 5021.7).abs() < 0.01, "{}", close.duration_ms);
    assert!(notes(&records)[0].message.contains("close code and reason are kept"));
}

/// HTTP Toolkit's `"_webSocketClose": "aborted"` carries no time; `startedDateTime` + `time` can end before the
/// messages do. The close is dated no earlier than the last message, so the diagnosis has no negative gap.
#[test]
fn an_aborted_http_toolkit_close_comes_after_the_messages() {
    let har = json!({"log": {"creator": {"name": "HTTP Toolkit", "version": "1"}, "entries": [{
        "startedDateTime": "2024-05-01T10:00:01.000Z", "time": 120.5,
        "request": {"method": "GET", "url": "wss://example.test/ws", "headers": []},
        "response": {"status": 101, "headers": []},
        "_webSocketClose": "aborted",
        "_webSocketMessages": [
            {"type": "send", "time": 1714557601.2, "opcode": 1, "data": "hello"},
            {"type": "receive", "time": 1714557602.1, "opcode": 1, "data": "world"}
        ]
    }]}});
    let (records, _) = har_to_records(&har).unwrap();
    let last_frame = records.iter().filter_map(|r| if let Record::Frame(f) = r { Some(f.ts) } else { None }).max();
    let close = records.iter().find_map(|r| if let Record::Close(c) = r { Some(c) } else { None }).unwrap();
    assert!(Some(close.ts) >= last_frame, "close at {:?}, last message at {last_frame:?}", close.ts);
    assert!((close.duration_ms - 1100.0).abs() < 0.01, "{}", close.duration_ms);
    assert!(close.detail.as_deref().unwrap().contains("dated at the last message"), "{close:?}");
    let diagnosis = common::first_diagnosis(&records);
    let gap = diagnosis.details["preceding"]["gap_ms"].as_f64().unwrap();
    assert!(gap >= 0.0, "negative gap {gap} in {:?}", diagnosis.details);
}

/// HTTP Toolkit's `_webSocketClose` (and a frametap HAR stripped of its `_frametap` fields) says the close code but
/// not who closed: the import says the closer is unknown, and the diagnosis claims no side for it.
#[test]
fn a_har_close_that_does_not_say_who_closed_is_not_blamed_on_the_server() {
    let (records, _, _) = import_fixture("httptoolkit-genesys.har");
    let close = records.iter().find_map(|r| if let Record::Close(c) = r { Some(c) } else { None }).unwrap();
    assert!(close.initiator_unknown && close.closer().is_none(), "{close:?}");
    let line = serde_json::to_value(close).unwrap();
    assert_eq!(line["initiator_unknown"], true, "{line}");
    let diagnosis = common::first_diagnosis(&records);
    assert_eq!(diagnosis.details["initiator"], "unknown");
    let summary = diagnosis.details["summary"].as_str().unwrap();
    assert!(summary.starts_with("closed with 4000") && summary.contains("does not say by whom"), "{summary}");
    let causes = diagnosis.details["causes"].as_array().unwrap();
    for cause in causes {
        let message = cause["message"].as_str().unwrap();
        assert!(!message.contains("the server closed") && !message.contains("client closed"), "{cause}");
        assert_ne!(cause["confidence"], "likely", "{cause}");
    }
    let code = causes.iter().find(|c| c["rule"] == "close-code").expect("a close-code cause");
    assert!(code["message"].as_str().unwrap().contains("does not say which side closed"), "{code}");
    let block = frametap::inspect::report::render_diagnosis(&diagnosis, false);
    assert!(block.contains(": an unknown side closed, reason"), "{block}");
    assert_eq!(close.closer_phrase(), "an unknown side");
}

/// Close frames among the messages (opcode 8, as Chrome records them) say who closed first.
#[test]
fn close_frames_in_a_har_say_who_closed_first() {
    let entry = |first: &str, second: &str| {
        json!({"log": {"creator": {"name": "HTTP Toolkit", "version": "1"}, "entries": [{
            "startedDateTime": "2024-05-01T10:00:01.000Z", "time": 1500.0,
            "request": {"method": "GET", "url": "wss://example.test/ws", "headers": []},
            "response": {"status": 101, "headers": []},
            "_webSocketClose": {"code": 4000, "reason": "bye", "timestamp": 1714557602.5},
            "_webSocketMessages": [
                {"type": "send", "time": 1714557601.2, "opcode": 1, "data": "hello"},
                {"type": first, "time": 1714557602.1, "opcode": 8, "code": 4000, "data": "bye"},
                {"type": second, "time": 1714557602.2, "opcode": 8, "code": 4000, "data": "bye"}
            ]
        }]}})
    };
    for (first, second, closer) in [("send", "receive", Peer::Client), ("receive", "send", Peer::Server)] {
        let (records, _) = har_to_records(&entry(first, second)).unwrap();
        let close = records.iter().find_map(|r| if let Record::Close(c) = r { Some(c) } else { None }).unwrap();
        assert_eq!(close.closer(), Some(closer), "{close:?}");
        assert!(close.clean && close.code == Some(4000), "{close:?}");
        let diagnosis = common::first_diagnosis(&records);
        assert_eq!(diagnosis.details["initiator"], closer.as_str());
    }
    // Without `_webSocketClose`, the close frames alone make the close.
    let mut har = entry("send", "receive");
    har["log"]["entries"][0].as_object_mut().unwrap().remove("_webSocketClose");
    let (records, _) = har_to_records(&har).unwrap();
    let close = records.iter().find_map(|r| if let Record::Close(c) = r { Some(c) } else { None }).unwrap();
    assert_eq!((close.closer(), close.code, close.reason.as_deref()), (Some(Peer::Client), Some(4000), Some("bye")));
}

/// A HAR close recorded as "aborted" that has close frames among its messages: the close frames say who closed,
/// with what code and reason; the diagnosis describes the abort as the recording has it (no close timeout of
/// frametap's ran), and a close the other side answered is a completed close handshake.
#[test]
fn an_aborted_close_with_close_frames_is_told_from_the_frames() {
    let entry = |creator: &str, answered: bool| {
        let mut messages = vec![
            json!({"type": "receive", "time": 1714557601.2, "opcode": 1, "data": "hello"}),
            json!({"type": "send", "time": 1714557602.1, "opcode": 8, "code": 1000, "data": "bye"}),
        ];
        if answered {
            messages.push(json!({"type": "receive", "time": 1714557602.2, "opcode": 8, "code": 1000, "data": "bye"}));
        }
        json!({"log": {"creator": {"name": creator, "version": "1"}, "entries": [{
            "startedDateTime": "2024-05-01T10:00:01.000Z", "time": 1500.0, "_resourceType": "websocket",
            "request": {"method": "GET", "url": "wss://example.test/ws", "headers": []},
            "response": {"status": 101, "headers": []},
            "_webSocketClose": "aborted",
            "_webSocketMessages": messages
        }]}})
    };
    for creator in ["WebInspector", "HTTP Toolkit"] {
        let (records, _) = har_to_records(&entry(creator, false)).unwrap();
        let close = records.iter().find_map(|r| if let Record::Close(c) = r { Some(c) } else { None }).unwrap();
        assert_eq!(
            (close.closer(), close.code, close.reason.as_deref()),
            (Some(Peer::Client), Some(1000), Some("bye"))
        );
        assert!(!close.clean && close.dropped_by.is_none(), "{close:?}");
        let detail = close.detail.as_deref().unwrap();
        assert!(
            detail.contains("the server's answer is not among the messages") && detail.contains("aborted"),
            "{detail}"
        );
        let imported = records.iter().find_map(|r| if let Record::Diagnosis(d) = r { Some(d.clone()) } else { None });
        let d = common::first_diagnosis(&records);
        assert_eq!(imported.as_ref(), Some(&d), "the import writes the diagnosis a fresh analysis derives");
        let text = serde_json::to_string(&d.details).unwrap();
        assert!(!text.contains("timeout") && !text.contains("timed out"), "no close timeout ran: {text}");
        let causes = d.details["causes"].as_array().unwrap();
        let rule =
            |name: &str| causes.iter().find(|c| c["rule"] == name).unwrap_or_else(|| panic!("no {name}: {text}"));
        assert!(rule("client-closed")["message"].as_str().unwrap().contains("(1000 \"bye\")"), "{text}");
        let unanswered = rule("close-unanswered")["message"].as_str().unwrap();
        assert!(
            unanswered.contains("the client closed first; the recording holds no close frame from the server and marks the connection aborted, without saying which side ended TCP or why"),
            "{unanswered}"
        );
        assert_eq!(d.details["how"], "closed, but the close handshake never completed");
        let summary = d.details["summary"].as_str().unwrap();
        assert!(summary.starts_with("client closed with 1000 Normal Closure after server frame #1"), "{summary}");

        // The server answered: the close handshake completed before the abort.
        let (records, _) = har_to_records(&entry(creator, true)).unwrap();
        let close = records.iter().find_map(|r| if let Record::Close(c) = r { Some(c) } else { None }).unwrap();
        assert!(close.clean, "{close:?}");
        let detail = close.detail.as_deref().unwrap();
        assert!(detail.contains("the server answered it; then the HAR records the connection as aborted"), "{detail}");
        let d = common::first_diagnosis(&records);
        let text = serde_json::to_string(&d.details).unwrap();
        assert!(!text.contains("timeout") && !text.contains("close-unanswered"), "{text}");
        assert_eq!(d.details["how"], "closed");
    }
}

/// A close message without `code` whose `data` is the raw close payload as text (2 bytes of code, then the
/// reason), as some tools save it: the code is read from those 2 characters when they are bytes (U+0000–U+00FF)
/// and make a close code, and never made up from text that is no close payload (a reason alone, a code byte
/// lost to a U+FFFD when the tool decoded the bytes as UTF-8): then the frame keeps no code, and a warning quotes
/// the `data`.
#[test]
fn close_data_holding_the_raw_close_payload_gives_its_code_or_a_warning_never_a_made_up_code() {
    let har = |data: &str| {
        json!({"log": {"creator": {"name": "WebInspector"}, "entries": [{
            "startedDateTime": "2026-11-26T10:00:00.000Z", "time": 5000, "_resourceType": "websocket",
            "request": {"method": "GET", "url": "wss://example.com/socket", "headers": []},
            "response": {"status": 101, "headers": []},
            "_webSocketMessages": [
                {"type": "receive", "time": 1795687201.0, "opcode": 1, "data": "hello"},
                {"type": "receive", "time": 1795687202.0, "opcode": 8, "data": data}
            ]
        }]}})
    };
    let close_of = |data: &str| {
        let (records, warnings) = har_to_records(&har(data)).unwrap();
        let frame = records
            .iter()
            .find_map(|r| match r {
                Record::Frame(f) if f.opcode == Opcode::Close => Some(f.clone()),
                _ => None,
            })
            .expect("the close frame is kept");
        let close = records.iter().find_map(|r| if let Record::Close(c) = r { Some(c.clone()) } else { None });
        (frame.close_parts(), close.and_then(|c| c.code), warnings)
    };
    // 1000 "bye" as bytes in Latin-1 characters, and 4000 with a non-ASCII reason.
    let (parts, code, warnings) = close_of("\u{3}\u{e8}bye");
    assert_eq!((parts, code), ((Some(1000), Some("bye".to_owned())), Some(1000)), "{warnings:?}");
    assert!(warnings.iter().all(|w| !w.contains("close")), "{warnings:?}");
    let (parts, _, _) = close_of("\u{f}\u{a0}fermé");
    assert_eq!(parts, (Some(4000), Some("fermé".to_owned())));
    // The reason's UTF-8 bytes one character each, as the code's are: read back as the bytes ("café"), not as the
    // characters they look like ("cafÃ©"), with or without a `code` beside them.
    let (parts, code, _) = close_of("\u{3}\u{e8}caf\u{c3}\u{a9}");
    assert_eq!((parts, code), ((Some(1000), Some("café".to_owned())), Some(1000)));
    let mut with_code = har("\u{3}\u{e8}caf\u{c3}\u{a9}");
    with_code["log"]["entries"][0]["_webSocketMessages"][1]["code"] = json!(1000);
    let (records, _) = har_to_records(&with_code).unwrap();
    let reason = records.iter().find_map(|r| if let Record::Close(c) = r { c.reason.clone() } else { None });
    assert_eq!(reason.as_deref(), Some("café"));
    // The code's second byte lost (U+FFFD), or a reason alone: no code made up, and a warning quoting the data.
    for data in ["\u{3}\u{fffd}bye", "going away"] {
        let (parts, code, warnings) = close_of(data);
        assert_eq!((parts.0, code), (None, None), "{data:?}: no code made up");
        let quoted = format!("{data:?}");
        assert!(
            warnings.iter().any(|w| w.contains("entry 1, message 2: close `data` ")
                && w.contains(&quoted)
                && w.contains("imported without a code")),
            "{data:?}: {warnings:#?}"
        );
    }
}

/// A close time no capture can hold (`_webSocketClose.timestamp` 1e300, or a string), or an entry `time` that gives
/// none, is warned about as out-of-range message times are, saying what the close was dated by instead.
#[test]
fn a_close_time_out_of_range_is_warned_about_and_the_close_dated_otherwise() {
    let entry = |close: serde_json::Value, time: serde_json::Value| {
        let mut entry = json!({
            "startedDateTime": "2026-11-26T10:00:00.000Z", "time": time, "_resourceType": "websocket",
            "request": {"method": "GET", "url": "wss://example.com/socket", "headers": []},
            "response": {"status": 101, "headers": []},
            "_webSocketMessages": [
                {"type": "send", "time": 1795687201.0, "opcode": 1, "data": "first"},
                {"type": "receive", "time": 1795687202.0, "opcode": 8, "code": 1000, "data": "bye"}
            ]
        });
        if !close.is_null() {
            entry["_webSocketClose"] = close;
        }
        json!({"log": {"creator": {"name": "HTTP Toolkit"}, "entries": [entry]}})
    };
    let close_of = |records: &[Record]| {
        records.iter().find_map(|r| if let Record::Close(c) = r { Some(c.clone()) } else { None }).unwrap()
    };
    let cases = [
        (
            json!({"code": 1000, "reason": "bye", "timestamp": 1e300}),
            json!(900_000_000.0),
            "entry 1: `_webSocketClose.timestamp` 1e300 is out of range (no date a capture can hold): the close is \
             dated by startedDateTime + the entry's `time`",
        ),
        (
            json!({"code": 1000, "reason": "bye", "timestamp": "soon"}),
            json!(900_000_000.0),
            "entry 1: `_webSocketClose.timestamp` \"soon\" is not a number: the close is dated by startedDateTime + \
             the entry's `time`",
        ),
        (
            json!(null),
            json!(1e300),
            "entry 1: the entry's `time` 1e300 is out of range (no date a capture can hold): the close is dated by \
             startedDateTime",
        ),
    ];
    for (close, time, said) in cases {
        let (records, warnings) = har_to_records(&entry(close.clone(), time.clone())).unwrap();
        assert!(warnings.iter().any(|w| w == said), "{close} / {time}: {warnings:#?}");
        let close_record = close_of(&records);
        let started = frametap::event::Ts::from_micros(1_795_687_200_000_000).unwrap();
        let expected = match time.as_f64() {
            Some(ms) if ms < 1e12 => frametap::event::Ts::from_micros(started.micros() + (ms * 1000.0) as i64).unwrap(),
            _ => frames(&records).last().unwrap().ts,
        };
        assert_eq!(close_record.ts, expected, "{close} / {time}: dated as said");
    }
    // A usable timestamp is used, and nothing is said.
    let (records, warnings) =
        har_to_records(&entry(json!({"code": 1000, "timestamp": 1795687203.5}), json!(5))).unwrap();
    assert!(!warnings.iter().any(|w| w.contains("dated by")), "{warnings:#?}");
    assert_eq!(close_of(&records).ts.micros(), 1_795_687_203_500_000);
}

/// A HAR close's `duration_ms` is the span to the microsecond, as a capture writes spans: 1,476 µs reads 1.476,
/// never `1.4760000000000002` (seconds times 1000).
#[test]
fn an_imported_close_lasts_whole_microseconds() {
    // Dated by startedDateTime + `time`, rounded to the microsecond as every other HAR time is: 1.001 ms is
    // 1000.9999999999999 µs in floating point, which truncating made 1000.
    for (time, micros) in [(1.476, 1476), (1.001, 1001)] {
        let har = json!({"log": {"creator": {"name": "HTTP Toolkit", "version": "1"}, "entries": [{
            "startedDateTime": "2024-05-01T10:00:01.000Z", "time": time,
            "request": {"method": "GET", "url": "wss://example.test/ws", "headers": []},
            "response": {"status": 101, "headers": []},
            "_webSocketClose": {"code": 1000, "reason": ""},
            "_webSocketMessages": []
        }]}});
        let (records, _) = har_to_records(&har).unwrap();
        let close = records.iter().find_map(|r| if let Record::Close(c) = r { Some(c) } else { None }).unwrap();
        assert_eq!(json!(close.duration_ms).to_string(), json!(time).to_string());
        let started = Ts::from_micros(1_714_557_601_000_000).unwrap();
        assert_eq!(close.ts.micros() - started.micros(), micros, "{:?}", close.ts);
    }
}
