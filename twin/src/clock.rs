//! The one time factor. Every simulated duration (boot, `/load`, operation
//! delay, health-check interval and timeout, fault delays) is divided by it;
//! metrics and API timestamps stay in wall-clock seconds, so Prometheus with
//! its intervals divided by the same factor sees the same shapes, faster.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clock {
    factor: f64,
}

impl Clock {
    pub fn new(factor: f64) -> Result<Clock, String> {
        if factor.is_finite() && factor > 0.0 && factor <= 10_000.0 {
            Ok(Clock { factor })
        } else {
            Err(format!("--time-factor must be a number in (0, 10000], got {factor}"))
        }
    }

    pub fn factor(&self) -> f64 {
        self.factor
    }

    /// A duration of `secs` simulated seconds, in wall-clock time.
    pub fn scaled(&self, secs: f64) -> Duration {
        Duration::from_secs_f64((secs / self.factor).max(0.0))
    }
}

/// Wall-clock Unix time in seconds (fractional).
pub fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divides_every_duration_by_the_factor() {
        let c = Clock::new(10.0).unwrap();
        assert_eq!(c.scaled(90.0), Duration::from_secs(9));
        assert_eq!(Clock::new(1.0).unwrap().scaled(5.0), Duration::from_secs(5));
    }

    #[test]
    fn rejects_nonsense_factors() {
        for f in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e9] {
            assert!(Clock::new(f).is_err(), "{f}");
        }
    }
}
