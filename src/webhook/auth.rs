//! Grafana webhook HMAC verification (`hmacConfig`, Grafana >= 12): lowercase
//! hex HMAC-SHA256 of the raw body, or of `"<unix seconds>:<body>"` when
//! Grafana sends a timestamp header. Compared in constant time; timestamps
//! more than five minutes from our clock are refused (replay window).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Largest accepted distance between the sender's timestamp and ours.
pub const MAX_SKEW_SECS: i64 = 300;

/// Why a request failed authentication (a stable reason for logs and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    MissingSignature,
    MissingTimestamp,
    BadTimestamp,
    ExpiredTimestamp,
    BadSignature,
}

impl AuthError {
    pub fn reason(self) -> &'static str {
        match self {
            AuthError::MissingSignature => "missing_signature",
            AuthError::MissingTimestamp => "missing_timestamp",
            AuthError::BadTimestamp => "bad_timestamp",
            AuthError::ExpiredTimestamp => "expired_timestamp",
            AuthError::BadSignature => "bad_signature",
        }
    }

    /// What the sender's operator should check.
    pub fn hint(self) -> &'static str {
        match self {
            AuthError::MissingSignature => "no signature header: set hmacConfig on the Grafana contact point",
            AuthError::MissingTimestamp => {
                "no timestamp header: set hmacConfig.timestampHeader in Grafana (or AUTOSCALER_WEBHOOK_ALLOW_UNTIMESTAMPED=true)"
            }
            AuthError::BadTimestamp => "timestamp header is not unix seconds",
            AuthError::ExpiredTimestamp => "timestamp is more than 5 minutes from the listener's clock: check NTP on both hosts",
            AuthError::BadSignature => "signature does not match: the secrets differ or the body was altered",
        }
    }
}

/// The secret and the policy for requests without a timestamp.
pub struct Verifier<'a> {
    pub secret: &'a [u8],
    /// Accept body-only signatures (Grafana without `timestampHeader`). Off
    /// by default: without a timestamp a captured request can be replayed.
    pub allow_untimestamped: bool,
}

impl Verifier<'_> {
    /// Check `signature` (hex) over `body`, given the optional timestamp
    /// header value and our clock `now` (unix seconds).
    pub fn verify(&self, signature: Option<&str>, timestamp: Option<&str>, body: &[u8], now: i64) -> Result<(), AuthError> {
        let signature = signature.ok_or(AuthError::MissingSignature)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret).expect("HMAC takes keys of any length");
        match timestamp {
            Some(ts) => {
                let ts = ts.trim();
                let secs: i64 = ts.parse().map_err(|_| AuthError::BadTimestamp)?;
                if (now - secs).abs() > MAX_SKEW_SECS {
                    return Err(AuthError::ExpiredTimestamp);
                }
                mac.update(ts.as_bytes());
                mac.update(b":");
            }
            None if self.allow_untimestamped => {}
            None => return Err(AuthError::MissingTimestamp),
        }
        mac.update(body);
        let given = decode_hex(signature.trim()).ok_or(AuthError::BadSignature)?;
        // `verify_slice` compares in constant time.
        mac.verify_slice(&given).map_err(|_| AuthError::BadSignature)
    }
}

/// Lowercase hex of HMAC-SHA256, as Grafana sends it (also used by tests and
/// the benchmark to sign requests).
pub fn sign(secret: &[u8], timestamp: Option<&str>, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    if let Some(ts) = timestamp {
        mac.update(ts.as_bytes());
        mac.update(b":");
    }
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from shared/reference/grafana-prometheus.md section 2.2.
    const BODY_ONLY: &str = "3bcebf43c85d20bba6e3b6ba278af1d2ba3ab0d57de271b0ad30b833e851c5a6";
    const WITH_TS: &str = "36fa366a807205a13fc507ea4413374566ad5808c7ca7653f94d121fe5e64c2d";
    const TS: i64 = 1_700_000_000;

    fn verifier(allow_untimestamped: bool) -> Verifier<'static> {
        Verifier { secret: b"secret", allow_untimestamped }
    }

    #[test]
    fn sign_reproduces_the_reference_vectors() {
        assert_eq!(sign(b"secret", None, b"test message"), BODY_ONLY);
        assert_eq!(sign(b"secret", Some("1700000000"), b"test message"), WITH_TS);
    }

    #[test]
    fn good_signatures_pass() {
        let v = verifier(false);
        assert_eq!(v.verify(Some(WITH_TS), Some("1700000000"), b"test message", TS + 10), Ok(()));
        assert_eq!(v.verify(Some(&WITH_TS.to_uppercase()), Some("1700000000"), b"test message", TS), Ok(()));
        assert_eq!(verifier(true).verify(Some(BODY_ONLY), None, b"test message", TS), Ok(()));
    }

    #[test]
    fn each_failure_has_its_reason() {
        let v = verifier(false);
        let msg = b"test message";
        assert_eq!(v.verify(None, Some("1700000000"), msg, TS), Err(AuthError::MissingSignature));
        assert_eq!(v.verify(Some(BODY_ONLY), None, msg, TS), Err(AuthError::MissingTimestamp));
        assert_eq!(v.verify(Some(WITH_TS), Some("soon"), msg, TS), Err(AuthError::BadTimestamp));
        assert_eq!(v.verify(Some(WITH_TS), Some("1700000000"), msg, TS + MAX_SKEW_SECS + 1), Err(AuthError::ExpiredTimestamp));
        assert_eq!(v.verify(Some(WITH_TS), Some("1700000000"), msg, TS - MAX_SKEW_SECS - 1), Err(AuthError::ExpiredTimestamp));
        assert_eq!(v.verify(Some(WITH_TS), Some("1700000000"), b"test messagE", TS), Err(AuthError::BadSignature));
        assert_eq!(v.verify(Some(&WITH_TS[..62]), Some("1700000000"), msg, TS), Err(AuthError::BadSignature));
        assert_eq!(v.verify(Some("zz"), Some("1700000000"), msg, TS), Err(AuthError::BadSignature));
        assert_eq!(v.verify(Some("é"), Some("1700000000"), msg, TS), Err(AuthError::BadSignature));
        assert_eq!(verifier(true).verify(Some(WITH_TS), None, msg, TS), Err(AuthError::BadSignature));
    }
}
