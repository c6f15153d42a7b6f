//! The UI's gatekeeping: Host (DNS rebinding), Origin (cross-site pages) and access-token checks.
//!
//! The UI shows live credentials, so every route needs the random access token printed at start:
//! `?token=` on the first load, then an HttpOnly, SameSite=Strict cookie. Requests whose `Host` is not
//! the UI's own address (or localhost / 127.0.0.1 / [::1] on its port) get 403, and so do the API requests a
//! page from another origin makes (the live stream included), unless `--ui-origin` names that origin (a reverse
//! proxy in front of the UI).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::routes::AppState;

/// The query parameter that carries the access token on first load.
pub const TOKEN_PARAM: &str = "token";

/// The header on every refusal that says what was refused: `token` (401: no access token, or another run's), `host`
/// or `origin` (403: the address the request came to, or the page it came from). A page whose stream is refused reads
/// it to tell a frametap restarted with a new token from one that refuses its address, and both from another program
/// answering on the port (which sends no such header).
pub const REFUSAL_HEADER: &str = "x-frametap-refusal";

/// Which `Host` and `Origin` values the UI accepts.
#[derive(Clone, Debug)]
pub struct HostPolicy {
    port: u16,
    allowed: Vec<String>,
    any_ip_literal: bool,
    /// Origins `--ui-origin` names (as [`parse_origin`] writes them): pages there are accepted, and so is their
    /// host as `Host` (a front that passes its own on).
    fronts: Vec<String>,
}

/// An origin as `--ui-origin` takes it and a browser writes it: `http` or `https`, a host, a port unless the scheme's
/// default, nothing after (`https://frametap.example`, `http://10.0.0.5:8080`); lowercase.
pub fn parse_origin(text: &str) -> Result<String, String> {
    let wrong = |why: &str| {
        format!(
            "{text:?} is not an origin ({why}): give the scheme, host and port the browser shows for the front the \
             UI is opened through, as `https://frametap.example` or `http://10.0.0.5:8080`"
        )
    };
    let lower = text.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, authority) = lower.split_once("://").ok_or_else(|| wrong("no http:// or https://"))?;
    let default_port = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => return Err(wrong("only http and https pages open the UI")),
    };
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return Err(wrong("a path, query, user or space after the host"));
    }
    let parsed: axum::http::uri::Authority = authority.parse().map_err(|_| wrong("not a host and port"))?;
    let authority = parsed.as_str().strip_suffix(default_port).unwrap_or(parsed.as_str());
    Ok(format!("{scheme}://{authority}"))
}

impl HostPolicy {
    /// The policy of a UI listening on `listen` that also accepts pages at `fronts` (origins as [`parse_origin`]
    /// writes them).
    pub fn new(listen: SocketAddr, fronts: &[String]) -> HostPolicy {
        let port = listen.port();
        let mut allowed: Vec<String> =
            ["localhost", "127.0.0.1", "[::1]"].iter().map(|h| format!("{h}:{port}")).collect();
        if !listen.ip().is_unspecified() {
            let own = SocketAddr::new(listen.ip(), port).to_string();
            if !allowed.contains(&own) {
                allowed.push(own);
            }
        }
        // Bound to every interface, the UI's own address is any of the machine's: an IP literal
        // cannot be rebound by DNS, so any is safe to accept. Host names other than localhost are not.
        HostPolicy { port, allowed, any_ip_literal: listen.ip().is_unspecified(), fronts: fronts.to_vec() }
    }

