//! `replay serve` and `replay send` against real sockets: a session captured through the proxy is served to a
//! raw WebSocket client and sent to a live upstream, frame for frame, at fast and original pace.

mod common;
#[path = "replay_support/mod.rs"]
mod support;

use common::raw::{self, RawWs};
use frametap::capture::{read_capture, CaptureWriter};
use frametap::event::{Opcode, Peer, Record};
use frametap::replay::send::send;
use frametap::replay::serve::{serve, Front, ServeOptions};
use frametap::replay::{Pace, PlayOptions, PlayReport, Script};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

const TOKEN: &str = "a3c1d1e2-77b4-4c0b-bb0c-91f5a4e0d2c7";
/// The upstream's think time before its first answer: what `original` pace must keep and `fast` must skip.
const THINK: Duration = Duration::from_millis(300);
/// Session ids the test upstreams hand out: unique across upstreams, so a replay never gets the recorded one.
static SESSIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// What the client saw: the server's frames, and how long the first answer took.
struct ClientRun {
    server_frames: Vec<Seen>,
    first_answer: Duration,
}

/// The recorded conversation, played by a client that sends the same frames whatever it receives.
async fn run_client(addr: SocketAddr, frames: &ClientFrames) -> ClientRun {
    let mut ws = connect(addr, "/v1?deploymentId=6c1b2f0e").await;
    let mut server_frames = Vec::new();
    let sent = Instant::now();
    ws.send(true, Opcode::Text, frames.configure.as_bytes()).await;
    let first = read(&mut ws).await.unwrap();
    let first_answer = sent.elapsed();
    server_frames.push(first);
    while server_frames.last().unwrap().0 != Opcode::Binary {
        let frame = read(&mut ws).await.unwrap();
        if frame.0 == Opcode::Ping {
            ws.send(true, Opcode::Pong, &frame.2).await;
        }
        server_frames.push(frame);
    }
    ws.send(true, Opcode::Text, frames.message.as_bytes()).await;
    let close = read(&mut ws).await.unwrap();
    assert_eq!(close.0, Opcode::Close);
    ws.send(true, Opcode::Close, &close.2).await;
    server_frames.push(close);
    assert_eq!(read(&mut ws).await, None, "the server ends TCP after the close handshake");
    ClientRun { server_frames, first_answer }
}

struct ClientFrames {
    configure: String,
    message: String,
}

fn client_frames(token: &str) -> ClientFrames {
    ClientFrames {
        configure: format!(r#"{{"action":"configureSession","deploymentId":"6c1b2f0e","token":"{token}"}}"#),
        message: format!(r#"{{"action":"onMessage","token":"{token}","message":{{"type":"Text","text":"hi"}}}}"#),
    }
}

/// A live upstream: answers after [`THINK`] with a session id that changes every time, a fragmented text message
/// with a ping between its fragments, a binary frame, then closes with 4000 after the client's next message.
/// Every client frame it receives goes to the returned channel.
async fn upstream() -> (SocketAddr, mpsc::UnboundedReceiver<Vec<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let session = SESSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            let (head, rest) = raw::read_head(&mut stream).await;
            let accept = raw::accept_for(&head);
            let answer = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: genesys\r\nX-Upstream-Head: {}\r\n\r\n",
                if head.contains("Authorization") || head.contains("authorization") { "auth" } else { "no-auth" }
            );
            stream.write_all(answer.as_bytes()).await.unwrap();
            let mut ws = RawWs::new(stream, rest, false);
            let mut got = Vec::new();
            got.push(read(&mut ws).await.unwrap());
            tokio::time::sleep(THINK).await;
            let answer = format!(
                r#"{{"type":"response","class":"SessionResponse","code":200,"body":{{"connected":true,"id":"s{session}"}}}}"#
            );
            ws.send(true, Opcode::Text, answer.as_bytes()).await;
            ws.send(false, Opcode::Text, "{\"type\":\"message\",\"body\":\"caf".as_bytes()).await;
            ws.send(true, Opcode::Ping, b"are you there").await;
            ws.send(true, Opcode::Continuation, "\u{e9}\"}".as_bytes()).await;
            ws.send(true, Opcode::Binary, &[0, 1, 2, 255]).await;
            while got.last().map(|f| f.0) != Some(Opcode::Text) || got.len() < 2 {
                got.push(read(&mut ws).await.unwrap());
            }
            ws.send(true, Opcode::Close, b"\x0f\xa0session over").await;
            got.push(read(&mut ws).await.unwrap());
            ws.stream.shutdown().await.unwrap();
            let _ = tx.send(got);
        }
    });
    (addr, rx)
}

