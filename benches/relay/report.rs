//! The bench's report: a row per scenario and target (throughput, round trips, CPU, memory, capture size), the
//! verdicts against the targets, and the results section of docs/performance.md.

use crate::load::{Sample, Scenario, SCENARIOS, WARM_UP};
use crate::measure::{median, DISK_TEST_MIB};
use crate::targets::Target;

/// What one target did in one scenario: its runs, the machine's steal time during them (seconds, all cores), and
/// its CPU seconds and peak RSS (KiB) when it is a process.
pub(crate) struct Measured {
    pub(crate) samples: Vec<Sample>,
    pub(crate) steal: f64,
    pub(crate) cpu: Option<(f64, u64)>,
}

/// A frametap target against the targets: a throughput ratio to the TCP relay, or the ping-pong's p50
/// latency added to the TCP relay's.
enum Verdict {
    Ratio { target: String, scenario: usize, ratio: f64 },
    AddedLatency { target: String, micros: f64 },
}

/// The tables as they fill, scenario by scenario.
pub(crate) struct Report {
    runs: usize,
    seconds: f64,
    table: String,
    cpu: String,
    captures: String,
    verdicts: Vec<Verdict>,
}

impl Report {
    pub(crate) fn new(runs: usize, seconds: f64) -> Report {
        let table = "| scenario | target | msgs/s (median [min–max]) | MB/s | p50 RTT µs | p99 RTT µs | × direct | × TCP relay | steal |\n|---|---|---|---|---|---|---|---|---|\n".to_owned();
        Report { runs, seconds, table, cpu: String::new(), captures: String::new(), verdicts: Vec::new() }
    }

    /// Adds scenario `index`'s rows, one per target (direct first, then the TCP relay: the ratios need both).
    pub(crate) fn add(&mut self, index: usize, scenario: &Scenario, targets: &[Target], measured: &[Measured]) {
        let (mut direct, mut floor, mut floor_p50) = (f64::NAN, 0.0, 0.0);
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
        for (target, Measured { samples, steal, cpu }) in targets.iter().zip(measured) {
            let (msgs, min, max) = median(samples.iter().map(|s| s.msgs_per_sec).collect());
            let mb = median(samples.iter().map(|s| s.mb_per_sec).collect()).0;
            let p50 = median(samples.iter().map(|s| s.p50_us).collect()).0;
            let p99 = median(samples.iter().map(|s| s.p99_us).collect()).0;
            match target.name.as_str() {
                "direct" => direct = msgs,
                n if n.starts_with("TCP relay") => (floor, floor_p50) = (msgs, p50),
                _ => {}
            }
            let vs_floor = if floor > 0.0 { msgs / floor } else { f64::NAN };
            let vs_floor_text = if vs_floor.is_nan() { "—".to_owned() } else { format!("{vs_floor:.2}") };
            if let Some((cpu_seconds, peak)) = *cpu {
                self.cpu += &format!(
                    "| {} | {} | {:.2} s CPU for {:.0} msgs ({:.2} µs/msg) | peak RSS {:.1} MB |\n",
                    scenario.name,
                    target.name,
                    cpu_seconds,
                    msgs * self.seconds * self.runs as f64,
                    cpu_seconds * 1e6 / (msgs * self.seconds_run()),
                    peak as f64 / 1024.0
                );
            }
            if let Some(capture) = &target.capture {
                let written = std::fs::metadata(&capture.path).map(|m| m.len()).unwrap_or(0) as f64;
                // Payload bytes that crossed frametap (both ways), the warm-up's estimated at the same rate.
                let mean_rate = samples.iter().map(|s| s.msgs_per_sec).sum::<f64>() / self.runs as f64;
                let relayed = 2.0 * scenario.size as f64 * mean_rate * self.seconds_run();
                self.captures += &format!(
                    "| {} | {} | {:.0} MB | {:.0} MB/s | {:.2} |\n",
                    scenario.name,
                    capture.format,
                    written / 1e6,
                    written / 1e6 / self.seconds_run(),
                    written / relayed.max(1.0)
                );
            }
            if target.name.starts_with("frametap") {
                self.verdicts.push(Verdict::Ratio { target: target.name.clone(), scenario: index, ratio: vs_floor });
                if index == 0 {
                    self.verdicts.push(Verdict::AddedLatency { target: target.name.clone(), micros: p50 - floor_p50 });
                }
            }
            let line = format!(
                "| {} | {} | {:.0} [{:.0}–{:.0}] | {:.1} | {:.1} | {:.1} | {:.2} | {} | {:.1}% |\n",
                scenario.name,
                target.name,
                msgs,
                min,
                max,
                mb,
                p50,
                p99,
                msgs / direct,
                vs_floor_text,
                100.0 * steal / (cores * self.seconds * self.runs as f64)
            );
            print!("{line}");
            self.table += &line;
        }
    }

