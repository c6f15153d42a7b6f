//! `frametap replay serve` through the binary, what it says on stderr: a capture without its end record (refused,
//! or warned about with --partial), the summary of a replayed refusal, and a taken UI port; and `replay send
//! --quiet`'s divergences, counted rather than listed (with the `--ignore` hint), and `--fail-on-divergence`'s exit status; and `--forward`'s warning for a client that does not trust
//! the local CA.

#[path = "forward_support/client.rs"]
mod client;
mod common;
#[path = "replay_binary/mod.rs"]
mod replay_binary;
#[path = "forward_support/servers.rs"]
mod servers;
#[path = "replay_support/mod.rs"]
mod support;
#[path = "forward_support/ws.rs"]
mod ws;

use std::process::Stdio;
use std::time::Duration;

use replay_binary::{frametap, talk_as_the_recorded_client, Home, Running};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio_tungstenite::tungstenite::Error as WsError;

/// A capture without its `end` record is refused as `convert` refuses it; with --partial it plays, and both the
/// start and the connection's summary say what is missing.
#[tokio::test]
async fn a_capture_without_its_end_record_needs_partial_and_is_said_to_be_incomplete() {
    let home = Home::new().await;
    let text = std::fs::read_to_string(&home.capture).unwrap();
    let (kept, end) = text.trim_end().rsplit_once('\n').unwrap();
    assert!(end.contains("\"kind\":\"end\""), "{end}");
    let cut = home.dir.path().join("noend.jsonl");
    std::fs::write(&cut, format!("{kept}\n")).unwrap();
    let cut_arg = cut.to_str().unwrap();
    let refusal = "noend.jsonl: it ends without an end record: it was cut short (or is still being written); pass \
                   --partial to replay the records that could be read";
    for args in [
        &["replay", "serve", cut_arg, "--listen", "127.0.0.1:0", "--no-ui", "--no-capture"][..],
        &["replay", "send", cut_arg, "--upstream", "ws://127.0.0.1:9", "--no-capture"][..],
    ] {
        let run = frametap(home.dir.path()).args(args).output();
        let output = tokio::time::timeout(Duration::from_secs(30), run).await.expect("frametap kept running").unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && stderr.contains(refusal), "{args:?}: {stderr}");
    }

    let mut replay = home.serve_file(&cut, &["--partial"]);
    let warning = replay.line_with("warning").await;
    assert!(
        warning.contains("frametap replay serve: warning:")
            && warning.contains("noend.jsonl: the capture has no end record: it was cut short"),
        "{warning}"
    );
    let url = replay.banner("point your WebSocket client at").await;
    let authority = url.strip_prefix("ws://").unwrap().trim_end_matches("/chat").to_owned();
    let tcp = tokio::net::TcpStream::connect(&authority).await.unwrap();
    talk_as_the_recorded_client(tcp, &url).await;
    replay.line_with("every client frame matched the recording").await;
    let said = replay.line_with("the recording is incomplete").await;
    assert!(said.contains("(--partial): the capture has no end record"), "{said}");
}

/// A recorded refusal, and a recorded failure to reach the upstream, are answered as recorded and summed up on
/// stderr like a played connection.
#[tokio::test]
async fn a_replayed_refusal_gets_a_summary_line() {
    let home = Home::new().await;
    let refused = support::handmade_capture(home.dir.path(), "refused.jsonl", 403, None);
    let mut replay = home.serve_file(&refused, &[]);
    let url = replay.banner("point your WebSocket client at").await;
    let answer = tokio_tungstenite::connect_async(&url).await;
    let Err(WsError::Http(response)) = answer else { panic!("not an HTTP refusal: {answer:?}") };
    assert_eq!(response.status(), 403);
    let summary = replay.line_with("replay serve: connection").await;
    assert_eq!(summary, "replay serve: connection 1: answered the recorded 403 Forbidden; no WebSocket");

    // The recorded attempt never reached its upstream: no answer in the capture, only the error.
    let text = std::fs::read_to_string(&refused).unwrap();
    let unreached: Vec<String> = text
        .lines()
        .map(|line| {
            let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
            if record["kind"] == "open" {
                record["response"] = serde_json::Value::Null;
                record["error"] = "could not connect to example.com:80: connection refused".into();
            }
            record.to_string()
        })
        .collect();
    let unreached_path = home.dir.path().join("unreached.jsonl");
    std::fs::write(&unreached_path, unreached.join("\n") + "\n").unwrap();
    let mut replay = home.serve_file(&unreached_path, &[]);
    let url = replay.banner("point your WebSocket client at").await;
    let answer = tokio_tungstenite::connect_async(&url).await;
    let Err(WsError::Http(response)) = answer else { panic!("not an HTTP refusal: {answer:?}") };
    assert_eq!(response.status(), 502);
    let summary = replay.line_with("replay serve: connection").await;
    assert!(
        summary.starts_with("replay serve: connection 1: answered 502 Bad Gateway, as the recording failed to reach")
            && summary.contains("could not connect to example.com:80: connection refused")
            && summary.ends_with("; no WebSocket"),
        "{summary}"
    );
}

