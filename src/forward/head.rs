//! Reading one HTTP/1.1 head (request or response) off a raw stream, before any HTTP library takes over.
//!
//! Forward mode must see a `CONNECT` request and then keep the raw socket (to sniff TLS), and a CONNECT
//! through an upstream proxy must read the proxy's answer without consuming the tunnel's first bytes.

use anyhow::{bail, Context as _};
use tokio::io::{AsyncRead, AsyncReadExt as _};

/// The largest head frametap accepts: as much as hyper, which serves the request after this first read, accepts
/// (browsers send a few KiB at most).
pub const MAX_HEAD_BYTES: usize = crate::proxy::refused_head::MAX_HEAD_BYTES;
const MAX_HEADERS: usize = crate::proxy::MAX_HEADERS;

/// A parsed request head plus the bytes that followed it in the same reads.
#[derive(Debug)]
pub struct RequestHead {
    pub method: String,
    /// The request target as sent: `host:port` for CONNECT, `http://host/path` for a proxy request.
    pub target: String,
    pub headers: Vec<(String, Vec<u8>)>,
    /// The head exactly as received (to replay it to hyper unchanged).
    pub raw: Vec<u8>,
    /// Bytes read past the end of the head (a pipelined body or early TLS data).
    pub leftover: Vec<u8>,
}

impl RequestHead {
    /// The first header named `name` (case-insensitive), as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// A head that is not an HTTP/1.1 request (a space inside the target, a broken request line): the client gets a
/// `400` saying so. `Display` is that reason.
#[derive(Debug, thiserror::Error)]
#[error("the request line {line:?} is not METHOD TARGET HTTP/1.1: {detail}")]
pub struct MalformedHead {
    /// The first line as received (lossy UTF-8, at most 200 characters).
    pub line: String,
    /// What is wrong: a space inside the target, else httparse's words.
    pub detail: String,
}

/// A request head past [`MAX_HEADERS`] lines or [`MAX_HEAD_BYTES`] bytes: the client gets a `431`. `Display` is what
/// was wrong.
#[derive(Debug, thiserror::Error)]
#[error("its request head is too large: more than {MAX_HEADERS} header lines, or more than {} KiB", MAX_HEAD_BYTES / 1024)]
pub struct HeadTooLarge;

impl MalformedHead {
    fn new(buf: &[u8], error: httparse::Error) -> Self {
        let first = buf.split(|b| *b == b'\n').next().unwrap_or_default();
        let line: String = String::from_utf8_lossy(first).trim_end().chars().take(200).collect();
        let words = line.split(' ').filter(|w| !w.is_empty()).count();
        let detail = if words > 3 && error == httparse::Error::Version {
            "the target contains a space".to_owned()
        } else {
            error.to_string()
        };
        MalformedHead { line, detail }
    }
}

/// Reads a request head from `io`. `Ok(None)` means the peer closed before sending anything.
pub async fn read_request_head<R: AsyncRead + Unpin>(io: &mut R) -> anyhow::Result<Option<RequestHead>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = io.read(&mut chunk).await.context("could not read the request")?;
        if n == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            bail!("the client closed the connection in the middle of a request head");
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = vec![httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let parsed = match req.parse(&buf) {
            Err(httparse::Error::TooManyHeaders) => return Err(HeadTooLarge.into()),
            parsed => parsed.map_err(|e| MalformedHead::new(&buf, e))?,
        };
        match parsed {
            httparse::Status::Complete(len) => {
                let head = RequestHead {
                    method: req.method.unwrap_or_default().to_string(),
                    target: req.path.unwrap_or_default().to_string(),
                    headers: req.headers.iter().map(|h| (h.name.to_string(), h.value.to_vec())).collect(),
                    raw: buf[..len].to_vec(),
                    leftover: buf[len..].to_vec(),
                };
                return Ok(Some(head));
            }
            httparse::Status::Partial if buf.len() > MAX_HEAD_BYTES => return Err(HeadTooLarge.into()),
            httparse::Status::Partial => {}
        }
    }
}

/// Reads a response head one byte at a time, so nothing after it (the tunnel's data) is consumed.
/// Returns the status code and the status line.
pub async fn read_response_head_exact<R: AsyncRead + Unpin>(io: &mut R) -> anyhow::Result<(u16, String)> {
    let mut buf = Vec::with_capacity(256);
    loop {
        let byte = io.read_u8().await.context("the proxy closed the connection before answering")?;
        buf.push(byte);
        if buf.ends_with(b"\r\n\r\n") || buf.ends_with(b"\n\n") {
            break;
        }
        if buf.len() > MAX_HEAD_BYTES {
            bail!("the proxy's response head is larger than {MAX_HEAD_BYTES} bytes");
        }
    }
    let mut headers = vec![httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    resp.parse(&buf).context("the proxy sent a malformed HTTP response")?;
    let code = resp.code.context("the proxy's response has no status code")?;
    let line = String::from_utf8_lossy(buf.split(|b| *b == b'\n').next().unwrap_or_default()).trim_end().to_string();
    Ok((code, line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connect_head_keeps_the_bytes_after_it() {
        let mut input: &[u8] = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01";
        let head = read_request_head(&mut input).await.unwrap().unwrap();
        assert_eq!(head.method, "CONNECT");
        assert_eq!(head.target, "example.com:443");
        assert_eq!(head.header("host"), Some("example.com:443"));
        assert_eq!(head.leftover, b"\x16\x03\x01");
    }

    #[tokio::test]
    async fn an_empty_stream_is_no_request_and_a_cut_one_is_an_error() {
        let mut empty: &[u8] = b"";
        assert!(read_request_head(&mut empty).await.unwrap().is_none());
        let mut cut: &[u8] = b"GET / HTTP/1.1\r\nHo";
        assert!(read_request_head(&mut cut).await.is_err());
    }

    #[tokio::test]
    async fn a_space_inside_the_target_is_a_malformed_head_quoting_the_line() {
        let mut input: &[u8] = b"CONNECT a b:443 HTTP/1.1\r\n\r\n";
        let err = read_request_head(&mut input).await.unwrap_err();
        let malformed = err.downcast_ref::<MalformedHead>().expect("a MalformedHead");
        assert_eq!(malformed.line, "CONNECT a b:443 HTTP/1.1");
        assert!(
            malformed.to_string().ends_with("is not METHOD TARGET HTTP/1.1: the target contains a space"),
            "{malformed}"
        );
    }

    #[tokio::test]
    async fn a_response_head_is_read_without_its_body() {
        let mut input: &[u8] = b"HTTP/1.1 407 Proxy Authentication Required\r\nA: b\r\n\r\nrest";
        let (code, line) = read_response_head_exact(&mut input).await.unwrap();
        assert_eq!(code, 407);
        assert_eq!(line, "HTTP/1.1 407 Proxy Authentication Required");
        assert_eq!(input, b"rest");
    }
}
