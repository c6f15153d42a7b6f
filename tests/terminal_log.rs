//! The live terminal log as people who watch it all day read it, from the real binary over real relayed
//! connections: columns that stay put from #1 to #150 and for frames of 10 MB and more, frame lines fitted to the
//! terminal (or `COLUMNS`), close reasons escaped before they are cut, diagnoses wrapped under their connection,
//! and whole lines in a pipe (a real terminal, its resize, the banner's width and a redacted cut: terminal_width.rs).
#![cfg(unix)]

mod common;

use common::binary::{read_until, send_a_first_message_without_action, RunningProxy};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// How long a test waits for a line the proxy should print.
const WAIT: Duration = Duration::from_secs(30);

/// True for a line of the log stamped with its time (`07:20:22.554 …`), not one of a diagnosis block.
fn stamped(line: &str) -> bool {
    let bytes = line.as_bytes();
    bytes.len() > 13 && bytes[2] == b':' && bytes[5] == b':' && bytes[8] == b'.' && bytes[12] == b' '
}

/// The column (in characters) where `needle` starts in `line`.
fn column_of(line: &str, needle: &str) -> Option<usize> {
    line.find(needle).map(|at| line[..at].chars().count())
}

/// A line's width on screen (every character these tests print takes one column).
fn width(line: &str) -> usize {
    line.chars().count()
}

/// One WebSocket connection through the proxy at `url`: sends `message`, waits for the echo, closes.
async fn echo_once(url: &str, message: Message) {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}/chat")).await.unwrap();
    ws.send(message).await.unwrap();
    ws.next().await.unwrap().unwrap();
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
}

/// `#10` used to push its row one column right of `#9`'s (and `#100` two), and a frame of 10 MB or more overflowed
/// the size column: now every line's connection ends at one column, and every frame line's direction, opcode,
/// size and preview start at one column each, from #1 to #150, for 7-byte texts and 12 MiB binaries alike.
#[tokio::test]
async fn columns_stay_put_from_connection_1_to_150_and_for_frames_of_10_mb_and_more() {
    let server = common::start_echo_server().await;
    let upstream = format!("ws://{server}");
    let mut proxy = RunningProxy::start(&["--no-ui", "--no-capture", "--upstream", &upstream]).await;
    let url = proxy.banner.url.clone();
    // The log is read while the connections run: a full pipe would hold the relay back.
    let clients = tokio::spawn(async move {
        for conn in 1..=150u32 {
            let message = match conn % 50 {
                0 => Message::binary(vec![7u8; 12 << 20]),
                _ => Message::text(format!("hello {conn}")),
            };
            echo_once(&url, message).await;
        }
    });
    let lines = read_until(&mut proxy.stdout, |l| stamped(l) && l.contains("#150 CLOSED")).await;
    clients.await.unwrap();
    proxy.stop().await;
    let log = lines.join("\n");
    let mut conn_ends = std::collections::BTreeSet::new();
    let mut frame_columns = std::collections::BTreeSet::new();
    let mut conns_seen = std::collections::BTreeSet::new();
    for line in lines.iter().filter(|l| stamped(l)) {
        let after_time = line[13..].trim_start();
        let Some(number) = after_time.strip_prefix('#') else { continue };
        let digits: String = number.chars().take_while(char::is_ascii_digit).collect();
        conns_seen.insert(digits.parse::<u32>().unwrap());
        conn_ends.insert(column_of(line, &format!("#{digits} ")).unwrap() + 1 + digits.len());
        if let Some(arrow) = column_of(line, "C→S").or_else(|| column_of(line, "S→C")) {
            let size_end = column_of(line, "B  ").unwrap_or_else(|| panic!("no size: {line}"));
            let preview = size_end + 3;
            let opcode = arrow + 4;
            frame_columns.insert((arrow, opcode, size_end, preview));
            assert!(line.chars().nth(opcode).is_some_and(|c| c.is_ascii_lowercase()), "{line}");
        }
    }
    assert_eq!(conns_seen, (1..=150).collect(), "every connection is logged:\n{log}");
    assert_eq!(conn_ends.len(), 1, "every line's connection ends at one column: {conn_ends:?}\n{log}");
    assert_eq!(frame_columns.len(), 1, "every frame line keeps its columns: {frame_columns:?}\n{log}");
    let big: Vec<&String> = lines.iter().filter(|l| l.contains(" binary ")).collect();
    assert_eq!(big.len(), 6, "3 twelve-MiB frames each way: {big:#?}");
    assert!(big.iter().all(|l| l.contains(" 12.0 MiB  hex 07 07")), "{big:#?}");
}