/// A taken UI port is said as frametap's other warnings are, in a replay's words.
#[tokio::test]
async fn a_taken_ui_port_is_a_warning_in_the_replays_words() {
    let home = Home::new().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ui = taken.local_addr().unwrap().to_string();
    let mut child = frametap(home.dir.path())
        .args(["replay", "serve", home.capture.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-capture"])
        .args(["--ui", &ui])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut replay = Running { _child: child, lines };
    let warning = replay.line_with("without the web UI").await;
    assert_eq!(
        warning,
        format!(
            "frametap: warning: the web UI could not listen on {ui}: the port is taken (another frametap?); choose \
             another with --ui ADDR or turn the UI off with --no-ui; replaying without the web UI"
        )
    );
}

/// `--quiet` means "no line per frame" for the replays as for `proxy`: a divergence is one line per peer frame, so
/// it is neither logged as a warning nor listed in the summary, which counts them instead (and they stay in the
/// capture as `replay-divergence` notes). It used to print each as a warning line, then list them all again.
#[tokio::test]
async fn replay_send_quiet_counts_the_divergences_in_one_line() {
    let against = Diverging::start().await;
    let at = |name: &str| against.home.dir.path().join(name).to_str().unwrap().to_owned();
    let send = |quiet: bool, capture: &str| {
        let mut args = vec!["--capture", capture];
        args.extend(quiet.then_some("--quiet"));
        let run = against.send(&against.differing, &args);
        async move {
            let (status, log, summary) = run.await;
            assert_eq!(status, Some(0), "divergences are reported, not errors: {summary}");
            (log, summary)
        }
    };

    let (log, summary) = send(false, &at("loud.jsonl")).await;
    // The live server (the replay of the recording it expects) answers "hello", not "bonjour".
    assert_eq!(log.matches(" WARN: ").count(), 1, "{log}");
    assert!(summary.contains("  1 difference from the recording:\n    server frame 1"), "{summary}");

    let (log, summary) = send(true, &at("quiet.jsonl")).await;
    assert!(!log.contains(" WARN: ") && log.contains("CLOSED first by server: 4000"), "{log}");
    let counted: Vec<&str> = summary.lines().filter(|line| line.contains("from the recording")).collect();
    assert_eq!(
        counted,
        ["  1 difference from the recording (--quiet: run without it to list them; a capture keeps each as a \
          replay-divergence note)"],
        "{summary}"
    );
    assert!(!summary.contains("server frame 1"), "{summary}");
    let capture = std::fs::read_to_string(at("quiet.jsonl")).unwrap();
    assert_eq!(capture.matches("\"code\":\"replay-divergence\"").count(), 1, "{capture}");
}

/// The summary ends with the `--ignore` flags for the ids or times that differed, with `--quiet` too (docs/replay.md):
/// a quiet run counts the differences rather than listing them, and used to leave the hint out with the list, so the
/// fields to ignore took a second, loud run to learn.
#[tokio::test]
async fn replay_send_quiet_still_offers_to_ignore_the_ids_that_differed() {
    let home = Home::new().await;
    let answer = |id: &str| format!(r#"{{"id":"{id}","text":"hello"}}"#);
    let live = conversation(&home, "live.jsonl", &answer("6b0c1f52-7a0e-4c0b-9d7e-2b1f9c1e0a20"));
    let recorded = conversation(&home, "recorded-id.jsonl", &answer("0e1d5a3c-2f4b-4a6e-8c9d-1b2a3c4d5e6f"));
    let against = Diverging::between(home, &live, recorded).await;
    let hint = "  ids or times differed in id (1 frame): add --ignore id to compare without them";
    for quiet in [false, true] {
        let mut args = vec!["--no-capture"];
        args.extend(quiet.then_some("--quiet"));
        let (status, _, summary) = against.send(&against.differing, &args).await;
        assert_eq!(status, Some(0), "{summary}");
        assert!(summary.contains("1 difference from the recording") && summary.contains(hint), "{quiet}: {summary}");
    }
}

/// A browser that does not trust the local CA ends the TLS handshake inside its CONNECT, and its page's WebSocket
/// never opens. That used to be only a module's `INFO` log line; it is now a warning saying what to do.
#[tokio::test]
async fn a_client_that_does_not_trust_the_local_ca_is_warned_about_once_per_host() {
    let home = Home::new().await;
    let mut replay = home.serve_with_log(&home.capture, &["--forward"], "frametap=debug");
    let proxy = replay.proxy_addr().await;
    let distrustful = tokio_rustls::TlsConnector::from(servers::client_config(rustls::RootCertStore::empty()));
    let refuse = async || {
        let tunnel = client::connect_tunnel(proxy, "example.com:443").await;
        let name = rustls::pki_types::ServerName::try_from("example.com").unwrap();
        let refused = tokio::time::timeout(ws::STEP, distrustful.connect(name, tunnel)).await.unwrap();
        assert!(refused.is_err(), "a client without the local CA trusted the leaf");
    };
    refuse().await;
    let warning = replay.line_with("TLS handshake").await;
    assert!(
        warning.starts_with("frametap: warning: forward mode: the TLS handshake with 127.0.0.1:")
            && warning.contains(" for example.com failed (")
            && warning
                .contains("a browser that does not trust the local CA ends it so; trust it (`frametap certs show`"),
        "{warning}"
    );
    // A browser retries: the same host's next failure is a debug line, not a second warning.
    refuse().await;
    let again = replay.line_with("TLS handshake").await;
    assert!(!again.contains("warning") && again.contains("failed again"), "{again}");
}

/// `--fail-on-divergence` makes a difference from the recording an exit status of 1, for a check in CI, saying how
/// many; a replay that matched still exits 0 with it, and without it a difference is not a failure (above).
#[tokio::test]
async fn fail_on_divergence_exits_1_only_when_a_frame_differs() {
    let against = Diverging::start().await;
    let send = |recording| against.send(recording, &["--no-capture", "--quiet", "--fail-on-divergence"]);
    let (status, _, stderr) = send(&against.home.capture).await;
    assert_eq!(status, Some(0), "the live replay of the same recording matches: {stderr}");
    assert!(stderr.contains("every server frame matched the recording"), "{stderr}");
    let (status, _, stderr) = send(&against.differing).await;
    assert_eq!(status, Some(1), "{stderr}");
    let error = "frametap: error: replay send: 1 difference from the recording (--fail-on-divergence; the summary \
                 above says more)";
    assert!(stderr.contains(error), "{stderr}");
}

/// A recording of ws://example.com/chat in the home's folder: the client says "hi", the server `answer`, then closes
/// with 4000.
fn conversation(home: &Home, name: &str, answer: &str) -> std::path::PathBuf {
    use frametap::event::Peer;
    let close = Some(support::server_close(true, Some(4000), None));
    let messages = [(Peer::Client, "hi"), (Peer::Server, answer)];
    support::conversation_capture(home.dir.path(), name, "ws://example.com/chat", 101, &messages, close)
}

/// A live `replay serve` of the home's recording (the server answers "hello"), as the upstream of `replay send`s, and
/// a recording of the same conversation whose server said "bonjour" there: replayed against it, one difference.
struct Diverging {
    home: Home,
    _live: Running,
    upstream: String,
    differing: std::path::PathBuf,
}

impl Diverging {
    async fn start() -> Diverging {
        let home = Home::new().await;
        let (live, french) = (home.capture.clone(), conversation(&home, "french.jsonl", "bonjour"));
        Diverging::between(home, &live, french).await
    }

    /// A live `replay serve` of `live`, and `differing` to send against it.
    async fn between(home: Home, live: &std::path::Path, differing: std::path::PathBuf) -> Diverging {
        let mut live = home.serve_file(live, &[]);
        let url = live.banner("point your WebSocket client at").await;
        let upstream = url.trim_end_matches("/chat").to_owned();
        Diverging { home, _live: live, upstream, differing }
    }

    /// `replay send RECORDING --upstream … --pace fast --wait 1 ARGS…`: its exit status, stdout and stderr.
    fn send(
        &self,
        recording: &std::path::Path,
        args: &[&str],
    ) -> impl std::future::Future<Output = (Option<i32>, String, String)> {
        let mut command = frametap(self.home.dir.path());
        command.args(["replay", "send", recording.to_str().unwrap(), "--upstream", &self.upstream]);
        command.args(["--pace", "fast", "--wait", "1"]).args(args);
        async move {
            let run = tokio::time::timeout(Duration::from_secs(30), command.output());
            let output = run.await.expect("frametap kept running").unwrap();
            let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
            (output.status.code(), text(&output.stdout), text(&output.stderr))
        }
    }
}
