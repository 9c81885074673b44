//! Rate-limited warnings: while Prometheus or Alertmanager is down the same failure repeats every
//! cycle; it is logged once, then at most once per interval with the count of repeats in between.

use std::time::{Duration, Instant};

/// Decides whether a repeating warning is logged now.
#[derive(Debug, Clone)]
pub struct Throttle {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    /// At most one warning per `every`.
    pub fn new(every: Duration) -> Self {
        Throttle {
            every,
            last: None,
            suppressed: 0,
        }
    }

    /// Called at each occurrence at time `now`: `Some(n)` when this one is to be logged (`n` occurrences
    /// were suppressed since the last logged one), `None` when it is to be suppressed.
    pub fn occurrence(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < self.every => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }

    /// The failure is over: `Some(n)` when there was one to end (`n` occurrences suppressed since the
    /// last logged one), and the next occurrence is logged at once.
    pub fn recovered(&mut self) -> Option<u64> {
        let was_failing = self.last.take().is_some();
        let suppressed = std::mem::take(&mut self.suppressed);
        was_failing.then_some(suppressed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_interval_with_the_repeats_counted() {
        let t0 = Instant::now();
        let mut t = Throttle::new(Duration::from_secs(60));
        assert_eq!(t.occurrence(t0), Some(0));
        for s in 1..55 {
            assert_eq!(t.occurrence(t0 + Duration::from_secs(s)), None);
        }
        assert_eq!(t.occurrence(t0 + Duration::from_secs(61)), Some(54));
        assert_eq!(t.recovered(), Some(0));
        assert_eq!(t.recovered(), None, "nothing to recover from");
        assert_eq!(
            t.occurrence(t0 + Duration::from_secs(62)),
            Some(0),
            "a new failure logs at once"
        );
    }
}
