//! `autoscaler status` (real binary): human and `--json` views against the
//! signature-checking test API server, and with the API unreachable.

mod common;

use autoscaler::markers::Direction::{Down, Up};
use common::api_server::ApiServer;
use common::autoscaler_bin::Autoscaler;
use serde_json::Value;

#[test]
fn shows_pool_members_markers_cooldown_and_decisions() {
    let api = ApiServer::start(2);
    let a = Autoscaler::new(&api);
    a.add_markers(Up, 1, None, None, 1);
    assert_eq!(a.run(&["scale-tick"]).code, 0);
    a.add_markers(Up, 2, Some(90.0), None, 40);
    a.add_markers(Down, 1, None, None, 5);

    let run = a.run(&["status", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: Value = serde_json::from_str(&run.stdout).expect("status --json is JSON");
    assert_eq!(v["pool_id"], api.pool_id());
    assert_eq!(v["pool"]["size"], 3);
    assert_eq!(v["pool"]["state"], "running");
    let members = v["pool"]["members"].as_array().unwrap();
    assert_eq!(members.len(), 3);
    assert_eq!(members[0]["ip"], "127.0.3.1");
    assert_eq!((v["pending"]["up"].as_u64(), v["pending"]["down"].as_u64()), (Some(2), Some(1)));
    assert!(v["pending"]["oldest_age_s"].as_i64().unwrap() >= 39);
    let up_left = v["cooldown_left_s"]["up"].as_u64().unwrap();
    assert!(up_left > 200 && up_left <= 240, "{up_left}");
    assert_eq!((v["paused"].as_bool(), v["dry_run"].as_bool()), (Some(false), Some(false)));
    assert!(v["api_error"].is_null());
    assert_eq!(v["decisions"].as_array().unwrap().len(), 1);
    assert_eq!(v["decisions"][0]["action"], "scale_up");

    std::fs::write(a.state.join("paused"), b"").unwrap();
    let run = a.run(&["status"]);
    assert_eq!(run.code, 0);
    for part in [api.pool_id().as_str(), "running", "127.0.3.3", "up 2, down 1", "PAUSED", "scale_up", "2→3"] {
        assert!(run.stdout.contains(part), "{part} missing:\n{}", run.stdout);
    }
}

#[test]
fn unreachable_api_still_shows_local_state_with_a_note() {
    let api = ApiServer::start(1);
    // A loopback port with nothing listening: connection refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let a = Autoscaler::new(&api).set("EXOSCALE_API_ENDPOINT", &format!("http://{closed}/v2")).set("AUTOSCALER_DRY_RUN", "true");
    a.add_markers(Up, 1, None, None, 1);
    let run = a.run(&["status"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("UNREACHABLE, showing local state only"), "{}", run.stdout);
    assert!(run.stdout.contains("up 1, down 0") && run.stdout.contains("DRY RUN"), "{}", run.stdout);
    let v: Value = serde_json::from_str(&a.run(&["status", "--json"]).stdout).unwrap();
    assert!(v["pool"].is_null());
    assert!(v["api_error"].as_str().unwrap().contains("no answer"), "{}", v["api_error"]);
    assert_eq!(v["pending"]["up"], 1);
    assert!(!a.state.join("state.json").exists() && !a.state.join("decisions.jsonl").exists(), "status writes nothing");
}
