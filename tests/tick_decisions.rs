//! `autoscaler scale-tick` (the real binary) against the signature-checking
//! test API server: what one tick decides and calls, and what it records.

mod common;

use autoscaler::markers::Direction::{Down, Up};
use common::api_server::ApiServer;
use common::autoscaler_bin::{puts, Autoscaler};
use serde_json::{json, Value};

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

fn consumed(record: &Value) -> Vec<String> {
    sorted(record["consumed"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect())
}

#[test]
fn single_up_adds_one_member_and_consumes_the_marker() {
    let api = ApiServer::start(2);
    let a = Autoscaler::new(&api);
    let ids = a.add_markers(Up, 1, None, None, 5);
    let run = a.run(&["scale-tick"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let line = run.decision_line();
    for part in ["action=scale_up", "from=2", "to=3", "rule=step", "applied=true", "consumed=1"] {
        assert!(line.contains(part), "{part} missing in {line}");
    }
    let calls = puts(&api);
    assert_eq!(calls.len(), 1);
    assert!(calls[0].path.ends_with(":scale"), "{}", calls[0].path);
    assert_eq!(serde_json::from_str::<Value>(&calls[0].body).unwrap(), json!({"size": 3}));
    assert_eq!(api.pool().size, 3);
    assert!(a.pending().is_empty());
    let records = a.decisions();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(
        (r["action"].as_str(), r["from"].as_u64(), r["to"].as_u64(), r["applied"].as_bool()),
        (Some("scale_up"), Some(2), Some(3), Some(true))
    );
    assert_eq!(consumed(r), ids);
    assert!(a.state_json()["clocks"]["last_scale_up"].is_string());
    assert!(a.state_json().get("intent").is_none(), "intent cleared after the call");
}

/// Rows of the decision table, each through the real binary and API.
#[test]
fn decision_table_through_the_binary() {
    struct Row {
        size: u64,
        up: Option<(Option<f64>, Option<f64>)>,
        down: Option<Option<f64>>,
        extra_env: &'static [(&'static str, &'static str)],
        want_size: u64,
        want_rule: &'static str,
    }
    let rows = [
        Row { size: 2, up: Some((Some(90.0), None)), down: None, extra_env: &[], want_size: 3, want_rule: "proportional" },
        Row { size: 1, up: Some((Some(100.0), Some(2.0))), down: None, extra_env: &[], want_size: 3, want_rule: "demand" },
        Row { size: 2, up: Some((Some(100.0), None)), down: None, extra_env: &[], want_size: 4, want_rule: "multiplicative" },
        Row {
            size: 2,
            up: Some((Some(100.0), Some(4.0))),
            down: None,
            extra_env: &[("AUTOSCALER_POLICY", "step")],
            want_size: 3,
            want_rule: "step",
        },
        Row { size: 3, up: Some((None, None)), down: None, extra_env: &[("AUTOSCALER_MAX_SIZE", "3")], want_size: 3, want_rule: "at_max" },
        Row { size: 1, up: None, down: Some(Some(5.0)), extra_env: &[], want_size: 1, want_rule: "at_min" },
        Row { size: 3, up: Some((None, None)), down: Some(None), extra_env: &[], want_size: 4, want_rule: "step" },
        Row {
            size: 6,
            up: None,
            down: Some(Some(10.0)),
            extra_env: &[("AUTOSCALER_MIN_SIZE", "2")],
            want_size: 2,
            want_rule: "proportional",
        },
    ];
    for (i, row) in rows.iter().enumerate() {
        let api = ApiServer::start(row.size);
        let mut a = Autoscaler::new(&api);
        for (k, v) in row.extra_env {
            a = a.set(k, v);
        }
        if let Some((cpu, demand)) = row.up {
            a.add_markers(Up, 1, cpu, demand, 3);
        }
        if let Some(cpu) = row.down {
            a.add_markers(Down, 1, cpu, None, 2);
        }
        let run = a.run(&["scale-tick"]);
        assert_eq!(run.code, 0, "row {i}: {}{}", run.stdout, run.stderr);
        let line = run.decision_line();
        assert!(line.contains(&format!("rule={}", row.want_rule)), "row {i}: {line}");
        assert_eq!(api.pool().size, row.want_size, "row {i}: {line}");
        let expected_calls = usize::from(row.want_size != row.size);
        assert_eq!(puts(&api).len(), expected_calls, "row {i}: a bound makes no call: {line}");
        assert!(a.pending().is_empty(), "row {i}: every marker consumed");
    }
}

#[test]
fn at_max_and_at_min_make_no_call_and_say_why() {
    let api = ApiServer::start(4);
    let a = Autoscaler::new(&api).set("AUTOSCALER_MAX_SIZE", "4").set("AUTOSCALER_MIN_SIZE", "4");
    a.add_markers(Up, 3, Some(99.0), None, 1);
    let line = a.run(&["scale-tick"]).decision_line();
    assert!(line.contains("action=none") && line.contains("AUTOSCALER_MAX_SIZE=4"), "{line}");
    a.add_markers(Down, 1, Some(1.0), None, 1);
    let line = a.run(&["scale-tick"]).decision_line();
    assert!(line.contains("action=none") && line.contains("AUTOSCALER_MIN_SIZE=4"), "{line}");
    assert!(puts(&api).is_empty());
    assert_eq!(a.decisions().len(), 2);
}

#[test]
fn up_beats_down() {
    let api = ApiServer::start(3);
    let a = Autoscaler::new(&api);
    let mut ids = a.add_markers(Down, 2, Some(10.0), None, 1);
    ids.extend(a.add_markers(Up, 1, None, None, 30));
    let line = a.run(&["scale-tick"]).decision_line();
    assert!(line.contains("action=scale_up") && line.contains("overridden=2"), "{line}");
    assert_eq!(api.pool().size, 4);
    assert_eq!(consumed(&a.decisions()[0]), sorted(ids), "the overridden down markers are consumed too");
}

#[test]
fn cooldown_holds_a_second_scale_up() {
    let api = ApiServer::start(2);
    let a = Autoscaler::new(&api);
    a.add_markers(Up, 1, None, None, 1);
    assert_eq!(a.run(&["scale-tick"]).code, 0);
    assert_eq!(api.pool().size, 3);
    let second = a.add_markers(Up, 1, Some(95.0), None, 0);
    let line = a.run(&["scale-tick"]).decision_line();
    assert!(line.contains("rule=cooldown") && line.contains("s left"), "{line}");
    assert_eq!(puts(&api).len(), 1, "no call during the cooldown");
    assert_eq!(consumed(a.decisions().last().unwrap()), second, "a cooldown no-op consumes its markers");
    // The scale-down cooldown (300 s after any scale) is longer: a down signal waits too.
    a.add_markers(Down, 1, Some(5.0), None, 0);
    let line = a.run(&["scale-tick"]).decision_line();
    assert!(line.contains("rule=cooldown") && line.contains("down cooldown"), "{line}");
    assert_eq!(puts(&api).len(), 1);
}

#[test]
fn stale_markers_are_dropped_with_a_log_line() {
    let api = ApiServer::start(2);
    let a = Autoscaler::new(&api).set("AUTOSCALER_MARKER_MAX_AGE", "120");
    let stale = a.add_markers(Up, 2, Some(100.0), None, 121);
    let run = a.run(&["scale-tick"]);
    assert!(run.stdout.contains("event=tick.markers_expired count=2 max_age_s=120"), "{}", run.stdout);
    let line = run.decision_line();
    assert!(line.contains("action=none") && line.contains("rule=expired") && line.contains("expired=2"), "{line}");
    assert!(puts(&api).is_empty());
    assert!(a.pending().is_empty());
    assert_eq!(consumed(&a.decisions()[0]), stale);
}

#[test]
fn scale_down_evicts_starting_members_first_then_the_newest() {
    let api = ApiServer::start(4);
    api.set_member_state(1, "starting");
    let members = api.pool().members;
    let a = Autoscaler::new(&api);
    a.add_markers(Down, 1, Some(30.0), None, 1);
    let line = a.run(&["scale-tick"]).decision_line();
    assert!(line.contains("action=scale_down") && line.contains("to=2") && line.contains("method=evict"), "{line}");
    let calls = puts(&api);
    assert_eq!(calls.len(), 1);
    assert!(calls[0].path.ends_with(":evict"), "{}", calls[0].path);
    let evicted: Value = serde_json::from_str(&calls[0].body).unwrap();
    assert_eq!(evicted, json!({"instances": [members[1].id, members[3].id]}));
    let left: Vec<String> = api.pool().members.into_iter().map(|m| m.id).collect();
    assert_eq!(left, vec![members[0].id.clone(), members[2].id.clone()]);
    assert_eq!(a.decisions()[0]["evicted"], json!([members[1].id, members[3].id]));
}

#[test]
fn dry_run_and_pause_decide_but_never_call() {
    let api = ApiServer::start(2);
    let a = Autoscaler::new(&api);
    a.add_markers(Up, 1, None, None, 1);
    let line = a.run(&["scale-tick", "--dry-run"]).decision_line();
    assert!(line.contains("action=scale_up") && line.contains("dry_run=true") && line.contains("applied=false"), "{line}");
    std::fs::write(a.state.join("paused"), b"").unwrap();
    a.add_markers(Up, 1, None, None, 1);
    let line = a.run(&["scale-tick"]).decision_line();
    assert!(line.contains("action=scale_up") && line.contains("paused=true") && line.contains("applied=false"), "{line}");
    assert!(puts(&api).is_empty());
    assert_eq!(api.pool().size, 2);
    let records = a.decisions();
    assert_eq!((records[0]["dry_run"].as_bool(), records[1]["paused"].as_bool()), (Some(true), Some(true)));
    assert!(a.state_json()["clocks"].get("last_scale_up").is_none(), "no cooldown clock without a call");
}

#[test]
fn ten_thousand_markers_make_one_step_in_one_tick() {
    let api = ApiServer::start(2);
    let a = Autoscaler::new(&api);
    let ids = a.add_markers(Up, 10_000, None, None, 2);
    let run = a.run(&["scale-tick"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.decision_line().contains("consumed=10000"), "{}", run.stdout);
    assert_eq!(puts(&api).len(), 1);
    assert_eq!(api.pool().size, 3, "10,000 markers are one signal, one step");
    assert!(a.pending().is_empty());
    assert_eq!(consumed(&a.decisions()[0]), ids);
}

#[test]
fn empty_spool_is_a_quiet_no_op() {
    let api = ApiServer::start(2);
    let a = Autoscaler::new(&api);
    let line = a.run(&["scale-tick"]).decision_line();
    assert!(line.contains("action=none") && line.contains("rule=no_markers"), "{line}");
    assert!(puts(&api).is_empty());
}

#[test]
fn scale_down_falls_back_to_scale_when_too_few_members_can_be_evicted() {
    let api = ApiServer::start(4);
    for i in 0..3 {
        api.set_member_state(i, "destroying");
    }
    let a = Autoscaler::new(&api);
    a.add_markers(Down, 1, Some(20.0), None, 1);
    let line = a.run(&["scale-tick"]).decision_line();
    assert!(line.contains("to=2") && line.contains("method=scale"), "{line}");
    let calls = puts(&api);
    assert_eq!(calls.len(), 1);
    assert!(calls[0].path.ends_with(":scale"), "{}", calls[0].path);
    assert_eq!(api.pool().size, 2);
}
