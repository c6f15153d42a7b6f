//! Diagnoses of authenticated sessions end to end through the real proxy and frametap's Genesys simulator, both
//! on 127.0.0.1:0: an expired or non-JWT data.code, downgrades to an unauthenticated session, and a code replaced
//! by a refreshed one; `inspect` on the capture must recompute the same causes.

mod common;
mod common_sim;
#[path = "fixtures/live.rs"]
mod live;
#[path = "diagnosis_sim_support/mod.rs"]
mod support;

use frametap::event::Diagnosis;
use live::*;
use serde_json::{json, Value};
use support::{configure_as, path, read_text, start_simulator, DEPLOYMENT, SIM};

fn configure_authenticated(token: &str, code: &str) -> Value {
    json!({"action":"configureAuthenticatedSession","token":token,"deploymentId":DEPLOYMENT,"tracingId":"c-1","data":{"code":code}})
}

/// Sends one configure request on a new connection, which the simulator (default flags) refuses and closes;
/// returns the frames it sent, and connection 1's live diagnosis and the rules `inspect` finds.
async fn refused_configure(request: Value) -> (Vec<String>, Diagnosis, Vec<String>) {
    let proxy = start_labelled_proxy(start_simulator().await, Some(SIM)).await;
    let mut ws = connect_to(&proxy, &path(""), &[]).await;
    send(&mut ws, request).await;
    let texts = drain(ws).await;
    let (capture, file, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    (texts, d, offline)
}

/// configureAuthenticatedSession with a data.code JWT that expired 30 s before it was sent: the simulator
/// answers 401 and closes; the diagnosis names the code's exp against the frame's own time, and the refusal.
#[tokio::test]
async fn an_expired_authenticated_code_through_the_simulator() {
    let code = common_sim::auth_code("user-42", -30);
    let (texts, d, offline) =
        refused_configure(configure_authenticated("6b0c1f52-7a0e-4c0b-9d7e-2b1f9c1e0a20", &code)).await;
    assert!(texts.len() == 1 && texts[0].contains(r#""code":401"#), "{texts:?}");
    let expired = cause(&d, "token-expired");
    assert_eq!((expired["confidence"].as_str(), expired["seq"].as_u64()), (Some("likely"), Some(1)), "{expired}");
    let message = expired["message"].as_str().unwrap();
    let sent = "the JWT in frame #1 (frame:data.code) had already expired when it was sent (3"; // 30 s, plus the clock's tick
    assert!(message.starts_with(sent) && message.contains(" s before); "), "{message}");
    assert!(message.ends_with("the server answered with an error (frame #2)"), "{message}");
    let evidence = expired["evidence"].to_string();
    assert!(evidence.contains("frame #1 was sent at") && evidence.contains("oauthcodegrantjwtexchange"), "{evidence}");
    let refusal = cause(&d, "server-error-response")["message"].as_str().unwrap();
    assert!(
        refusal.contains("frame #1 (configureAuthenticatedSession) with code 401")
            && refusal.contains("the data.code JWT was refused"),
        "{refusal}"
    );
    // The expiry is why the server refused: it leads, the refusal it explains follows.
    assert_eq!(rules(&d)[..2], ["token-expired", "server-error-response"], "{:?}", rules(&d));
    let summary = d.details["summary"].as_str().unwrap();
    assert!(summary.contains("; likely: the JWT in frame #1 (frame:data.code) had already expired"), "{summary}");
    assert_eq!(rules(&d), offline);
}

/// The same refusal of a configure sent without a tracingId (it is optional): the 401 names no request, but it answers
/// the configure, the only request awaiting an answer, so it gets the same words and advice. It was "answered a
/// request with code 401", without the data.code advice.
#[tokio::test]
async fn a_refused_authenticated_configure_without_a_tracing_id_is_still_paired_with_its_answer() {
    let code = common_sim::auth_code("user-42", -30);
    let mut request = configure_authenticated("6b0c1f52-7a0e-4c0b-9d7e-2b1f9c1e0a22", &code);
    request.as_object_mut().unwrap().remove("tracingId");
    let (texts, d, offline) = refused_configure(request).await;
    assert!(texts.len() == 1 && texts[0].contains(r#""code":401"#) && !texts[0].contains("tracingId"), "{texts:?}");
    let refusal = cause(&d, "server-error-response")["message"].as_str().unwrap();
    assert!(
        refusal.contains("frame #1 (configureAuthenticatedSession) with code 401")
            && refusal.contains("the data.code JWT was refused"),
        "{refusal}"
    );
    assert_eq!(rules(&d)[..2], ["token-expired", "server-error-response"], "{:?}", rules(&d));
    assert_eq!(rules(&d), offline);
}

/// configureAuthenticatedSession with the raw OIDC code instead of the JWT exchanged for it: 401 and a close;
/// the lint says data.code is not a JWT, without quoting it.
#[tokio::test]
async fn an_authenticated_code_that_is_not_a_jwt_through_the_simulator() {
    let raw = "4/0AeaYSHB-the-raw-oidc-authorization-code";
    let (texts, d, offline) =
        refused_configure(configure_authenticated("6b0c1f52-7a0e-4c0b-9d7e-2b1f9c1e0a21", raw)).await;
    assert!(texts.len() == 1 && texts[0].contains("data.code is not a JWT"), "{texts:?}");
    let lint = cause(&d, "protocol-lint");
    assert_eq!(lint["confidence"], "likely", "{lint}");
    assert!(lint["message"].as_str().unwrap().contains("(`data.code` is not a JWT)"), "{lint}");
    let evidence = lint["evidence"].to_string();
    assert!(evidence.contains("not the OIDC authorization code itself") && !evidence.contains(raw), "{evidence}");
    assert!(cause(&d, "server-error-response")["message"].as_str().unwrap().contains("code 401"));
    assert!(!rules(&d).contains(&"token-expired".to_owned()), "{:?}", rules(&d));
    assert_eq!(rules(&d), offline);
}

/// A token configured as authenticated, resumed with a plain configureSession on the same connection, then on
/// the next: the simulator answers 4017 and closes each time; both diagnoses name the downgrade, the first also
/// as the lint's (the analysis reads one connection at a time).
#[tokio::test]
async fn a_downgrade_to_an_unauthenticated_session_through_the_simulator() {
    let token = "6b0c1f52-7a0e-4c0b-9d7e-2b1f9c1e0a22";
    let proxy = start_labelled_proxy(start_simulator().await, Some(SIM)).await;
    let mut signed_in = connect_to(&proxy, &path(""), &[]).await;
    send(&mut signed_in, configure_authenticated(token, &common_sim::auth_code("user-42", 600))).await;
    assert_eq!(read_text(&mut signed_in).await["class"], "SessionResponse");
    assert_eq!(configure_as(&mut signed_in, token).await["code"], 4017);
    drain(signed_in).await;
    let mut plain = connect_to(&proxy, &path(""), &[]).await;
    assert_eq!(configure_as(&mut plain, token).await["code"], 4017);
    drain(plain).await;
    let (capture, file, _dir) = proxy.stop().await;
    for conn in [1, 2] {
        let (d, offline) = diagnosis_and_inspect(&capture, &file, conn);
        let refusal = cause(&d, "server-error-response");
        assert_eq!(refusal["confidence"], "likely", "{refusal}");
        let message = refusal["message"].as_str().unwrap();
        assert!(message.contains("(configureSession) with code 4017 (cannot downgrade"), "{message}");
        let before = "configured with configureAuthenticatedSession before (on this connection or an earlier one)";
        assert!(message.contains(before), "{message}");
        assert_eq!(rules(&d).contains(&"protocol-lint".to_owned()), conn == 1, "{:?}", rules(&d));
        assert_eq!(rules(&d), offline);
    }
    let (d, _) = diagnosis_and_inspect(&capture, &file, 1);
    let lint = cause(&d, "protocol-lint");
    assert!(lint["message"].as_str().unwrap().contains("(downgrades an authenticated session)"), "{lint}");
    assert!(lint["evidence"][0].as_str().unwrap().contains("the session token frame #1 configured"), "{lint}");
}

/// The `genesys-downgrade` findings of connection `conn`'s diagnosis, as (frame, message).
fn downgrades(d: &Diagnosis) -> Vec<(u64, String)> {
    let findings = d.details["findings"].as_array().unwrap();
    let downgrade = findings.iter().filter(|f| f["rule"] == "genesys-downgrade");
    downgrade.map(|f| (f["seq"].as_u64().unwrap(), f["message"].as_str().unwrap().to_owned())).collect()
}

/// Two authenticated session tokens on one connection, and one token whose re-configure with a refreshed code
/// the server refused: the simulator (`sim-on-invalid=error`, so the connection stays open) still holds each
/// token as authenticated and answers a plain configureSession for it with 4017; the lint says so for both. It
/// used to remember one token per connection, the last one, and to forget it when a later configure of it was
/// refused. Near misses, where the simulator starts a plain session: a token whose session closeSession ended,
/// and one whose only authenticated configure was refused.
#[tokio::test]
async fn downgrades_of_each_authenticated_token_on_one_connection_through_the_simulator() {
    let valid = || common_sim::auth_code("user-42", 600);
    let token = |n: u8| format!("6b0c1f52-7a0e-4c0b-9d7e-2b1f9c1e0b{n:02}");
    let proxy = start_labelled_proxy(start_simulator().await, Some(SIM)).await;
    let scenario = path("&sim-on-invalid=error");
    // Connection 1: A, then B, then a plain configure of A.
    let mut ws = connect_to(&proxy, &scenario, &[]).await;
    for t in [token(1), token(2)] {
        send(&mut ws, configure_authenticated(&t, &valid())).await;
        assert_eq!(read_text(&mut ws).await["class"], "SessionResponse");
    }
    assert_eq!(configure_as(&mut ws, &token(1)).await["code"], 4017);
    ws.close(None).await.unwrap();
    drain(ws).await;
    // Connection 2: C accepted, C again with a stale code refused, then a plain configure of C.
    let mut ws = connect_to(&proxy, &scenario, &[]).await;
    send(&mut ws, configure_authenticated(&token(3), &valid())).await;
    assert_eq!(read_text(&mut ws).await["class"], "SessionResponse");
    send(&mut ws, configure_authenticated(&token(3), &common_sim::auth_code("user-42", -30))).await;
    assert_eq!(read_text(&mut ws).await["code"], 401);
    assert_eq!(configure_as(&mut ws, &token(3)).await["code"], 4017);
    ws.close(None).await.unwrap();
    drain(ws).await;
    // Connection 3: D accepted, its session closed, then a plain configure of D: a new session.
    let mut ws = connect_to(&proxy, &scenario, &[]).await;
    send(&mut ws, configure_authenticated(&token(4), &valid())).await;
    assert_eq!(read_text(&mut ws).await["class"], "SessionResponse");
    send(&mut ws, json!({"action":"closeSession","token":token(4),"closeAllConnections":true})).await;
    assert_eq!(read_text(&mut ws).await["body"]["connected"], false);
    assert_eq!(configure_as(&mut ws, &token(4)).await["class"], "SessionResponse");
    ws.close(None).await.unwrap();
    drain(ws).await;
    // Connection 4: E refused (a stale code), then a plain configure of E: a new session.
    let mut ws = connect_to(&proxy, &scenario, &[]).await;
    send(&mut ws, configure_authenticated(&token(5), &common_sim::auth_code("user-42", -30))).await;
    assert_eq!(read_text(&mut ws).await["code"], 401);
    assert_eq!(configure_as(&mut ws, &token(5)).await["class"], "SessionResponse");
    ws.close(None).await.unwrap();
    drain(ws).await;
    let (capture, file, _dir) = proxy.stop().await;
    for (conn, downgraded, signed_in) in [(1, 5, 1), (2, 5, 1)] {
        let (d, offline) = diagnosis_and_inspect(&capture, &file, conn);
        let found = downgrades(&d);
        assert_eq!(found.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), [downgraded], "conn {conn}: {found:?}");
        assert!(found[0].1.contains(&format!("the session token frame #{signed_in} configured")), "{found:?}");
        assert_eq!(rules(&d), offline);
    }
    for conn in [3, 4] {
        let (d, _) = diagnosis_and_inspect(&capture, &file, conn);
        assert_eq!(downgrades(&d), [], "conn {conn}");
    }
}

/// A data.code JWT that expires 2 s after its configure, replaced once it has expired by a configure with a
/// refreshed code, which the simulator accepts; then a request without an action, which it closes on. The first code expired before the close but was no longer what authorised the connection: it is ruled out,
/// not a cause (it used to be a `token-expired` cause, "a token in force on this connection"). The near miss, a
/// replacement that had already expired when it was sent, is in tests/diagnosis_jwt.rs.
#[tokio::test]
async fn a_data_code_replaced_by_a_refreshed_one_is_not_blamed_when_it_expires_through_the_simulator() {
    let token = "6b0c1f52-7a0e-4c0b-9d7e-2b1f9c1e0c01";
    let exp = chrono::Utc::now().timestamp() + 2;
    let first = common_sim::auth_code_expiring_at("user-42", exp);
    let proxy = start_labelled_proxy(start_simulator().await, Some(SIM)).await;
    let mut ws = connect_to(&proxy, &path(""), &[]).await;
    send(&mut ws, configure_authenticated(token, &first)).await;
    assert_eq!(read_text(&mut ws).await["class"], "SessionResponse");
    // The clock has to pass the first code's exp: nothing to wait for but time.
    while chrono::Utc::now().timestamp_millis() <= exp * 1000 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    send(&mut ws, configure_authenticated(token, &common_sim::auth_code("user-42", 600))).await;
    assert_eq!(read_text(&mut ws).await["class"], "SessionResponse");
    send(&mut ws, json!({"type": "message", "content": "hi"})).await;
    drain(ws).await;
    let (capture, file, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    assert_eq!(d.details["initiator"], "server");
    assert!(!rules(&d).contains(&"token-expired".to_owned()), "{:?}", rules(&d));
    let ruled_out = d.details["ruled_out"].to_string();
    assert!(ruled_out.contains("but frame #3 had replaced it with another (frame:data.code, exp "), "{ruled_out}");
    assert_eq!(rules(&d), offline);
}

/// An authenticated session whose data.code expires while the session is idle; then the session expires from
/// inactivity and the simulator announces it (SessionExpiredEvent) and closes. The server said why it closed: the
/// expired code is only a possible cause, with the announcement named as the likelier reason (both used to be
/// likely, and the code's "refresh your JWT" reading did not apply).
#[tokio::test]
async fn a_code_that_expired_before_an_announced_session_expiry_is_only_possible_through_the_simulator() {
    let token = "6b0c1f52-7a0e-4c0b-9d7e-2b1f9c1e0c02";
    let exp = chrono::Utc::now().timestamp() + 2;
    let proxy = start_labelled_proxy(start_simulator().await, Some(SIM)).await;
    let mut ws = connect_to(&proxy, &path("&sim-expire-after=3"), &[]).await;
    send(&mut ws, configure_authenticated(token, &common_sim::auth_code_expiring_at("user-42", exp))).await;
    assert_eq!(read_text(&mut ws).await["class"], "SessionResponse");
    let texts = drain(ws).await;
    assert!(texts.iter().any(|t| t.contains("SessionExpiredEvent")), "{texts:?}");
    let (capture, file, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    assert_eq!(d.details["initiator"], "server");
    assert_eq!(cause(&d, "server-announced")["confidence"], "likely", "{:?}", rules(&d));
    let expired = cause(&d, "token-expired");
    assert_eq!(expired["confidence"], "possible", "{expired}");
    let evidence = expired["evidence"].to_string();
    assert!(
        evidence.contains("announced the end itself (frame #") && evidence.contains("SessionExpiredEvent"),
        "{evidence}"
    );
    assert_eq!(rules(&d), offline);
}
