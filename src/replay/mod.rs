//! `frametap replay`: replays a captured connection, both ways, through the same pipeline as a proxied one.
//!
//! `replay serve` is a fake upstream: each client gets the recorded handshake answer and server frames, each
//! sent once the client frames before it have arrived, then the recorded end. Clients reach it as ws://, wss://
//! (`--tls`) or through forward mode (`--forward`), on the proxy's own listeners. `replay send` dials a live
//! upstream with the recorded handshake and plays the recorded client frames, reporting which server frames
//! differ. Both play over the wire codec, so masks, fragments, close codes and TCP drops replay exactly.

pub mod divergence;
mod ending;
pub mod front;
mod http_answers;
pub mod pace;
mod peer;
pub mod player;
mod refragment;
pub mod script;
pub mod send;
pub mod serve;
pub mod sets;

pub use pace::Pace;
pub use player::{PlayOptions, PlayReport};
pub use script::Script;

use crate::cli::{CaptureArgs, LogArgs, UpstreamTlsArgs, DEFAULT_FORWARD_ADDR, DEFAULT_PROXY_ADDR};
use crate::commands::shutdown;
use crate::proxy::upstream::UpstreamBase;
use crate::proxy::{CLOSE_TIMEOUT, DEFAULT_MAX_MESSAGE, HANDSHAKE_TIMEOUT};
use crate::session::{self, SessionSetup};
use crate::ui::TryTarget;
use anyhow::Result;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Replay a captured connection: serve its server side, or send its client side.
#[derive(Debug, clap::Subcommand)]
pub enum ReplayCommand {
    /// Be a fake upstream: every WebSocket client gets the recorded server side of one connection.
    ///
    /// Point your client at ws://127.0.0.1:9000/<path>, as for the proxy; with --tls at wss://127.0.0.1:9000/<path>.
    /// With --forward, leave the front end as it is (it opens the recorded wss://host/…) and set the browser's
    /// proxy to 127.0.0.1:8080: the replay answers in place of the recorded host. See docs/replay.md.
    Serve(ServeArgs),
    /// Send the recorded client side of one connection to a live upstream and report what differs.
    Send(SendArgs),
}

/// What to replay, and how.
#[derive(Debug, clap::Args)]
pub struct ScriptArgs {
    /// The capture to replay (.jsonl, or compact .ftcap), or a HAR (.har, .zhar, or Playwright's .zip), imported on the fly.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The connection to replay (default: the first in the file).
    #[arg(long, value_name = "N", value_parser = crate::cli::parse_conn_id, allow_negative_numbers = true)]
    pub conn: Option<u64>,
    /// `original` keeps the recorded delays, `fast` waits only for the peer, a factor such as 2 plays twice as fast.
    #[arg(long, default_value = "original", value_parser = Pace::parse, value_name = "PACE", allow_negative_numbers = true)]
    pub pace: Pace,
    /// Compare JSON frames without this field, at any depth (repeatable): ids, timestamps.
    #[arg(long, value_name = "NAME")]
    pub ignore: Vec<String>,
    /// Replay what can be read from a cut-off or partly corrupt capture instead of refusing it.
    #[arg(long)]
    pub partial: bool,
}

/// `frametap replay serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub script: ScriptArgs,
    /// Address to listen on [default: 127.0.0.1:9000; 127.0.0.1:8080 with --forward].
    #[arg(long, value_name = "ADDR", value_parser = crate::cli::parse_listen_addr)]
    pub listen: Option<SocketAddr>,
    #[command(flatten)]
    pub capture: CaptureArgs,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub ui: crate::ui::UiArgs,
    #[command(flatten)]
    pub analysis: crate::inspect::AnalysisArgs,
    #[command(flatten, next_help_heading = "TLS and forward mode")]
    pub front: front::FrontArgs,
}