/// The seed story (the simulator closes after a first message without `action`) as its log prints it, to the end.
async fn the_first_mistake(env: &[(&str, Option<&str>)]) -> Vec<String> {
    let mut proxy = RunningProxy::start_with(&["--no-ui", "--no-capture"], env).await;
    let live = send_a_first_message_without_action(&proxy.banner.url, &mut proxy.stdout).await;
    let (rest, _home) = proxy.stop_reading_the_rest().await;
    live.lines().map(str::to_owned).chain(rest).collect()
}

/// The diagnosis block of connection 1: its lines up to the next stamped line.
fn diagnosis_block(lines: &[String]) -> &[String] {
    let start = lines.iter().position(|l| l.starts_with("  diagnosis conn 1: ")).expect("a diagnosis");
    let end = lines[start..].iter().position(|l| stamped(l)).map_or(lines.len(), |n| start + n);
    &lines[start..end]
}

/// The words of some lines in order, each number masked as `0` (two runs differ in their timings, and a time may
/// take more or fewer digits in one: a kernel round trip of `0.027` ms in one run, `0.03` in the next).
fn words(lines: &[String]) -> Vec<String> {
    let masked = |w: &str| {
        let mut out = String::new();
        let mut in_number = false;
        for c in w.chars() {
            let numeric = c.is_ascii_digit() || (in_number && c == '.');
            if !numeric {
                out.push(c);
            } else if !in_number {
                out.push('0');
            }
            in_number = numeric;
        }
        out
    };
    lines.iter().flat_map(|l| l.split_whitespace().map(masked).collect::<Vec<String>>()).collect()
}

/// `COLUMNS` (what a terminal would say, without one): the frame lines fit 80 columns, and the diagnosis wraps at
/// 80 with a hanging indent (a cause goes on under its text, its evidence under its bullet) instead of running
/// back to the first column, every word of it kept. In a pipe without `COLUMNS`, each cause and each piece of
/// evidence stays one whole line, as a `grep` through a log file wants it.
#[tokio::test]
async fn columns_fits_frames_to_the_width_and_wraps_the_diagnosis_under_its_connection() {
    let sent = r#"{"type":"message","content":"Hello from custom UI","timestamp":1764097800000}"#;
    let piped = the_first_mistake(&[]).await;
    let log = piped.join("\n");
    assert!(piped.iter().any(|l| l.contains("C→S text") && l.ends_with(&format!("77 B  {sent}"))), "{log}");
    let whole = diagnosis_block(&piped);
    let cause = whole.iter().find(|l| l.starts_with("      1. ")).expect(&log);
    let evidence = whole.iter().find(|l| l.starts_with("         · ")).expect(&log);
    assert!(width(cause) > 80 && width(evidence) > 80, "one long line each in a pipe:\n{log}");

    let fitted = the_first_mistake(&[("COLUMNS", Some("80"))]).await;
    let log = fitted.join("\n");
    for line in &fitted {
        assert!(width(line) <= 80 || line.split_whitespace().count() == 1, "wider than 80: {line:?}\n{log}");
    }
    let frame = fitted.iter().find(|l| l.contains("C→S text")).expect(&log);
    assert!(frame.ends_with('…') && width(frame) >= 78, "fitted, not merely cut: {frame:?}");
    let block = diagnosis_block(&fitted);
    assert!(block[1..].iter().all(|l| l.starts_with("    ")), "under its connection:\n{log}");
    assert_eq!(words(block), words(whole), "every word kept, in order");
    let cause = block.iter().position(|l| l.starts_with("      1. ")).expect(&log);
    assert!(block[cause + 1].starts_with("         ") && !block[cause + 1][9..].starts_with(' '), "{log}");
    let evidence = block.iter().position(|l| l.starts_with("         · ")).expect(&log);
    assert!(block[evidence + 1].starts_with("           ") && !block[evidence + 1][11..].starts_with(' '), "{log}");
}

