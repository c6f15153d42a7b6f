//! `--pace`: how fast a replay plays its recorded delays (`original`, `fast`, or a speed-up factor).

use std::time::Duration;

/// The latest a replay ever schedules a frame: a delay past this (a tiny `--pace` factor such as `1e-300`, or
/// centuries between two recorded frames) waits this long instead, which is as good as forever (about 30
/// years, tokio's own "far future"), rather than overflow the clock.
pub const FOREVER: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);

/// How a replay spaces its frames.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// Keep every recorded delay between a frame and the one before it.
    Original,
    /// Wait for nothing but the peer's frames.
    Fast,
    /// Play the recorded delays this many times faster (2 = twice as fast, 0.5 = half speed).
    Factor(f64),
}

impl Pace {
    /// Parses `original`, `fast`, or a positive factor such as `2`, `0.5` or `4x`.
    pub fn parse(text: &str) -> Result<Pace, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "original" | "1" | "1x" => Ok(Pace::Original),
            "fast" => Ok(Pace::Fast),
            other => {
                let number = other.strip_suffix('x').unwrap_or(other);
                match number.parse::<f64>() {
                    Ok(f) if f.is_finite() && f > 0.0 => Ok(Pace::Factor(f)),
                    _ => Err(format!(
                        "{text:?} is not a pace: use original, fast, or a speed-up factor such as 2 or 0.5"
                    )),
                }
            }
        }
    }

    /// The wait before a frame that the recording shows `recorded` after the previous one, at most [`FOREVER`].
    pub fn delay(self, recorded: Duration) -> Duration {
        let delay = match self {
            Pace::Original => recorded,
            Pace::Fast => Duration::ZERO,
            // `div_f64` panics when the quotient overflows a Duration (a factor of 1e-300).
            Pace::Factor(f) => Duration::try_from_secs_f64(recorded.as_secs_f64() / f).unwrap_or(FOREVER),
        };
        delay.min(FOREVER)
    }
}

impl std::fmt::Display for Pace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pace::Original => write!(f, "original"),
            Pace::Fast => write!(f, "fast"),
            // As given on the command line: `2x`, `0.5x`, and `1e-300x`, not its 300 decimal digits.
            Pace::Factor(x) if (1e-3..1e6).contains(x) => write!(f, "{x}x"),
            Pace::Factor(x) => write!(f, "{x:e}x"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paces_parse_and_scale() {
        assert_eq!(Pace::parse("original"), Ok(Pace::Original));
        assert_eq!(Pace::parse("FAST"), Ok(Pace::Fast));
        assert_eq!(Pace::parse("2"), Ok(Pace::Factor(2.0)));
        assert_eq!(Pace::parse("0.5x"), Ok(Pace::Factor(0.5)));
        for bad in ["0", "-1", "soon", "inf", "NaN"] {
            assert!(Pace::parse(bad).unwrap_err().contains("not a pace"), "{bad}");
        }
        let second = Duration::from_secs(1);
        assert_eq!(Pace::Original.delay(second), second);
        assert_eq!(Pace::Fast.delay(second), Duration::ZERO);
        assert_eq!(Pace::Factor(2.0).delay(second), Duration::from_millis(500));
    }

    #[test]
    fn a_tiny_factor_or_a_huge_gap_waits_forever_instead_of_overflowing() {
        // `--pace 1e-300` parses (a factor above 0), and used to panic the replay at its first delay.
        let tiny = Pace::parse("1e-300").unwrap();
        assert_eq!(tiny.delay(Duration::from_micros(120)), FOREVER);
        // The player adds the delay to a clock reading: that must not overflow either.
        let _ = tokio::time::Instant::now() + tiny.delay(Duration::from_micros(120));
        let ages = Duration::from_secs(9_999 * 366 * 24 * 60 * 60);
        assert_eq!(Pace::Original.delay(ages), FOREVER, "centuries between two recorded frames");
        assert_eq!(Pace::Factor(0.001).delay(ages), FOREVER);
        assert_eq!(tiny.delay(Duration::ZERO), Duration::ZERO, "a frame recorded at once still goes at once");
        assert_eq!(Pace::Factor(1e300).delay(Duration::from_secs(1)), Duration::ZERO);
    }
}
