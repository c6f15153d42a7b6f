//! Redaction of fragmented messages: a secret split across fragments is masked, the fragments stay in place,
//! and neither previews, the diagnosis nor a redacted copy give a piece or the length of it away.

mod common;

use common::redact::*;
use frametap::capture::{read_capture, CaptureWriter};
use frametap::event::{Frame, Opcode, Peer, Record};
use frametap::redact::{Redactor, UUID_PLACEHOLDER_PREFIX};
use serde_json::{json, Value};

/// The live pipeline as `proxy --redact` runs it (with the analysis when `analysed`), capturing to `path`.
fn redacting_pipeline(
    path: &std::path::Path,
    analysed: bool,
) -> (frametap::pipeline::EventSink, frametap::pipeline::Pipeline) {
    use frametap::inspect::{AnalysisOptions, Analyzer};
    use frametap::pipeline::{self, LagPolicy, PipelineOptions};
    let Record::Meta(meta) = meta(&["frametap", "proxy"]) else { unreachable!() };
    pipeline::start(PipelineOptions {
        meta: *meta,
        capture: Some(CaptureWriter::create(path).unwrap()),
        log: None,
        analysis: analysed.then(|| Analyzer::factory(AnalysisOptions::default())),
        redaction: Some(Box::new(Redactor::with_key(b"k"))),
        publishers: vec![],
        on_lag: LagPolicy::Block,
        buffer: 16,
    })
}

