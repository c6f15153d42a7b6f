//! The built-in simulator of Genesys Cloud's Web Messaging Guest API (docs/simulator.md).
//!
//! It is NOT Genesys: it speaks the protocol as the public SDKs show it and reproduces the failures
//! users hit, each one a scenario chosen by a flag or by a `sim-*` query parameter. Layout:
//!
//! 1. `serve` accepts TCP connections on a bound listener until its shutdown future resolves;
//! 2. `connection` reads the request (`plain_http` answers non-upgrades with 426), does the WebSocket
//!    handshake (`handshake` checks the request) and runs the loop;
//! 3. `session` (+ `agent`) is the per-connection state machine, pure and unit-tested;
//! 4. `in_process` runs `serve` on a free loopback port for `frametap proxy` without `--upstream`;
//! 5. `registry` holds conversations by token across connections; `script` is the agent's script;
//!    `protocol` builds frames; `jwt` signs getJwt's tokens; `auth` judges configureAuthenticatedSession's
//!    `data.code`; `scenarios` has the rate window.

mod agent;
mod auth;
mod config;
mod connection;
mod handshake;
mod in_process;
pub mod jwt;
mod plain_http;
mod protocol;
mod registry;
mod scenarios;
pub mod script;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument as _;

pub use config::{
    parse_secs, OnInvalid, Scenario, SimArgs, SimConfig, Timeouts, DEFAULT_EXPIRE_AFTER, DEFAULT_JWT_TTL,
    DEFAULT_MAX_TEXT_CHARS, QUERY_PARAMS,
};
pub use in_process::InProcessSim;
pub use script::AgentScript;

/// How a capture names the simulator when it stands in for the upstream.
pub const SIM_UPSTREAM_NAME: &str = "sim:genesys";

/// The deploymentId the banner suggests when `--deployment-id` is not given (any id is accepted then).
pub const DEFAULT_DEPLOYMENT_ID: &str = "00000000-0000-4000-8000-00000000517e";

/// `frametap sim genesys`: run the simulator on its own.
#[derive(clap::Args, Debug)]
pub struct SimCommand {
    /// Address to listen on (keep it on loopback unless you mean to share it).
    #[arg(long, default_value = crate::cli::DEFAULT_SIM_ADDR, value_name = "ADDR", value_parser = crate::cli::parse_listen_addr)]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub args: SimArgs,
}

/// Serves the simulator on an already-bound listener until `shutdown` resolves (then closes sessions with 1001).
pub async fn serve(
    listener: TcpListener,
    config: SimConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let registry = Arc::new(registry::Registry::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut sessions = JoinSet::new();
    let mut next_conn: u64 = 0;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    next_conn += 1;
                    let span = tracing::info_span!("sim", conn = next_conn, %peer);
                    let task = connection::handle(
                        stream,
                        next_conn,
                        config.clone(),
                        registry.clone(),
                        stop_rx.clone(),
                    );
                    sessions.spawn(task.instrument(span));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    crate::warning!(
                        "the simulator could not accept a connection ({e}); trying again in 100 ms (out of file descriptors? raise `ulimit -n`)"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let grace = config.timeouts.close + Duration::from_secs(1);
    let drain = tokio::time::timeout(grace, async { while sessions.join_next().await.is_some() {} });
    tokio::select! {
        drained = drain => if drained.is_err() {
            crate::warning!(
                "the simulator's sessions did not close within {} s; ended them without a close handshake",
                grace.as_secs()
            );
            sessions.abort_all();
        },
        // Said already, by the second signal's notice.
        () = crate::commands::shutdown::second_signal() => sessions.abort_all(),
    }
    Ok(())
}

/// The one-line warning to print wherever the simulator stands in for Genesys.
pub const SIM_NOTICE: &str =
    "SIMULATOR — not Genesys. frametap's built-in Web Messaging Guest API simulator; nothing reaches Genesys Cloud.";

impl SimConfig {
    /// The deploymentId to show in example URLs: the first `--deployment-id`, else a fixed sample id.
    pub fn example_deployment_id(&self) -> &str {
        self.defaults.deployment_ids.first().map_or(DEFAULT_DEPLOYMENT_ID, String::as_str)
    }
}

/// The loud notice that this is a simulator, with the URL to connect to.
pub fn banner(addr: SocketAddr, config: &SimConfig) -> String {
    let line = "=".repeat(72);
    format!(
        "{line}\n  {SIM_NOTICE}\n  Behaviour marked as assumption in docs/simulator.md may differ from the real service.\n\n  \
         Connect to: ws://{addr}/v1?deploymentId={}\n  \
         Scenarios per connection: add sim-<flag>=VALUE to the URL (docs/simulator.md).\n{line}",
        config.example_deployment_id()
    )
}

/// `frametap sim genesys`: binds, prints a loud banner ("SIMULATOR — not Genesys") with the ws:// URL to use, serves until Ctrl-C.
pub async fn run(cmd: SimCommand) -> anyhow::Result<()> {
    let config = SimConfig::from_args(&cmd.args)?;
    let listener = crate::commands::shutdown::bind(cmd.listen, "simulator", "--listen").await?;
    let addr = listener.local_addr().context("could not read the simulator's listening address")?;
    let stop = crate::commands::shutdown::signal_without_capture();
    crate::notice!("{}", banner(crate::cli::dialable(addr), &config));
    crate::commands::warn_unless_loopback(addr, "simulator", false);
    serve(listener, config, stop).await
}
