//! One recording session: the pipeline and its sinks, built from the options every recording command shares
//! (capture, terminal log, analysis, redaction, UI). Used by `proxy`, `replay serve` and `replay send`.

use crate::capture::CaptureWriter;
use crate::cli::{CaptureArgs, LogArgs};
use crate::event::{Meta, Ts, FORMAT_NAME, FORMAT_VERSION};
use crate::inspect::{AnalysisOptions, Analyzer};
use crate::log::TerminalLog;
use crate::pipeline::{self, EventSink, Pipeline, PipelineOptions, Publisher};
use crate::redact::SharedRedactor;
use crate::ui::{Hub, HubOptions, RunningUi, TryTarget, UiArgs};
use crate::words::count;
use anyhow::Result;
use std::path::PathBuf;
use std::sync::Arc;

/// What a recording command tells the session about itself.
pub struct SessionSetup<'a> {
    /// `proxy`, `forward`, `replay-serve`, `replay-send`.
    pub mode: &'a str,
    pub upstream: Option<String>,
    pub capture: &'a CaptureArgs,
    pub log: &'a LogArgs,
    pub insecure_upstream: bool,
    pub publishers: Vec<Arc<dyn Publisher>>,
    /// The web UI's options (`--ui`, `--no-ui`), for commands that serve it.
    pub ui: Option<&'a UiArgs>,
    /// What the UI's "try it" page connects to.
    pub try_target: Option<TryTarget>,
    /// Live analysis (annotations, tokens, close diagnoses); `None` records frames only.
    pub analysis: Option<AnalysisOptions>,
}

/// A started session: where to emit records, and the pipeline to finish at the end.
pub struct Session {
    pub sink: EventSink,
    pub pipeline: Pipeline,
    pub capture_path: Option<PathBuf>,
    /// The running web UI, unless `--no-ui` or its port was taken (then a warning was logged).
    pub ui: Option<RunningUi>,
    /// With `--redact`: the redactor the pipeline masks every record with, for text quoted outside the records.
    pub redactor: Option<SharedRedactor>,
}

/// Opens the capture file (before anything listens, so a bad path fails fast), starts the pipeline and the UI.
pub async fn start(setup: SessionSetup<'_>) -> Result<Session> {
    let format = setup.capture.format().map_err(anyhow::Error::msg)?;
    let capture = if setup.capture.no_capture {
        None
    } else {
        let path = match &setup.capture.capture {
            Some(path) => path.clone(),
            None => crate::paths::default_capture_path(format.extension())?,
        };
        Some(CaptureWriter::create_as(&path, format)?)
    };
    let capture_path = capture.as_ref().map(|c| c.path().to_owned());
    let meta = Meta {
        ts: Ts::now(),
        format: FORMAT_NAME.into(),
        version: capture.as_ref().map_or(FORMAT_VERSION, |c| c.format().version()),
        frametap: env!("CARGO_PKG_VERSION").into(),
        command: crate::forward::upstream_proxy::redact_command_line(std::env::args()),
        mode: setup.mode.into(),
        upstream: setup.upstream,
        redacted: false,
        insecure_upstream: setup.insecure_upstream,
    };
    let mut log = TerminalLog::stdout(setup.log.log_format).with_blocks(crate::inspect::render_block);
    if setup.log.quiet {
        log = log.closes_only();
    }
    let mut publishers = setup.publishers;
    let mut ui = None;
    if let Some(ui_args) = setup.ui.filter(|args| !args.no_ui) {
        let hub =
            Hub::new(HubOptions { history_limit: crate::ui::DEFAULT_HISTORY_LIMIT, redacted: setup.capture.redact });
        publishers.push(hub.clone());
        let going_on = if setup.mode.starts_with("replay") { "replaying" } else { "relaying" };
        ui = crate::ui::start(ui_args, hub, setup.try_target, capture_path.clone(), going_on).await;
    }
    let redactor = setup.capture.redact.then(SharedRedactor::new);
    let (sink, pipeline) = pipeline::start(PipelineOptions {
        meta,
        capture,
        log: Some(log),
        analysis: setup.analysis.map(Analyzer::factory),
        redaction: redactor.clone().map(|redactor| Box::new(redactor) as Box<dyn pipeline::Redaction>),
        publishers,
        on_lag: setup.capture.on_capture_lag,
        buffer: pipeline::DEFAULT_BUFFER,
    });
    Ok(Session { sink, pipeline, capture_path, ui, redactor })
}

impl Session {
    /// The web UI's URL (with its access token), when it is running.
    pub fn ui_url(&self) -> Option<String> {
        self.ui.as_ref().map(|ui| ui.url.clone())
    }

    /// The web UI's address without its access token (`http://127.0.0.1:9001/`), for pages anyone who can reach
    /// the proxy port may read.
    pub fn ui_address(&self) -> Option<String> {
        self.ui.as_ref().map(|ui| crate::ui::address(ui.addr))
    }

    /// Finishes the pipeline (writes the `end` record), stops the UI, and prints where the capture is.
    pub async fn finish(self) {
        let summary = self.pipeline.finish().await;
        if let Some(ui) = self.ui {
            ui.stop().await;
        }
        let end = &summary.end;
        let Some(path) = &summary.capture_path else { return };
        let relayed = format!("{}, {}", count(end.connections, "connection"), count(end.frames, "frame"));
        if end.complete {
            crate::notice!("frametap: capture saved to {} ({relayed})", path.display());
        } else {
            // The counts are what was relayed, not what reached the file: never call such a file saved.
            let why = if end.errors.is_empty() {
                format!("{} not written", count(end.dropped, "record"))
            } else {
                end.errors.join("; ")
            };
            crate::notice!(
                "frametap: capture INCOMPLETE: {} holds only part of what was relayed ({relayed}): {why}. \
                 `frametap inspect` reads what it holds; `replay` needs --partial",
                path.display()
            );
        }
    }
}
