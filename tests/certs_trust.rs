//! The Chrome (Linux) trust-store commands `frametap certs init` prints, run as printed in a throw-away `$HOME`:
//! after them a real headless Chromium accepts `frametap proxy --tls`, after the removal command it refuses it.

// Unix only: the commands checked are the Linux trust-store ones, with a real Chromium.
#![cfg(unix)]

mod cdp;
mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::binary::{frametap_command, RunningProxy};

/// Chromium's cold start on a busy two-core machine is slow; a printed command must never wait on a prompt.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// What frametap's TLS listener answers a plain page request with (the start of it).
const PROXY_PAGE: &str = "frametap — a WebSocket debugging proxy.";

/// The printed commands for Chrome on Linux: make the database, import the CA, remove it.
struct ChromeCommands {
    make_database: String,
    import: String,
    remove: String,
}

fn chrome_commands(report: &str) -> ChromeCommands {
    let lines: Vec<&str> = report.lines().map(str::trim).collect();
    let mut chrome = lines.iter().filter_map(|l| l.strip_prefix("Chrome (Linux):")).map(|c| c.trim().to_owned());
    let (import, remove) = (chrome.next(), chrome.next());
    let make_database = lines.iter().find(|l| l.starts_with("mkdir -p $HOME/.pki/nssdb")).map(|l| l.to_string());
    match (make_database, import, remove) {
        (Some(make_database), Some(import), Some(remove)) => ChromeCommands { make_database, import, remove },
        _ => panic!("certs init prints the Chrome (Linux) commands to make the database, import and remove:\n{report}"),
    }
}

/// Runs `command` in `home` ($HOME) with no input, and waits for its output at most [`COMMAND_TIMEOUT`]; `None`
/// when it took longer (it is killed).
async fn output_in(mut command: tokio::process::Command, home: &Path) -> Option<std::process::Output> {
    let child = command
        .env("HOME", home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output()).await.ok().map(Result::unwrap)
}

/// Runs one printed command with `sh`, as a user would paste it, in `home`; its output when it fails.
async fn run_printed(command: &str, home: &Path) -> Result<(), String> {
    let mut sh = tokio::process::Command::new("sh");
    sh.args(["-c", command]);
    let output = output_in(sh, home)
        .await
        .ok_or_else(|| format!("`{command}` did not finish within {COMMAND_TIMEOUT:?} (waiting on a prompt?)"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "`{command}`: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// What a fresh headless Chromium, in `home`, shows at `url`: the page's DOM and Chromium's stderr.
async fn chromium_dump(url: &str, home: &Path) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let mut chromium = tokio::process::Command::new(cdp::chromium_path().unwrap());
    chromium.args(cdp::HEADLESS_FLAGS).arg(format!("--user-data-dir={}", profile.path().display()));
    chromium.args(["--dump-dom", url]);
    let output = output_in(chromium, home)
        .await
        .unwrap_or_else(|| panic!("Chromium did not load {url} within {COMMAND_TIMEOUT:?}"));
    (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[tokio::test]
async fn the_printed_chrome_linux_commands_make_chromium_trust_the_tls_listener_and_then_stop() {
    let certutil_installed = std::process::Command::new("certutil").arg("-H").output().is_ok();
    assert!(
        certutil_installed,
        "this test runs Chrome's trust-store tool, certutil, which is missing: install it with \
         `sudo apt-get install -y libnss3-tools` (Debian/Ubuntu; ./scripts/test.sh does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let init = frametap_command().args(["certs", "init", "--certs"]).arg(&certs).output().unwrap();
    assert!(init.status.success(), "certs init: {}", String::from_utf8_lossy(&init.stderr));
    let commands = chrome_commands(&String::from_utf8_lossy(&init.stdout));

    // A home where Chromium never ran has no database: the import says so, as the printed hint expects.
    let refused = run_printed(&commands.import, &home).await.expect_err("no database yet: the import fails");
    assert!(refused.contains("SEC_ERROR_BAD_DATABASE"), "{refused}");
    run_printed(&commands.make_database, &home).await.unwrap();
    run_printed(&commands.import, &home).await.unwrap();

    let certs_arg = certs.to_str().unwrap();
    let proxy = RunningProxy::start(&["--tls", "--certs", certs_arg, "--no-ui", "--no-capture", "--quiet"]).await;
    let url = &proxy.banner.url;
    let port = url.strip_prefix("wss://127.0.0.1:").and_then(|rest| rest.split('/').next()).expect(url);
    let page = format!("https://localhost:{port}/");
    let (trusted, log) = chromium_dump(&page, &home).await;
    assert!(trusted.contains(PROXY_PAGE), "Chromium trusts the CA after the import:\n{trusted}\n{log}");

    run_printed(&commands.remove, &home).await.unwrap();
    let (refused, log) = chromium_dump(&page, &home).await;
    assert!(!refused.contains(PROXY_PAGE), "after the removal Chromium refuses the certificate:\n{refused}");
    assert!(log.contains("ERR_CERT_AUTHORITY_INVALID"), "refused for the CA, not for something else:\n{log}");
    proxy.stop().await;
}
