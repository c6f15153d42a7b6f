//! `replay serve` and `replay send` against real sockets: a session captured through the proxy is served to a
//! raw WebSocket client and sent to a live upstream, frame for frame, at fast and original pace.

use bytes::{Buf, BytesMut};
use frametap::capture::{read_capture, CaptureWriter};
use frametap::cli::{CaptureArgs, LogArgs};
use frametap::event::{Opcode, Peer, Record};
use frametap::pipeline::LagPolicy;
use frametap::proxy::relay::RelayOptions;
use frametap::proxy::upstream::UpstreamBase;
use frametap::proxy::{ProxyConfig, DEFAULT_MAX_MESSAGE};
use frametap::replay::send::{send, SendOptions};
use frametap::replay::serve::{serve, ServeOptions};
use frametap::replay::{Pace, PlayOptions, PlayReport, Script};
use frametap::session::{self, Session, SessionSetup};
use frametap::wire::{encode_frame, random_mask, FrameScanner, Step};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

const TOKEN: &str = "a3c1d1e2-77b4-4c0b-bb0c-91f5a4e0d2c7";
const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJndWVzdCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
/// The upstream's think time before its first answer: what `original` pace must keep and `fast` must skip.
const THINK: Duration = Duration::from_millis(300);
/// Session ids the test upstreams hand out: unique across upstreams, so a replay never gets the recorded one.
static SESSIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
const SHORT: Duration = Duration::from_secs(2);

/// (opcode, fin, payload) of a frame as a peer saw it.
type Seen = (Opcode, bool, Vec<u8>);

/// One WebSocket peer over a raw socket, speaking frames through frametap's wire codec.
struct Wire {
    stream: TcpStream,
    buf: BytesMut,
    scanner: FrameScanner,
    mask: bool,
}

impl Wire {
    async fn read(&mut self) -> Option<Seen> {
        loop {
            let (used, step) = self.scanner.step(&self.buf);
            self.buf.advance(used);
            match step {
                Step::Frame(f) => return Some((f.header.opcode, f.header.fin, f.payload.to_vec())),
                Step::NeedMore => {}
                Step::TooBig { .. } => panic!("frame too big"),
            }
            match tokio::time::timeout(Duration::from_secs(5), self.stream.read_buf(&mut self.buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return None,
                Ok(Ok(_)) => {}
                Err(_) => panic!("no frame within 5 s"),
            }
        }
    }

    async fn write(&mut self, opcode: Opcode, fin: bool, payload: &[u8]) {
        let mask = self.mask.then(random_mask);
        self.stream.write_all(&encode_frame(fin, opcode, payload, mask)).await.unwrap();
    }
}

/// Reads an HTTP head; returns it and the bytes after it.
async fn read_head(stream: &mut TcpStream) -> (String, BytesMut) {
    let mut buf = BytesMut::new();
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.advance(end + 4);
            return (head, buf);
        }
        assert!(stream.read_buf(&mut buf).await.unwrap() > 0, "connection closed during the handshake");
    }
}

