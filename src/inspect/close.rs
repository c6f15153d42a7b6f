//! Close analysis: who ended a connection, the frame that preceded it, and the likely causes (docs/diagnosis.md).

use super::analyzer::{ConnHistory, FrameFacts, MessageFacts};
use super::codes::{close_code_meaning, close_code_name};
use super::{announced, causes, expiry, rejected, violations};
use crate::event::{Close, Diagnosis, Open, Peer, Ts};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// A close within this long after a client frame is read as possibly answering it.
pub const SOON_MS: f64 = 10_000.0;
/// Below this upstream round trip, timing cannot tell a reply from a close that crossed a frame in flight
/// (server processing time dominates on loopback and LANs).
pub const MIN_RESOLVABLE_RTT_MS: f64 = 5.0;
/// A client close this soon after a server frame, with no data frame sent in between, can be the client's
/// reaction to that frame: a program reacts within milliseconds, and a second leaves room for a busy page.
/// Later, a person or the client's own logic chose the moment.
pub const REACTION_MS: f64 = 1_000.0;
/// No data frame for this long before the close reads as an idle connection.
pub const IDLE_MS: f64 = 60_000.0;
/// How many characters of a payload a preview keeps.
pub const PREVIEW_CHARS: usize = 160;

/// How sure a cause is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// A fact read off the frames (who closed, a TCP drop).
    Certain,
    /// Strong evidence, but the server's reasoning is not visible.
    Likely,
    /// Fits the evidence; other explanations remain.
    Possible,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Certain => "certain",
            Confidence::Likely => "likely",
            Confidence::Possible => "possible",
        }
    }
}

/// One likely cause of a close, with its evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cause {
    /// A stable identifier (`in-response`, `token-expired`, …); see docs/diagnosis.md.
    pub rule: String,
    pub confidence: Confidence,
    pub message: String,
    pub evidence: Vec<String>,
    /// The frame it points at, when it points at one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

pub(crate) fn cause(
    rule: &str,
    confidence: Confidence,
    message: String,
    evidence: Vec<String>,
    seq: Option<u64>,
) -> Cause {
    Cause { rule: rule.into(), confidence, message, evidence, seq }
}

/// A payload shortened for one line: text up to [`PREVIEW_CHARS`], binary as its size and first bytes, an empty one
/// as `<0 bytes: empty>`. For a fragment of a fragmented message, the start of the message (its fragments up to this
/// one).
pub fn preview(facts: &FrameFacts) -> String {
    if facts.shown_len() == 0 {
        // Said, not left blank: a blank line reads as a preview that went missing.
        return "<0 bytes: empty>".to_owned();
    }
    if facts.text {
        if let Some((text, split)) = text_head(facts) {
            let flat = one_line(text);
            let cut = split || (facts.head.len() as u64) < facts.shown_len();
            return match flat.char_indices().nth(PREVIEW_CHARS) {
                Some((at, _)) => format!("{}…", &flat[..at]),
                None if cut => format!("{flat}…"),
                None => flat,
            };
        }
    }
    let head: String = facts.head.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let more = if facts.shown_len() > 16 { "…" } else { "" };
    format!("<{} bytes: {head}{more}>", facts.shown_len())
}

/// Text as sent, on one line: each control character (a newline, a tab) and the whitespace after it become
/// one space, so a pretty-printed JSON frame reads like compact JSON without being re-serialised. A
/// bidirectional override, embedding or isolate is shown escaped (`\u{202e}`): left in, it would reorder the
/// rest of the terminal line (or of a report) on screen, so what is read is not what was sent.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_control = false;
    for c in text.chars() {
        if reorders_text(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
            after_control = false;
        } else if c.is_control() {
            if !after_control && !out.ends_with(' ') {
                out.push(' ');
            }
            after_control = true;
        } else if !(after_control && c.is_whitespace()) {
            out.push(c);
            after_control = false;
        }
    }
    out
}

