//! The simulator's settings: command-line flags, their `sim-*` query-parameter twins, and validation.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use super::script::AgentScript;

/// What the simulator does with a request it cannot accept: sent before `configureSession`, not JSON,
/// without `action`, or with an action the Guest API does not have. A refused configure request (401 for a
/// `data.code` that is not a current JWT, 4017 for a downgrade) is answered with its error frame either way;
/// `Close` then closes the connection, `Error` keeps it open.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnInvalid {
    /// Close the WebSocket with 1000, no reason and no error frame (what users report seeing).
    #[default]
    Close,
    /// Answer with an error frame (class `string`, code 400 or 4020) and keep the connection open.
    Error,
}

/// The scenario flags of `frametap sim genesys`. Each one also exists as a query parameter
/// `sim-<flag>` on the WebSocket URL, which overrides it for that connection.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct SimArgs {
    /// What to do with a request sent before configureSession, without `action`, not JSON, or with an
    /// unknown action: `close` = close 1000 with no reason and no error frame (what users report);
    /// `error` = answer with an error frame instead. A refused configure (401: data.code is not a current JWT;
    /// 4017: cannot downgrade) gets its error frame either way, then `close` closes. [query: sim-on-invalid]
    #[arg(long, value_enum, value_name = "close|error")]
    pub on_invalid: Option<OnInvalid>,

    /// Expire a configured session after SECS seconds without a request (fractions allowed, e.g. 0.5):
    /// the client gets a SessionExpiredEvent, then a close. Default: one day. [query: sim-expire-after]
    #[arg(long, value_name = "SECS", value_parser = parse_secs, allow_negative_numbers = true)]
    pub expire_after: Option<Duration>,

    /// Lifetime of the JWT returned by getJwt, in whole seconds (0 = already expired).
    /// Default: 3600. [query: sim-jwt-ttl]
    #[arg(long, value_name = "SECS", value_parser = parse_whole_secs, allow_negative_numbers = true)]
    pub jwt_ttl: Option<u64>,

    /// Refuse (401) a configureAuthenticatedSession whose data.code JWT expires within SECS seconds, not only one
    /// already expired (whole seconds; 5 is the Genesys SDKs' own rule). Default: 0. [query: sim-auth-code-margin]
    #[arg(long, value_name = "SECS", value_parser = parse_whole_secs, allow_negative_numbers = true)]
    pub auth_code_margin: Option<u64>,

    /// Answer onMessage requests beyond N within one second with TooManyRequestsErrorMessage
    /// (429, errorCode 4029, retryAfter). Default: no limit. [query: sim-rate-limit]
    #[arg(long, value_name = "N", value_parser = parse_count, allow_negative_numbers = true)]
    pub rate_limit: Option<u32>,

    /// The agent leaves after N guest messages: an Outbound Presence Disconnect event with
    /// metadata.readOnly "true". Default: never. [query: sim-agent-disconnect-after]
    #[arg(long, value_name = "N", value_parser = parse_count, allow_negative_numbers = true)]
    pub agent_disconnect_after: Option<u32>,

    /// Drop the TCP connection, without a close frame, as soon as the client's Nth frame arrives
    /// (that frame is not answered). Default: never. [query: sim-drop-after]
    #[arg(long, value_name = "N", value_parser = parse_count, allow_negative_numbers = true)]
    pub drop_after: Option<u32>,

    /// Refuse the WebSocket handshake with 403 unless the Origin header is one of these
    /// (repeatable). Default: any Origin, or none. [query: sim-allowed-origin, repeatable]
    #[arg(long, value_name = "ORIGIN", value_parser = parse_allowed_value)]
    pub allowed_origin: Vec<String>,

    /// Refuse the WebSocket handshake with 403 unless deploymentId is one of these (repeatable).
    /// Default: any deploymentId. [query: sim-deployment-id, repeatable]
    #[arg(long, value_name = "ID", value_parser = parse_allowed_value)]
    pub deployment_id: Vec<String>,

    /// The agent's replies: a text file of `PATTERN => REPLY` rules (see docs/simulator.md).
    /// Default: a small built-in script.
    #[arg(long, value_name = "FILE")]
    pub agent_script: Option<PathBuf>,
}

