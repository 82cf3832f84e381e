//! The scaling decision, as a pure function: (pending markers, the pool's
//! target size, cooldown clocks, knobs, now) → action, target size, rule and
//! a human cause. No I/O and no clock reads, so every rule is table-tested.
//!
//! Rules (the README's "Scaling policy" section explains why):
//! 1. Markers older than `marker_max_age` are discarded unused.
//! 2. "up" wins over "down"; the losing markers are consumed as overridden.
//! 3. The step never depends on how many markers arrived: repeats of one
//!    alert (same fingerprint and startsAt) count once, and all live markers
//!    together make one decision, read from the newest value they carry.
//! 4. Proportional: `ceil(size × cpu / target)`; at saturation (cpu ≥ 95 %)
//!    the demand signal (busy-member equivalents) gives
//!    `ceil(demand / target)`, else the pool doubles; ±1 without a value.
//!    An "up" always adds at least one member, a "down" removes at least one.
//! 5. Clamped to min..max; a decision that cannot move is a no-op at a bound.
//! 6. Cooldowns: a scale-up waits `scale_up_cooldown` after the last
//!    scale-up; a scale-down waits `scale_down_cooldown` after any scale.

use crate::config::{PolicyConfig, PolicyMode};
use crate::exoscale::types::Instance;
use crate::markers::{Direction, StoredMarker};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// At or above this pool CPU (percent) a member is saturated: `/load` keeps
/// it at 100 % whether one or two requests run, so CPU no longer says how
/// much more capacity is needed.
pub const SATURATED_CPU: f64 = 95.0;

/// When the pool last changed size on our request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Clocks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_up: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_down: Option<DateTime<Utc>>,
}

impl Clocks {
    pub fn note(&mut self, action: Action, at: DateTime<Utc>) {
        match action {
            Action::ScaleUp => self.last_scale_up = Some(at),
            Action::ScaleDown => self.last_scale_down = Some(at),
            Action::None => {}
        }
    }

