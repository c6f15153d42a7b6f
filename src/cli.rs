//! The command line (clap derive): doc comments are the help text. Options shared by several
//! subcommands live here once, in `*Args` groups that the subcommands flatten.

use crate::capture::CaptureFormat;
use crate::log::LogFormat;
use crate::pipeline::LagPolicy;
use clap::{Args, Parser, Subcommand};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

/// Default listen address of `frametap proxy` (reverse mode) and `frametap replay serve`.
pub const DEFAULT_PROXY_ADDR: &str = "127.0.0.1:9000";
/// Default address of the web UI.
pub const DEFAULT_UI_ADDR: &str = "127.0.0.1:9001";
/// Default listen address of `frametap proxy --forward`.
pub const DEFAULT_FORWARD_ADDR: &str = "127.0.0.1:8080";
/// Default listen address of the standalone simulator.
pub const DEFAULT_SIM_ADDR: &str = "127.0.0.1:9100";

/// frametap: a local WebSocket debugging proxy. It relays every frame exactly, logs and captures it,
/// and at every close says which frame preceded it and what most likely caused it.
#[derive(Debug, Parser)]
#[command(name = "frametap", version, propagate_version = true, max_term_width = 110)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run: the size of the biggest variant does not matter
pub enum Command {
    /// Relay WebSocket connections to an upstream, logging and capturing every frame.
    ///
    /// Point your client at ws://127.0.0.1:9000/<path>; frametap appends the path and query to --upstream.
    Proxy(ProxyArgs),
    /// Write a copy of a capture with its secrets masked, for sharing: JWT signatures, Authorization and
    /// cookie values, token-like query parameters and JSON fields become stable placeholders.
    ///
    /// The session stays readable (JWT claims, cookie names, every other field) and replayable. See docs/redaction.md.
    Redact(crate::redact::RedactCommand),
    /// Manage the local certificate authority used by `--tls` and `--forward` (`proxy`, `replay serve`).
    #[command(subcommand)]
    Certs(crate::tls::CertsCommand),
    /// Read a capture and print each connection's timeline, tokens and close diagnosis (what most likely
    /// caused the close, from the frames alone). `--json` for machines.
    Inspect(crate::inspect::InspectCommand),
    /// Open a saved capture in the web UI (connections, frames, close diagnoses, tokens).
    Ui(crate::ui::UiCommand),
    /// Replay a captured connection: serve its server side to clients, or send its client side to a live upstream.
    ///
    /// See docs/replay.md.
    #[command(subcommand)]
    Replay(crate::replay::ReplayCommand),
    /// Convert between a capture (.jsonl, or compact .ftcap) and a HAR (.har, .zhar; a Playwright .zip reads too),
    /// or between the two capture forms, chosen by the extensions. See docs/replay.md.
    Convert(crate::convert::ConvertCommand),
    /// Run a built-in simulator of a service (NOT the real service), with its failures on demand.
    #[command(subcommand)]
    Sim(SimTarget),
}

/// `frametap sim …`: which service to simulate.
#[derive(Debug, Subcommand)]
pub enum SimTarget {
    /// The Genesys Web Messaging Guest API, with every failure scenario as a flag or a `sim-*` URL
    /// parameter (docs/simulator.md). Connect to ws://127.0.0.1:9100/v1?deploymentId=<any id>.
    Genesys(crate::sim::SimCommand),
}

/// Where records are saved.
#[derive(Debug, Args, Clone, Default)]
pub struct CaptureArgs {
    /// Save the capture to FILE; never overwrites. Default: a new file in $FRAMETAP_HOME/captures
    /// (else ~/.frametap/captures; on Windows %USERPROFILE%\.frametap\captures).
    #[arg(long, value_name = "FILE", conflicts_with = "no_capture")]
    pub capture: Option<PathBuf>,
    /// How the capture stores frames: `jsonl`, one JSON object per line (jq, grep, an editor), or `compact`,
    /// frames as a short binary header and the raw payload (less than half the bytes for small frames and no
    /// JSON to write, for fast sessions; `frametap convert FILE.ftcap FILE.jsonl` turns it into JSON Lines).
    /// Default: `compact` when --capture names a `.ftcap` file, else `jsonl`.
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "no_capture")]
    pub capture_format: Option<CaptureFormat>,
    /// Do not save a capture.
    #[arg(long)]
    pub no_capture: bool,
    /// Mask secrets (JWT signatures, Authorization, cookies, session tokens…) with stable placeholders
    /// in the capture, the terminal log and the UI, so the session can be shared (docs/redaction.md).
    #[arg(long)]
    pub redact: bool,
    /// When the capture writer falls behind: `block` slows the relay (nothing lost), `drop` drops
    /// records (counted and reported in the capture's end record).
    #[arg(long, value_enum, default_value_t = LagPolicy::Block, value_name = "POLICY")]
    pub on_capture_lag: LagPolicy,
}

