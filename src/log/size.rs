//! A frame's size for the log's size column: exact bytes while they are few, then binary units, always in
//! [`SIZE_COLUMN`] columns.

/// The size column's width: the widest size written, `1023 KiB` (8) and `10239 B` (7), plus a space.
pub const SIZE_COLUMN: usize = 9;

/// Below this, sizes are exact bytes (`10239 B`): the size a small frame really has matters (a control frame's
/// 125-byte limit, a protocol's length field); from here on `10.0 KiB`, `64.0 KiB`, `12.0 MiB`, … read faster.
const EXACT_BELOW: u64 = 10 * 1024;

const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/// `len` bytes as the size column shows them: `77 B`, `10239 B`, `10.0 KiB`, `99.9 KiB`, `100 KiB`, `1023 KiB`,
/// `1.0 MiB`, … `16.0 EiB` (the most a frame's 64-bit length can say). Three significant digits at least, as
/// DevTools and mitmproxy show sizes; binary units, as frametap's options take them (`--max-message 16M`).
pub fn human_size(len: u64) -> String {
    if len < EXACT_BELOW {
        return format!("{len} B");
    }
    let mut value = len as f64 / 1024.0;
    for (i, unit) in UNITS.iter().enumerate() {
        // Rounded as shown: `1023.96 KiB` would read `1024 KiB`, which is `1.0 MiB`.
        let last = i + 1 == UNITS.len();
        if value < 99.95 {
            return format!("{value:.1} {unit}");
        }
        if value.round() < 1024.0 || last {
            return format!("{value:.0} {unit}");
        }
        value /= 1024.0;
    }
    unreachable!("the last unit always returns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_exact_while_small_then_in_binary_units_and_always_fit_the_column() {
        let cases = [
            (0, "0 B"),
            (77, "77 B"),
            (10_239, "10239 B"),
            (10_240, "10.0 KiB"),
            (102_348, "99.9 KiB"),
            (102_349, "100 KiB"),
            (1_048_063, "1023 KiB"),
            (1_048_064, "1.0 MiB"),
            (12 * 1024 * 1024, "12.0 MiB"),
            (64 << 20, "64.0 MiB"),
            (1 << 30, "1.0 GiB"),
            (u64::MAX, "16.0 EiB"),
        ];
        for (len, shown) in cases {
            assert_eq!(human_size(len), shown, "{len}");
        }
        let mut len = 1u64;
        while let Some(next) = len.checked_mul(3) {
            assert!(human_size(len).len() < SIZE_COLUMN, "{len}: {}", human_size(len));
            len = next;
        }
    }
}
