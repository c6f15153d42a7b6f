//! The web UI opened through a front at another origin: a small reverse proxy started here on 127.0.0.1:0 that passes
//! every request on to frametap with frametap's own `Host` (as nginx's `proxy_pass` does), while the page, served
//! from the front's origin, sends that origin as `Origin` on its live stream. In a real headless Chromium with the real
//! binary: frametap refuses that stream (403 `origin`), and the page says so, with the flag that accepts the front,
//! and stops; with `--ui-origin` naming the front, the page is live through it.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`) or `FRAMETAP_CHROMIUM=/path/to/chrome`.

// Unix only: it stops frametap with SIGTERM (or SIGKILL), which Windows cannot send to a child process.
#![cfg(unix)]

mod cdp;
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cdp::read::{a_connection_shown, browser};
use common::binary::RunningProxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(30);

/// A reverse proxy in front of a UI: its listener (bound before frametap starts, so its origin can be given to
/// `--ui-origin`) and how many WebSocket upgrades it has passed on.
struct Front {
    listener: Option<TcpListener>,
    upgrades: Arc<AtomicUsize>,
}

impl Front {
    async fn bind() -> Front {
        Front { listener: Some(TcpListener::bind("127.0.0.1:0").await.unwrap()), upgrades: Arc::default() }
    }

    fn origin(&self) -> String {
        format!("http://{}", self.listener.as_ref().unwrap().local_addr().unwrap())
    }

    /// Passes every connection on to the UI at `ui` (`127.0.0.1:PORT`): its request's `Host` becomes the UI's, and a
    /// request other than an upgrade is the connection's last (`Connection: close`), so each request is rewritten.
    fn serve(&mut self, ui: String) {
        let listener = self.listener.take().unwrap();
        let upgrades = self.upgrades.clone();
        tokio::spawn(async move {
            while let Ok((mut incoming, _)) = listener.accept().await {
                let (ui, upgrades) = (ui.clone(), upgrades.clone());
                tokio::spawn(async move {
                    let Some(head) = read_head(&mut incoming).await else { return };
                    let (head, upgrade) = rewrite(&head, &ui);
                    if upgrade {
                        upgrades.fetch_add(1, Ordering::SeqCst);
                    }
                    let mut outgoing = TcpStream::connect(&ui).await.unwrap();
                    outgoing.write_all(head.as_bytes()).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut incoming, &mut outgoing).await;
                });
            }
        });
    }
}

/// A request's head, up to and with its blank line, read a byte at a time (nothing past it is consumed).
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.ok()?);
    }
    String::from_utf8(head).ok()
}

/// The head with the UI's `Host`, and `Connection: close` unless it is an upgrade; and whether it is one.
fn rewrite(head: &str, ui: &str) -> (String, bool) {
    let upgrade = head.to_ascii_lowercase().contains("\r\nupgrade: websocket");
    let mut lines: Vec<String> = head
        .trim_end()
        .split("\r\n")
        .filter(|line| upgrade || !line.to_ascii_lowercase().starts_with("connection:"))
        .map(|line| if line.to_ascii_lowercase().starts_with("host:") { format!("Host: {ui}") } else { line.into() })
        .collect();
    if !upgrade {
        lines.push("Connection: close".into());
    }
    (lines.join("\r\n") + "\r\n\r\n", upgrade)
}

/// `http://127.0.0.1:PORT/?token=…` → (`127.0.0.1:PORT`, `/?token=…`).
fn split_url(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let slash = rest.find('/').unwrap();
    (rest[..slash].to_owned(), rest[slash..].to_owned())
}

/// Opened through a front frametap was not told of, the page's stream is refused for its origin while every GET is
/// answered: the page says frametap refuses the stream of a page at the front's origin, in frametap's words, with the
/// `--ui-origin` that accepts it, and stops reconnecting. Before, the page asked `/api/info`, which a GET answers
/// 200 (a GET from the page's own origin carries no `Origin`), and retried forever, reading "disconnected · retrying".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_opened_through_a_front_whose_origin_is_refused_says_which_flag_accepts_it_and_stops() {
    let browser = browser().await;
    let mut front = Front::bind().await;
    let origin = front.origin();
    let proxy = RunningProxy::start(&["--no-capture", "--ui", "127.0.0.1:0"]).await;
    let (ui, path) = split_url(proxy.banner.ui.as_deref().expect("the web UI's URL"));
    front.serve(ui);

    let page = browser.new_page().await.unwrap();
    page.goto(&format!("{origin}{path}")).await.unwrap();
    let told = "document.getElementById('status').textContent === 'origin refused'";
    if let Err(e) = page.wait_for(told, WAIT).await {
        let seen = page
            .eval("[document.getElementById('status').textContent, document.getElementById('banner-text').textContent]")
            .await;
        panic!("{e:#}\nstatus, banner: {seen:?}; upgrades: {}", front.upgrades.load(Ordering::SeqCst));
    }
    let banner = page.eval("document.getElementById('banner-text').textContent").await.unwrap();
    let banner = banner.as_str().unwrap();
    for says in [
        &format!("frametap refuses the live stream of this page, at {origin} (HTTP 403: requests from pages at {origin} are refused"),
        "this UI accepts pages at http://localhost:",
        &format!("start frametap with --ui-origin {origin}, or open the URL frametap printed"),
        "this page no longer reconnects",
    ] {
        assert!(banner.contains(says), "{says:?} not in {banner:?}");
    }
    // It stopped: no stream opened since the refused one, through longer than the first two waits between retries.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(front.upgrades.load(Ordering::SeqCst), 1, "the page kept reconnecting");
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    proxy.stop().await;
}

/// With `--ui-origin` naming the front, the page opened through it is live: it shows a connection and its frame.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_opened_through_the_front_ui_origin_names_is_live() {
    let browser = browser().await;
    let mut front = Front::bind().await;
    let origin = front.origin();
    let proxy = RunningProxy::start(&["--no-capture", "--ui", "127.0.0.1:0", "--ui-origin", &origin]).await;
    let (ui, path) = split_url(proxy.banner.ui.as_deref().expect("the web UI's URL"));
    front.serve(ui);

    let page = browser.new_page().await.unwrap();
    page.goto(&format!("{origin}{path}")).await.unwrap();
    page.wait_for("document.getElementById('status').textContent === 'live'", WAIT).await.unwrap();
    let ws = a_connection_shown(&page, &proxy.banner.url).await;
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    drop(ws);
    proxy.stop().await;
}