impl SimArgs {
    /// The scenario flags given on the command line, spelled as typed, in `--help` order: `frametap proxy`
    /// refuses them beside `--upstream` or `--forward`, where no simulator runs to honour them.
    pub fn given(&self) -> Vec<&'static str> {
        let flags = [
            ("--on-invalid", self.on_invalid.is_some()),
            ("--expire-after", self.expire_after.is_some()),
            ("--jwt-ttl", self.jwt_ttl.is_some()),
            ("--auth-code-margin", self.auth_code_margin.is_some()),
            ("--rate-limit", self.rate_limit.is_some()),
            ("--agent-disconnect-after", self.agent_disconnect_after.is_some()),
            ("--drop-after", self.drop_after.is_some()),
            ("--allowed-origin", !self.allowed_origin.is_empty()),
            ("--deployment-id", !self.deployment_id.is_empty()),
            ("--agent-script", self.agent_script.is_some()),
        ];
        flags.into_iter().filter_map(|(flag, given)| given.then_some(flag)).collect()
    }
}

/// The per-connection knobs: the flags' values, possibly overridden by `sim-*` query parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    pub on_invalid: OnInvalid,
    pub expire_after: Duration,
    pub jwt_ttl: u64,
    /// A data.code JWT must not expire within this many seconds of its configure.
    pub auth_code_margin: u64,
    pub rate_limit: Option<u32>,
    pub agent_disconnect_after: Option<u32>,
    pub drop_after: Option<u32>,
    /// Empty means any Origin.
    pub allowed_origins: Vec<String>,
    /// Empty means any deploymentId.
    pub deployment_ids: Vec<String>,
}

/// Session inactivity before expiry when `--expire-after` is not given (one day).
pub const DEFAULT_EXPIRE_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// getJwt's token lifetime when `--jwt-ttl` is not given.
pub const DEFAULT_JWT_TTL: u64 = 3600;

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            on_invalid: OnInvalid::Close,
            expire_after: DEFAULT_EXPIRE_AFTER,
            jwt_ttl: DEFAULT_JWT_TTL,
            auth_code_margin: 0,
            rate_limit: None,
            agent_disconnect_after: None,
            drop_after: None,
            allowed_origins: Vec::new(),
            deployment_ids: Vec::new(),
        }
    }
}

/// Time limits the simulator applies to itself; tests pass small ones.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// How long a client may take to send its upgrade request.
    pub handshake: Duration,
    /// How long to wait for the client's Close after the simulator sent one.
    pub close: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { handshake: Duration::from_secs(10), close: Duration::from_secs(2) }
    }
}

/// Everything a running simulator needs; cheap to clone.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The knobs every connection starts from.
    pub defaults: Scenario,
    pub script: Arc<AgentScript>,
    /// The HS256 key that signs getJwt's tokens (random per simulator run).
    pub jwt_secret: Arc<[u8]>,
    /// Longest accepted `message.text`, in characters; longer gets 4011 (the real limit is unknown).
    pub max_text_chars: usize,
    pub timeouts: Timeouts,
}

/// Longest `message.text` accepted by default, in characters (our assumption).
pub const DEFAULT_MAX_TEXT_CHARS: usize = 4096;