    /// True when `host` (a `Host` header value) names this UI.
    pub fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        self.front_hosts().any(|at| at == host) || self.own_host(host)
    }

    /// True when `host` (lowercase) is the UI's own address, or localhost on its port.
    fn own_host(&self, host: String) -> bool {
        let has_port = match host.rfind(']') {
            Some(end) => host[end..].contains(':'),
            None => host.contains(':'),
        };
        // A browser leaves the port out only when it is the scheme's default.
        let with_port = if has_port { host } else { format!("{host}:80") };
        if self.allowed.contains(&with_port) {
            return true;
        }
        self.any_ip_literal && with_port.parse::<SocketAddr>().is_ok_and(|a| a.port() == self.port)
    }

    /// True when `origin` (an `Origin` header value) is this UI's own origin.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim().to_ascii_lowercase();
        self.fronts.contains(&origin) || origin.strip_prefix("http://").is_some_and(|host| self.own_host(host.into()))
    }

    /// The origins whose pages are accepted, for messages.
    pub fn describe_origins(&self) -> String {
        let own = self.allowed.iter().map(|host| format!("http://{host}"));
        let mut text = own.chain(self.fronts.iter().cloned()).collect::<Vec<_>>().join(", ");
        if self.any_ip_literal {
            text.push_str(&format!(", http:// any IP address on port {}", self.port));
        }
        text
    }

    /// The hosts (with their port unless the scheme's default) of the fronts `--ui-origin` names.
    fn front_hosts(&self) -> impl Iterator<Item = &str> {
        self.fronts.iter().filter_map(|front| front.split_once("://").map(|(_, host)| host))
    }

    /// The addresses accepted as `Host`, for messages.
    pub fn describe(&self) -> String {
        let hosts = self.allowed.iter().map(String::as_str).chain(self.front_hosts());
        let mut text = hosts.collect::<Vec<_>>().join(", ");
        if self.any_ip_literal {
            text.push_str(&format!(", any IP address on port {}", self.port));
        }
        text
    }
}