impl CaptureArgs {
    /// The capture's format: `--capture-format`, else the one `--capture`'s extension names, else JSON Lines.
    /// A format that contradicts the file's extension is refused (a binary `.jsonl` would fool jq, and a JSON
    /// `.ftcap` every reader that trusts the name).
    pub fn format(&self) -> Result<CaptureFormat, String> {
        if let Some(har) = self.capture.as_deref().filter(|path| crate::har::is_har_path(path)) {
            return Err(format!(
                "--capture {} is a HAR name, but frametap records captures (.jsonl, .ftcap); record to a .jsonl and \
                 turn it into a HAR afterwards with `frametap convert FILE.jsonl {}`",
                har.display(),
                har.display()
            ));
        }
        let named = self.capture.as_deref().and_then(CaptureFormat::named_by);
        match (self.capture_format, named) {
            (Some(chosen), Some(named)) if chosen != named => {
                let name = |format: CaptureFormat| {
                    clap::ValueEnum::to_possible_value(&format).map(|v| v.get_name().to_owned())
                };
                Err(format!(
                    "--capture {} has a .{} name, but --capture-format {} writes .{} files: rename it, or drop --capture-format",
                    self.capture.as_deref().unwrap_or_else(|| std::path::Path::new("")).display(),
                    named.extension(),
                    name(chosen).unwrap_or_default(),
                    chosen.extension()
                ))
            }
            (chosen, named) => Ok(chosen.or(named).unwrap_or_default()),
        }
    }
}

/// How the live terminal log looks.
#[derive(Debug, Args, Clone, Default)]
pub struct LogArgs {
    /// Print no line per frame: only how each connection ended and why (close lines and their diagnoses),
    /// warnings and errors (a replay's differences from the recording are counted, not listed). The start banner
    /// still appears.
    #[arg(long, short)]
    pub quiet: bool,
    /// `text`: one readable line per frame; `json`: one capture record per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub log_format: LogFormat,
}

/// How frametap trusts `wss://` upstreams.
#[derive(Debug, Args, Clone, Default)]
pub struct UpstreamTlsArgs {
    /// Also trust the CA certificate(s) in this PEM file for wss:// upstreams.
    #[arg(long, value_name = "FILE")]
    pub upstream_ca: Option<PathBuf>,
    /// Do not verify the upstream's TLS certificate at all (dangerous; recorded in the capture).
    #[arg(long)]
    pub insecure_upstream: bool,
}

impl UpstreamTlsArgs {
    /// The upstream TLS client configuration these options ask for; warns loudly on `--insecure-upstream`.
    /// `no_tls` says why the upstream is reached without TLS (then these options have no effect, and a note
    /// says so instead), or is `None` when it may speak TLS.
    pub fn client_config(&self, no_tls: Option<&str>) -> anyhow::Result<std::sync::Arc<rustls::ClientConfig>> {
        use anyhow::Context as _;
        let config = crate::tls::upstream::client_config(self.upstream_ca.as_deref(), self.insecure_upstream)
            .context("--upstream-ca")?;
        let given = [(self.insecure_upstream, "--insecure-upstream"), (self.upstream_ca.is_some(), "--upstream-ca")];
        match no_tls {
            Some(why) => {
                for (_, flag) in given.iter().filter(|(given, _)| *given) {
                    crate::notice!("frametap: note: {flag} has no effect: {why}, without TLS");
                }
            }
            None if self.insecure_upstream => crate::notice!(
                "frametap: WARNING: --insecure-upstream: upstream TLS certificates are NOT verified; anyone on the path can read and change this traffic. This is recorded in the capture."
            ),
            None => {}
        }
        Ok(config)
    }
}