/// `frametap replay send`.
#[derive(Debug, clap::Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub script: ScriptArgs,
    /// The live endpoint: ws:// or wss:// with an optional base path; the recorded path and query are appended.
    #[arg(long, value_name = "URL")]
    pub upstream: String,
    /// Replace (or add) a handshake header: 'Name: value' (repeatable).
    #[arg(long, value_name = "'Name: value'", value_parser = crate::proxy::headers::parse_header_arg)]
    pub header: Vec<(String, String)>,
    /// Replace the value of this JSON field in every client message (repeatable), e.g. --set token=NEW.
    #[arg(long, value_name = "NAME=VALUE", value_parser = sets::parse_set)]
    pub set: Vec<(String, String)>,
    /// Seconds to wait for each server frame the recording shows before sending the next client frame anyway.
    #[arg(long, default_value = "10", value_name = "SECS", value_parser = crate::sim::parse_secs, allow_negative_numbers = true)]
    pub wait: Duration,
    /// Exit with status 1 when a server frame differs from the recording (after --ignore), as a check in CI does;
    /// without it the exit status is 0 whatever differed.
    #[arg(long)]
    pub fail_on_divergence: bool,
    #[command(flatten)]
    pub tls: UpstreamTlsArgs,
    /// Reach the upstream through this HTTP proxy: http://[user:password@]host[:port] (CONNECT, Basic auth).
    /// Without it, HTTPS_PROXY / HTTP_PROXY are used; NO_PROXY applies in both cases.
    #[arg(long, value_name = "URL")]
    pub upstream_proxy: Option<String>,
    #[command(flatten)]
    pub capture: CaptureArgs,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub analysis: crate::inspect::AnalysisArgs,
}

/// Runs `frametap replay serve` (until Ctrl-C) or `frametap replay send` (until the session ends).
pub async fn run_replay(cmd: ReplayCommand) -> Result<()> {
    match cmd {
        ReplayCommand::Serve(args) => run_serve(args).await,
        ReplayCommand::Send(args) => run_send(args).await,
    }
}

fn play_options(args: &ScriptArgs, wait: Option<Duration>, sets: Vec<(String, String)>) -> PlayOptions {
    PlayOptions {
        pace: args.pace,
        wait_timeout: wait,
        close_timeout: CLOSE_TIMEOUT,
        ignore: args.ignore.clone(),
        sets,
        max_message: DEFAULT_MAX_MESSAGE,
        redactor: None,
    }
}

async fn run_serve(args: ServeArgs) -> Result<()> {
    let script = Script::load(&args.script.file, args.script.conn, args.script.partial)?;
    warn_skipped("replay serve", &script);
    let default_listen = if args.front.forward { DEFAULT_FORWARD_ADDR } else { DEFAULT_PROXY_ADDR };
    let listen = args.listen.unwrap_or_else(|| default_listen.parse().expect("a valid default"));
    let front = args.front.front(&script, listen.ip())?;
    let listener = shutdown::bind(listen, "replay", "--listen").await?;
    let local = listener.local_addr()?;
    let forward = matches!(front, serve::Front::Forward { .. });
    let session = session::start(SessionSetup {
        mode: "replay-serve",
        upstream: Some(format!("replay:{}", script.label())),
        capture: &args.capture,
        log: &args.log,
        insecure_upstream: false,
        publishers: Vec::new(),
        ui: Some(&args.ui),
        try_target: (!forward).then(|| {
            let base = format!("{}://{}", front.scheme(), crate::cli::dialable(local));
            let url = try_page_url(&base, &script.open.request.path, args.capture.redact);
            TryTarget::replaying(url, &script.open.request.path)
        }),
        analysis: Some(args.analysis.options()),
    })
    .await?;
    let stop = shutdown::signal();
    announce(&args, &script, &front, local, &session);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<serve::Served>();
    let skipped = script.skipped.clone();
    let summary = Summary { redactor: session.redactor.clone(), quiet: args.log.quiet };
    let printer = tokio::spawn(async move {
        while let Some(served) = rx.recv().await {
            match served {
                serve::Served::Played(report) => summary.report("replay serve", "client", &report, &skipped),
                serve::Served::Answered { conn, status, recorded_error } => {
                    summary.answered(conn, status, recorded_error.as_deref(), &skipped)
                }
            }
        }
    });
    let mut play = play_options(&args.script, None, Vec::new());
    play.redactor = session.redactor.clone();
    let options = serve::ServeOptions { play, handshake_timeout: HANDSHAKE_TIMEOUT };
    let result = serve::serve(listener, front, script, options, session.sink.clone(), stop, Some(tx)).await;
    let _ = printer.await;
    session.finish().await;
    result
}

