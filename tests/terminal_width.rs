//! What frametap prints fitted to the width it is read at, from the real binary: frame lines on a real terminal and
//! after a resize, a `COLUMNS` that is no width, a cut that never shows a piece of a secret under `--redact`, and the
//! notices on stderr (the start banner, "shutting down…", "capture saved") fitted as the log's lines are, on a
//! terminal or with `COLUMNS`, and whole in a pipe.
#![cfg(unix)]

mod common;

use common::binary::{frametap_command, read_until, send_a_first_message_without_action, spawn_proxy, RunningProxy};
use common::terminal::Terminal;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// How long a test waits for a line the proxy should print.
const WAIT: Duration = Duration::from_secs(30);

/// A line's width on screen (every character these tests print takes one column).
fn width(line: &str) -> usize {
    line.chars().count()
}

/// True when `line` fits `columns`, or is one word (a URL, a path) longer than a line, which is never cut.
fn fits(line: &str, columns: usize) -> bool {
    width(line) <= columns || !line.trim().contains(' ')
}

/// A `COLUMNS` that is no width is said so at start, and ignored: the log keeps whole lines, as in any pipe.
#[tokio::test]
async fn a_columns_that_is_no_width_is_warned_about_and_ignored() {
    let mut proxy = RunningProxy::start_with(&["--no-ui", "--no-capture"], &[("COLUMNS", Some("80x24"))]).await;
    let said = "frametap: warning: COLUMNS=\"80x24\" is not a number of columns, so the log ignores it; \
                set a whole number (COLUMNS=120) or unset it";
    assert!(proxy.banner.lines.iter().any(|l| l == said), "{:#?}", proxy.banner.lines);
    let live = send_a_first_message_without_action(&proxy.banner.url, &mut proxy.stdout).await;
    proxy.stop().await;
    assert!(live.lines().any(|l| width(l) > 80), "no width applied: {live}");
}

/// A real terminal (a pseudo-terminal of 100 columns, then resized to 72): frame lines fit the width the
/// terminal says, and follow it when the window is resized while frametap runs.
#[tokio::test]
async fn a_terminal_gets_lines_of_its_width_and_a_resize_is_followed() {
    let server = common::start_echo_server().await;
    let upstream = format!("ws://{server}");
    let mut terminal = Terminal::open(100);
    let args = ["--no-ui", "--no-capture", "--upstream", &upstream];
    let (mut child, banner, _home) = spawn_proxy(&args, &[], terminal.slave()).await;
    let long = "word ".repeat(100);
    let wait_for_frames = |columns: usize| {
        let mut frames = Vec::new();
        while frames.len() < 2 {
            let line = terminal.lines.recv_timeout(WAIT).expect("the frame lines on the terminal");
            if line.contains("C→S text") || line.contains("S→C text") {
                frames.push(line);
            }
        }
        for frame in frames {
            assert!(frame.ends_with('…') && (columns - 2..=columns).contains(&width(&frame)), "{columns}: {frame:?}");
        }
    };
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}/chat", banner.url)).await.unwrap();
    ws.send(Message::text(long.clone())).await.unwrap();
    ws.next().await.unwrap().unwrap();
    wait_for_frames(100);
    terminal.resize(72);
    ws.send(Message::text(long)).await.unwrap();
    ws.next().await.unwrap().unwrap();
    wait_for_frames(72);
    drop(ws);
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) };
    assert!(child.wait().await.unwrap().success());
}

/// Under `--redact` the log cuts previews of payloads that are already masked: at 80 columns the cut falls at
/// every place of the session token in turn (the text before it grows by one character a frame), and no piece
/// of the token shows, in the frame lines nor in the diagnosis quoting the last frame.
#[tokio::test]
async fn no_piece_of_a_secret_shows_wherever_the_width_cuts_a_redacted_preview() {
    const SECRET: &str = "sEcReT-vAlUe-0123456789-kLmNoP";
    let server = common::start_echo_server().await;
    let upstream = format!("ws://{server}");
    let args = ["--no-ui", "--no-capture", "--redact", "--upstream", &upstream];
    let mut proxy = RunningProxy::start_with(&args, &[("COLUMNS", Some("80"))]).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}/chat", proxy.banner.url)).await.unwrap();
    for before in 0..40 {
        let text = format!(r#"{{"x":"{}","token":"{SECRET}","text":"again {SECRET}"}}"#, "x".repeat(before));
        ws.send(Message::text(text)).await.unwrap();
        ws.next().await.unwrap().unwrap();
    }
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    let lines = read_until(&mut proxy.stdout, |l| l.contains("CLOSED")).await;
    let (rest, _home) = proxy.stop_reading_the_rest().await;
    let log = [lines, rest].concat().join("\n");
    assert!(log.contains("diagnosis conn 1"), "{log}");
    let frames = log.lines().filter(|l| l.contains("C→S text")).count();
    assert_eq!(frames, 40, "{log}");
    assert!(log.contains("…") && !log.contains(&SECRET[..3]), "a piece of the secret:\n{log}");
}