    /// Seconds a scale in `direction` must still wait (0 when free).
    pub fn cooldown_left(&self, direction: Direction, knobs: &PolicyConfig, now: DateTime<Utc>) -> u64 {
        let (since, cooldown) = match direction {
            Direction::Up => (self.last_scale_up, knobs.scale_up_cooldown),
            Direction::Down => (self.last_scale_up.max(self.last_scale_down), knobs.scale_down_cooldown),
        };
        let elapsed = since.map(|t| (now - t).num_seconds().max(0) as u64);
        elapsed.map_or(0, |e| cooldown.saturating_sub(e))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    ScaleUp,
    ScaleDown,
    None,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ScaleUp => "scale_up",
            Action::ScaleDown => "scale_down",
            Action::None => "none",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub action: Action,
    pub from: u64,
    pub to: u64,
    /// Short machine name of the rule that decided (see the README).
    pub rule: &'static str,
    /// One sentence for a person.
    pub cause: String,
    pub cpu: Option<f64>,
    pub demand: Option<f64>,
    /// Markers of the winning direction that shaped the decision.
    pub used: Vec<String>,
    /// Repeats of an alert already counted in `used`.
    pub duplicates: Vec<String>,
    /// Older than `marker_max_age`.
    pub expired: Vec<String>,
    /// "down" markers when "up" won.
    pub overridden: Vec<String>,
}

impl Decision {
    /// Every marker this decision disposes of, in arrival order.
    pub fn consumed(&self) -> Vec<String> {
        let mut all: Vec<String> = [&self.used, &self.duplicates, &self.expired, &self.overridden].into_iter().flatten().cloned().collect();
        all.sort();
        all
    }
}

/// Decide what one tick does. `markers` may come in any order.
pub fn decide(now: DateTime<Utc>, size: u64, markers: &[StoredMarker], clocks: &Clocks, knobs: &PolicyConfig) -> Decision {
    let mut sorted: Vec<&StoredMarker> = markers.iter().collect();
    sorted.sort_by(|a, b| (a.marker.received_at, &a.id).cmp(&(b.marker.received_at, &b.id)));
    let max_age = chrono::Duration::seconds(knobs.marker_max_age.min(i64::MAX as u64 / 1000) as i64);
    let (expired, live): (Vec<&StoredMarker>, Vec<&StoredMarker>) = sorted.into_iter().partition(|m| now - m.marker.received_at > max_age);
    let direction = if live.iter().any(|m| m.marker.direction == Direction::Up) {
        Direction::Up
    } else if live.is_empty() {
        let cause = if expired.is_empty() {
            "no pending markers".to_string()
        } else {
            format!("{} marker(s) older than {} s discarded", expired.len(), knobs.marker_max_age)
        };
        return Decision {
            expired: ids(&expired),
            ..no_op(size, if expired.is_empty() { "no_markers" } else { "expired" }, cause, None, None)
        };
    } else {
        Direction::Down
    };
    let (winning, overridden): (Vec<&StoredMarker>, Vec<&StoredMarker>) = live.into_iter().partition(|m| m.marker.direction == direction);
    let (used, duplicates) = dedup(&winning);
    // The newest value describes the pool best.
    let cpu = used.iter().rev().find_map(|m| m.marker.cpu.filter(|c| c.is_finite() && *c >= 0.0)).map(|c| c.min(100.0));
    let demand = used.iter().rev().find_map(|m| m.marker.demand.filter(|d| d.is_finite() && *d >= 0.0));
    let (desired, rule, how) = desired_size(direction, size, cpu, demand, knobs);
    let signal = format!("{} {direction} marker(s)", used.len());
    let overridden_note = if overridden.is_empty() { String::new() } else { format!(", {} down marker(s) overridden", overridden.len()) };

    let mut decision = match direction {
        Direction::Up if desired.min(knobs.max_size) <= size => no_op(
            size,
            "at_max",
            format!("{signal} but the pool is at its maximum (size {size}, AUTOSCALER_MAX_SIZE={}); no scale call", knobs.max_size),
            cpu,
            demand,
        ),
        Direction::Down if desired.max(knobs.min_size) >= size => no_op(
            size,
            "at_min",
            format!("{signal} but the pool is at its minimum (size {size}, AUTOSCALER_MIN_SIZE={}); no scale call", knobs.min_size),
            cpu,
            demand,
        ),
        _ => {
            let to = desired.clamp(knobs.min_size, knobs.max_size);
            let left = clocks.cooldown_left(direction, knobs, now);
            if left > 0 {
                no_op(
                    size,
                    "cooldown",
                    format!("{signal} would scale {size}→{to} ({how}), but the {direction} cooldown has {left} s left"),
                    cpu,
                    demand,
                )
            } else {
                let action = if direction == Direction::Up { Action::ScaleUp } else { Action::ScaleDown };
                let clamped = if to != desired { format!(", clamped from {desired}") } else { String::new() };
                Decision { action, to, rule, cause: format!("{signal}: {how}{clamped}"), ..no_op(size, rule, String::new(), cpu, demand) }
            }
        }
    };
    decision.cause.push_str(&overridden_note);
    if !expired.is_empty() {
        decision.cause.push_str(&format!(", {} expired marker(s) discarded", expired.len()));
    }
    decision.used = ids(&used);
    decision.duplicates = ids(&duplicates);
    decision.expired = ids(&expired);
    decision.overridden = ids(&overridden);
    decision
}

fn no_op(size: u64, rule: &'static str, cause: String, cpu: Option<f64>, demand: Option<f64>) -> Decision {
    Decision {
        action: Action::None,
        from: size,
        to: size,
        rule,
        cause,
        cpu,
        demand,
        used: Vec::new(),
        duplicates: Vec::new(),
        expired: Vec::new(),
        overridden: Vec::new(),
    }
}

fn ids(markers: &[&StoredMarker]) -> Vec<String> {
    markers.iter().map(|m| m.id.clone()).collect()
}

/// Keep the newest marker of each alert (fingerprint + startsAt); markers
/// without that identity are all kept. Input and output are oldest first.
fn dedup<'a>(markers: &[&'a StoredMarker]) -> (Vec<&'a StoredMarker>, Vec<&'a StoredMarker>) {
    let mut newest: HashMap<(&str, DateTime<Utc>), usize> = HashMap::new();
    for (i, m) in markers.iter().enumerate() {
        if let (Some(fp), Some(start)) = (m.marker.fingerprint.as_deref(), m.marker.starts_at) {
            newest.insert((fp, start), i);
        }
    }
    let is_kept = |i: usize, m: &StoredMarker| match (m.marker.fingerprint.as_deref(), m.marker.starts_at) {
        (Some(fp), Some(start)) => newest[&(fp, start)] == i,
        _ => true,
    };
    let (mut used, mut duplicates) = (Vec::new(), Vec::new());
    for (i, m) in markers.iter().enumerate() {
        if is_kept(i, m) {
            used.push(*m)
        } else {
            duplicates.push(*m)
        }
    }
    (used, duplicates)
}

