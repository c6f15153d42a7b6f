//! A small Chrome DevTools Protocol client for tests: launches headless Chromium and drives pages.
//!
//! Chromium is started with `--remote-debugging-port=0` and a fresh profile in a temp dir; its
//! stderr line `DevTools listening on ws://…` gives the browser endpoint, which this client speaks to
//! over tokio-tungstenite with flattened target sessions (Target / Page / Runtime / Emulation).
#![allow(dead_code)] // each test file uses a different part of it

pub mod fixtures;
pub mod read;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use base64::Engine as _;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// How long a browser gets to start, and a single command to answer.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

type Pending = Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>;

struct Connection {
    outgoing: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next_id: AtomicU64,
    events: broadcast::Sender<Value>,
    /// JavaScript exceptions and console errors, as text, from every page.
    page_errors: Mutex<Vec<String>>,
}

impl Connection {
    /// Sends a command and waits for its answer at most `within`.
    async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
        within: Duration,
    ) -> anyhow::Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        self.outgoing
            .send(Message::Text(message.to_string().into()))
            .map_err(|_| anyhow!("the browser connection is gone (calling {method})"))?;
        match tokio::time::timeout(within, rx).await {
            Err(_) => bail!("the browser did not answer {method} within {within:?}"),
            Ok(Err(_)) => bail!("the browser connection closed while calling {method}"),
            Ok(Ok(Err(e))) => bail!("{method} failed: {e}"),
            Ok(Ok(Ok(v))) => Ok(v),
        }
    }
}

/// A running headless Chromium; killed when dropped.
pub struct Browser {
    _child: tokio::process::Child,
    _profile: tempfile::TempDir,
    conn: Arc<Connection>,
}

/// How every test starts Chromium: headless, without the background connections this machine's closed network
/// refuses, with a profile of its own (given by the caller).
pub const HEADLESS_FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// The Chromium binary: `$FRAMETAP_CHROMIUM`, else Debian's /usr/bin/chromium.
pub fn chromium_path() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("FRAMETAP_CHROMIUM").map(PathBuf::from).unwrap_or_else(|| "/usr/bin/chromium".into());
    if !path.exists() {
        bail!(
            "the browser tests need Chromium at {}, which is missing: install it with \
             `sudo apt-get install -y chromium` (Debian/Ubuntu), or point FRAMETAP_CHROMIUM at a \
             Chromium or Chrome binary",
            path.display()
        );
    }
    Ok(path)
}

impl Browser {
    /// Starts headless Chromium with a fresh profile and connects to it.
    pub async fn launch() -> anyhow::Result<Browser> {
        let binary = chromium_path()?;
        let profile = tempfile::tempdir().context("creating a Chromium profile dir")?;
        let mut child = tokio::process::Command::new(&binary)
            .args(HEADLESS_FLAGS)
            .args(["--remote-debugging-port=0", "--window-size=1440,900"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
        let endpoint = tokio::time::timeout(STARTUP_TIMEOUT, async {
            while let Some(line) = stderr.next_line().await? {
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    return Ok(url.trim().to_string());
                }
            }
            bail!("Chromium exited before it printed its DevTools address")
        })
        .await
        .map_err(|_| anyhow!("Chromium did not print its DevTools address within {STARTUP_TIMEOUT:?}"))??;
        // Keep draining stderr so Chromium never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });

        let (socket, _) = tokio_tungstenite::connect_async(endpoint.as_str())
            .await
            .with_context(|| format!("connecting to Chromium's DevTools at {endpoint}"))?;
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut to_send) = mpsc::unbounded_channel::<Message>();
        let (events, _) = broadcast::channel(1024);
        let conn = Arc::new(Connection {
            outgoing,
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            events,
            page_errors: Mutex::new(Vec::new()),
        });
        tokio::spawn(async move {
            while let Some(m) = to_send.recv().await {
                if sink.send(m).await.is_err() {
                    break;
                }
            }
        });
        let reader = conn.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Ok(value) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                if let Some(id) = value.get("id").and_then(Value::as_u64) {
                    let result = match value.get("error") {
                        Some(e) => Err(e.to_string()),
                        None => Ok(value.get("result").cloned().unwrap_or(Value::Null)),
                    };
                    if let Some(tx) = reader.pending.lock().unwrap().remove(&id) {
                        let _ = tx.send(result);
                    }
                } else {
                    record_page_error(&reader, &value);
                    let _ = reader.events.send(value);
                }
            }
        });
        Ok(Browser { _child: child, _profile: profile, conn })
    }

    /// Opens a new tab (about:blank) with Page and Runtime enabled.
    pub async fn new_page(&self) -> anyhow::Result<Page> {
        let target =
            self.conn.call(None, "Target.createTarget", json!({"url": "about:blank"}), COMMAND_TIMEOUT).await?;
        let target_id = target["targetId"].as_str().context("no targetId")?.to_string();
        let attached = self
            .conn
            .call(None, "Target.attachToTarget", json!({"targetId": target_id, "flatten": true}), COMMAND_TIMEOUT)
            .await?;
        let session = attached["sessionId"].as_str().context("no sessionId")?.to_string();
        let page = Page { conn: self.conn.clone(), session };
        page.call("Page.enable", json!({})).await?;
        page.call("Runtime.enable", json!({})).await?;
        page.set_viewport(1440, 900).await?;
        Ok(page)
    }

    /// JavaScript errors seen on any page so far.
    pub fn page_errors(&self) -> Vec<String> {
        self.conn.page_errors.lock().unwrap().clone()
    }
}

