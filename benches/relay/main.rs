//! Relay benchmark: the same load through a direct connection, a byte-level TCP relay (the floor any relay
//! can reach here), and frametap with capture off and on (JSON Lines, and compact) — in one run, as medians
//! of several runs.
//!
//! `cargo bench --bench relay` (options after `--`: `--runs N`, `--seconds S`, `--idle N`, `--write-docs`;
//! while profiling, `--scenario TEXT` and `--target TEXT` keep only the scenarios and relays whose names contain
//! TEXT — direct and the TCP relay always run, as the ratios need them — and `--baseline PATH` adds another
//! frametap binary (say, a build of the previous commit; repeatable), in the same modes and with the same idle
//! connections, to compare a change in one run).
//! Results and the machine go to stdout and, with `--write-docs`, to docs/performance.md.

mod in_process;
mod load;
mod measure;
mod report;
mod targets;

use load::{echo_server, run_scenario, Sample, Scenario, SCENARIOS, WARM_UP};
use measure::{disk_write_speed, idle_memory, proc_stat, raise_file_limit, settle, shuffled, steal_seconds};
use report::{Measured, Report};
use std::net::SocketAddr;
use std::path::Path;
use targets::{frametap_binary, other_tools, serve_tcp_relay, tcp_relay, this_build, Capture, Target};

struct Options {
    runs: usize,
    seconds: f64,
    idle: usize,
    write_docs: bool,
    scenario: Option<String>,
    target: Option<String>,
    baselines: Vec<std::path::PathBuf>,
}

const USAGE: &str =
    "options: --runs N --seconds S --idle N --write-docs | --scenario TEXT --target TEXT --baseline PATH";

/// The options after `--`; a bad one is reported with what was wrong and what to use instead.
fn options() -> Result<Options, String> {
    let mut o = Options {
        runs: 5,
        seconds: 1.0,
        idle: 1000,
        write_docs: false,
        scenario: None,
        target: None,
        baselines: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |what: &str| args.next().ok_or_else(|| format!("{arg} needs a value ({arg} {what})"));
        match arg.as_str() {
            "--runs" => o.runs = number(&arg, &value("N")?)?,
            "--seconds" => o.seconds = number(&arg, &value("S")?)?,
            "--idle" => o.idle = number(&arg, &value("N")?)?,
            "--scenario" => o.scenario = Some(value("TEXT")?),
            "--target" => o.target = Some(value("TEXT")?),
            "--baseline" => o.baselines.push(value("PATH")?.into()),
            "--write-docs" => o.write_docs = true,
            // Added by `cargo bench`.
            "--bench" => {}
            "--help" | "-h" => {
                println!("cargo bench --bench relay -- [{USAGE}]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown option {other}; {USAGE}")),
        }
    }
    if o.runs == 0 || o.seconds <= 0.0 {
        return Err("--runs and --seconds must be above 0".into());
    }
    if o.write_docs && (o.scenario.is_some() || o.target.is_some() || !o.baselines.is_empty()) {
        return Err(
            "--write-docs writes the whole table of this build: drop --scenario, --target and --baseline".into()
        );
    }
    if let Some(missing) = o.baselines.iter().find(|path| !path.is_file()) {
        return Err(format!("--baseline {}: no such file (give a frametap binary)", missing.display()));
    }
    Ok(o)
}

fn number<T: std::str::FromStr>(option: &str, text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("{option} {text}: not a number"))
}

fn main() {
    let relay_arg = std::env::args().find_map(|a| a.strip_prefix("--tcp-relay=").map(str::to_owned));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if let Some(upstream) = relay_arg {
        // The same multi-threaded runtime frametap uses, so the floor is not handicapped.
        runtime.block_on(serve_tcp_relay(upstream.parse().unwrap()));
        return;
    }
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("relay bench: {message}");
            std::process::exit(2);
        }
    };
    runtime.block_on(bench(options));
}

async fn bench(options: Options) {
    let echo = echo_server().await;
    let capture_dir = tempfile::tempdir().unwrap();
    let mut targets = start_targets(&options, echo, capture_dir.path()).await;
    let scenarios: Vec<(usize, &Scenario)> = SCENARIOS
        .iter()
        .enumerate()
        .filter(|(_, scenario)| options.scenario.as_ref().is_none_or(|wanted| scenario.name.contains(wanted.as_str())))
        .collect();
    // Measured before any capture has filled the page cache with dirty pages (and only when a capture will run).
    let capturing = !scenarios.is_empty() && targets.iter().any(|t| t.capture.is_some());
    let disk_mb_per_sec = capturing.then(|| disk_write_speed(capture_dir.path()));
    let mut report = Report::new(options.runs, options.seconds);
    for (index, scenario) in scenarios {
        fresh_captures(&mut targets, echo).await;
        let measured = measure_scenario(&targets, scenario, &options).await;
        report.add(index, scenario, &targets, &measured);
    }
    for target in &mut targets {
        if let Some(child) = target.child.as_mut() {
            let _ = child.kill().await;
        }
    }
    let per_frame = in_process::per_frame_cost(options.runs).await;
    println!("\n{per_frame}");
    let idle_line = idle_connections(&this_build(), echo, options.idle).await;
    println!("\n{idle_line}");
    for binary in &options.baselines {
        let line = idle_connections(binary, echo, options.idle).await;
        println!("baseline {}: {line}", binary.display());
    }
    let arguments =
        format!("--runs {} --seconds {} --idle {} --write-docs", options.runs, options.seconds, options.idle);
    report.finish(
        &format!("{per_frame}\n{idle_line}"),
        disk_mb_per_sec,
        options.write_docs.then_some(arguments.as_str()),
    );
}

