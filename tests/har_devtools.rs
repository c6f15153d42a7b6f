//! frametap's HAR export against what Chrome DevTools' HAR import requires and reads, field by field, from
//! devtools-frontend's front_end/models/har/HARFormat.ts (the classes that throw on a missing or mistyped field, so
//! the whole import fails) and Importer.ts (what is then shown: `_webSocketMessages` items it skips silently, the
//! `_resourceType` that gives the Messages tab, entries sorted by `startedDateTime`), as bundled in Chromium 156.
//! The real import in Chromium's DevTools: har_devtools_chromium.rs.

mod common;

use common::har::*;
use frametap::har::{capture_to_har, har_to_records};
use serde_json::Value;

/// What DevTools' HAR import would reject or leave out of `har`: one line per problem, empty when it takes it all.
fn devtools_problems(har: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut need = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    // HARBase: every part built from an object throws "First parameter is expected to be an object" otherwise.
    let log = &har["log"];
    need(log.is_object(), "log is no object".into());
    need(log["creator"].is_object(), "log.creator is no object (HARCreator)".into());
    // HARLog: `entries` must be an array ("log.entries is expected to be an array"); `pages`, when one, holds pages.
    need(log["pages"].as_array().is_some_and(Vec::is_empty), "log.pages: frametap writes none".into());
    let Some(entries) = log["entries"].as_array() else {
        need(false, "log.entries is no array".into());
        return problems;
    };
    let mut previous_start = None;
    for (index, entry) in entries.iter().enumerate() {
        let at = |field: &str| format!("entry {}: {field}", index + 1);
        // HAREntry: `startedDateTime` through safeDate (throws "Invalid date format"), `time` through safeNumber
        // (throws on NaN: a missing field is NaN, null is 0), request, response and timings objects.
        let started = entry["startedDateTime"].as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
        need(started.is_some(), at("startedDateTime is no date"));
        need(entry["time"].is_number(), at("time is no number"));
        // Importer.requestsFromHARLog sorts the entries by startedDateTime: frametap's capture order must be that.
        if let (Some(before), Some(now)) = (previous_start, started) {
            need(before <= now, at("starts before the entry above it, so DevTools lists them in another order"));
        }
        previous_start = started.or(previous_start);
        // HARRequest: method, url, httpVersion as strings (String(undefined) would show "undefined"); headersSize and
        // bodySize through safeNumber; cookies, headers, queryString lists of {name, value}.
        let request = &entry["request"];
        need(request.is_object(), at("request is no object"));
        for field in ["method", "url", "httpVersion"] {
            need(request[field].is_string(), at(&format!("request.{field} is no string")));
        }
        for field in ["headersSize", "bodySize"] {
            need(request[field].is_number(), at(&format!("request.{field} is no number")));
        }
        for list in ["cookies", "headers", "queryString"] {
            need(name_values(&request[list]), at(&format!("request.{list} is no list of {{name, value}}")));
        }
        // HARResponse: status, headersSize, bodySize through safeNumber; statusText, httpVersion, redirectURL as
        // strings; content an object (HARContent: size through safeNumber, mimeType a string); `_error` read as an
        // optional string (and shown nowhere: see the `error` item below).
        let response = &entry["response"];
        need(response.is_object(), at("response is no object"));
        for field in ["status", "headersSize", "bodySize"] {
            need(response[field].is_number(), at(&format!("response.{field} is no number")));
        }
        for field in ["statusText", "httpVersion", "redirectURL"] {
            need(response[field].is_string(), at(&format!("response.{field} is no string")));
        }
        for list in ["cookies", "headers"] {
            need(name_values(&response[list]), at(&format!("response.{list} is no list of {{name, value}}")));
        }
        let content = &response["content"];
        need(content["size"].is_number(), at("response.content.size is no number"));
        need(content["mimeType"].is_string(), at("response.content.mimeType is no string"));
        // HARTimings: send, wait, receive through safeNumber; blocked, dns, connect, ssl optional numbers.
        let timings = &entry["timings"];
        for field in ["send", "wait", "receive"] {
            need(timings[field].is_number(), at(&format!("timings.{field} is no number")));
        }
        for field in ["blocked", "dns", "connect", "ssl"] {
            need(timings[field].is_null() || timings[field].is_number(), at(&format!("timings.{field} is no number")));
        }
        // Importer.getResourceType: `_resourceType` by name, else from the MIME type or URL; only the WebSocket type
        // gets the Messages tab (NetworkItemView).
        need(entry["_resourceType"] == "websocket", at("_resourceType is not \"websocket\""));
        // HAREntry.importWebSocketMessages: a list whose items are objects (one that is not drops the whole list);
        // Importer.fillRequestFromHAREntry skips, without a word, an item without a `time`, `opcode` or `data`, or
        // whose `type` is not send, receive or error.
        let Some(messages) = entry["_webSocketMessages"].as_array() else {
            need(false, at("_webSocketMessages is no list"));
            continue;
        };
        for (m, message) in messages.iter().enumerate() {
            let at = |what: &str| at(&format!("message {}: {what}", m + 1));
            need(message.is_object(), at("is no object"));
            need(["send", "receive", "error"].contains(&message["type"].as_str().unwrap_or("")), at("type"));
            need(message["opcode"].is_number(), at("opcode is no number"));
            need(message["data"].is_string(), at("data is no string"));
            // The Messages tab shows `new Date(time * 1000)` (ResourceChunkView): epoch seconds, within the entry.
            let time = message["time"].as_f64();
            let start = started.map(|s| s.timestamp_micros() as f64 / 1e6);
            let end = start.zip(entry["time"].as_f64()).map(|(s, ms)| s + ms / 1000.0);
            let within = time.zip(start.zip(end)).is_some_and(|(t, (s, e))| t >= s - 1e-6 && t <= e + 1e-6);
            need(within, at(&format!("time {time:?} is not in epoch seconds within the entry ({start:?}–{end:?})")));
        }
    }
    problems
}