fn record_page_error(conn: &Connection, event: &Value) {
    let params = &event["params"];
    let text = match event["method"].as_str() {
        Some("Runtime.exceptionThrown") => {
            let details = &params["exceptionDetails"];
            let description = details["exception"]["description"].as_str().or(details["text"].as_str());
            Some(format!("exception: {}", description.unwrap_or("?")))
        }
        Some("Runtime.consoleAPICalled") if params["type"] == "error" => {
            Some(format!("console.error: {}", params["args"]))
        }
        _ => None,
    };
    if let Some(text) = text {
        conn.page_errors.lock().unwrap().push(text);
    }
}

/// One tab.
pub struct Page {
    conn: Arc<Connection>,
    session: String,
}

impl Page {
    pub async fn call(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.conn.call(Some(&self.session), method, params, COMMAND_TIMEOUT).await
    }

    /// Closes the page's open WebSockets from outside its code, as a dropped connection ends them: they are found
    /// through the DevTools protocol (every object whose prototype is `WebSocket.prototype`). Returns how many.
    pub async fn drop_websockets(&self) -> anyhow::Result<u64> {
        let prototype = self.call("Runtime.evaluate", json!({"expression": "WebSocket.prototype"})).await?;
        let prototype = prototype["result"]["objectId"].as_str().context("no WebSocket.prototype")?;
        let sockets = self.call("Runtime.queryObjects", json!({"prototypeObjectId": prototype})).await?;
        let sockets = sockets["objects"]["objectId"].as_str().context("no list of WebSockets")?;
        let close = "function() { const open = this.filter(ws => ws.readyState === WebSocket.OPEN); \
                     open.forEach(ws => ws.close(4000, 'dropped by the test')); return open.length; }";
        let closed = self
            .call(
                "Runtime.callFunctionOn",
                json!({"objectId": sockets, "functionDeclaration": close, "returnByValue": true}),
            )
            .await?;
        closed["result"]["value"].as_u64().context("callFunctionOn returned no count")
    }