/// `frametap proxy`.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Address to listen on [default: 127.0.0.1:9000; 127.0.0.1:8080 with --forward].
    #[arg(long, value_name = "ADDR", value_parser = parse_listen_addr)]
    pub listen: Option<SocketAddr>,
    /// The real endpoint: ws:// or wss:// with an optional base path, e.g. wss://webmessaging.mypurecloud.com.
    /// The client's path and query are appended. Without it, frametap runs its built-in Genesys Guest API
    /// simulator as the upstream (recorded as sim:genesys), so everything works offline.
    #[arg(long, value_name = "URL")]
    pub upstream: Option<String>,
    #[command(flatten)]
    pub capture: CaptureArgs,
    #[command(flatten)]
    pub log: LogArgs,
    /// Largest frame or message passed on (bytes; K, M, G suffixes allowed); past it frametap closes with 1009.
    #[arg(long, value_name = "BYTES", default_value = "64M", value_parser = parse_size, allow_negative_numbers = true)]
    pub max_message: u64,
    #[command(flatten)]
    pub tls: UpstreamTlsArgs,
    /// Add or replace a header on the upstream request: 'Name: value' (repeatable). Host replaces the
    /// upstream's Host; the headers frametap sets on each leg (Connection, Upgrade, Sec-WebSocket-Key,
    /// -Version, -Extensions, hop-by-hop headers) are refused.
    #[arg(long, value_name = "'Name: value'", value_parser = parse_header_arg)]
    pub set_header: Vec<(String, String)>,
    /// Forward the client's Cookie headers upstream (dropped by default: a browser's cookies for
    /// 127.0.0.1 belong to your other local apps). Not with --forward, which always passes cookies on.
    #[arg(long)]
    pub forward_cookies: bool,
    #[command(flatten)]
    pub ui: crate::ui::UiArgs,
    #[command(flatten)]
    pub analysis: crate::inspect::AnalysisArgs,
    // A `next_help_heading` holds for every later option too: the groups with a heading of their own come
    // last, each naming its heading (the test `proxy_help_groups_options_under_their_own_headings` checks).
    /// Scenarios for the built-in simulator (used when --upstream is not given).
    #[command(flatten, next_help_heading = "Simulator (without --upstream)")]
    pub sim: crate::sim::SimArgs,
    #[command(flatten, next_help_heading = "TLS, forward mode and upstream proxies")]
    pub modes: crate::forward::ProxyModeArgs,
}

fn parse_header_arg(arg: &str) -> Result<(String, String), String> {
    crate::proxy::headers::parse_header_arg(arg)
}

/// The address to print for a client to dial: a listener on every interface (`0.0.0.0`, `[::]`) is reached on this
/// machine at loopback, the same port; `ws://0.0.0.0:9000` is no address a browser is sure to connect to.
pub fn dialable(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), listen.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), listen.port()),
        _ => listen,
    }
}

/// An address to listen on: `IP:PORT` (`127.0.0.1:9500`, `[::1]:9500`, `0.0.0.0:9500`), or `localhost:PORT` for
/// 127.0.0.1. Anything else is refused with an example of what to write.
pub fn parse_listen_addr(text: &str) -> Result<SocketAddr, String> {
    let trimmed = text.trim();
    if let Ok(addr) = trimmed.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let example = "127.0.0.1:9500 (this machine only), [::1]:9500, or 0.0.0.0:9500 (every interface)";
    let Some((host, port)) = trimmed.rsplit_once(':') else {
        return Err(match trimmed.parse::<u16>() {
            Ok(port) => format!("a port alone: give an address too, e.g. 127.0.0.1:{port}"),
            Err(_) => format!("not an address and port: write one like {example}"),
        });
    };
    let Ok(port) = port.parse::<u16>() else {
        return Err("the port must be a number from 0 to 65535 (0: any free port)".into());
    };
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        return Err(format!("write an IPv6 address in brackets, e.g. [{host}]:{port}"));
    }
    Err(format!(
        "{host:?} is not an IP address (host names other than localhost are not looked up): write one like {example}"
    ))
}

/// A connection number as frametap numbers them: 1 or more.
pub fn parse_conn_id(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "{text:?} is not a connection number: give one of the numbers `frametap inspect FILE` lists (1, 2, …)"
        )),
    }
}

