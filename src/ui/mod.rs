//! The live web UI: an axum server that shows connections, frames, closes and tokens as they happen.
//!
//! # Layout
//! 1. [`Hub`] (hub.rs) holds a bounded history of serialised records and broadcasts new ones; the
//!    pipeline calls [`Hub::publish`] for every record and never waits for a browser.
//! 2. [`app`] (routes.rs) serves the embedded pages (assets/), the live stream (stream.rs), history and
//!    per-connection downloads, all behind the Host / Origin / access-token guard (security.rs).
//! 3. [`bind`] + [`serve`] run it on a listener until a shutdown future resolves; [`run_file`] is
//!    `frametap ui FILE`, which reads a saved capture record by record (file.rs) into a hub and serves
//!    it.
//!
//! See docs/ui.md for what each view shows and the security model.

mod downloads;
mod file;
mod hub;
mod routes;
mod security;
mod stream;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use base64::Engine as _;
use rand::RngCore as _;

pub use downloads::SKIPPED_HEADER;
pub use hub::{Entry, Hub, HubOptions, Subscription, DEFAULT_HISTORY_LIMIT, DEFAULT_LIVE_BUFFER};
pub use security::{is_exposed, HostPolicy};

pub use crate::cli::DEFAULT_UI_ADDR;

/// What the "try it" page connects to: the proxy, and the deploymentId to fill in.
#[derive(Clone, Debug)]
pub struct TryTarget {
    /// Where the page connects: the proxy's WebSocket base URL (`ws://127.0.0.1:9000`), to which the page adds
    /// `/v1`; under `replay serve`, the recorded path and query on its listener, used as it is (`/api/info`'s
    /// `proxy_ws_url`).
    pub proxy_ws_url: String,
    /// With the built-in simulator as the upstream, the deploymentId its banner prints (its first
    /// `--deployment-id`, else a sample id it accepts); under `replay serve`, the recorded request's; `None` for any
    /// other upstream, whose ids frametap cannot know.
    pub deployment_id: Option<String>,
}

impl TryTarget {
    /// The page connects to `proxy_ws_url`; the deploymentId is the user's to type.
    pub fn proxy(proxy_ws_url: String) -> TryTarget {
        TryTarget { proxy_ws_url, deployment_id: None }
    }

    /// The page connects to `proxy_ws_url` with the deploymentId of a recorded request's path
    /// (`/v1?deploymentId=…`, percent-decoded), the one `replay serve` answers as recorded; without one there,
    /// the user's to type.
    pub fn replaying(proxy_ws_url: String, recorded_path: &str) -> TryTarget {
        let deployment_id = crate::profile::query_param(recorded_path, "deploymentId")
            .map(|raw| crate::inspect::tokens::percent_decode(raw).into_owned())
            .filter(|id| !id.is_empty());
        TryTarget { proxy_ws_url, deployment_id }
    }
}

/// How the UI server runs.
#[derive(Clone, Debug)]
pub struct UiOptions {
    /// The address the UI listens on; `Host` headers must name it (or localhost on its port).
    pub listen: SocketAddr,
    /// The secret every request must carry (`?token=` once, then a cookie).
    pub access_token: String,
    /// What the "try it" page connects to, when a proxy runs.
    pub try_target: Option<TryTarget>,
    /// What the UI shows (`live proxy`, a capture file's name), for the page title.
    pub label: Option<String>,
    /// True when the UI shows a saved file (`frametap ui FILE`) rather than a live session: no record
    /// will follow the history, so a connection without a `close` is not open, its close is just not in
    /// the file. The page says `file` instead of `live` and stops the clocks of such connections.
    pub file: bool,
    /// The capture file a recording session writes, which holds every record (the UI's history keeps the last
    /// ones): the page names it when it cannot show records that left the history.
    pub capture: Option<PathBuf>,
    /// Origins of fronts the UI is opened through (`--ui-origin`, a reverse proxy): their pages are accepted too.
    pub fronts: Vec<String>,
}

