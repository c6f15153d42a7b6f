//! `--pace`: how fast a replay plays its recorded delays (`original`, `fast`, or a speed-up factor).

use std::time::Duration;

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

    /// The wait before a frame that the recording shows `recorded` after the previous one.
    pub fn delay(self, recorded: Duration) -> Duration {
        match self {
            Pace::Original => recorded,
            Pace::Fast => Duration::ZERO,
            Pace::Factor(f) => recorded.div_f64(f),
        }
    }
}

impl std::fmt::Display for Pace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pace::Original => write!(f, "original"),
            Pace::Fast => write!(f, "fast"),
            Pace::Factor(x) => write!(f, "{x}x"),
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
}