/// Records one session through the real proxy; returns the capture and what the client saw.
async fn record_through_proxy(dir: &Path) -> (PathBuf, ClientRun) {
    let (upstream_addr, mut received) = upstream().await;
    let path = dir.join("recorded.jsonl");
    let session = session_to(&path, "proxy").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = common::test_config(&format!("ws://{upstream_addr}"));
    config.public_url = format!("ws://{addr}");
    let (stop, stopped) = oneshot::channel::<()>();
    let proxy = tokio::spawn(frametap::proxy::serve(listener, config, session.sink.clone(), async {
        let _ = stopped.await;
    }));
    let run = run_client(addr, &client_frames(TOKEN)).await;
    received.recv().await.unwrap();
    stop.send(()).unwrap();
    proxy.await.unwrap().unwrap();
    session.finish().await;
    (path, run)
}

/// Serves `capture` and runs the client against it; returns what the client saw and the server's report.
async fn serve_and_run(capture: &Path, pace: Pace, frames: &ClientFrames, out: &Path) -> (ClientRun, PlayReport) {
    let script = Script::load(capture, None, false).unwrap();
    let session = session_to(out, "replay-serve").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (report_tx, mut reports) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let options = ServeOptions { play: play_options(pace), handshake_timeout: SHORT };
    let server = tokio::spawn(serve(
        listener,
        Front::Plain,
        script,
        options,
        session.sink.clone(),
        async {
            let _ = stopped.await;
        },
        Some(report_tx),
    ));
    let run = run_client(addr, frames).await;
    let report = reports.recv().await.unwrap().played().expect("a played connection");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    session.finish().await;
    (run, report)
}

