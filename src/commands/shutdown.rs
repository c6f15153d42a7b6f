//! The shutdown signal of a running command: Ctrl-C or SIGTERM.

use std::future::Future;

/// Listens for Ctrl-C (SIGINT) and SIGTERM from this call on, and returns a future that resolves on the first
/// of them. Call it before printing "Ctrl-C stops": until the handlers are installed, either signal ends the
/// process at once, with no 1001 to clients and no `end` record in the capture. (Handlers installed when the
/// future was first polled left that window open for as long as a busy machine kept the accept loop from
/// polling it, and tests that stopped frametap right after a first connection saw it killed.)
pub fn signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let received = {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = wait_for(signal(SignalKind::interrupt()), "Ctrl-C");
        let terminate = wait_for(signal(SignalKind::terminate()), "SIGTERM");
        async move {
            tokio::select! {
                () = interrupt => {}
                () = terminate => {}
            }
        }
    };
    #[cfg(not(unix))]
    let received = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    async move {
        received.await;
        crate::notice!("\nframetap: shutting down…");
    }
}

/// Resolves when `signal` is received; never, if listening for it failed (which is said at once).
#[cfg(unix)]
fn wait_for(
    signal: std::io::Result<tokio::signal::unix::Signal>,
    name: &'static str,
) -> impl Future<Output = ()> + Send + 'static {
    let signal = signal.map_err(|e| tracing::warn!("cannot listen for {name}: {e}")).ok();
    async move {
        match signal {
            Some(mut signal) => {
                signal.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
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
