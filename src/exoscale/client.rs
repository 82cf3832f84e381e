//! Blocking Exoscale API v2 client (ureq), limited to what an instance-pool
//! autoscaler calls. Every request is signed (EXO2-HMAC-SHA256), bounded by
//! connect/read timeouts, and retried like the official clients do
//! (go-retryablehttp defaults): connection errors, 429 and 5xx except 501,
//! exponential backoff, `Retry-After` honoured, all within a total budget so a
//! 60-second tick never overruns. Other 4xx are final and explained.

use super::sign;
use super::types::{EvictRequest, Instance, InstancePool, ListInstances, Operation, ScaleRequest};
use crate::config::{ApiConfig, Secret};
use crate::log;
use serde::de::DeserializeOwned;
use std::fmt;
use std::thread;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt (go-retryablehttp: 4).
    pub max_retries: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A retry is made only if it can end (wait + one whole attempt) within
    /// this much time from the first attempt, so a call never outlasts it
    /// (unless the first attempt alone does).
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(40),
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff for retry number `retry` (0-based), capped at
    /// `max_delay`; or the server's `Retry-After`, never shortened (retrying
    /// earlier than asked only earns another 429). A `Retry-After` beyond
    /// the budget ends the retries instead (see `max_elapsed`).
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        retry_after.unwrap_or_else(|| self.base_delay.saturating_mul(2u32.saturating_pow(retry)).min(self.max_delay))
    }
}

#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    /// Limit for the answer. With `connect_timeout`, also the most one
    /// attempt may take in all (connect, send, wait, read the whole body), so
    /// a server that trickles bytes cannot hold a tick.
    pub read_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for ClientOptions {
    // 15 s per attempt leaves room for one retry of a timed-out attempt
    // inside the 40 s budget; the API normally answers in well under 1 s.
    fn default() -> Self {
        ClientOptions { connect_timeout: Duration::from_secs(5), read_timeout: Duration::from_secs(10), retry: RetryPolicy::default() }
    }
}

/// How long to wait for an asynchronous operation, and how often to look.
#[derive(Debug, Clone)]
pub struct WaitPolicy {
    pub interval: Duration,
    pub timeout: Duration,
}

impl Default for WaitPolicy {
    fn default() -> Self {
        // egoscale polls every 3 s at first; a tick has one minute in all.
        WaitPolicy { interval: Duration::from_secs(3), timeout: Duration::from_secs(40) }
    }
}

/// An API call that did not succeed, with enough context to act on it.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// The API answered with a non-2xx status (after retries, if retryable).
    Status { method: String, path: String, status: u16, message: String, attempts: u32 },
    /// No HTTP answer: DNS, connect, TLS, timeout, reset.
    Transport { method: String, path: String, detail: String, attempts: u32 },
    /// A 2xx answer whose body is not the expected JSON.
    Decode { method: String, path: String, detail: String },
    /// The operation ended in `failure` or `timeout` on Exoscale's side.
    OperationFailed { id: String, state: String, reason: String, message: String },
    /// We stopped waiting; the operation may still complete.
    WaitTimeout { id: String, waited: Duration },
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Worth trying again on the next tick (the API or network had a bad
    /// moment), as opposed to a problem a person must fix.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Status { status, .. } => retryable_status(*status),
            ApiError::Transport { .. } | ApiError::WaitTimeout { .. } => true,
            ApiError::Decode { .. } | ApiError::OperationFailed { .. } => false,
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            ApiError::Status { status: 401 | 403, .. } => {
                "check EXOSCALE_KEY/EXOSCALE_SECRET and that the key's IAM role allows this operation"
            }
            ApiError::Status { status: 404, .. } => {
                "check EXOSCALE_INSTANCEPOOL_ID and EXOSCALE_ZONE: the resource does not exist in this zone"
            }
            ApiError::Status { status: 429, .. } => "the API rate-limited us; the next tick retries",
            ApiError::Status { status, .. } if *status >= 500 => "the API is failing; the next tick retries",
            ApiError::Status { .. } => "the request was refused; see the message",
            ApiError::Transport { .. } => "check network access to EXOSCALE_API_ENDPOINT; the next tick retries",
            ApiError::Decode { .. } => "the API answered with unexpected JSON; check EXOSCALE_API_ENDPOINT points at an Exoscale API v2",
            ApiError::OperationFailed { .. } => "Exoscale could not carry out the change; see the reason and the pool in the portal",
            ApiError::WaitTimeout { .. } => "the operation is still running; the next tick reconciles with the pool's size",
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Status { method, path, status, message, attempts } => {
                write!(f, "{method} {path} answered {status}: {message} (after {attempts} attempt(s))")?
            }
            ApiError::Transport { method, path, detail, attempts } => {
                write!(f, "{method} {path} got no answer: {detail} (after {attempts} attempt(s))")?
            }
            ApiError::Decode { method, path, detail } => write!(f, "{method} {path} returned unreadable JSON: {detail}")?,
            ApiError::OperationFailed { id, state, reason, message } => {
                write!(f, "operation {id} ended in {state} (reason {reason}): {message}")?
            }
            ApiError::WaitTimeout { id, waited } => write!(f, "operation {id} still pending after {}s", waited.as_secs())?,
        }
        write!(f, "; {}", self.hint())
    }
}