/// A text message sent in fragments, split inside its session token, inside a JWT's signature and inside a
/// character, with a server frame between two of its fragments.
fn fragmented_session(bearer_jwt: &str) -> Vec<Record> {
    let message =
        json!({"action":"onMessage","token":SESSION,"message":{"type":"Text","text":"prix 5 €"},"jwt":bearer_jwt})
            .to_string();
    let bytes = message.as_bytes();
    let cut = |needle: &str, into: usize| message.find(needle).unwrap() + into;
    let euro = message.find('€').unwrap() + 1;
    let mut cuts = [cut(SESSION, 10), cut(signature(bearer_jwt), 5), euro];
    cuts.sort_unstable();
    let mut records = vec![meta(&["frametap", "proxy"]), open("/chat", &[], &[])];
    let mut start = 0;
    for (i, end) in cuts.iter().copied().chain([bytes.len()]).enumerate() {
        let opcode = if i == 0 { Opcode::Text } else { Opcode::Continuation };
        let mut fragment = frame(10 + i as u64 * 2, opcode, &bytes[start..end]);
        fragment.fin = end == bytes.len();
        fragment.text_message = true;
        records.push(Record::Frame(fragment));
        if i == 0 {
            let mut server = frame(11, Opcode::Text, br#"{"type":"response","class":"string","code":200,"body":"ok"}"#);
            server.from = Peer::Server;
            server.to = Peer::Client;
            records.push(Record::Frame(server));
        }
        start = end;
    }
    records
}

/// The client's fragments put back together, and how many there were.
fn client_message(records: &[Record]) -> (Vec<u8>, usize) {
    let fragments: Vec<&Frame> = records
        .iter()
        .filter_map(|r| match r {
            Record::Frame(f) if f.from == Peer::Client => Some(f),
            _ => None,
        })
        .collect();
    (fragments.iter().flat_map(|f| f.payload.to_vec()).collect(), fragments.len())
}

#[tokio::test]
async fn a_secret_split_across_fragments_is_masked_and_the_fragments_stay_in_place() {
    let bearer = jwt(json!({"sub":"guest","exp":T0 + 600}));
    let records = fragmented_session(&bearer);
    let original_order: Vec<(u64, Peer)> =
        records.iter().filter_map(|r| if let Record::Frame(f) = r { Some((f.seq, f.from)) } else { None }).collect();
    // `frametap redact` (and convert --redact, UI downloads): the stream API.
    let redacted = Redactor::with_key(b"k").redact_all(records.clone());
    // `proxy --redact`: the pipeline stage, fed one record at a time.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.jsonl");
    {
        let (sink, running) = redacting_pipeline(&path, false);
        for record in records.iter().skip(1) {
            sink.emit(record.clone()).await;
        }
        assert!(running.finish().await.end.complete);
    }
    let live = read_capture(&path).unwrap().records;
    for (how, out) in [("redact", &redacted), ("--redact", &live)] {
        let order: Vec<(u64, Peer)> =
            out.iter().filter_map(|r| if let Record::Frame(f) = r { Some((f.seq, f.from)) } else { None }).collect();
        assert_eq!(order, original_order, "{how}: every frame, in its place");
        let (message, fragments) = client_message(out);
        assert_eq!(fragments, 4, "{how}: the fragments stay fragments");
        let message = String::from_utf8(message).unwrap();
        assert!(!message.contains(SESSION) && !message.contains(signature(&bearer)), "{how}: {message}");
        assert!(message.contains("prix 5 €") && message.contains(UUID_PLACEHOLDER_PREFIX), "{how}: {message}");
        // Nothing of the secrets is left in any record, however it is written (a fragment that splits a
        // character is base64 in a JSON line).
        let lines: String = out.iter().map(line).collect();
        let session_tail = &SESSION[10..];
        assert!(!lines.contains(session_tail), "{how}");
    }
}

/// One connection's records around a client message sent in fragments (`parts`), then the server's close.
fn fragments_then_close(parts: &[&[u8]], with_server_fragments: bool) -> Vec<Record> {
    let mut records = vec![meta(&["frametap", "proxy"]), open("/chat", &[], &[])];
    let mut seq = 0;
    for (i, part) in parts.iter().enumerate() {
        seq += 1;
        let mut fragment = frame(seq, if i == 0 { Opcode::Text } else { Opcode::Continuation }, part);
        fragment.fin = i + 1 == parts.len();
        fragment.text_message = true;
        records.push(Record::Frame(fragment.clone()));
        if with_server_fragments {
            // The server echoes each fragment as it comes: both sides' messages are in flight at once.
            seq += 1;
            fragment.seq = seq;
            fragment.from = Peer::Server;
            fragment.to = Peer::Client;
            records.push(Record::Frame(fragment));
        }
    }
    records
}

/// After [`fragments_then_close`]'s two client fragments: the server's close frame (#3, 1000), then its TCP drop
/// before the client answered.
fn server_closes_then_drops() -> [Record; 2] {
    let mut close = frame(3, Opcode::Close, b"\x03\xe8");
    close.from = Peer::Server;
    close.to = Peer::Client;
    let ended = frametap::event::Close {
        conn: 1,
        ts: ts(T0 + 4),
        initiator: Peer::Server,
        initiator_unknown: false,
        code: Some(1000),
        reason: Some(String::new()),
        clean: false,
        dropped_by: Some(Peer::Server),
        duration_ms: 4000.0,
        detail: None,
    };
    [Record::Frame(close), Record::Close(ended)]
}

#[tokio::test]
async fn a_secret_split_across_fragments_leaks_into_no_preview_of_the_analysis() {
    let head = format!(r#"{{"action":"configureSession","deploymentId":"{DEPLOYMENT}","token":"{}"#, &SESSION[..20]);
    let tail = format!(r#"{}"}}"#, &SESSION[20..]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.jsonl");
    let (sink, running) = redacting_pipeline(&path, true);
    for record in fragments_then_close(&[head.as_bytes(), tail.as_bytes()], false).into_iter().skip(1) {
        sink.emit(record).await;
    }
    for record in server_closes_then_drops() {
        sink.emit(record).await;
    }
    assert!(running.finish().await.end.complete);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(r#""kind":"diagnosis""#), "the analysis ran");
    assert!(!text.contains(&SESSION[20..]), "the fragment's piece of the token is in a preview: {text}");
    // The preview quotes the whole message (not its last fragment), with the whole token masked.
    let diagnosis = text.lines().find(|l| l.contains(r#""kind":"diagnosis""#)).unwrap();
    let preview: Value = serde_json::from_str::<Value>(diagnosis).unwrap()["preceding"]["preview"].clone();
    let preview = preview.as_str().unwrap();
    assert!(preview.starts_with(r#"{"action":"configureSession""#), "{preview}");
    assert!(preview.contains(&format!(r#""token":"{UUID_PLACEHOLDER_PREFIX}"#)), "{preview}");
}

#[test]
fn two_fragmented_messages_in_flight_at_once_are_each_redacted_whole() {
    // Each message is about 600 KB (under the 1 MiB a message is redacted whole up to), both in flight at once.
    let head = format!(r#"{{"filler":"{}","token":"{}"#, "x".repeat(600_000), &SESSION[..12]);
    let tail = format!(r#"{}"}}"#, &SESSION[12..]);
    let redacted = Redactor::with_key(b"k").redact_all(fragments_then_close(&[head.as_bytes(), tail.as_bytes()], true));
    let lines: String = redacted.iter().map(line).collect();
    assert!(!lines.contains(&SESSION[12..]), "the token's tail survived");
}

#[test]
fn the_end_record_stays_last_when_a_connection_ended_mid_message() {
    let head = format!(r#"{{"token":"{}"#, &SESSION[..12]);
    let mut records = fragments_then_close(&[head.as_bytes(), b"never finished"], false);
    if let Some(Record::Frame(last)) = records.last_mut() {
        last.fin = false;
    }
    records.push(Record::End(frametap::event::End::counting(records.iter().map(Record::kind), ts(T0 + 9), 0, vec![])));
    let redacted = Redactor::with_key(b"k").redact_all(records.clone());
    assert_eq!(redacted.len(), records.len());
    assert!(matches!(redacted.last(), Some(Record::End(_))), "{:?}", redacted.last());
}

/// `proxy --redact` with the analysis on, in process, in front of a real echo server: a client sends `text`, gets
/// its echo and closes. Returns the capture (complete) and its path.
async fn echoed_through_a_redacting_proxy(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    use frametap::inspect::{AnalysisOptions, Analyzer};
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    let upstream = common::start_echo_server().await;
    let path = dir.join("redacted.jsonl");
    let mut options = common::capture_only(CaptureWriter::create(&path).unwrap());
    options.analysis = Some(Analyzer::factory(AnalysisOptions::default()));
    options.redaction = Some(Box::new(Redactor::new()));
    let (addr, stop, task) = common::serve_in_process(options, common::test_config(&format!("ws://{upstream}"))).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/chat")).await.unwrap();
    ws.send(Message::text(text)).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text(text), "the echo");
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    stop.send(()).unwrap();
    assert!(task.await.unwrap().end.complete);
    path
}

/// `proxy --redact` in front of a real echo server: the client sends its session token, then a text quoting it
/// so far in that the diagnosis's previews (cut at 160 characters) stop inside it.
#[tokio::test]
async fn a_preview_cut_inside_a_secret_keeps_no_piece_of_it() {
    let dir = tempfile::tempdir().unwrap();
    // `{"token":"<36>","text":"` is 56 characters: the preview's cut falls 11 characters into the quoted token.
    let text = format!(r#"{{"token":"{SESSION}","text":"{}{SESSION} is my token"}}"#, "x".repeat(160 - 56 - 11));
    let path = echoed_through_a_redacting_proxy(dir.path(), &text).await;
    let capture = std::fs::read_to_string(&path).unwrap();
    let diagnosis: Value =
        serde_json::from_str(capture.lines().find(|l| l.contains(r#""kind":"diagnosis""#)).unwrap()).unwrap();
    for side in ["preceding", "other_side_last"] {
        let preview = diagnosis[side]["preview"].as_str().unwrap();
        assert!(preview.ends_with(&format!("{}…", &UUID_PLACEHOLDER_PREFIX[..11])), "{side}: {preview}");
    }
    assert!(!capture.contains(&SESSION[..11]), "the start of the token is in the capture: {capture}");
}

/// Under `proxy --redact` a diagnosis gives the lengths of the frames as the capture holds them: a frame whose
/// secret was replaced by a placeholder of another length has its redacted length in the frame record, and the
/// diagnosis says the same, so its `len` and `preview` (and the frame record beside them) never give away how long
/// the secret was; the diagnosis is the one `inspect` computes on the redacted capture.
#[tokio::test]
async fn under_redact_the_diagnosis_gives_the_lengths_of_the_frames_as_written() {
    use frametap::inspect::{AnalysisOptions, Analyzer};
    let dir = tempfile::tempdir().unwrap();
    let secret = "correct-horse-battery-staple";
    let sent = json!({"user":"guest","password":secret}).to_string();
    let path = echoed_through_a_redacting_proxy(dir.path(), &sent).await;
    let capture = read_capture(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(secret), "{text}");
    let diagnosis = capture
        .records
        .iter()
        .find_map(|r| if let Record::Diagnosis(d) = r { Some(d.clone()) } else { None })
        .expect("the analysis ran");
    for side in ["preceding", "other_side_last"] {
        let quoted = &diagnosis.details[side];
        let seq = quoted["seq"].as_u64().unwrap();
        let frame = capture
            .records
            .iter()
            .find_map(|r| match r {
                Record::Frame(f) if f.seq == seq => Some(f),
                _ => None,
            })
            .unwrap();
        let written = frame.text().unwrap();
        assert!(written.contains(r#""password":"redacted-"#), "{side}: {written}");
        assert_ne!(written.len(), sent.len(), "the placeholder is not as long as the secret");
        assert_eq!(frame.len, written.len() as u64, "{side}: the frame record has its redacted length");
        assert_eq!(quoted["len"], frame.len, "{side}: the diagnosis gives the length as written: {quoted}");
        assert_eq!(quoted["preview"], written, "{side}: {quoted}");
    }
    assert!(
        !serde_json::to_string(&diagnosis.details).unwrap().contains(&format!(r#""len":{}"#, sent.len())),
        "{:?}",
        diagnosis.details
    );
    // What `inspect` derives from the redacted capture is what was written.
    let mut analyzer = Analyzer::new(AnalysisOptions::default());
    let recomputed = capture
        .records
        .iter()
        .flat_map(|r| analyzer.observe(r, r.ts()))
        .find_map(|r| if let Record::Diagnosis(d) = r { Some(d) } else { None })
        .unwrap();
    assert_eq!(recomputed.details, diagnosis.details);
}

/// `frametap redact` on a capture with a diagnosis: a fragmented message whose last fragment lost a secret's
/// length is quoted with its fragment's and its message's redacted lengths.
#[test]
fn a_redacted_copy_gives_a_fragmented_message_its_redacted_lengths() {
    let head = r#"{"user":"guest","password":"correct-horse-"#;
    let tail = r#"battery-staple"}"#;
    let mut records = fragments_then_close(&[head.as_bytes(), tail.as_bytes()], false);
    records.extend(server_closes_then_drops());
    let original: Vec<Record> = frametap::inspect::Analysed::new(records).collect();
    let redacted = Redactor::with_key(b"k").redact_all(original);
    let fragments: Vec<&Frame> = redacted
        .iter()
        .filter_map(|r| match r {
            Record::Frame(f) if f.from == Peer::Client => Some(f),
            _ => None,
        })
        .collect();
    let message: Vec<u8> = fragments.iter().flat_map(|f| f.payload.to_vec()).collect();
    assert!(String::from_utf8_lossy(&message).contains(r#""password":"redacted-"#));
    let diagnosis = redacted.iter().find_map(|r| if let Record::Diagnosis(d) = r { Some(d) } else { None }).unwrap();
    let preceding = &diagnosis.details["preceding"];
    assert_eq!(preceding["seq"], 2);
    assert_eq!(preceding["len"], fragments[1].len, "{preceding}");
    assert_eq!(preceding["message"]["len"], message.len(), "{preceding}");
    assert_ne!(message.len(), head.len() + tail.len());
    assert_eq!(preceding["preview"], String::from_utf8(message).unwrap());
}
