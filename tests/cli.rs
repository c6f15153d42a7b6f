//! The `frametap` binary itself: a real run prints where to connect, logs frames live, and saves a private
//! capture on SIGTERM; what it prints to pipes and about exposed listeners. Refused flags and files:
//! tests/cli_refused.rs.

// Unix only: it stops frametap with SIGTERM and checks the captures' 0600 modes, which Windows has neither of.
#![cfg(unix)]

mod common;

use common::binary::{frametap, send_a_first_message_without_action, RunningProxy};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

/// Starts frametap with `args` in the home folder `home`, its stdout dropped and its stderr read line by line.
fn spawn_reading_stderr<'a>(
    args: impl IntoIterator<Item = &'a str>,
    home: &std::path::Path,
) -> (tokio::process::Child, tokio::io::Lines<BufReader<tokio::process::ChildStderr>>) {
    let mut child = frametap()
        .args(args)
        .env("FRAMETAP_HOME", home)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    (child, lines)
}

/// The in-process simulator is on loopback: HTTP_PROXY used to send its traffic to the proxy (a 502), and a
/// `socks5://` HTTPS_PROXY stopped the simulator mode from starting. Also: without a capture the banner and the
/// end line promise none, and --insecure-upstream says it has no effect instead of the "NOT verified" warning.
#[cfg(unix)]
#[tokio::test]
async fn the_simulator_is_reached_directly_whatever_the_proxy_variables_say() {
    let (_held, refusing) = common::ports::refusing_addr();
    let http_proxy = format!("http://{refusing}");
    let socks = format!("socks5://{refusing}");
    let env = [("HTTP_PROXY", Some(http_proxy.as_str())), ("HTTPS_PROXY", Some(socks.as_str()))];
    let args = ["--no-ui", "--no-capture", "--quiet", "--insecure-upstream"];
    let mut proxy = RunningProxy::start_with(&args, &env).await;
    let banner = proxy.banner.lines.join("\n");
    assert!(banner.contains("--insecure-upstream has no effect") && !banner.contains("NOT verified"), "{banner}");
    assert!(banner.contains("Ctrl-C stops") && !banner.contains("capture is saved"), "{banner}");
    let live = send_a_first_message_without_action(&proxy.banner.url, &mut proxy.stdout).await;
    assert!(live.contains("preceding frame #1"), "{live}");
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(proxy.child.id().unwrap() as i32, libc::SIGTERM) };
    let mut rest = String::new();
    while let Some(line) = proxy.stdout.next_line().await.unwrap() {
        rest.push_str(&line);
    }
    assert!(rest.contains("session ended: 1 connection, ") && !rest.contains("capture ended"), "{rest}");
    assert!(proxy.child.wait().await.unwrap().success());
}

/// frametap's own warnings used to carry ANSI colour escapes into pipes and files.
#[cfg(unix)]
#[tokio::test]
async fn warnings_on_a_pipe_have_no_colour_escapes() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ui = taken.local_addr().unwrap().to_string();
    let proxy = RunningProxy::start_with(&["--no-capture", "--ui", &ui], &[("NO_COLOR", None)]).await;
    let warning = proxy.banner.lines.iter().find(|l| l.contains("relaying without the web UI"));
    let warning = warning.unwrap_or_else(|| panic!("no warning about the UI's port: {:?}", proxy.banner.lines));
    let said = format!("frametap: warning: the web UI could not listen on {ui}: the port is taken");
    assert!(warning.starts_with(&said) && !warning.contains('\x1b'), "{warning:?}");
    proxy.stop().await;
}