/// The client: handshake, then the Genesys-like conversation the upstream expects.
async fn connect(addr: SocketAddr, path: &str) -> Wire {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Origin: https://shop.example.com\r\nAuthorization: Bearer {JWT}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let (head, rest) = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.to_ascii_lowercase().contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="), "{head}");
    Wire { stream, buf: rest, scanner: FrameScanner::new(1 << 20), mask: true }
}

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
    ws.write(Opcode::Text, true, frames.configure.as_bytes()).await;
    let first = ws.read().await.unwrap();
    let first_answer = sent.elapsed();
    server_frames.push(first);
    while server_frames.last().unwrap().0 != Opcode::Binary {
        let frame = ws.read().await.unwrap();
        if frame.0 == Opcode::Ping {
            ws.write(Opcode::Pong, true, &frame.2).await;
        }
        server_frames.push(frame);
    }
    ws.write(Opcode::Text, true, frames.message.as_bytes()).await;
    let close = ws.read().await.unwrap();
    assert_eq!(close.0, Opcode::Close);
    ws.write(Opcode::Close, true, &close.2).await;
    server_frames.push(close);
    assert_eq!(ws.read().await, None, "the server ends TCP after the close handshake");
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
            let (head, rest) = read_head(&mut stream).await;
            let key = head
                .lines()
                .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("sec-websocket-key")))
                .map(|(_, v)| v.trim().to_owned())
                .unwrap();
            let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
            let answer = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: genesys\r\nX-Upstream-Head: {}\r\n\r\n",
                if head.contains("Authorization") || head.contains("authorization") { "auth" } else { "no-auth" }
            );
            stream.write_all(answer.as_bytes()).await.unwrap();
            let mut ws = Wire { stream, buf: rest, scanner: FrameScanner::new(1 << 20), mask: false };
            let mut got = Vec::new();
            got.push(ws.read().await.unwrap());
            tokio::time::sleep(THINK).await;
            let answer = format!(
                r#"{{"type":"response","class":"SessionResponse","code":200,"body":{{"connected":true,"id":"s{session}"}}}}"#
            );
            ws.write(Opcode::Text, true, answer.as_bytes()).await;
            ws.write(Opcode::Text, false, "{\"type\":\"message\",\"body\":\"caf".as_bytes()).await;
            ws.write(Opcode::Ping, true, b"are you there").await;
            ws.write(Opcode::Continuation, true, "\u{e9}\"}".as_bytes()).await;
            ws.write(Opcode::Binary, true, &[0, 1, 2, 255]).await;
            while got.last().map(|f| f.0) != Some(Opcode::Text) || got.len() < 2 {
                got.push(ws.read().await.unwrap());
            }
            ws.write(Opcode::Close, true, b"\x0f\xa0session over").await;
            got.push(ws.read().await.unwrap());
            ws.stream.shutdown().await.unwrap();
            let _ = tx.send(got);
        }
    });
    (addr, rx)
}

fn session_to(capture: &Path, mode: &'static str) -> Session {
    let capture =
        CaptureArgs { capture: Some(capture.to_owned()), no_capture: false, on_capture_lag: LagPolicy::Block };
    let log = LogArgs { quiet: true, ..Default::default() };
    session::start(SessionSetup {
        mode,
        upstream: None,
        capture: &capture,
        log: &log,
        insecure_upstream: false,
        publishers: Vec::new(),
    })
    .unwrap()
}

