//! The `frametap` binary refusing what it cannot do, before anything listens: bad flags, files and folders,
//! upstreams and headers, simulator flags beside a real upstream, a `replay send --set` that would change
//! nothing, and a capture format that contradicts the file's name; and, once it listens, an upgrade request
//! whose URL holds the banner's placeholder percent-encoded.

mod common;

use common::binary::frametap;

async fn fails_with(args: &[&str], home: &std::path::Path) -> String {
    let output = frametap().args(args).env("FRAMETAP_HOME", home).kill_on_drop(true).output();
    // Accepted by mistake, `proxy` would listen until stopped: fail the test instead of hanging it.
    let output = tokio::time::timeout(std::time::Duration::from_secs(30), output)
        .await
        .unwrap_or_else(|_| panic!("{args:?} was accepted: frametap kept running"))
        .unwrap();
    assert!(!output.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn bad_input_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let err = fails_with(&["proxy", "--upstream", "http://example.com"], home.path()).await;
    assert!(err.contains("must start with ws:// or wss://"), "{err}");
    let err = fails_with(&["proxy", "--upstream", "ws://x", "--max-message", "12X"], home.path()).await;
    assert!(err.contains("unknown size unit"), "{err}");
    // A negative number reaches the option's own check (clap used to read it as an unknown flag: "unexpected
    // argument '-1' found"), and a connection number says what one is.
    for (args, said) in [
        (&["proxy", "--expire-after", "-1"][..], "\"-1\" seconds is out of range: give more than 0"),
        (&["proxy", "--upstream", "ws://x", "--max-message", "-5"][..], "\"-5\" is not a size"),
        (&["replay", "serve", "x.jsonl", "--pace", "-1"][..], "\"-1\" is not a pace"),
        (&["inspect", "x.jsonl", "--conn", "-2"][..], "\"-2\" is not a connection number"),
        (&["replay", "send", "x.jsonl", "--conn", "abc"][..], "\"abc\" is not a connection number"),
    ] {
        let err = fails_with(args, home.path()).await;
        assert!(err.contains(said) && !err.contains("unexpected argument"), "{args:?}: {err}");
    }
    // Addresses: each mistake gets its own words and an example (`localhost:PORT` is accepted).
    for (listen, said) in [
        ("9500", "a port alone: give an address too, e.g. 127.0.0.1:9500"),
        ("127.0.0.1:99999", "the port must be a number from 0 to 65535"),
        ("::1:9500", "write an IPv6 address in brackets, e.g. [::1]:9500"),
        ("example.com:9500", "is not an IP address (host names other than localhost are not looked up)"),
        ("nonsense", "not an address and port: write one like 127.0.0.1:9500"),
    ] {
        let err = fails_with(&["proxy", "--listen", listen], home.path()).await;
        assert!(err.contains(said), "--listen {listen}: {err}");
        let err = fails_with(&["ui", "capture.jsonl", "--ui", listen], home.path()).await;
        assert!(err.contains(said), "--ui {listen}: {err}");
    }
    let err = fails_with(&["proxy", "--listen", "127.0.0.1:9555", "--ui", "127.0.0.1:9555"], home.path()).await;
    assert!(err.contains("--listen and --ui are both 127.0.0.1:9555"), "{err}");
    let err = fails_with(&["proxy", "--upstream", "ws://x", "--set-header", "no colon"], home.path()).await;
    assert!(err.contains("Name: value"), "{err}");
    let existing = home.path().join("existing.jsonl");
    std::fs::write(&existing, "keep me").unwrap();
    let err = fails_with(
        &[
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "ws://127.0.0.1:1",
            "--capture",
            existing.to_str().unwrap(),
        ],
        home.path(),
    )
    .await;
    assert!(err.contains("already exists") && err.contains("never overwrites"), "{err}");
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = fails_with(&["proxy", "--listen", &addr, "--upstream", "ws://127.0.0.1:1"], home.path()).await;
    assert!(err.contains("port is in use") && err.contains("--listen"), "{err}");
}

/// A folder where a capture is read (`frametap inspect ~/.frametap/captures`, the folder the banner names) used to
/// be "not a usable frametap capture: could not read it past byte 0: Is a directory (os error 21)": it is said to be
/// a folder, with the newest capture in it to give instead, by every command that reads a capture or a HAR.
#[tokio::test]
async fn a_folder_given_as_a_capture_names_the_newest_capture_in_it() {
    let home = tempfile::tempdir().unwrap();
    let captures = home.path().join("captures");
    std::fs::create_dir(&captures).unwrap();
    let older = captures.join("20260101T000000.000000Z.jsonl");
    std::fs::copy(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed-story.jsonl"), &older)
        .unwrap();
    let newer = captures.join("20260102T000000.000000Z.jsonl");
    std::fs::copy(&older, &newer).unwrap();
    let day_later = std::fs::metadata(&older).unwrap().modified().unwrap() + std::time::Duration::from_secs(86_400);
    std::fs::File::options().write(true).open(&newer).unwrap().set_modified(day_later).unwrap();
    std::fs::write(captures.join("notes.txt"), "not a capture").unwrap();
    let folder = captures.to_str().unwrap();
    let out = home.path().join("out.har");
    for args in [
        &["inspect", folder][..],
        &["replay", "serve", folder, "--listen", "127.0.0.1:0", "--no-ui", "--no-capture"][..],
        &["convert", folder, out.to_str().unwrap()][..],
        &["redact", folder, home.path().join("r.jsonl").to_str().unwrap()][..],
    ] {
        let err = fails_with(args, home.path()).await;
        assert!(
            err.contains(&format!("{folder} is a folder, not a capture")) && err.contains(newer.to_str().unwrap()),
            "{args:?}: {err}"
        );
        assert!(!err.contains("os error"), "{args:?}: {err}");
    }
    let empty = home.path().join("empty.har");
    std::fs::create_dir(&empty).unwrap();
    let err = fails_with(&["ui", empty.to_str().unwrap(), "--ui", "127.0.0.1:0"], home.path()).await;
    assert!(err.contains("is a folder, not a capture, and holds none"), "{err}");
}

/// A bad port used to be replaced by the scheme's default, and a base path hyper cannot send was only refused
/// by every connection; `--upstream-proxy` accepted port 0; per-leg headers were sent twice. All are refused
/// before anything listens, saying what is wrong.
#[tokio::test]
async fn bad_upstreams_and_headers_are_refused_before_anything_listens() {
    let home = tempfile::tempdir().unwrap();
    let proxy = ["proxy", "--listen", "127.0.0.1:0", "--no-ui", "--no-capture"];
    let with = |extra: &[&'static str]| [&proxy[..], extra].concat();
    let err = fails_with(&with(&["--upstream", "ws://127.0.0.1:65536"]), home.path()).await;
    assert!(err.contains("--upstream \"ws://127.0.0.1:65536\": bad port \"65536\""), "{err}");
    let err = fails_with(&with(&["--upstream", "ws://host:abc"]), home.path()).await;
    assert!(err.contains("bad port \"abc\""), "{err}");
    // A password in the URL is refused without being printed back (the terminal may be shared or recorded).
    for url in ["ws://bob:pa55word@127.0.0.1:1", "ws://bob:pa55word@127.0.0.1:1/?q=1"] {
        let err = fails_with(&with(&["--upstream", url]), home.path()).await;
        assert!(err.contains("ws://***@127.0.0.1:1") && !err.contains("pa55word"), "{err}");
    }
    let err = fails_with(&with(&["--upstream", "ws://127.0.0.1:1/a b"]), home.path()).await;
    assert!(err.contains("base path \"/a b\"") && err.contains("percent-encode"), "{err}");
    let err =
        fails_with(&with(&["--upstream", "ws://127.0.0.1:1", "--upstream-proxy", "http://h:0"]), home.path()).await;
    assert!(err.contains("--upstream-proxy") && err.contains("bad port \"0\""), "{err}");
    let err = fails_with(
        &with(&["--upstream", "ws://127.0.0.1:1", "--set-header", "Sec-WebSocket-Extensions: permessage-deflate"]),
        home.path(),
    )
    .await;
    assert!(err.contains("Sec-WebSocket-Extensions cannot be set") && err.contains("compression"), "{err}");
    // An empty Host would go upstream as `Host: ` (an invalid request for a URL with a host): refused, with the form.
    let err = fails_with(&with(&["--upstream", "ws://127.0.0.1:1", "--set-header", "Host:"]), home.path()).await;
    assert!(err.contains("Host needs a value") && err.contains("'Host: vhost.example'"), "{err}");
    let err = fails_with(&["replay", "send", "missing.jsonl", "--upstream", "ws://h:99999"], home.path()).await;
    assert!(err.contains("--upstream \"ws://h:99999\": bad port"), "{err}");
    let err = fails_with(
        &["replay", "send", "missing.jsonl", "--upstream", "ws://h", "--header", "Upgrade: h2c"],
        home.path(),
    )
    .await;
    assert!(err.contains("Upgrade cannot be set"), "{err}");
}

/// `--upstream-proxy` without `--upstream` used to be taken for the simulator's traffic; it is refused.
#[tokio::test]
async fn an_upstream_proxy_without_an_upstream_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let args =
        ["proxy", "--listen", "127.0.0.1:0", "--no-ui", "--no-capture", "--upstream-proxy", "http://127.0.0.1:3128"];
    let err = fails_with(&args, home.path()).await;
    assert!(err.contains("--upstream-proxy has no upstream to reach") && err.contains("give --upstream URL"), "{err}");
}

/// The simulator's scenario flags beside `--upstream` or `--forward` used to be accepted and ignored: the user
/// waited for an expiry or a drop that nothing would cause. They are refused, naming the flags and the fix.
#[tokio::test]
async fn simulator_flags_beside_a_real_upstream_are_refused() {
    let home = tempfile::tempdir().unwrap();
    let common = ["proxy", "--listen", "127.0.0.1:0", "--no-ui", "--no-capture"];
    let cases: [(&[&str], [&str; 3]); 2] = [
        (
            &["--upstream", "ws://127.0.0.1:9", "--expire-after", "30"],
            ["--expire-after shapes the built-in simulator", "with --upstream", "Leave it out, or drop --upstream"],
        ),
        (
            &["--forward", "--drop-after", "3", "--allowed-origin", "http://a"],
            ["--drop-after, --allowed-origin shape the built-in simulator", "with --forward", "drop --forward"],
        ),
    ];
    for (flags, expected) in cases {
        let err = fails_with(&[&common[..], flags].concat(), home.path()).await;
        assert!(expected.iter().all(|part| err.contains(part)), "{flags:?}: {err}");
    }
    // Forward mode always passes the browser's cookies on: --forward-cookies there would change nothing.
    let err = fails_with(&[&common[..], &["--forward", "--forward-cookies"]].concat(), home.path()).await;
    assert!(err.contains("--forward-cookies changes nothing with --forward") && err.contains("Leave it out"), "{err}");
}

/// `replay send --set message.text=…` (a path, where NAME is one field name) or a field the recording's messages do
/// not have used to replay the recording unchanged as if the value had been set. It is refused before dialling.
#[tokio::test]
async fn a_replay_set_that_would_change_nothing_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seed-story.jsonl");
    let (_held, refusing) = common::ports::refusing_addr();
    let upstream = format!("ws://{refusing}");
    let send = |set: &'static str| {
        ["replay", "send", fixture, "--upstream", upstream.as_str(), "--no-capture", "--set", set].map(str::to_owned)
    };
    let err = fails_with(&send("message.text=hi").each_ref().map(String::as_str), home.path()).await;
    assert!(
        err.contains("--set message.text=…: no JSON text message that")
            && err.contains("has a field named \"message.text\", so --set would change nothing")
            && err.contains("not a path: --set text=… for message.text"),
        "{err}"
    );
    assert!(!err.contains("could not connect"), "refused before dialling: {err}");
    // A field the client's message has is applied: the run goes on to dial (and fails on the refusing port).
    let err = fails_with(&send("content=hi").each_ref().map(String::as_str), home.path()).await;
    assert!(err.contains("could not connect") && !err.contains("would change nothing"), "{err}");
}