/// True when the UI listens somewhere other people on the network can reach.
pub fn is_exposed(listen: SocketAddr) -> bool {
    !match listen.ip() {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// The cookie that carries the access token after the first load; per port, since cookies are not.
pub fn cookie_name(listen: SocketAddr) -> String {
    format!("{}{}", crate::proxy::headers::UI_COOKIE_PREFIX, listen.port())
}

/// Compares without an early exit, so timing does not tell how much of a guess was right.
fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn query_token(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|pair| pair.strip_prefix(TOKEN_PARAM)?.strip_prefix('='))
}

fn cookie_token<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

fn refuse(status: StatusCode, refused: &'static str, message: String) -> Response {
    tracing::debug!(%status, refused, "ui: refused a request: {message}");
    let mut response = (status, format!("frametap UI: {message}\n")).into_response();
    response.headers_mut().insert(REFUSAL_HEADER, HeaderValue::from_static(refused));
    add_safety_headers(response.headers_mut());
    response
}

/// Why a page at `origin` is refused, and what to do: open the UI at its own address, or name the front it is opened
/// through with `--ui-origin`.
fn origin_refused(origin: &str, hosts: &HostPolicy) -> String {
    let accepted = hosts.describe_origins();
    match parse_origin(origin) {
        Ok(front) => format!(
            "requests from pages at {origin} are refused (this UI accepts pages at {accepted}); to use the UI through \
             a reverse proxy or another front at {front}, start frametap with --ui-origin {front}, or open the URL \
             frametap printed"
        ),
        Err(_) => {
            format!("requests from pages on other origins ({origin}) are refused (this UI accepts pages at {accepted})")
        }
    }
}

/// True for the UI's pages and assets (`/`, `/try`, `/assets/…`, `/favicon.ico`): the same for every page.
fn is_page_or_asset(path: &str) -> bool {
    matches!(path, "/" | "/try" | "/favicon.ico") || path.starts_with("/assets/")
}

/// Middleware in front of every route: Host, Origin, then the access token.
pub async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    match host {
        Some(host) if state.hosts.host_allowed(host) => {}
        other => {
            return refuse(
                StatusCode::FORBIDDEN,
                "host",
                format!(
                    "Host {:?} is not this UI's address (accepted: {}); this refuses DNS-rebinding attacks",
                    other.unwrap_or("(none)"),
                    state.hosts.describe()
                ),
            )
        }
    }
    // Pages and their scripts hold no data, and a page on another origin cannot run or read them (they carry no CORS
    // headers): the Origin check guards the API and the stream. A browser fetches a module script with the page's
    // `Origin`, so a page opened through a front frametap refuses still runs, and says why its stream is refused.
    let page_or_asset = request.method() == Method::GET && is_page_or_asset(request.uri().path());
    if let Some(origin) = headers.get(header::ORIGIN).filter(|_| !page_or_asset) {
        let origin = origin.to_str().unwrap_or("(not text)");
        if !state.hosts.origin_allowed(origin) {
            return refuse(StatusCode::FORBIDDEN, "origin", origin_refused(origin, &state.hosts));
        }
    }
    let expected = state.options.access_token.as_str();
    let from_query = query_token(request.uri().query()).filter(|t| same_secret(t, expected));
    let from_cookie = cookie_token(headers, &state.cookie).is_some_and(|t| same_secret(t, expected));
    if from_query.is_none() && !from_cookie {
        // A token that is not this run's: frametap makes a new one each time it starts.
        let stale = query_token(request.uri().query()).is_some() || cookie_token(headers, &state.cookie).is_some();
        let message = if stale {
            "this access token is not this run's (frametap prints a new one each time it starts: a URL from an earlier \
             run?): open the URL frametap printed at start (it ends in ?token=…)"
        } else {
            "an access token is needed: open the URL frametap printed at start (it ends in ?token=…)"
        };
        return refuse(StatusCode::UNAUTHORIZED, "token", message.into());
    }
    let set_cookie = from_query.is_some() && !from_cookie;
    let mut response = next.run(request).await;
    if set_cookie {
        let cookie = format!("{}={expected}; HttpOnly; SameSite=Strict; Path=/", state.cookie);
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    add_safety_headers(response.headers_mut());
    response
}

fn add_safety_headers(headers: &mut HeaderMap) {
    let fixed = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in fixed {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_own_address_are_accepted_on_the_right_port() {
        let policy = HostPolicy::new("127.0.0.1:9001".parse().unwrap(), &[]);
        for ok in ["127.0.0.1:9001", "localhost:9001", "LOCALHOST:9001", "[::1]:9001"] {
            assert!(policy.host_allowed(ok), "{ok}");
        }
        for bad in ["127.0.0.1:9002", "evil.example:9001", "localhost", "10.0.0.2:9001"] {
            assert!(!policy.host_allowed(bad), "{bad}");
        }
        assert!(policy.origin_allowed("http://localhost:9001"));
        assert!(!policy.origin_allowed("http://evil.example:9001"));
        assert!(!policy.origin_allowed("null"));
    }

    #[test]
    fn a_lan_address_is_accepted_as_host_when_listening_there() {
        let policy = HostPolicy::new("192.168.1.5:9001".parse().unwrap(), &[]);
        assert!(policy.host_allowed("192.168.1.5:9001"));
        assert!(!policy.host_allowed("192.168.1.6:9001"));
        assert!(is_exposed("192.168.1.5:9001".parse().unwrap()));
        assert!(!is_exposed("[::1]:9001".parse().unwrap()));
        let any = HostPolicy::new("0.0.0.0:9001".parse().unwrap(), &[]);
        assert!(any.host_allowed("192.168.1.6:9001"));
        assert!(!any.host_allowed("rebind.example:9001"));
    }

    #[test]
    fn a_front_named_by_ui_origin_is_accepted_as_origin_and_as_host() {
        let fronts =
            [parse_origin("HTTPS://Frametap.Example:443/").unwrap(), parse_origin("http://10.0.0.5:8080").unwrap()];
        assert_eq!(fronts, ["https://frametap.example", "http://10.0.0.5:8080"]);
        let policy = HostPolicy::new("127.0.0.1:9001".parse().unwrap(), &fronts);
        assert!(policy.origin_allowed("https://frametap.example") && policy.origin_allowed("http://10.0.0.5:8080"));
        assert!(policy.origin_allowed("http://127.0.0.1:9001"), "its own address still");
        assert!(!policy.origin_allowed("http://frametap.example"), "another scheme is another origin");
        assert!(!policy.origin_allowed("https://frametap.example:8443"));
        assert!(policy.host_allowed("frametap.example") && policy.host_allowed("10.0.0.5:8080"));
        assert!(!policy.host_allowed("frametap.example:9001") && !policy.host_allowed("evil.example"));
        assert!(policy.describe_origins().ends_with("https://frametap.example, http://10.0.0.5:8080"));
        assert!(policy.describe().ends_with(", frametap.example, 10.0.0.5:8080"), "the hosts --ui-origin accepts too");
        for bad in ["frametap.example", "ftp://x.example", "https://x.example/ui", "https://", "null", "http://a b"] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_come_from_query_or_cookie() {
        assert_eq!(query_token(Some("a=1&token=abc")), Some("abc"));
        assert_eq!(query_token(Some("tokens=abc")), None);
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("x=1; frametap_ui_9001=s3cret"));
        assert_eq!(cookie_token(&headers, "frametap_ui_9001"), Some("s3cret"));
        assert!(same_secret("s3cret", "s3cret") && !same_secret("s3cre", "s3cret"));
    }
}
