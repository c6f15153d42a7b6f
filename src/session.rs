//! One recording session: the pipeline and its sinks, built from the options every recording command shares
//! (capture, terminal log, analysis, redaction, UI). Used by `proxy`, `replay serve` and `replay send`.

use crate::capture::CaptureWriter;
use crate::cli::{CaptureArgs, LogArgs};
use crate::event::{Meta, Ts, FORMAT_NAME, FORMAT_VERSION};
use crate::log::TerminalLog;
use crate::pipeline::{self, EventSink, Pipeline, PipelineOptions, Publisher};
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
}

/// A started session: where to emit records, and the pipeline to finish at the end.
pub struct Session {
    pub sink: EventSink,
    pub pipeline: Pipeline,
    pub capture_path: Option<PathBuf>,
}

/// Opens the capture file (before anything listens, so a bad path fails fast) and starts the pipeline.
pub fn start(setup: SessionSetup<'_>) -> Result<Session> {
    let capture = if setup.capture.no_capture {
        None
    } else {
        let path = match &setup.capture.capture {
            Some(path) => path.clone(),
            None => crate::paths::default_capture_path()?,
        };
        Some(CaptureWriter::create(&path)?)
    };
    let capture_path = capture.as_ref().map(|c| c.path().to_owned());
    let meta = Meta {
        ts: Ts::now(),
        format: FORMAT_NAME.into(),
        version: FORMAT_VERSION,
        frametap: env!("CARGO_PKG_VERSION").into(),
        command: crate::forward::upstream_proxy::redact_command_line(std::env::args()),
        mode: setup.mode.into(),
        upstream: setup.upstream,
        redacted: false,
        insecure_upstream: setup.insecure_upstream,
    };
    let log = (!setup.log.quiet).then(|| TerminalLog::stdout(setup.log.log_format));
    let (sink, pipeline) = pipeline::start(PipelineOptions {
        meta,
        capture,
        log,
        analysis: None,
        redaction: setup
            .capture
            .redact
            .then(|| Box::new(crate::redact::Redactor::new()) as Box<dyn pipeline::Redaction>),
        publishers: setup.publishers,
        on_lag: setup.capture.on_capture_lag,
        buffer: pipeline::DEFAULT_BUFFER,
    });
    Ok(Session { sink, pipeline, capture_path })
}

impl Session {
    /// Finishes the pipeline (writes the `end` record) and prints where the capture is.
    pub async fn finish(self) {
        let summary = self.pipeline.finish().await;
        let end = &summary.end;
        if let Some(path) = &summary.capture_path {
            eprintln!(
                "frametap: capture saved to {} ({} connections, {} frames{})",
                path.display(),
                end.connections,
                end.frames,
                if end.complete { String::new() } else { format!("; INCOMPLETE: {}", end.errors.join("; ")) }
            );
        }
    }
}
