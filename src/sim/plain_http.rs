//! Reads the HTTP request head before the WebSocket handshake, so a plain HTTP request (a browser
//! opening the URL) gets a readable 426 answer instead of an empty reply; upgrades are replayed to
//! tungstenite unchanged.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};

/// The largest request head the simulator reads.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Reads until the end of the request head (`\r\n\r\n`); returns every byte read, which may go past it.
pub async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the client closed before a full request"));
        }
        let searched_from = head.len().saturating_sub(3);
        head.extend_from_slice(&chunk[..n]);
        if head[searched_from..].windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok(head);
        }
        if head.len() > MAX_HEAD_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "request head larger than 16 KiB"));
        }
    }
}

/// True when the head carries `Upgrade: websocket`.
pub fn is_websocket_upgrade(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    text.split("\r\n").skip(1).take_while(|line| !line.is_empty()).any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("upgrade") && value.to_ascii_lowercase().contains("websocket")
        })
    })
}

/// Answers a plain HTTP request with 426 and a note saying what this is and how to connect.
pub async fn answer_plain_request<S: AsyncWrite + Unpin>(stream: &mut S, addr: std::net::SocketAddr) -> io::Result<()> {
    let body = format!(
        "This is frametap's Genesys Web Messaging simulator: SIMULATOR, NOT Genesys.\n\
         Connect a WebSocket client to ws://{addr}/v1?deploymentId=<any id> (see docs/simulator.md).\n"
    );
    let response = format!(
        "HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nConnection: close\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// A stream that first yields `prefix`, then reads from `inner`; writes go straight to `inner`.
pub struct Prefixed<S> {
    prefix: Vec<u8>,
    consumed: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    pub fn new(prefix: Vec<u8>, inner: S) -> Self {
        Prefixed { prefix, consumed: 0, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.consumed < this.prefix.len() {
            let n = buf.remaining().min(this.prefix.len() - this.consumed);
            buf.put_slice(&this.prefix[this.consumed..this.consumed + n]);
            this.consumed += n;
            if this.consumed == this.prefix.len() {
                this.prefix = Vec::new();
                this.consumed = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn head_is_read_to_the_blank_line_and_replayed() {
        let request = b"GET /v1 HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n\r\nextra";
        let mut source: &[u8] = request;
        let head = read_head(&mut source).await.unwrap();
        assert!(is_websocket_upgrade(&head));
        let mut replay = Prefixed::new(head, source);
        let mut all = Vec::new();
        replay.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, request);
    }

    #[tokio::test]
    async fn plain_requests_and_bad_heads_are_told_apart() {
        assert!(!is_websocket_upgrade(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(!is_websocket_upgrade(b"GET / HTTP/1.1\r\nX-Upgrade: websocket\r\n\r\n"));
        let mut truncated: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n";
        assert_eq!(read_head(&mut truncated).await.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        let huge = vec![b'a'; MAX_HEAD_BYTES + 10];
        let mut huge: &[u8] = &huge;
        assert_eq!(read_head(&mut huge).await.unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