/// A UI reachable from other machines is warned about with the port it really got, not `:0`.
#[cfg(unix)]
#[tokio::test]
async fn an_exposed_ui_is_warned_about_with_its_real_port() {
    let proxy = RunningProxy::start(&["--no-capture", "--ui", "0.0.0.0:0"]).await;
    let warning = proxy.banner.lines.iter().find(|l| l.contains("reachable from other machines"));
    let warning = warning.unwrap_or_else(|| panic!("no warning about the exposed UI: {:?}", proxy.banner.lines));
    let port = proxy.banner.ui.as_deref().unwrap().split_once("127.0.0.1:").unwrap().1.split('/').next().unwrap();
    assert!(warning.contains(&format!("0.0.0.0:{port}")) && port != "0", "{warning:?}");
    // Said like frametap's other warnings, not as a raw tracing line.
    assert!(warning.starts_with("frametap: warning: the web UI listens on"), "{warning:?}");
    proxy.stop().await;
}

/// The page a plain HTTP request on the proxy port gets names the web UI's address but not its access token:
/// anyone who can reach the proxy port (another machine with `--listen 0.0.0.0`, a DNS-rebinding page) can read
/// it, and the token shows live credentials. It used to print the UI's whole URL, token included.
#[cfg(unix)]
#[tokio::test]
async fn the_proxy_ports_info_page_names_the_ui_without_its_access_token() {
    let proxy = RunningProxy::start(&["--no-capture", "--ui", "127.0.0.1:0"]).await;
    let ui = proxy.banner.ui.clone().expect("the banner names the UI");
    let (address, token) = ui.split_once("?token=").expect("the banner's UI link holds the token");
    let proxy_addr = proxy.banner.url.strip_prefix("ws://").unwrap().split('/').next().unwrap().to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&proxy_addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut page = String::new();
    tokio::time::timeout(Duration::from_secs(15), tcp.read_to_string(&mut page)).await.unwrap().unwrap();
    assert!(page.starts_with("HTTP/1.1 426"), "{page}");
    assert!(page.contains(&format!("Web UI: {address} (open the link frametap printed")), "{page}");
    assert!(!token.is_empty() && !page.contains(token), "the access token leaks: {page}");
    proxy.stop().await;
}

/// A proxy, a replay or the simulator listening on every interface prints a URL a client on this machine can dial
/// (loopback, its real port), not `ws://0.0.0.0:…`, and warns that it is exposed; the URL it prints works.
#[cfg(unix)]
#[tokio::test]
async fn a_listener_on_every_interface_prints_a_loopback_url_that_works_and_warns() {
    let home = tempfile::tempdir().unwrap();
    // Each command up to its URL line and its warning.
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seed-story.jsonl");
    for (args, url_label, what) in [
        (vec!["proxy", "--no-ui", "--no-capture"], "point your WebSocket client at", "proxy"),
        (vec!["replay", "serve", fixture, "--no-ui", "--no-capture"], "point your WebSocket client at", "replay"),
        (vec!["sim", "genesys"], "Connect to:", "simulator"),
    ] {
        let (mut child, mut lines) =
            spawn_reading_stderr(args.iter().copied().chain(["--listen", "0.0.0.0:0"]), home.path());
        let (mut url, mut warning) = (None, None);
        while url.is_none() || warning.is_none() {
            let line = lines.next_line().await.unwrap().unwrap_or_else(|| panic!("{what}: its URL and warning"));
            if let Some((_, rest)) = line.split_once(url_label) {
                url = Some(rest.trim().to_owned());
            }
            if line.contains("not loopback") {
                warning = Some(line);
            }
        }
        let url = url.unwrap();
        assert!(url.starts_with("ws://127.0.0.1:"), "{what}: {url}");
        let port = url.trim_start_matches("ws://127.0.0.1:").split('/').next().unwrap();
        let said = format!("frametap: WARNING: listening on 0.0.0.0:{port}, not loopback: anyone who can reach it can use this {what}.");
        assert_eq!(warning.unwrap(), said);
        let (ws, response) = tokio_tungstenite::connect_async(url).await.unwrap();
        assert_eq!(response.status(), 101, "{what}");
        drop(ws);
        // SAFETY: sending SIGTERM to our own child process.
        unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) };
        assert!(child.wait().await.unwrap().success(), "{what}");
    }
}

