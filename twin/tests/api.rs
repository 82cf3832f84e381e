//! The API subset over real HTTP: signatures, status codes, bodies, the
//! operation lifecycle and the pool state machine (scale up, down, evict).

mod common;
use common::{now, Twin};
use std::time::Duration;

#[test]
fn unsigned_wrong_secret_expired_and_tampered_requests_get_403() {
    let twin = Twin::start(&[]);
    let pool = format!("/v2/instance-pool/{}", twin.pool_id());
    let key = twin.s("key");
    let rejected = [
        twin.unsigned("GET", &pool, ""),
        twin.call_as(&key, "wrong-secret", "GET", &pool, "", now() + 600),
        twin.call_as("EXOunknown", &twin.s("secret"), "GET", &pool, "", now() + 600),
        twin.call_as(&key, &twin.s("secret"), "GET", &pool, "", now() - 1),
        twin.call_as(&key, "wrong-secret", "GET", "/v2/zone", "", now() + 600),
    ];
    for r in rejected {
        assert_eq!(r.status, 403);
        assert_eq!(r.json["message"], "Invalid request signature");
    }
    // A signature over one body does not cover another.
    let url = format!("{}{pool}:scale", twin.s("api_endpoint").trim_end_matches("/v2"));
    let auth = autoscaler::exoscale::sign::authorization(
        &key,
        &twin.s("secret"),
        "PUT",
        &format!("{pool}:scale"),
        "",
        b"{\"size\":1}",
        now() + 600,
    );
    let err = ureq::put(&url).set("Authorization", &auth).send_string("{\"size\":9}").unwrap_err();
    assert!(matches!(err, ureq::Error::Status(403, _)));
    let status = twin.status();
    assert_eq!(status["pool"]["size"], 1, "a rejected call changed nothing");
    let calls = status["api_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 6);
    assert!(calls.iter().all(|c| c["status"] == 403));
    assert!(twin.log().contains("event=api.signature_rejected"));
    assert!(!twin.log().contains(&twin.s("secret")), "the secret must never be logged");
}

#[test]
fn zone_list_is_public_and_signed_calls_work() {
    let twin = Twin::start(&["--zone", "ch-gva-2"]);
    assert_eq!(twin.info["zone"], "ch-gva-2");
    let public = twin.unsigned("GET", "/v2/zone", "");
    assert_eq!(public.status, 200);
    let zones: Vec<&str> = public.json["zones"].as_array().unwrap().iter().map(|z| z["name"].as_str().unwrap()).collect();
    assert!(zones.contains(&"at-vie-1") && zones.len() == 8);
    assert_eq!(twin.call("GET", "/v2/zone", "").status, 200);
    let pools = twin.call("GET", "/v2/instance-pool", "");
    assert_eq!(pools.json["instance-pools"][0]["id"], twin.pool_id());
}

#[test]
fn bad_bodies_and_unknown_ids_are_refused_and_change_nothing() {
    let twin = Twin::start(&["--pool-size", "2"]);
    let pool = format!("/v2/instance-pool/{}", twin.pool_id());
    for body in ["{\"size\":-1}", "{\"size\":1.5}", "not json", "{}", "{\"size\":\"3\"}"] {
        let r = twin.call("PUT", &format!("{pool}:scale"), body);
        assert_eq!(r.status, 400, "{body}");
        assert!(r.json["message"].as_str().unwrap().contains("scale-instance-pool"), "{}", r.json);
    }
    let r = twin.call("PUT", &format!("{pool}:evict"), "{\"instances\":[\"00000000-0000-4000-8000-000000000000\"]}");
    assert_eq!(r.status, 400);
    assert_eq!(twin.call("PUT", &format!("{pool}:evict"), "{\"instances\":[]}").status, 400);
    let huge = format!("{{\"size\":1,\"pad\":\"{}\"}}", "x".repeat(70 * 1024));
    assert_eq!(twin.call("PUT", &format!("{pool}:scale"), &huge).status, 413);
    let stranger = "/v2/instance-pool/00000000-0000-4000-8000-000000000000";
    assert_eq!(twin.call("GET", stranger, "").status, 404);
    assert_eq!(twin.call("PUT", &format!("{stranger}:scale"), "{\"size\":3}").status, 404);
    assert_eq!(twin.call("GET", "/v2/instance/00000000-0000-4000-8000-000000000000", "").json["message"], "Instance not found");
    assert_eq!(twin.call("GET", "/v2/operation/00000000-0000-4000-8000-000000000000", "").status, 404);
    assert_eq!(twin.call("GET", "/v2/nothing-here", "").status, 404);
    let s = twin.status();
    assert_eq!((s["pool"]["size"].as_u64(), s["members"].as_array().unwrap().len()), (Some(2), 2));
}

#[test]
fn scale_up_boots_members_and_the_operation_completes() {
    let twin = Twin::start(&["--time-factor", "20", "--boot-seconds", "20", "--operation-seconds", "4"]);
    let pool = format!("/v2/instance-pool/{}", twin.pool_id());
    let op = twin.call("PUT", &format!("{pool}:scale"), "{\"size\":3}");
    assert_eq!(op.status, 200);
    assert_eq!(op.json["state"], "pending");
    assert_eq!(op.json["reference"]["id"], twin.pool_id());
    let p = twin.call("GET", &pool, "").json;
    assert_eq!((p["size"].as_u64(), p["state"].as_str()), (Some(3), Some("scaling-up")));
    let op_path = format!("/v2/operation/{}", op.json["id"].as_str().unwrap());
    std::thread::sleep(Duration::from_millis(300)); // 4 s / 20 = 200 ms
    assert_eq!(twin.call("GET", &op_path, "").json["state"], "success");
    let list = twin.call("GET", &format!("/v2/instance?manager-type=instance-pool&manager-id={}", twin.pool_id()), "").json;
    let states: Vec<&str> = list["instances"].as_array().unwrap().iter().map(|i| i["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["running", "starting", "starting"]);
    let newest = list["instances"][2]["public-ip"].as_str().unwrap().to_string();
    assert!(
        common::http_get(common::member_addr(&newest, 8080), "/health", Duration::from_secs(1)).is_err(),
        "a booting member serves nothing"
    );
    twin.wait_for(Duration::from_secs(5), "members running", |s| s["pool"]["state"] == "running");
    let (status, body) = common::http_get(common::member_addr(&newest, 8080), "/health", Duration::from_secs(1)).unwrap();
    assert_eq!((status, body.as_str()), (200, "OK"));
    let other = "/v2/instance?manager-id=00000000-0000-4000-8000-000000000000";
    assert_eq!(twin.call("GET", other, "").json["instances"].as_array().unwrap().len(), 0);
}

#[test]
fn scale_down_removes_the_oldest_and_evict_the_named() {
    let twin = Twin::start(&["--pool-size", "4", "--time-factor", "20", "--operation-seconds", "4"]);
    let pool = format!("/v2/instance-pool/{}", twin.pool_id());
    let before = twin.call("GET", "/v2/instance", "").json["instances"].as_array().unwrap().clone();
    let oldest_ip = before[0]["public-ip"].as_str().unwrap().to_string();
    assert_eq!(twin.call("PUT", &format!("{pool}:scale"), "{\"size\":3}").status, 200);
    let p = twin.call("GET", &pool, "").json;
    assert_eq!((p["size"].as_u64(), p["state"].as_str()), (Some(3), Some("scaling-down")));
    assert!(p["instances"].as_array().unwrap().iter().all(|i| i["id"] != before[0]["id"]));
    assert!(common::http_get(common::member_addr(&oldest_ip, 9100), "/metrics", Duration::from_secs(1)).is_err());
    let victim = before[2]["id"].as_str().unwrap();
    let op = twin.call("PUT", &format!("{pool}:evict"), &format!("{{\"instances\":[\"{victim}\"]}}"));
    assert_eq!(op.status, 200);
    assert_eq!(twin.call("GET", &pool, "").json["size"], 2);
    let s = twin.wait_for(Duration::from_secs(5), "destroyed members gone", |s| s["members"].as_array().unwrap().len() == 2);
    let left: Vec<&str> = s["members"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(left, [before[1]["id"].as_str().unwrap(), before[3]["id"].as_str().unwrap()]);
    assert_eq!(twin.call("GET", &format!("/v2/instance/{victim}"), "").status, 404);
    assert_eq!(s["pool"]["state"], "running");
}

#[test]
fn sigterm_stops_the_twin_with_exit_0() {
    let mut twin = Twin::start(&[]);
    assert!(twin.sigterm().success());
    assert!(twin.log().contains("event=twin.stopped"));
}
