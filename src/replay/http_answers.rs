//! `replay serve --forward`'s answers to the plain HTTP requests a page makes to an intercepted host: a HAR's
//! recorded answer (fitted to the page's origin for CORS), a CORS preflight Chrome's HAR leaves out, or a 502
//! that says what the recording holds instead. Never the real host: the replay stays offline.

use super::serve::{response, text};
use super::Script;
use crate::event::Headers;
use crate::forward::Target;
use crate::har::{AnswerKey, RecordedAnswers};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;

const ALLOW_ORIGIN: &str = "access-control-allow-origin";

/// The answer to `req`, a request to the intercepted `target` that is no WebSocket upgrade; each is a log line.
pub(super) fn answer(req: &Request<Incoming>, target: &Target, script: &Script) -> Response<Full<Bytes>> {
    let path = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let key = AnswerKey::new(req.method().as_str(), target.tls, &target.host_header(), path);
    let answers = &script.answers;
    let origin = req.headers().get("origin").and_then(|v| v.to_str().ok());
    if let Some(mut answer) = answers.take(&key) {
        let mut said = String::new();
        if answer.body_missing {
            said.push_str(" (the HAR holds no body for it: sent without one)");
        }
        if let Some(origin) = origin {
            if let Some(recorded) = fit_allowed_origin(&mut answer.headers, origin) {
                said.push_str(&format!(
                    " (its Access-Control-Allow-Origin {recorded} is not this page's: sent as {origin}, so the browser \
                     takes it)"
                ));
            }
        }
        crate::notice!(
            "replay serve: {}: answered the recorded {} (HAR entry {}){said}",
            key.describe_for_log(),
            answer.status,
            answer.entry
        );
        return response(answer.status, &answer.headers, answer.body);
    }
    if let Some(answer) = preflight_answer(req, &key, answers) {
        return answer;
    }
    crate::notice!("replay serve: {}: no recorded answer, answered 502", key.describe_for_log());
    text(
        StatusCode::BAD_GATEWAY,
        format!(
            "frametap replay serve --forward: {} has no recorded answer: {}. To reach the real {}, run `frametap proxy \
             --forward` instead.\n",
            key.describe(),
            why_unanswered(&key, script),
            key.host
        ),
    )
}

/// Why no recorded answer fits `key`: the recording has none at all, none from that host, or others from it.
fn why_unanswered(key: &AnswerKey, script: &Script) -> String {
    const MATCHED_ON: &str = "requests are matched on method, host, path and query";
    let (answers, file) = (&script.answers, script.file.display());
    match (answers.is_empty(), answers.count_for_host(key), answers.near(key)) {
        (true, _, _) => format!(
            "the replay of {} answers only WebSocket upgrades to the hosts it intercepts (--intercept)",
            script.label()
        ),
        (false, 0, _) => format!("{file} records no answer from this host"),
        (false, count, near) if near.is_empty() => format!(
            "{file} records {} from this host, none to this method and URL ({MATCHED_ON})",
            crate::words::count(count as u64, "answer")
        ),
        (false, _, near) => format!("{file} records an answer to {} instead ({MATCHED_ON})", near.join(", ")),
    }
}

/// Sets a recorded `Access-Control-Allow-Origin` that names another origin than the page's to the page's, so that a
/// HAR recorded on one origin (production) replays to a page on another (a local dev server); returns the
/// recorded value when it changed it. `*` and a matching origin are left as they are.
fn fit_allowed_origin(headers: &mut Headers, origin: &str) -> Option<String> {
    let (_, value) = headers.iter_mut().find(|(name, _)| name.eq_ignore_ascii_case(ALLOW_ORIGIN))?;
    if value == "*" || value == origin {
        return None;
    }
    Some(std::mem::replace(value, origin.to_owned()))
}

/// The answer to a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`) for a request the HAR records an
/// answer to. Chrome leaves preflights out of its HARs, so without this a page's cross-origin POST (a token
/// refresh) would be blocked by the browser before its recorded answer could be replayed. It allows what the
/// preflight asks, for its origin only, with credentials when the recorded answer allowed them.
fn preflight_answer(
    req: &Request<Incoming>,
    key: &AnswerKey,
    answers: &RecordedAnswers,
) -> Option<Response<Full<Bytes>>> {
    let asked = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let method = asked("access-control-request-method").filter(|_| key.method == "OPTIONS")?;
    let origin = asked("origin")?;
    let recorded = AnswerKey { method: method.to_ascii_uppercase(), ..key.clone() };
    let answer = answers.peek(&recorded)?;
    let credentials = crate::event::header(&answer.headers, "access-control-allow-credentials")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut headers: Headers = vec![
        (ALLOW_ORIGIN.into(), origin.to_owned()),
        ("access-control-allow-methods".into(), recorded.method.clone()),
        ("access-control-max-age".into(), "600".into()),
        ("vary".into(), "Origin".into()),
    ];
    if let Some(wanted) = asked("access-control-request-headers") {
        headers.push(("access-control-allow-headers".into(), wanted.to_owned()));
    }
    if credentials {
        headers.push(("access-control-allow-credentials".into(), "true".into()));
    }
    crate::notice!(
        "replay serve: {}: answered the CORS preflight for the recorded {} (HAR entry {})",
        key.describe_for_log(),
        recorded.method,
        answer.entry
    );
    Some(response(204, &headers, Bytes::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_allowed_origin_is_fitted_to_the_page_unless_it_already_fits() {
        let recorded = |value: &str| vec![("Access-Control-Allow-Origin".to_owned(), value.to_owned())];
        let mut other = recorded("https://shop.example.com");
        assert_eq!(
            fit_allowed_origin(&mut other, "http://localhost:3000").as_deref(),
            Some("https://shop.example.com")
        );
        assert_eq!(other, recorded("http://localhost:3000"));
        for value in ["*", "http://localhost:3000"] {
            let mut same = recorded(value);
            assert_eq!(fit_allowed_origin(&mut same, "http://localhost:3000"), None);
            assert_eq!(same, recorded(value));
        }
        assert_eq!(fit_allowed_origin(&mut Vec::new(), "http://localhost:3000"), None);
    }
}
