//! Relay benchmark: the same load through a direct connection, a byte-level TCP relay (the floor any relay
//! can reach here), and frametap with capture off and on (JSON Lines, and compact) — in one run, as medians
//! of several runs.
//!
//! `cargo bench --bench relay` (options after `--`: `--runs N`, `--seconds S`, `--idle N`, `--write-docs`;
//! while profiling, `--scenario TEXT` and `--target TEXT` keep only the scenarios and relays whose names contain
//! TEXT — direct and the TCP relay always run, as the ratios need them — and `--baseline PATH` adds another
//! frametap binary (say, a build of the previous commit; repeatable), in the same modes, to compare a change in
//! one run).
//! Results and the machine go to stdout and, with `--write-docs`, to docs/performance.md.

mod load;
mod measure;
mod targets;

use load::{echo_server, run_scenario, Sample, SCENARIOS};
use measure::{disk_write_speed, idle_memory, median, proc_stat, raise_file_limit, settle, DISK_TEST_MIB};
use targets::{frametap, frametap_binary, other_tools, serve_tcp_relay, tcp_relay, Capture, Target};

struct Options {
    runs: usize,
    seconds: f64,
    idle: usize,
    write_docs: bool,
    scenario: Option<String>,
    target: Option<String>,
    baselines: Vec<std::path::PathBuf>,
}

fn options() -> Options {
    let mut o = Options {
        runs: 5,
        seconds: 1.0,
        idle: 1000,
        write_docs: false,
        scenario: None,
        target: None,
        baselines: Vec::new(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = || args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--runs" => o.runs = value().parse().expect("--runs N"),
            "--seconds" => o.seconds = value().parse().expect("--seconds S"),
            "--idle" => o.idle = value().parse().expect("--idle N"),
            "--scenario" => o.scenario = Some(value()),
            "--target" => o.target = Some(value()),
            "--baseline" => o.baselines.push(value().into()),
            "--write-docs" => {
                o.write_docs = true;
                i -= 1;
            }
            "--bench" => i -= 1,
            other if other.starts_with("--tcp-relay") => {}
            other => panic!(
                "unknown option {other}; use --runs N --seconds S --idle N --write-docs --scenario TEXT --target TEXT --baseline PATH"
            ),
        }
        i += 2;
    }
    assert!(
        !(o.write_docs && (o.scenario.is_some() || o.target.is_some() || !o.baselines.is_empty())),
        "--write-docs writes the whole table of this build: drop --scenario, --target and --baseline"
    );
    o
}

fn main() {
    let relay_arg = std::env::args().find_map(|a| a.strip_prefix("--tcp-relay=").map(str::to_owned));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if let Some(upstream) = relay_arg {
        // The same multi-threaded runtime frametap uses, so the floor is not handicapped.
        runtime.block_on(serve_tcp_relay(upstream.parse().unwrap()));
        return;
    }
    let options = options();
    runtime.block_on(bench(options));
}