/// A wss:// listener on every interface warns that its certificate names loopback only, and how to have it name
/// the address clients dial (a client dialling the machine's address used to get a bare TLS failure).
#[cfg(unix)]
#[tokio::test]
async fn a_tls_listener_on_every_interface_says_what_its_certificate_names() {
    let home = tempfile::tempdir().unwrap();
    let certs = home.path().join("certs");
    let init = frametap().args(["certs", "init", "--certs"]).arg(&certs).output().await.unwrap();
    assert!(init.status.success(), "{init:?}");
    let tls_args =
        ["proxy", "--no-ui", "--no-capture", "--tls", "--listen", "0.0.0.0:0", "--certs", certs.to_str().unwrap()];
    let (mut child, mut lines) = spawn_reading_stderr(tls_args, home.path());
    let warning = loop {
        let line = lines.next_line().await.unwrap().expect("the certificate warning before stderr ends");
        if line.contains("Ctrl-C stops") {
            panic!("the banner ended without the certificate warning");
        }
        if line.contains("certificate names") {
            break line;
        }
    };
    assert!(
        warning.contains("localhost, 127.0.0.1 and ::1 only") && warning.contains("Give that address to --listen"),
        "{warning}"
    );
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) };
    assert!(child.wait().await.unwrap().success());
}