/// The log of a proxy with `COLUMNS=columns`, up to the line `last` takes, for one connection through it that the
/// client closes with 1000 and `reason`.
async fn closed_with(reason: &str, columns: &str, last: impl Fn(&str) -> bool) -> Vec<String> {
    use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
    let server = common::start_echo_server().await;
    let upstream = format!("ws://{server}");
    let args = ["--no-ui", "--no-capture", "--upstream", &upstream];
    let mut proxy = RunningProxy::start_with(&args, &[("COLUMNS", Some(columns))]).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}/chat", proxy.banner.url)).await.unwrap();
    ws.close(Some(CloseFrame { code: CloseCode::Normal, reason: reason.to_owned().into() })).await.unwrap();
    while ws.next().await.is_some() {}
    let lines = read_until(&mut proxy.stdout, last).await;
    proxy.stop().await;
    lines
}

/// A close reason with control characters is shown escaped (`\n`, `\u{7}`), and escaped before it is cut to the
/// width: cut first, its escapes ran the line past `COLUMNS` by as many columns as they added.
#[tokio::test]
async fn a_close_reason_is_escaped_before_it_is_cut_so_its_line_fits() {
    let reason = "line one\nline\ttwo\u{7}\r\n".repeat(5);
    let lines = closed_with(&reason, "100", |l| stamped(l) && l.contains("CLOSED")).await;
    let log = lines.join("\n");
    let close = lines.iter().find(|l| l.contains("C→S close")).expect(&log);
    assert!(width(close) <= 100, "wider than 100 ({}): {close:?}", width(close));
    assert!(close.contains(r#"reason "line one\nline\ttwo\u{7}"#) && close.ends_with("…\""), "{close:?}");
    assert!(!close.contains(['\n', '\t', '\u{7}', '\r']), "control characters are escaped: {close:?}");
}

/// A close frame's line fits an 80-column terminal like any frame's: its reason used to keep a preview's least room
/// after the code and its name, so the line ran past the edge by up to fifteen columns. Now the reason gives way,
/// then the code's standard name; the CLOSED line still says it all.
#[tokio::test]
async fn a_close_frames_line_fits_an_80_column_terminal() {
    let reason = "the user left the chat window";
    let lines = closed_with(reason, "80", |l| l.contains("clean close")).await;
    let log = lines.join("\n");
    for close in lines.iter().filter(|l| l.contains(" close ")) {
        assert!(width(close) <= 80, "wider than 80 ({}): {close:?}\n{log}", width(close));
        assert!(close.contains(" 1000 reason \"the user left") && close.ends_with("…\""), "{close:?}");
    }
    let closed = lines.iter().position(|l| l.contains("CLOSED")).expect(&log);
    let closed = lines[closed..].iter().flat_map(|l| l.split_whitespace()).collect::<Vec<_>>().join(" ");
    assert!(closed.contains(reason), "the CLOSED line (wrapped) gives the whole reason: {log}");
}

/// A frame holding a right-to-left override (U+202E, "Trojan Source") cannot reorder its log line on screen: the
/// override is shown escaped, in the frame's line and in the diagnosis quoting it; the echo is relayed exactly.
#[tokio::test]
async fn a_bidirectional_override_in_a_frame_is_shown_escaped_not_obeyed() {
    let server = common::start_echo_server().await;
    let upstream = format!("ws://{server}");
    let mut proxy = RunningProxy::start_with(&["--no-ui", "--no-capture", "--upstream", &upstream], &[]).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}/chat", proxy.banner.url)).await.unwrap();
    let sent = "invoice \u{202e}fdp.exe\u{2069} attached";
    ws.send(Message::text(sent)).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text(sent), "relayed as sent");
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    let lines = read_until(&mut proxy.stdout, |l| l.contains("ruled out") || l.contains("causes:")).await;
    proxy.stop().await;
    let log = lines.join("\n");
    assert!(!log.contains(['\u{202e}', '\u{2069}']), "an override reached the terminal: {log:?}");
    let frame = lines.iter().find(|l| l.contains("C→S text")).expect(&log);
    assert!(frame.contains(r"invoice \u{202e}fdp.exe\u{2069} attached"), "{frame:?}");
}

