//! A manual measurement, not a pass/fail test: a burst of frames through `frametap proxy` (an echo upstream) while
//! the web UI is open in headless Chromium. It prints how long the page took to show the last frame after the relay
//! finished, how long the page's main thread was blocked (longest gaps between timer ticks, slowest CDP evaluate),
//! and whether the page had to be resynced from history. Numbers depend on the machine; see docs/ui.md.
//!
//! `cargo test --release --test ui_burst -- --ignored --nocapture` (`BURST=N` frames each way, default 15000;
//! `PROFILE=1` also prints the page's CPU profile, self time per function).

mod cdp;
mod common;

use std::time::{Duration, Instant};

use cdp::Browser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a manual measurement: run with --ignored --nocapture"]
async fn burst_measure() {
    let n: usize = std::env::var("BURST").ok().and_then(|v| v.parse().ok()).unwrap_or(15_000);
    let echo = common::start_echo_server().await;
    let frametap = cdp::fixtures::start_proxy_with_ui(&format!("ws://{echo}")).await;
    let browser = Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();
    page.goto(&frametap.ui).await.unwrap();
    page.wait_for("document.getElementById('status').textContent === 'live'", Duration::from_secs(10)).await.unwrap();
    page.eval("window.__gaps = []; (() => { let last = performance.now(); const tick = () => { const now = performance.now(); window.__gaps.push(now - last); last = now; setTimeout(tick, 0); }; setTimeout(tick, 0); })()").await.unwrap();

    let profile = std::env::var_os("PROFILE").is_some();
    if profile {
        page.call("Profiler.enable", serde_json::json!({})).await.unwrap();
        page.call("Profiler.setSamplingInterval", serde_json::json!({"interval": 500})).await.unwrap();
        page.call("Profiler.start", serde_json::json!({})).await.unwrap();
    }
    let start = Instant::now();
    cdp::fixtures::burst(&frametap.proxy, n).await;
    let relayed = start.elapsed();
    eprintln!("relayed {n} frames and their echoes in {relayed:?}");
    let last = 2 * n;
    let t = Instant::now();
    let mut evals = Vec::new();
    loop {
        let e = Instant::now();
        let shown = page.eval(&format!("!!document.getElementById('frame-{last}')")).await.unwrap();
        evals.push(e.elapsed());
        if shown == serde_json::Value::Bool(true) {
            break;
        }
        if t.elapsed() > Duration::from_secs(120) {
            panic!("never caught up");
        }
        // Sampling how responsive the page is (each evaluate waits for the main thread), not waiting for readiness.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let caught = t.elapsed();
    if profile {
        let p = page.call("Profiler.stop", serde_json::json!({})).await.unwrap();
        let nodes = p["profile"]["nodes"].as_array().unwrap();
        let mut by_id = std::collections::HashMap::new();
        for node in nodes {
            let cf = &node["callFrame"];
            let name = format!(
                "{} {}:{}",
                cf["functionName"].as_str().unwrap(),
                cf["url"].as_str().unwrap().rsplit('/').next().unwrap(),
                cf["lineNumber"]
            );
            by_id.insert(node["id"].as_u64().unwrap(), name);
        }
        let samples = p["profile"]["samples"].as_array().unwrap();
        let deltas = p["profile"]["timeDeltas"].as_array().unwrap();
        let mut self_time: std::collections::HashMap<String, f64> = Default::default();
        for (s, d) in samples.iter().zip(deltas) {
            *self_time.entry(by_id[&s.as_u64().unwrap()].clone()).or_default() += d.as_f64().unwrap() / 1000.0;
        }
        let mut v: Vec<_> = self_time.into_iter().collect();
        v.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap());
        for (name, ms) in v.iter().take(25) {
            eprintln!("PROFILE {ms:9.1} ms  {name}");
        }
    }
    let banner = page.eval("document.getElementById('banner-text').textContent").await.unwrap();
    let gaps = page.eval("(() => { const g = window.__gaps.slice().sort((a,b)=>b-a); return [g[0], g[1], g[2], g.filter(x => x > 100).length, g.filter(x => x > 100).reduce((a, b) => a + b, 0)]; })()").await.unwrap();
    let rows = page.eval("document.querySelectorAll('#frame-rows tr').length").await.unwrap();
    let max_eval = evals.iter().max().unwrap();
    eprintln!(
        "MEASURE n={n} relayed={relayed:?} caught_up_after_relay={caught:?} total={:?} max_eval={max_eval:?} evals={} rows={rows} longest_gaps_ms={gaps} banner={banner}",
        start.elapsed(),
        evals.len()
    );
    drop(frametap);
}
