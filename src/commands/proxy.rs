//! `frametap proxy`: check the options, open the capture, bind, print where to connect, relay until Ctrl-C.

use crate::cli::ProxyArgs;
use crate::forward::UpstreamProxies;
use crate::proxy::relay::RelayOptions;
use crate::proxy::upstream::UpstreamBase;
use crate::proxy::{ProxyConfig, CLOSE_TIMEOUT, HANDSHAKE_TIMEOUT};
use crate::session::{self, SessionSetup};
use crate::sim::{InProcessSim, SimConfig, SIM_NOTICE, SIM_UPSTREAM_NAME};
use crate::ui::TryTarget;
use anyhow::{anyhow, bail, Result};

/// Runs the reverse proxy until Ctrl-C or SIGTERM.
pub async fn run(args: ProxyArgs) -> Result<()> {
    refuse_simulator_flags_without_the_simulator(&args)?;
    if args.modes.forward && args.forward_cookies {
        // Forward mode passes cookies on always: the flag would be silently ignored.
        bail!(
            "--forward-cookies changes nothing with --forward: as the browser's proxy, frametap always passes on the \
             cookies the browser sends (they are the real site's, not 127.0.0.1's). Leave it out"
        );
    }
    if args.modes.forward {
        return crate::forward::command::run(args).await;
    }
    let upstream =
        args.upstream.as_deref().map(UpstreamBase::parse).transpose().map_err(|e| anyhow!("--upstream {e}"))?;
    if upstream.is_none() && args.modes.upstream_proxy.is_some() {
        bail!(
            "--upstream-proxy has no upstream to reach: without --upstream frametap relays to its built-in simulator, \
             which runs in this process and is always reached directly; give --upstream URL for the service behind \
             the proxy, or leave --upstream-proxy out"
        );
    }
    let no_tls = match &upstream {
        None => Some("the built-in simulator is reached over ws://"),
        Some(base) if !base.secure => Some("the upstream is ws://"),
        Some(_) => None,
    };
    let tls = args.tls.client_config(no_tls)?;
    // The in-process simulator listens on this machine's loopback: never through HTTPS_PROXY and the like.
    let upstream_proxies = match &upstream {
        Some(_) => UpstreamProxies::resolve(args.modes.upstream_proxy.as_deref())?,
        None => UpstreamProxies::direct(),
    };
    // No --upstream: the built-in Genesys simulator, in-process, so a first run works offline.
    let (upstream, sim) = match upstream {
        Some(base) => (base, None),
        None => {
            let config = SimConfig::from_args(&args.sim)?;
            let example = config.example_deployment_id().to_owned();
            let sim = InProcessSim::start(config).await?;
            let mut base = UpstreamBase::parse(&sim.upstream_url()).map_err(|e| anyhow!("simulator: {e}"))?;
            base.label = Some(SIM_UPSTREAM_NAME.to_owned());
            (base, Some((sim, example)))
        }
    };
    let listen = args.listen.unwrap_or_else(|| crate::cli::DEFAULT_PROXY_ADDR.parse().expect("a valid default"));
    let client_tls = args.modes.listen_tls.server_config(listen.ip())?;
    if args.ui.listen() == Some(listen) && listen.port() != 0 {
        bail!(
            "--listen and --ui are both {listen}: the proxy and the web UI need a port each (e.g. --ui 127.0.0.1:9001)"
        );
    }
    let listener = super::shutdown::bind(listen, "proxy", "--listen").await?;
    let local = listener.local_addr()?;
    let public_url = format!("{}://{}", if client_tls.is_some() { "wss" } else { "ws" }, crate::cli::dialable(local));
    let session = session::start(SessionSetup {
        mode: "proxy",
        upstream: Some(upstream.display()),
        capture: &args.capture,
        log: &args.log,
        insecure_upstream: args.tls.insecure_upstream && no_tls.is_none(),
        publishers: Vec::new(),
        ui: Some(&args.ui),
        analysis: Some(args.analysis.options()),
        try_target: Some(TryTarget {
            proxy_ws_url: public_url.clone(),
            deployment_id: sim.as_ref().map(|(_, example)| example.clone()),
        }),
    })
    .await?;
    let stop = super::shutdown::signal();
    crate::notice!("frametap proxy");
    match &sim {
        Some((_, example)) => {
            crate::notice!("  *** {SIM_NOTICE} ***");
            crate::notice!("  *** Give --upstream wss://webmessaging.<your region> to talk to the real service. ***");
            crate::notice!("  point your WebSocket client at  {public_url}/v1?deploymentId={example}");
        }
        None => {
            crate::notice!(
                "  point your WebSocket client at  {public_url}/<path>   (e.g. {public_url}/v1?deploymentId=…)"
            )
        }
    }
    crate::notice!("  upstream                        {}", upstream.display());
    if let Some(proxy) = upstream_proxies.proxy_for(upstream.secure, &upstream.host, upstream.port) {
        crate::notice!("  through the upstream proxy      {proxy}");
    }
    match &session.capture_path {
        Some(path) => crate::notice!("  capture                         {}", path.display()),
        None => crate::notice!("  capture                         off (--no-capture)"),
    }
    if let Some(url) = session.ui_url() {
        crate::notice!("  web UI                          {url}");
    }
    super::warn_unless_loopback(local, "proxy", client_tls.is_some());
    super::announce_ctrl_c(session.capture_path.is_some());
    let config = ProxyConfig {
        upstream,
        tls,
        upstream_proxies,
        set_headers: args.set_header,
        forward_cookies: args.forward_cookies,
        relay: RelayOptions { max_message: args.max_message, close_timeout: CLOSE_TIMEOUT },
        handshake_timeout: HANDSHAKE_TIMEOUT,
        ui_address: session.ui_address(),
        public_url,
    };
    let result = crate::proxy::serve_with_tls(listener, client_tls, config, session.sink.clone(), stop).await;
    session.finish().await;
    if let Some((sim, _)) = sim {
        sim.stop().await?;
    }
    result
}

/// The simulator's scenario flags (`--expire-after`, `--drop-after`, …) shape the in-process simulator, which runs
/// only without `--upstream` and `--forward`. Beside either they used to be accepted and silently ignored, so a
/// user expecting "the session expires after 30 s" from the real service waited for a failure nothing would cause.
fn refuse_simulator_flags_without_the_simulator(args: &ProxyArgs) -> Result<()> {
    let given = args.sim.given();
    let upstream = if args.modes.forward {
        "--forward (the browser's connections go to the real hosts it asks for)"
    } else if args.upstream.is_some() {
        "--upstream (the connections go to that service)"
    } else {
        return Ok(());
    };
    let Some(first) = given.first() else { return Ok(()) };
    let (flags, verb, them) = match given.len() {
        1 => (first.to_string(), "shapes", "it"),
        _ => (given.join(", "), "shape", "them"),
    };
    let mode = upstream.split(' ').next().unwrap_or(upstream);
    bail!(
        "{flags} {verb} the built-in simulator, which runs only without --upstream and --forward; with {upstream} \
         nothing would honour {them}. Leave {them} out, or drop {mode} to reproduce the failure against the simulator \
         (docs/simulator.md)"
    )
}
