//! The client's JSON against the official OpenAPI spec (PyPI `exoscale`,
//! exoscale/openapi.json), checked by tests/oracle/openapi_check.py:
//! - the bodies our client really sends for scale and evict, captured by the
//!   in-test server;
//! - hand-written sample responses in tests/data/api/ (shaped like the live
//!   API), which our types must parse to exactly the values they hold;
//! - the in-test server's own answers, so tests built on it stay realistic;
//! - broken copies of the samples, which must be refused (the check bites).

mod common;

use autoscaler::config::Secret;
use autoscaler::exoscale::client::{Client, ClientOptions};
use autoscaler::exoscale::types::{InstancePool, ListInstances, Operation};
use common::api_server::ApiServer;
use serde_json::{json, Value};

const POOL: &str = "f81d4fae-7dec-11d0-a765-00a0c91e6bf6";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/data/api/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// (label, operationId, "request"|"response", body) → errors per label.
fn check(items: &[(String, &str, &str, Value)]) -> Vec<(String, Vec<String>)> {
    let input: Vec<Value> =
        items.iter().map(|(label, op, kind, body)| json!({"label": label, "operation": op, "kind": kind, "body": body})).collect();
    let out = common::oracle::run("openapi_check.py", &json!({ "items": input }));
    out.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let errors = r["errors"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_string()).collect();
            (r["label"].as_str().unwrap().to_string(), errors)
        })
        .collect()
}

fn assert_conforms(items: &[(String, &str, &str, Value)]) {
    let failures: Vec<_> = check(items).into_iter().filter(|(_, errors)| !errors.is_empty()).collect();
    assert!(failures.is_empty(), "bodies that violate the spec: {failures:#?}");
}

const SAMPLES: &[(&str, &str)] = &[
    ("get-instance-pool", "get-instance-pool"),
    ("list-instances", "list-instances"),
    ("get-operation-pending", "get-operation"),
    ("get-operation-failure", "get-operation"),
];

#[test]
fn request_bodies_the_client_sends_conform() {
    let api = ApiServer::start(3);
    let c = Client::with_options(&api.endpoint(), api.key(), Secret::new(api.secret()), ClientOptions::default());
    c.scale_instance_pool(&api.pool_id(), 5).unwrap();
    c.scale_instance_pool(&api.pool_id(), 0).unwrap();
    api.set_size(3);
    let members: Vec<String> = api.pool().members.iter().map(|m| m.id.clone()).collect();
    c.evict_instance_pool_members(&api.pool_id(), &members[..1]).unwrap();
    c.evict_instance_pool_members(&api.pool_id(), &members[1..]).unwrap();

    let sent: Vec<(String, &str, &str, Value)> = api
        .requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .map(|r| {
            let op = if r.path.ends_with(":scale") { "scale-instance-pool" } else { "evict-instance-pool-members" };
            (format!("{} {}", r.path, r.body), op, "request", serde_json::from_str(&r.body).unwrap())
        })
        .collect();
    assert_eq!(sent.len(), 4);
    assert_eq!(sent[0].3, json!({"size": 5}));
    assert_eq!(sent[1].3, json!({"size": 0}), "size 0 is sent, not omitted");
    assert_eq!(sent[3].3, json!({"instances": members[1..]}));
    assert_conforms(&sent);
}

#[test]
fn sample_responses_conform() {
    let items: Vec<_> = SAMPLES.iter().map(|(file, op)| (file.to_string(), *op, "response", fixture(file))).collect();
    assert_conforms(&items);
}