/// The URL `replay serve`'s try-it page connects to: the recorded path and query on this listener, so the page asks
/// for what the recorded client asked for (it used to ask for `/v1` whatever the recording was of). Under `--redact`
/// the query keeps only its `deploymentId`, which the page shows anyway: the UI shows no recorded secret.
fn try_page_url(base: &str, recorded_path: &str, redact: bool) -> String {
    if !redact {
        return format!("{base}{recorded_path}");
    }
    let path = recorded_path.split(['?', '#']).next().unwrap_or_default();
    match crate::profile::query_param(recorded_path, "deploymentId") {
        Some(id) => format!("{base}{path}?deploymentId={id}"),
        None => format!("{base}{path}"),
    }
}

/// The start banner of `replay serve`: what is replayed, and how a client reaches it (a ws:// or wss:// URL, or
/// in forward mode the browser-proxy lines of `proxy --forward`).
fn announce(args: &ServeArgs, script: &Script, front: &serve::Front, local: SocketAddr, session: &session::Session) {
    let forward = matches!(front, serve::Front::Forward { .. });
    // Rows line up as in `frametap proxy`'s banner, and as in `proxy --forward`'s in forward mode.
    let width = if forward { 42 } else { 30 };
    let row = |label: &str, value: &str| crate::notice!("  {label:<width$}  {value}");
    crate::notice!("frametap replay serve{}", if forward { " --forward" } else { "" });
    row("replaying", &format!("{} (pace {})", script.label(), args.script.pace));
    if let Some(which) = script.which_of() {
        row("", &which);
    }
    let recorded = serve::shown_open(&script.open, session.redactor.as_ref());
    match front {
        serve::Front::Forward { options, proxies } => {
            if let Some(url) = recorded.upstream.as_deref().filter(|_| script.recorded_url().is_some()) {
                row("the recorded connection went to", url);
            }
            let ca = options.issuer.ca();
            crate::forward::command::announce_browser_proxy(local, "replayed", &options.intercept, ca, proxies);
            announce_answers(script, &options.intercept);
        }
        _ => {
            let url = format!("{}://{}{}", front.scheme(), crate::cli::dialable(local), recorded.request.path);
            row("point your WebSocket client at", &url);
        }
    }
    match &session.capture_path {
        Some(path) => row("capture", &path.display().to_string()),
        None => row("capture", "off (--no-capture)"),
    }
    if let Some(url) = session.ui_url() {
        row("web UI", &url);
    }
    if !forward {
        // Forward mode's own announcement warns already.
        crate::commands::warn_unless_loopback(local, "replay", matches!(front, serve::Front::Tls(_)));
    }
    crate::notice!("  Ctrl-C stops");
}

/// The banner rows for a HAR's plain HTTP answers: how many per origin, and whether they are replayed (the host
/// is intercepted) or tunnelled to the network, with the `--intercept` flags that would replay them all.
fn announce_answers(script: &Script, intercept: &crate::forward::InterceptRules) {
    let mut label = "recorded HTTP answers";
    let mut globs = intercept.globs().to_vec();
    for (scheme, host, count) in script.answers.origins() {
        let port = host.rsplit_once(':').filter(|(_, port)| port.parse::<u16>().is_ok());
        let name = port.map_or(host.as_str(), |(name, _)| name);
        let replayed = intercept.matches(name);
        if !replayed && !globs.iter().any(|g| g == name) {
            globs.push(name.to_owned());
        }
        let what = if replayed { "replayed" } else { "tunnelled" };
        let count = crate::words::count(count as u64, "answer");
        crate::notice!("  {label:<42}  {count} from {scheme}://{host} ({what})");
        label = "";
    }
    if globs.len() > intercept.globs().len() {
        let flags: Vec<String> = globs.iter().map(|g| format!("--intercept {g}")).collect();
        crate::notice!("  {:<42}  {}", "to replay every recorded answer", flags.join(" "));
    }
}

