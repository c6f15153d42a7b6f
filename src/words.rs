//! Words for the messages people read: counts (`1 connection`, `2 connections`) and shell words to paste.

/// `n` and the noun, plural unless `n` is 1 (nouns that take an `s`).
pub fn count(n: u64, noun: &str) -> String {
    count_as(n, noun, &format!("{noun}s"))
}

/// `n` and `singular` when `n` is 1, else `n` and `plural` (`entry`, `entries`).
pub fn count_as(n: u64, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// `word` as one shell word, to paste into a command: as it is when it needs no quoting, else in single quotes
/// (POSIX shells), or on Windows in double quotes, which cmd and PowerShell both take (neither takes single quotes
/// the same way, and `\`, the path separator there, is no escape to them).
pub fn shell_word(word: &str) -> String {
    const PLAIN: &str = if cfg!(windows) { "_-.:@%+/,=\\" } else { "_-.:@%+/,=" };
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || PLAIN.contains(c)) {
        word.to_owned()
    } else if cfg!(windows) {
        format!("\"{}\"", word.replace('"', "\\\""))
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_is_singular() {
        assert_eq!(super::count(1, "connection"), "1 connection");
        assert_eq!(super::count(0, "frame"), "0 frames");
        assert_eq!(super::count(2, "record"), "2 records");
        assert_eq!(super::count_as(1, "entry", "entries"), "1 entry");
        assert_eq!(super::count_as(3, "entry", "entries"), "3 entries");
    }

    #[test]
    #[cfg(unix)]
    fn shell_words_are_quoted_only_when_a_shell_would_split_or_expand_them() {
        assert_eq!(super::shell_word("/home/me/.frametap/certs"), "/home/me/.frametap/certs");
        assert_eq!(super::shell_word("messageId"), "messageId");
        assert_eq!(super::shell_word("my certs"), "'my certs'");
        assert_eq!(super::shell_word("~/certs"), "'~/certs'", "no tilde expansion");
        assert_eq!(super::shell_word("it's"), "'it'\\''s'");
        assert_eq!(super::shell_word("$HOME"), "'$HOME'");
        assert_eq!(super::shell_word(""), "''");
    }

    #[test]
    #[cfg(windows)]
    fn on_windows_a_path_keeps_its_backslashes_and_a_quoted_word_takes_double_quotes() {
        assert_eq!(super::shell_word(r"C:\Users\me\.frametap\certs"), r"C:\Users\me\.frametap\certs");
        assert_eq!(super::shell_word(r"C:\Users\my name\certs"), r#""C:\Users\my name\certs""#);
        assert_eq!(super::shell_word("it's"), r#""it's""#);
        assert_eq!(super::shell_word(r#"say "hi""#), r#""say \"hi\"""#);
        assert_eq!(super::shell_word(""), r#""""#);
    }
}