/// The size the signal asks for (before bounds), the rule, and how it was
/// computed, in words.
fn desired_size(
    direction: Direction,
    size: u64,
    cpu: Option<f64>,
    demand: Option<f64>,
    knobs: &PolicyConfig,
) -> (u64, &'static str, String) {
    let target = knobs.target_cpu;
    let (raw, rule, how) = match (knobs.mode, direction, cpu, demand) {
        (PolicyMode::Step, ..) | (_, _, None, _) => {
            let to = if direction == Direction::Up { size + 1 } else { size.saturating_sub(1) };
            let why = if knobs.mode == PolicyMode::Step { "step policy" } else { "no CPU value" };
            return (to, "step", format!("{why}: one member {} → {to}", if direction == Direction::Up { "more" } else { "less" }));
        }
        (_, Direction::Up, Some(c), Some(d)) if c >= SATURATED_CPU && d > 0.0 => {
            let raw = ceil(d * 100.0 / target);
            (raw, "demand", format!("cpu {c:.1}% is saturated; ceil(demand {d:.2} busy members / target {target}%) = {raw}"))
        }
        (_, Direction::Up, Some(c), _) if c >= SATURATED_CPU => {
            let raw = size.max(1) * 2;
            (raw, "multiplicative", format!("cpu {c:.1}% is saturated and no demand value: double {size} = {raw}"))
        }
        (_, _, Some(c), _) => {
            let raw = ceil(size as f64 * c / target);
            (raw, "proportional", format!("ceil({size} × cpu {c:.1}% / target {target}%) = {raw}"))
        }
    };
    // An alert means the pool is outside the band: move at least one member.
    let desired = match direction {
        Direction::Up => raw.max(size + 1),
        Direction::Down => raw.min(size.saturating_sub(1)),
    };
    let floor = if desired != raw {
        format!(", at least one member {}", if direction == Direction::Up { "more" } else { "less" })
    } else {
        String::new()
    };
    (desired, rule, format!("{how}{floor} → {desired}"))
}

/// Ceiling that ignores float noise (3 × 70 / 70 must stay 3).
fn ceil(x: f64) -> u64 {
    (x - 1e-9).ceil().max(0.0) as u64
}

/// A member in this state is on its way out: never evicted again, never scraped.
pub fn is_leaving(state: &str) -> bool {
    ["stopping", "stopped", "destroying", "destroyed", "expunging"].contains(&state)
}

