//! HAR export and import of an upgrade that failed after the upstream answered 101 (a wrong `Sec-WebSocket-Accept`):
//! the export shows the 101 as it came, with the error, as Chrome's HAR shows a failed request that got an answer;
//! frametap's import gives back the records, and the entry read as a Chrome HAR's comes to the same diagnosis.

mod common;

use frametap::event::{header, Open, Record};
use frametap::har::{capture_to_har, har_to_records, EXTENSION};
use serde_json::Value;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpListener;

fn open_in(records: &[Record]) -> &Open {
    records.iter().find_map(|r| if let Record::Open(o) = r { Some(&**o) } else { None }).expect("an open record")
}

/// The `upgrade-refused` cause of `records`' first diagnosis, with whether the diagnosis says the WebSocket opened.
fn refusal(records: &[Record]) -> (Value, Value) {
    let diagnosis = common::first_diagnosis(records);
    let causes = diagnosis.details["causes"].as_array().cloned().unwrap_or_default();
    let refused = causes.into_iter().find(|c| c["rule"] == "upgrade-refused");
    (diagnosis.details["opened"].clone(), refused.unwrap_or_else(|| panic!("no upgrade-refused: {diagnosis:?}")))
}

#[tokio::test]
async fn a_101_that_opened_no_websocket_exports_as_received_and_imports_to_the_same_diagnosis() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        common::raw::read_head(&mut stream).await;
        let answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                      Sec-WebSocket-Accept: AAAA\r\nX-Served-By: edge-7\r\n\r\n";
        stream.write_all(answer.as_bytes()).await.unwrap();
    });
    let proxy = common::start_proxy(common::test_config(&format!("ws://{upstream}"))).await;
    let (head, ws, _) = common::raw::connect(proxy.addr, "/chat", &[]).await;
    assert!(head.starts_with("HTTP/1.1 502") && ws.is_none(), "{head}");
    let capture = proxy.stop().await;
    let open = common::open_of(&capture, 1).clone();
    let error = open.error.clone().expect("the upgrade failed");
    assert_eq!(open.response.as_ref().map(|r| r.status), Some(101), "the 101 is kept: {open:?}");

    // The export: the 101 as it came (status, headers), and the error, in Chrome's `_error`.
    let har = capture_to_har(&capture.records);
    let entry = &har["log"]["entries"][0];
    let response = &entry["response"];
    assert_eq!(
        (&response["status"], &response["statusText"]),
        (&Value::from(101), &Value::from("Switching Protocols"))
    );
    assert_eq!(response["_error"], error.as_str(), "{response}");
    let headers: Vec<(String, String)> = response["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["name"].as_str().unwrap().to_owned(), h["value"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(header(&headers, "sec-websocket-accept"), Some("AAAA"), "{response}");
    assert_eq!(header(&headers, "x-served-by"), Some("edge-7"), "{response}");
    // The entry lasts from the request to the failure, as Chrome's entry for a failed request does.
    let failed_ms = open.failed_ms.expect("when it failed");
    assert!((entry["time"].as_f64().unwrap() - failed_ms).abs() < 0.001, "time {} vs {failed_ms}", entry["time"]);

    // frametap's import gives back the very records.
    let (back, _) = har_to_records(&har).unwrap();
    assert_eq!(back, capture.records);

    // Read as a Chrome HAR's entry (no `_frametap` fields): the same 101, the same error, the same diagnosis.
    let mut chrome = har.clone();
    chrome["log"].as_object_mut().unwrap().remove(EXTENSION);
    chrome["log"]["creator"]["name"] = "WebInspector".into();
    chrome["log"]["entries"][0].as_object_mut().unwrap().remove(EXTENSION);
    let (imported, _) = har_to_records(&chrome).unwrap();
    let imported_open = open_in(&imported);
    assert_eq!(imported_open.response, open.response);
    assert_eq!(imported_open.error, open.error);
    assert!(imported_open.relayed_response().is_none(), "{imported_open:?}");
    assert!(imported_open.failed_ms.is_some_and(|ms| (ms - failed_ms).abs() < 0.001), "{imported_open:?}");
    let (live_opened, live_cause) = refusal(&capture.records);
    let (imported_opened, imported_cause) = refusal(&imported);
    assert_eq!((live_opened, imported_opened), (Value::Bool(false), Value::Bool(false)));
    assert_eq!(live_cause["confidence"], imported_cause["confidence"]);
    // Word for word; only the evidence says who saw the failure (the client got frametap's 502; the recording).
    assert_eq!(live_cause["message"], imported_cause["message"]);
    let said = format!("the connection to the upstream failed: {error}");
    assert!(live_cause["message"].as_str().unwrap().contains(&said), "{live_cause}");
}
