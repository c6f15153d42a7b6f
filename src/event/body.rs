//! A refused upgrade's body as a person reads it, also when it is not UTF-8 (compressed, or in another charset).

use std::borrow::Cow;
use std::io::Read as _;

use super::HttpResponse;

/// The most decompressed bytes read for display: an error page, not a download.
const MAX_SHOWN_BYTES: u64 = 1024 * 1024;

impl HttpResponse {
    /// The body to show in the log and a diagnosis, `None` when there is none. A UTF-8 body is its text. A body that
    /// is not (kept as `body_base64`) is often compressed: browsers send `Accept-Encoding: gzip, deflate, br, zstd`
    /// on the upgrade and frametap passes it on, so a gateway's 403 page may come gzipped. A `gzip` or `deflate`
    /// body is decompressed, anything else read as UTF-8 with `�` for what is not; an encoding frametap cannot
    /// undo (`br`, `zstd`) is named instead. The record keeps the bytes as they came.
    pub fn readable_body(&self) -> Option<Cow<'_, str>> {
        if let Some(text) = &self.body {
            return Some(Cow::Borrowed(text));
        }
        let encoded = self.body_base64.as_deref()?;
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded).ok()?;
        let encoding = super::header(&self.headers, "content-encoding").unwrap_or("").trim().to_ascii_lowercase();
        let decoded = match encoding.as_str() {
            "" | "identity" => Some(bytes.clone()),
            "gzip" | "x-gzip" => read_some(flate2::read::MultiGzDecoder::new(bytes.as_slice())),
            "deflate" => read_some(flate2::read::ZlibDecoder::new(bytes.as_slice()))
                .or_else(|| read_some(flate2::read::DeflateDecoder::new(bytes.as_slice()))),
            _ => None,
        };
        Some(Cow::Owned(match decoded {
            Some(plain) => String::from_utf8_lossy(&plain).into_owned(),
            None => format!(
                "<{} bytes with Content-Encoding {encoding} that frametap cannot decode; the open record keeps them \
                 (response.body_base64)>",
                bytes.len()
            ),
        }))
    }
}

/// What `reader` yields before its end or an error (a body cut at the refusal limit still shows its start);
/// `None` when it yields nothing.
fn read_some(reader: impl std::io::Read) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut reader = reader.take(MAX_SHOWN_BYTES);
    let mut chunk = [0u8; 8192];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn refused(headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
        let base64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, body);
        HttpResponse {
            status: 403,
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: None,
            body_base64: Some(base64),
        }
    }

    #[test]
    fn gzip_and_deflate_bodies_are_decompressed_and_other_charsets_read_lossily() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"blocked by WAF rule 942100").unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(
            refused(&[("Content-Encoding", "gzip")], &gz).readable_body().unwrap(),
            "blocked by WAF rule 942100"
        );
        let cut = &gz[..gz.len() - 8]; // without its trailer, as a body cut at the limit would be
        assert_eq!(
            refused(&[("content-encoding", "GZIP")], cut).readable_body().unwrap(),
            "blocked by WAF rule 942100"
        );
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(b"deflated").unwrap();
        let zlib = zlib.finish().unwrap();
        assert_eq!(refused(&[("content-encoding", "deflate")], &zlib).readable_body().unwrap(), "deflated");
        assert_eq!(
            refused(&[], b"Zugriff verweigert f\xfcr Sie").readable_body().unwrap(),
            "Zugriff verweigert f\u{fffd}r Sie"
        );
        let br = refused(&[("content-encoding", "br")], &[1, 2, 3]).readable_body().unwrap().into_owned();
        assert!(br.starts_with("<3 bytes with Content-Encoding br that frametap cannot decode"), "{br}");
        let text = HttpResponse { status: 403, headers: vec![], body: Some("no".into()), body_base64: None };
        assert_eq!(text.readable_body().unwrap(), "no");
        let none = HttpResponse { status: 403, headers: vec![], body: None, body_base64: None };
        assert!(none.readable_body().is_none());
    }
}
