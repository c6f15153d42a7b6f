//! Reading a page in the UI tests: how long to wait, launching the browser, texts and counts by selector, the frame
//! table's visible rows, and a connection through a running proxy once the page shows it.

use super::{Browser, Page};
use std::time::Duration;

pub const WAIT: Duration = Duration::from_secs(10);

pub async fn browser() -> Browser {
    match Browser::launch().await {
        Ok(b) => b,
        Err(e) => panic!("{e:#}"),
    }
}

pub async fn count(page: &Page, selector: &str) -> u64 {
    let sel = serde_json::to_string(selector).unwrap();
    page.eval(&format!("document.querySelectorAll({sel}).length")).await.unwrap().as_u64().unwrap()
}

pub async fn text(page: &Page, selector: &str) -> String {
    let sel = serde_json::to_string(selector).unwrap();
    page.eval(&format!("document.querySelector({sel})?.textContent ?? ''")).await.unwrap().as_str().unwrap().to_string()
}

/// The visible rows' sequence numbers.
pub async fn rows(page: &Page) -> Vec<u64> {
    let v =
        page.eval("[...document.querySelectorAll('#frame-rows tr')].map(r => Number(r.dataset.seq))").await.unwrap();
    serde_json::from_value(v).unwrap()
}

/// Waits until the visible rows are exactly `seqs` (rendering happens on the next animation frame).
pub async fn wait_rows(page: &Page, seqs: &[u64]) {
    let want = serde_json::to_string(seqs).unwrap();
    let expr = format!(
        "JSON.stringify([...document.querySelectorAll('#frame-rows tr')].map(r => Number(r.dataset.seq))) === '{want}'"
    );
    if let Err(e) = page.wait_for(&expr, WAIT).await {
        panic!("{e:#}\nrows shown: {:?}, wanted {want}", rows(page).await);
    }
}

/// A client connection through the proxy at `proxy_url` (the built-in simulator answers) that sent one frame, once
/// `page` shows it and its frame; kept open while the client is.
pub async fn a_connection_shown(
    page: &Page,
    proxy_url: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use futures_util::SinkExt as _;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{proxy_url}/v1?deploymentId=x")).await.unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::text(r#"{"action":"echo","message":"hello"}"#)).await.unwrap();
    page.wait_for(
        "window.frametap.table?.length >= 1 && document.querySelectorAll('#conn-list li').length === 1",
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    ws
}