async fn bench(options: Options) {
    let echo = echo_server().await;
    let capture_dir = tempfile::tempdir().unwrap();
    let frametap_exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_frametap"));
    let capture = |format: &'static str, binary: &std::path::Path, n: usize| Capture {
        path: capture_dir.path().join(format!("bench{n}.{format}")),
        format,
        binary: binary.to_owned(),
    };
    let mut targets = vec![
        Target { name: "direct".into(), addr: echo, child: None, capture: None },
        tcp_relay(echo).await,
        frametap(echo, None).await,
        frametap(echo, Some(capture("jsonl", &frametap_exe, 0))).await,
        frametap(echo, Some(capture("compact", &frametap_exe, 0))).await,
    ];
    targets.extend(other_tools(echo).await);
    if let Some(wanted) = &options.target {
        targets.retain(|t| t.name == "direct" || t.name.starts_with("TCP relay") || t.name.contains(wanted.as_str()));
    }
    // Measured first, before any capture has filled the page cache with dirty pages.
    let disk_mb_per_sec = targets.iter().any(|t| t.capture.is_some()).then(|| disk_write_speed(capture_dir.path()));
    // Each baseline runs in every frametap mode kept by --target.
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
    let mut report = String::new();
    let mut floor = [0.0f64; 3];
    let mut floor_p50 = 0.0;
    let mut ratios: Vec<(String, usize, f64)> = Vec::new();
    report +=
        "| scenario | target | msgs/s (median [min–max]) | MB/s | p50 RTT µs | p99 RTT µs | × direct | × TCP relay |\n";
    report += "|---|---|---|---|---|---|---|---|\n";
    let mut direct = [0.0f64; 3];
    let mut cpu_report = String::new();
    let mut capture_report = String::new();
    for (i, scenario) in SCENARIOS.iter().enumerate() {
        if options.scenario.as_ref().is_some_and(|wanted| !scenario.name.contains(wanted.as_str())) {
            continue;
        }
        // A fresh capture file per scenario: one scenario's gigabytes must not leave the page cache full of
        // dirty pages that throttle the next one's writes.
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
        // Runs are interleaved (each target once per round), so the VM's drift in speed hits every target alike.
        let pids: Vec<Option<u32>> = targets.iter().map(|t| t.child.as_ref().and_then(|c| c.id())).collect();
        let cpu_before: Vec<f64> = pids.iter().map(|pid| pid.map(|p| proc_stat(p).0).unwrap_or(0.0)).collect();
        // Warm-up: one short run each.
        for target in &targets {
            let _ = run_scenario(target.addr, *scenario, options.seconds / 4.0).await;
        }
        let mut samples_of: Vec<Vec<Sample>> = vec![Vec::new(); targets.len()];
        for _ in 0..options.runs {
            for (target, samples) in targets.iter().zip(&mut samples_of) {
                samples.push(run_scenario(target.addr, *scenario, options.seconds).await);
                // The kernel writes a capture's dirty pages back after the run; done now, so that work (and its
                // CPU, on 2 cores) is not charged to the next target's run.
                if let Some(capture) = &target.capture {
                    settle(&capture.path);
                }
            }
        }
        for ((target, samples), (pid, cpu_before)) in targets.iter().zip(&samples_of).zip(pids.iter().zip(&cpu_before))
        {
            let (msgs, min, max) = median(samples.iter().map(|s| s.msgs_per_sec).collect());
            let mb = median(samples.iter().map(|s| s.mb_per_sec).collect()).0;
            let p50 = median(samples.iter().map(|s| s.p50_us).collect()).0;
            let p99 = median(samples.iter().map(|s| s.p99_us).collect()).0;
            match target.name.as_str() {
                "direct" => direct[i] = msgs,
                n if n.starts_with("TCP relay") => {
                    floor[i] = msgs;
                    if i == 0 {
                        floor_p50 = p50;
                    }
                }
                _ => {}
            }
            let vs_floor = if floor[i] > 0.0 { msgs / floor[i] } else { f64::NAN };
            let vs_floor_text = if vs_floor.is_nan() { "—".to_owned() } else { format!("{vs_floor:.2}") };
            if let Some(pid) = *pid {
                let (cpu_after, peak) = proc_stat(pid);
                cpu_report += &format!(
                    "| {} | {} | {:.2} s CPU for {:.0} msgs ({:.2} µs/msg) | peak RSS {:.1} MB |\n",
                    scenario.name,
                    target.name,
                    cpu_after - cpu_before,
                    msgs * options.seconds * options.runs as f64,
                    (cpu_after - cpu_before) * 1e6 / (msgs * options.seconds * (options.runs as f64 + 0.25)),
                    peak as f64 / 1024.0
                );
            }
            if let Some(capture) = &target.capture {
                let written = std::fs::metadata(&capture.path).map(|m| m.len()).unwrap_or(0) as f64;
                // Payload bytes that crossed frametap (both ways), the warm-up's estimated at the same rate.
                let messages = samples.iter().map(|s| s.msgs_per_sec).sum::<f64>() * options.seconds;
                let relayed =
                    2.0 * scenario.size as f64 * messages * (options.runs as f64 + 0.25) / options.runs as f64;
                capture_report += &format!(
                    "| {} | {} | {:.0} MB | {:.0} MB/s | {:.2} |\n",
                    scenario.name,
                    capture.format,
                    written / 1e6,
                    written / 1e6 / (options.seconds * (options.runs as f64 + 0.25)),
                    written / relayed.max(1.0)
                );
            }
            if target.name.starts_with("frametap") {
                ratios.push((target.name.clone(), i, vs_floor));
                if i == 0 {
                    ratios.push((format!("{} p50 added µs vs floor", target.name), 9, p50 - floor_p50));
                }
            }
            let line = format!(
                "| {} | {} | {:.0} [{:.0}–{:.0}] | {:.1} | {:.1} | {:.1} | {:.2} | {} |\n",
                scenario.name,
                target.name,
                msgs,
                min,
                max,
                mb,
                p50,
                p99,
                msgs / direct[i],
                vs_floor_text
            );
            print!("{line}");
            report += &line;
        }
    }
    for target in &mut targets {
        if let Some(child) = target.child.as_mut() {
            let _ = child.kill().await;
        }
    }
    let limit = raise_file_limit();
    // This process holds two descriptors per idle connection (client and echo server), frametap two.
    let idle = options.idle.min(limit.saturating_sub(200) as usize / 2);
    if idle < options.idle {
        println!("(the open-file limit {limit} allows {idle} idle connections, not {})", options.idle);
    }
    let (before, after, opened) = idle_memory(echo, idle).await;
    let per_conn = (after.saturating_sub(before)) as f64 / opened.max(1) as f64;
    let idle_line = if opened == 0 {
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
    };
    println!("\n{idle_line}");
    let mut verdicts = String::new();
    for (name, i, ratio) in &ratios {
        if *i == 9 {
            verdicts += &format!("- {name}: {ratio:.1} µs (target ≤ 10 µs)\n");
        } else {
            let target = if name.contains("capture on") { 0.8 } else { 0.9 };
            let mark = if *ratio >= target { "meets" } else { "MISSES" };
            verdicts += &format!(
                "- {name}, {}: {ratio:.2}× the TCP relay — {mark} the ≥ {target}× target\n",
                SCENARIOS[*i].name
            );
        }
    }
    let capture_section = match disk_mb_per_sec {
        Some(disk) => format!(
            "Capture files (capture on; a fresh file per scenario):\n\n| scenario | format | written | write rate while measured | bytes written per payload byte relayed |\n|---|---|---|---|---|\n{capture_report}\nThe disk they went to sustains {disk:.0} MB/s ({} GiB written, then `fdatasync`, before the scenarios).\n",
            DISK_TEST_MIB / 1024
        ),
        None => String::new(),
    };
    println!("{verdicts}");
    println!("{cpu_report}");
    println!("{capture_section}");
    if options.write_docs {
        write_docs(&options, &report, &format!("{cpu_report}\n{capture_section}"), &idle_line, &verdicts);
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cores} cores, {cpu}, Linux {}", kernel.trim())
}

fn write_docs(options: &Options, table: &str, cpu: &str, idle: &str, verdicts: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/performance.md");
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    let marker_start = "<!-- bench:start -->";
    let marker_end = "<!-- bench:end -->";
    let body = format!(
        "{marker_start}\nMeasured {} on {} with `cargo bench --bench relay -- --runs {} --seconds {} --idle {} --write-docs`.\n\n{table}\n| scenario | relay | CPU | memory |\n|---|---|---|---|\n{cpu}\n{idle}\nAgainst the targets:\n\n{verdicts}{marker_end}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        machine(),
        options.runs,
        options.seconds,
        options.idle
    );
    let updated = match (existing.find(marker_start), existing.find(marker_end)) {
        (Some(a), Some(b)) => format!("{}{body}{}", &existing[..a], &existing[b + marker_end.len()..]),
        _ => format!("{existing}\n{body}\n"),
    };
    std::fs::write(&path, updated).unwrap();
    println!("wrote {}", path.display());
}