impl std::error::Error for ApiError {}

fn retryable_status(status: u16) -> bool {
    status == 429 || (status >= 500 && status != 501)
}

pub struct Client {
    agent: ureq::Agent,
    endpoint: String,
    key: String,
    secret: Secret,
    retry: RetryPolicy,
    /// The most one attempt can take (the agent's deadline).
    attempt_limit: Duration,
}

impl Client {
    pub fn new(cfg: &ApiConfig) -> Client {
        Client::with_options(&cfg.endpoint, &cfg.key, cfg.secret.clone(), ClientOptions::default())
    }

    pub fn with_options(endpoint: &str, key: &str, secret: Secret, options: ClientOptions) -> Client {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(options.connect_timeout)
            // ureq lets this deadline take precedence over per-read timeouts.
            .timeout(options.connect_timeout + options.read_timeout)
            .redirects(0)
            .user_agent(concat!("autoscaler/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            agent,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            key: key.to_string(),
            secret,
            retry: options.retry,
            attempt_limit: options.connect_timeout + options.read_timeout,
        }
    }

    pub fn get_instance_pool(&self, id: &str) -> Result<InstancePool, ApiError> {
        self.call("GET", &format!("/instance-pool/{id}"), None)
    }

    /// Set the pool's target size (absolute, so a retried call is harmless).
    pub fn scale_instance_pool(&self, id: &str, size: u64) -> Result<Operation, ApiError> {
        let body = serde_json::to_vec(&ScaleRequest { size }).expect("serialisable");
        self.call("PUT", &format!("/instance-pool/{id}:scale"), Some(&body))
    }

    /// Remove named members; the pool shrinks by their number.
    pub fn evict_instance_pool_members(&self, id: &str, instances: &[String]) -> Result<Operation, ApiError> {
        let body = serde_json::to_vec(&EvictRequest { instances: instances.to_vec() }).expect("serialisable");
        self.call("PUT", &format!("/instance-pool/{id}:evict"), Some(&body))
    }

    /// Every instance managed by the pool, with its public IP.
    pub fn list_pool_instances(&self, pool_id: &str) -> Result<Vec<Instance>, ApiError> {
        let list: ListInstances = self.call("GET", &format!("/instance?manager-id={pool_id}&manager-type=instance-pool"), None)?;
        Ok(list.instances)
    }

    pub fn get_operation(&self, id: &str) -> Result<Operation, ApiError> {
        self.call("GET", &format!("/operation/{id}"), None)
    }

    /// Poll until the operation leaves `pending`. `success` is Ok; `failure`
    /// and `timeout` are errors; still pending after `policy.timeout` is
    /// [`ApiError::WaitTimeout`]. Gives up after 5 consecutive poll errors
    /// (as egoscale's `Wait` does).
    pub fn wait_operation(&self, op: Operation, policy: &WaitPolicy) -> Result<Operation, ApiError> {
        let started = Instant::now();
        let mut current = op;
        let mut consecutive_errors = 0;
        loop {
            if !current.is_pending() {
                return if current.state == "success" {
                    Ok(current)
                } else {
                    Err(ApiError::OperationFailed {
                        id: current.id.clone(),
                        state: current.state.clone(),
                        reason: current.reason.clone().unwrap_or_else(|| "unknown".into()),
                        message: current.message.clone().unwrap_or_default(),
                    })
                };
            }
            if started.elapsed() + policy.interval > policy.timeout {
                return Err(ApiError::WaitTimeout { id: current.id, waited: started.elapsed() });
            }
            thread::sleep(policy.interval);
            match self.get_operation(&current.id) {
                Ok(op) => {
                    consecutive_errors = 0;
                    current = op;
                }
                Err(e) if consecutive_errors < 4 && e.is_transient() => consecutive_errors += 1,
                Err(e) => return Err(e),
            }
        }
    }

    fn call<T: DeserializeOwned>(&self, method: &str, resource: &str, body: Option<&[u8]>) -> Result<T, ApiError> {
        let url = format!("{}{}", self.endpoint, resource);
        let (path, query) = sign::split_url(&url);
        let started = Instant::now();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let (failure, retry_after) = match self.send(method, &url, path, query, body) {
                Ok(text) => {
                    return serde_json::from_str(&text).map_err(|e| ApiError::Decode {
                        method: method.into(),
                        path: path.into(),
                        detail: e.to_string(),
                    })
                }
                Err(pair) => pair,
            };
            let retryable = match &failure {
                ApiError::Status { status, .. } => retryable_status(*status),
                _ => true,
            };
            let retry = attempt - 1;
            let wait = self.retry.delay(retry, retry_after);
            let out_of_budget = started.elapsed() + wait + self.attempt_limit > self.retry.max_elapsed;
            if !retryable || retry >= self.retry.max_retries || out_of_budget {
                return Err(with_attempts(failure, attempt));
            }
            log::warn(
                "api.retry",
                &[
                    ("method", &method),
                    ("path", &path),
                    ("cause", &failure_cause(&failure)),
                    ("attempt", &attempt),
                    ("wait_ms", &wait.as_millis()),
                ],
            );
            thread::sleep(wait);
        }
    }