/// `--capture NAME.ftcap` alone means a compact capture; a format that contradicts the name is refused.
#[cfg(unix)] // stops frametap with SIGTERM
#[tokio::test]
async fn a_capture_named_ftcap_is_compact_and_a_contradicting_format_is_refused() {
    use common::binary::{send_a_first_message_without_action, RunningProxy};
    let dir = tempfile::tempdir().unwrap();
    let named = dir.path().join("session.ftcap");
    let mut proxy = RunningProxy::start(&["--no-ui", "--quiet", "--capture", named.to_str().unwrap()]).await;
    send_a_first_message_without_action(&proxy.banner.url, &mut proxy.stdout).await;
    let _home = proxy.stop().await;
    let meta = std::fs::read(&named).unwrap().split(|&b| b == b'\n').next().unwrap().to_vec();
    let meta: serde_json::Value = serde_json::from_slice(&meta).unwrap();
    assert_eq!(meta["version"], 2, "compact captures are format version 2: {meta}");

    let misnamed = dir.path().join("session.jsonl");
    let args = ["proxy", "--no-ui", "--capture", misnamed.to_str().unwrap(), "--capture-format", "compact"];
    let err = fails_with(&args, dir.path()).await;
    assert!(err.contains("has a .jsonl name, but --capture-format compact writes .ftcap files"), "{err}");
    assert!(!misnamed.exists(), "nothing is written when the options are refused");
}

