//! A minimal, independent CONNECT proxy for tests: optional Basic auth, records every target it opened.
#![allow(dead_code)] // shared by several test binaries, each of which uses only part of it

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use frametap::forward::head::read_request_head;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};

/// A running CONNECT proxy on 127.0.0.1:0.
pub struct ConnectProxy {
    pub addr: SocketAddr,
    /// The `host:port` of every tunnel opened, in order.
    pub tunnels: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    /// Starts the proxy; with `required_auth = Some("Basic …")`, other requests get 407.
    pub async fn start(required_auth: Option<String>) -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tunnels = Arc::new(Mutex::new(Vec::new()));
        let seen = tunnels.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (seen, required_auth) = (seen.clone(), required_auth.clone());
                tokio::spawn(async move {
                    let _ = serve(client, seen, required_auth).await;
                });
            }
        });
        ConnectProxy { addr, tunnels }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn tunnels(&self) -> Vec<String> {
        self.tunnels.lock().unwrap().clone()
    }
}

async fn serve(
    mut client: TcpStream,
    seen: Arc<Mutex<Vec<String>>>,
    required_auth: Option<String>,
) -> anyhow::Result<()> {
    let Some(head) = read_request_head(&mut client).await? else {
        return Ok(());
    };
    if head.method != "CONNECT" {
        client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n").await?;
        return Ok(());
    }
    if let Some(expected) = required_auth {
        if head.header("proxy-authorization") != Some(expected.as_str()) {
            client
                .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")
                .await?;
            return Ok(());
        }
    }
    let mut upstream = match TcpStream::connect(head.target.as_str()).await {
        Ok(s) => s,
        Err(_) => {
            client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n").await?;
            return Ok(());
        }
    };
    seen.lock().unwrap().push(head.target.clone());
    client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await?;
    upstream.write_all(&head.leftover).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}
