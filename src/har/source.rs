//! Which tool saved a HAR (`log.creator.name`), and what each leaves out of a WebSocket's recording.

use super::document::{Entry, Har};
use super::lossless;
use crate::event::{self, Headers};

/// The tool that saved a HAR, as told by `log.creator.name`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HarSource {
    Frametap,
    Chrome,
    Mitmproxy,
    HttpToolkit,
    Playwright,
    /// Firefox's Network panel ("Save All As HAR"): it records a WebSocket's handshake and none of its messages.
    Firefox,
    Other,
}

impl HarSource {
    pub(super) fn detect(har: &Har) -> HarSource {
        if lossless::is_frametap_har(har) {
            return HarSource::Frametap;
        }
        let creator = har.log.creator.name.as_str().unwrap_or("").to_ascii_lowercase();
        if creator == "webinspector" {
            HarSource::Chrome
        } else if creator.contains("mitmproxy") {
            HarSource::Mitmproxy
        } else if creator.contains("http toolkit") {
            HarSource::HttpToolkit
        } else if creator.contains("playwright") {
            HarSource::Playwright
        } else if creator == "firefox" {
            HarSource::Firefox
        } else {
            HarSource::Other
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            HarSource::Frametap => "frametap",
            HarSource::Chrome => "Chrome DevTools",
            HarSource::Mitmproxy => "mitmproxy",
            HarSource::HttpToolkit => "HTTP Toolkit",
            HarSource::Playwright => "Playwright",
            HarSource::Firefox => "Firefox",
            HarSource::Other => "an unrecognised tool",
        }
    }
}

/// What a Firefox HAR lacks, and where to get a recording that has it.
pub(super) const FIREFOX_LEAVES_OUT: &str =
    "Firefox's HAR export records a WebSocket's handshake only, none of its messages, \
     close code or reason (checked with Firefox 153): to see the conversation, export the HAR from Chrome or Edge \
     DevTools, record it with Playwright's recordHar, or put frametap in front of the page (`frametap proxy`)";

/// The note saying what the tool that saved the HAR leaves out, for this connection.
/// `opened`: the upgrade succeeded (else only the request's missing headers are worth saying).
pub(super) fn missing_note(
    source: HarSource,
    entry: &Entry,
    request_headers: &Headers,
    opened: bool,
    http2_status: Option<u16>,
) -> String {
    let mut message = format!("imported from a HAR saved by {}: ", source.name());
    message.push_str(match source {
        _ if !opened => "the WebSocket never opened, so there are no frames to miss",
        HarSource::Firefox if !entry.messages.is_list() => FIREFOX_LEAVES_OUT,
        _ if entry.close.is_present() => {
            "no ping/pong or close frames and no fragment boundaries (messages are whole); the close code and \
             reason are kept, but not who closed first"
        }
        _ => {
            "no ping/pong or close frames, no close code or reason, and no fragment boundaries (messages are \
             whole): how this connection ended is unknown"
        }
    });
    if let Some(status) = http2_status {
        message.push_str(&format!(
            "; it opened over HTTP/2 or HTTP/3 (a CONNECT answered {status}, RFC 8441): recorded as the 101 an \
             HTTP/1.1 upgrade gets"
        ));
    }
    let sanitised = ["cookie", "authorization"].iter().all(|h| event::header(request_headers, h).is_none());
    if source == HarSource::Chrome && sanitised {
        message.push_str(
            "; no Cookie or Authorization header either (Chrome's default, sanitised export leaves them out: \
             use \"Export HAR (with sensitive data)\" to keep them)",
        );
    }
    message
}
