//! The NLB over real TCP: round-robin across healthy members, dead members
//! leave rotation, and no healthy member means the connection is closed.

mod common;
use common::{http_get, Twin};
use serde_json::Value;
use std::time::Duration;

const T: Duration = Duration::from_secs(5);
/// Checks every 100 ms, but a generous 1 s timeout: a busy test machine
/// must not make a live member look dead.
const FAST_CHECKS: [&str; 4] = ["--time-factor", "100", "--health-timeout", "100"];

fn served(status: &Value) -> Vec<u64> {
    status["members"].as_array().unwrap().iter().map(|m| m["requests_served"].as_u64().unwrap()).collect()
}

fn all_healthy(twin: &Twin, n: usize) {
    twin.wait_for(T, "members healthy", |s| s["nlb"]["healthy"].as_array().unwrap().len() == n);
}

#[test]
fn spreads_requests_evenly_and_skips_a_dead_member() {
    let twin = Twin::start(&[&FAST_CHECKS[..], &["--pool-size", "3", "--load-seconds", "1"]].concat());
    all_healthy(&twin, 3);
    for _ in 0..30 {
        let (status, body) = http_get(twin.nlb(), "/load", T).unwrap();
        assert_eq!((status, body.as_str()), (200, "Load generation done."));
    }
    assert_eq!(served(&twin.status()), [10, 10, 10]);

    let victim = twin.status()["members"][1]["id"].as_str().unwrap().to_string();
    assert_eq!(twin.fault(&format!("{{\"kill_member\":\"{victim}\"}}")).status, 200);
    for _ in 0..20 {
        assert_eq!(http_get(twin.nlb(), "/load", T).unwrap().0, 200, "the NLB must not send traffic to a dead member");
    }
    let s = twin.status();
    let after = served(&s);
    // Until the health check notices, the NLB skips the refused connect and
    // moves on, so the split between the two survivors may be uneven.
    assert_eq!((after[1], after[0] + after[2]), (10, 40));
    assert!(after[0] >= 12 && after[2] >= 12, "{after:?}");
    assert_eq!(s["members"][1]["state"], "running", "Exoscale does not see a dead workload");
    assert_eq!(s["members"][1]["alive"], false);
    twin.wait_for(T, "health check notices", |s| !s["nlb"]["healthy"].as_array().unwrap().iter().any(|id| id == victim.as_str()));
}

#[test]
fn no_healthy_member_closes_the_connection_and_is_counted() {
    let twin = Twin::start(&FAST_CHECKS);
    all_healthy(&twin, 1);
    let only = twin.status()["members"][0]["id"].as_str().unwrap().to_string();
    twin.fault(&format!("{{\"kill_member\":\"{only}\"}}"));
    twin.wait_for(T, "member out of rotation", |s| s["nlb"]["healthy"].as_array().unwrap().is_empty());
    match http_get(twin.nlb(), "/health", T) {
        Ok((status, _)) => assert_eq!(status, 0, "no HTTP answer without a backend"),
        Err(e) => assert!(matches!(e.kind(), std::io::ErrorKind::ConnectionReset), "{e}"),
    }
    assert_eq!(twin.status()["nlb"]["no_backend"], 1);
}

#[test]
fn unknown_kill_target_is_a_404_and_bad_fault_json_a_400() {
    let twin = Twin::start(&[]);
    assert_eq!(twin.fault("{\"kill_member\":\"nope\"}").status, 404);
    assert_eq!(twin.fault("{\"kill\":1}").status, 400);
    assert_eq!(twin.fault("not json").status, 400);
    assert_eq!(twin.fault("{\"api_errors\":{\"status\":503}}").status, 400);
    assert_eq!(twin.status()["members"][0]["alive"], true);
}