/// The bidirectional-text controls that reorder what follows them until their end (U+202A–U+202E embeddings
/// and overrides, U+2066–U+2069 isolates): the characters of "Trojan Source".
fn reorders_text(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The kept head of a text payload as text, and whether a character it ends inside was left off: a head kept short
/// of the payload, or a message with more fragments to come, may end inside a character.
fn text_head(facts: &FrameFacts) -> Option<(&str, bool)> {
    let may_end_inside = (facts.head.len() as u64) < facts.shown_len() || (facts.message.is_some() && !facts.fin);
    crate::event::text_up_to_a_cut(&facts.head, may_end_inside)
}

/// Whether a close `gap` ms after a client frame came within one measured upstream round trip of it: then it was
/// sent before that frame reached the server (`crossed-in-flight`). Below [`MIN_RESOLVABLE_RTT_MS`] timing cannot
/// tell, and this is false.
pub(crate) fn crossed_in_flight(rtt: Option<super::analyzer::UpstreamRtt>, gap: f64) -> bool {
    rtt.is_some_and(|rtt| rtt.ms >= MIN_RESOLVABLE_RTT_MS && gap <= rtt.ms)
}

pub(crate) fn ms_between(later: Ts, earlier: Ts) -> f64 {
    (later.secs_since(earlier) * 1000.0 * 10.0).round() / 10.0
}

fn frame_json(facts: &FrameFacts, close_at: Ts) -> Value {
    let mut frame = json!({
        "seq": facts.seq,
        "from": facts.from.as_str(),
        "opcode": facts.opcode.name(),
        "len": facts.len,
        "preview": preview(facts),
        "gap_ms": ms_between(close_at, facts.ts),
    });
    if let Some(message) = facts.message {
        frame["message"] = json!({
            "first_seq": message.first_seq,
            "fragments": message.fragments,
            "len": message.len,
            "complete": facts.fin,
        });
    }
    frame
}

/// How a fragment stands in its message, in words: `the last of 3 fragments of a 120 B message from #4` when
/// it ended the message (`complete`), else `fragment 2 of a message from #4 that had not ended (80 B so far)`.
pub fn fragment_words(message: &MessageFacts, complete: bool) -> String {
    if complete {
        format!(
            "the last of {} fragments of a {} B message from #{}",
            message.fragments, message.len, message.first_seq
        )
    } else {
        format!(
            "fragment {} of a message from #{} that had not ended ({} B so far)",
            message.fragments, message.first_seq, message.len
        )
    }
}

pub(crate) fn human_ms(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 120_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms < 7_200_000.0 {
        format!("{:.1} min", ms / 60_000.0)
    } else if ms < 172_800_000.0 {
        format!("{:.1} h", ms / 3_600_000.0)
    } else {
        format!("{:.0} days", ms / 86_400_000.0)
    }
}

pub(crate) fn utc(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0).map(|t| t.to_rfc3339()).unwrap_or_else(|| epoch.to_string())
}

/// The code part of a diagnosis: `1000 Normal Closure: …`, or what the absence of a code means, given the
/// payload length of the first close frame (`None`: there was none).
pub fn describe_code(code: Option<u16>, close_frame_len: Option<u64>) -> String {
    match (code, close_frame_len) {
        (Some(code), _) => format!("{code} {}: {}", close_code_name(code), close_code_meaning(code)),
        (None, Some(0)) => "no code (an empty close frame; read as 1005 No Status Received)".into(),
        (None, Some(len)) => format!(
            "no code: the close frame's payload is malformed ({len} byte{}; RFC 6455 allows none, or a 2-byte code and a UTF-8 reason)",
            if len == 1 { "" } else { "s" }
        ),
        (None, None) => "no close frame: the TCP connection ended (browsers report 1006 Abnormal Closure)".into(),
    }
}

