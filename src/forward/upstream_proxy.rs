//! Upstream (corporate) HTTP proxies: `--upstream-proxy URL`, `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`,
//! and the TCP dialer that reaches a host directly or through a proxy's `CONNECT` (Basic auth from the URL).

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{bail, Context as _};
use base64::Engine as _;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use super::head::read_response_head_exact;

/// One HTTP proxy: where it is and, if the URL carried them, the Basic credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyEndpoint {
    pub host: String,
    pub port: u16,
    /// `user:password`, percent-decoded, sent as `Proxy-Authorization: Basic …`.
    pub credentials: Option<String>,
}

impl std::fmt::Debug for ProxyEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        write!(f, "{self}")
    }
}

impl std::fmt::Display for ProxyEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let auth = if self.credentials.is_some() { "***@" } else { "" };
        write!(f, "http://{auth}{}", host_port(&self.host, self.port))
    }
}

impl ProxyEndpoint {
    /// Parses `http://[user:password@]host[:port][/]` (scheme optional; port defaults to 80).
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let bad = |why: &str| anyhow::anyhow!("bad proxy URL {:?}: {why}", hide_credentials(url));
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                return Err(bad(&format!(
                    "the {scheme}:// scheme is not supported; frametap speaks to proxies over plain http://"
                )))
            }
            None => url,
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((user, hp)) => (Some(user), hp),
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport).map_err(|e| bad(&e))?;
        let credentials = userinfo
            .map(|u| {
                let (user, pass) = u.split_once(':').unwrap_or((u, ""));
                Ok::<_, anyhow::Error>(format!("{}:{}", percent_decode(user)?, percent_decode(pass)?))
            })
            .transpose()
            .map_err(|e| bad(&format!("{e:#}")))?;
        Ok(ProxyEndpoint { host, port: port.unwrap_or(80), credentials })
    }
}

/// Which proxy (if any) to use for each upstream: the frametap setting, or the standard variables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpstreamProxies {
    /// For `wss://` and `https://` upstreams.
    pub secure: Option<ProxyEndpoint>,
    /// For `ws://` and `http://` upstreams.
    pub plain: Option<ProxyEndpoint>,
    /// Hosts reached directly (the `NO_PROXY` list).
    pub no_proxy: Vec<String>,
}

impl UpstreamProxies {
    /// No proxy at all: every upstream is dialled directly.
    pub fn direct() -> Self {
        Self::default()
    }

    /// `--upstream-proxy URL` when given (for every upstream), else `HTTPS_PROXY`/`HTTP_PROXY`;
    /// `NO_PROXY` applies in both cases. Lowercase variables win over uppercase ones, as in curl.
    pub fn resolve(flag: Option<&str>) -> anyhow::Result<Self> {
        Self::resolve_with(flag, |name| std::env::var(name).ok())
    }

    /// [`UpstreamProxies::resolve`] reading variables through `env` (tests pass a map).
    pub fn resolve_with(flag: Option<&str>, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let var = |lower: &str, upper: &str| env(lower).or_else(|| env(upper)).filter(|v| !v.trim().is_empty());
        let from_var = |lower: &str, upper: &str| {
            var(lower, upper)
                .map(|url| ProxyEndpoint::parse(url.trim()).with_context(|| format!("in {upper}")))
                .transpose()
        };
        let (secure, plain) = match flag.filter(|f| !f.trim().is_empty()) {
            Some(url) => {
                let proxy = ProxyEndpoint::parse(url.trim()).context("in --upstream-proxy")?;
                (Some(proxy.clone()), Some(proxy))
            }
            None => (from_var("https_proxy", "HTTPS_PROXY")?, from_var("http_proxy", "HTTP_PROXY")?),
        };
        let no_proxy = var("no_proxy", "NO_PROXY")
            .map(|list| list.split(',').map(|e| e.trim().to_ascii_lowercase()).filter(|e| !e.is_empty()).collect())
            .unwrap_or_default();
        Ok(UpstreamProxies { secure, plain, no_proxy })
    }

    /// The proxy to reach `host:port` through, or `None` to dial directly.
    pub fn proxy_for(&self, secure: bool, host: &str, port: u16) -> Option<&ProxyEndpoint> {
        let proxy = if secure { &self.secure } else { &self.plain };
        proxy.as_ref().filter(|_| !self.bypasses(host, port))
    }

