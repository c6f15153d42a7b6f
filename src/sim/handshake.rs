//! The upgrade request: `sim-*` parameters, the required deploymentId, and the Origin/deployment checks.

use http::{header, StatusCode};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request};

use super::config::Scenario;

/// What an accepted upgrade request tells the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub scenario: Scenario,
    pub deployment_id: String,
}

/// A refused upgrade: the status and a plain-text body saying what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub status: StatusCode,
    pub body: String,
}

impl Refused {
    fn new(status: StatusCode, body: String) -> Refused {
        Refused { status, body }
    }

    pub fn into_response(self) -> ErrorResponse {
        let mut response = ErrorResponse::new(Some(format!("{}\n", self.body)));
        *response.status_mut() = self.status;
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/plain; charset=utf-8"));
        response
    }
}

/// Checks an upgrade request against the simulator's defaults. Any path is accepted.
pub fn check_request(request: &Request, defaults: &Scenario) -> Result<Accepted, Refused> {
    let query = request.uri().query().unwrap_or_default();
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let scenario = defaults
        .with_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|why| Refused::new(StatusCode::BAD_REQUEST, why))?;
    let deployment_id =
        pairs.iter().find(|(k, v)| k == "deploymentId" && !v.is_empty()).map(|(_, v)| v.clone()).ok_or_else(|| {
            Refused::new(
                StatusCode::BAD_REQUEST,
                "missing query parameter deploymentId: connect to /v1?deploymentId=<your deployment id>".to_owned(),
            )
        })?;
    if !scenario.deployment_ids.is_empty() && !scenario.deployment_ids.contains(&deployment_id) {
        return Err(Refused::new(
            StatusCode::FORBIDDEN,
            format!(
                "access refused: deploymentId {deployment_id:?} is not one this simulator allows \
                 (--deployment-id / sim-deployment-id); check the deploymentId"
            ),
        ));
    }
    if !scenario.allowed_origins.is_empty() {
        let origin = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok());
        let allowed = origin.is_some_and(|origin| scenario.allowed_origins.iter().any(|a| same_origin(a, origin)));
        if !allowed {
            let seen = match origin {
                Some(origin) => format!("Origin {origin:?} is"),
                None => "a request without an Origin header is".to_owned(),
            };
            return Err(Refused::new(
                StatusCode::FORBIDDEN,
                format!(
                    "access refused: {seen} not allowed for this deployment (allowed: {}; \
                     --allowed-origin / sim-allowed-origin); check the deployment's allowed domains",
                    scenario.allowed_origins.join(", ")
                ),
            ));
        }
    }
    Ok(Accepted { scenario, deployment_id })
}

fn same_origin(allowed: &str, seen: &str) -> bool {
    allowed.trim_end_matches('/').eq_ignore_ascii_case(seen.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, origin: Option<&str>) -> Request {
        let mut builder = Request::builder().uri(uri);
        if let Some(origin) = origin {
            builder = builder.header("Origin", origin);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn accepts_any_path_and_decodes_the_query() {
        let got = check_request(&request("/anything?deploymentId=d%201&sim-drop-after=3", None), &Scenario::default())
            .unwrap();
        assert_eq!(got.deployment_id, "d 1");
        assert_eq!(got.scenario.drop_after, Some(3));
    }

    #[test]
    fn refusals_have_the_right_status_and_say_why() {
        let defaults = Scenario {
            deployment_ids: vec!["good".into()],
            allowed_origins: vec!["https://shop.example/".into()],
            ..Scenario::default()
        };
        let cases = [
            ("/v1", Some("https://shop.example"), 400, "missing query parameter deploymentId"),
            ("/v1?deploymentId=good&sim-jwt-ttl=x", None, 400, "sim-jwt-ttl"),
            ("/v1?deploymentId=bad", Some("https://shop.example"), 403, "deploymentId \"bad\""),
            ("/v1?deploymentId=good", Some("https://evil.example"), 403, "https://evil.example"),
            ("/v1?deploymentId=good", None, 403, "without an Origin"),
        ];
        for (uri, origin, status, text) in cases {
            let refused = check_request(&request(uri, origin), &defaults).unwrap_err();
            assert_eq!(refused.status.as_u16(), status, "{uri}");
            assert!(refused.body.contains(text), "{uri}: {}", refused.body);
        }
        let ok = check_request(&request("/v1?deploymentId=good", Some("HTTPS://shop.example")), &defaults);
        assert!(ok.is_ok());
        // A URL parameter replaces the flag's list for that connection.
        let ok = check_request(
            &request("/v1?deploymentId=bad&sim-deployment-id=bad", Some("https://shop.example")),
            &defaults,
        );
        assert!(ok.is_ok());
    }
}