/// `COLUMNS=40` in a pipe: every line of the start banner, "shutting down…" and "capture saved" fits 40 columns, but
/// for a word longer than a line (the web UI's URL with its token, the capture's path), which stands whole on a line
/// of its own; a banner row puts its value under its label. Without `COLUMNS`, a pipe keeps every line whole. (The
/// banner's rows were 45–122 columns wide whatever the width.)
#[tokio::test]
async fn the_banner_and_the_shutdown_lines_fit_columns_and_a_pipe_keeps_them_whole() {
    let mut proxy = RunningProxy::start_with(&["--ui", "127.0.0.1:0"], &[("COLUMNS", Some("40"))]).await;
    let ui = proxy.banner.ui.clone().expect("the web UI's URL, read from the fitted banner");
    let capture = proxy.banner.capture.clone().expect("the capture's path, read from the fitted banner");
    let banner = proxy.banner.lines.clone();
    let mut stderr = proxy.banner.stderr.take().unwrap();
    let _home = proxy.stop().await;
    let mut rest = Vec::new();
    while let Some(line) = stderr.next_line().await.unwrap() {
        rest.push(line);
    }
    let all = [banner.clone(), rest.clone()].concat();
    assert!(all.iter().all(|line| fits(line, 40)), "wider than 40:\n{}", all.join("\n"));
    assert!(banner.contains(&"  web UI".to_owned()) && banner.contains(&format!("    {ui}")), "{banner:#?}");
    let said = rest.join(" ");
    assert!(said.contains("frametap: shutting down…") && said.contains("capture saved to"), "{rest:#?}");
    assert!(rest.iter().any(|line| line.trim() == capture), "the path whole, on a line of its own: {rest:#?}");

    let mut proxy = RunningProxy::start(&["--ui", "127.0.0.1:0"]).await;
    let row = proxy.banner.lines.iter().find(|l| l.starts_with("  web UI")).cloned().unwrap_or_default();
    assert!(row.ends_with(proxy.banner.ui.as_deref().unwrap()) && width(&row) > 80, "one whole row: {row:?}");
    let mut stderr = proxy.banner.stderr.take().unwrap();
    let _home = proxy.stop().await;
    let mut rest = Vec::new();
    while let Some(line) = stderr.next_line().await.unwrap() {
        rest.push(line);
    }
    assert!(
        rest.iter().any(|l| l.starts_with("frametap: capture saved to /") && l.ends_with(')')),
        "one whole line: {rest:#?}"
    );
}

/// stderr on a real terminal 40 columns wide (a pseudo-terminal), no `COLUMNS`: the banner, "shutting down…" and
/// "capture saved" fit it, as the frame lines fit the terminal stdout is on.
#[tokio::test]
async fn the_banner_and_the_shutdown_lines_fit_the_terminal_stderr_is_on() {
    let home = tempfile::tempdir().unwrap();
    let mut terminal = Terminal::open(40);
    let mut child = tokio::process::Command::from(frametap_command())
        .args(["proxy", "--listen", "127.0.0.1:0", "--ui", "127.0.0.1:0"])
        .env("FRAMETAP_HOME", home.path())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(terminal.slave())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut printed = Vec::new();
    while !printed.last().is_some_and(|l: &String| l.contains("1001")) {
        printed.push(terminal.lines.recv_timeout(WAIT).expect("the banner, up to \"Ctrl-C stops\""));
    }
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) };
    assert!(child.wait().await.unwrap().success());
    // The terminal's reader ends once frametap, the only holder of its slave side, has exited.
    while let Ok(line) = terminal.lines.recv_timeout(WAIT) {
        printed.push(line);
    }
    assert!(printed.iter().all(|line| fits(line, 40)), "wider than 40:\n{}", printed.join("\n"));
    let said = printed.join(" ");
    assert!(said.contains("web UI") && said.contains("capture saved to"), "{printed:#?}");
}