/// Builds the `diagnosis` record for a connection that just closed. `mode` is the session's (`meta.mode`): in an
/// `import` the close is what the recording tool wrote down, not what frametap's relay saw.
pub fn diagnose(history: &ConnHistory, close: &Close, mode: &str) -> Diagnosis {
    let close_at = history.first_close.as_ref().map(|c| c.ts).unwrap_or(close.ts);
    let preceding = history.preceding();
    let other_side_last = preceding.and_then(|p| history.last_from(p.from.other()));
    let mut found = Vec::new();
    let mut ruled_out = Vec::new();

    causes::who_closed(history, close, mode == "import", &mut found);
    violations::handshake_mismatch(history, close, &mut found);
    rejected::upgrade_rejected(history, close, &mut found);
    violations::rfc6455_violations(history, close, &mut found);
    announced::announced(history, close, close_at, &mut found);
    causes::rate_limited(history, close, close_at, &mut found);
    causes::client_frame_rules(history, close, close_at, &mut found);
    let closed_at_seq = history.first_close.as_ref().map(|c| c.seq);
    expiry::token_rules(history, closed_at_seq, close, close_at, &mut found, &mut ruled_out);
    causes::idle(history, close, close_at, &mut found);
    super::close_code::close_code(history, close, &mut found);
    found.extend(history.profile.close_causes());
    // How the connection ended after someone closed it is a fact, but not a reason: list it last.
    found.sort_by_key(|c| (c.rule == "close-unanswered", c.confidence));

    let mut details = Map::new();
    details.insert("initiator".into(), json!(close.closer_name()));
    details.insert("code".into(), json!(close.code));
    details.insert("code_name".into(), json!(close.code.map(close_code_name)));
    details
        .insert("code_meaning".into(), json!(describe_code(close.code, history.first_close.as_ref().map(|c| c.len))));
    details.insert("reason".into(), json!(close.reason));
    details.insert("clean".into(), json!(close.clean));
    details.insert("how".into(), json!(close.how()));
    if let Some(dropper) = close.dropped_by {
        details.insert("dropped_by".into(), json!(dropper.as_str()));
    }
    details.insert("detail".into(), json!(close.detail));
    details.insert("duration_ms".into(), json!(close.duration_ms));
    details.insert("handshake_ms".into(), json!(history.handshake_ms));
    details.insert("upstream_rtt_ms".into(), json!(history.upstream_rtt.map(|rtt| rtt.ms)));
    details.insert("upstream_rtt_source".into(), json!(history.upstream_rtt.map(|rtt| rtt.source.name())));
    details.insert("close_seq".into(), json!(history.first_close.as_ref().map(|c| c.seq)));
    details.insert("profile".into(), json!(history.profile.name()));
    details.insert("preceding".into(), preceding.map(|p| frame_json(p, close_at)).unwrap_or(Value::Null));
    details.insert("other_side_last".into(), other_side_last.map(|p| frame_json(p, close_at)).unwrap_or(Value::Null));
    details.insert("summary".into(), json!(summary(close, preceding, &found)));
    details.insert("causes".into(), serde_json::to_value(&found).unwrap_or_default());
    details.insert("ruled_out".into(), Value::Array(ruled_out));
    details.insert("findings".into(), serde_json::to_value(&history.findings).unwrap_or_default());
    if history.findings_omitted > 0 {
        details.insert("findings_omitted".into(), json!(history.findings_omitted));
    }
    Diagnosis { conn: close.conn, ts: close.ts, details }
}

/// Builds the `diagnosis` record of a connection whose WebSocket never opened (refused upgrade, unreachable
/// upstream). The relay writes no `close` record for those, so this is derived from the `open` (and written
/// after the notes about its handshake: `pipeline::DerivedOrder`).
/// `mode` is the session's: in `replay-send` frametap itself was the client, so no 502 went to anyone; in an
/// `import` the recording tool, not frametap, saw the failure.
pub fn diagnose_refused(history: &ConnHistory, open: &Open, mode: &str) -> Diagnosis {
    let refused = history.refused.clone().unwrap_or_default();
    let status = open.response.as_ref().map(|r| r.status);
    let initiator = if open.error.is_some() { Peer::Proxy } else { Peer::Server };
    let mut found = vec![cause(
        "upgrade-refused",
        Confidence::Certain,
        format!("the WebSocket never opened: {refused}"),
        Vec::new(),
        None,
    )];
    if let Some(body) = open.response.as_ref().and_then(|r| r.readable_body()).filter(|b| !b.trim().is_empty()) {
        found[0].evidence.push(upstream_said(&body));
    }
    if let Some(evidence) = cookies_withheld(history, open) {
        found[0].evidence.push(evidence);
    }
    match &open.error {
        Some(error) if mode == "replay-send" => found[0].evidence.push(format!("frametap could not open it: {error}")),
        Some(error) if mode == "import" => found[0].evidence.push(format!("the recording says it failed: {error}")),
        Some(error) => found[0].evidence.push(format!("frametap answered the client with 502: {error}")),
        None => {}
    }
    found.extend(history.profile.close_causes());
    found.sort_by_key(|c| c.confidence);
    let mut details = Map::new();
    details.insert("initiator".into(), json!(initiator.as_str()));
    details.insert("opened".into(), json!(false));
    details.insert("status".into(), json!(status));
    details.insert("code".into(), Value::Null);
    details.insert("code_name".into(), Value::Null);
    details.insert("code_meaning".into(), json!(format!("no WebSocket: {refused}")));
    details.insert("reason".into(), Value::Null);
    details.insert("clean".into(), json!(true));
    details.insert("detail".into(), json!(refused));
    details.insert("duration_ms".into(), json!(open.failed_ms.or(open.handshake_ms).unwrap_or(0.0)));
    details.insert("handshake_ms".into(), json!(history.handshake_ms));
    details.insert("upstream_rtt_ms".into(), json!(history.upstream_rtt.map(|rtt| rtt.ms)));
    details.insert("upstream_rtt_source".into(), json!(history.upstream_rtt.map(|rtt| rtt.source.name())));
    details.insert("close_seq".into(), Value::Null);
    details.insert("profile".into(), json!(history.profile.name()));
    details.insert("preceding".into(), Value::Null);
    details.insert("other_side_last".into(), Value::Null);
    details.insert("summary".into(), json!(format!("the WebSocket never opened: {refused}")));
    details.insert("causes".into(), serde_json::to_value(&found).unwrap_or_default());
    details.insert("ruled_out".into(), json!([]));
    details.insert("findings".into(), serde_json::to_value(&history.findings).unwrap_or_default());
    Diagnosis { conn: open.conn, ts: open.failed_at().unwrap_or(open.ts), details }
}

