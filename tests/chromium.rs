//! A real browser through forward mode: headless Chromium with `--proxy-server` pointing at frametap,
//! `--proxy-bypass-list=<-loopback>` (Chromium never proxies loopback otherwise) and the local CA trusted
//! by its SPKI, opens an https:// page whose script talks wss:// to a server with its own test CA.
//! frametap terminates both tunnels, forwards the page, relays the WebSocket and captures every frame.
//! Then `replay serve --forward`: a page whose script opens the recorded wss:// URL of a real-looking host,
//! unchanged, gets the replay in its place; and a page's cross-origin calls (a preflighted POST, a GET) get a
//! Chrome HAR's recorded answers.
//!
//! Runs when a Chromium is installed (`chromium`, `chromium-browser`, `google-chrome`, or the path in
//! `FRAMETAP_CHROMIUM`); otherwise it says so loudly and passes.

// Unix only: the browser runs in its own process group, killed with it (SIGKILL).
#![cfg(unix)]

mod common;
#[path = "forward_support/servers.rs"]
mod servers;
#[path = "replay_support/mod.rs"]
mod support;
#[path = "forward_support/ws.rs"]
mod ws;

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use frametap::event::{Peer, Record};
use frametap::forward::{forward_upstream_label, ForwardOptions, InterceptRules, UpstreamProxies};
use frametap::tls::{CertAuthority, LeafIssuer};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use servers::TestCa;
use tokio::net::TcpListener;
use ws::{proxy_config, recording_session, start_ws_echo};

/// Chromium's cold start on a busy two-core machine is slow: the whole exchange gets this long.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);

fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FRAMETAP_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Kills the browser's whole process group when dropped (also when the test fails).
struct Browser(Child);