impl UiOptions {
    /// Options with a listen address and access token, no proxy and no label.
    pub fn new(listen: SocketAddr, access_token: impl Into<String>) -> UiOptions {
        UiOptions {
            listen,
            access_token: access_token.into(),
            try_target: None,
            label: None,
            file: false,
            capture: None,
            fronts: Vec::new(),
        }
    }
}

fn state(hub: Arc<Hub>, options: UiOptions) -> Arc<routes::AppState> {
    let (shutdown, _) = tokio::sync::watch::channel(false);
    Arc::new(routes::AppState {
        hub,
        hosts: HostPolicy::new(options.listen, &options.fronts),
        cookie: security::cookie_name(options.listen),
        options,
        shutdown,
    })
}

/// The UI's router, for a server bound at `options.listen` (testable with `tower::ServiceExt::oneshot`).
pub fn app(hub: Arc<Hub>, options: UiOptions) -> axum::Router {
    routes::router(state(hub, options))
}

/// Binds the UI listener. A taken port is an error saying so; callers warn and carry on relaying. `has_no_ui`:
/// the command has a `--no-ui` to offer (`proxy`, `replay serve`; not `ui FILE`, which is the UI).
pub async fn bind(addr: SocketAddr, has_no_ui: bool) -> anyhow::Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            let or_off = if has_no_ui { " or turn the UI off with --no-ui" } else { "" };
            anyhow::anyhow!(
                "the web UI could not listen on {addr}: the port is taken (another frametap?); \
                 choose another with --ui ADDR{or_off}"
            )
        } else {
            anyhow::Error::new(e).context(format!("the web UI could not listen on {addr}"))
        }
    })?;
    if is_exposed(addr) {
        // The bound address: with port 0 the kernel chose one.
        let bound = listener.local_addr().unwrap_or(addr);
        crate::notice!(
            "frametap: warning: the web UI listens on {bound}, which is reachable from other machines: it shows \
             live credentials to anyone holding its access token"
        );
    }
    Ok(listener)
}

/// Serves the UI on `listener` until `shutdown` resolves; live streams are then closed with 1001.
pub async fn serve(
    listener: tokio::net::TcpListener,
    hub: Arc<Hub>,
    mut options: UiOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    options.listen = listener.local_addr().context("the web UI listener has no address")?;
    let state = state(hub, options);
    let stop = state.shutdown.clone();
    let app = routes::router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop.send(true);
        })
        .await
        .context("the web UI server failed")
}

/// A UI started for a recording command by [`start`].
pub struct RunningUi {
    /// The URL to print (access token included).
    pub url: String,
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// How long [`RunningUi::stop`] waits for the server to finish.
pub const UI_STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl RunningUi {
    /// Serves `hub` on `listener` in a task of its own, until [`RunningUi::stop`].
    fn spawn(listener: tokio::net::TcpListener, hub: Arc<Hub>, options: UiOptions, url: String) -> RunningUi {
        let addr = options.listen;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, hub, options, async {
            let _ = stopped.await;
        }));
        RunningUi { url, addr, stop, task }
    }

    /// Stops the server: live streams get a 1001 close, then the listener closes.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        let stopped = tokio::select! {
            stopped = tokio::time::timeout(UI_STOP_TIMEOUT, &mut task) => stopped,
            // A second Ctrl-C: no waiting for browsers to answer the live streams' 1001.
            () = crate::commands::shutdown::second_signal() => return task.abort(),
        };
        match stopped {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => crate::notice!("frametap: warning: the web UI stopped with an error: {e:#}"),
            Ok(Err(e)) => crate::notice!("frametap: warning: the web UI task failed: {e}"),
            Err(_) => {
                crate::notice!("frametap: warning: the web UI did not stop within {UI_STOP_TIMEOUT:?}; abandoning it");
                task.abort();
            }
        }
    }
}