/// Which members to evict to shrink the pool by `n`: members still starting
/// first (they serve nothing yet), then the newest (the long-running ones
/// are known to work). Members already leaving are never chosen. Returns
/// fewer than `n` ids when the pool has fewer candidates.
pub fn choose_evictions(instances: &[Instance], n: usize) -> Vec<String> {
    let mut candidates: Vec<&Instance> = instances.iter().filter(|i| !is_leaving(&i.state)).collect();
    let created = |i: &Instance| i.created_at.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc));
    candidates.sort_by(|a, b| {
        let starting = |i: &Instance| i.state != "running";
        (starting(b), created(b), &b.id).cmp(&(starting(a), created(a), &a.id))
    });
    candidates.into_iter().take(n).map(|i| i.id.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markers::Marker;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 20, 0, 0).unwrap()
    }

    fn knobs() -> PolicyConfig {
        PolicyConfig {
            min_size: 1,
            max_size: 10,
            scale_up_cooldown: 240,
            scale_down_cooldown: 300,
            target_cpu: 70.0,
            marker_max_age: 180,
            mode: PolicyMode::Proportional,
        }
    }

    /// A marker `age` seconds old; `alert` = (fingerprint, startsAt offset).
    fn m(id: &str, dir: Direction, age: i64, cpu: Option<f64>, demand: Option<f64>, alert: Option<(&str, i64)>) -> StoredMarker {
        StoredMarker {
            id: id.into(),
            marker: Marker {
                direction: dir,
                received_at: now() - chrono::Duration::seconds(age),
                source: "grafana".into(),
                alertname: None,
                fingerprint: alert.map(|(f, _)| f.to_string()),
                starts_at: alert.map(|(_, s)| now() - chrono::Duration::seconds(s)),
                cpu,
                demand,
            },
        }
    }

    use Direction::{Down, Up};

    struct Case {
        name: &'static str,
        size: u64,
        markers: Vec<StoredMarker>,
        clocks: Clocks,
        knobs: PolicyConfig,
        want: (Action, u64, &'static str),
    }

    fn case(name: &'static str, size: u64, markers: Vec<StoredMarker>, want: (Action, u64, &'static str)) -> Case {
        Case { name, size, markers, clocks: Clocks::default(), knobs: knobs(), want }
    }

    fn ago(secs: i64) -> Option<DateTime<Utc>> {
        Some(now() - chrono::Duration::seconds(secs))
    }

    #[test]
    fn decision_table() {
        let step = PolicyConfig { mode: PolicyMode::Step, ..knobs() };
        let cases = vec![
            case("nothing pending", 3, vec![], (Action::None, 3, "no_markers")),
            case("up without a value: +1", 2, vec![m("a", Up, 5, None, None, None)], (Action::ScaleUp, 3, "step")),
            case("down without a value: -1", 4, vec![m("a", Down, 5, None, None, None)], (Action::ScaleDown, 3, "step")),
            case(
                "proportional up: ceil(2 × 90 / 70) = 3",
                2,
                vec![m("a", Up, 5, Some(90.0), None, None)],
                (Action::ScaleUp, 3, "proportional"),
            ),
            case(
                "proportional up: ceil(4 × 85 / 70) = 5",
                4,
                vec![m("a", Up, 5, Some(85.0), None, None)],
                (Action::ScaleUp, 5, "proportional"),
            ),
            case("proportional up is at least +1", 4, vec![m("a", Up, 5, Some(65.0), None, None)], (Action::ScaleUp, 5, "proportional")),
            case(
                "proportional down: ceil(6 × 10 / 70) = 1",
                6,
                vec![m("a", Down, 5, Some(10.0), None, None)],
                (Action::ScaleDown, 1, "proportional"),
            ),
            case(
                "proportional down: ceil(5 × 19 / 70) = 2",
                5,
                vec![m("a", Down, 5, Some(19.0), None, None)],
                (Action::ScaleDown, 2, "proportional"),
            ),
            case("down is at least -1", 3, vec![m("a", Down, 5, Some(75.0), None, None)], (Action::ScaleDown, 2, "proportional")),
            case(
                "saturated with demand 2: ceil(2 / 0.7) = 3",
                1,
                vec![m("a", Up, 5, Some(100.0), Some(2.0), None)],
                (Action::ScaleUp, 3, "demand"),
            ),
            case(
                "saturated with demand 5.5: ceil(5.5 / 0.7) = 8",
                2,
                vec![m("a", Up, 5, Some(99.0), Some(5.5), None)],
                (Action::ScaleUp, 8, "demand"),
            ),
            case("saturated, small demand still +1", 3, vec![m("a", Up, 5, Some(100.0), Some(0.5), None)], (Action::ScaleUp, 4, "demand")),
            case(
                "saturated without demand doubles",
                3,
                vec![m("a", Up, 5, Some(100.0), None, None)],
                (Action::ScaleUp, 6, "multiplicative"),
            ),
            case(
                "saturated, demand 0 is no demand: doubles",
                2,
                vec![m("a", Up, 5, Some(97.0), Some(0.0), None)],
                (Action::ScaleUp, 4, "multiplicative"),
            ),
            case("clamped to max", 8, vec![m("a", Up, 5, Some(100.0), None, None)], (Action::ScaleUp, 10, "multiplicative")),
            case("at max: no call", 10, vec![m("a", Up, 5, Some(100.0), None, None)], (Action::None, 10, "at_max")),
            case("above max: no call", 12, vec![m("a", Up, 5, None, None, None)], (Action::None, 12, "at_max")),
            case("at min: no call", 1, vec![m("a", Down, 5, Some(3.0), None, None)], (Action::None, 1, "at_min")),
            case(
                "up beats down",
                3,
                vec![m("d", Down, 5, Some(10.0), None, None), m("u", Up, 10, None, None, None)],
                (Action::ScaleUp, 4, "step"),
            ),
            case(
                "newest value wins",
                2,
                vec![m("old", Up, 50, Some(100.0), None, None), m("new", Up, 5, Some(90.0), None, None)],
                (Action::ScaleUp, 3, "proportional"),
            ),
            case("expired marker ignored", 2, vec![m("a", Up, 181, Some(100.0), None, None)], (Action::None, 2, "expired")),
            case(
                "expired up does not beat live down",
                4,
                vec![m("u", Up, 500, None, None, None), m("d", Down, 5, None, None, None)],
                (Action::ScaleDown, 3, "step"),
            ),
            case("nonsense cpu counts as unknown", 2, vec![m("a", Up, 5, Some(f64::NAN), None, None)], (Action::ScaleUp, 3, "step")),
            Case {
                knobs: step.clone(),
                ..case("step policy ignores values", 2, vec![m("a", Up, 5, Some(100.0), Some(6.0), None)], (Action::ScaleUp, 3, "step"))
            },
            Case {
                knobs: step,
                ..case("step policy down", 5, vec![m("a", Down, 5, Some(1.0), None, None)], (Action::ScaleDown, 4, "step"))
            },
            Case {
                clocks: Clocks { last_scale_up: ago(100), last_scale_down: None },
                ..case("up cooldown holds", 2, vec![m("a", Up, 5, None, None, None)], (Action::None, 2, "cooldown"))
            },
            Case {
                clocks: Clocks { last_scale_up: ago(240), last_scale_down: None },
                ..case("up cooldown over", 2, vec![m("a", Up, 5, None, None, None)], (Action::ScaleUp, 3, "step"))
            },
            Case {
                clocks: Clocks { last_scale_up: None, last_scale_down: ago(10) },
                ..case("a scale-down does not delay a scale-up", 2, vec![m("a", Up, 5, None, None, None)], (Action::ScaleUp, 3, "step"))
            },
            Case {
                clocks: Clocks { last_scale_up: ago(250), last_scale_down: None },
                ..case("down waits 300 s after a scale-up", 4, vec![m("a", Down, 5, None, None, None)], (Action::None, 4, "cooldown"))
            },
            Case {
                clocks: Clocks { last_scale_up: ago(400), last_scale_down: ago(299) },
                ..case("down waits 300 s after a scale-down", 4, vec![m("a", Down, 5, None, None, None)], (Action::None, 4, "cooldown"))
            },
            Case {
                clocks: Clocks { last_scale_up: ago(400), last_scale_down: ago(300) },
                ..case("down cooldown over", 4, vec![m("a", Down, 5, None, None, None)], (Action::ScaleDown, 3, "step"))
            },
            Case {
                knobs: PolicyConfig { min_size: 3, ..knobs() },
                ..case("clamped to min", 6, vec![m("a", Down, 5, Some(5.0), None, None)], (Action::ScaleDown, 3, "proportional"))
            },
        ];
        for c in cases {
            let d = decide(now(), c.size, &c.markers, &c.clocks, &c.knobs);
            assert_eq!((d.action, d.to, d.rule), c.want, "{}: {}", c.name, d.cause);
            assert_eq!(d.from, c.size, "{}", c.name);
            let mut all: Vec<String> = c.markers.iter().map(|m| m.id.clone()).collect();
            all.sort();
            assert_eq!(d.consumed(), all, "{}: every marker is disposed of", c.name);
        }
    }

    #[test]
    fn repeats_of_one_alert_do_not_multiply_the_step() {
        let alert = Some(("c6ea", 600));
        let many: Vec<StoredMarker> = (0..50).map(|i| m(&format!("m{i:03}"), Up, 100 - i, Some(90.0), None, alert)).collect();
        let d = decide(now(), 2, &many, &Clocks::default(), &knobs());
        assert_eq!((d.action, d.to), (Action::ScaleUp, 3));
        assert_eq!(d.used, vec!["m049".to_string()], "the newest repeat is the one used");
        assert_eq!(d.duplicates.len(), 49);
        // A new firing of the same rule (new startsAt) is a different alert, but still one step.
        let mut two = many.clone();
        two.push(m("n", Up, 1, Some(90.0), None, Some(("c6ea", 30))));
        let d = decide(now(), 2, &two, &Clocks::default(), &knobs());
        assert_eq!((d.to, d.used.len(), d.duplicates.len()), (3, 2, 49));
    }

    #[test]
    fn causes_explain_the_numbers() {
        let d = decide(now(), 1, &[m("a", Up, 5, Some(100.0), Some(2.0), None)], &Clocks::default(), &knobs());
        assert!(d.cause.contains("ceil(demand 2.00 busy members / target 70%) = 3 → 3"), "{}", d.cause);
        let d = decide(now(), 3, &[m("a", Up, 5, Some(100.0), Some(2.0), None)], &Clocks::default(), &knobs());
        assert!(d.cause.contains("= 3, at least one member more → 4"), "{}", d.cause);
        let clocks = Clocks { last_scale_up: ago(40), last_scale_down: None };
        let d = decide(now(), 2, &[m("a", Up, 5, None, None, None)], &clocks, &knobs());
        assert!(d.cause.contains("200 s left"), "{}", d.cause);
        let d = decide(now(), 10, &[m("a", Up, 5, None, None, None)], &Clocks::default(), &knobs());
        assert!(d.cause.contains("AUTOSCALER_MAX_SIZE=10"), "{}", d.cause);
    }

    #[test]
    fn cooldown_left_counts_down() {
        let clocks = Clocks { last_scale_up: ago(100), last_scale_down: None };
        assert_eq!(clocks.cooldown_left(Up, &knobs(), now()), 140);
        assert_eq!(clocks.cooldown_left(Down, &knobs(), now()), 200);
        assert_eq!(Clocks::default().cooldown_left(Down, &knobs(), now()), 0);
    }

    fn inst(id: &str, state: &str, created: &str) -> Instance {
        Instance { id: id.into(), name: id.into(), state: state.into(), public_ip: None, manager: None, created_at: Some(created.into()) }
    }

    #[test]
    fn evicts_starting_then_newest_never_leaving() {
        let pool = vec![
            inst("old", "running", "2026-12-04T10:00:00Z"),
            inst("new", "running", "2026-12-04T12:00:00Z"),
            inst("boot", "starting", "2026-12-04T11:00:00Z"),
            inst("gone", "destroying", "2026-12-04T13:00:00Z"),
        ];
        assert_eq!(choose_evictions(&pool, 1), vec!["boot"]);
        assert_eq!(choose_evictions(&pool, 2), vec!["boot", "new"]);
        assert_eq!(choose_evictions(&pool, 5), vec!["boot", "new", "old"]);
    }
}