    /// Whether `NO_PROXY` sends `host:port` direct: `*`, an exact host or IP, a domain (with or
    /// without a leading dot) covering its subdomains, each optionally restricted by `:port`.
    pub fn bypasses(&self, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
        self.no_proxy.iter().any(|entry| {
            if entry == "*" {
                return true;
            }
            let (name, entry_port) = match split_host_port(entry) {
                Ok((name, p)) => (name, p),
                Err(_) => return false,
            };
            if entry_port.is_some_and(|p| p != port) {
                return false;
            }
            let name = name.trim_start_matches("*.").trim_start_matches('.');
            host == name || host.ends_with(&format!(".{name}"))
        })
    }
}

/// Dials `host:port` for an upstream, through the configured proxy when one applies.
pub async fn dial(
    proxies: &UpstreamProxies,
    secure: bool,
    host: &str,
    port: u16,
    timeout: Duration,
) -> anyhow::Result<TcpStream> {
    let target = host_port(host, port);
    let dialing = async {
        match proxies.proxy_for(secure, host, port) {
            Some(proxy) => connect_via(proxy, host, port).await,
            None => TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port))
                .await
                .with_context(|| format!("could not connect to {target}")),
        }
    };
    tokio::time::timeout(timeout, dialing)
        .await
        .map_err(|_| anyhow::anyhow!("connecting to {target} timed out after {timeout:?}"))?
}