async fn run_send(args: SendArgs) -> Result<()> {
    let upstream = UpstreamBase::parse(&args.upstream).map_err(|e| anyhow::anyhow!("--upstream {e}"))?;
    let script = Script::load(&args.script.file, args.script.conn, args.script.partial)?;
    warn_skipped("replay send", &script);
    let no_tls = (!upstream.secure).then_some("the upstream is ws://");
    let tls = args.tls.client_config(no_tls)?;
    let proxies = crate::forward::UpstreamProxies::resolve(args.upstream_proxy.as_deref())?;
    refuse_sets_that_change_nothing(&script, &args.set)?;
    if script.redacted && args.set.is_empty() {
        crate::notice!(
            "frametap replay send: warning: {} is redacted: its frames carry placeholders where secrets were \
             (give real values with --set NAME=VALUE and --header)",
            script.file.display()
        );
    }
    let session = session::start(SessionSetup {
        mode: "replay-send",
        upstream: Some(upstream.display()),
        capture: &args.capture,
        log: &args.log,
        insecure_upstream: args.tls.insecure_upstream && no_tls.is_none(),
        publishers: Vec::new(),
        ui: None,
        try_target: None,
        analysis: Some(args.analysis.options()),
    })
    .await?;
    let fail_on_divergence = args.fail_on_divergence;
    let mut play = play_options(&args.script, Some(args.wait), args.set);
    play.redactor = session.redactor.clone();
    let summary = Summary { redactor: session.redactor.clone(), quiet: args.log.quiet };
    let options =
        send::SendOptions { upstream, tls, proxies, headers: args.header, play, handshake_timeout: HANDSHAKE_TIMEOUT };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let signal = shutdown::signal();
    let watcher = tokio::spawn(async move {
        signal.await;
        stop_tx.send_replace(true);
    });
    let result = send::send(&script, options, session.sink.clone(), stop_rx).await;
    watcher.abort();
    session.finish().await;
    // The error names the URL, with the recorded query: masked as the capture has it.
    let report = result.map_err(|e| match &summary.redactor {
        Some(redactor) => anyhow::anyhow!(redactor.redact_str(&format!("{e:#}"))),
        None => e,
    })?;
    match &report.play {
        Some(play) => summary.report(&format!("replay send to {}", report.url), "server", play, &script.skipped),
        None => summary
            .line(&format!("replay send: {} refused the upgrade with HTTP {}, as recorded", report.url, report.status)),
    }
    let differed = report.play.as_ref().map_or(0, |play| play.divergences.len());
    if fail_on_divergence && differed > 0 {
        anyhow::bail!(
            "replay send: {} from the recording (--fail-on-divergence; the summary above says more)",
            crate::words::count(differed as u64, "difference")
        );
    }
    Ok(())
}

/// Says, before anything plays, what in the capture was kept though it contradicts the rest, and what `--partial`
/// skipped (as `ui FILE` says them).
fn warn_skipped(command: &str, script: &Script) {
    for message in &script.doubts {
        crate::notice!("frametap {command}: warning: {}: {message}", script.file.display());
    }
    for message in &script.skipped {
        crate::notice!(
            "frametap {command}: warning: {}: {message} (--partial: replaying what could be read)",
            script.file.display()
        );
    }
}

/// The summary a replay prints on stderr after each connection. It quotes the traffic (close reasons, the
/// recorded error), so with `--redact` every line goes through the session's redactor, as the log does.
struct Summary {
    redactor: Option<crate::redact::SharedRedactor>,
    /// `--quiet`: the divergences are counted, not listed (the log leaves out their notes too: one per frame).
    quiet: bool,
}

impl Summary {
    /// Prints a summary line: secrets masked under `--redact`, and on one line whatever the peer put in it (a field
    /// name with a control character or a bidirectional override must not drive or reorder the terminal).
    fn line(&self, line: &str) {
        let line = crate::inspect::one_line(line);
        match &self.redactor {
            Some(redactor) => crate::notice!("{}", redactor.redact_str(&line)),
            None => crate::notice!("{line}"),
        }
    }

    /// The summary lines' reminder that the recording was incomplete (`--partial`).
    fn skipped(&self, skipped: &[String]) {
        for message in skipped {
            self.line(&format!("  the recording is incomplete (--partial): {message}"));
        }
    }

    /// What `replay serve` answered a client whose recorded upgrade was refused (or could not be made).
    fn answered(&self, conn: crate::event::ConnId, status: u16, recorded_error: Option<&str>, skipped: &[String]) {
        let reason = http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
        let status = format!("{status} {reason}");
        let status = status.trim_end();
        self.line(&match recorded_error {
            Some(error) => format!(
                "replay serve: connection {conn}: answered {status}, as the recording failed to reach its upstream \
                 ({error}); no WebSocket"
            ),
            None => format!("replay serve: connection {conn}: answered the recorded {status}; no WebSocket"),
        });
        self.skipped(skipped);
    }