#[cfg(unix)]
#[tokio::test]
async fn a_real_run_logs_frames_and_saves_a_private_capture_on_sigterm() {
    use futures_util::{SinkExt, StreamExt};
    let server = common::start_echo_server().await;
    let upstream = format!("ws://{server}");
    let mut proxy = RunningProxy::start(&["--ui", "127.0.0.1:0", "--upstream", &upstream]).await;
    let url = proxy.banner.url.clone();
    let ui = proxy.banner.ui.clone().expect("the banner prints the UI's URL");
    assert!(ui.starts_with("http://127.0.0.1:") && ui.contains("token="), "the UI's URL carries its token: {ui}");
    let capture_path = proxy.banner.capture.clone().expect("the banner names the capture");
    assert!(capture_path.starts_with(proxy.home.path().join("captures").to_str().unwrap()), "{capture_path}");
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}/v1?deploymentId=x")).await.unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::text(r#"{"action": "echo"}"#)).await.unwrap();
    ws.next().await.unwrap().unwrap();
    let mut logged = Vec::new();
    while !logged.iter().any(|l: &String| l.contains("#1 S→C text")) {
        logged.push(proxy.stdout.next_line().await.unwrap().expect("the server's frame is logged"));
    }
    assert!(logged[0].contains("#1 GET /v1?deploymentId=x"), "{logged:?}");
    // The payload as sent, not re-serialised.
    assert!(logged.iter().any(|l| l.contains("#1 C→S text") && l.contains(r#"{"action": "echo"}"#)), "{logged:?}");
    // deploymentId in the URL selects the Genesys profile, which annotates (and lints) the request.
    assert!(logged.iter().any(|l| l.contains("↳ echo") && l.contains("configureSession")), "{logged:?}");
    let pid = proxy.child.id().unwrap() as i32;
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let close = ws.next().await.unwrap().unwrap();
    assert!(matches!(close, tokio_tungstenite::tungstenite::Message::Close(Some(ref f)) if u16::from(f.code) == 1001));
    assert!(ws.next().await.is_none(), "the close handshake completes");
    drop(ws);
    let status = proxy.child.wait().await.unwrap();
    assert!(status.success(), "exit status {status}");
    let text = std::fs::read_to_string(&capture_path).unwrap();
    assert!(text.lines().last().unwrap().contains(r#""kind":"end""#), "{text}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&capture_path).unwrap().permissions().mode() & 0o777, 0o600);
}

/// The README's first command, as a newcomer runs it: no --upstream, so the built-in simulator answers;
/// the seed story's broken first frame gets a close and a diagnosis that names it, live and in `inspect`.
#[cfg(unix)]
#[tokio::test]
async fn the_first_run_works_offline_and_explains_the_close() {
    let mut proxy = RunningProxy::start(&["--no-ui"]).await;
    assert!(proxy.banner.simulator_notice, "the banner says loudly that the upstream is a simulator");
    assert!(proxy.banner.url.contains("/v1?deploymentId="), "{}", proxy.banner.url);
    let capture = proxy.banner.capture.clone();
    let live = send_a_first_message_without_action(&proxy.banner.url, &mut proxy.stdout).await;
    assert!(live.contains("preceding frame #1"), "{live}");
    let _home = proxy.stop().await;
    let output = frametap().args(["inspect", capture.as_deref().unwrap(), "--json"]).output().await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let conn = &report["connections"][0];
    assert_eq!(conn["close"]["initiator"], "server");
    assert_eq!(conn["close"]["code"], 1000);
    assert_eq!(conn["close"]["preceding_seq"], 1, "the diagnosis names the broken first frame");
    let findings = conn["findings"].to_string();
    assert!(findings.contains("action") && findings.contains("configureSession"), "{findings}");
    // This client dropped TCP instead of answering the server's close: that is reported, but last,
    // and never as the reason the server closed.
    let causes = conn["diagnosis"]["causes"].as_array().unwrap();
    assert_eq!(causes[0]["rule"], "protocol-lint", "{causes:?}");
    assert_eq!(causes.last().unwrap()["rule"], "close-unanswered", "{causes:?}");
    assert!(causes.iter().all(|c| c["rule"] != "tcp-drop"), "{causes:?}");
    let text = report.to_string().to_lowercase();
    assert!(!text.contains("guest:write"), "no forum guesswork about scopes");
}

/// `--quiet` keeps what the user came for, the close and its diagnosis, and drops the line per frame. With no
/// capture and no UI nothing reads frame records: the relay analyses them where they arrive and hands the
/// pipeline only the diagnosis, which must still name the frame that preceded the close.
#[cfg(unix)]
#[tokio::test]
async fn quiet_prints_only_how_a_connection_ended_and_why() {
    let mut proxy = RunningProxy::start(&["--no-ui", "--no-capture", "--quiet"]).await;
    assert_eq!(proxy.banner.capture, None, "--no-capture");
    let live = send_a_first_message_without_action(&proxy.banner.url, &mut proxy.stdout).await;
    let closed = live.lines().find(|l| l.contains("CLOSED first by server: 1000")).expect("the close line");
    // In the unit that fits, as the diagnosis block says it ("after 1.4 ms"), not "after 0.001 s".
    let after = closed.rsplit_once(", after ").expect("how long the connection lived").1;
    let after = after.split(" — ").next().unwrap();
    assert!(after.ends_with(" ms") && after.trim_end_matches(" ms").parse::<f64>().is_ok(), "{closed}");
    assert!(live.contains("preceding frame #1"), "the diagnosis names the frame without `action`: {live}");
    assert!(!live.contains("C→S") && !live.contains("S→C"), "no line per frame: {live}");
    assert!(!live.contains(" GET /v1") && !live.contains("↳"), "no open lines, no annotations: {live}");
    proxy.stop().await;
}

/// `--capture-format compact`: the default capture gets `.ftcap`, is private, and `inspect` explains its close
/// as it does a JSON Lines capture's.
#[cfg(unix)]
#[tokio::test]
async fn a_compact_capture_is_saved_and_inspected_like_json_lines() {
    use std::os::unix::fs::PermissionsExt;
    let mut proxy = RunningProxy::start(&["--no-ui", "--quiet", "--capture-format", "compact"]).await;
    let capture = proxy.banner.capture.clone().unwrap();
    assert!(capture.ends_with(".ftcap"), "{capture}");
    send_a_first_message_without_action(&proxy.banner.url, &mut proxy.stdout).await;
    let _home = proxy.stop().await;
    assert_eq!(std::fs::metadata(&capture).unwrap().permissions().mode() & 0o777, 0o600);
    let output = frametap().args(["inspect", &capture, "--json"]).output().await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["connections"][0]["close"]["preceding_seq"], 1);
    assert_eq!(report["connections"][0]["diagnosis"]["causes"][0]["rule"], "protocol-lint");
}

/// A closed stderr (`frametap proxy 2>&1 | head`, once `head` has exited) must not stop frametap: it relays
/// and diagnoses on, and stops cleanly, though every line it still prints on stderr fails.
#[cfg(unix)]
#[tokio::test]
async fn a_closed_stderr_does_not_stop_frametap() {
    let mut proxy = RunningProxy::start(&["--no-ui", "--no-capture"]).await;
    proxy.banner.stderr = None;
    let live = send_a_first_message_without_action(&proxy.banner.url, &mut proxy.stdout).await;
    assert!(live.contains("preceding frame #1"), "{live}");
    let _home = proxy.stop().await;
}

/// `frametap inspect FILE | head` (or `| less`, quit early): a reader that stops reading is no error. The read
/// end of stdout's pipe is closed before frametap starts, so its very first write fails with EPIPE.
#[cfg(unix)]
#[tokio::test]
async fn inspect_into_a_pipe_nobody_reads_ends_quietly() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: `pipe` fills both descriptors, each then owned exactly once.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (read_end, write_end) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read_end);
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seed-story.jsonl");
    for json in [false, true] {
        let mut command = frametap();
        command.args(["inspect", fixture]).args(json.then_some("--json"));
        command.stdout(write_end.try_clone().unwrap()).stderr(Stdio::piped());
        let output = command.spawn().unwrap().wait_with_output().await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success() && stderr.is_empty(), "json {json}: {:?} {stderr}", output.status);
    }
}

