//! The API client against the in-test Exoscale server over real HTTP on
//! loopback: signatures, retries and backoff, timeouts, errors, operations.

mod common;

use autoscaler::config::Secret;
use autoscaler::exoscale::client::{ApiError, Client, ClientOptions, RetryPolicy, WaitPolicy};
use autoscaler::exoscale::types::Operation;
use common::api_server::{ApiServer, OpOutcome};
use std::time::{Duration, Instant};

/// Fast retries so the tests take seconds, with the real algorithm.
fn options() -> ClientOptions {
    ClientOptions {
        // Loopback connects at once; one attempt may take connect + read.
        connect_timeout: Duration::from_millis(500),
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

fn with_retry(base_ms: u64, max_retries: u32, budget: Duration) -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            max_retries,
            base_delay: Duration::from_millis(base_ms),
            max_delay: Duration::from_secs(3),
            max_elapsed: budget,
        },
        ..options()
    }
}

fn statuses(api: &ApiServer) -> Vec<u16> {
    api.requests().iter().map(|r| r.status).collect()
}

fn gap(api: &ApiServer, i: usize) -> Duration {
    let r = api.requests();
    r[i + 1].at - r[i].at
}

#[test]
fn rate_limit_429_waits_for_retry_after_then_succeeds() {
    let api = ApiServer::start(3);
    api.fail_next(1, 429, Some("1"));
    let pool = client(&api, options()).get_instance_pool(&api.pool_id()).unwrap();
    assert_eq!(pool.size, 3);
    assert_eq!(statuses(&api), vec![429, 200]);
    // The backoff alone would wait 50 ms; the server asked for 1 s.
    assert!(gap(&api, 0) >= Duration::from_millis(950), "retried after {:?}", gap(&api, 0));
}

#[test]
fn unavailable_503_twice_then_success_with_growing_backoff() {
    let api = ApiServer::start(1);
    api.fail_next(2, 503, None);
    let c = client(&api, with_retry(200, 4, Duration::from_secs(20)));
    assert_eq!(c.get_instance_pool(&api.pool_id()).unwrap().size, 1);
    assert_eq!(statuses(&api), vec![503, 503, 200]);
    assert!(gap(&api, 0) >= Duration::from_millis(190), "first wait {:?}", gap(&api, 0));
    assert!(gap(&api, 1) >= Duration::from_millis(390), "second wait {:?} should double", gap(&api, 1));
}

#[test]
fn not_implemented_501_is_not_retried() {
    let api = ApiServer::start(1);
    api.fail_next(3, 501, None);
    let err = client(&api, options()).get_instance_pool(&api.pool_id()).unwrap_err();
    assert_eq!(err.status(), Some(501));
    assert!(matches!(err, ApiError::Status { attempts: 1, .. }), "{err:?}");
    assert_eq!(statuses(&api), vec![501]);
}

#[test]
fn wrong_secret_is_403_with_a_clear_message_and_no_retry() {
    let api = ApiServer::start(1);
    let c = Client::with_options(&api.endpoint(), api.key(), Secret::new("not-the-secret"), options());
    let err = c.get_instance_pool(&api.pool_id()).unwrap_err();
    let text = err.to_string();
    assert_eq!(err.status(), Some(403));
    assert!(text.contains("Invalid request signature") && text.contains("EXOSCALE_KEY/EXOSCALE_SECRET"), "{text}");
    assert!(!text.contains("not-the-secret"), "the secret leaked: {text}");
    assert_eq!(statuses(&api), vec![403]);
}

#[test]
fn unknown_pool_is_404_with_a_clear_message_and_no_retry() {
    let api = ApiServer::start(1);
    let err = client(&api, options()).get_instance_pool("0b5d7a3e-9f61-4c1a-8d2e-7a6b5c4d3e2f").unwrap_err();
    let text = err.to_string();
    assert_eq!(err.status(), Some(404));
    assert!(text.contains("Instance pool not found") && text.contains("EXOSCALE_INSTANCEPOOL_ID"), "{text}");
    assert!(!err.is_transient());
    assert_eq!(statuses(&api), vec![404]);
}