    pub async fn set_viewport(&self, width: u32, height: u32) -> anyhow::Result<()> {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        )
        .await
        .map(drop)
    }

    /// Makes this tab the visible one (background tabs get no animation frames, so the UI would not render).
    pub async fn bring_to_front(&self) -> anyhow::Result<()> {
        self.call("Page.bringToFront", json!({})).await.map(drop)
    }

    /// Navigates and waits for the page's load event.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        let mut events = self.conn.events.subscribe();
        let nav = self.call("Page.navigate", json!({"url": url})).await?;
        if let Some(error) = nav.get("errorText").and_then(Value::as_str) {
            bail!("navigating to {url} failed: {error}");
        }
        tokio::time::timeout(COMMAND_TIMEOUT, async {
            loop {
                let event = events.recv().await?;
                if event["method"] == "Page.loadEventFired" && event["sessionId"] == self.session.as_str() {
                    return Ok::<_, anyhow::Error>(());
                }
            }
        })
        .await
        .map_err(|_| anyhow!("{url} did not finish loading within {COMMAND_TIMEOUT:?}"))?
    }

    /// Evaluates an expression (promises are awaited) and returns its JSON value.
    pub async fn eval(&self, expression: &str) -> anyhow::Result<Value> {
        self.eval_within(expression, COMMAND_TIMEOUT).await
    }

    /// Like [`Page::eval`], for an expression whose promise may take up to `within` to settle.
    async fn eval_within(&self, expression: &str, within: Duration) -> anyhow::Result<Value> {
        let params = json!({"expression": expression, "returnByValue": true, "awaitPromise": true});
        let result = self.conn.call(Some(&self.session), "Runtime.evaluate", params, within).await?;
        if let Some(details) = result.get("exceptionDetails") {
            let text = details["exception"]["description"].as_str().or(details["text"].as_str()).unwrap_or("?");
            bail!("evaluating `{expression}` threw: {text}");
        }
        Ok(result["result"].get("value").cloned().unwrap_or(Value::Null))
    }

    /// Waits, inside the page, until `expression` is truthy; returns its value. The page's own timer ends the wait
    /// after `timeout`; the command itself is given that long and a command's timeout more, so a wait longer than
    /// [`COMMAND_TIMEOUT`] is not cut short (it was: a 60 s wait failed after 20 s with "the browser did not answer").
    pub async fn wait_for(&self, expression: &str, timeout: Duration) -> anyhow::Result<Value> {
        let script = format!(
            "new Promise((resolve, reject) => {{ const start = performance.now(); \
               const check = () => {{ let v; try {{ v = ({expression}); }} catch (e) {{ v = undefined; }} \
                 if (v) return resolve(v); \
                 if (performance.now() - start > {ms}) return reject(new Error('timed out')); \
                 setTimeout(check, 20); }}; check(); }})",
            ms = timeout.as_millis()
        );
        self.eval_within(&script, timeout + COMMAND_TIMEOUT)
            .await
            .with_context(|| format!("waiting for `{expression}`"))
    }

    /// Clicks the first element matching a CSS selector (an error when there is none).
    pub async fn click(&self, selector: &str) -> anyhow::Result<()> {
        let sel = serde_json::to_string(selector)?;
        let found = self
            .eval(&format!("(() => {{ const e = document.querySelector({sel}); if (!e) return false; e.click(); return true; }})()"))
            .await?;
        if found != Value::Bool(true) {
            bail!("nothing on the page matches {selector}");
        }
        Ok(())
    }

    /// Clicks the first element matching a CSS selector the way a user does: with the mouse, at its centre. An error
    /// when there is none, when its centre is off screen, or when something else covers it there.
    pub async fn click_on_screen(&self, selector: &str) -> anyhow::Result<()> {
        let (x, y) = self.point_on_screen(selector).await?;
        self.mouse("mousePressed", x, y).await?;
        self.mouse("mouseReleased", x, y).await
    }

    /// The centre of the first element matching a CSS selector, where a user would click it. An error when there is
    /// none, when its centre is off screen, or when something else covers it there.
    pub async fn point_on_screen(&self, selector: &str) -> anyhow::Result<(f64, f64)> {
        let sel = serde_json::to_string(selector)?;
        let at = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({sel}); if (!e) return 'nothing matches'; \
                   const r = e.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2; \
                   if (r.width === 0 || r.height === 0) return 'it has no size'; \
                   if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) return `its centre (${{x}}, ${{y}}) is off screen`; \
                   const top = document.elementFromPoint(x, y); \
                   if (!e.contains(top)) return `it is covered by ${{top?.outerHTML.slice(0, 80)}}`; \
                   return [x, y]; }})()"
            ))
            .await?;
        match at.as_array().map(|a| (a[0].as_f64(), a[1].as_f64())) {
            Some((Some(x), Some(y))) => Ok((x, y)),
            _ => bail!("cannot click {selector}: {}", at.as_str().unwrap_or("?")),
        }
    }

    /// Presses (`mousePressed`) or releases (`mouseReleased`) the left mouse button at a point of the viewport: half
    /// a click, for tests of what happens between the two.
    pub async fn mouse(&self, kind: &str, x: f64, y: f64) -> anyhow::Result<()> {
        self.call("Input.dispatchMouseEvent", json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}))
            .await
            .map(drop)
    }

    /// Types into an input (sets its value and fires `input`).
    pub async fn type_into(&self, selector: &str, text: &str) -> anyhow::Result<()> {
        let (sel, text) = (serde_json::to_string(selector)?, serde_json::to_string(text)?);
        let found = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({sel}); if (!e) return false; e.value = {text}; \
                   e.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()"
            ))
            .await?;
        if found != Value::Bool(true) {
            bail!("no input matches {selector}");
        }
        Ok(())
    }

    /// Saves a PNG screenshot of the viewport.
    pub async fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"})).await?;
        let data = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().context("no screenshot data")?)
            .context("decoding the screenshot")?;
        std::fs::write(path, data).with_context(|| format!("writing {}", path.display()))
    }
}
