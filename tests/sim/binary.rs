//! `frametap sim genesys` as a program: the banner, a real session, SIGTERM, and bad flags.

use tokio::process::Command;

fn frametap() -> Command {
    let mut command = crate::common::binary::frametap();
    command.kill_on_drop(true);
    command
}

#[cfg(unix)]
#[tokio::test]
async fn sim_genesys_prints_its_banner_serves_and_stops_on_sigterm() {
    use crate::common_sim::*;
    use frametap::sim::SIM_NOTICE;
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt as _, BufReader};
    let mut child = frametap()
        .args(["sim", "genesys", "--listen", "127.0.0.1:0", "--deployment-id", DEPLOYMENT])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut saw_notice, mut url) = (false, None);
    while url.is_none() {
        let line = tokio::time::timeout(FRAME_WAIT, lines.next_line()).await.unwrap().unwrap().expect("a banner");
        saw_notice |= line.contains(SIM_NOTICE);
        url = line.split_once("Connect to: ").map(|(_, url)| url.trim().to_owned());
    }
    assert!(saw_notice, "the banner says it is a simulator");
    let url = url.unwrap();
    assert!(url.starts_with("ws://127.0.0.1:") && url.ends_with(&format!("/v1?deploymentId={DEPLOYMENT}")), "{url}");
    let mut ws = connect(&url, None).await.unwrap();
    assert_eq!(configure(&mut ws, &new_token()).await["body"]["connected"], true);
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) };
    assert_eq!(next_close(&mut ws).await.0, 1001);
    drop(ws);
    let status = tokio::time::timeout(FRAME_WAIT, child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn sim_genesys_refuses_bad_flags_and_scripts_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("agent.txt");
    std::fs::write(&script, "hello\n").unwrap();
    let cases: [(&[&str], &str); 3] = [
        (&["--agent-script", script.to_str().unwrap()], "line 1"),
        (&["--rate-limit", "0"], "1 or more"),
        (&["--on-invalid", "ignore"], "close"),
    ];
    for (args, expected) in cases {
        let output = frametap().args(["sim", "genesys", "--listen", "127.0.0.1:0"]).args(args).output().await.unwrap();
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