    /// How long each target ran in a scenario: its measured runs and its warm-up.
    fn seconds_run(&self) -> f64 {
        self.seconds * (self.runs as f64 + WARM_UP)
    }

    /// Each frametap target against its target ratio (0.9× with capture off, 0.8× on) and the 10 µs of latency.
    fn verdicts(&self) -> String {
        let mut text = String::new();
        for verdict in &self.verdicts {
            match verdict {
                Verdict::AddedLatency { target, micros } => {
                    text += &format!("- {target} p50 added µs vs floor: {micros:.1} µs (target ≤ 10 µs)\n")
                }
                Verdict::Ratio { target, scenario, ratio } => {
                    let wanted = if target.contains("capture on") { 0.8 } else { 0.9 };
                    let mark = if *ratio >= wanted { "meets" } else { "MISSES" };
                    text += &format!(
                        "- {target}, {}: {ratio:.2}× the TCP relay — {mark} the ≥ {wanted}× target\n",
                        SCENARIOS[*scenario].name
                    );
                }
            }
        }
        text
    }

    /// The capture files' table and the disk's speed (none when no target captured).
    fn capture_section(&self, disk_mb_per_sec: Option<f64>) -> String {
        match disk_mb_per_sec {
            Some(disk) => format!(
                "Capture files (capture on; a fresh file per scenario):\n\n| scenario | format | written | write rate while measured | bytes written per payload byte relayed |\n|---|---|---|---|---|\n{}\nThe disk they went to sustains {disk:.0} MB/s ({} GiB written, then `fdatasync`, before the scenarios).\n",
                self.captures,
                DISK_TEST_MIB / 1024
            ),
            None => String::new(),
        }
    }

    /// Prints the verdicts, CPU and capture tables (the throughput rows were printed as they came) and, with
    /// `write_docs` (the command's own arguments), rewrites docs/performance.md's results section, with
    /// `measured_apart` (the per-frame cost and the idle connections, already printed) after the tables.
    pub(crate) fn finish(&self, measured_apart: &str, disk_mb_per_sec: Option<f64>, write_docs: Option<&str>) {
        let verdicts = self.verdicts();
        let capture_section = self.capture_section(disk_mb_per_sec);
        println!("{verdicts}");
        println!("{}", self.cpu);
        println!("{capture_section}");
        if let Some(arguments) = write_docs {
            let cpu = format!("{}\n{capture_section}", self.cpu);
            write_results(arguments, &self.table, &cpu, measured_apart, &verdicts);
        }
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

/// Replaces what is between docs/performance.md's bench markers (or appends it).
fn write_results(arguments: &str, table: &str, cpu: &str, measured_apart: &str, verdicts: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/performance.md");
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    let marker_start = "<!-- bench:start -->";
    let marker_end = "<!-- bench:end -->";
    let body = format!(
        "{marker_start}\nMeasured {} on {} with `cargo bench --bench relay -- {arguments}`.\n\n{table}\n| scenario | relay | CPU | memory |\n|---|---|---|---|\n{cpu}\n{measured_apart}\nAgainst the targets:\n\n{verdicts}{marker_end}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        machine(),
    );
    let updated = match (existing.find(marker_start), existing.find(marker_end)) {
        (Some(a), Some(b)) => format!("{}{body}{}", &existing[..a], &existing[b + marker_end.len()..]),
        _ => format!("{existing}\n{body}\n"),
    };
    std::fs::write(&path, updated).unwrap();
    println!("wrote {}", path.display());
}