#[test]
fn other_4xx_is_final_and_keeps_the_api_message() {
    let api = ApiServer::start(2);
    let err = client(&api, options())
        .evict_instance_pool_members(&api.pool_id(), &["0b5d7a3e-9f61-4c1a-8d2e-7a6b5c4d3e2f".to_string()])
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("is not a member of the pool"), "{err}");
    assert_eq!(statuses(&api), vec![400]);
    assert_eq!(api.pool().size, 2, "a refused eviction changes nothing");
}

#[test]
fn read_timeout_is_retried() {
    let api = ApiServer::start(2);
    api.delay_next(1, Duration::from_secs(3));
    let c = client(&api, ClientOptions { read_timeout: Duration::from_millis(500), ..options() });
    let started = Instant::now();
    assert_eq!(c.get_instance_pool(&api.pool_id()).unwrap().size, 2);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(500) && took < Duration::from_secs(3), "took {took:?}");
}

#[test]
fn a_server_that_never_answers_in_time_is_a_transport_error_after_bounded_attempts() {
    let api = ApiServer::start(1);
    api.delay_next(2, Duration::from_secs(2));
    let c = client(&api, ClientOptions { read_timeout: Duration::from_millis(300), ..with_retry(50, 1, Duration::from_secs(20)) });
    let err = c.get_instance_pool(&api.pool_id()).unwrap_err();
    assert!(matches!(err, ApiError::Transport { attempts: 2, .. }), "{err:?}");
    assert!(err.is_transient());
}

#[test]
fn connection_refused_is_a_transport_error_after_bounded_attempts() {
    // A port that was just free: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let c = Client::with_options(
        &format!("http://127.0.0.1:{port}/v2"),
        "EXOkey",
        Secret::new("s"),
        with_retry(20, 3, Duration::from_secs(20)),
    );
    let started = Instant::now();
    let err = c.get_instance_pool("f81d4fae-7dec-11d0-a765-00a0c91e6bf6").unwrap_err();
    assert!(matches!(err, ApiError::Transport { attempts: 4, .. }), "{err:?}");
    assert!(err.to_string().contains("EXOSCALE_API_ENDPOINT"), "{err}");
    // 20 + 40 + 80 ms of backoff; well under a second.
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[test]
fn retries_stop_when_the_budget_is_spent() {
    let api = ApiServer::start(1);
    api.fail_next(20, 500, None);
    let budget = Duration::from_millis(700);
    // One attempt may take 100 + 200 ms; a retry must end within the budget.
    let limits = ClientOptions { connect_timeout: Duration::from_millis(100), read_timeout: Duration::from_millis(200), ..options() };
    let c = client(&api, ClientOptions { retry: with_retry(100, 10, budget).retry, ..limits });
    let started = Instant::now();
    let err = c.get_instance_pool(&api.pool_id()).unwrap_err();
    let took = started.elapsed();
    // Retry after 100 ms could end by 400, after 200 more by 600; after 400
    // more it could end at 1000, past 700: three attempts.
    assert!(matches!(err, ApiError::Status { status: 500, attempts: 3, .. }), "{err:?}");
    assert_eq!(statuses(&api), vec![500, 500, 500]);
    assert!(took < budget, "took {took:?}, budget {budget:?}");
}

