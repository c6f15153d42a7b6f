//! HAR import of Firefox's Network panel exports. The fixture is the file Firefox ESR 153.7 wrote (its
//! `devtools.netmonitor.har.enableAutoExportToFile` export, the same builder as "Save All As HAR") for a page whose
//! WebSocket sent one message through `frametap proxy` to the simulator and was closed: the HAR records the
//! handshake and nothing of the conversation, and the import says so and where to get one that does.

mod common;

use common::har::*;
use frametap::event::*;
use frametap::har::{har_to_records, HarSource};
use serde_json::json;

#[test]
fn a_firefox_har_says_it_holds_no_messages_and_where_to_get_them() {
    let (records, warnings, report) = import_fixture("firefox-genesys.har");
    assert_eq!(report.source, Some(HarSource::Firefox));
    assert_eq!((report.connections, report.frames), (1, 0), "the handshake only: Firefox exports no messages");
    let Record::Open(open) = &records[1] else { panic!("open second") };
    assert_eq!(open.response.as_ref().map(|r| r.status), Some(101));
    assert_eq!(header(&open.request.headers, "origin"), Some("http://127.0.0.1:8765"));
    let no_messages = warnings.iter().find(|w| w.starts_with("entry 3 ")).expect("a warning for the WebSocket entry");
    for said in ["Firefox's HAR export records a WebSocket's handshake only", "Chrome or Edge", "frametap proxy"] {
        assert!(no_messages.contains(said), "{said:?} in {no_messages}");
    }
    let note = notes(&records).into_iter().find(|n| n.code == "har-import-incomplete").unwrap();
    assert!(note.message.contains("saved by Firefox: Firefox's HAR export records"), "{}", note.message);
}

/// A Firefox that one day exports `_webSocketMessages` is read as Chrome's are, and not said to have none.
#[test]
fn a_firefox_har_with_messages_is_read_like_chromes() {
    let har = json!({"log": {"creator": {"name": "Firefox", "version": "160.0"}, "entries": [{
        "startedDateTime": "2026-11-27T11:56:01.244+00:00", "time": 3,
        "request": {"method": "GET", "url": "ws://127.0.0.1:19000/v1?deploymentId=d", "headers": []},
        "response": {"status": 101, "headers": []},
        "_webSocketMessages": [{"type": "send", "time": 1795780561.25, "opcode": 1, "data": "{\"action\":\"echo\"}"}]
    }]}});
    let (records, warnings) = har_to_records(&har).unwrap();
    assert_eq!(frames(&records).len(), 1);
    assert!(warnings.iter().all(|w| !w.contains("handshake only")), "{warnings:?}");
    let note = notes(&records).into_iter().find(|n| n.code == "har-import-incomplete").unwrap();
    assert!(note.message.contains("no ping/pong or close frames") && !note.message.contains("handshake only"));
}