/// Opens a tunnel to `host:port` through `proxy` with `CONNECT`; the returned stream is the tunnel.
pub async fn connect_via(proxy: &ProxyEndpoint, host: &str, port: u16) -> anyhow::Result<TcpStream> {
    let target = host_port(host, port);
    let mut stream = TcpStream::connect((proxy.host.as_str(), proxy.port))
        .await
        .with_context(|| format!("could not connect to the upstream proxy {proxy}"))?;
    let _ = stream.set_nodelay(true);
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(credentials) = &proxy.credentials {
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        request.push_str(&format!("Proxy-Authorization: Basic {encoded}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .with_context(|| format!("could not send CONNECT to the upstream proxy {proxy}"))?;
    let (code, line) = read_response_head_exact(&mut stream)
        .await
        .with_context(|| format!("the upstream proxy {proxy} did not answer CONNECT {target}"))?;
    match code {
        200..=299 => {
            tracing::debug!(%proxy, %target, "tunnel open through the upstream proxy");
            Ok(stream)
        }
        407 if proxy.credentials.is_none() => {
            bail!("the upstream proxy {proxy} requires authentication ({line}): put user:password@ in the proxy URL")
        }
        407 => bail!("the upstream proxy {proxy} refused the credentials in its URL ({line})"),
        _ => bail!("the upstream proxy {proxy} refused CONNECT {target}: {line}"),
    }
}

/// `host:port`, with IPv6 addresses bracketed.
pub fn host_port(host: &str, port: u16) -> String {
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Splits `host[:port]` / `[v6][:port]`; the host is lowercased and unbracketed, the port checked
/// ([`parse_port`]). Shared by `--upstream`, `--upstream-proxy`, the proxy variables and `NO_PROXY`.
pub fn split_host_port(text: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed [ in the host")?;
        (host, after.strip_prefix(':'))
    } else if text.parse::<IpAddr>().is_ok() {
        (text, None)
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    let port = port.map(parse_port).transpose()?;
    Ok((host.to_ascii_lowercase(), port))
}

/// A TCP port as written after the `:` of a URL: digits only, 1 to 65535.
pub fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
        _ if text.is_empty() => Err("a ':' with no port after it (write host:port, or leave out the ':')".into()),
        _ => Err(format!("bad port {text:?}: a port is a number from 1 to 65535")),
    }
}

fn percent_decode(text: &str) -> anyhow::Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).context("a % escape is cut short")?;
            out.push(u8::from_str_radix(hex, 16).context("a % escape is not hexadecimal")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).context("the credentials are not UTF-8")
}

/// The command line with the credentials of any `--upstream-proxy` URL hidden (`http://***@host`),
/// for records that keep the command line (the capture's `meta`).
pub fn redact_command_line(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut after_flag = false;
    args.into_iter()
        .map(|arg| {
            let redacted = if after_flag {
                hide_credentials(&arg)
            } else if let Some(url) = arg.strip_prefix("--upstream-proxy=") {
                format!("--upstream-proxy={}", hide_credentials(url))
            } else {
                arg.clone()
            };
            after_flag = arg == "--upstream-proxy";
            redacted
        })
        .collect()
}

/// The URL with any credentials replaced, for error messages and recorded command lines.
pub(crate) fn hide_credentials(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}***{}", &url[..s + 3], &url[at..]),
        (None, Some(at)) => format!("***{}", &url[at..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_credentials_ports_and_ipv6() {
        let p = ProxyEndpoint::parse("http://us%40r:p%3Ass@proxy.corp:3128/").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.corp", 3128));
        assert_eq!(p.credentials.as_deref(), Some("us@r:p:ss"));
        assert_eq!(p.to_string(), "http://***@proxy.corp:3128");
        let p = ProxyEndpoint::parse("[::1]:8080").unwrap();
        assert_eq!((p.host.as_str(), p.port, p.credentials), ("::1", 8080, None));
        assert_eq!(ProxyEndpoint::parse("http://proxy").unwrap().port, 80);
    }

    #[test]
    fn rejects_unsupported_schemes_without_leaking_passwords() {
        let err = ProxyEndpoint::parse("socks5://u:secret@h:1080").unwrap_err().to_string();
        assert!(err.contains("socks5") && !err.contains("secret"), "{err}");
        let err = ProxyEndpoint::parse("http://u:secret@h:notaport").unwrap_err().to_string();
        assert!(err.contains("bad port") && !err.contains("secret"), "{err}");
        for port in ["0", "65536", "+80"] {
            let err = ProxyEndpoint::parse(&format!("http://h:{port}")).unwrap_err().to_string();
            assert!(err.contains(&format!("bad port \"{port}\"")) && err.contains("1 to 65535"), "{err}");
        }
        assert!(ProxyEndpoint::parse("http://h:").unwrap_err().to_string().contains("no port after it"));
    }

    #[test]
    fn recorded_command_lines_hide_proxy_credentials() {
        let args = ["frametap", "proxy", "--upstream-proxy", "http://u:secret@p:1", "--upstream-proxy=u:secret@p:2"];
        let redacted = redact_command_line(args.map(String::from));
        assert_eq!(redacted[3], "http://***@p:1");
        assert_eq!(redacted[4], "--upstream-proxy=***@p:2");
        assert_eq!(redacted[..3], args[..3]);
    }

    #[test]
    fn the_flag_wins_over_the_environment_and_no_proxy_still_applies() {
        let env = |name: &str| match name {
            "HTTPS_PROXY" => Some("http://env-secure:1".to_string()),
            "http_proxy" => Some("http://env-plain:2".to_string()),
            "HTTP_PROXY" => Some("http://ignored:3".to_string()),
            "NO_PROXY" => Some("internal.corp, .svc:8443,10.0.0.1".to_string()),
            _ => None,
        };
        let from_env = UpstreamProxies::resolve_with(None, env).unwrap();
        assert_eq!(from_env.proxy_for(true, "a.com", 443).unwrap().host, "env-secure");
        assert_eq!(from_env.proxy_for(false, "a.com", 80).unwrap().host, "env-plain");
        assert!(from_env.proxy_for(true, "x.internal.corp", 443).is_none());
        assert!(from_env.proxy_for(true, "api.svc", 8443).is_none());
        assert!(from_env.proxy_for(true, "api.svc", 443).is_some());
        assert!(from_env.proxy_for(true, "10.0.0.1", 443).is_none());
        assert!(from_env.proxy_for(true, "notinternal.corp", 443).is_some());
        let flag = UpstreamProxies::resolve_with(Some("http://flag:9"), env).unwrap();
        assert_eq!(flag.proxy_for(false, "a.com", 80).unwrap().host, "flag");
        assert!(flag.proxy_for(true, "internal.corp", 443).is_none());
        let none = UpstreamProxies::resolve_with(None, |_| None).unwrap();
        assert!(none.proxy_for(true, "a.com", 443).is_none());
    }
}