fn server_frames_in(capture: &Path) -> Vec<Seen> {
    read_capture(capture)
        .unwrap()
        .records
        .into_iter()
        .filter_map(|r| match r {
            Record::Frame(f) if f.from == Peer::Server => Some((f.opcode, f.fin, f.payload.to_vec())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn served_replay_gives_a_real_client_the_recorded_frames_and_close() {
    let dir = tempfile::tempdir().unwrap();
    let (recorded, original) = record_through_proxy(dir.path()).await;
    assert_eq!(original.server_frames.len(), 6, "answer, fragment, ping, continuation, binary, close");
    assert!(original.first_answer >= THINK);
    for (pace, name) in [(Pace::Fast, "fast"), (Pace::Original, "original")] {
        let out = dir.path().join(format!("served-{name}.jsonl"));
        let (run, report) = serve_and_run(&recorded, pace, &client_frames(TOKEN), &out).await;
        assert_eq!(run.server_frames, original.server_frames, "{name}: identical server frames and close");
        assert_eq!(run.server_frames.last().unwrap().2, b"\x0f\xa0session over");
        assert!(report.divergences.is_empty(), "{name}: {:?}", report.divergences);
        assert_eq!((report.close.code, report.close.clean, report.close.initiator), (Some(4000), true, Peer::Server));
        match pace {
            Pace::Original => assert!(run.first_answer >= THINK - Duration::from_millis(20), "{:?}", run.first_answer),
            _ => assert!(run.first_answer < THINK / 2, "fast waits only for the client: {:?}", run.first_answer),
        }
        let replayed = read_capture(&out).unwrap();
        assert!(replayed.has_end);
        assert_eq!(server_frames_in(&out), original.server_frames, "{name}: the served session is captured");
        assert!(replayed.records.iter().any(|r| matches!(r, Record::Close(c) if c.code == Some(4000))));
        assert!(
            replayed.records.iter().any(|r| matches!(r, Record::Diagnosis(d) if d.conn == 1)),
            "{name}: the served session is diagnosed like a proxied one"
        );
    }
}

#[tokio::test]
async fn served_replay_reports_a_client_frame_that_differs_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (recorded, original) = record_through_proxy(dir.path()).await;
    let out = dir.path().join("served.jsonl");
    let (run, report) = serve_and_run(&recorded, Pace::Fast, &client_frames("another-token"), &out).await;
    assert_eq!(run.server_frames, original.server_frames, "the replay went on");
    assert_eq!(report.divergences.len(), 2, "{:?}", report.divergences);
    assert!(
        report.divergences[0].contains(r#"$.token is "another-token", recorded: "a3c1d1e2"#),
        "{:?}",
        report.divergences
    );
    let notes = read_capture(&out)
        .unwrap()
        .records
        .iter()
        .filter(|r| matches!(r, Record::Note(n) if n.code == "replay-divergence"))
        .count();
    assert_eq!(notes, 2, "divergences are notes in the replay's capture");
}

/// A client sends "go" and reads `count` text frames from a `replay serve` at `pace`; returns how long the frames
/// took from the first to the last.
async fn time_a_served_burst(dir: &Path, count: usize, pace: Pace) -> Duration {
    let texts: Vec<String> = (0..count).map(|i| format!("tick {i}")).collect();
    let mut messages = vec![(Peer::Client, "go")];
    messages.extend(texts.iter().map(|t| (Peer::Server, t.as_str())));
    let capture =
        conversation_capture(dir, &format!("burst-{pace}.jsonl"), "ws://example.com/feed", 101, &messages, None);
    let out = dir.join(format!("served-{pace}.jsonl"));
    let (addr, stop, _reports) = start_serving_paced(&capture, &out, Front::Plain, pace).await;
    let (head, ws, _) = raw::connect(addr, "/feed", &[]).await;
    let mut ws = ws.unwrap_or_else(|| panic!("no upgrade: {head}"));
    ws.send(true, Opcode::Text, b"go").await;
    let first = read(&mut ws).await.unwrap();
    let started = Instant::now();
    assert_eq!(first.2, b"tick 0");
    for i in 1..count {
        let frame = read(&mut ws).await.unwrap();
        assert_eq!(frame.2, format!("tick {i}").into_bytes(), "frames in recorded order");
    }
    let took = started.elapsed();
    let _ = stop.send(());
    took
}

#[tokio::test]
async fn replayed_frames_keep_the_recorded_spacing_without_timer_tick_drift() {
    let dir = tempfile::tempdir().unwrap();
    // Recorded 1 ms apart (conversation_capture): 999 ms from the first server frame to the last.
    let fast = time_a_served_burst(dir.path(), 1000, Pace::Fast).await;
    assert!(fast < Duration::from_millis(400), "fast waits for nothing but the peer: 1000 frames took {fast:?}");
    let original = time_a_served_burst(dir.path(), 1000, Pace::Original).await;
    assert!(original >= Duration::from_millis(950), "original keeps the recorded delays: {original:?}");
    assert!(
        original < Duration::from_millis(1250),
        "original adds no delay of its own per frame (999 ms recorded): {original:?}"
    );
}

/// Sends `capture` to a fresh upstream; returns the send report and the client frames the upstream received.
async fn send_to_upstream(
    capture: &Path,
    options: PlayOptions,
    out: &Path,
) -> (frametap::replay::send::SendReport, Vec<Seen>) {
    let (addr, mut received) = upstream().await;
    let script = Script::load(capture, None, false).unwrap();
    let session = session_to(out, "replay-send").await;
    let options = send_options(addr, options);
    let (_stop, stop_rx) = watch::channel(false);
    let report = send(&script, options, session.sink.clone(), stop_rx).await.unwrap();
    let got = received.recv().await.unwrap();
    session.finish().await;
    (report, got)
}

fn recorded_client_frames(capture: &Path) -> Vec<Seen> {
    read_capture(capture)
        .unwrap()
        .records
        .into_iter()
        .filter_map(|r| match r {
            Record::Frame(f) if f.from == Peer::Client => Some((f.opcode, f.fin, f.payload.to_vec())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn sent_replay_gives_the_upstream_the_recorded_client_frames_with_set_applied() {
    let dir = tempfile::tempdir().unwrap();
    let (recorded, _) = record_through_proxy(dir.path()).await;
    let mut options = play_options(Pace::Fast);
    options.sets = vec![("token".into(), "NEW".into())];
    let (report, got) = send_to_upstream(&recorded, options.clone(), &dir.path().join("sent.jsonl")).await;
    let expected: Vec<Seen> = recorded_client_frames(&recorded)
        .into_iter()
        .map(|(op, fin, payload)| match op {
            Opcode::Text => (op, fin, String::from_utf8(payload).unwrap().replace(TOKEN, "NEW").into_bytes()),
            _ => (op, fin, payload),
        })
        .collect();
    assert_eq!(got, expected, "identical client frames in order, token replaced");
    assert!(String::from_utf8_lossy(&got[0].2).contains(r#""token":"NEW""#));
    let play = report.play.unwrap();
    assert_eq!(play.divergences.len(), 1, "{:?}", play.divergences);
    assert!(
        play.divergences[0].starts_with("server frame 1 (recorded seq 2): $.body.id is \"s"),
        "{:?}",
        play.divergences
    );
    assert_eq!((play.close.code, play.close.clean), (Some(4000), true));

    options.ignore = vec!["id".into()];
    let (report, _) = send_to_upstream(&recorded, options, &dir.path().join("sent-ignoring.jsonl")).await;
    assert!(report.play.unwrap().divergences.is_empty(), "--ignore id: nothing else differs");
    let captured = read_capture(&dir.path().join("sent-ignoring.jsonl")).unwrap();
    assert_eq!(server_frames_in(&dir.path().join("sent-ignoring.jsonl")).len(), 6);
    assert!(captured.has_end);
}

#[tokio::test]
async fn a_redacted_capture_replays_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let (recorded, _) = record_through_proxy(dir.path()).await;
    let redacted = dir.path().join("redacted.jsonl");
    let mut redactor = frametap::redact::Redactor::new();
    let mut writer = CaptureWriter::create(&redacted).unwrap();
    for record in read_capture(&recorded).unwrap().records {
        writer.write(&redactor.redact(record));
    }
    writer.flush();
    let text = std::fs::read_to_string(&redacted).unwrap();
    assert!(!text.contains(TOKEN) && !text.contains("c2lnbmF0dXJlLXNpZ25hdHVyZQ"), "secrets are gone");
    let placeholder = text.split(frametap::redact::UUID_PLACEHOLDER_PREFIX).nth(1).unwrap()[..12].to_owned();
    let placeholder_token = format!("{}{placeholder}", frametap::redact::UUID_PLACEHOLDER_PREFIX);

    let (run, report) =
        serve_and_run(&redacted, Pace::Fast, &client_frames(&placeholder_token), &dir.path().join("s.jsonl")).await;
    assert_eq!(run.server_frames, server_frames_in(&redacted));
    assert!(report.divergences.is_empty(), "{:?}", report.divergences);

    let mut options = play_options(Pace::Fast);
    options.sets = vec![("token".into(), TOKEN.into())];
    let (report, got) = send_to_upstream(&redacted, options, &dir.path().join("r.jsonl")).await;
    assert_eq!(report.dropped_headers, vec!["authorization"], "the redacted Authorization is not sent");
    assert!(String::from_utf8_lossy(&got[0].2).contains(TOKEN), "--set puts the real token back");
    let captured = read_capture(&dir.path().join("r.jsonl")).unwrap();
    let Record::Open(open) = &captured.records[1] else { panic!("open record") };
    assert!(open.response.as_ref().unwrap().headers.contains(&("x-upstream-head".into(), "no-auth".into())));
}

#[tokio::test]
async fn bad_replays_fail_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let (recorded, _) = record_through_proxy(dir.path()).await;
    let err = Script::load(&recorded, Some(9), false).unwrap_err().to_string();
    assert!(err.contains("recorded.jsonl has no connection 9 (it has 1): choose one with --conn"), "{err}");

    let cut = dir.path().join("cut.jsonl");
    let text = std::fs::read_to_string(&recorded).unwrap();
    std::fs::write(&cut, &text[..text.len() - 20]).unwrap();
    let err = Script::load(&cut, None, false).unwrap_err().to_string();
    assert!(err.contains("cut.jsonl: line") && err.contains("cut off") && err.contains("--partial"), "{err}");
    assert!(Script::load(&cut, None, true).is_ok(), "--partial replays what is there");
    let (without_end, _) = text.trim_end().rsplit_once('\n').unwrap();
    std::fs::write(&cut, format!("{without_end}\n")).unwrap();
    let err = Script::load(&cut, None, false).unwrap_err().to_string();
    assert!(err.contains("cut.jsonl: it ends without an end record") && err.contains("--partial"), "{err}");
    let partial = Script::load(&cut, None, true).unwrap();
    assert_eq!(partial.skipped, ["the capture has no end record: it was cut short, or is still being written"]);
    assert!(Script::load(&recorded, None, false).unwrap().skipped.is_empty(), "a complete capture skips nothing");

    let har = dir.path().join("plain.har");
    std::fs::write(&har, r#"{"log":{"entries":[]}}"#).unwrap();
    let err = format!("{:#}", Script::load(&har, None, false).unwrap_err());
    assert!(err.contains("plain.har") && err.contains("no WebSocket connection"), "{err}");

    let (_held, closed) = common::ports::refusing_addr();
    let script = Script::load(&recorded, None, false).unwrap();
    let session = session_to(&dir.path().join("refused.jsonl"), "replay-send").await;
    let options = send_options(closed, play_options(Pace::Fast));
    let (_stop, stop_rx) = watch::channel(false);
    let err = send(&script, options, session.sink.clone(), stop_rx).await.unwrap_err().to_string();
    session.finish().await;
    assert!(err.contains(&format!("could not replay to ws://{closed}/v1?deploymentId=6c1b2f0e")), "{err}");
    assert!(err.contains("could not connect") && !err.contains('\n'), "{err}");
    let refused = read_capture(&dir.path().join("refused.jsonl")).unwrap();
    assert!(
        matches!(&refused.records[1], Record::Open(o) if o.error.is_some() && o.failed_ms.is_some()),
        "the failed attempt is captured, with when it failed"
    );
    let diagnosis = refused.records.iter().find_map(|r| match r {
        Record::Diagnosis(d) => Some(serde_json::to_string(&d.details).unwrap()),
        _ => None,
    });
    let diagnosis = diagnosis.expect("the failed attempt is diagnosed");
    assert!(
        diagnosis.contains("frametap could not open it") && !diagnosis.contains("answered the client"),
        "replay send has no client to answer: {diagnosis}"
    );
}

/// An upstream that accepts the upgrade, then reads every frame (each goes to the channel) and never answers one,
/// not even a close.
async fn mute_upstream() -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let (head, rest) = raw::read_head(&mut stream).await;
        let accept = raw::accept_for(&head);
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        stream.write_all(answer.as_bytes()).await.unwrap();
        let mut ws = RawWs::new(stream, rest, false);
        while let Some(frame) = read(&mut ws).await {
            let _ = tx.send(frame);
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn a_replay_stopped_before_the_recording_ended_does_not_say_every_frame_matched() {
    // Found live: `replay send` stopped with Ctrl-C while it waited for the server's first answer reported
    // "received 0 … every server frame matched the recording".
    let dir = tempfile::tempdir().unwrap();
    let (recorded, _) = record_through_proxy(dir.path()).await;
    let (addr, mut upstream_got) = mute_upstream().await;
    let script = Script::load(&recorded, None, false).unwrap();
    let out = dir.path().join("stopped.jsonl");
    let session = session_to(&out, "replay-send").await;
    let (stop, stop_rx) = watch::channel(false);
    let sink = session.sink.clone();
    let replay = tokio::spawn(async move {
        send(&script, send_options(addr, play_options(Pace::Fast)), sink, stop_rx).await.unwrap()
    });
    let first = upstream_got.recv().await.unwrap();
    assert!(String::from_utf8_lossy(&first.2).contains("configureSession"), "the replay waits for its answer now");
    stop.send_replace(true);
    let play = replay.await.unwrap().play.expect("the upgrade was accepted");
    session.finish().await;
    assert_eq!(play.received, 0);
    let stopped = "frametap was stopped (Ctrl-C or SIGTERM) before the recording ended: 5 server frames the \
                   recording shows were not waited for";
    assert_eq!(play.divergences, [stopped], "what the report says instead of \"every server frame matched\"");
    let notes: Vec<String> = read_capture(&out)
        .unwrap()
        .records
        .into_iter()
        .filter_map(|r| match r {
            Record::Note(n) if n.code == "replay-divergence" => Some(n.message),
            _ => None,
        })
        .collect();
    assert_eq!(notes, [stopped], "the capture says it too");
}

/// A frame a test client sends: fin, opcode, payload.
type SentFrame = (bool, Opcode, &'static str);

/// A conversation whose client message is "hello world" (recorded whole, or in fragments "hello ", "wor", "ld"),
/// answered "ok", then the server closes with 1000.
fn hello_capture(dir: &Path, fragmented: bool) -> PathBuf {
    let name = if fragmented { "fragmented.jsonl" } else { "whole.jsonl" };
    let messages: &[(Peer, &str)] = match fragmented {
        true => &[(Peer::Client, "hello "), (Peer::Client, "wor"), (Peer::Client, "ld"), (Peer::Server, "ok")],
        false => &[(Peer::Client, "hello world"), (Peer::Server, "ok")],
    };
    let close = server_close(true, Some(1000), None);
    let path = conversation_capture(dir, name, "ws://example.com/chat", 101, messages, Some(close));
    if fragmented {
        let mut capture = read_capture(&path).unwrap();
        for record in &mut capture.records {
            if let Record::Frame(frame) = record {
                frame.fin = frame.seq == 3 || frame.from == Peer::Server;
                if frame.from == Peer::Client && frame.seq > 1 {
                    frame.opcode = Opcode::Continuation;
                }
            }
        }
        std::fs::remove_file(&path).unwrap();
        let mut writer = CaptureWriter::create(&path).unwrap();
        for record in capture.records.iter().filter(|r| !matches!(r, Record::End(_))) {
            writer.write(record);
        }
        writer.finish(0, Vec::new());
    }
    path
}

/// A client that sends a recorded message with its fragment boundaries moved (whole where the recording has
/// fragments, as a browser sends every message, or in fragments where it was whole) gets the rest of the replay:
/// the message is matched as one, and the divergence says how it was split. Before, a whole message left `replay
/// serve` waiting for the recorded fragments that never came.
#[tokio::test]
async fn a_message_sent_with_other_fragment_boundaries_is_matched_as_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(bool, &[SentFrame], &str); 2] = [
        (true, &[(true, Opcode::Text, "hello world")], "sent as one frame, recorded as 3 fragments"),
        (
            false,
            &[(false, Opcode::Text, "hello "), (true, Opcode::Continuation, "world")],
            "sent as 2 fragments, recorded as one frame",
        ),
    ];
    for (fragmented, sent, said) in cases {
        let capture = hello_capture(dir.path(), fragmented);
        let out = dir.path().join(format!("served-{fragmented}.jsonl"));
        let (addr, stop, mut reports) = start_serving(&capture, &out).await;
        let mut ws = connect(addr, "/chat").await;
        for (fin, opcode, text) in sent {
            ws.send(*fin, *opcode, text.as_bytes()).await;
        }
        let answer = tokio::time::timeout(common::TEST_TIMEOUT, read(&mut ws)).await;
        assert_eq!(answer.expect("the replay went on"), Some((Opcode::Text, true, b"ok".to_vec())), "{said}");
        let close = read(&mut ws).await.unwrap();
        assert_eq!((close.0, &close.2[..2]), (Opcode::Close, &[0x03, 0xe8][..]), "{said}");
        ws.send(true, Opcode::Close, &close.2).await;
        drop(ws);
        let report = reports.recv().await.unwrap();
        assert_eq!(report.divergences.len(), 1, "{:?}", report.divergences);
        assert!(report.divergences[0].contains(said), "{:?}", report.divergences);
        assert!(!report.divergences[0].contains("differs"), "the same message: {:?}", report.divergences);
        stop.send(()).unwrap();
    }
    // A message that also differs says so.
    let other = tempfile::tempdir().unwrap();
    let capture = hello_capture(other.path(), true);
    let (addr, stop, mut reports) = start_serving(&capture, &dir.path().join("served-other.jsonl")).await;
    let mut ws = connect(addr, "/chat").await;
    ws.send(true, Opcode::Text, b"hello there").await;
    assert_eq!(read(&mut ws).await, Some((Opcode::Text, true, b"ok".to_vec())));
    let report = {
        let close = read(&mut ws).await.unwrap();
        ws.send(true, Opcode::Close, &close.2).await;
        drop(ws);
        reports.recv().await.unwrap()
    };
    assert!(
        report.divergences[0].contains("and the message differs: payload \"hello there\""),
        "{:?}",
        report.divergences
    );
    stop.send(()).unwrap();
}