/// A text message sent in fragments that split "é" and "😀" between them: each fragment's line previews its
/// text, with the split character's piece at the edge shown as U+FFFD, not the whole payload turned to hex; and
/// `frametap inspect` shows the fragments the same way.
#[tokio::test]
async fn a_fragment_that_splits_a_character_previews_as_text() {
    use common::raw;
    use frametap::event::Opcode;
    let server = common::start_echo_server().await;
    let upstream = format!("ws://{server}");
    let mut proxy = RunningProxy::start(&["--no-ui", "--upstream", &upstream]).await;
    let addr = proxy.banner.url.trim_start_matches("ws://").trim_end_matches('/').parse().unwrap();
    let (head, ws, _) = raw::connect(addr, "/chat", &[]).await;
    let mut ws = ws.unwrap_or_else(|| panic!("not upgraded: {head}"));
    // "café 😀 ok" as "caf\xc3" | "\xa9 \xf0\x9f" | "\x98\x80 ok".
    ws.send(false, Opcode::Text, b"caf\xc3").await;
    ws.send(false, Opcode::Continuation, b"\xa9 \xf0\x9f").await;
    ws.send(true, Opcode::Continuation, b"\x98\x80 ok").await;
    let echo = ws.frame().await;
    assert_eq!(&echo.payload[..], "café 😀 ok".as_bytes(), "the message is relayed whole");
    let lines = read_until(&mut proxy.stdout, |l| l.contains("S→C text")).await;
    let capture = proxy.banner.capture.clone().expect("a capture");
    let home = proxy.stop().await;
    let log = lines.join("\n");
    let fragment = |place: &str| lines.iter().find(|l| l.contains("C→S") && l.contains(place)).expect(&log).clone();
    assert!(fragment("(first fragment)").ends_with("caf\u{FFFD}"), "{log}");
    assert!(fragment("(more follow)").ends_with("\u{FFFD} \u{FFFD}"), "{log}");
    assert!(fragment("(last)").ends_with("\u{FFFD} ok"), "{log}");
    assert!(!log.contains("hex "), "no fragment previewed as hex: {log}");

    let inspect = common::binary::frametap_command().args(["inspect", "--conn", "1", &capture]).output().unwrap();
    let shown = String::from_utf8_lossy(&inspect.stdout);
    assert!(inspect.status.success(), "{shown}");
    for (fin, text) in [(" (fin=0) 4B  caf\u{FFFD}", "first"), (" (fin=0) 4B  \u{FFFD} \u{FFFD}", "middle")] {
        assert!(shown.contains(fin), "{text} fragment: {shown}");
    }
    assert!(shown.contains("5B  \u{FFFD} ok"), "last fragment: {shown}");
    drop(home);
}