impl SimConfig {
    /// Builds the configuration from the flags; reads and checks `--agent-script`.
    pub fn from_args(args: &SimArgs) -> anyhow::Result<SimConfig> {
        let script = match &args.agent_script {
            Some(path) => AgentScript::load(path).with_context(|| format!("--agent-script {}", path.display()))?,
            None => AgentScript::builtin(),
        };
        let defaults = Scenario {
            on_invalid: args.on_invalid.unwrap_or_default(),
            expire_after: args.expire_after.unwrap_or(DEFAULT_EXPIRE_AFTER),
            jwt_ttl: args.jwt_ttl.unwrap_or(DEFAULT_JWT_TTL),
            auth_code_margin: args.auth_code_margin.unwrap_or(0),
            rate_limit: args.rate_limit,
            agent_disconnect_after: args.agent_disconnect_after,
            drop_after: args.drop_after,
            allowed_origins: args.allowed_origin.clone(),
            deployment_ids: args.deployment_id.clone(),
        };
        Ok(SimConfig {
            defaults,
            script: Arc::new(script),
            jwt_secret: random_secret(),
            max_text_chars: DEFAULT_MAX_TEXT_CHARS,
            timeouts: Timeouts::default(),
        })
    }
}

fn random_secret() -> Arc<[u8]> {
    use rand::RngCore as _;
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    Arc::from(&key[..])
}

/// Every `sim-*` query parameter the simulator knows.
pub const QUERY_PARAMS: &[&str] = &[
    "sim-on-invalid",
    "sim-expire-after",
    "sim-jwt-ttl",
    "sim-auth-code-margin",
    "sim-rate-limit",
    "sim-agent-disconnect-after",
    "sim-drop-after",
    "sim-allowed-origin",
    "sim-deployment-id",
];

impl Scenario {
    /// Applies the `sim-*` query parameters of one connection. A list parameter given several times
    /// replaces the flag's list. Returns a plain-text explanation for a bad name or value.
    pub fn with_query<'a>(&self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Scenario, String> {
        let mut out = self.clone();
        let (mut origins, mut deployments) = (None::<Vec<String>>, None::<Vec<String>>);
        for (name, value) in pairs {
            let Some(flag) = name.strip_prefix("sim-") else {
                continue;
            };
            let bad = |e: String| format!("bad value {value:?} for {name}: {e}");
            match flag {
                "on-invalid" => out.on_invalid = parse_on_invalid(value).map_err(bad)?,
                "expire-after" => out.expire_after = parse_secs(value).map_err(bad)?,
                "jwt-ttl" => out.jwt_ttl = parse_whole_secs(value).map_err(bad)?,
                "auth-code-margin" => out.auth_code_margin = parse_whole_secs(value).map_err(bad)?,
                "rate-limit" => out.rate_limit = Some(parse_count(value).map_err(bad)?),
                "agent-disconnect-after" => out.agent_disconnect_after = Some(parse_count(value).map_err(bad)?),
                "drop-after" => out.drop_after = Some(parse_count(value).map_err(bad)?),
                "allowed-origin" => origins.get_or_insert_with(Vec::new).push(value.to_owned()),
                "deployment-id" => deployments.get_or_insert_with(Vec::new).push(value.to_owned()),
                "agent-script" => {
                    return Err(
                        "sim-agent-script cannot be set from the URL; start the simulator with --agent-script FILE"
                            .to_owned(),
                    )
                }
                _ => return Err(format!("unknown simulator parameter {name}; known: {}", QUERY_PARAMS.join(", "))),
            }
        }
        if let Some(origins) = origins {
            out.allowed_origins = origins;
        }
        if let Some(deployments) = deployments {
            out.deployment_ids = deployments;
        }
        Ok(out)
    }
}

fn parse_on_invalid(text: &str) -> Result<OnInvalid, String> {
    match text {
        "close" => Ok(OnInvalid::Close),
        "error" => Ok(OnInvalid::Error),
        _ => Err("expected close or error".to_owned()),
    }
}

