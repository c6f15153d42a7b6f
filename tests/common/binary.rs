//! `frametap` itself as a user runs it: the binary, started as a child process in a fresh FRAMETAP_HOME, its
//! start banner read from stderr and its terminal log from stdout.

use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// The `frametap` binary, as every test that runs it starts it: without `COLUMNS`, so the width of the terminal
/// `cargo test` runs in never changes what it prints (a test that wants a width sets `COLUMNS` itself).
pub fn frametap_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_frametap"));
    command.env_remove("COLUMNS");
    command
}

/// [`frametap_command`], async, with no colours and no standard input.
pub fn frametap() -> Command {
    let mut command = Command::from(frametap_command());
    command.env("NO_COLOR", "1").stdin(Stdio::null());
    command
}

/// `frametap proxy` with `args` (plus `--listen 127.0.0.1:0`), in a fresh FRAMETAP_HOME, up to its banner; its
/// log on a pipe.
pub struct RunningProxy {
    pub child: tokio::process::Child,
    pub banner: Banner,
    pub stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    pub home: tempfile::TempDir,
}

impl RunningProxy {
    pub async fn start(args: &[&str]) -> RunningProxy {
        Self::start_with(args, &[]).await
    }

    /// [`RunningProxy::start`] with environment variables set (`Some`) or removed (`None`).
    pub async fn start_with(args: &[&str], env: &[(&str, Option<&str>)]) -> RunningProxy {
        let (mut child, banner, home) = spawn_proxy(args, env, Stdio::piped()).await;
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        RunningProxy { child, banner, stdout, home }
    }

    /// Stops it as Ctrl-C would (SIGTERM) and checks it exits successfully. Returns its FRAMETAP_HOME, where
    /// the capture is, to keep until the test is done with it. Unix only: Windows cannot signal a child process.
    #[cfg(unix)]
    pub async fn stop(mut self) -> tempfile::TempDir {
        // SAFETY: sending SIGTERM to our own child process.
        unsafe { libc::kill(self.child.id().unwrap() as i32, libc::SIGTERM) };
        assert!(self.child.wait().await.unwrap().success());
        self.home
    }

    /// Stops it as [`RunningProxy::stop`] does, and returns what its log printed from here to its end, with its
    /// FRAMETAP_HOME.
    #[cfg(unix)]
    pub async fn stop_reading_the_rest(mut self) -> (Vec<String>, tempfile::TempDir) {
        // SAFETY: sending SIGTERM to our own child process.
        unsafe { libc::kill(self.child.id().unwrap() as i32, libc::SIGTERM) };
        let mut rest = Vec::new();
        while let Some(line) = self.stdout.next_line().await.unwrap() {
            rest.push(line);
        }
        assert!(self.child.wait().await.unwrap().success());
        (rest, self.home)
    }
}