#[test]
fn a_retry_after_beyond_the_budget_ends_the_retries_at_once() {
    let api = ApiServer::start(1);
    api.fail_next(1, 429, Some("120"));
    let started = Instant::now();
    let err = client(&api, options()).get_instance_pool(&api.pool_id()).unwrap_err();
    assert!(matches!(err, ApiError::Status { status: 429, attempts: 1, .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(started.elapsed() < Duration::from_secs(2));
}

fn fast_wait(timeout_ms: u64) -> WaitPolicy {
    WaitPolicy { interval: Duration::from_millis(30), timeout: Duration::from_millis(timeout_ms) }
}

/// A pool of `size` whose operations end as `outcome`, a client, and the
/// operation of scaling it to `to`.
fn scaling(size: u64, outcome: OpOutcome, to: u64) -> (ApiServer, Client, Operation) {
    let api = ApiServer::start(size);
    api.script_operations(outcome);
    let c = client(&api, options());
    let op = c.scale_instance_pool(&api.pool_id(), to).unwrap();
    (api, c, op)
}

fn operation_polls(api: &ApiServer) -> usize {
    api.requests().iter().filter(|r| r.path.starts_with("/v2/operation/")).count()
}

#[test]
fn wait_operation_polls_pending_until_success() {
    let (api, c, op) = scaling(1, OpOutcome::pending_then(2, "success"), 3);
    let done = c.wait_operation(op, &fast_wait(5000)).unwrap();
    assert_eq!(done.state, "success");
    assert_eq!(done.reference.and_then(|r| r.command).as_deref(), Some("scale-instance-pool"));
    assert_eq!(operation_polls(&api), 3, "pending, pending, success");
    assert_eq!(api.pool().size, 3);
}

#[test]
fn wait_operation_reports_a_failed_operation() {
    let (api, c, op) = scaling(2, OpOutcome::pending_then(1, "failure"), 5);
    let err = c.wait_operation(op.clone(), &fast_wait(5000)).unwrap_err();
    match &err {
        ApiError::OperationFailed { id, state, reason, .. } => {
            assert_eq!((id.as_str(), state.as_str(), reason.as_str()), (op.id.as_str(), "failure", "unavailable"))
        }
        other => panic!("expected OperationFailed, got {other:?}"),
    }
    assert!(!err.is_transient());
    assert_eq!(api.pool().size, 2, "a failed scale leaves the pool as it was");
}

#[test]
fn wait_operation_gives_up_on_an_operation_that_stays_pending() {
    let (api, c, op) = scaling(1, OpOutcome::never_ends(), 2);
    let started = Instant::now();
    let err = c.wait_operation(op.clone(), &fast_wait(300)).unwrap_err();
    assert!(matches!(&err, ApiError::WaitTimeout { id, .. } if *id == op.id), "{err:?}");
    assert!(err.is_transient());
    assert!(started.elapsed() < Duration::from_secs(2), "waited {:?}", started.elapsed());
    assert!(operation_polls(&api) >= 3, "it polled meanwhile");
}

#[test]
fn wait_operation_rides_out_a_transient_poll_error() {
    let api = ApiServer::start(1);
    api.script_operations(OpOutcome::pending_then(1, "success"));
    let c = client(&api, with_retry(10, 0, Duration::from_secs(5)));
    let op = c.scale_instance_pool(&api.pool_id(), 2).unwrap();
    api.fail_next(2, 503, None);
    assert_eq!(c.wait_operation(op, &fast_wait(5000)).unwrap().state, "success");
    assert_eq!(statuses(&api), vec![200, 503, 503, 200, 200]);
}

#[test]
fn a_server_that_trickles_its_answer_cannot_hold_an_attempt() {
    // Raw socket: sends headers, then one body byte every 100 ms (bounded),
    // so no single read ever times out; only the attempt deadline stops it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let trickler = std::thread::spawn(move || {
        use std::io::Write;
        let (mut conn, _) = listener.accept().unwrap();
        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n");
        for _ in 0..60 {
            if conn.write_all(b" ").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let opts = ClientOptions { read_timeout: Duration::from_millis(500), ..with_retry(10, 0, Duration::from_secs(5)) };
    let c = Client::with_options(&format!("http://127.0.0.1:{port}/v2"), "EXOkey", Secret::new("s"), opts);
    let started = Instant::now();
    let err = c.get_instance_pool("f81d4fae-7dec-11d0-a765-00a0c91e6bf6").unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, ApiError::Transport { attempts: 1, .. }), "{err:?}");
    assert!(took < Duration::from_secs(3), "the trickle held the attempt for {took:?}");
    trickler.join().unwrap();
}
