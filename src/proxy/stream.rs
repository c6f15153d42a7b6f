//! Byte streams the relay works on: plain TCP or TLS, with access to the TCP socket (to mirror a reset).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The read half of a relayed stream.
pub type ReadHalf = Box<dyn AsyncRead + Unpin + Send>;
/// The write half of a relayed stream.
pub type WriteHalf = Box<dyn AsyncWrite + Unpin + Send>;

/// A stream the relay can carry: also exposes its TCP socket so a TCP reset can be mirrored.
pub trait RelayStream: AsyncRead + AsyncWrite + Unpin + Send + Sized + 'static {
    fn tcp(&self) -> Option<&TcpStream>;

    /// Splits into halves the two directions of the relay own. Plain TCP splits without a lock.
    fn into_halves(self) -> (ReadHalf, WriteHalf) {
        let (read, write) = tokio::io::split(self);
        (Box::new(read), Box::new(write))
    }
}

impl RelayStream for TcpStream {
    fn tcp(&self) -> Option<&TcpStream> {
        Some(self)
    }

    fn into_halves(self) -> (ReadHalf, WriteHalf) {
        let (read, write) = self.into_split();
        (Box::new(read), Box::new(TcpWriteHalf(Some(write))))
    }
}

/// A TCP write half that, unlike tokio's, does not send a FIN when dropped: the socket then closes as a
/// dropped stream does (a FIN, or a reset when armed with [`reset_on_close`]). The relay sends a FIN
/// explicitly (`shutdown`) when it mirrors one.
struct TcpWriteHalf(Option<tokio::net::tcp::OwnedWriteHalf>);

impl TcpWriteHalf {
    fn inner(&mut self) -> Pin<&mut tokio::net::tcp::OwnedWriteHalf> {
        Pin::new(self.0.as_mut().expect("present until dropped"))
    }
}

impl Drop for TcpWriteHalf {
    fn drop(&mut self) {
        if let Some(half) = self.0.take() {
            half.forget();
        }
    }
}

impl AsyncWrite for TcpWriteHalf {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().inner().poll_write(cx, buf)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().inner().poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().inner().poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().inner().poll_shutdown(cx)
    }
}

impl RelayStream for tokio_rustls::server::TlsStream<TcpStream> {
    fn tcp(&self) -> Option<&TcpStream> {
        Some(self.get_ref().0)
    }
}

impl RelayStream for tokio_rustls::client::TlsStream<TcpStream> {
    fn tcp(&self) -> Option<&TcpStream> {
        Some(self.get_ref().0)
    }
}

/// The upstream connection: plain for ws://, TLS for wss://.
pub enum UpstreamStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl RelayStream for UpstreamStream {
    fn tcp(&self) -> Option<&TcpStream> {
        match self {
            UpstreamStream::Plain(s) => Some(s),
            UpstreamStream::Tls(s) => Some(s.get_ref().0),
        }
    }

    fn into_halves(self) -> (ReadHalf, WriteHalf) {
        match self {
            UpstreamStream::Plain(tcp) => tcp.into_halves(),
            tls => {
                let (read, write) = tokio::io::split(tls);
                (Box::new(read), Box::new(write))
            }
        }
    }
}

