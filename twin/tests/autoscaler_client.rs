//! The autoscaler's own API client against the twin: the two sides of the
//! wire agree, retries honour injected 503s with Retry-After, and a wrong
//! secret is a final 403.

mod common;
use autoscaler::config::Secret;
use autoscaler::exoscale::client::{Client, ClientOptions, RetryPolicy, WaitPolicy};
use common::Twin;
use std::time::Duration;

fn client(twin: &Twin, secret: &str) -> Client {
    let retry = RetryPolicy { base_delay: Duration::from_millis(50), ..RetryPolicy::default() };
    Client::with_options(&twin.s("api_endpoint"), &twin.s("key"), Secret::new(secret), ClientOptions { retry, ..ClientOptions::default() })
}

#[test]
fn scale_wait_list_and_evict_with_the_autoscaler_client() {
    let twin = Twin::start(&["--pool-size", "2", "--time-factor", "20", "--operation-seconds", "2"]);
    let c = client(&twin, &twin.s("secret"));
    let pool_id = twin.pool_id();
    let pool = c.get_instance_pool(&pool_id).unwrap();
    assert_eq!((pool.size, pool.state.as_str(), pool.instances.len()), (2, "running", 2));
    let op = c.scale_instance_pool(&pool_id, 3).unwrap();
    let done = c.wait_operation(op, &WaitPolicy { interval: Duration::from_millis(20), timeout: Duration::from_secs(5) }).unwrap();
    assert_eq!(done.state, "success");
    let members = c.list_pool_instances(&pool_id).unwrap();
    assert_eq!(members.len(), 3);
    assert!(members.iter().all(|m| m.public_ip.as_deref().is_some_and(|ip| ip.starts_with(&twin.net))));
    c.evict_instance_pool_members(&pool_id, std::slice::from_ref(&members[2].id)).unwrap();
    assert_eq!(c.get_instance_pool(&pool_id).unwrap().size, 2);
}

#[test]
fn retries_through_injected_503s_and_stops_at_403() {
    let twin = Twin::start(&["--time-factor", "10"]);
    twin.fault("{\"api_errors\":{\"status\":503,\"count\":2,\"retry_after\":1}}");
    let pool = client(&twin, &twin.s("secret")).get_instance_pool(&twin.pool_id()).unwrap();
    assert_eq!(pool.id, twin.pool_id());
    let err = client(&twin, "wrong").get_instance_pool(&twin.pool_id()).unwrap_err();
    assert_eq!(err.status(), Some(403));
    let statuses: Vec<u64> = twin.status()["api_calls"].as_array().unwrap().iter().map(|c| c["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [503, 503, 200, 403], "403 is final, never retried");
}