/// Seconds, whole or fractional, greater than zero (e.g. `2`, `0.5`).
pub fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not a number of seconds (e.g. 30 or 0.5)"))?;
    if !secs.is_finite() || secs <= 0.0 || secs > 1e9 {
        return Err(format!("{text:?} seconds is out of range: give more than 0 and at most 1e9"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Whole seconds, zero or more (`--jwt-ttl`, `--auth-code-margin`).
pub fn parse_whole_secs(text: &str) -> Result<u64, String> {
    text.trim().parse::<u64>().map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => format!("{text:?} is too large: at most {} seconds", u64::MAX),
        _ => format!("{text:?} is not a whole number of seconds (e.g. 3600, or 0)"),
    })
}

/// A count of one or more.
pub fn parse_count(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => {
            Err(format!("{text:?} is too large: at most {}", u32::MAX))
        }
        _ => Err(format!("{text:?} is not a whole number of 1 or more")),
    }
}

/// A value an allow-list flag (`--deployment-id`, `--allowed-origin`) accepts: not blank, which no client sends, so
/// the simulator would refuse every connection (and print a URL it refuses itself).
pub fn parse_allowed_value(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("is empty: an empty value matches no client, so every connection would be refused; give a \
                    value, or leave the flag out to accept any"
            .into());
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_overrides_flags_and_lists_replace() {
        let base = Scenario { deployment_ids: vec!["a".into()], ..Scenario::default() };
        let s = base
            .with_query([
                ("deploymentId", "x"),
                ("sim-on-invalid", "error"),
                ("sim-expire-after", "0.5"),
                ("sim-jwt-ttl", "0"),
                ("sim-auth-code-margin", "5"),
                ("sim-rate-limit", "3"),
                ("sim-agent-disconnect-after", "2"),
                ("sim-drop-after", "4"),
                ("sim-deployment-id", "b"),
                ("sim-deployment-id", "c"),
                ("sim-allowed-origin", "https://x.example"),
            ])
            .unwrap();
        assert_eq!(s.on_invalid, OnInvalid::Error);
        assert_eq!(s.expire_after, Duration::from_millis(500));
        assert_eq!(s.jwt_ttl, 0);
        assert_eq!(s.auth_code_margin, 5);
        assert_eq!(s.rate_limit, Some(3));
        assert_eq!(s.agent_disconnect_after, Some(2));
        assert_eq!(s.drop_after, Some(4));
        assert_eq!(s.deployment_ids, vec!["b", "c"]);
        assert_eq!(s.allowed_origins, vec!["https://x.example"]);
    }

    #[test]
    fn bad_query_values_say_what_is_wrong() {
        let base = Scenario::default();
        let err = base.with_query([("sim-rate-limit", "0")]).unwrap_err();
        assert!(err.contains("sim-rate-limit") && err.contains("1 or more"), "{err}");
        let err = base.with_query([("sim-expire-after", "soon")]).unwrap_err();
        assert!(err.contains("not a number of seconds"), "{err}");
        let err = base.with_query([("sim-on-invalid", "ignore")]).unwrap_err();
        assert!(err.contains("close or error"), "{err}");
        let err = base.with_query([("sim-frobnicate", "1")]).unwrap_err();
        assert!(err.contains("unknown simulator parameter sim-frobnicate"), "{err}");
        let err = base.with_query([("sim-agent-script", "/etc/passwd")]).unwrap_err();
        assert!(err.contains("--agent-script"), "{err}");
    }

    #[test]
    fn number_parsers_reject_out_of_range() {
        assert!(parse_secs("0").is_err());
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("inf").is_err());
        assert_eq!(parse_secs("2").unwrap(), Duration::from_secs(2));
        assert!(parse_whole_secs("-5").is_err());
        assert_eq!(
            parse_whole_secs("99999999999999999999").unwrap_err(),
            "\"99999999999999999999\" is too large: at most 18446744073709551615 seconds"
        );
        assert_eq!(parse_count("7").unwrap(), 7);
        assert_eq!(parse_count("0").unwrap_err(), "\"0\" is not a whole number of 1 or more");
        // A whole number past what a count holds is said to be too large, not "not a whole number".
        assert_eq!(
            parse_count("99999999999999999999").unwrap_err(),
            "\"99999999999999999999\" is too large: at most 4294967295"
        );
    }
}
