//! Faults on demand: API error responses (for the next N calls or at a
//! rate, with an optional Retry-After), added API latency, members that fail
//! to boot, and killing a member. Set by flags at start or by
//! `POST /twin/faults` at run time; both use the same JSON shape.

use crate::ids::Rng;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiErrors {
    pub status: u16,
    /// Fail the next `count` calls...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// ...or each call with probability `rate` (0..1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Seconds for the `Retry-After` header (divided by the time factor, rounded up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<f64>,
}

/// One fault request; absent fields leave the current setting unchanged.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_errors: Option<ApiErrors>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_failures: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_member: Option<String>,
}

impl FaultRequest {
    pub fn validate(&self) -> Result<(), String> {
        if let Some(e) = &self.api_errors {
            if !(400..=599).contains(&e.status) {
                return Err(format!("api_errors.status must be an HTTP error status 400-599, got {}", e.status));
            }
            match (e.count, e.rate) {
                (Some(_), Some(_)) => return Err("api_errors: give either count or rate, not both".into()),
                (None, None) => return Err("api_errors: give count (next N calls) or rate (0..1)".into()),
                (None, Some(r)) if !(0.0..=1.0).contains(&r) => return Err(format!("api_errors.rate must be within 0..1, got {r}")),
                _ => {}
            }
            if e.retry_after.is_some_and(|s| !(s.is_finite() && s >= 0.0)) {
                return Err("api_errors.retry_after must be a non-negative number of seconds".into());
            }
        }
        Ok(())
    }
}

/// An error response to inject: status and Retry-After (simulated seconds).
#[derive(Debug, PartialEq)]
pub struct Injected {
    pub status: u16,
    pub retry_after: Option<f64>,
}

pub struct Faults {
    api_errors: Option<ApiErrors>,
    pub latency_ms: u64,
    boot_failures: u64,
    rng: Rng,
}

impl Faults {
    pub fn new(rng: Rng) -> Faults {
        Faults { api_errors: None, latency_ms: 0, boot_failures: 0, rng }
    }

    /// Apply a validated request (kill_member is the caller's job).
    pub fn apply(&mut self, req: &FaultRequest) {
        if let Some(e) = &req.api_errors {
            // count 0 or rate 0 clears the fault.
            self.api_errors = (e.count != Some(0) && e.rate != Some(0.0)).then(|| e.clone());
        }
        if let Some(ms) = req.latency_ms {
            self.latency_ms = ms;
        }
        if let Some(n) = req.boot_failures {
            self.boot_failures = n;
        }
    }

    /// Decide whether this API call fails, consuming one from a count.
    pub fn next_api_error(&mut self) -> Option<Injected> {
        let e = self.api_errors.as_mut()?;
        let fire = match (e.count.as_mut(), e.rate) {
            (Some(n), _) => {
                *n -= 1;
                true
            }
            (None, Some(rate)) => self.rng.chance(rate),
            (None, None) => false,
        };
        let injected = fire.then_some(Injected { status: e.status, retry_after: e.retry_after });
        if e.count == Some(0) {
            self.api_errors = None;
        }
        injected
    }

    /// True if the member now finishing its boot must fail instead.
    pub fn take_boot_failure(&mut self) -> bool {
        let fail = self.boot_failures > 0;
        self.boot_failures = self.boot_failures.saturating_sub(1);
        fail
    }

    /// The pending faults, for the status endpoint.
    pub fn describe(&self) -> FaultRequest {
        FaultRequest {
            api_errors: self.api_errors.clone(),
            latency_ms: Some(self.latency_ms),
            boot_failures: Some(self.boot_failures),
            kill_member: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: &str) -> FaultRequest {
        let r: FaultRequest = serde_json::from_str(json).unwrap();
        r.validate().unwrap();
        r
    }

    #[test]
    fn count_fails_exactly_the_next_n_calls() {
        let mut f = Faults::new(Rng::new(1));
        f.apply(&req(r#"{"api_errors":{"status":503,"count":2,"retry_after":1}}"#));
        let e = Injected { status: 503, retry_after: Some(1.0) };
        assert_eq!(f.next_api_error(), Some(e));
        assert!(f.next_api_error().is_some());
        assert_eq!(f.next_api_error(), None);
    }

    #[test]
    fn rate_fails_about_that_share() {
        let mut f = Faults::new(Rng::new(7));
        f.apply(&req(r#"{"api_errors":{"status":429,"rate":0.5}}"#));
        let n = (0..1000).filter_map(|_| f.next_api_error()).count();
        assert!((400..600).contains(&n), "{n}");
        f.apply(&req(r#"{"api_errors":{"status":429,"rate":0}}"#));
        assert_eq!(f.next_api_error(), None);
    }

    #[test]
    fn boot_failures_are_consumed_one_by_one() {
        let mut f = Faults::new(Rng::new(1));
        f.apply(&req(r#"{"boot_failures":1}"#));
        assert!(f.take_boot_failure());
        assert!(!f.take_boot_failure());
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        for (json, needle) in [
            (r#"{"api_errors":{"status":200,"count":1}}"#, "400-599"),
            (r#"{"api_errors":{"status":503}}"#, "count"),
            (r#"{"api_errors":{"status":503,"rate":2}}"#, "0..1"),
            (r#"{"api_errors":{"status":503,"count":1,"rate":0.5}}"#, "not both"),
        ] {
            let r: FaultRequest = serde_json::from_str(json).unwrap();
            assert!(r.validate().unwrap_err().contains(needle), "{json}");
        }
        assert!(serde_json::from_str::<FaultRequest>(r#"{"latency":5}"#).is_err());
    }
}
