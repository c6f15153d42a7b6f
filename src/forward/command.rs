//! `frametap proxy --forward`: load the local CA, bind, print how to point the browser at frametap, serve.

use std::net::SocketAddr;
use std::sync::Arc;

use super::intercept::InterceptRules;
use super::server::{forward_upstream_label, serve, ForwardOptions};
use super::upstream_proxy::UpstreamProxies;
use crate::cli::{ProxyArgs, DEFAULT_FORWARD_ADDR};
use crate::proxy::relay::RelayOptions;
use crate::proxy::{ProxyConfig, CLOSE_TIMEOUT, HANDSHAKE_TIMEOUT};
use crate::session::{self, SessionSetup};
use crate::tls::{CertAuthority, LeafIssuer};

/// Runs forward mode until Ctrl-C or SIGTERM.
pub async fn run(args: ProxyArgs) -> anyhow::Result<()> {
    let ca = args.modes.listen_tls.certs.load_ca()?;
    let tls = args.tls.client_config(None)?;
    let upstream_proxies = UpstreamProxies::resolve(args.modes.upstream_proxy.as_deref())?;
    let intercept = InterceptRules::new(args.modes.intercept.iter().cloned());
    let listen = args.listen.unwrap_or_else(|| DEFAULT_FORWARD_ADDR.parse().expect("a valid default"));
    let listener = crate::commands::shutdown::bind(listen, "forward proxy", "--listen").await?;
    let local = listener.local_addr()?;
    let session = session::start(SessionSetup {
        mode: "forward",
        upstream: None,
        capture: &args.capture,
        log: &args.log,
        insecure_upstream: args.tls.insecure_upstream,
        publishers: Vec::new(),
        ui: Some(&args.ui),
        analysis: Some(args.analysis.options()),
        try_target: None,
    })
    .await?;
    let stop = crate::commands::shutdown::signal();
    crate::notice!("frametap proxy --forward");
    announce_browser_proxy(local, "relayed and captured", &intercept, &ca, &upstream_proxies);
    // In the order `proxy` prints them.
    match &session.capture_path {
        Some(path) => crate::notice!("  capture                                     {}", path.display()),
        None => crate::notice!("  capture                                     off (--no-capture)"),
    }
    if let Some(url) = session.ui_url() {
        crate::notice!("  web UI                                      {url}");
    }
    crate::commands::announce_ctrl_c(session.capture_path.is_some());
    let config = ProxyConfig {
        upstream: forward_upstream_label(),
        tls,
        upstream_proxies,
        set_headers: args.set_header,
        // The browser's cookies here are the real host's own: they belong upstream.
        forward_cookies: true,
        relay: RelayOptions { max_message: args.max_message, close_timeout: CLOSE_TIMEOUT },
        handshake_timeout: HANDSHAKE_TIMEOUT,
        public_url: format!("http://{}", crate::cli::dialable(local)),
        ui_address: session.ui_address(),
    };
    let options = ForwardOptions { intercept, issuer: Arc::new(LeafIssuer::new(ca)) };
    let result = serve(listener, options, config, session.sink.clone(), stop).await;
    session.finish().await;
    result
}

/// The banner lines of a forward-mode listener (`proxy --forward`, `replay serve --forward`): where to point the
/// browser, which hosts are `intercepted` (relayed and captured, or replayed), what happens to the others, the CA
/// to trust, the upstream proxy; and a warning when the listener is not on loopback.
pub fn announce_browser_proxy(
    local: SocketAddr,
    intercepted: &str,
    intercept: &InterceptRules,
    ca: &CertAuthority,
    upstream_proxies: &UpstreamProxies,
) {
    let dial = crate::cli::dialable(local);
    crate::notice!("  set your browser's HTTP and HTTPS proxy to  http://{dial}");
    crate::notice!(
        "    (Chromium: --proxy-server=http://{dial}; add --proxy-bypass-list='<-loopback>' for local hosts)"
    );
    crate::notice!("  {:<42}  {}", format!("{intercepted} (--intercept)"), intercept.globs().join(" "));
    crate::notice!("  other hosts                                 tunnelled untouched");
    crate::notice!(
        "  local CA the browser must trust             {} (SHA-256 {})",
        ca.cert_path().display(),
        ca.fingerprint_sha256()
    );
    if let Some(proxy) = upstream_proxies.secure.as_ref().or(upstream_proxies.plain.as_ref()) {
        crate::notice!("  upstream proxy                              {proxy}");
    }
    crate::commands::warn_unless_loopback(local, "proxy", false);
}
