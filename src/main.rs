//! The `frametap` binary: parse the command line, set up diagnostics, run the command, map errors to exit codes.

use clap::Parser;
use frametap::cli::{Cli, Command, SimTarget};
use std::io::IsTerminal as _;
use std::process::ExitCode;

/// jemalloc instead of glibc's malloc: the relay allocates a record per frame on the runtime's threads and the
/// sink thread frees it; glibc serialises those cross-thread frees on its arena locks (futex waits in profiles
/// under load). With jemalloc, 20 connections × 16 in flight run 10% faster and an idle connection costs half
/// the memory (docs/performance.md). Not on Windows, which jemalloc does not support: the system allocator there.
#[cfg(not(windows))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A write past a file-size limit (`ulimit -f`, some quotas) then fails with EFBIG, which the capture writer
/// reports (the capture is marked incomplete, the relay goes on), instead of the kernel's SIGXFSZ killing frametap
/// and every relayed connection with it. Called before any other thread exists.
#[cfg(unix)]
fn survive_file_size_limit() {
    // SAFETY: setting a signal to SIG_IGN before any other thread exists.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Nothing to do where there is no SIGXFSZ (Windows): a write past a quota fails with an error there.
#[cfg(not(unix))]
fn survive_file_size_limit() {}

fn main() -> ExitCode {
    survive_file_size_limit();
    let cli = Cli::parse();
    // Behind `proxy`, the in-process simulator's own session lines would only repeat the frame log.
    let default_filter = match cli.command {
        Command::Proxy(_) => "frametap=info,frametap::sim=warn",
        _ => "frametap=info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        // Colours as the frame log has them: only on a terminal, and not with NO_COLOR.
        .with_ansi(frametap::log::colours_for(std::io::stderr().is_terminal()))
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            frametap::notice!("frametap: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Commands whose output is a report on stdout, often piped into `head` or `less`.
    let reports_on_stdout = matches!(cli.command, Command::Inspect(_) | Command::Certs(_));
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Proxy(args) => frametap::commands::proxy::run(args).await,
            Command::Sim(SimTarget::Genesys(cmd)) => frametap::sim::run(cmd).await,
            Command::Redact(cmd) => frametap::redact::run_redact(cmd),
            Command::Certs(cmd) => frametap::tls::run_certs(cmd),
            Command::Ui(cmd) => frametap::ui::run_file(cmd).await,
            Command::Replay(cmd) => frametap::replay::run_replay(cmd).await,
            Command::Convert(cmd) => frametap::convert::run_convert(cmd),
            Command::Inspect(cmd) => frametap::inspect::run_inspect(cmd),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader stopped reading (`| head`, `less` quit early): it has what it wanted, as with `cat`.
        Err(e) if reports_on_stdout && is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            frametap::notice!("frametap: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// True when `error` comes from writing to a pipe whose reader has gone (EPIPE).
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