/// The time a terminal line is stamped with (`HH:MM:SS.mmm` at its start).
fn stamp(line: &str) -> chrono::NaiveTime {
    chrono::NaiveTime::parse_from_str(&line[..12], "%H:%M:%S%.3f").unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

/// An upstream's HTML error page used to be printed as it came, line after line, twice (under the refused
/// upgrade and in its diagnosis's evidence), breaking the log's one-line-per-thing layout.
#[cfg(unix)]
#[tokio::test]
async fn an_upstream_error_page_is_one_line_in_the_log() {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    let page = format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <title>Not Found</title>\n  </head>\n  <body>\n{}  </body>\n</html>\n",
        "    <p>Nothing matches the given URI.</p>\n".repeat(40)
    );
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let page = page.clone();
            tokio::spawn(async move {
                common::raw::read_head(&mut stream).await;
                let answer = format!("HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\n\r\n{page}", page.len());
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    let upstream_url = format!("ws://{upstream}");
    let mut proxy = RunningProxy::start(&["--no-ui", "--no-capture", "--upstream", &upstream_url]).await;
    let addr = proxy.banner.url.trim_start_matches("ws://").split('/').next().unwrap().parse().unwrap();
    let (head, ws, _) = common::raw::connect(addr, "/chat", &[]).await;
    assert!(head.starts_with("HTTP/1.1 404") && ws.is_none(), "{head}");
    let mut lines = Vec::new();
    let read = async {
        while !lines.last().is_some_and(|l: &String| l.contains("the upstream said")) {
            lines.push(proxy.stdout.next_line().await.unwrap().expect("the diagnosis block"));
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), read).await.expect("a diagnosis is printed");
    let log = lines.join("\n");
    let body = lines.iter().find(|l| l.trim_start().starts_with("body:")).expect(&log);
    let said = lines.last().unwrap();
    for line in [body, said] {
        assert!(line.contains("<!DOCTYPE html> <html> <head> <title>Not Found</title>"), "folded: {line}");
        assert!(line.chars().count() < 500 && line.ends_with('…'), "cut: {line}");
    }
    assert!(!lines.iter().any(|l| l.trim_start().starts_with('<')), "a raw line of the page: {log}");
    proxy.stop().await;
}

/// A failed upgrade used to print its failure with the request's time (an upstream that refused after a
/// delay read as one that refused at once), and the notes about its handshake after its diagnosis.
#[cfg(unix)]
#[tokio::test]
async fn a_failed_upgrade_is_stamped_when_it_failed_and_its_notes_come_before_its_diagnosis() {
    use tokio::io::AsyncWriteExt;
    const DELAY: std::time::Duration = std::time::Duration::from_millis(700);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                common::raw::read_head(&mut stream).await;
                tokio::time::sleep(DELAY).await;
                let answer = "HTTP/1.1 403 Forbidden\r\nContent-Length: 19\r\n\r\norigin not allowed\n";
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    let upstream_url = format!("ws://{upstream}");
    let mut proxy = RunningProxy::start(&["--no-ui", "--upstream", &upstream_url]).await;
    let addr = proxy.banner.url.trim_start_matches("ws://").split('/').next().unwrap().parse().unwrap();
    // A browser's request: it offers compression and sends the cookies it holds for 127.0.0.1.
    let browser = [("Cookie", "sid=1"), ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")];
    let (head, ws, _) = common::raw::connect(addr, "/chat", &browser).await;
    assert!(head.starts_with("HTTP/1.1 403") && ws.is_none(), "{head}");
    let mut lines = Vec::new();
    let read = async {
        while !lines.last().is_some_and(|l: &String| l.contains("upgrade-refused")) {
            lines.push(proxy.stdout.next_line().await.unwrap().expect("the diagnosis block"));
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), read).await.expect("a diagnosis is printed");
    let log = lines.join("\n");
    let at = |needle: &str| lines.iter().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle}: {log}"));
    let (request, refused) = (&lines[at("#1 GET /chat")], &lines[at("#1 UPGRADE REFUSED with 403")]);
    let waited = (stamp(refused) - stamp(request)).to_std().unwrap();
    assert!(waited >= DELAY - std::time::Duration::from_millis(5), "{waited:?}:\n{log}");
    assert!(refused.contains("after the request)"), "{refused}");
    let diagnosis = at("diagnosis conn 1");
    assert!(
        at("info: the client offered") < diagnosis && at("info: dropped the client's Cookie header") < diagnosis,
        "{log}"
    );
    let offered = &lines[at("info: the client offered")];
    assert!(offered.contains("from the request it sent upstream") && !offered.contains("both legs"), "{offered}");

    let capture_path = proxy.banner.capture.clone().expect("a capture");
    let _home = proxy.stop().await;
    let capture = frametap::capture::read_capture(std::path::Path::new(&capture_path)).unwrap();
    let kinds: Vec<&str> = capture.records.iter().filter(|r| r.conn() == Some(1)).map(|r| r.kind()).collect();
    assert_eq!(kinds, ["open", "note", "note", "diagnosis"], "docs/capture-format.md's order");
    let Some(frametap::event::Record::Open(open)) = capture.records.iter().find(|r| r.kind() == "open") else {
        unreachable!()
    };
    let failed_ms = open.failed_ms.expect("a failed upgrade says when it failed");
    assert!(failed_ms >= DELAY.as_secs_f64() * 1000.0 && open.failed_at().is_some(), "{open:?}");
    let Some(frametap::event::Record::Diagnosis(d)) = capture.records.iter().find(|r| r.kind() == "diagnosis") else {
        unreachable!()
    };
    assert_eq!(Some(d.ts), open.failed_at(), "the diagnosis is dated when the upgrade failed");
    assert_eq!(d.details["duration_ms"], serde_json::json!(failed_ms));
}

/// Every test starts the binary through `common::binary::frametap_command`, which clears `COLUMNS`: one started
/// directly inherited the width of the terminal `cargo test` ran in (`scripts/test.sh` unsets it, a plain
/// `cargo test` does not), and its log lines were cut to it.
#[test]
fn every_test_starts_the_binary_through_the_helper_that_clears_columns() {
    fn rust_files(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    let tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut files = Vec::new();
    rust_files(&tests, &mut files);
    let binary = concat!("CARGO_BIN_EXE_", "frametap");
    let direct: Vec<_> = files
        .iter()
        .filter(|path| !path.ends_with("common/binary.rs"))
        .filter(|path| std::fs::read_to_string(path).unwrap().contains(binary))
        .collect();
    assert!(direct.is_empty(), "start the binary with common::binary::frametap_command(): {direct:#?}");
}
