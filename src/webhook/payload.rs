//! Turn a webhook body into the markers that matter: one per firing alert.
//!
//! Two senders: Grafana unified alerting (`"version": "1"`) and Prometheus
//! Alertmanager (`"version": "4"`). Unknown fields are ignored. An empty body
//! (the course grader's GET) is one alert without a value. Values follow the
//! project convention: Grafana's per-alert `values` map under the refIds
//! `cpu` and `demand`; Alertmanager annotations `cpu` and `demand` (decimal
//! strings). The route, not the payload, decides the direction.

use crate::markers::{Direction, Marker};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;

/// Why a body was refused; the message never quotes the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError {
    /// Short, stable reason for logs and metrics.
    pub reason: &'static str,
    pub detail: String,
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

fn invalid(reason: &'static str, detail: impl Into<String>) -> PayloadError {
    PayloadError { reason, detail: detail.into() }
}

/// What a body means for the tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// `grafana`, `alertmanager` or `plain`.
    pub source: &'static str,
    /// How many alerts the payload listed (firing or not).
    pub alerts: usize,
    /// One per firing alert; empty when every alert is resolved.
    pub markers: Vec<Marker>,
}

#[derive(Deserialize)]
struct Payload {
    version: Option<String>,
    status: Option<String>,
    #[serde(default)]
    alerts: Vec<Alert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Alert {
    status: Option<String>,
    #[serde(default)]
    labels: HashMap<String, String>,
    #[serde(default)]
    annotations: HashMap<String, String>,
    starts_at: Option<String>,
    fingerprint: Option<String>,
    /// Grafana: refId → number (null when the query gave no number).
    #[serde(default)]
    values: HashMap<String, Option<f64>>,
}

/// Parse `body` received on the route for `direction` at `received_at`.
pub fn parse(body: &[u8], direction: Direction, received_at: DateTime<Utc>) -> Result<Parsed, PayloadError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        let marker = Marker {
            direction,
            received_at,
            source: "plain".into(),
            alertname: None,
            fingerprint: None,
            starts_at: None,
            cpu: None,
            demand: None,
        };
        return Ok(Parsed { source: "plain", alerts: 1, markers: vec![marker] });
    }
    let payload: Payload =
        serde_json::from_slice(body).map_err(|e| invalid("malformed_json", format!("body is not a webhook JSON object ({e})")))?;
    let source = match payload.version.as_deref() {
        Some("1") => "grafana",
        Some("4") => "alertmanager",
        Some(_) => return Err(invalid("unsupported_version", "payload version must be \"1\" (Grafana) or \"4\" (Alertmanager)")),
        None => {
            return Err(invalid(
                "unsupported_version",
                "payload has no \"version\" (expected \"1\" from Grafana or \"4\" from Alertmanager)",
            ))
        }
    };
    let mut markers = Vec::new();
    for (index, alert) in payload.alerts.iter().enumerate() {
        // An alert without its own status inherits the group's.
        let status = alert.status.as_deref().or(payload.status.as_deref()).unwrap_or("firing");
        if status != "firing" {
            continue;
        }
        markers.push(Marker {
            direction,
            received_at,
            source: source.into(),
            alertname: alert.labels.get("alertname").cloned(),
            fingerprint: alert.fingerprint.clone().filter(|f| !f.is_empty()),
            starts_at: alert.starts_at.as_deref().map(|s| parse_time(s, index)).transpose()?,
            cpu: value(alert, "cpu", index)?,
            demand: value(alert, "demand", index)?,
        });
    }
    Ok(Parsed { source, alerts: payload.alerts.len(), markers })
}

fn parse_time(raw: &str, index: usize) -> Result<DateTime<Utc>, PayloadError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| invalid("bad_field", format!("alerts[{index}].startsAt is not an RFC 3339 time")))
}

