//! Crash safety and concurrency of `autoscaler scale-tick` (real binary,
//! real processes, signature-checking test API server): the lock, a kill
//! between the API call and consumption, API failures, broken state.

mod common;

use autoscaler::markers::Direction::Up;
use common::api_server::ApiServer;
use common::autoscaler_bin::{finish, puts, Autoscaler};
use std::time::{Duration, Instant};

fn consumed_ids(a: &Autoscaler) -> Vec<String> {
    let mut ids: Vec<String> =
        a.decisions().iter().flat_map(|r| r["consumed"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string())).collect();
    ids.sort();
    ids
}

#[test]
fn two_ticks_launched_together_make_one_scale_call() {
    let api = ApiServer::start(2);
    // The first request waits, so the first tick surely holds the lock while the second starts.
    api.delay_next(1, Duration::from_secs(2));
    let a = Autoscaler::new(&api);
    a.add_markers(Up, 3, None, None, 1);
    let (first, second) = (a.spawn(&["scale-tick"]), a.spawn(&["scale-tick"]));
    let runs = [finish(first), finish(second)];
    assert!(runs.iter().all(|r| r.code == 0), "both exit 0: {:?}", runs.iter().map(|r| &r.stderr).collect::<Vec<_>>());
    let lines: Vec<String> = runs.iter().map(|r| r.decision_line()).collect();
    assert_eq!(lines.iter().filter(|l| l.contains("action=skipped") && l.contains("lock")).count(), 1, "{lines:?}");
    assert_eq!(lines.iter().filter(|l| l.contains("action=scale_up")).count(), 1, "{lines:?}");
    assert_eq!(puts(&api).len(), 1, "exactly one PUT");
    assert_eq!(api.pool().size, 3);
    assert_eq!(a.decisions().len(), 1, "a skipped tick appends no record");
}

#[test]
fn killed_after_the_scale_call_the_next_tick_reconciles_without_a_second_call() {
    let api = ApiServer::start(1);
    // The server applies the scale at once but answers only 10 s later.
    api.hold_reply_on(":scale", 1, Duration::from_secs(10));
    let a = Autoscaler::new(&api);
    let ids = a.add_markers(Up, 2, Some(100.0), Some(2.0), 1);
    let mut tick = a.spawn(&["scale-tick"]);
    let started = Instant::now();
    while api.pool().size != 3 {
        assert!(started.elapsed() < Duration::from_secs(30), "the scale call never arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    tick.kill().expect("SIGKILL the tick while it waits for the answer");
    tick.wait().unwrap();
    assert_eq!(a.pending(), ids, "killed before consumption: markers still there");
    assert_eq!(a.state_json()["intent"]["to"], 3, "the intent was recorded before the call");
    assert!(a.decisions().is_empty());

    let run = a.run(&["scale-tick"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let line = run.decision_line();
    assert!(line.contains("action=scale_up") && line.contains("reconciled") && line.contains("applied=true"), "{line}");
    assert_eq!(puts(&api).len(), 1, "no second scale call");
    assert_eq!(api.pool().size, 3);
    assert!(a.pending().is_empty());
    assert_eq!(consumed_ids(&a), ids);
    assert!(a.state_json().get("intent").is_none());

    // The reconciled call started the cooldown: a new signal waits.
    a.add_markers(Up, 1, Some(100.0), None, 0);
    let line = a.run(&["scale-tick"]).decision_line();
    assert!(line.contains("rule=cooldown"), "{line}");
    assert_eq!(puts(&api).len(), 1);
}

#[test]
fn api_503_keeps_markers_and_the_next_tick_scales() {
    let api = ApiServer::start(2);
    // Every attempt of the first tick's scale call (1 + 4 retries) fails.
    api.fail_next_on(":scale", 5, 503, Some("0"));
    let a = Autoscaler::new(&api);
    let ids = a.add_markers(Up, 2, None, None, 1);
    let run = a.run(&["scale-tick"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("autoscaler scale-tick:")).collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(errors[0].contains("503") && errors[0].contains("markers kept"), "{}", errors[0]);
    assert!(!run.stdout.contains("event=tick.decision"), "no decision was made: {}", run.stdout);
    assert_eq!(a.pending(), ids, "no marker lost");
    assert!(a.decisions().is_empty(), "no partial record");
    assert_eq!(api.pool().size, 2);

    let run = a.run(&["scale-tick"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("event=tick.intent_dropped"), "{}", run.stderr);
    assert!(run.decision_line().contains("action=scale_up"));
    assert_eq!(api.pool().size, 3);
    let ok_puts = puts(&api).into_iter().filter(|r| r.status == 200).count();
    assert_eq!(ok_puts, 1);
    assert_eq!(consumed_ids(&a), ids);
}

#[test]
fn unreadable_pool_or_refused_key_changes_nothing() {
    let api = ApiServer::start(2);
    api.fail_next(5, 503, Some("0"));
    let a = Autoscaler::new(&api);
    let ids = a.add_markers(Up, 1, None, None, 1);
    let run = a.run(&["scale-tick"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("cannot read instance pool") && run.stderr.contains("kept"), "{}", run.stderr);
    assert_eq!(a.pending(), ids);
    assert!(!a.state.join("state.json").exists(), "no state written");

    let wrong = Autoscaler::new(&api).set("EXOSCALE_SECRET", "not-the-secret");
    wrong.add_markers(Up, 1, None, None, 1);
    let run = wrong.run(&["scale-tick"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("403") && run.stderr.contains("EXOSCALE_KEY"), "{}", run.stderr);
    assert!(!run.stderr.contains("not-the-secret"), "the secret never shows");
    assert_eq!(wrong.pending().len(), 1);
    assert!(puts(&api).is_empty());
}

#[test]
fn corrupt_state_is_explained_and_nothing_is_consumed() {
    let api = ApiServer::start(2);
    let a = Autoscaler::new(&api);
    let ids = a.add_markers(Up, 1, None, None, 1);
    std::fs::write(a.state.join("state.json"), b"{\"clocks\": ").unwrap();
    let run = a.run(&["scale-tick"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("state.json") && run.stderr.contains("move it away"), "{}", run.stderr);
    assert_eq!(a.pending(), ids);
    assert!(puts(&api).is_empty());
}

#[test]
fn bad_configuration_exits_2_naming_the_variable() {
    let api = ApiServer::start(2);
    let a = Autoscaler::new(&api).set("AUTOSCALER_TARGET_CPU", "250");
    let run = a.run(&["scale-tick"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("AUTOSCALER_TARGET_CPU"), "{}", run.stderr);
    assert!(api.requests().is_empty());
}