/// A HAR list of `{name, value}` strings (HARHeader, HARCookie, HARQueryString).
fn name_values(list: &Value) -> bool {
    list.as_array().is_some_and(|items| items.iter().all(|i| i["name"].is_string() && i["value"].is_string()))
}

#[test]
fn every_entry_of_an_export_is_one_devtools_imports_and_shows_whole() {
    let har = capture_to_har(&capture_with_failures());
    assert_eq!(devtools_problems(&har), Vec::<String>::new(), "{har:#}");
    // The checker catches what DevTools rejects (so an empty list means something).
    let mut broken = har.clone();
    broken["log"]["entries"][0]["timings"].as_object_mut().unwrap().remove("wait");
    broken["log"]["entries"][0]["_webSocketMessages"][1].as_object_mut().unwrap().remove("data");
    assert_eq!(
        devtools_problems(&broken),
        ["entry 1: timings.wait is no number", "entry 1: message 2: data is no string"],
    );
}

/// DevTools' importer reads no `response._error`: Chrome's own export says why a WebSocket failed with an item of
/// type `error` (opcode -1) in `_webSocketMessages`, the red row of the Messages tab (seen in Chromium 156's export
/// of a refused WebSocket: "Error during WebSocket handshake: Unexpected response code: 400"). frametap writes the
/// same for each upgrade that failed, dated when it failed, and its import gives back the very records.
#[test]
fn a_failed_upgrade_says_why_in_the_messages_devtools_shows() {
    let records = capture_with_failures();
    let har = capture_to_har(&records);
    let entries = har["log"]["entries"].as_array().unwrap();
    let errors: Vec<(String, Value, Value, f64)> = entries
        .iter()
        .flat_map(|e| e["_webSocketMessages"].as_array().unwrap().iter().map(move |m| (e, m)))
        .filter(|(_, m)| m["type"] == "error")
        .map(|(e, m)| {
            (e["request"]["url"].as_str().unwrap().to_owned(), m["opcode"].clone(), m["data"].clone(), {
                let started = chrono::DateTime::parse_from_rfc3339(e["startedDateTime"].as_str().unwrap()).unwrap();
                // Milliseconds from the request to the error.
                ((m["time"].as_f64().unwrap() - started.timestamp_micros() as f64 / 1e6) * 1000.0 * 1000.0).round()
                    / 1000.0
            })
        })
        .collect();
    let url = "wss://example.com/v1?deploymentId=6c1b2f0e".to_string();
    assert_eq!(
        errors,
        [
            (
                "ws://localhost/".into(),
                (-1).into(),
                "Error during WebSocket handshake: Unexpected response code: 403".into(),
                0.0
            ),
            (url.clone(), (-1).into(), "could not connect to example.com:443: Connection refused".into(), 1.5),
            (url, (-1).into(), "the upstream's Sec-WebSocket-Accept is wrong".into(), 2.25),
        ]
    );
    // Each sits where Chrome puts it: last, after the entry's data messages (here, none).
    for entry in entries {
        let types: Vec<&str> =
            (entry["_webSocketMessages"].as_array().unwrap().iter()).map(|m| m["type"].as_str().unwrap()).collect();
        assert!(types.iter().position(|t| *t == "error").is_none_or(|at| at == types.len() - 1), "{entry:#}");
    }
    let (back, warnings) = har_to_records(&har).unwrap();
    assert_eq!(back, records, "the import gives back the very records");
    assert!(warnings.is_empty(), "{warnings:?}");
}
