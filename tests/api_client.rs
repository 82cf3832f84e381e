//! The API client against the in-test Exoscale server over real HTTP on
//! loopback: signatures, retries and backoff, timeouts, errors, operations.

mod common;

use autoscaler::config::Secret;
use autoscaler::exoscale::client::{Client, ClientOptions, RetryPolicy, WaitPolicy};
use common::api_server::ApiServer;
use std::time::Duration;

/// Fast retries so the tests take seconds, with the real algorithm.
fn options() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
        retry: RetryPolicy {
            max_retries: 4,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(3),
            max_elapsed: Duration::from_secs(20),
        },
    }
}

fn client(api: &ApiServer, options: ClientOptions) -> Client {
    Client::with_options(&api.endpoint(), api.key(), Secret::new(api.secret()), options)
}

#[test]
fn reads_scales_lists_and_evicts_a_signed_pool() {
    let api = ApiServer::start(2);
    let c = client(&api, options());
    let pool = c.get_instance_pool(&api.pool_id()).unwrap();
    assert_eq!((pool.size, pool.instances.len(), pool.state.as_str()), (2, 2, "running"));

    let op = c.scale_instance_pool(&api.pool_id(), 4).unwrap();
    assert_eq!(op.state, "pending");
    let done = c.wait_operation(op, &WaitPolicy { interval: Duration::from_millis(20), timeout: Duration::from_secs(5) }).unwrap();
    assert_eq!(done.state, "success");
    assert_eq!(api.pool().size, 4);

    let members = c.list_pool_instances(&api.pool_id()).unwrap();
    assert_eq!(members.len(), 4);
    assert!(members.iter().all(|m| m.public_ip.as_deref().is_some_and(|ip| ip.starts_with("127.0.3."))));

    c.evict_instance_pool_members(&api.pool_id(), &[members[0].id.clone()]).unwrap();
    assert_eq!(api.pool().size, 3);
    assert!(!api.pool().members.iter().any(|m| m.id == members[0].id));

    let reqs = api.requests();
    assert!(reqs.iter().all(|r| r.status == 200), "{reqs:?}");
    assert_eq!(reqs[1].path, format!("/v2/instance-pool/{}:scale", api.pool_id()));
    assert_eq!(reqs[1].body, r#"{"size":4}"#);
    assert_eq!(reqs[3].query, format!("manager-id={}&manager-type=instance-pool", api.pool_id()));
}
