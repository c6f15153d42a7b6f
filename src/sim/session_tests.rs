//! Unit tests of the session state machine, without sockets.

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::*;
use crate::sim::config::{SimArgs, SimConfig};

fn session(scenario: Scenario, registry: &Arc<Registry>, conn: u64) -> (Session, mpsc::UnboundedReceiver<Kicked>) {
    let config = SimConfig::from_args(&SimArgs::default()).unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    (Session::new(conn, scenario, "dep".into(), config, registry.clone(), tx), rx)
}

fn text(session: &mut Session, request: Value) -> Vec<Output> {
    session.on_frame(ClientFrame::Text(&request.to_string()))
}

fn configure(session: &mut Session, token: &str) -> Value {
    let out = text(session, json!({"action": "configureSession", "deploymentId": "dep", "token": token}));
    match out.as_slice() {
        [Output::Send(frame)] => serde_json::from_str(frame).unwrap(),
        other => panic!("expected one frame, got {other:?}"),
    }
}

#[test]
fn invalid_requests_close_or_answer_depending_on_on_invalid() {
    let registry = Arc::new(Registry::default());
    let (mut closing, _) = session(Scenario::default(), &registry, 1);
    assert_eq!(text(&mut closing, json!({"action": "echo", "token": "t"})), vec![Output::Close]);
    let erroring = Scenario { on_invalid: OnInvalid::Error, ..Scenario::default() };
    let (mut answering, _) = session(erroring, &registry, 2);
    let out = answering.on_frame(ClientFrame::Binary);
    assert!(matches!(&out[..], [Output::Send(f)] if f.contains("\"code\":400")), "{out:?}");
}

#[test]
fn drop_after_counts_every_frame_including_control_frames() {
    let registry = Arc::new(Registry::default());
    let scenario = Scenario { drop_after: Some(3), ..Scenario::default() };
    let (mut s, _) = session(scenario, &registry, 1);
    assert!(s.on_frame(ClientFrame::Control).is_empty());
    assert_eq!(configure(&mut s, "t")["class"], "SessionResponse");
    assert_eq!(s.on_frame(ClientFrame::Control), vec![Output::Drop]);
}

#[test]
fn kicked_session_leaves_the_token_to_the_new_holder() {
    let registry = Arc::new(Registry::default());
    let (mut first, mut first_kicks) = session(Scenario::default(), &registry, 1);
    let (mut second, mut second_kicks) = session(Scenario::default(), &registry, 2);
    configure(&mut first, "t");
    assert_eq!(configure(&mut second, "t")["body"]["newSession"], false);
    assert!(first_kicks.try_recv().is_ok());
    let out = first.on_kicked();
    assert!(matches!(&out[..], [Output::Send(f), Output::Close] if f.contains("ConnectionClosedEvent")));
    first.finish();
    // The second connection still holds it: a third one kicks it.
    let (mut third, _) = session(Scenario::default(), &registry, 3);
    configure(&mut third, "t");
    assert!(second_kicks.try_recv().is_ok());
    assert!(!first.is_configured());
}

#[test]
fn expiry_forgets_the_conversation() {
    let registry = Arc::new(Registry::default());
    let (mut s, _) = session(Scenario::default(), &registry, 1);
    assert!(s.on_expired().is_empty(), "nothing to expire before configuration");
    configure(&mut s, "t");
    let out = s.on_expired();
    assert!(matches!(&out[..], [Output::Send(f), Output::Close] if f.contains("SessionExpiredEvent")));
    assert!(registry.with("t", |_| ()).is_none());
}

#[test]
fn unimplemented_actions_are_named_as_on_the_wire() {
    let registry = Arc::new(Registry::default());
    let (mut s, _) = session(Scenario::default(), &registry, 1);
    configure(&mut s, "t");
    for action in ["onAttachment", "disconnectCustomer"] {
        let out = text(&mut s, json!({"action": action, "token": "t"}));
        let [Output::Send(frame)] = out.as_slice() else { panic!("{out:?}") };
        assert!(frame.contains(&format!("does not implement {action}\"")), "{frame}");
    }
}

#[test]
fn a_refused_configure_leaves_the_connections_session_as_it_was() {
    use crate::inspect::jwt::encode_part;
    let registry = Arc::new(Registry::default());
    let (mut s, _) = session(Scenario { on_invalid: OnInvalid::Error, ..Scenario::default() }, &registry, 1);
    let stale = format!("{}.{}.sig", encode_part(br#"{"alg":"RS256"}"#), encode_part(br#"{"exp":1}"#));
    configure(&mut s, "held");
    let refused = text(
        &mut s,
        json!({"action": "configureAuthenticatedSession", "deploymentId": "dep", "token": "other", "data": {"code": stale}}),
    );
    assert!(matches!(&refused[..], [Output::Send(f)] if f.contains("\"code\":401")), "{refused:?}");
    assert_eq!(s.token.as_deref(), Some("held"), "the session it held is still this connection's");
    assert!(registry.with("other", |_| ()).is_none(), "a refused code claims nothing");
}