impl Drop for Browser {
    fn drop(&mut self) {
        // The browser was started as the leader of its own process group: end it and its helpers.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

fn start_browser(chromium: &Path, profile: &Path, proxy: &str, spki: &str, url: &str, log: &Path) -> Browser {
    use std::os::unix::process::CommandExt as _;
    let child = Command::new(chromium)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--proxy-server=http://{proxy}"),
            "--proxy-bypass-list=<-loopback>",
            &format!("--ignore-certificate-errors-spki-list={spki}"),
            url,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .process_group(0)
        .spawn()
        .expect("starting Chromium");
    Browser(child)
}

/// A server whose every page is `html`: https:// with `tls`, else http://.
async fn start_page_server(tls: Option<Arc<rustls::ServerConfig>>, html: String) -> std::net::SocketAddr {
    start_page_server_telling(tls, html, None).await
}

/// [`start_page_server`] that also sends the path and query of every request to `requests`.
async fn start_page_server_telling(
    tls: Option<Arc<rustls::ServerConfig>>,
    html: String,
    requests: Option<tokio::sync::mpsc::UnboundedSender<String>>,
) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (tls, html, requests) = (tls.clone(), html.clone(), requests.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    if let Some(requests) = &requests {
                        let _ = requests.send(req.uri().path_and_query().map_or("/", |pq| pq.as_str()).to_owned());
                    }
                    let mut resp = http::Response::new(Full::new(Bytes::from(html.clone())));
                    resp.headers_mut().insert("content-type", "text/html; charset=utf-8".parse().unwrap());
                    async move { Ok::<_, Infallible>(resp) }
                });
                let http = hyper::server::conn::http1::Builder::new();
                let _ = match tls {
                    Some(tls) => {
                        let Ok(stream) = tokio_rustls::TlsAcceptor::from(tls).accept(tcp).await else { return };
                        http.serve_connection(TokioIo::new(stream), service).await
                    }
                    None => http.serve_connection(TokioIo::new(tcp), service).await,
                };
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_opens_a_wss_page_through_forward_mode() {
    let Some(chromium) = find_chromium() else {
        eprintln!("SKIPPED headless_chromium_opens_a_wss_page_through_forward_mode: no Chromium found (set FRAMETAP_CHROMIUM)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let upstream_ca = TestCa::new();
    let upstream_ca_file = upstream_ca.write_pem(dir.path());
    let ws_server = start_ws_echo(Some(upstream_ca.server_config(&["localhost"]).0)).await;
    let ws_url = format!("wss://localhost:{}/v1?deploymentId=chromium", ws_server.port());
    let html = format!(
        "<!doctype html><title>loading</title><script>\n\
         const ws = new WebSocket({ws_url:?});\n\
         ws.onopen = () => ws.send('hello from chromium');\n\
         ws.onmessage = (e) => {{ document.title = 'echo: ' + e.data; ws.close(1000, 'done'); }};\n\
         </script>"
    );
    let page = start_page_server(Some(upstream_ca.server_config(&["localhost"]).0), html).await;

    let ca = Arc::new(CertAuthority::init(&dir.path().join("certs"), false).unwrap());
    let options = ForwardOptions {
        intercept: InterceptRules::new(["localhost".to_string()]),
        issuer: Arc::new(LeafIssuer::from_shared(ca.clone())),
    };
    let config = proxy_config(forward_upstream_label(), Some(&upstream_ca_file), UpstreamProxies::direct());
    let (session, _, mut records) = recording_session(dir.path(), "forward").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(frametap::forward::serve(listener, options, config, session.sink.clone(), async {
        let _ = stopped.await;
    }));

    let log = dir.path().join("chromium.log");
    let browser = start_browser(
        &chromium,
        &dir.path().join("profile"),
        &proxy_addr.to_string(),
        &ca.spki_sha256_base64(),
        &format!("https://localhost:{}/", page.port()),
        &log,
    );
    let mut seen = Vec::new();
    let exchange = tokio::time::timeout(BROWSER_TIMEOUT, async {
        while let Some(record) = records.recv().await {
            let done = matches!(&record, Record::Close(_));
            seen.push(record);
            if done {
                return;
            }
        }
    })
    .await;
    drop(browser);
    if exchange.is_err() {
        let tail = chromium_tail(&log);
        panic!("no complete WebSocket session within {BROWSER_TIMEOUT:?}; records: {seen:?}\nChromium said:\n{tail}");
    }

    let open = seen.iter().find_map(|r| if let Record::Open(o) = r { Some(o) } else { None }).unwrap();
    assert_eq!(open.upstream.as_deref(), Some(ws_url.as_str()));
    assert_eq!(open.response.as_ref().map(|r| r.status), Some(101));
    let texts: Vec<(Peer, String)> = seen
        .iter()
        .filter_map(|r| match r {
            Record::Frame(f) if f.text_message => Some((f.from, String::from_utf8_lossy(&f.payload).into_owned())),
            _ => None,
        })
        .collect();
    let hello = "hello from chromium".to_string();
    assert_eq!(texts, vec![(Peer::Client, hello.clone()), (Peer::Server, hello)]);
    let Some(Record::Close(close)) = seen.last() else { unreachable!() };
    assert_eq!((close.initiator, close.code), (Peer::Client, Some(1000)), "{close:?}");

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    session.finish().await;
}

/// What a failed browser test shows: the last lines Chromium wrote.
fn chromium_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(30).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// `replay serve --forward` of `script` for the `hosts` given, with headless Chromium using it as its proxy and
/// opening `page`; recording its session.
struct BrowsedReplay {
    browser: Option<Browser>,
    log: PathBuf,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    session: frametap::session::Session,
    records: tokio::sync::mpsc::UnboundedReceiver<Record>,
}

impl BrowsedReplay {
    async fn start(
        chromium: &Path,
        dir: &Path,
        script: frametap::replay::Script,
        hosts: &[&str],
        page: std::net::SocketAddr,
        reports: Option<tokio::sync::mpsc::UnboundedSender<frametap::replay::serve::Served>>,
    ) -> BrowsedReplay {
        use frametap::replay::serve::{serve, Front, ServeOptions};
        let ca = Arc::new(CertAuthority::init(&dir.join("certs"), false).unwrap());
        let front = Front::Forward {
            options: ForwardOptions {
                intercept: InterceptRules::new(hosts.iter().map(|h| h.to_string())),
                issuer: Arc::new(LeafIssuer::from_shared(ca.clone())),
            },
            proxies: UpstreamProxies::direct(),
        };
        let mut play = support::play_options(frametap::replay::Pace::Fast);
        play.wait_timeout = None;
        let options = ServeOptions { play, handshake_timeout: BROWSER_TIMEOUT };
        let (session, _, records) = recording_session(dir, "replay-serve").await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy_addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let stopped = async {
            let _ = stopped.await;
        };
        let server = tokio::spawn(serve(listener, front, script, options, session.sink.clone(), stopped, reports));
        let log = dir.join("chromium.log");
        let url = format!("http://127.0.0.1:{}/", page.port());
        let browser = start_browser(
            chromium,
            &dir.join("profile"),
            &proxy_addr.to_string(),
            &ca.spki_sha256_base64(),
            &url,
            &log,
        );
        BrowsedReplay { browser: Some(browser), log, stop, server, session, records }
    }

    /// Closes the browser; returns Chromium's last words, for a failure's message.
    fn close_browser(&mut self) -> String {
        self.browser.take();
        chromium_tail(&self.log)
    }

    /// Stops the replay and finishes its session; returns the records it wrote.
    async fn stop(self) -> Vec<Record> {
        let BrowsedReplay { stop, server, session, mut records, .. } = self;
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
        session.finish().await;
        let mut seen = Vec::new();
        while let Ok(record) = records.try_recv() {
            seen.push(record);
        }
        seen
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_gets_the_replay_in_place_of_the_recorded_wss_host() {
    use frametap::replay::Script;
    let Some(chromium) = find_chromium() else {
        eprintln!("SKIPPED headless_chromium_gets_the_replay_in_place_of_the_recorded_wss_host: no Chromium found (set FRAMETAP_CHROMIUM)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A recorded Genesys-like session: the page's second message quotes the server's first.
    const WS_URL: &str = "wss://webmessaging.euw2.pure.cloud/v1?deploymentId=chromium";
    let conversation = [(Peer::Client, "hi"), (Peer::Server, "hello"), (Peer::Client, "got: hello")];
    let close = support::server_close(true, Some(4000), None);
    let capture = support::conversation_capture(dir.path(), "recorded.jsonl", WS_URL, 101, &conversation, Some(close));
    let script = Script::load(&capture, None, false).unwrap();
    // The front end, unchanged: it opens the recorded URL. Its page comes from a local server, through the proxy.
    let html = format!(
        "<!doctype html><title>loading</title><script>\n\
         const ws = new WebSocket({WS_URL:?});\n\
         ws.onopen = () => ws.send('hi');\n\
         ws.onmessage = (e) => ws.send('got: ' + e.data);\n\
         ws.onclose = (e) => {{ document.title = 'closed ' + e.code + ' ' + e.reason; }};\n\
         </script>"
    );
    let page = start_page_server(None, html).await;

    let recorded_host = script.recorded_host().unwrap();
    let (report_tx, mut reports) = tokio::sync::mpsc::unbounded_channel();
    let mut replay =
        BrowsedReplay::start(&chromium, dir.path(), script, &[recorded_host.as_str()], page, Some(report_tx)).await;
    let report = tokio::time::timeout(BROWSER_TIMEOUT, reports.recv()).await;
    let chromium_said = replay.close_browser();
    let Ok(Some(served)) = report else {
        panic!("no replayed session within {BROWSER_TIMEOUT:?}\nChromium said:\n{chromium_said}");
    };
    let report = served.played().expect("the browser got the WebSocket");
    assert!(report.divergences.is_empty(), "the browser sent the recorded frames: {:?}", report.divergences);
    assert_eq!((report.sent, report.received), (2, 3), "hello and the close out; hi, got: hello and the close in");
    let close = &report.close;
    assert_eq!((close.initiator, close.code, close.clean), (Peer::Server, Some(4000), true), "{close:?}");

    let mut host = None;
    for record in replay.stop().await {
        if let Record::Open(open) = record {
            host = frametap::event::header(&open.request.headers, "host").map(str::to_owned);
        }
    }
    assert_eq!(host.as_deref(), Some(recorded_host.as_str()), "the browser asked for the recorded host itself");
}

/// `replay serve --forward` of a Chrome HAR: the page's cross-origin calls get their recorded answers in a real
/// browser. The token refresh is a POST with a JSON body, so Chromium sends a CORS preflight first (which Chrome's
/// HARs never hold), and its recorded answer allowed another origin (the production page's) than this page's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_gets_a_hars_http_answers_through_the_replay() {
    use frametap::replay::Script;
    let Some(chromium) = find_chromium() else {
        eprintln!("SKIPPED headless_chromium_gets_a_hars_http_answers_through_the_replay: no Chromium found (set FRAMETAP_CHROMIUM)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/har/chrome-genesys.har");
    let mut har: serde_json::Value = serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    let entries = har["log"]["entries"].as_array_mut().unwrap();
    let config_url = entries[0]["request"]["url"].as_str().unwrap().to_owned();
    let allow_any = serde_json::json!({"name": "access-control-allow-origin", "value": "*"});
    entries[0]["response"]["headers"].as_array_mut().unwrap().push(allow_any);
    let refresh_url = "https://api.mypurecloud.com/api/v2/webdeployments/token/refresh";
    entries.push(serde_json::json!({
        "request": {"method": "POST", "url": refresh_url, "headers": []},
        "response": {"status": 200, "headers": [
            {"name": "content-type", "value": "application/json"},
            {"name": "access-control-allow-origin", "value": "https://shop.example.com"},
            {"name": "access-control-allow-credentials", "value": "true"},
        ], "content": {"size": 19, "mimeType": "application/json", "text": r#"{"jwt":"refreshed"}"#}},
    }));
    let har_path = dir.path().join("page.har");
    std::fs::write(&har_path, serde_json::to_vec(&har).unwrap()).unwrap();
    let script = Script::load(&har_path, None, false).unwrap();

    let html = format!(
        "<!doctype html><title>loading</title><script>\n\
         const said = [];\n\
         fetch({refresh_url:?}, {{method: 'POST', credentials: 'include', headers: {{'content-type': 'application/json'}}, body: '{{}}'}})\n\
           .then((r) => r.json()).then((j) => {{ said.push('jwt=' + j.jwt); return fetch({config_url:?}); }})\n\
           .then((r) => r.json()).then((j) => said.push('status=' + j.status))\n\
           .catch((e) => said.push('error=' + e))\n\
           .finally(() => fetch('/result?' + encodeURIComponent(said.join(';'))));\n\
         </script>"
    );
    let (told, mut requests) = tokio::sync::mpsc::unbounded_channel();
    let page = start_page_server_telling(None, html, Some(told)).await;

    let hosts = ["webmessaging.mypurecloud.com", "api.mypurecloud.com", "api-cdn.mypurecloud.com"];
    let mut replay = BrowsedReplay::start(&chromium, dir.path(), script, &hosts, page, None).await;
    let result = tokio::time::timeout(BROWSER_TIMEOUT, async {
        while let Some(request) = requests.recv().await {
            if let Some(query) = request.strip_prefix("/result?") {
                return query.to_owned();
            }
        }
        panic!("the page server stopped");
    })
    .await;
    let chromium_said = replay.close_browser();
    let Ok(result) = result else {
        panic!("the page reported nothing within {BROWSER_TIMEOUT:?}\nChromium said:\n{chromium_said}");
    };
    assert_eq!(result, "jwt%3Drefreshed%3Bstatus%3DActive", "the recorded answers, as the page read them");
    replay.stop().await;
}
