//! Which CONNECT targets forward mode terminates (and so sees inside): `--intercept GLOB …`.

/// The default `--intercept` list: the Genesys Web Messaging hosts (`webmessaging.<region domain>`).
pub const DEFAULT_INTERCEPT: &[&str] = &["webmessaging.*"];

/// Host globs; `*` matches any run of characters (dots included), `?` one character, case-insensitive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterceptRules {
    globs: Vec<String>,
}

impl Default for InterceptRules {
    fn default() -> Self {
        Self::new(DEFAULT_INTERCEPT.iter().map(|g| g.to_string()))
    }
}

impl InterceptRules {
    /// Rules from `--intercept` values; an empty list means the default (the Genesys hosts).
    pub fn new(globs: impl IntoIterator<Item = String>) -> Self {
        let globs: Vec<String> = globs
            .into_iter()
            .map(|g| g.trim().trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase())
            .filter(|g| !g.is_empty())
            .collect();
        if globs.is_empty() {
            return Self::default();
        }
        InterceptRules { globs }
    }

    /// The globs in effect.
    pub fn globs(&self) -> &[String] {
        &self.globs
    }

    /// What the log says when CONNECT to `host`, not intercepted, was tunnelled to the network and failed there:
    /// the host may have been meant to be intercepted.
    pub fn tunnelled_note(&self, host: &str) -> String {
        format!("{host} is not intercepted (--intercept {}), so it was tunnelled to the network", self.globs.join(" "))
    }

    /// A hint for the log when `host`, not intercepted, is a Genesys Web Messaging host that the default list would
    /// have intercepted: it is tunnelled to the real host, which may not be what was meant.
    pub fn default_host_hint(&self, host: &str) -> Option<String> {
        (*self != Self::default() && Self::default().matches(host)).then(|| {
            format!(
                "{host} is tunnelled to the network untouched: it is not intercepted (--intercept {}); add \
                 --intercept '{host}' to intercept it",
                self.globs.join(" ")
            )
        })
    }

    /// Whether CONNECT to `host` is terminated (and its WebSockets relayed) rather than tunnelled blind.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
        self.globs.iter().any(|g| glob_match(g.as_bytes(), host.as_bytes()))
    }
}

/// Checks one `--intercept` value (clap's value parser, for `proxy --forward` and `replay serve --forward`): a host
/// glob, without scheme, port or path. A glob with any of those could never match a CONNECT host, so the host
/// meant would be tunnelled to the network instead; the error says what is wrong and gives the right form.
pub fn parse_glob(raw: &str) -> Result<String, String> {
    let fix = |what: &str| {
        let host = suggested_host(raw);
        let plausible = !host.is_empty() && host.chars().all(host_char);
        let example = if plausible { host } else { "webmessaging.*".to_owned() };
        format!("{what}: give a host glob without scheme, port or path: --intercept '{example}'")
    };
    if raw.trim().is_empty() {
        return Err(fix("an empty glob matches no host"));
    }
    if raw.chars().any(char::is_whitespace) {
        return Err(
            "a host glob has no spaces: give one host glob per --intercept, e.g. --intercept 'webmessaging.*' \
                    --intercept 'example.com'"
                .to_owned(),
        );
    }
    if raw.contains("://") {
        return Err(fix("it has a scheme"));
    }
    if raw.contains('/') {
        return Err(fix("it has a path"));
    }
    if has_port(raw) {
        return Err(fix("it has a port (CONNECT to any port of a matching host is intercepted)"));
    }
    if let Some(c) = raw.chars().find(|&c| !host_char(c)) {
        return Err(fix(&format!("{c:?} is in no host name")));
    }
    Ok(raw.to_owned())
}

/// Whether a character can be in a host glob (a name, an IP address, brackets, wildcards).
fn host_char(c: char) -> bool {
    c.is_alphanumeric() || ".-_*?:[]".contains(c)
}

