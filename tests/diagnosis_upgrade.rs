//! The close-analysis rules for an upgrade that never opened a WebSocket: refusals (403, 200, redirects, long error
//! pages) and unreachable upstreams, diagnosed at their `open` record.

// Shared by the diagnosis tests, each using part of it.
#[allow(dead_code)]
#[path = "fixtures/script.rs"]
mod script;

use frametap::event::{HttpResponse, Peer, Record};
use frametap::inspect::{render_diagnosis, ProfileChoice};
use script::*;

#[test]
fn a_refused_upgrade_is_diagnosed_at_its_open() {
    let mut s = Script::new("wss://webmessaging.mypurecloud.com/v1?deploymentId=x", Some(20.0));
    if let Record::Open(open) = &mut s.records[1] {
        open.response =
            Some(HttpResponse { status: 403, headers: vec![], body: Some("forbidden".into()), body_base64: None });
    }
    let derived = s.run(ProfileChoice::Auto);
    assert_eq!(derived.iter().filter(|r| matches!(r, Record::Diagnosis(_))).count(), 1, "no close record needed");
    let d = s.diagnose();
    assert_eq!((d.details["opened"].as_bool(), d.details["status"].as_u64()), (Some(false), Some(403)));
    let refused = cause(&d, "upgrade-refused");
    assert!(refused["message"].as_str().unwrap().contains("HTTP 403"));
    assert!(refused["message"].as_str().unwrap().contains("allowed domains"));
    assert_eq!(refused["evidence"][0], "the upstream said: forbidden");
    let block = render_diagnosis(&d, false);
    assert!(block.starts_with("  diagnosis conn 1: the upstream refused the upgrade with HTTP 403"), "{block}");
    // Should a close record follow anyway, it adds no second diagnosis.
    s.close(25, Peer::Server, None, None, false);
    assert_eq!(s.run(ProfileChoice::Auto).iter().filter(|r| matches!(r, Record::Diagnosis(_))).count(), 1);
}

#[test]
fn an_unreachable_upstream_is_diagnosed_at_its_open() {
    let mut s = Script::new("wss://chat.example.com/socket", None);
    if let Record::Open(open) = &mut s.records[1] {
        open.response = None;
        open.error = Some("could not connect to chat.example.com:443: connection refused".into());
    }
    let d = s.diagnose();
    assert_eq!(d.details["initiator"], "proxy");
    let refused = cause(&d, "upgrade-refused");
    assert!(
        refused["message"].as_str().unwrap().contains("the connection to the upstream failed: could not connect"),
        "{refused}"
    );
}

#[test]
fn a_403_from_a_server_that_is_not_genesys_gets_no_genesys_hint() {
    let mut s = Script::new("wss://chat.example.com/socket", Some(20.0));
    if let Record::Open(open) = &mut s.records[1] {
        open.response = Some(HttpResponse { status: 403, headers: vec![], body: None, body_base64: None });
    }
    let message = cause(&s.diagnose(), "upgrade-refused")["message"].as_str().unwrap().to_owned();
    assert!(message.contains("HTTP 403") && message.contains("an Origin it does not allow"), "{message}");
    assert!(!message.contains("Genesys"), "{message}");
}

/// An upstream's whole error page (multi-line HTML, up to 1 MiB) is cut in the diagnosis's evidence as in the log,
/// saying so and how long it was; the `open` record keeps it whole.
#[test]
fn a_refused_upgrade_quotes_a_long_error_page_cut_to_one_line() {
    let mut s = Script::new("wss://chat.example.com/socket", Some(20.0));
    let page = format!("<html>\n  <body>\n{}\n  </body>\n</html>\n", "<p>Bad gateway, sorry.</p>\n".repeat(2000));
    if let Record::Open(open) = &mut s.records[1] {
        open.response =
            Some(HttpResponse { status: 502, headers: vec![], body: Some(page.clone()), body_base64: None });
    }
    let d = s.diagnose();
    let refused = cause(&d, "upgrade-refused");
    let said = refused["evidence"][0].as_str().unwrap();
    assert!(said.starts_with("the upstream said: <html> <body> <p>Bad gateway"), "{said}");
    assert!(!said.contains('\n') && said.chars().count() < 600, "{} characters: {said}", said.chars().count());
    let length = page.trim().chars().count();
    assert!(
        said.ends_with(&format!("(cut at 400 of its {length} characters; the open record's response body has it all)")),
        "{said}"
    );
    let Record::Open(open) = &s.records[1] else { panic!() };
    assert_eq!(open.response.as_ref().unwrap().body.as_deref(), Some(page.as_str()));
}

