//! Rate-limited reporting: one report per interval about the same thing,
//! with how many were held back since. An outage seen by a loop that ticks
//! twice a second must not become two log lines a second.

use std::time::{Duration, Instant};

/// Allows one report per `every`; counts the rest.
#[derive(Debug, Clone)]
pub struct Throttle {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    pub fn new(every: Duration) -> Throttle {
        Throttle {
            every,
            last: None,
            suppressed: 0,
        }
    }

    pub fn per_minute() -> Throttle {
        Throttle::new(Duration::from_secs(60))
    }

    /// `Some(held back since the last report)` when a report may go out at
    /// `now`; `None` (and one more held back) otherwise.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < self.every => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_report_per_interval_with_the_count_held_back() {
        let t0 = Instant::now();
        let mut t = Throttle::new(Duration::from_secs(60));
        assert_eq!(t.allow(t0), Some(0));
        for i in 1..=119 {
            // Twice a second for a minute: all held back.
            assert_eq!(t.allow(t0 + Duration::from_millis(500 * i)), None);
        }
        assert_eq!(t.allow(t0 + Duration::from_secs(60)), Some(119));
        assert_eq!(t.allow(t0 + Duration::from_secs(61)), None);
        assert_eq!(t.allow(t0 + Duration::from_secs(120)), Some(1));
    }
}
