//! Downloads from the web UI over real HTTP: a connection as a capture, a redacted capture and a HAR, a session
//! redacted already, and every download a complete capture file.

mod cdp;
mod common;
#[path = "ui_support/mod.rs"]
mod support;

use cdp::fixtures::{self, publish, start_ui};
use frametap::event::Record;
use frametap::ui::{self, Hub, HubOptions};
use hyper::StatusCode;
use serde_json::Value;
use support::{cookie, get};

fn records_of(body: &str) -> Vec<Record> {
    body.lines().map(|l| serde_json::from_str::<Record>(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

const SESSION_TOKEN: &str = "5b1f0c7e-7a43-4ad5-9d1a-0f2b7d7f1c11";

#[tokio::test]
async fn a_connection_downloads_as_capture_redacted_capture_and_har() {
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    fixtures::publish_story(&hub, 1);
    fixtures::publish_healthy(&hub, 2);
    let ui = start_ui(hub, None).await;
    let c = cookie(&ui);

    // As published: meta, then only that connection's records, every line a capture record.
    let (status, headers, body) = get(ui.addr, "/api/conn/1/capture", &[("cookie", &c)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get("content-disposition").unwrap(), "attachment; filename=\"frametap-conn-1.jsonl\"");
    let plain = records_of(&body);
    assert!(matches!(&plain[0], Record::Meta(m) if !m.redacted));
    assert!(plain[1..plain.len() - 1].iter().all(|r| r.conn() == Some(1)), "only connection 1");
    assert!(plain.iter().any(|r| matches!(r, Record::Diagnosis(_))));
    assert!(plain.iter().any(|r| matches!(r, Record::Annotation(_))));

    // Redacted: the Genesys session token becomes a UUID-shaped placeholder, meta says so.
    let (status, _, body) = get(ui.addr, "/api/conn/2/capture", &[("cookie", &c)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(SESSION_TOKEN), "the plain download keeps the token");
    let (status, headers, body) = get(ui.addr, "/api/conn/2/capture?redacted=1", &[("cookie", &c)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers.get("content-disposition").unwrap(), "attachment; filename=\"frametap-conn-2-redacted.jsonl\"");
    assert_eq!(headers.get(ui::SKIPPED_HEADER).unwrap(), "0");
    assert!(!body.contains(SESSION_TOKEN), "the session token leaked into the redacted download");
    assert!(body.contains(frametap::redact::UUID_PLACEHOLDER_PREFIX), "no placeholder in {body}");
    let redacted = records_of(&body);
    assert!(matches!(&redacted[0], Record::Meta(m) if m.redacted));
    let frames = |rs: &[Record]| rs.iter().filter(|r| matches!(r, Record::Frame(_))).count();
    assert_eq!(frames(&redacted), 13, "every frame is kept");

    // HAR: a Chrome-style WebSocket entry that imports back to the very same records.
    let (status, headers, body) = get(ui.addr, "/api/conn/1/har", &[("cookie", &c)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers.get("content-type").unwrap(), "application/json");
    assert_eq!(headers.get("content-disposition").unwrap(), "attachment; filename=\"frametap-conn-1.har\"");
    let har: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(har["log"]["entries"].as_array().unwrap().len(), 1);
    assert_eq!(har["log"]["entries"][0]["_resourceType"], "websocket");
    let (imported, warnings) = frametap::har::har_to_records(&har).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let of_conn = |rs: &[Record]| rs.iter().filter(|r| r.conn() == Some(1)).cloned().collect::<Vec<_>>();
    assert_eq!(of_conn(&imported), of_conn(&plain));
    let (status, _, body) = get(ui.addr, "/api/conn/2/har?redacted=1", &[("cookie", &c)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains(SESSION_TOKEN), "the session token leaked into the redacted HAR");
    // A `redacted` value that is neither yes nor no is refused, never answered with the secrets in the file.
    for query in ["redacted", "redacted=", "redacted=2", "redacted=on", "redacted=Yes"] {
        for kind in ["capture", "har"] {
            let path = format!("/api/conn/2/{kind}?{query}");
            let (status, _, body) = get(ui.addr, &path, &[("cookie", &c)]).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
            assert!(
                body.contains("give redacted=1 to mask secrets") && !body.contains(SESSION_TOKEN),
                "{path}: {body}"
            );
        }
    }
    let (status, _, body) = get(ui.addr, "/api/conn/2/capture?redacted=0", &[("cookie", &c)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(SESSION_TOKEN), "redacted=0 is the file as recorded");

    // A history line that does not read back is counted and named, never silently dropped.
    ui.hub.publish_raw("frame", Some(2), r#"{"kind":"frame","conn":2,"seq":"not a number"}"#);
    for path in ["/api/conn/2/capture?redacted=1", "/api/conn/2/har"] {
        let (status, headers, body) = get(ui.addr, path, &[("cookie", &c)]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers.get(ui::SKIPPED_HEADER).unwrap(), "1", "{path}");
        assert!(body.contains("ui-download-partial") && body.contains("1 record of connection 2"), "{path}: {body}");
    }

    let (status, _, _) = get(ui.addr, "/api/conn/9/capture", &[("cookie", &c)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(ui.addr, "/api/conn/9/har", &[("cookie", &c)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    ui.stop().await.unwrap();
}

/// Records the pipeline redacted already (`--redact`) download as published, marked redacted.
#[tokio::test]
async fn a_redacted_session_downloads_as_published() {
    let hub = Hub::new(HubOptions { history_limit: 100, redacted: true });
    publish(&hub, fixtures::meta());
    fixtures::publish_story(&hub, 1);
    let ui = start_ui(hub, None).await;
    let c = cookie(&ui);
    let (status, headers, body) = get(ui.addr, "/api/conn/1/capture", &[("cookie", &c)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get("content-disposition").unwrap(), "attachment; filename=\"frametap-conn-1-redacted.jsonl\"");
    let lines: Vec<String> = ui.hub.connection(1).iter().map(|e| e.json.to_string()).collect();
    let (end, published) = body.lines().collect::<Vec<_>>().split_last().map(|(e, p)| (*e, p.to_vec())).unwrap();
    assert_eq!(published, lines);
    assert!(end.starts_with(r#"{"kind":"end""#), "{end}");
    ui.stop().await.unwrap();
}

/// 12 hex digits of SHA-256: a `token` record's fingerprint of an unredacted value.
fn plain_fingerprint(value: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(value.as_bytes()).iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Every download is a complete capture file: meta, the connection's records, and an `end` record counting them,
/// so `convert` (and `inspect`, `redact`) take it without `--partial`; a HAR download converts to one too. A
/// redacted download's token records keep their kind and carry no plain hash of the secret. When the UI's history
/// has forgotten records, the `end` says the download may be incomplete.
#[tokio::test]
async fn downloads_are_complete_capture_files() {
    use frametap::convert::{convert, ConvertCommand};
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    fixtures::publish_story(&hub, 1);
    fixtures::publish_healthy(&hub, 2);
    let opaque = serde_json::json!({"token_kind": "opaque", "flags": [], "note": "opaque credential",
        "rest_only": false, "fingerprint": plain_fingerprint(SESSION_TOKEN), "preview": "5b1f0c…"});
    publish(
        &hub,
        Record::from(frametap::event::Token {
            conn: 2,
            ts: fixtures::at(1800),
            seq: Some(1),
            source: "frame:token".into(),
            details: fixtures::details(opaque),
        }),
    );
    let ui = start_ui(hub, None).await;
    let c = cookie(&ui);
    let dir = tempfile::tempdir().unwrap();
    for path in
        ["/api/conn/1/capture", "/api/conn/2/capture?redacted=1", "/api/conn/1/har", "/api/conn/2/har?redacted=1"]
    {
        let (status, _, body) = get(ui.addr, path, &[("cookie", &c)]).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let har = path.contains("/har");
        let name = path.replace(['/', '?', '='], "_");
        let saved = dir.path().join(if har { format!("{name}.har") } else { format!("{name}.jsonl") });
        std::fs::write(&saved, &body).unwrap();
        // convert refuses a capture without its end record unless --partial.
        let converted = dir.path().join(if har { format!("{name}.jsonl") } else { format!("{name}.ftcap") });
        let cmd = ConvertCommand { input: saved.clone(), output: converted.clone(), redact: false, partial: false };
        convert(&cmd).unwrap_or_else(|e| panic!("{path}: {e:#}"));
        let capture = frametap::capture::read_capture(&converted).unwrap();
        assert!(capture.has_end && capture.problems.is_empty(), "{path}");
        let Some((Record::End(end), rest)) = capture.records.split_last() else { panic!("{path}: no end") };
        let count = |kind: &str| rest.iter().filter(|r| r.kind() == kind).count() as u64;
        assert_eq!((end.connections, end.frames, end.records), (1, count("frame"), rest.len() as u64), "{path}");
        assert!(end.frames > 0 && end.complete, "{path}: {end:?}");
        if path.starts_with("/api/conn/2") {
            let token = rest
                .iter()
                .find_map(|r| match r {
                    Record::Token(t) if t.source == "frame:token" => Some(t),
                    _ => None,
                })
                .unwrap();
            assert_eq!(token.details["token_kind"], "opaque", "{path}");
            let fingerprint = token.details["fingerprint"].as_str().unwrap();
            assert_ne!(fingerprint, plain_fingerprint(SESSION_TOKEN), "{path}: a plain hash of the session token");
        }
    }
    ui.stop().await.unwrap();

    // A history too small for the connection: the download says what it may lack.
    let hub = Hub::new(HubOptions { history_limit: 3, redacted: false });
    publish(&hub, fixtures::meta());
    fixtures::publish_healthy(&hub, 1);
    let ui = start_ui(hub, None).await;
    let (status, _, body) = get(ui.addr, "/api/conn/1/capture", &[("cookie", &cookie(&ui))]).await;
    assert_eq!(status, StatusCode::OK);
    let Some(Record::End(end)) = records_of(&body).pop() else { panic!("no end in {body}") };
    assert!(!end.complete && end.errors[0].contains("may be missing"), "{end:?}");
    ui.stop().await.unwrap();
}
