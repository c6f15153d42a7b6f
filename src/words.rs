//! Counts in words for the messages people read: `1 connection`, `2 connections`.

/// `n` and the noun, plural unless `n` is 1 (nouns that take an `s`).
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_is_singular() {
        assert_eq!(super::count(1, "connection"), "1 connection");
        assert_eq!(super::count(0, "frame"), "0 frames");
        assert_eq!(super::count(2, "record"), "2 records");
    }
}