/// `frametap proxy` with `args` (plus `--listen 127.0.0.1:0`), its environment changed as `env` says (`Some`: set,
/// `None`: removed) and its log written to `stdout` (a pipe, or a terminal), in a fresh FRAMETAP_HOME, up to its
/// banner. Returns the FRAMETAP_HOME with it, to keep while it runs.
pub async fn spawn_proxy(
    args: &[&str],
    env: &[(&str, Option<&str>)],
    stdout: Stdio,
) -> (tokio::process::Child, Banner, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let mut command = frametap();
    for (name, value) in env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let mut child = command
        .args(["proxy", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("FRAMETAP_HOME", home.path())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let banner = read_banner(child.stderr.take().unwrap()).await;
    (child, banner, home)
}

/// How long [`read_until`] waits for the line awaited.
pub const LOG_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Reads the log until a line satisfies `last`; returns every line read.
pub async fn read_until(
    stdout: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    last: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut lines = Vec::new();
    let read = async {
        loop {
            let line = stdout.next_line().await.unwrap().unwrap_or_else(|| panic!("the log ended: {lines:#?}"));
            let done = last(&line);
            lines.push(line);
            if done {
                break;
            }
        }
    };
    tokio::time::timeout(LOG_WAIT, read).await.expect("the log line awaited");
    lines
}

/// What `frametap proxy` printed on stderr as it started.
pub struct Banner {
    pub url: String,
    pub capture: Option<String>,
    /// The web UI's URL (with its token), when it runs.
    pub ui: Option<String>,
    pub simulator_notice: bool,
    /// Every line of it.
    pub lines: Vec<String>,
    /// The rest of stderr, kept open: frametap still writes to it as it stops (`None` once a test closed it).
    pub stderr: Option<tokio::io::Lines<BufReader<tokio::process::ChildStderr>>>,
}

/// Reads the start banner, up to its last line ("Ctrl-C stops"). Fitted to a narrow `COLUMNS`, a row too wide has
/// its value on the next line (`  web UI` / `    http://…`) and a long line goes on, further in, on the next.
pub async fn read_banner(stderr: tokio::process::ChildStderr) -> Banner {
    let mut stderr = BufReader::new(stderr).lines();
    let (mut url, mut capture, mut ui, mut lines) = (None, None, None, Vec::<String>::new());
    loop {
        let mut line = next_banner_line(&mut stderr, &lines).await;
        lines.push(line.clone());
        // A row's label alone: its value is on the next line.
        if ["point your WebSocket client at", "capture", "web UI"].contains(&line.trim()) {
            let value = next_banner_line(&mut stderr, &lines).await;
            lines.push(value.clone());
            line = format!("{line}  {}", value.trim());
        }
        let field =
            |name: &str| line.split_once(name).and_then(|(_, rest)| rest.split_whitespace().next()).map(str::to_owned);
        if let Some(first) = field("point your WebSocket client at") {
            url = Some(first.trim_end_matches("/<path>").to_owned());
        }
        if line.trim_start().starts_with("capture") && !line.contains("off (--no-capture)") {
            capture = field("capture");
        }
        if line.trim_start().starts_with("web UI") {
            ui = field("web UI");
        }
        if line.trim_start().starts_with("Ctrl-C stops") {
            // Its parenthesis may go on, on the next lines.
            let unclosed = |line: &str| line.matches('(').count() as i64 - line.matches(')').count() as i64;
            let mut open = unclosed(&line);
            while open > 0 {
                let rest = next_banner_line(&mut stderr, &lines).await;
                open += unclosed(&rest);
                lines.push(rest);
            }
            break;
        }
    }
    let words = lines.join(" ").split_whitespace().collect::<Vec<_>>().join(" ");
    let simulator_notice = words.contains("SIMULATOR — not Genesys");
    Banner {
        url: url.expect("the banner names the URL to connect to"),
        capture,
        ui,
        simulator_notice,
        lines,
        stderr: Some(stderr),
    }
}

async fn next_banner_line(
    stderr: &mut tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
    lines: &[String],
) -> String {
    stderr.next_line().await.unwrap().unwrap_or_else(|| panic!("the whole banner, after {lines:?}"))
}

/// The newcomer's first mistake against the simulator: a message without `action` and no `configureSession`
/// first. The simulator closes with 1000 and no reason; the client then drops TCP. Returns the terminal log up
/// to the diagnosis.
pub async fn send_a_first_message_without_action(
    url: &str,
    stdout: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) -> String {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::text(r#"{"type":"message","content":"Hello from custom UI","timestamp":1764097800000}"#))
        .await
        .unwrap();
    let close = ws.next().await.unwrap().unwrap();
    assert!(
        matches!(close, Message::Close(Some(ref f)) if u16::from(f.code) == 1000 && f.reason.is_empty()),
        "{close:?}"
    );
    // Dropped without answering the close, as a careless client does.
    drop(ws);
    let mut live = String::new();
    let read_diagnosis = async {
        while !live.contains("protocol-lint") {
            let line = stdout.next_line().await.unwrap().expect("the diagnosis block");
            live.push_str(&line);
            live.push('\n');
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), read_diagnosis).await.expect("a diagnosis is printed");
    live
}
