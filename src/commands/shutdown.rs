//! The shutdown signal of a running command: Ctrl-C or SIGTERM, and a second one that stops at once.

use std::future::Future;
use std::sync::LazyLock;
use tokio::sync::watch;

/// Set once a second Ctrl-C or SIGTERM came after the first: the shutdown's waits (close handshakes still
/// open, sessions draining) end at once. Process-wide, as the signals are.
static SECOND_SIGNAL: LazyLock<watch::Sender<bool>> = LazyLock::new(|| watch::Sender::new(false));

/// Listens for Ctrl-C (SIGINT) and SIGTERM from this call on, and returns a future that resolves on the first
/// of them. Call it before printing "Ctrl-C stops": until the handlers are installed, either signal ends the
/// process at once, with no 1001 to clients and no `end` record in the capture. (Handlers installed when the
/// future was first polled left that window open for as long as a busy machine kept the accept loop from
/// polling it, and tests that stopped frametap right after a first connection saw it killed.)
///
/// After the first signal it keeps listening: a second one resolves [`second_signal`], which cuts the
/// shutdown's close waits short (the records already relayed are still written and the capture is saved).
pub fn signal() -> impl Future<Output = ()> + Send + 'static {
    signal_saying("close handshakes", "connections still closing are cut short (and say so in the capture)")
}

/// [`signal`] for the simulator, which writes no capture: its second signal does not promise a capture that says so.
pub fn signal_without_capture() -> impl Future<Output = ()> + Send + 'static {
    signal_saying("close handshakes", "connections still closing are cut short")
}

/// [`signal`] for `frametap ui FILE`, which relays no connection: what its shutdown waits for is the downloads a
/// browser has not finished reading.
pub fn signal_serving_a_file() -> impl Future<Output = ()> + Send + 'static {
    signal_saying("downloads still being sent", "downloads still being sent are cut short")
}

/// [`signal`], saying that a second signal stops without waiting for `waits_for`, and then `cut_short`.
fn signal_saying(waits_for: &'static str, cut_short: &'static str) -> impl Future<Output = ()> + Send + 'static {
    let mut signals = Signals::listen();
    async move {
        signals.next().await;
        crate::notice!("\nframetap: shutting down… (Ctrl-C again stops at once, without waiting for {waits_for})");
        tokio::spawn(async move {
            let name = signals.next().await;
            crate::notice!("frametap: {name} again: stopping at once; {cut_short}");
            SECOND_SIGNAL.send_replace(true);
        });
    }
}

/// Resolves once a second Ctrl-C or SIGTERM came after the first (see [`signal`]); never in a process that
/// got no such signal (a test serving in-process with its own shutdown future).
pub async fn second_signal() {
    let mut second = SECOND_SIGNAL.subscribe();
    // The sender is a static: it is never dropped, so this only returns once the flag is set.
    let _ = second.wait_for(|second| *second).await;
}

/// Ctrl-C and SIGTERM (on Windows: Ctrl-C and the console window being closed), listened for from
/// [`Signals::listen`] on.
struct Signals {
    interrupt: Option<Interrupt>,
    terminate: Option<Terminate>,
}

/// The Ctrl-C handler: SIGINT on Unix.
#[cfg(unix)]
type Interrupt = tokio::signal::unix::Signal;
/// The stop request from outside: SIGTERM on Unix.
#[cfg(unix)]
type Terminate = tokio::signal::unix::Signal;
/// The Ctrl-C handler: the console's CTRL_C_EVENT on Windows.
#[cfg(windows)]
type Interrupt = tokio::signal::windows::CtrlC;
/// The stop request from outside: on Windows, the console window being closed (CTRL_CLOSE_EVENT), after which
/// Windows gives the process a few seconds before ending it.
#[cfg(windows)]
type Terminate = tokio::signal::windows::CtrlClose;

/// What a stop request from outside is called in frametap's notices.
#[cfg(unix)]
const TERMINATE: &str = "SIGTERM";
/// What a stop request from outside is called in frametap's notices.
#[cfg(windows)]
const TERMINATE: &str = "closing the console";

impl Signals {
    #[cfg(unix)]
    fn listen() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        Signals {
            interrupt: installed(signal(SignalKind::interrupt()), "Ctrl-C"),
            terminate: installed(signal(SignalKind::terminate()), TERMINATE),
        }
    }

    #[cfg(windows)]
    fn listen() -> Signals {
        use tokio::signal::windows::{ctrl_c, ctrl_close};
        Signals { interrupt: installed(ctrl_c(), "Ctrl-C"), terminate: installed(ctrl_close(), TERMINATE) }
    }

    /// Resolves on the next Ctrl-C or SIGTERM, with its name; never, if listening for both failed.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            () = received(self.interrupt.as_mut().map(|signal| signal.recv())) => "Ctrl-C",
            () = received(self.terminate.as_mut().map(|signal| signal.recv())) => TERMINATE,
        }
    }
}

/// The handler for a signal, or `None` if it could not be installed (which is said at once).
fn installed<S>(signal: std::io::Result<S>, name: &'static str) -> Option<S> {
    signal.map_err(|e| crate::warning!("cannot listen for {name} ({e}): stop frametap another way")).ok()
}

/// Resolves when a signal's `recv` does; never, if the signal has no handler.
async fn received<T>(recv: Option<impl Future<Output = T>>) {
    match recv {
        Some(recv) => {
            recv.await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// Binds a listener, turning "address in use" into advice.
pub async fn bind(addr: std::net::SocketAddr, what: &str, flag: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!("cannot listen on {addr} for the {what}: the port is in use (another frametap?); choose another with {flag} ADDR")
        } else {
            anyhow::anyhow!("cannot listen on {addr} for the {what}: {e}")
        }
    })
}
