//! A simulator running inside this process on a free loopback port: the upstream of `frametap proxy`
//! when no `--upstream` is given.

use std::net::SocketAddr;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{serve, SimConfig};

/// A running in-process simulator. Stop it with [`InProcessSim::stop`] (sessions get 1001).
pub struct InProcessSim {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl InProcessSim {
    /// Binds 127.0.0.1:0 and serves `config` there in a background task.
    pub async fn start(config: SimConfig) -> anyhow::Result<InProcessSim> {
        let listener =
            TcpListener::bind("127.0.0.1:0").await.context("could not bind a loopback port for the simulator")?;
        let addr = listener.local_addr().context("could not read the simulator's address")?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, config, async {
            let _ = stopped.await;
        }));
        Ok(InProcessSim { addr, stop: Some(stop), task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to dial, e.g. `ws://127.0.0.1:41234` (the client's path and query are appended to it).
    pub fn upstream_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Shuts the simulator down and waits for its sessions to close.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.context("the simulator task failed")?
    }
}

impl Drop for InProcessSim {
    fn drop(&mut self) {
        // Dropped without `stop`: end the task rather than leave it serving.
        if self.stop.is_some() {
            self.task.abort();
        }
    }
}
