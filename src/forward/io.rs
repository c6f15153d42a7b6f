//! Stream plumbing for forward mode: replaying bytes already read, an upstream TLS stream whose missing close_notify
//! reads as the end, and one boxed stream type.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf as _, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Any byte stream forward mode hands around (TCP, TLS over TCP, a tunnel through a proxy).
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A boxed [`Io`].
pub type BoxIo = Box<dyn Io>;

/// A stream whose first reads return `prefix` (bytes already taken off `inner`), then `inner`'s data.
pub struct PrefixedIo<S> {
    prefix: Bytes,
    inner: S,
}

impl<S> PrefixedIo<S> {
    pub fn new(prefix: impl Into<Bytes>, inner: S) -> Self {
        PrefixedIo { prefix: prefix.into(), inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for PrefixedIo<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for PrefixedIo<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// An upstream TLS stream on which the server closing TCP without a TLS close_notify reads as the end of the stream,
/// as browsers and curl read it. Many servers close that way after a body delimited by the end of the connection
/// (no Content-Length, no chunking); rustls reports it as an `UnexpectedEof` error, which would turn the whole
/// forwarded response into a broken transfer. A body with a length or chunking is still checked by HTTP itself: one
/// cut short stays an error.
pub struct CloseNotifyOptional<S>(pub S);

impl<S: AsyncRead + Unpin> AsyncRead for CloseNotifyOptional<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.0).poll_read(cx, buf) {
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Poll::Ready(Ok(())),
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CloseNotifyOptional<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

impl crate::proxy::stream::RelayStream for PrefixedIo<tokio::net::TcpStream> {
    fn tcp(&self) -> Option<&tokio::net::TcpStream> {
        Some(&self.inner)
    }
}

impl crate::proxy::stream::RelayStream for tokio_rustls::server::TlsStream<PrefixedIo<tokio::net::TcpStream>> {
    fn tcp(&self) -> Option<&tokio::net::TcpStream> {
        Some(&self.get_ref().0.inner)
    }
}

/// Whether the first bytes of a tunnel are a TLS handshake record (content type 22, version 3.x).
pub fn looks_like_tls(first: &[u8]) -> bool {
    matches!(first, [0x16, 0x03, ..] | [0x16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt as _;

    #[tokio::test]
    async fn the_prefix_is_read_before_the_stream() {
        let rest: &[u8] = b" world";
        let mut io = PrefixedIo::new(&b"hello"[..], rest);
        let mut out = String::new();
        io.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "hello world");
    }

    /// A reader that yields `data`, then fails as rustls does when the peer closed TCP without close_notify.
    struct CutShort(&'static [u8]);

    impl AsyncRead for CutShort {
        fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            if self.0.is_empty() {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::UnexpectedEof, "no close_notify")));
            }
            buf.put_slice(self.0);
            self.0 = b"";
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_missing_close_notify_reads_as_the_end_and_other_errors_stay() {
        let mut out = String::new();
        CloseNotifyOptional(CutShort(b"body")).read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "body");
        let mut out = String::new();
        let err = CutShort(b"body").read_to_string(&mut out).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "without the wrapper the error is what rustls gives");
    }

    #[test]
    fn tls_is_told_from_http_by_its_first_bytes() {
        assert!(looks_like_tls(&[0x16, 0x03, 0x01, 0x02, 0x00]));
        assert!(!looks_like_tls(b"GET / HTTP/1.1\r\n"));
        assert!(!looks_like_tls(b""));
    }
}