#[test]
fn our_types_parse_the_samples_exactly() {
    let pool: InstancePool = serde_json::from_value(fixture("get-instance-pool")).unwrap();
    assert_eq!((pool.id.as_str(), pool.name.as_str(), pool.size, pool.state.as_str()), (POOL, "autoscaler-workers", 3, "scaling-up"));
    assert_eq!(pool.instances.iter().map(|i| i.id.as_str()).collect::<Vec<_>>()[0], "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f");
    assert_eq!(pool.instances.len(), 3);

    let list: ListInstances = serde_json::from_value(fixture("list-instances")).unwrap();
    let ips: Vec<_> = list.instances.iter().map(|i| i.public_ip.as_deref().unwrap()).collect();
    assert_eq!(ips, ["194.182.170.21", "194.182.171.184", "194.182.168.77"]);
    let states: Vec<_> = list.instances.iter().map(|i| i.state.as_str()).collect();
    assert_eq!(states, ["running", "running", "starting"]);
    let last = &list.instances[2];
    assert_eq!((last.name.as_str(), last.created_at.as_deref()), ("pool-4be1e-zrtha", Some("2026-12-04T20:16:03Z")));
    let manager = last.manager.as_ref().unwrap();
    assert_eq!((manager.id.as_str(), manager.kind.as_str()), (POOL, "instance-pool"));
    // Every member the pool lists is in the instance list, and only those.
    let ids: Vec<_> = list.instances.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, pool.instances.iter().map(|i| i.id.as_str()).collect::<Vec<_>>());

    let pending: Operation = serde_json::from_value(fixture("get-operation-pending")).unwrap();
    assert!(pending.is_pending() && pending.reason.is_none());
    assert_eq!(pending.reference.unwrap().id.as_deref(), Some(POOL));
    let failed: Operation = serde_json::from_value(fixture("get-operation-failure")).unwrap();
    assert_eq!((failed.state.as_str(), failed.reason.as_deref()), ("failure", Some("unavailable")));
    assert_eq!(failed.message.as_deref(), Some("Insufficient capacity for standard.medium in at-vie-1"));
}

#[test]
fn the_in_test_server_answers_like_the_spec() {
    let api = ApiServer::start(2);
    let c = Client::with_options(&api.endpoint(), api.key(), Secret::new(api.secret()), ClientOptions::default());
    c.get_instance_pool(&api.pool_id()).unwrap();
    c.list_pool_instances(&api.pool_id()).unwrap();
    let op = c.scale_instance_pool(&api.pool_id(), 3).unwrap();
    c.get_operation(&op.id).unwrap();
    let ops = ["get-instance-pool", "list-instances", "scale-instance-pool", "get-operation"];
    let items: Vec<_> = api
        .requests()
        .iter()
        .zip(ops)
        .map(|(r, op)| (format!("{} {}", r.method, r.path), op, "response", serde_json::from_str(&r.response).unwrap()))
        .collect();
    assert_eq!(items.len(), 4);
    assert_conforms(&items);
}

/// One broken copy of a sample per kind of mistake; each must be refused.
#[test]
fn bodies_that_violate_the_spec_are_refused() {
    let mut pool = fixture("get-instance-pool");
    let mut cases: Vec<(String, &str, &str, Value)> = Vec::new();
    let mut broken = |label: &str, op: &'static str, kind: &'static str, base: &Value, edit: &dyn Fn(&mut Value)| {
        let mut body = base.clone();
        edit(&mut body);
        cases.push((label.to_string(), op, kind, body));
    };
    broken("size as a string", "get-instance-pool", "response", &pool, &|v| v["size"] = json!("3"));
    broken("unknown pool state", "get-instance-pool", "response", &pool, &|v| v["state"] = json!("resizing"));
    broken("snake_case field", "get-instance-pool", "response", &pool, &|v| v["instance_prefix"] = json!("pool"));
    broken("member id not a uuid", "get-instance-pool", "response", &pool, &|v| v["instances"][0]["id"] = json!("i-123"));
    let list = fixture("list-instances");
    broken("public ip not ipv4", "list-instances", "response", &list, &|v| v["instances"][0]["public-ip"] = json!("194.182.170"));
    broken("unknown manager type", "list-instances", "response", &list, &|v| v["instances"][1]["manager"]["type"] = json!("k8s"));
    broken("created-at not a date", "list-instances", "response", &list, &|v| v["instances"][2]["created-at"] = json!("yesterday"));
    let op = fixture("get-operation-failure");
    broken("unknown operation state", "get-operation", "response", &op, &|v| v["state"] = json!("done"));
    broken("unknown reason", "get-operation", "response", &op, &|v| v["reason"] = json!("bad-luck"));
    broken("negative size", "scale-instance-pool", "request", &json!({"size": 1}), &|v| v["size"] = json!(-1));
    broken("size missing", "scale-instance-pool", "request", &json!({"size": 1}), &|v| *v = json!({"count": 1}));
    broken("misspelt evict field", "evict-instance-pool-members", "request", &json!({}), &|v| v["instance"] = json!([POOL]));
    pool["size"] = json!(0);
    broken("pool size 0 (spec: exclusiveMinimum)", "get-instance-pool", "response", &pool, &|_| {});
    let results = check(&cases);
    assert_eq!(results.len(), cases.len());
    let accepted: Vec<_> = results.iter().filter(|(_, errors)| errors.is_empty()).map(|(label, _)| label).collect();
    assert!(accepted.is_empty(), "broken bodies the check accepted: {accepted:?}");
}
