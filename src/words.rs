//! Counts in words for the messages people read: `1 connection`, `2 connections`.

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
}