    /// What a replayed connection did, and where it differed from the recording.
    fn report(&self, what: &str, peer: &str, report: &PlayReport, skipped: &[String]) {
        let close = &report.close;
        let end = match (close.code, &close.detail) {
            (Some(code), _) => format!(
                "{} closed with {code}{}{}",
                close.initiator.as_str(),
                close.reason.as_deref().filter(|r| !r.is_empty()).map(|r| format!(" {r:?}")).unwrap_or_default(),
                if close.clean { "" } else { " (not a clean close)" }
            ),
            (None, Some(detail)) => detail.clone(),
            (None, None) => format!("{} closed", close.initiator.as_str()),
        };
        self.line(&format!(
            "{what}: connection {}: sent {}, received {}; {end}",
            close.conn,
            crate::words::count(report.sent as u64, "frame"),
            report.received
        ));
        let differences = crate::words::count(report.divergences.len() as u64, "difference");
        if report.divergences.is_empty() {
            self.line(&format!("  every {peer} frame matched the recording"));
        } else if self.quiet {
            self.line(&format!(
                "  {differences} from the recording (--quiet: run without it to list them; a capture keeps each as a \
                 {} note)",
                player::DIVERGENCE_NOTE
            ));
        } else {
            self.line(&format!("  {differences} from the recording:"));
            for line in &report.divergences {
                self.line(&format!("    {line}"));
            }
        }
        // Also under --quiet: the fields to leave out should not take a second, loud run to learn.
        if let Some(hint) = ignore_hint(&report.changed_fields) {
            self.line(&format!("  {hint}"));
        }
        self.skipped(skipped);
    }
}

/// The fields whose ids or times differed, with the `--ignore` flags that would compare without them: a server
/// makes them afresh on every run, and without the hint a user learns their names one difference at a time (a
/// frame's line names only its first). `None` when no such value differed.
fn ignore_hint(changed: &std::collections::BTreeMap<String, usize>) -> Option<String> {
    if changed.is_empty() {
        return None;
    }
    let fields: Vec<String> = changed
        .iter()
        .map(|(field, frames)| format!("{field} ({})", crate::words::count(*frames as u64, "frame")))
        .collect();
    let flags: Vec<String> =
        changed.keys().map(|field| format!("--ignore {}", crate::words::shell_word(field))).collect();
    Some(format!("ids or times differed in {}: add {} to compare without them", fields.join(", "), flags.join(" ")))
}

/// A `--set NAME=VALUE` whose field no client message of the replayed connection holds used to be ignored: the
/// recording went out unchanged (the old session token, the old text) as if it had been applied.
fn refuse_sets_that_change_nothing(script: &Script, sets: &[(String, String)]) -> Result<()> {
    let missing = sets::names_no_message_has(script.steps(crate::event::Peer::Client), sets);
    if missing.is_empty() {
        return Ok(());
    }
    let names = missing.iter().map(|n| format!("--set {n}=…")).collect::<Vec<_>>().join(", ");
    let fields = missing.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(" or ");
    let dotted = missing.iter().find(|n| n.contains('.')).map(|n| {
        let last = n.rsplit('.').next().unwrap_or(n);
        format!(" (NAME is one field name, matched at any depth, not a path: --set {last}=… for {n})")
    });
    anyhow::bail!(
        "{names}: no JSON text message that {}#{} sends has a field named {fields}, so --set would change nothing{}; \
         name a field its messages have (for Genesys, --set token=NEW replays the session as a new guest)",
        script.file.display(),
        script.conn,
        dotted.unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::try_page_url;

    #[test]
    fn the_try_page_asks_for_the_recorded_path_and_under_redact_only_its_deployment_id() {
        let recorded = "/guest/v1?lang=en&deploymentId=d%201&token=s3cret";
        assert_eq!(try_page_url("ws://127.0.0.1:9000", recorded, false), format!("ws://127.0.0.1:9000{recorded}"));
        assert_eq!(try_page_url("wss://[::1]:9", recorded, true), "wss://[::1]:9/guest/v1?deploymentId=d%201");
        assert_eq!(try_page_url("ws://h:1", "/chat?token=s3cret", true), "ws://h:1/chat");
    }
}
