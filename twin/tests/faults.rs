//! Faults on demand over real HTTP: injected API errors with Retry-After,
//! added latency, members that fail to boot.

mod common;
use common::Twin;
use std::time::{Duration, Instant};

#[test]
fn next_n_calls_fail_with_retry_after_scaled_by_the_time_factor() {
    let twin = Twin::start(&["--time-factor", "10"]);
    let r = twin.fault("{\"api_errors\":{\"status\":503,\"count\":2,\"retry_after\":20}}");
    assert_eq!(r.status, 200);
    for _ in 0..2 {
        let r = twin.call("GET", "/v2/instance-pool", "");
        assert_eq!(r.status, 503);
        assert_eq!(r.retry_after.as_deref(), Some("2"));
        assert!(r.json["message"].is_string());
    }
    assert_eq!(twin.call("GET", "/v2/instance-pool", "").status, 200);
    let statuses: Vec<u64> = twin.status()["api_calls"].as_array().unwrap().iter().map(|c| c["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [503, 503, 200]);
}

#[test]
fn rate_faults_from_flags_and_clearing_at_run_time() {
    let twin = Twin::start(&["--api-error-status", "429", "--api-error-rate", "1", "--api-retry-after", "1"]);
    let r = twin.call("GET", "/v2/zone", "");
    assert_eq!((r.status, r.retry_after.as_deref()), (429, Some("1")));
    twin.fault("{\"api_errors\":{\"status\":429,\"rate\":0}}");
    assert_eq!(twin.call("GET", "/v2/zone", "").status, 200);
    twin.fault("{\"api_errors\":{\"status\":500,\"rate\":0.5}}");
    let failed = (0..40).filter(|_| twin.call("GET", "/v2/zone", "").status == 500).count();
    assert!((8..=32).contains(&failed), "{failed} of 40 failed at rate 0.5");
}

#[test]
fn latency_is_added_and_scaled() {
    let twin = Twin::start(&["--time-factor", "10", "--latency-ms", "3000"]);
    let t = Instant::now();
    assert_eq!(twin.call("GET", "/v2/zone", "").status, 200);
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(300) && took < Duration::from_millis(1500), "{took:?}");
    twin.fault("{\"latency_ms\":0}");
    let t = Instant::now();
    twin.call("GET", "/v2/zone", "");
    assert!(t.elapsed() < Duration::from_millis(250));
}

#[test]
fn a_member_that_fails_to_boot_ends_in_error_and_serves_nothing() {
    let twin = Twin::start(&["--time-factor", "100", "--boot-seconds", "10"]);
    twin.fault("{\"boot_failures\":1}");
    let pool = format!("/v2/instance-pool/{}", twin.pool_id());
    assert_eq!(twin.call("PUT", &format!("{pool}:scale"), "{\"size\":3}").status, 200);
    let s = twin.wait_for(Duration::from_secs(5), "boots done", |s| s["pool"]["state"] == "running");
    let states: Vec<&str> = s["members"].as_array().unwrap().iter().map(|m| m["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["running", "error", "running"]);
    let failed_ip = s["members"][1]["public_ip"].as_str().unwrap();
    assert!(common::http_get(common::member_addr(failed_ip, 9100), "/metrics", Duration::from_secs(1)).is_err());
    assert_eq!(twin.call("GET", &pool, "").json["size"], 3, "a failed member still counts toward the size");
}
