//! Pure helpers behind the scenarios: the onMessage rate window and the session's expiry numbers.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The window `--rate-limit` counts in.
pub const RATE_WINDOW: Duration = Duration::from_secs(1);

/// Allows at most `limit` events within any `RATE_WINDOW`; refused events do not count.
#[derive(Debug)]
pub struct RateWindow {
    limit: u32,
    accepted: VecDeque<Instant>,
}

impl RateWindow {
    pub fn new(limit: u32) -> RateWindow {
        RateWindow { limit, accepted: VecDeque::new() }
    }

    /// Records an event at `now`, or says after how many whole seconds (at least 1) to retry.
    pub fn try_acquire(&mut self, now: Instant) -> Result<(), u64> {
        while let Some(&oldest) = self.accepted.front() {
            if now.saturating_duration_since(oldest) >= RATE_WINDOW {
                self.accepted.pop_front();
            } else {
                break;
            }
        }
        if (self.accepted.len() as u64) < u64::from(self.limit) {
            self.accepted.push_back(now);
            return Ok(());
        }
        let oldest = *self.accepted.front().expect("limit is at least 1");
        let wait = RATE_WINDOW.saturating_sub(now.saturating_duration_since(oldest));
        Err(wait.as_secs_f64().ceil().max(1.0) as u64)
    }
}

/// `durationSeconds` for an inactivity limit: whole seconds, rounded up, at least 1.
pub fn duration_seconds(expire_after: Duration) -> u64 {
    (expire_after.as_secs_f64().ceil() as u64).max(1)
}

/// `expirationDate` (epoch seconds) when the session expires if no request comes in.
pub fn expiration_date(now_epoch_secs: i64, expire_after: Duration) -> i64 {
    now_epoch_secs.saturating_add(duration_seconds(expire_after) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_window_refuses_the_extra_event_and_recovers_after_a_second() {
        let start = Instant::now();
        let mut window = RateWindow::new(2);
        assert!(window.try_acquire(start).is_ok());
        assert!(window.try_acquire(start + Duration::from_millis(100)).is_ok());
        assert_eq!(window.try_acquire(start + Duration::from_millis(200)), Err(1));
        // The refused one did not count: at 1.0 s the first slot is free again.
        assert!(window.try_acquire(start + Duration::from_millis(1000)).is_ok());
        assert!(window.try_acquire(start + Duration::from_millis(1050)).is_err());
        assert!(window.try_acquire(start + Duration::from_millis(1100)).is_ok());
    }

    #[test]
    fn expiry_numbers_round_up() {
        assert_eq!(duration_seconds(Duration::from_millis(300)), 1);
        assert_eq!(duration_seconds(Duration::from_secs(90)), 90);
        assert_eq!(expiration_date(1000, Duration::from_millis(1500)), 1002);
    }
}
