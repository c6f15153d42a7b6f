//! The `frametap proxy` options for TLS and forward mode, flattened into `ProxyArgs` (src/cli.rs).

use crate::tls::ListenTlsArgs;

/// `--tls`, `--certs`, `--forward`, `--intercept` and `--upstream-proxy`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ProxyModeArgs {
    #[command(flatten)]
    pub listen_tls: ListenTlsArgs,
    /// Forward-proxy mode: set frametap as the browser's HTTP proxy (default listen 127.0.0.1:8080);
    /// no front-end change needed. CONNECT to hosts matching --intercept is terminated with a
    /// certificate from the local CA and its WebSockets relayed; other hosts are tunnelled untouched.
    #[arg(long, conflicts_with = "upstream")]
    pub forward: bool,
    /// With --forward: host glob whose CONNECT tunnels are terminated and whose WebSockets are relayed
    /// (repeatable; `*` matches across dots) [default: webmessaging.*, the Genesys Web Messaging hosts].
    #[arg(long, value_name = "GLOB", requires = "forward", value_parser = crate::forward::intercept::parse_glob)]
    pub intercept: Vec<String>,
    /// Reach upstreams through this HTTP proxy: http://[user:password@]host[:port] (CONNECT, Basic auth).
    /// Without it, HTTPS_PROXY / HTTP_PROXY are used; NO_PROXY applies in both cases. The built-in
    /// simulator is always reached directly (so this needs --upstream or --forward).
    #[arg(long, value_name = "URL")]
    pub upstream_proxy: Option<String>,
}