/// The refused upgrade's body as evidence: on one line, cut at the log's length (an upstream's error page can be a
/// megabyte of HTML), saying so and how long it was; the `open` record keeps it whole.
fn upstream_said(body: &str) -> String {
    let body = body.trim();
    let shown = crate::log::one_line_cut(body);
    if one_line(body).chars().count() <= crate::log::LONG_TEXT_CHARS {
        return format!("the upstream said: {shown}");
    }
    format!(
        "the upstream said: {shown} (cut at {} of its {} characters; the open record's response body has it all)",
        crate::log::LONG_TEXT_CHARS,
        body.chars().count()
    )
}

/// For a 401 or 403 from an upstream that is not the Guest API (which uses no cookies): that the client sent
/// cookies frametap did not forward, if it did, since an upstream that authenticates the upgrade by cookie
/// refuses it then.
fn cookies_withheld(history: &ConnHistory, open: &Open) -> Option<String> {
    let status = open.response.as_ref()?.status;
    if !matches!(status, 401 | 403) || history.profile.name() == "genesys" {
        return None;
    }
    let sent_upstream = &open.upstream_request.as_ref()?.headers;
    let cookies = open.request.headers.iter().filter(|(name, _)| name.eq_ignore_ascii_case("cookie")).count();
    (cookies > 0 && crate::event::header(sent_upstream, "cookie").is_none()).then(|| {
        format!(
            "the client sent {} that frametap did not forward (it drops them unless --forward-cookies): if this upstream authenticates the upgrade with a cookie, that is why it refused",
            crate::words::count(cookies as u64, "Cookie header")
        )
    })
}