/// A 200 to the upgrade comes from an ordinary HTTP endpoint (a web page, a REST URL): the diagnosis says so.
#[test]
fn a_200_to_the_upgrade_is_explained_as_a_url_that_is_not_a_websocket_endpoint() {
    for url in ["wss://chat.example.com/index.html", "wss://api.mypurecloud.com/api/v2?deploymentId=x"] {
        let mut s = Script::new(url, Some(20.0));
        if let Record::Open(open) = &mut s.records[1] {
            open.response =
                Some(HttpResponse { status: 200, headers: vec![], body: Some("<html>".into()), body_base64: None });
        }
        let d = s.diagnose();
        let message = cause(&d, "upgrade-refused")["message"].as_str().unwrap().to_owned();
        assert!(message.contains("HTTP 200"), "{message}");
        assert!(message.contains("answers plain HTTP but is not a WebSocket endpoint"), "{message}");
        assert!(message.contains("check the host and path"), "{message}");
    }
}

/// An upstream connection that failed (unreachable, or an answer that opens no WebSocket) is the likely cause;
/// that it is not the Guest API either is only possible (it matters once it opens), where an upstream that
/// answers keeps it likely.
#[test]
fn an_unreachable_upstream_outranks_the_not_the_guest_api_rule() {
    let not_guest_api = |error: Option<&str>| {
        let mut s = Script::new("ws://nonexistent.invalid/v1?deploymentId=x", None);
        if let (Record::Open(open), Some(error)) = (&mut s.records[1], error) {
            open.response = None;
            open.error = Some(error.into());
        }
        if error.is_none() {
            s.close(5, Peer::Server, None, None, false);
        }
        let d = s.diagnose();
        assert_eq!(d.details["profile"], "genesys");
        cause(&d, "genesys-upstream-not-webmessaging").clone()
    };
    for error in [
        "could not resolve nonexistent.invalid: failed to lookup address information",
        "could not connect to 127.0.0.1:9: connection refused",
        "timed out connecting to 10.255.255.1:443 after 10 s",
        "the upgrade request to ws://nonexistent.invalid/v1 failed: the upstream answered 101 without a Sec-WebSocket-Accept header",
    ] {
        let rule = not_guest_api(Some(error));
        assert_eq!(rule["confidence"], "possible", "{rule}");
        let message = rule["message"].as_str().unwrap();
        assert!(message.starts_with("the connection to the upstream failed, and it is not the Guest API"), "{rule}");
    }
    assert_eq!(not_guest_api(None)["confidence"], "likely");
}

/// A redirect answering the upgrade (an upstream given as ws:// that sends everything to https://, a moved
/// endpoint): the diagnosis says where it points, that browsers do not follow it, and the WebSocket URL to use.
#[test]
fn a_redirected_upgrade_names_where_it_points_and_the_websocket_url_to_use() {
    let refused = |status: u16, location: Option<&str>| {
        let mut s = Script::new("ws://chat.example.com/v1", Some(20.0));
        if let Record::Open(open) = &mut s.records[1] {
            let headers = location.map(|l| vec![("location".to_owned(), l.to_owned())]).unwrap_or_default();
            open.response = Some(HttpResponse { status, headers, body: Some(String::new()), body_base64: None });
        }
        let d = s.diagnose();
        cause(&d, "upgrade-refused")["message"].as_str().unwrap().to_owned()
    };
    for status in [301, 302, 307, 308] {
        let message = refused(status, Some("https://chat.example.com/v1"));
        assert!(message.contains(&format!("HTTP {status} (a redirect to https://chat.example.com/v1")), "{message}");
        assert!(message.contains("browsers do not follow a redirect on a WebSocket upgrade"), "{message}");
        assert!(message.ends_with("instead, through frametap with --upstream wss://chat.example.com)"), "{message}");
    }
    let relative = refused(301, Some("/v2/"));
    assert!(relative.contains("a redirect to /v2/:"), "{relative}");
    assert!(relative.contains("use the path it names"), "{relative}");
    assert!(!relative.contains("--upstream"), "{relative}");
    let nowhere = refused(302, None);
    assert!(nowhere.contains("without a Location"), "{nowhere}");
    assert!(!refused(304, None).contains("redirect"), "304 Not Modified is no redirect");
}
