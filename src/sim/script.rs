//! The simulated agent's script: `PATTERN => REPLY` rules read from a text file (docs/simulator.md).

use std::path::Path;

use anyhow::Context as _;

/// What the agent does when a rule matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Send this text (`{text}` is replaced by the guest's message).
    Text(String),
    /// Answer the guest's request with an error frame (class `string`) instead of a reply.
    Error { code: u32, message: String },
    /// Optionally say this text, then leave (Presence Disconnect, read-only).
    Disconnect(Option<String>),
}

/// When a rule applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// `*`: every message (the default rule).
    Any,
    /// The message contains these words, case-insensitively, not as part of a longer word.
    Words(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub pattern: Pattern,
    pub reply: Reply,
}

/// An ordered list of rules; the first one that matches wins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentScript {
    pub rules: Vec<Rule>,
}

const BUILTIN: &str = r#"# The built-in agent of frametap's Genesys simulator.
help => I understand: "hello", "fail" (the server answers with a 5000 error frame), "bye" (the agent leaves). Anything else is echoed back.
hello => Hello! You are talking to the frametap simulator, not Genesys. Type "help" to see what I can do.
fail => !error 5000 Request failed.
bye => !disconnect Goodbye! The agent has left the conversation.
* => You said: {text}
"#;

impl AgentScript {
    /// The script used without `--agent-script`.
    pub fn builtin() -> AgentScript {
        AgentScript::parse(BUILTIN).expect("the built-in agent script parses")
    }

    /// Reads and checks a script file.
    pub fn load(path: &Path) -> anyhow::Result<AgentScript> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read the agent script {}", path.display()))?;
        AgentScript::parse(&text).with_context(|| {
            format!("the agent script {} is not valid (see docs/simulator.md, \"Agent script\")", path.display())
        })
    }

    /// Parses the script format: one `PATTERN => REPLY` rule per line; `#` starts a comment line.
    pub fn parse(text: &str) -> anyhow::Result<AgentScript> {
        let mut rules = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let rule = parse_rule(line).with_context(|| format!("line {}: {line:?}", index + 1))?;
            rules.push(rule);
        }
        anyhow::ensure!(
            !rules.is_empty(),
            "the script has no rules; write at least one line like `* => You said: {{text}}`"
        );
        Ok(AgentScript { rules })
    }

    /// The agent's answer to a guest message, or `None` when no rule matches (the agent stays silent).
    pub fn reply_to(&self, guest_text: &str) -> Option<Reply> {
        let rule = self.rules.iter().find(|r| r.pattern.matches(guest_text))?;
        Some(match &rule.reply {
            Reply::Text(t) => Reply::Text(fill(t, guest_text)),
            Reply::Disconnect(t) => Reply::Disconnect(t.as_deref().map(|t| fill(t, guest_text))),
            other => other.clone(),
        })
    }
}

fn fill(template: &str, guest_text: &str) -> String {
    template.replace("{text}", guest_text)
}

fn parse_rule(line: &str) -> anyhow::Result<Rule> {
    let (pattern, reply) = line.split_once("=>").context("expected `PATTERN => REPLY`")?;
    let (pattern, reply) = (pattern.trim(), reply.trim());
    anyhow::ensure!(!pattern.is_empty(), "the pattern before `=>` is empty (use `*` to match everything)");
    anyhow::ensure!(!reply.is_empty(), "the reply after `=>` is empty");
    let pattern = if pattern == "*" { Pattern::Any } else { Pattern::Words(pattern.to_lowercase()) };
    Ok(Rule { pattern, reply: parse_reply(reply)? })
}

fn parse_reply(reply: &str) -> anyhow::Result<Reply> {
    let Some(directive) = reply.strip_prefix('!') else {
        return Ok(Reply::Text(reply.to_owned()));
    };
    let (name, rest) = directive.split_once(char::is_whitespace).map(|(n, r)| (n, r.trim())).unwrap_or((directive, ""));
    match name {
        "error" => {
            let (code, message) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let code: u32 = code.parse().ok().filter(|c| (400..=5999).contains(c)).with_context(|| {
                format!(
                    "`!error` needs a code from 400 to 5999 first, e.g. `!error 5000 Request failed.`; got {code:?}"
                )
            })?;
            let message = match message.trim() {
                "" => "Request failed.".to_owned(),
                m => m.to_owned(),
            };
            Ok(Reply::Error { code, message })
        }
        "disconnect" => Ok(Reply::Disconnect((!rest.is_empty()).then(|| rest.to_owned()))),
        _ => anyhow::bail!("unknown directive `!{name}`; known: `!error CODE MESSAGE`, `!disconnect [TEXT]`"),
    }
}

impl Pattern {
    pub fn matches(&self, text: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Words(words) => contains_words(&text.to_lowercase(), words),
        }
    }
}

/// True when `needle` occurs in `haystack` with no letter or digit right before or after it.
fn contains_words(haystack: &str, needle: &str) -> bool {
    haystack.match_indices(needle).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + needle.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_script_answers_the_documented_words() {
        let script = AgentScript::builtin();
        assert!(matches!(script.reply_to("Hello there"), Some(Reply::Text(t)) if t.contains("not Genesys")));
        assert_eq!(
            script.reply_to("please FAIL now"),
            Some(Reply::Error { code: 5000, message: "Request failed.".into() })
        );
        assert!(matches!(script.reply_to("bye"), Some(Reply::Disconnect(Some(_)))));
        assert_eq!(script.reply_to("shellobye?"), Some(Reply::Text("You said: shellobye?".into())));
    }

    #[test]
    fn patterns_match_whole_words_case_insensitively() {
        let p = Pattern::Words("hi".into());
        assert!(p.matches("Hi!"));
        assert!(p.matches("oh, HI there"));
        assert!(!p.matches("this"));
        assert!(!p.matches("hill"));
        assert!(Pattern::Words("two words".into()).matches("say Two Words."));
    }

    #[test]
    fn no_matching_rule_means_silence() {
        let script = AgentScript::parse("refund => No refunds.\n").unwrap();
        assert_eq!(script.reply_to("hello"), None);
        assert_eq!(script.reply_to("a refund?"), Some(Reply::Text("No refunds.".into())));
    }

    #[test]
    fn bad_scripts_name_the_line_and_the_fix() {
        let cases = [
            ("# only a comment\n", "no rules"),
            ("hello\n", "expected `PATTERN => REPLY`"),
            ("ok => fine\n => empty pattern\n", "line 2"),
            ("x =>   \n", "reply after `=>` is empty"),
            ("x => !error soon\n", "code from 400 to 5999"),
            ("x => !error 200 ok\n", "code from 400 to 5999"),
            ("x => !explode\n", "unknown directive `!explode`"),
        ];
        for (text, expected) in cases {
            let err = format!("{:#}", AgentScript::parse(text).unwrap_err());
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn directives_parse() {
        let script = AgentScript::parse("a => !error 4011\nb => !disconnect\nc => !disconnect Bye {text}\n").unwrap();
        assert_eq!(script.reply_to("a"), Some(Reply::Error { code: 4011, message: "Request failed.".into() }));
        assert_eq!(script.reply_to("b"), Some(Reply::Disconnect(None)));
        assert_eq!(script.reply_to("c"), Some(Reply::Disconnect(Some("Bye c".into()))));
    }
}