    /// One signed attempt. On failure, also returns the server's Retry-After.
    fn send(&self, method: &str, url: &str, path: &str, query: &str, body: Option<&[u8]>) -> Result<String, (ApiError, Option<Duration>)> {
        let expires = chrono::Utc::now().timestamp() + sign::VALIDITY_SECS;
        let auth = sign::authorization(&self.key, self.secret.expose(), method, path, query, body.unwrap_or(b""), expires);
        let request = self.agent.request(method, url).set("Authorization", &auth).set("Accept", "application/json");
        let result = match body {
            Some(bytes) => request.set("Content-Type", "application/json").send_bytes(bytes),
            None => request.call(),
        };
        match result {
            Ok(response) => response.into_string().map_err(|e| {
                (ApiError::Transport { method: method.into(), path: path.into(), detail: format!("reading body: {e}"), attempts: 1 }, None)
            }),
            Err(ureq::Error::Status(status, response)) => {
                let retry_after = response.header("Retry-After").and_then(parse_retry_after);
                let text = response.into_string().unwrap_or_default();
                Err((
                    ApiError::Status { method: method.into(), path: path.into(), status, message: error_message(&text), attempts: 1 },
                    retry_after,
                ))
            }
            Err(ureq::Error::Transport(t)) => {
                Err((ApiError::Transport { method: method.into(), path: path.into(), detail: t.to_string(), attempts: 1 }, None))
            }
        }
    }
}

fn with_attempts(mut e: ApiError, n: u32) -> ApiError {
    match &mut e {
        ApiError::Status { attempts, .. } | ApiError::Transport { attempts, .. } => *attempts = n,
        _ => {}
    }
    e
}

fn failure_cause(e: &ApiError) -> String {
    match e {
        ApiError::Status { status, .. } => status.to_string(),
        ApiError::Transport { detail, .. } => detail.clone(),
        other => other.to_string(),
    }
}

/// `Retry-After` as delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = when.timestamp() - chrono::Utc::now().timestamp();
    Some(Duration::from_secs(delta.max(0) as u64))
}

/// The human message of an error body: classic `{"message"}`, `{"error"}`,
/// or RFC 9457 `detail`/`title`; otherwise the raw text. Always one short
/// line: an HTML error page must not flood the log or the failure message.
fn error_message(body: &str) -> String {
    let json = serde_json::from_str::<serde_json::Value>(body).ok();
    let text = json
        .as_ref()
        .and_then(|v| ["message", "error", "detail", "title"].iter().find_map(|f| v.get(*f).and_then(|m| m.as_str())))
        .unwrap_or(body);
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        "(empty body)".into()
    } else {
        words.join(" ").chars().take(200).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            max_retries: 4,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_elapsed: Duration::MAX,
        };
        let waits: Vec<u64> = (0..6).map(|r| p.delay(r, None).as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 30]);
        assert_eq!(p.delay(0, Some(Duration::from_secs(7))).as_secs(), 7);
        assert_eq!(p.delay(0, Some(Duration::from_secs(90))).as_secs(), 90, "Retry-After is honoured, not shortened");
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn retryable_statuses() {
        assert!(retryable_status(429) && retryable_status(500) && retryable_status(503));
        assert!(!retryable_status(501) && !retryable_status(403) && !retryable_status(404));
    }

    #[test]
    fn error_bodies() {
        assert_eq!(error_message(r#"{"message":"Invalid request signature"}"#), "Invalid request signature");
        assert_eq!(error_message(r#"{"error":"rate limited","retry_after":1}"#), "rate limited");
        assert_eq!(error_message(""), "(empty body)");
        assert_eq!(error_message("<html>\n<h1>502 Bad\r\nGateway</h1>\n</html>"), "<html> <h1>502 Bad Gateway</h1> </html>");
    }

    #[test]
    fn errors_carry_a_hint() {
        let e = ApiError::Status {
            method: "GET".into(),
            path: "/v2/instance-pool/x".into(),
            status: 404,
            message: "Not found".into(),
            attempts: 1,
        };
        assert!(e.to_string().contains("EXOSCALE_INSTANCEPOOL_ID"), "{e}");
        assert!(!e.is_transient());
    }
}
