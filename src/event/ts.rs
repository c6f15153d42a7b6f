//! Record timestamps: UTC with microseconds, written as RFC 3339 (`2026-11-25T19:30:01.123456Z`) by a
//! formatter fast enough for every record of a capture.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A measured span (an `Instant`'s elapsed time) in milliseconds, as records write spans: whole nanoseconds
/// divided once, so 1,728,838 ns is 1.728838 (seconds times 1000 would be 1.7288379999999999).
pub fn millis(span: std::time::Duration) -> f64 {
    span.as_nanos() as f64 / 1e6
}

/// A point in time, serialised as RFC 3339 UTC with microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ts(pub DateTime<Utc>);

impl Ts {
    pub fn now() -> Self {
        Ts(Utc::now())
    }
    /// Microseconds since the Unix epoch.
    pub fn micros(&self) -> i64 {
        self.0.timestamp_micros()
    }
    /// The time `micros` microseconds after the Unix epoch, if a capture can hold it (see [`Ts::writable`]).
    pub fn from_micros(micros: i64) -> Option<Ts> {
        DateTime::from_timestamp_micros(micros).and_then(Ts::from_utc)
    }
    /// `t` as a capture holds it, or `None` outside the years 0–9999 (see [`Ts::writable`]). A leap second
    /// (`23:59:60.5`, which RFC 3339 allows) is folded into the second before it (`23:59:59.5`), as it is
    /// written: every form of the capture (JSON, compact, microseconds) then holds the same time.
    pub fn from_utc(t: DateTime<Utc>) -> Option<Ts> {
        use chrono::Timelike;
        let folded = match t.nanosecond().checked_sub(1_000_000_000) {
            Some(within_the_second) => t.with_nanosecond(within_the_second)?,
            None => t,
        };
        Ts(folded).writable()
    }
    /// `Some` for times in years 0–9999: RFC 3339, the capture's timestamp form, has no other years, so a
    /// record with such a time would be written but could not be read back.
    pub fn writable(self) -> Option<Ts> {
        use chrono::Datelike;
        (0..=9999).contains(&self.0.year()).then_some(self)
    }
    /// Seconds from `earlier` to `self` (negative when `earlier` is later).
    pub fn secs_since(&self, earlier: Ts) -> f64 {
        (self.micros() - earlier.micros()) as f64 / 1e6
    }
    /// Milliseconds from `earlier` to `self`, to the microsecond as records write spans: whole microseconds
    /// divided once, so 1,476 µs is 1.476 (seconds times 1000 would be 1.4760000000000002).
    pub fn millis_since(&self, earlier: Ts) -> f64 {
        (self.micros() - earlier.micros()) as f64 / 1000.0
    }
    pub fn to_rfc3339(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    /// Formats as `YYYY-MM-DDTHH:MM:SS.ffffffZ` into a stack buffer: the capture writer does this for
    /// every record, so it avoids chrono's allocating formatter, and reuses the date and time of day of the
    /// previous call on this thread when the second is the same (records come in time order).
    pub(crate) fn format_fixed(&self, out: &mut [u8; 27]) -> bool {
        use chrono::{Datelike, Timelike};
        thread_local! {
            /// The whole second last formatted on this thread, and its `YYYY-MM-DDTHH:MM:SS`.
            static LAST_SECOND: std::cell::Cell<(i64, [u8; 19])> = const { std::cell::Cell::new((i64::MIN, [0; 19])) };
        }
        let t = self.0;
        let put = |out: &mut [u8], at: usize, value: u32, width: usize| {
            let mut v = value;
            for i in (0..width).rev() {
                out[at + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        // A leap second (nanoseconds past 1e9) shares its whole second with :59, as it is written.
        let second = t.timestamp();
        let (cached, prefix) = LAST_SECOND.get();
        if cached == second {
            out[..19].copy_from_slice(&prefix);
        } else {
            let year = t.year();
            if !(0..=9999).contains(&year) {
                return false;
            }
            put(out, 0, year as u32, 4);
            put(out, 5, t.month(), 2);
            put(out, 8, t.day(), 2);
            put(out, 11, t.hour(), 2);
            put(out, 14, t.minute(), 2);
            put(out, 17, t.second().min(59), 2);
            for (at, c) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')] {
                out[at] = c;
            }
            let mut prefix = [0; 19];
            prefix.copy_from_slice(&out[..19]);
            LAST_SECOND.set((second, prefix));
        }
        out[19] = b'.';
        put(out, 20, t.nanosecond() / 1000 % 1_000_000, 6);
        out[26] = b'Z';
        true
    }
}

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 27];
        if self.format_fixed(&mut buf) {
            s.serialize_str(std::str::from_utf8(&buf).expect("ASCII digits"))
        } else {
            s.serialize_str(&self.to_rfc3339())
        }
    }
}

impl<'de> Deserialize<'de> for Ts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let parsed = DateTime::parse_from_rfc3339(&text)
            .map_err(|e| serde::de::Error::custom(format!("bad timestamp {text:?}: {e}")))?;
        Ts::from_utc(parsed.with_timezone(&Utc)).ok_or_else(|| {
            serde::de::Error::custom(format!("bad timestamp {text:?}: in UTC it is outside the years 0-9999"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Ts;
    use chrono::{DateTime, TimeZone, Utc};

    fn formatted(t: DateTime<Utc>) -> String {
        let mut buf = [0u8; 27];
        assert!(Ts(t).format_fixed(&mut buf));
        String::from_utf8(buf.to_vec()).unwrap()
    }

    /// The fast formatter, with its per-thread cache of the last second, writes what chrono writes.
    #[test]
    fn the_timestamp_formatter_matches_chrono_across_seconds_days_and_a_leap_second() {
        let base = Utc.with_ymd_and_hms(2026, 11, 25, 23, 59, 59).unwrap();
        let times = [
            base,
            base + chrono::Duration::microseconds(1),
            base + chrono::Duration::microseconds(999_999),
            base + chrono::Duration::seconds(1),
            base + chrono::Duration::microseconds(1_000_001),
            base,
            Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap() + chrono::Duration::microseconds(123),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
        ];
        for t in times {
            assert_eq!(formatted(t), Ts(t).to_rfc3339(), "{t:?}");
        }
        let leap =
            chrono::NaiveDate::from_ymd_opt(2016, 12, 31).unwrap().and_hms_micro_opt(23, 59, 59, 1_500_000).unwrap();
        assert_eq!(formatted(leap.and_utc()), "2016-12-31T23:59:59.500000Z", "a leap second is written as :59");
        assert!(!Ts(Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap()).format_fixed(&mut [0; 27]));
    }

    /// A leap second read from a capture is held as it is written (folded into :59), so its compact form and
    /// its microseconds agree with its JSON (the fuzzer found them a second apart); a time that an offset
    /// puts past the year 9999 in UTC is refused when read, as it could not be written back.
    #[test]
    fn a_read_leap_second_is_folded_and_years_past_9999_in_utc_are_refused() {
        let leap: Ts = serde_json::from_str("\"2016-12-31T23:59:60.5Z\"").unwrap();
        let folded: Ts = serde_json::from_str("\"2016-12-31T23:59:59.5Z\"").unwrap();
        assert_eq!(leap, folded);
        assert_eq!(Ts::from_micros(leap.micros()), Some(leap));
        assert_eq!(serde_json::to_string(&leap).unwrap(), "\"2016-12-31T23:59:59.500000Z\"");
        let err = serde_json::from_str::<Ts>("\"9999-12-31T23:30:00-01:00\"").unwrap_err().to_string();
        assert!(err.contains("outside the years"), "{err}");
    }
}