/// A value from Grafana's `values[name]`, else the annotation `name`.
fn value(alert: &Alert, name: &str, index: usize) -> Result<Option<f64>, PayloadError> {
    let number = match (alert.values.get(name), alert.annotations.get(name)) {
        (Some(v), _) => *v,
        (None, Some(text)) => Some(
            text.trim()
                .parse::<f64>()
                .map_err(|_| invalid("bad_field", format!("alerts[{index}].annotations.{name} is not a decimal number")))?,
        ),
        (None, None) => None,
    };
    match number {
        Some(n) if !n.is_finite() => Err(invalid("bad_field", format!("alerts[{index}] value {name} is not a finite number"))),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAFANA_DOCS: &str = include_str!("../../tests/data/grafana-v1.json");
    const ALERTMANAGER_025: &str = include_str!("../../tests/data/alertmanager-v4.json");

    fn now() -> DateTime<Utc> {
        "2026-12-04T20:00:00Z".parse().unwrap()
    }

    #[test]
    fn grafana_docs_example_gives_one_marker_with_fingerprint_and_time() {
        let p = parse(GRAFANA_DOCS.as_bytes(), Direction::Up, now()).unwrap();
        assert_eq!((p.source, p.alerts, p.markers.len()), ("grafana", 1, 1));
        let m = &p.markers[0];
        assert_eq!(m.fingerprint.as_deref(), Some("c6eadffa33fcdf37"));
        assert_eq!(m.alertname.as_deref(), Some("High memory usage"));
        // 09:51:03.157076+02:00 is 07:51:03.157076 UTC.
        assert_eq!(m.starts_at.unwrap().to_rfc3339(), "2021-10-12T07:51:03.157076+00:00");
        // The docs example uses refIds B and C, not the project's `cpu`.
        assert_eq!(m.cpu, None);
    }

    #[test]
    fn grafana_values_cpu_and_demand_are_read() {
        let body = GRAFANA_DOCS.replace(r#""values": {"B": 44.23943737541908, "C": 1}"#, r#""values": {"cpu": 91.5, "demand": 3, "C": 1}"#);
        let m = parse(body.as_bytes(), Direction::Up, now()).unwrap().markers.remove(0);
        assert_eq!((m.cpu, m.demand), (Some(91.5), Some(3.0)));
    }

    #[test]
    fn alertmanager_annotations_carry_the_value() {
        let p = parse(ALERTMANAGER_025.as_bytes(), Direction::Down, now()).unwrap();
        assert_eq!(p.source, "alertmanager");
        let m = &p.markers[0];
        assert_eq!((m.direction, m.cpu, m.demand), (Direction::Down, Some(12.5), None));
        assert_eq!(m.fingerprint.as_deref(), Some("5a1d1a72912c0e02"));
    }

    #[test]
    fn resolved_alerts_write_nothing_and_mixed_keep_only_firing() {
        let resolved = ALERTMANAGER_025.replace("\"firing\"", "\"resolved\"");
        let p = parse(resolved.as_bytes(), Direction::Up, now()).unwrap();
        assert_eq!((p.alerts, p.markers.len()), (1, 0));
        let two = r#"{"version":"1","status":"firing","alerts":[{"status":"resolved"},{"status":"firing","fingerprint":"ab"},{}]}"#;
        let p = parse(two.as_bytes(), Direction::Up, now()).unwrap();
        assert_eq!((p.alerts, p.markers.len()), (3, 2));
        assert_eq!(p.markers[0].fingerprint.as_deref(), Some("ab"));
    }

    #[test]
    fn empty_body_is_one_plain_marker() {
        for body in ["", " \r\n"] {
            let p = parse(body.as_bytes(), Direction::Up, now()).unwrap();
            assert_eq!((p.source, p.markers.len()), ("plain", 1));
            assert_eq!(p.markers[0].cpu, None);
        }
    }

    #[test]
    fn bad_bodies_are_refused_with_a_reason() {
        let cases = [
            ("{", "malformed_json"),
            ("[1,2]", "malformed_json"),
            (r#"{"alerts":[]}"#, "unsupported_version"),
            (r#"{"version":"2","alerts":[]}"#, "unsupported_version"),
            (r#"{"version":"4","alerts":[{"startsAt":"yesterday"}]}"#, "bad_field"),
            (r#"{"version":"4","alerts":[{"annotations":{"cpu":"hot"}}]}"#, "bad_field"),
            (r#"{"version":"1","alerts":[{"values":{"cpu":"90"}}]}"#, "malformed_json"),
            (r#"{"version":"4","alerts":[{"annotations":{"cpu":"NaN"}}]}"#, "bad_field"),
        ];
        for (body, reason) in cases {
            let e = parse(body.as_bytes(), Direction::Up, now()).unwrap_err();
            assert_eq!(e.reason, reason, "{body}: {e}");
        }
    }

    #[test]
    fn error_messages_never_quote_the_body() {
        let e = parse(br#"{"version":"4","alerts":[{"annotations":{"cpu":"s3cret-ish"}}]}"#, Direction::Up, now()).unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }
}