/// A browser given the banner's `ws://…/v1?deploymentId=<your deployment id>` as printed percent-encodes it
/// (`%3Cyour%20deployment%20id%3E`): a valid URI, which used to be sent to the upstream as it was, where the literal
/// one is refused by hyper and explained. It is now answered 400 with the same advice, and never sent upstream. So is
/// the banner's `deploymentId=…` as printed, UTF-8 bytes and all (as tungstenite sends it): hyper takes that target,
/// and it too used to be sent upstream.
#[cfg(unix)] // stops frametap with SIGTERM
#[tokio::test]
async fn an_upgrade_to_the_banners_placeholder_percent_encoded_is_refused_not_sent_upstream() {
    use common::binary::RunningProxy;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    upstream.set_nonblocking(true).unwrap();
    let upstream_url = format!("ws://{}", upstream.local_addr().unwrap());
    let mut proxy = RunningProxy::start(&["--no-ui", "--upstream", &upstream_url]).await;
    let authority = proxy.banner.url.trim_start_matches("ws://").to_owned();
    for (target, placeholder, how) in [
        ("/v1?deploymentId=%3Cyour%20deployment%20id%3E", "<your deployment id>", "percent-encoded"),
        ("/v1?deploymentId=%E2%80%A6", "…", "percent-encoded"),
        ("/v1?deploymentId=…", "…", "as printed"),
    ] {
        let mut client = tokio::net::TcpStream::connect(&authority).await.unwrap();
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        client.write_all(request.as_bytes()).await.unwrap();
        let mut answer = vec![0; 4096];
        let read = tokio::time::timeout(std::time::Duration::from_secs(10), client.read(&mut answer)).await;
        let answer = String::from_utf8_lossy(&answer[..read.expect("no answer in time: sent upstream?").unwrap()]);
        let said = format!(
            "its request target holds `{placeholder}` ({how}), a placeholder copied from the banner: replace it \
             with the real path and query, e.g. /v1?deploymentId=<your deployment's id>"
        );
        assert!(answer.starts_with("HTTP/1.1 400") && answer.contains(&said), "{answer}");
        let logged = common::binary::read_until(&mut proxy.stdout, |line| line.contains("upgrade request for")).await;
        assert!(logged.last().unwrap().contains(&format!("upgrade request for {target}: {said}")), "{logged:?}");
        let dialled = upstream.accept().map(|(_, from)| from);
        assert_eq!(dialled.map_err(|e| e.kind()), Err(std::io::ErrorKind::WouldBlock), "the upstream was dialled");
    }
    drop(proxy.stop().await);
}