/// The diagnosis in one line: who closed how, after which frame, then what explains it. A likely cause leads when
/// there is one; otherwise what is certain leads (who closed, how TCP ended: `close-unanswered` only when nothing
/// else is certain), then the first possible cause and how many more there are, so a guess never reads as the
/// headline over a fact.
fn summary(close: &Close, preceding: Option<&FrameFacts>, causes: &[Cause]) -> String {
    let how = match (close.closer(), close.code, close.clean) {
        (None, Some(code), _) => {
            format!("closed with {code} {} (the recording does not say by whom)", close_code_name(code))
        }
        (None, None, _) => format!("{} (the recording does not say by whom)", close.how()),
        (Some(closer), Some(code), _) => format!("{} closed with {code} {}", closer.as_str(), close_code_name(code)),
        (Some(closer), None, true) => format!("{} closed without a code", closer.as_str()),
        (Some(closer), None, false) => format!("{} {}", closer.as_str(), close.how()),
    };
    let after = preceding.map(|p| format!(" after {} frame #{}", p.from.as_str(), p.seq)).unwrap_or_default();
    let said = |c: &Cause| format!("{}: {}", c.confidence.as_str(), c.message);
    if let Some(likely) = causes.iter().find(|c| c.confidence == Confidence::Likely) {
        return format!("{how}{after}; {}", said(likely));
    }
    let certain = causes.iter().filter(|c| c.confidence == Confidence::Certain);
    let lead = certain.clone().find(|c| c.rule != "close-unanswered").or(certain.clone().next());
    let possible: Vec<&Cause> = causes.iter().filter(|c| c.confidence == Confidence::Possible).collect();
    let mut parts: Vec<String> = lead.into_iter().map(said).collect();
    if let Some(first) = possible.first() {
        let more = match possible.len() - 1 {
            0 => String::new(),
            n => format!(" (and {})", crate::words::count(n as u64, "more possible cause")),
        };
        parts.push(format!("{}{more}", said(first)));
    }
    if parts.is_empty() {
        return format!("{how}{after}; no rule explains it");
    }
    format!("{how}{after}; {}", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Frame, Opcode, Peer, Record};
    use crate::inspect::{AnalysisOptions, Analyzer};

    /// The preview of the preceding frame in the diagnosis of a connection whose only data frame is `payload`.
    fn preview_of(opcode: Opcode, payload: &[u8]) -> String {
        let mut analyzer = Analyzer::new(AnalysisOptions::default());
        let frame = Frame::whole(1, Ts::now(), 1, Peer::Client, opcode, bytes::Bytes::copy_from_slice(payload));
        analyzer.observe(&Record::Frame(frame), Ts::now());
        let history = analyzer.history_of(1).unwrap();
        preview(history.preceding().unwrap())
    }

    #[test]
    fn text_that_would_reorder_the_line_on_screen_is_shown_escaped() {
        // An override (U+202E) and an isolate (U+2066) are escaped; letters of a right-to-left script are not.
        assert_eq!(one_line("ok \u{202e}txt.exe\u{2066}x"), "ok \\u{202e}txt.exe\\u{2066}x");
        assert_eq!(one_line("שלום, world"), "שלום, world");
        assert_eq!(preview_of(Opcode::Text, "{\"text\":\"\u{202e}abc\"}".as_bytes()), "{\"text\":\"\\u{202e}abc\"}");
    }

    #[test]
    fn the_preview_is_cut_at_160_characters_even_when_only_the_head_of_the_payload_is_kept() {
        assert_eq!(preview_of(Opcode::Text, b"{\"a\":\n1}"), "{\"a\": 1}");
        let long = "é".repeat(5000);
        assert_eq!(preview_of(Opcode::Text, long.as_bytes()), format!("{}…", "é".repeat(PREVIEW_CHARS)));
        // Four-byte characters: the head ends exactly after 161 of them.
        let wide = "😀".repeat(400);
        assert_eq!(preview_of(Opcode::Text, wide.as_bytes()), format!("{}…", "😀".repeat(PREVIEW_CHARS)));
        // Cut inside a character: the head's text stops before it.
        let odd = format!("{}{}", "a".repeat(super::super::analyzer::PAYLOAD_HEAD - 1), "é".repeat(10));
        assert_eq!(preview_of(Opcode::Text, odd.as_bytes()), format!("{}…", "a".repeat(PREVIEW_CHARS)));
        assert_eq!(preview_of(Opcode::Text, &[0xff, b'a']), "<2 bytes: ff61>");
        let binary = vec![7u8; 70_000];
        assert_eq!(preview_of(Opcode::Binary, &binary), format!("<70000 bytes: {}…>", "07".repeat(16)));
        assert_eq!(preview_of(Opcode::Text, b""), "<0 bytes: empty>", "said, not a blank line");
        assert_eq!(preview_of(Opcode::Binary, b""), "<0 bytes: empty>");
    }

    #[test]
    fn a_message_whose_fragments_so_far_end_inside_a_character_previews_as_text() {
        let mut analyzer = Analyzer::new(AnalysisOptions::default());
        let mut first =
            Frame::whole(1, Ts::now(), 1, Peer::Client, Opcode::Text, bytes::Bytes::from_static(b"caf\xc3"));
        first.fin = false;
        analyzer.observe(&Record::Frame(first), Ts::now());
        assert_eq!(preview(analyzer.history_of(1).unwrap().preceding().unwrap()), "caf…");
        let mut last =
            Frame::whole(1, Ts::now(), 2, Peer::Client, Opcode::Continuation, bytes::Bytes::from_static(b"\xa9!"));
        last.text_message = true;
        analyzer.observe(&Record::Frame(last), Ts::now());
        assert_eq!(preview(analyzer.history_of(1).unwrap().preceding().unwrap()), "café!");
    }
}