/// A request head hyper refuses before frametap's service sees it (more header lines than `proxy::MAX_HEADERS`, or
/// more bytes than hyper buffers) is answered by hyper itself, 431, and used to leave no trace: now it is a
/// `request-refused` session note in the log and the capture, naming the client, what was wrong and what to do.
#[tokio::test]
async fn a_request_head_too_large_for_hyper_is_noted_in_the_log_and_the_capture() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut proxy = RunningProxy::start(&["--no-ui"]).await;
    let authority = proxy.banner.url.trim_start_matches("ws://").split('/').next().unwrap();
    let addr: std::net::SocketAddr = authority.parse().unwrap();
    let head = |headers: String| {
        format!(
            "GET /v1 HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n"
        )
    };
    // 1100 header lines: hyper reads them all, then refuses.
    let many: String = (0..1100).map(|i| format!("X-Filler-{i}: v\r\n")).collect();
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    let client_addr = client.local_addr().unwrap();
    client.write_all(head(many).as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(WAIT, client.read_to_string(&mut answer)).await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let lines = read_until(&mut proxy.stdout, |l| l.contains("refused a request from")).await;
    let line = lines.last().unwrap();
    for said in [
        " WARN: ".to_owned(),
        format!("refused a request from {client_addr} before frametap could read it: its request head is too large"),
        "more than 1024 header lines, or more than 408 KiB".to_owned(),
        "answered 431 Request Header Fields Too Large".to_owned(),
        "Send fewer or smaller headers".to_owned(),
    ] {
        assert!(line.contains(&said), "{said:?} in {line}");
    }
    // One header line larger than hyper's buffer: hyper stops reading and refuses (the client may see a reset).
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    let big_addr = client.local_addr().unwrap();
    let _ = client.write_all(head(format!("X-Big: {}\r\n", "b".repeat(500 * 1024))).as_bytes()).await;
    let mut ignored = Vec::new();
    let _ = tokio::time::timeout(WAIT, client.read_to_end(&mut ignored)).await.unwrap();
    let lines = read_until(&mut proxy.stdout, |l| l.contains("refused a request from")).await;
    assert!(lines.last().unwrap().contains(&format!("from {big_addr} ")), "{lines:?}");

    let capture = proxy.banner.capture.clone().expect("a capture");
    let home = proxy.stop().await;
    let capture = frametap::capture::read_capture(std::path::Path::new(&capture)).unwrap();
    let notes: Vec<&frametap::event::Note> = capture
        .records
        .iter()
        .filter_map(|r| match r {
            frametap::event::Record::Note(n) if n.code == "request-refused" => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes.iter().all(|n| n.level == frametap::event::NoteLevel::Warn && n.conn.is_none()), "{notes:?}");
    assert!(notes[0].message.contains(&client_addr.to_string()) && notes[0].message.contains("431"), "{notes:?}");
    assert!(notes[1].message.contains(&big_addr.to_string()) && notes[1].message.contains("431"), "{notes:?}");
    drop(home);
}

/// The banner's example URL for a real upstream is `ws://127.0.0.1:PORT/<path>`: a client that dials it as printed sends
/// a request target hyper refuses (400). The note used to say only "not an HTTP/1.1 request (invalid URI)" and to
/// suspect a client speaking TLS; it now says the URL is not a valid URI and that a placeholder must be replaced.
#[tokio::test]
async fn a_request_to_the_banners_placeholder_path_says_to_replace_it() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut proxy = RunningProxy::start(&["--no-ui", "--upstream", "ws://127.0.0.1:1"]).await;
    let banner = proxy.banner.lines.join("\n");
    assert!(banner.contains(&format!("{}/<path>", proxy.banner.url)), "{banner}");
    let authority = proxy.banner.url.trim_start_matches("ws://").to_owned();
    let mut client = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let client_addr = client.local_addr().unwrap();
    let request = format!(
        "GET /<path> HTTP/1.1\r\nHost: {authority}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    client.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(WAIT, client.read_to_string(&mut answer)).await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let lines = read_until(&mut proxy.stdout, |l| l.contains("refused a request from")).await;
    let line = lines.last().unwrap();
    for said in [
        format!("refused a request from {client_addr} before frametap could read it"),
        "its request target (path and query) is not a valid URI".to_owned(),
        "a placeholder copied from the banner (`/<path>`, `deploymentId=…`) must be replaced".to_owned(),
    ] {
        assert!(line.contains(&said), "{said:?} in {line}");
    }
    assert!(!line.contains("speaking TLS"), "{line}");
    drop(proxy.stop().await);
}

/// An upgrade that failed after the upstream answered 101 (a wrong `Sec-WebSocket-Accept`): the live log printed only
/// the error, and `inspect`'s timeline "HTTP 101" then "upstream error: …", which read as an upgrade that worked. Both
/// now say the same: the 101 came, why it opened no WebSocket, and what to check.
#[tokio::test]
async fn a_101_that_opened_no_websocket_reads_the_same_in_the_log_and_in_inspect() {
    use tokio::io::AsyncWriteExt as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            common::raw::read_head(&mut stream).await;
            let answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                          Sec-WebSocket-Accept: AAAA\r\n\r\n";
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    let mut proxy = RunningProxy::start(&["--no-ui", "--upstream", &format!("ws://{upstream}")]).await;
    let addr = proxy.banner.url.trim_start_matches("ws://").split('/').next().unwrap().parse().unwrap();
    let (head, ws, _) = common::raw::connect(addr, "/chat", &[]).await;
    assert!(head.starts_with("HTTP/1.1 502") && ws.is_none(), "{head}");
    let lines = read_until(&mut proxy.stdout, |l| l.contains("FAILED")).await;
    let logged = lines.last().unwrap().clone();
    let capture = proxy.banner.capture.clone().expect("a capture");
    let home = proxy.stop().await;
    let said =
        "the upstream answered 101, but the upgrade failed: the 101 came with Sec-WebSocket-Accept \"AAAA\", not \
                the \"";
    let what_to_do =
        "A browser fails this upgrade too: check that the upstream URL is the WebSocket endpoint, and that \
                      nothing between frametap and it (a proxy, a load balancer) answers the upgrade itself or \
                      rewrites its headers";
    assert!(logged.contains(" UPGRADE FAILED (") && logged.contains(said) && logged.ends_with(what_to_do), "{logged}");
    let sentence = &logged[logged.find(said).unwrap()..];
    let inspect =
        common::binary::frametap_command().arg("inspect").arg(&capture).env("NO_COLOR", "1").output().unwrap();
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(text.contains("(HTTP 101, upgrade failed"), "{text}");
    assert!(text.contains(&format!("\n  upgrade failed: {sentence}\n")), "the log's words, in inspect too: {text}");
    assert!(!text.contains("upstream error:"), "{text}");
    drop(home);
}

/// A line's width on screen, counted as a terminal counts it: `→`, `…` and `↳` take one column, `😀` two.
fn display_width(line: &str) -> usize {
    use unicode_width::UnicodeWidthChar;
    line.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// One connection through a proxy with `COLUMNS=columns` sending a long text, a binary, a text message in three
/// fragments and a text frame that is not UTF-8, then closing with a long reason: its log to the `CLOSED` line.
async fn every_kind_of_frame_line(columns: &str) -> Vec<String> {
    use common::raw;
    use frametap::event::Opcode;
    let server = common::start_echo_server().await;
    let upstream = format!("ws://{server}");
    let args = ["--no-ui", "--no-capture", "--upstream", &upstream];
    let mut proxy = RunningProxy::start_with(&args, &[("COLUMNS", Some(columns))]).await;
    let addr = proxy.banner.url.trim_start_matches("ws://").trim_end_matches('/').parse().unwrap();
    let (head, ws, _) = raw::connect(addr, "/chat", &[]).await;
    let mut ws = ws.unwrap_or_else(|| panic!("not upgraded: {head}"));
    ws.send(true, Opcode::Text, "word ".repeat(100).as_bytes()).await;
    ws.frame().await;
    ws.send(true, Opcode::Binary, &[7; 300]).await;
    ws.frame().await;
    ws.send(false, Opcode::Text, b"caf\xc3").await;
    ws.send(false, Opcode::Continuation, b"\xa9 \xf0\x9f").await;
    ws.send(true, Opcode::Continuation, b"\x98\x80 ok").await;
    ws.frame().await;
    ws.send(true, Opcode::Text, b"not \xff\xfe UTF-8 at all, and long enough to be cut somewhere").await;
    let lines = read_until(&mut proxy.stdout, |l| stamped(l) && l.contains("CLOSED")).await;
    proxy.stop().await;
    lines
}

/// The lines of each frame: its stamped line with an arrow, and the lines it goes on with (indented), joined.
fn frame_entries(lines: &[String]) -> Vec<String> {
    let mut entries: Vec<String> = Vec::new();
    let mut in_frame = false;
    for line in lines {
        if stamped(line) {
            in_frame = line.contains(" C→S ") || line.contains(" S→C ");
            if in_frame {
                entries.push(line.clone());
            }
        } else if in_frame && line.starts_with("  ") {
            let entry = entries.last_mut().unwrap();
            *entry = format!("{entry} {}", line.trim_start());
        } else {
            in_frame = false;
        }
    }
    entries
}

/// A tmux pane of 60 or 50 columns, a phone's ssh session of 40: no line of the log runs past the edge (frame
/// lines used to keep 46 columns of fixed fields and 20 of preview, so anything under 66 columns overflowed).
/// The preview gives way first, then the size, then the opcode's padding; the time, the connection, the direction,
/// the opcode, a fragment's place and the flags always show; what still does not fit goes on the next line.
#[tokio::test]
async fn every_line_fits_40_50_and_60_columns_and_keeps_what_matters() {
    let reason = "the user left the chat window because of a very long reason";
    for width in [40usize, 50, 60] {
        let columns = width.to_string();
        let story = the_first_mistake(&[("COLUMNS", Some(&columns))]).await;
        let frames = every_kind_of_frame_line(&columns).await;
        let closed = closed_with(reason, &columns, |l| l.contains("clean close")).await;
        for lines in [&story, &frames, &closed] {
            let log = lines.join("\n");
            for line in lines.iter() {
                // A word wider than a whole line (the upgrade's URL) is never cut: it has a line to itself.
                let one_long_word = line.split_whitespace().count() == 1 && display_width(line.trim_start()) > width;
                let shown = display_width(line);
                assert!(shown <= width || one_long_word, "wider than {width} ({shown}): {line:?}\n{log}");
            }
            for entry in frame_entries(lines) {
                assert!(entry.contains("  #1 C→S ") || entry.contains("  #1 S→C "), "{width}: {entry:?}\n{log}");
                let opcode = entry.split_whitespace().nth(3).unwrap_or_default();
                assert!(["text", "binary", "close", "continuation"].contains(&opcode), "{width}: {entry:?}");
            }
        }
        let log = frames.join("\n");
        let entries = frame_entries(&frames);
        let find = |said: &str| entries.iter().find(|e| e.contains(said)).unwrap_or_else(|| panic!("{said}: {log}"));
        assert!(find("C→S text").contains('…'), "{log}");
        assert!(find("C→S binary").contains("hex 07"), "{log}");
        assert!(find("(first").contains("C→S text"), "{log}");
        assert!(find("(more").contains("C→S continuation"), "{log}");
        assert!(find("(last").contains("C→S continuation"), "{log}");
        assert!(find("[invalid UTF-8").contains("C→S text"), "the flag stays: {log}");
        let story_log = story.join("\n");
        let story_entries = frame_entries(&story);
        assert!(story_entries.iter().any(|e| e.contains("C→S text") && e.contains("{\"type\"")), "{story_log}");
        assert!(story_entries.iter().any(|e| e.contains("S→C close") && e.contains("1000")), "{story_log}");
        let closed_log = closed.join("\n");
        let close = frame_entries(&closed).into_iter().find(|e| e.contains("C→S close")).expect(&closed_log);
        assert!(close.contains("1000") && close.contains("\"the"), "{width}: {close:?}");
        let words = closed.iter().flat_map(|l| l.split_whitespace()).collect::<Vec<_>>().join(" ");
        assert!(words.contains(reason), "the CLOSED line (wrapped) gives the whole reason: {closed_log}");
    }
}
