//! Shared by the soak and fault tests: `frametap proxy` run as a child process (so its memory and file
//! descriptors can be measured from outside), sequence-numbered payloads, and readings from /proc.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How the child proxy is started.
#[derive(Default)]
pub struct ChildOptions {
    /// Serve the web UI on 127.0.0.1:0 (else `--no-ui`).
    pub ui: bool,
    /// Limit the size of files the child may write (RLIMIT_FSIZE, bytes): a capture that hits it fails
    /// with "File too large", as on a full disk or a quota.
    pub file_size_limit: Option<u64>,
    /// Write a compact capture (`--capture-format compact`) instead of JSON Lines.
    pub compact: bool,
}

/// `frametap proxy --quiet` running as a child process, with its capture in a temporary folder.
pub struct ChildProxy {
    pub child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    pub capture: PathBuf,
    /// The UI's URL with its access token, when the UI runs.
    pub ui_url: Option<String>,
    /// Everything the child printed on stderr (banner included), as it arrives.
    pub stderr: Arc<Mutex<Vec<String>>>,
    stderr_reader: Option<tokio::task::JoinHandle<()>>,
    _home: tempfile::TempDir,
}

impl ChildProxy {
    /// Starts the proxy in front of `upstream` and returns once its banner says where it listens.
    pub async fn start(upstream: SocketAddr, options: ChildOptions) -> ChildProxy {
        let home = tempfile::tempdir().unwrap();
        let capture = home.path().join(if options.compact { "soak.ftcap" } else { "soak.jsonl" });
        let mut command = Command::from(crate::common::binary::frametap_command());
        command
            .args(["proxy", "--quiet", "--listen", "127.0.0.1:0", "--upstream", &format!("ws://{upstream}")])
            .arg("--capture")
            .arg(&capture)
            .args(["--capture-format", if options.compact { "compact" } else { "jsonl" }])
            .args(if options.ui { ["--ui", "127.0.0.1:0"].as_slice() } else { ["--no-ui"].as_slice() })
            .env("FRAMETAP_HOME", home.path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(limit) = options.file_size_limit {
            // SAFETY: only async-signal-safe libc calls between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    // SIGXFSZ keeps its default action (kill): frametap itself must ignore it.
                    libc::signal(libc::SIGXFSZ, libc::SIG_DFL);
                    let rlimit = libc::rlimit { rlim_cur: limit, rlim_max: limit };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &rlimit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = command.spawn().expect("frametap starts");
        let pid = child.id().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (mut addr, mut ui_url) = (None, None);
        loop {
            let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .expect("the banner in time")
                .unwrap()
                .unwrap_or_else(|| panic!("frametap exited before its banner ended: {:?}", stderr.lock().unwrap()));
            stderr.lock().unwrap().push(line.clone());
            if let Some(rest) = line.split("point your WebSocket client at").nth(1) {
                let url = rest.split_whitespace().next().unwrap();
                let host = url.trim_start_matches("ws://").split('/').next().unwrap();
                addr = Some(host.parse::<SocketAddr>().unwrap());
            }
            if let Some(rest) = line.trim_start().strip_prefix("web UI") {
                ui_url = Some(rest.trim().to_owned());
            }
            if line.contains("Ctrl-C stops") {
                break;
            }
        }
        let collected = stderr.clone();
        let stderr_reader = Some(tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                collected.lock().unwrap().push(line);
            }
        }));
        let addr = addr.expect("the banner names the address");
        assert_eq!(ui_url.is_some(), options.ui, "the banner names the UI exactly when it runs");
        ChildProxy { child, pid, addr, capture, ui_url, stderr, stderr_reader, _home: home }
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// The child's resident memory, in bytes.
    pub fn rss(&self) -> u64 {
        rss_of(self.pid)
    }

    /// How many file descriptors the child holds open.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid)).map(|d| d.count()).unwrap_or(0)
    }

    /// The stderr lines so far, joined.
    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// SIGTERM, then waits (bounded) for the child to save its capture and exit.
    pub async fn stop(&mut self, within: Duration) -> ExitStatus {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(self.pid as i32, libc::SIGTERM) };
        let status = tokio::time::timeout(within, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("frametap did not exit within {within:?} of SIGTERM"))
            .unwrap();
        // The pipe is closed now, so the stderr reader ends once it has the last lines.
        if let Some(reader) = self.stderr_reader.take() {
            let _ = tokio::time::timeout(within, reader).await;
        }
        status
    }
}

/// VmRSS of a process, in bytes (0 if it is gone).
pub fn rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Bytes of filler after the `conn:seq:` prefix of every payload.
pub const FILLER: u64 = 96;

/// The payload of message `seq` on connection `conn`: `"0007:000001234:"` then filler that depends on
/// both, so a byte from another message or connection shows as corruption.
pub fn payload(conn: u32, seq: u64) -> String {
    let mut text = format!("{conn:04}:{seq:09}:");
    text.extend((0..FILLER).map(|i| (b'a' + ((conn as u64 * 131 + seq * 31 + i * 7) % 26) as u8) as char));
    text
}

/// The `(conn, seq)` a payload claims to be, if its prefix parses.
pub fn parse_payload(text: &str) -> Option<(u32, u64)> {
    let mut parts = text.splitn(3, ':');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}