/// Records one session through the real proxy; returns the capture and what the client saw.
async fn record_through_proxy(dir: &Path) -> (PathBuf, ClientRun) {
    let (upstream_addr, mut received) = upstream().await;
    let path = dir.join("recorded.jsonl");
    let session = session_to(&path, "proxy");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = ProxyConfig {
        upstream: UpstreamBase::parse(&format!("ws://{upstream_addr}")).unwrap(),
        tls: frametap::tls::upstream::client_config(None, false).unwrap(),
        set_headers: Vec::new(),
        forward_cookies: false,
        relay: RelayOptions { max_message: DEFAULT_MAX_MESSAGE, close_timeout: SHORT },
        handshake_timeout: SHORT,
        public_url: format!("ws://{addr}"),
        ui_url: None,
    };
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

fn play_options(pace: Pace) -> PlayOptions {
    PlayOptions {
        pace,
        wait_timeout: Some(SHORT),
        close_timeout: SHORT,
        ignore: Vec::new(),
        sets: Vec::new(),
        max_message: DEFAULT_MAX_MESSAGE,
    }
}

/// Serves `capture` and runs the client against it; returns what the client saw and the server's report.
async fn serve_and_run(capture: &Path, pace: Pace, frames: &ClientFrames, out: &Path) -> (ClientRun, PlayReport) {
    let script = Script::load(capture, None, false).unwrap();
    let session = session_to(out, "replay-serve");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (report_tx, mut reports) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let options = ServeOptions { play: play_options(pace), handshake_timeout: SHORT };
    let server = tokio::spawn(serve(
        listener,
        script,
        options,
        session.sink.clone(),
        async {
            let _ = stopped.await;
        },
        Some(report_tx),
    ));
    let run = run_client(addr, frames).await;
    let report = reports.recv().await.unwrap();
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

/// Sends `capture` to a fresh upstream; returns the send report and the client frames the upstream received.
async fn send_to_upstream(
    capture: &Path,
    options: PlayOptions,
    out: &Path,
) -> (frametap::replay::send::SendReport, Vec<Seen>) {
    let (addr, mut received) = upstream().await;
    let script = Script::load(capture, None, false).unwrap();
    let session = session_to(out, "replay-send");
    let options = SendOptions {
        upstream: UpstreamBase::parse(&format!("ws://{addr}")).unwrap(),
        tls: frametap::tls::upstream::client_config(None, false).unwrap(),
        headers: Vec::new(),
        play: options,
        handshake_timeout: SHORT,
    };
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

    let har = dir.path().join("plain.har");
    std::fs::write(&har, r#"{"log":{"entries":[]}}"#).unwrap();
    let err = format!("{:#}", Script::load(&har, None, false).unwrap_err());
    assert!(err.contains("plain.har") && err.contains("no WebSocket connection"), "{err}");

    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let script = Script::load(&recorded, None, false).unwrap();
    let session = session_to(&dir.path().join("refused.jsonl"), "replay-send");
    let options = SendOptions {
        upstream: UpstreamBase::parse(&format!("ws://{closed}")).unwrap(),
        tls: frametap::tls::upstream::client_config(None, false).unwrap(),
        headers: Vec::new(),
        play: play_options(Pace::Fast),
        handshake_timeout: SHORT,
    };
    let (_stop, stop_rx) = watch::channel(false);
    let err = send(&script, options, session.sink.clone(), stop_rx).await.unwrap_err().to_string();
    session.finish().await;
    assert!(err.contains(&format!("could not replay to ws://{closed}/v1?deploymentId=6c1b2f0e")), "{err}");
    assert!(err.contains("could not connect") && !err.contains('\n'), "{err}");
    let refused = read_capture(&dir.path().join("refused.jsonl")).unwrap();
    assert!(matches!(&refused.records[1], Record::Open(o) if o.error.is_some()), "the failed attempt is captured");
}

#[test]
fn replay_and_convert_command_lines_parse() {
    use clap::{CommandFactory, Parser};
    #[derive(Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        command: Commands,
    }
    #[derive(clap::Subcommand, Debug)]
    enum Commands {
        #[command(subcommand)]
        Replay(frametap::replay::ReplayCommand),
        Convert(frametap::convert::ConvertCommand),
    }
    Cli::command().debug_assert();
    let parsed = Cli::try_parse_from([
        "frametap",
        "replay",
        "send",
        "c.jsonl",
        "--upstream",
        "wss://x",
        "--conn",
        "2",
        "--pace",
        "2",
        "--set",
        "token=abc",
        "--header",
        "Origin: https://a",
        "--ignore",
        "id",
        "--no-capture",
    ])
    .unwrap();
    let Commands::Replay(frametap::replay::ReplayCommand::Send(args)) = parsed.command else { panic!() };
    assert_eq!((args.script.conn, args.script.pace), (Some(2), Pace::Factor(2.0)));
    assert_eq!(args.set, vec![("token".to_owned(), "abc".to_owned())]);
    let parsed = Cli::try_parse_from(["frametap", "replay", "serve", "c.har", "--pace", "fast"]).unwrap();
    let Commands::Replay(frametap::replay::ReplayCommand::Serve(args)) = parsed.command else { panic!() };
    assert_eq!(args.listen.to_string(), "127.0.0.1:9000");
    let err = Cli::try_parse_from(["frametap", "replay", "serve", "c.jsonl", "--pace", "soon"]).unwrap_err();
    assert!(err.to_string().contains("not a pace"));
    assert!(Cli::try_parse_from(["frametap", "convert", "a.har", "b.jsonl", "--redact"]).is_ok());
}