/// The web UI's URL just short of the width (`COLUMNS` two columns wider than it): its row puts it under its label at
/// column 4, where the other values are. Before, a value that fitted the width but not after its indent gave way to
/// the left, to column 2, where the rows' labels start.
#[tokio::test]
async fn a_url_just_short_of_the_width_starts_where_the_other_values_do() {
    // `http://127.0.0.1:PORT/?token=` and 32 characters of token, PORT an ephemeral port of five digits.
    let url_columns = "http://127.0.0.1:".len() + 5 + "/?token=".len() + 32;
    let columns = (url_columns + 2).to_string();
    let proxy =
        RunningProxy::start_with(&["--ui", "127.0.0.1:0", "--no-capture"], &[("COLUMNS", Some(&columns))]).await;
    let ui = proxy.banner.ui.clone().expect("the web UI's URL, read from the fitted banner");
    let banner = proxy.banner.lines.clone();
    proxy.stop().await;
    assert!(width(&ui) >= url_columns - 1, "a port of five digits (or four): {ui}");
    assert!(banner.contains(&"  web UI".to_owned()) && banner.contains(&format!("    {ui}")), "{banner:#?}");
    assert!(
        !banner.iter().any(|line| line.trim_start().starts_with("http") && !line.starts_with("    ")),
        "{banner:#?}"
    );
}

/// At 20 columns (a phone's ssh session, a split pane), a frame's direction and opcode keep one line, the opcode whole:
/// by its name, or by its short name where the name would run past the edge (`cont`); and no line runs past the edge,
/// but a word longer than a line. Before, the direction and the opcode were wrapped as words (`C→S` on one line,
/// `continuation` on the next), and a last fragment with an empty payload kept its whole 52-column line.
#[tokio::test]
async fn at_20_columns_a_frames_direction_and_opcode_keep_one_line() {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    let server = common::start_echo_server().await;
    let upstream = format!("ws://{server}");
    let args = ["--no-ui", "--no-capture", "--upstream", &upstream];
    let mut proxy = RunningProxy::start_with(&args, &[("COLUMNS", Some("20"))]).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}/chat", proxy.banner.url)).await.unwrap();
    let parts = [(&b"{\"a\":"[..], Data::Text, false), (b"1}", Data::Continue, false), (b"", Data::Continue, true)];
    for (part, data, fin) in parts {
        ws.send(Message::Frame(Frame::message(part.to_vec(), OpCode::Data(data), fin))).await.unwrap();
    }
    ws.next().await.unwrap().unwrap();
    ws.send(Message::binary(vec![7u8; 40])).await.unwrap();
    ws.next().await.unwrap().unwrap();
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    let lines = read_until(&mut proxy.stdout, |l| l.contains("CLOSED")).await;
    proxy.stop().await;
    let log = lines.join("\n");
    assert!(lines.iter().all(|line| fits(line, 20)), "wider than 20:\n{log}");
    let opcodes = ["text", "binary", "close", "ping", "pong", "continuation", "cont", "bin"];
    let mut said = Vec::new();
    for line in &lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        for (i, word) in words.iter().enumerate().filter(|(_, w)| ["C→S", "S→C"].contains(w)) {
            let opcode = words.get(i + 1).copied().unwrap_or("(none)");
            assert!(opcodes.contains(&opcode), "{word} without its opcode on its line {line:?}:\n{log}");
            said.push(format!("{word} {opcode}"));
        }
    }
    for frame in ["C→S text", "C→S cont", "S→C text", "C→S binary", "S→C binary", "C→S close", "S→C close"]
    {
        assert!(said.contains(&frame.to_owned()), "{frame} in {said:?}:\n{log}");
    }
    assert_eq!(said.iter().filter(|s| *s == "C→S cont").count(), 2, "{said:?}");
}