/// Starts the UI for `proxy` / `replay serve` as `args` say: `None` with `--no-ui`, and `None` with a
/// warning when the address cannot be bound: the command carries on without the UI, `going_on` (`relaying`,
/// `replaying`) as the warning says. `capture` is the capture file the session writes, if any.
pub async fn start(
    args: &UiArgs,
    hub: Arc<Hub>,
    try_target: Option<TryTarget>,
    capture: Option<PathBuf>,
    going_on: &str,
) -> Option<RunningUi> {
    let addr = args.listen()?;
    let listener = match bind(addr, true).await {
        Ok(listener) => listener,
        Err(e) => {
            crate::notice!("frametap: warning: {e:#}; {going_on} without the web UI");
            return None;
        }
    };
    let addr = listener.local_addr().ok()?;
    let access_token = new_access_token();
    let url = url(addr, &access_token);
    let mut options = UiOptions::new(addr, access_token);
    options.try_target = try_target;
    options.capture = capture;
    options.label = Some("live".into());
    options.fronts = args.ui_origins.clone();
    Some(RunningUi::spawn(listener, hub, options, url))
}

/// A fresh random access token (24 random bytes, URL-safe base64).
pub fn new_access_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The URL to print at start: `http://127.0.0.1:9001/?token=…` (an unspecified address becomes loopback).
pub fn url(listen: SocketAddr, access_token: &str) -> String {
    format!("{}?{}={access_token}", address(listen), security::TOKEN_PARAM)
}

/// The UI's address without the access token: `http://127.0.0.1:9001/`.
pub fn address(listen: SocketAddr) -> String {
    format!("http://{}/", crate::cli::dialable(listen))
}

/// `--ui-origin`'s help, for `proxy`, `replay serve` and `ui FILE`.
const UI_ORIGIN_HELP: &str =
    "Also accept pages served at this origin, a reverse proxy or other front the UI is opened \
    through (https://frametap.example); repeatable. Without it, such a page's live stream is refused";

/// The web UI options shared by `proxy` and `replay serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct UiArgs {
    /// Serve the live web UI on this address (loopback unless you give another; then it warns).
    #[arg(long = "ui", value_name = "ADDR", default_value = DEFAULT_UI_ADDR, value_parser = crate::cli::parse_listen_addr)]
    pub ui: SocketAddr,
    /// Do not serve the web UI.
    #[arg(long = "no-ui", conflicts_with = "ui")]
    pub no_ui: bool,
    #[arg(long = "ui-origin", value_name = "ORIGIN", help = UI_ORIGIN_HELP, value_parser = security::parse_origin, conflicts_with = "no_ui")]
    pub ui_origins: Vec<String>,
}

impl UiArgs {
    /// Where to serve the UI, or `None` with `--no-ui`.
    pub fn listen(&self) -> Option<SocketAddr> {
        (!self.no_ui).then_some(self.ui)
    }
}

/// `frametap ui FILE`: open a saved capture in the web UI.
#[derive(clap::Args, Debug, Clone)]
pub struct UiCommand {
    /// The capture file to show (as `frametap proxy` writes it), or a HAR (.har, .zhar, or Playwright's .zip), imported as `convert` does.
    pub file: PathBuf,
    /// Serve the web UI on this address (loopback unless you give another; then it warns).
    #[arg(long = "ui", value_name = "ADDR", default_value = DEFAULT_UI_ADDR, value_parser = crate::cli::parse_listen_addr)]
    pub ui: SocketAddr,
    #[arg(long = "ui-origin", value_name = "ORIGIN", help = UI_ORIGIN_HELP, value_parser = security::parse_origin)]
    pub ui_origins: Vec<String>,
}