/// Whether a glob ends in a port: `host:443`, `*:443`, `[::1]:443` (an IPv6 address alone has several colons).
fn has_port(glob: &str) -> bool {
    match glob.rsplit_once(']') {
        Some((_, after)) => after.starts_with(':'),
        None => glob.matches(':').count() == 1,
    }
}

/// The host glob a mistyped one stands for: without scheme, path and port (for the error's example).
fn suggested_host(raw: &str) -> String {
    let raw = raw.trim();
    let raw = raw.split_once("://").map_or(raw, |(_, rest)| rest);
    let raw = raw.split('/').next().unwrap_or_default();
    let host = if has_port(raw) { raw.rsplit_once(':').map_or(raw, |(host, _)| host) } else { raw };
    host.trim_start_matches('[').trim_end_matches(']').to_owned()
}

/// Iterative wildcard match with backtracking to the last `*` (linear in practice, no recursion).
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_covers_every_genesys_region() {
        let rules = InterceptRules::new(Vec::new());
        for host in ["webmessaging.mypurecloud.com", "WebMessaging.mypurecloud.com.au", "webmessaging.euw2.pure.cloud."]
        {
            assert!(rules.matches(host), "{host}");
        }
        for host in ["api.mypurecloud.com", "apps.mypurecloud.com", "webmessaging"] {
            assert!(!rules.matches(host), "{host}");
        }
    }

    #[test]
    fn globs_match_whole_names_only() {
        let rules = InterceptRules::new(["*.example.test".into(), "ws?.local".into()]);
        assert!(rules.matches("a.b.example.test"));
        assert!(!rules.matches("example.test"));
        assert!(!rules.matches("a.example.test.evil"));
        assert!(rules.matches("ws1.local"));
        assert!(!rules.matches("ws12.local"));
        let exact = InterceptRules::new(["127.0.0.1".into(), "::1".into()]);
        assert!(exact.matches("127.0.0.1") && exact.matches("[::1]"));
        assert!(!exact.matches("127.0.0.10"));
        assert!(InterceptRules::new(["[::1]".into()]).matches("[::1]"));
    }

    #[test]
    fn globs_that_could_never_match_a_host_are_refused_with_the_right_form() {
        for good in ["webmessaging.*", "*", "127.0.0.1", "::1", "[::1]", "ws?.local", "Example.COM."] {
            assert_eq!(parse_glob(good).as_deref(), Ok(good), "{good}");
        }
        let right = "give a host glob without scheme, port or path: --intercept";
        for (bad, what, example) in [
            ("webmessaging.mypurecloud.com:443", "it has a port", "'webmessaging.mypurecloud.com'"),
            ("*:443", "it has a port", "'*'"),
            ("[::1]:8443", "it has a port", "'::1'"),
            ("wss://webmessaging.mypurecloud.com", "it has a scheme", "'webmessaging.mypurecloud.com'"),
            ("https://example.com:8443/chat", "it has a scheme", "'example.com'"),
            ("example.com/chat", "it has a path", "'example.com'"),
            ("", "an empty glob matches no host", "'webmessaging.*'"),
            ("user@example.com", "'@' is in no host name", "'webmessaging.*'"),
        ] {
            let err = parse_glob(bad).expect_err(bad);
            assert!(err.starts_with(what), "{bad}: {err}");
            assert!(err.ends_with(&format!("{right} {example}")), "{bad}: {err}");
        }
        let err = parse_glob("a b").unwrap_err();
        assert!(err.contains("a host glob has no spaces: give one host glob per --intercept"), "{err}");
    }

    #[test]
    fn a_genesys_host_left_out_of_a_narrower_list_gets_a_hint() {
        let narrow = InterceptRules::new(["example.com".into()]);
        let hint = narrow.default_host_hint("webmessaging.mypurecloud.com").unwrap();
        assert!(hint.contains("add --intercept 'webmessaging.mypurecloud.com'"), "{hint}");
        assert_eq!(narrow.default_host_hint("api.mypurecloud.com"), None);
        assert_eq!(InterceptRules::default().default_host_hint("webmessaging.mypurecloud.com"), None);
    }
}