/// Parses a byte size: `1048576`, `512K`, `64M`, `1G` (binary units; `KiB`/`MiB`/`GiB` also accepted).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let digits_end = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits_end);
    if unit.starts_with(['.', ',']) {
        return Err(format!("{text:?}: a size is a whole number of bytes, K, M or G (write 1536K, not 1.5M)"));
    }
    let number: u64 = number.parse().map_err(|e: std::num::ParseIntError| match e.kind() {
        std::num::IntErrorKind::PosOverflow => format!("{text:?} is too large"),
        _ => format!("{text:?} is not a size (examples: 1048576, 512K, 64M)"),
    })?;
    let factor: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?} in {text:?} (use K, M or G)")),
    };
    let size = number.checked_mul(factor).ok_or_else(|| format!("{text:?} is too large"))?;
    if size == 0 {
        return Err("the size must be at least 1 byte".into());
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_listen_address_is_an_ip_and_port_or_localhost() {
        assert_eq!(parse_listen_addr("127.0.0.1:9500"), Ok(SocketAddr::from(([127, 0, 0, 1], 9500))));
        assert_eq!(parse_listen_addr("[::1]:0"), Ok("[::1]:0".parse().unwrap()));
        assert_eq!(parse_listen_addr("localhost:9500"), Ok(SocketAddr::from(([127, 0, 0, 1], 9500))));
        assert_eq!(parse_listen_addr("LOCALHOST:0"), Ok(SocketAddr::from(([127, 0, 0, 1], 0))));
    }

    #[test]
    fn the_capture_format_follows_the_file_name_unless_given() {
        let args = |capture: Option<&str>, format: Option<CaptureFormat>| CaptureArgs {
            capture: capture.map(PathBuf::from),
            capture_format: format,
            ..CaptureArgs::default()
        };
        assert_eq!(args(None, None).format(), Ok(CaptureFormat::Jsonl));
        assert_eq!(args(Some("s.ftcap"), None).format(), Ok(CaptureFormat::Compact));
        assert_eq!(args(Some("s.FTCAP"), None).format(), Ok(CaptureFormat::Compact));
        assert_eq!(args(Some("s.log"), Some(CaptureFormat::Compact)).format(), Ok(CaptureFormat::Compact));
        assert_eq!(args(None, Some(CaptureFormat::Compact)).format(), Ok(CaptureFormat::Compact));
        let err = args(Some("s.jsonl"), Some(CaptureFormat::Compact)).format().unwrap_err();
        assert!(
            err.contains("--capture s.jsonl has a .jsonl name, but --capture-format compact writes .ftcap"),
            "{err}"
        );
        assert!(args(Some("s.ftcap"), Some(CaptureFormat::Jsonl)).format().is_err());
        for har in ["s.har", "s.zhar"] {
            assert!(args(Some(har), None).format().unwrap_err().contains("frametap convert FILE.jsonl"), "{har}");
        }
    }

    /// The options under each heading of `frametap proxy --help`, by heading ("Options" first).
    fn proxy_help_sections() -> Vec<(String, String)> {
        let mut cli = Cli::command();
        let help = cli.find_subcommand_mut("proxy").unwrap().render_help().to_string();
        let mut sections: Vec<(String, String)> = Vec::new();
        for line in help.lines() {
            match line.strip_suffix(':') {
                Some(heading) if !line.starts_with(' ') => sections.push((heading.to_owned(), String::new())),
                _ => {
                    if let Some((_, options)) = sections.last_mut() {
                        options.push_str(line);
                        options.push('\n');
                    }
                }
            }
        }
        sections
    }

    /// `--forward-cookies`, `--tls`, `--forward`, … used to be listed under the simulator's heading.
    #[test]
    fn proxy_help_groups_options_under_their_own_headings() {
        let sections = proxy_help_sections();
        let heading_of = |option: &str| {
            let flag = format!("--{option} ");
            let found = sections.iter().find(|(_, text)| text.lines().any(|l| l.trim_start().starts_with(&flag)));
            found.map(|(heading, _)| heading.as_str()).unwrap_or_else(|| panic!("{option} not in {sections:?}"))
        };
        for option in ["upstream", "set-header", "forward-cookies", "capture", "upstream-ca", "max-message"] {
            assert_eq!(heading_of(option), "Options", "--{option}");
        }
        for option in ["on-invalid", "expire-after", "rate-limit", "drop-after"] {
            assert_eq!(heading_of(option), "Simulator (without --upstream)", "--{option}");
        }
        for option in ["tls", "forward", "intercept", "upstream-proxy", "certs"] {
            assert_eq!(heading_of(option), "TLS, forward mode and upstream proxies", "--{option}");
        }
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("2KiB"), Ok(2048));
        assert!(parse_size("12X").unwrap_err().contains("unit"));
        assert!(parse_size("abc").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("1.5M").unwrap_err().contains("whole number"));
        assert!(parse_size("18446744073709551616").unwrap_err().contains("too large"));
        assert!(parse_size("99999999999G").unwrap_err().contains("too large"));
    }
}
