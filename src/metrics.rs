//! Prometheus text exposition (format 0.0.4) for the listener's counters.
//! A handful of counters behind one mutex: a scrape every 15 s and a few
//! hundred webhooks per second do not need anything cleverer.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: &'static str,
}

pub const WEBHOOKS: Family = Family {
    name: "autoscaler_webhooks_total",
    help: "Webhook requests on /up and /down by outcome (accepted: markers written; ignored: nothing firing; rejected: 4xx/5xx).",
    kind: "counter",
};
pub const MARKERS: Family = Family { name: "autoscaler_markers_written_total", help: "Marker files durably written.", kind: "counter" };
pub const REJECTS: Family =
    Family { name: "autoscaler_webhook_rejects_total", help: "Refused requests by reason (nothing was written).", kind: "counter" };
pub const BUILD: Family = Family { name: "autoscaler_build_info", help: "Build of the running listener; always 1.", kind: "gauge" };

const FAMILIES: [&Family; 4] = [&WEBHOOKS, &MARKERS, &REJECTS, &BUILD];

/// Series keyed by (family name, rendered label set).
#[derive(Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(&'static str, String), u64>>,
}

impl Metrics {
    /// The listener's metrics, with the series a dashboard expects present
    /// from the start (at 0), so `rate()` works before the first alert.
    pub fn for_listener() -> Metrics {
        let metrics = Metrics::default();
        for route in ["up", "down"] {
            for outcome in ["accepted", "ignored", "rejected"] {
                metrics.add(&WEBHOOKS, &[("route", route), ("outcome", outcome)], 0);
            }
            metrics.add(&MARKERS, &[("direction", route)], 0);
        }
        metrics.add(&BUILD, &[("version", env!("CARGO_PKG_VERSION"))], 1);
        metrics
    }

    pub fn add(&self, family: &Family, labels: &[(&str, &str)], n: u64) {
        let mut rendered = String::new();
        for (i, (key, value)) in labels.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(rendered, "{sep}{key}=\"{}\"", escape(value));
        }
        *self.series.lock().unwrap_or_else(|p| p.into_inner()).entry((family.name, rendered)).or_insert(0) += n;
    }

    pub fn inc(&self, family: &Family, labels: &[(&str, &str)]) {
        self.add(family, labels, 1);
    }

    /// Value of one series (0 when absent); used by tests.
    pub fn get(&self, family: &Family, rendered_labels: &str) -> u64 {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        series.get(&(family.name, rendered_labels.to_string())).copied().unwrap_or(0)
    }

    pub fn render(&self) -> String {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        for family in FAMILIES {
            let _ = writeln!(out, "# HELP {} {}\n# TYPE {} {}", family.name, family.help, family.name, family.kind);
            for ((_, labels), value) in series.range((family.name, String::new())..).take_while(|((name, _), _)| *name == family.name) {
                let _ = if labels.is_empty() {
                    writeln!(out, "{} {value}", family.name)
                } else {
                    writeln!(out, "{}{{{labels}}} {value}", family.name)
                };
            }
        }
        out
    }
}

/// Label values escape backslash, double quote and newline.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_families_with_help_type_and_escaped_labels() {
        let m = Metrics::for_listener();
        m.inc(&REJECTS, &[("reason", "bad\"one\n")]);
        m.inc(&WEBHOOKS, &[("route", "up"), ("outcome", "accepted")]);
        m.add(&MARKERS, &[("direction", "up")], 3);
        let text = m.render();
        assert!(text.contains("# TYPE autoscaler_webhooks_total counter\n"), "{text}");
        assert!(text.contains("autoscaler_webhooks_total{route=\"up\",outcome=\"accepted\"} 1\n"), "{text}");
        assert!(text.contains("autoscaler_webhooks_total{route=\"down\",outcome=\"rejected\"} 0\n"), "{text}");
        assert!(text.contains("autoscaler_markers_written_total{direction=\"up\"} 3\n"), "{text}");
        assert!(text.contains("autoscaler_webhook_rejects_total{reason=\"bad\\\"one\\n\"} 1\n"), "{text}");
        assert!(text.contains("autoscaler_build_info{version=\""), "{text}");
        assert_eq!(m.get(&MARKERS, "direction=\"up\""), 3);
        // Every sample line belongs to the family announced just above it.
        let mut current = "";
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                current = rest.split(' ').next().unwrap();
            } else if !line.starts_with('#') {
                assert!(line.starts_with(current), "{line} outside {current}");
            }
        }
    }
}
