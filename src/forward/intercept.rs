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
            .map(|g| g.trim().trim_end_matches('.').to_ascii_lowercase())
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

    /// Whether CONNECT to `host` is terminated (and its WebSockets relayed) rather than tunnelled blind.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
        self.globs.iter().any(|g| glob_match(g.as_bytes(), host.as_bytes()))
    }
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
    }
}
