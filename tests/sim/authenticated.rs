//! `configureAuthenticatedSession` over a real WebSocket: a current `data.code` JWT configures the session and
//! names the user in getJwt's token; a code that is not a current JWT gets 401; a token once authenticated
//! cannot be resumed with a plain `configureSession` (4017), on any later connection.

use frametap::inspect::jwt::decode_unverified;
use frametap::sim::SimArgs;
use serde_json::json;

use crate::common_sim::*;

#[tokio::test]
async fn a_current_code_configures_the_session_and_get_jwt_names_its_user() {
    let sim = start(SimArgs::default()).await;
    let token = new_token();
    let mut ws = sim.connect("").await;
    send(&mut ws, configure_authenticated_request(&token, &auth_code("user-42", 600))).await;
    let response = next_json(&mut ws).await;
    assert_eq!(response["class"], "SessionResponse", "{response}");
    assert_eq!((response["body"]["connected"].as_bool(), response["tracingId"].as_str()), (Some(true), Some("auth-1")));
    send(&mut ws, json!({"action": "getJwt", "token": token, "tracingId": "j"})).await;
    let answer = next_json(&mut ws).await;
    assert_eq!(answer["class"], "JwtResponse", "{answer}");
    let claims = decode_unverified(answer["body"]["jwt"].as_str().unwrap()).unwrap().claims;
    assert_eq!(claims["sub"], "user-42", "the signed-in user, not an anonymous guest-…: {claims:?}");
    assert_eq!(answer["body"]["exp"], claims["exp"]);
    sim.stop().await;
}

#[tokio::test]
async fn a_code_that_is_not_a_current_jwt_gets_401_and_the_connection_stays_usable_with_on_invalid_error() {
    let sim = start(SimArgs::default()).await;
    let token = new_token();
    let mut ws = sim.connect("sim-on-invalid=error").await;
    let not_a_jwt = configure_authenticated_request(&token, "4/0AeaYSHB-the-raw-oidc-code");
    expect_error(&mut ws, not_a_jwt, 401, "data.code is not a JWT (1 part, expected 3)").await;
    let expired = configure_authenticated_request(&token, &auth_code("user-42", -30));
    expect_error(&mut ws, expired.clone(), 401, "the data.code JWT expired at").await;
    send(&mut ws, expired).await;
    let body = next_json(&mut ws).await["body"].as_str().unwrap().to_owned();
    assert!(body.contains("re-authenticate"), "{body}");
    // Nothing was configured: a current code now starts a new session.
    send(&mut ws, configure_authenticated_request(&token, &auth_code("user-42", 600))).await;
    assert_eq!(next_json(&mut ws).await["body"]["newSession"], true);
    sim.stop().await;
}

#[tokio::test]
async fn by_default_a_refused_code_gets_its_401_then_a_close() {
    let sim = start(SimArgs::default()).await;
    let mut ws = sim.connect("").await;
    send(&mut ws, configure_authenticated_request(&new_token(), &auth_code("user-42", -5))).await;
    let refused = next_json(&mut ws).await;
    assert_eq!((refused["class"].as_str(), refused["code"].as_i64()), (Some("string"), Some(401)), "{refused}");
    assert_eq!(refused["tracingId"], "auth-1");
    assert_eq!(next_close(&mut ws).await, (1000, String::new()));
    sim.stop().await;
}

#[tokio::test]
async fn a_token_once_authenticated_cannot_be_resumed_with_configure_session() {
    let sim = start(SimArgs::default()).await;
    let token = new_token();
    let mut first = sim.connect("").await;
    send(&mut first, configure_authenticated_request(&token, &auth_code("user-42", 600))).await;
    assert_eq!(next_json(&mut first).await["class"], "SessionResponse");
    drop(first);
    // A later connection: the registry remembers the token was authenticated, startNew or not.
    let mut second = sim.connect("sim-on-invalid=error").await;
    expect_error(&mut second, configure_request(&token), 4017, "cannot downgrade to unauthenticated").await;
    let mut start_new = configure_request(&token);
    start_new["startNew"] = json!(true);
    expect_error(&mut second, start_new, 4017, "resume it with configureAuthenticatedSession").await;
    send(&mut second, configure_authenticated_request(&token, &auth_code("user-42", 600))).await;
    let resumed = next_json(&mut second).await;
    assert_eq!(
        (resumed["class"].as_str(), resumed["body"]["newSession"].as_bool()),
        (Some("SessionResponse"), Some(false))
    );
    // By default the 4017 is followed by a close, as a refused code's 401 is.
    let mut third = sim.connect("").await;
    send(&mut third, configure_request(&token)).await;
    assert_eq!(next_json(&mut third).await["code"], 4017);
    assert_eq!(next_close(&mut third).await, (1000, String::new()));
    sim.stop().await;
}

#[tokio::test]
async fn auth_code_margin_refuses_a_code_about_to_expire() {
    let sim = start(SimArgs { auth_code_margin: Some(60), ..SimArgs::default() }).await;
    let soon = auth_code("user-42", 30);
    let mut ws = sim.connect("sim-on-invalid=error").await;
    let request = configure_authenticated_request(&new_token(), &soon);
    expect_error(&mut ws, request.clone(), 401, "in 30 s: within the 60 s margin").await;
    // The URL parameter overrides the flag: 0 accepts any code not yet expired.
    let mut ws = sim.connect("sim-on-invalid=error&sim-auth-code-margin=0").await;
    send(&mut ws, request).await;
    assert_eq!(next_json(&mut ws).await["class"], "SessionResponse");
    sim.stop().await;
}