/// Opens a saved capture in the UI and serves it until Ctrl-C.
pub async fn run_file(cmd: UiCommand) -> anyhow::Result<()> {
    let hub = file::load(&cmd.file)?;
    let listener = bind(cmd.ui, false).await?;
    let listen = listener.local_addr().context("the web UI listener has no address")?;
    let token = new_access_token();
    let mut options = UiOptions::new(listen, token.clone());
    options.label = Some(cmd.file.display().to_string());
    options.file = true;
    options.fronts = cmd.ui_origins;
    let stop = crate::commands::shutdown::signal_serving_a_file();
    let url = url(listen, &token);
    println!("frametap UI for {}: {url}", cmd.file.display());
    println!("Press Ctrl-C to stop.");
    // Stopped as a recording command's UI is: a download a browser stopped reading is waited for at most
    // UI_STOP_TIMEOUT, and not at all after a second Ctrl-C (serving until every response was sent waited forever).
    let mut running = RunningUi::spawn(listener, hub, options, url);
    let ended = tokio::select! {
        () = stop => None,
        served = &mut running.task => Some(served),
    };
    match ended {
        None => {
            running.stop().await;
            Ok(())
        }
        Some(served) => served.context("the web UI task failed")?,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_flags_parse() {
        use clap::Parser;
        #[derive(Parser, Debug)]
        struct Cmd {
            #[command(flatten)]
            ui: UiArgs,
        }
        let default = Cmd::try_parse_from(["x"]).unwrap();
        assert_eq!(default.ui.listen(), Some("127.0.0.1:9001".parse().unwrap()));
        assert_eq!(Cmd::try_parse_from(["x", "--no-ui"]).unwrap().ui.listen(), None);
        let other = Cmd::try_parse_from(["x", "--ui", "[::1]:9101"]).unwrap();
        assert_eq!(other.ui.listen(), Some("[::1]:9101".parse().unwrap()));
        assert!(Cmd::try_parse_from(["x", "--ui", "127.0.0.1:1", "--no-ui"]).is_err());
        assert!(Cmd::try_parse_from(["x", "--ui", "localhost"]).is_err());
        let fronted = Cmd::try_parse_from(["x", "--ui-origin", "https://Tap.Example/", "--ui-origin", "http://h:8080"]);
        assert_eq!(fronted.unwrap().ui.ui_origins, ["https://tap.example", "http://h:8080"]);
        assert!(Cmd::try_parse_from(["x", "--ui-origin", "tap.example"]).is_err());
    }

    #[tokio::test]
    async fn start_honours_no_ui_and_survives_a_taken_port() {
        let hub = Hub::new(HubOptions::default());
        let off = UiArgs { ui: "127.0.0.1:0".parse().unwrap(), no_ui: true, ui_origins: vec![] };
        assert!(start(&off, hub.clone(), None, None, "relaying").await.is_none());
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let busy = UiArgs { ui: taken.local_addr().unwrap(), no_ui: false, ui_origins: vec![] };
        assert!(start(&busy, hub.clone(), None, None, "relaying").await.is_none());
        let on = UiArgs { ui: "127.0.0.1:0".parse().unwrap(), no_ui: false, ui_origins: vec![] };
        let running =
            start(&on, hub, Some(TryTarget::proxy("ws://127.0.0.1:9000".into())), None, "relaying").await.unwrap();
        assert!(running.url.starts_with(&format!("http://{}/?token=", running.addr)), "{}", running.url);
        let addr = running.addr;
        tokio::net::TcpStream::connect(addr).await.expect("the UI listens");
        running.stop().await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "the UI stopped listening");
    }

    #[test]
    fn urls_carry_the_token_and_name_a_reachable_address() {
        assert_eq!(url("127.0.0.1:9001".parse().unwrap(), "abc"), "http://127.0.0.1:9001/?token=abc");
        assert_eq!(url("0.0.0.0:9001".parse().unwrap(), "abc"), "http://127.0.0.1:9001/?token=abc");
        assert_eq!(url("[::1]:9001".parse().unwrap(), "x"), "http://[::1]:9001/?token=x");
    }

    #[test]
    fn access_tokens_are_random_and_url_safe() {
        let (a, b) = (new_access_token(), new_access_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{a}");
    }
}