/// The targets, in the table's order: direct, the TCP relay, frametap in each mode, the other tools installed,
/// then each `--baseline` binary in every frametap mode that `--target` kept.
async fn start_targets(options: &Options, echo: SocketAddr, capture_dir: &Path) -> Vec<Target> {
    let frametap_exe = this_build();
    let capture = |format: &'static str, binary: &Path, n: usize| Capture {
        path: capture_dir.join(format!("bench{n}.{format}")),
        format,
        binary: binary.to_owned(),
    };
    let mut targets = vec![
        Target { name: "direct".into(), addr: echo, child: None, capture: None },
        tcp_relay(echo).await,
        frametap_binary(&frametap_exe, echo, None).await,
        frametap_binary(&frametap_exe, echo, Some(capture("jsonl", &frametap_exe, 0))).await,
        frametap_binary(&frametap_exe, echo, Some(capture("compact", &frametap_exe, 0))).await,
    ];
    targets.extend(other_tools(echo).await);
    if let Some(wanted) = &options.target {
        targets.retain(|t| t.name == "direct" || t.name.starts_with("TCP relay") || t.name.contains(wanted.as_str()));
    }
    let modes: Vec<Option<&'static str>> = targets
        .iter()
        .filter(|t| t.name.starts_with("frametap"))
        .map(|t| t.capture.as_ref().map(|c| c.format))
        .collect();
    for (n, binary) in options.baselines.iter().enumerate() {
        for mode in &modes {
            let mut baseline = frametap_binary(binary, echo, mode.map(|format| capture(format, binary, n + 1))).await;
            baseline.name = baseline.name.replacen("frametap", &format!("baseline {}", binary.display()), 1);
            targets.push(baseline);
        }
    }
    targets
}

/// Restarts every capturing target on a fresh file: one scenario's gigabytes must not leave the page cache full of
/// dirty pages that throttle the next one's writes.
async fn fresh_captures(targets: &mut [Target], echo: SocketAddr) {
    for target in targets.iter_mut() {
        let Some(capture) = target.capture.clone() else { continue };
        if let Some(mut child) = target.child.take() {
            let _ = child.kill().await;
        }
        let _ = std::fs::remove_file(&capture.path);
        let name = std::mem::take(&mut target.name);
        *target = frametap_binary(&capture.binary.clone(), echo, Some(capture)).await;
        target.name = name;
    }
}

/// One warm-up run per target, then `--runs` rounds in which every target runs once, in a fresh random order per
/// round: interleaved, so the VM's drift in speed hits every target alike, and shuffled, so what one run leaves
/// behind (a capture's gigabytes) does not always slow the same target down. Steal time is counted per target.
async fn measure_scenario(targets: &[Target], scenario: &Scenario, options: &Options) -> Vec<Measured> {
    let pids: Vec<Option<u32>> = targets.iter().map(|t| t.child.as_ref().and_then(|c| c.id())).collect();
    let cpu_before: Vec<f64> = pids.iter().map(|pid| pid.map(|p| proc_stat(p).0).unwrap_or(0.0)).collect();
    for target in targets {
        let _ = run_scenario(target.addr, *scenario, options.seconds * WARM_UP).await;
    }
    let mut samples_of: Vec<Vec<Sample>> = vec![Vec::new(); targets.len()];
    let mut steal_of = vec![0.0; targets.len()];
    for _ in 0..options.runs {
        for index in shuffled(targets.len()) {
            let target = &targets[index];
            let steal_before = steal_seconds();
            samples_of[index].push(run_scenario(target.addr, *scenario, options.seconds).await);
            steal_of[index] += steal_seconds() - steal_before;
            // The kernel writes a capture's dirty pages back after the run; done now, so that work (and its
            // CPU, on 2 cores) is not charged to the next target's run.
            if let Some(capture) = &target.capture {
                settle(&capture.path);
            }
        }
    }
    samples_of
        .into_iter()
        .zip(steal_of)
        .zip(pids.iter().zip(cpu_before))
        .map(|((samples, steal), (pid, before))| Measured {
            samples,
            steal,
            cpu: pid.map(|pid| {
                let (after, peak) = proc_stat(pid);
                (after - before, peak)
            }),
        })
        .collect()
}

/// Holds `wanted` idle connections through the frametap at `binary` (fewer when the open-file limit cannot allow
/// them) and says what each costs.
async fn idle_connections(binary: &Path, echo: SocketAddr, wanted: usize) -> String {
    let limit = raise_file_limit();
    // This process holds two descriptors per idle connection (client and echo server), frametap two.
    let idle = wanted.min(limit.saturating_sub(200) as usize / 2);
    if idle < wanted {
        println!("(the open-file limit {limit} allows {idle} idle connections, not {wanted})");
    }
    let (before, after, opened) = idle_memory(binary, echo, idle).await;
    let per_conn = (after.saturating_sub(before)) as f64 / opened.max(1) as f64;
    if opened == 0 {
        format!(
            "Idle connections: not measured (frametap at {:.1} MB RSS after one connection).\n",
            before as f64 / 1024.0
        )
    } else {
        format!(
            "Idle connections: frametap at {:.1} MB RSS after one connection; {opened} idle connections held add {:.1} KiB each ({:.1} MB total).\n",
            before as f64 / 1024.0,
            per_conn,
            after as f64 / 1024.0
        )
    }
}