impl AsyncRead for UpstreamStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for UpstreamStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }
    fn is_write_vectored(&self) -> bool {
        match self {
            UpstreamStream::Plain(s) => s.is_write_vectored(),
            UpstreamStream::Tls(s) => s.is_write_vectored(),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_flush(cx),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A socket's handle to the operating system, kept so a reset can be mirrored after its stream is split: a file
/// descriptor on Unix, a `SOCKET` on Windows.
#[cfg(unix)]
pub type RawSocket = std::os::fd::RawFd;
/// A socket's handle to the operating system, kept so a reset can be mirrored after its stream is split: a file
/// descriptor on Unix, a `SOCKET` on Windows.
#[cfg(windows)]
pub type RawSocket = std::os::windows::io::RawSocket;

/// The raw socket of a relay stream, kept so a reset can be mirrored after the stream is split.
pub fn raw_socket<S: RelayStream>(stream: &S) -> Option<RawSocket> {
    stream.tcp().map(tcp_raw_socket)
}

/// The raw socket under a TCP stream (tokio's or std's).
#[cfg(unix)]
pub fn tcp_raw_socket(tcp: &impl std::os::fd::AsRawFd) -> RawSocket {
    tcp.as_raw_fd()
}

/// The raw socket under a TCP stream (tokio's or std's).
#[cfg(windows)]
pub fn tcp_raw_socket(tcp: &impl std::os::windows::io::AsRawSocket) -> RawSocket {
    tcp.as_raw_socket()
}

/// Makes the next close of this socket send a TCP reset (RST) instead of a FIN, to mirror a peer's reset.
/// `fd` must belong to a socket that is still open (the relay holds both halves while it calls this).
#[cfg(unix)]
pub fn reset_on_close(fd: RawSocket) {
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: setsockopt only reads `linger` for the given length; a stale fd makes it fail, not misbehave.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        tracing::debug!("could not arm a TCP reset: {}", io::Error::last_os_error());
    }
}

/// Makes the next close of this socket send a TCP reset (RST) instead of a FIN, to mirror a peer's reset: on
/// Windows too, a zero linger makes `closesocket` abort the connection. `socket` must still be open (the relay
/// holds both halves while it calls this).
#[cfg(windows)]
pub fn reset_on_close(socket: RawSocket) {
    // SAFETY: the caller keeps the socket open for as long as this borrow (this call) lasts.
    let socket = unsafe { std::os::windows::io::BorrowedSocket::borrow_raw(socket) };
    if let Err(e) = socket2::SockRef::from(&socket).set_linger(Some(std::time::Duration::ZERO)) {
        tracing::debug!("could not arm a TCP reset: {e}");
    }
}

/// The kernel's smoothed round trip of a TCP connection, in milliseconds (Linux `TCP_INFO`'s `tcpi_rtt`):
/// the network's own delay, without the far end's processing time that every application-level round trip
/// includes. `None` when the kernel does not say (another platform, or a socket that is gone). One system call:
/// for a connection's open, never per frame.
#[cfg(target_os = "linux")]
pub fn kernel_rtt_ms(tcp: &TcpStream) -> Option<f64> {
    // SAFETY: `tcp_info` holds integers only.
    let (info, len) = unsafe { tcp_option::<libc::tcp_info>(tcp, libc::TCP_INFO) }?;
    // A shorter struct (an old kernel's) without `tcpi_rtt`, or no sample yet (0), says nothing.
    let has_rtt = len >= std::mem::offset_of!(libc::tcp_info, tcpi_rtt) + 4;
    (has_rtt && info.tcpi_rtt > 0).then(|| f64::from(info.tcpi_rtt) / 1000.0)
}

/// The kernel's smoothed round trip of a TCP connection, in milliseconds (macOS `TCP_CONNECTION_INFO`'s
/// `tcpi_srtt`, kept in whole milliseconds there). `None` when the kernel does not say, as on Linux.
#[cfg(target_os = "macos")]
pub fn kernel_rtt_ms(tcp: &TcpStream) -> Option<f64> {
    // SAFETY: `tcp_connection_info` holds integers only.
    let (info, len) = unsafe { tcp_option::<libc::tcp_connection_info>(tcp, libc::TCP_CONNECTION_INFO) }?;
    let has_rtt = len >= std::mem::offset_of!(libc::tcp_connection_info, tcpi_srtt) + 4;
    (has_rtt && info.tcpi_srtt > 0).then(|| f64::from(info.tcpi_srtt))
}

/// The TCP-level socket option `name` of `tcp` read into a `T`, with the bytes the kernel wrote of it; `None` if
/// the call failed.
///
/// # Safety
/// `T` must be a plain C struct for which all zero bytes are a valid value (integers only).
#[cfg(any(target_os = "linux", target_os = "macos"))]
unsafe fn tcp_option<T>(tcp: &TcpStream, name: libc::c_int) -> Option<(T, usize)> {
    use std::os::fd::AsRawFd;
    // SAFETY: the caller vouches that all-zero is a valid `T`.
    let mut value: T = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `value` and sets `len` to what it wrote.
    let rc = unsafe {
        libc::getsockopt(tcp.as_raw_fd(), libc::IPPROTO_TCP, name, &mut value as *mut T as *mut libc::c_void, &mut len)
    };
    (rc == 0).then_some((value, len as usize))
}

/// The kernel's round trip of a TCP connection: not read on this platform (Windows), where the diagnosis makes
/// do with the upper bound the handshake's own round trip gives.
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
pub fn kernel_rtt_ms(_tcp: &TcpStream) -> Option<f64> {
    None
}
