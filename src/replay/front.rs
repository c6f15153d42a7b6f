//! How clients reach `replay serve`: `--tls` and `--forward`, the same options and listeners as `frametap proxy`.

use super::serve::Front;
use super::Script;
use crate::forward::{ForwardOptions, InterceptRules, UpstreamProxies};
use crate::tls::{LeafIssuer, ListenTlsArgs};
use std::sync::Arc;

/// `--tls`, `--certs`, `--forward`, `--intercept` and `--upstream-proxy` of `replay serve`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FrontArgs {
    #[command(flatten)]
    pub listen_tls: ListenTlsArgs,
    /// Forward-proxy mode, as `proxy --forward`: set frametap as the browser's HTTP proxy (default listen
    /// 127.0.0.1:8080), so a front end that talks wss:// to the real host needs no change. CONNECT to the
    /// recorded host (or --intercept) is terminated with a certificate from the local CA and its WebSocket
    /// upgrades get the replay; its other requests get a 502 saying so; other hosts are tunnelled untouched.
    #[arg(long)]
    pub forward: bool,
    /// With --forward: host glob whose CONNECT tunnels are terminated and whose WebSocket upgrades get the
    /// replay (repeatable; `*` matches across dots, so '*' takes every host) [default: the host the recorded
    /// connection went to, else webmessaging.*].
    #[arg(long, value_name = "GLOB", requires = "forward", value_parser = crate::forward::intercept::parse_glob)]
    pub intercept: Vec<String>,
    /// With --forward: reach the hosts that are tunnelled (not replayed) through this HTTP proxy:
    /// http://[user:password@]host[:port] (CONNECT, Basic auth). Without it, HTTPS_PROXY / HTTP_PROXY are used;
    /// NO_PROXY applies in both cases.
    #[arg(long, value_name = "URL", requires = "forward")]
    pub upstream_proxy: Option<String>,
}

impl FrontArgs {
    /// The listener these options ask for, serving `script`. The local CA is loaded here, before anything
    /// listens, so a missing or damaged CA stops the command with the fix.
    pub fn front(&self, script: &Script, listen: std::net::IpAddr) -> anyhow::Result<Front> {
        if let Some(tls) = self.listen_tls.server_config(listen)? {
            return Ok(Front::Tls(tls));
        }
        if !self.forward {
            return Ok(Front::Plain);
        }
        let ca = self.listen_tls.certs.load_ca()?;
        let options = ForwardOptions { intercept: self.intercept(script), issuer: Arc::new(LeafIssuer::new(ca)) };
        Ok(Front::Forward { options, proxies: UpstreamProxies::resolve(self.upstream_proxy.as_deref())? })
    }

    /// The hosts `--forward` intercepts: `--intercept`, else the recorded host, else the Genesys default.
    pub fn intercept(&self, script: &Script) -> InterceptRules {
        match (self.intercept.is_empty(), script.recorded_host()) {
            (true, Some(host)) => InterceptRules::new([host]),
            _ => InterceptRules::new(self.intercept.iter().cloned()),
        }
    }
}
