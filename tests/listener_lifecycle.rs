//! Shutdown on signals and crash safety of the real listener process.

mod listener_harness;

use listener_harness::{field, markers_on_disk, read_reply, send, temp_state_dir, try_read_reply, Listener};
use std::collections::HashSet;
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

fn wait_exit(l: &mut Listener, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = l.child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "listener still running {within:?} after the signal");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigterm_stops_accepting_finishes_in_flight_and_exits_0_within_2s() {
    let mut l = Listener::start("term", &[]);
    let body = br#"{"version":"4","alerts":[{"status":"firing","fingerprint":"inflight"}]}"#;
    let mut in_flight = TcpStream::connect(l.addr).unwrap();
    in_flight.write_all(format!("POST /up HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes()).unwrap();
    in_flight.write_all(&body[..10]).unwrap();
    thread::sleep(Duration::from_millis(100));
    let signalled = Instant::now();
    l.signal("TERM");
    l.wait_log("event=listen.stopping");
    thread::sleep(Duration::from_millis(100));
    assert!(TcpStream::connect(l.addr).is_err(), "still accepting after SIGTERM");
    in_flight.write_all(&body[10..]).unwrap();
    let reply = read_reply(in_flight);
    assert_eq!(reply.status, 200, "the in-flight webhook was not finished: {reply:?}");
    let status = wait_exit(&mut l, Duration::from_secs(2).saturating_sub(signalled.elapsed()));
    assert_eq!(status.code(), Some(0));
    let on_disk = markers_on_disk(&l.markers_dir());
    assert_eq!(on_disk.len(), 1);
    assert_eq!(on_disk[0].1.fingerprint.as_deref(), Some("inflight"));
    l.wait_log("event=listen.stopped");
}

#[test]
fn sigint_exits_0_even_with_a_stalled_client() {
    let mut l = Listener::start("int", &[]);
    let _stalled = {
        let mut s = TcpStream::connect(l.addr).unwrap();
        s.write_all(b"POST /up HTTP/1.1\r\nContent-Length: 100\r\n\r\n{").unwrap();
        s
    };
    thread::sleep(Duration::from_millis(100));
    l.signal("INT");
    assert_eq!(wait_exit(&mut l, Duration::from_secs(2)).code(), Some(0));
    assert!(markers_on_disk(&l.markers_dir()).is_empty());
    assert_eq!(field(&l.wait_log("event=listen.stopped"), "abandoned"), Some("1"));
}

#[test]
fn kill_9_mid_burst_loses_no_acknowledged_marker_and_restart_cleans_temp_files() {
    const WORKERS: usize = 4;
    const PER_WORKER: usize = 50;
    let state = temp_state_dir("crash");
    let l = Listener::start_in(state.clone(), &[], true);
    let addr = l.addr;
    let acked_count = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (acked_count, killed) = (acked_count.clone(), killed.clone());
            thread::spawn(move || {
                let mut acked = Vec::new();
                for i in 0..PER_WORKER {
                    let body = format!(r#"{{"version":"4","alerts":[{{"status":"firing","fingerprint":"w{w}i{i}"}}]}}"#);
                    // Any failure after the kill is an unacknowledged webhook.
                    let Ok(mut stream) = TcpStream::connect(addr) else { break };
                    let raw = listener_harness::request_bytes("POST", "/up", &[], body.as_bytes());
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    if stream.write_all(&raw).is_err() {
                        break;
                    }
                    match try_read_reply(stream) {
                        Ok(r) if r.status == 200 => {
                            acked.extend(r.ids());
                            acked_count.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(r) => panic!("unexpected answer before the kill: {r:?}"),
                        Err(_) => {
                            assert!(killed.load(Ordering::SeqCst), "read failed before the kill");
                            break;
                        }
                    }
                }
                acked
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked_count.load(Ordering::SeqCst) < 60 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    killed.store(true, Ordering::SeqCst);
    let mut l = l;
    l.child.kill().unwrap(); // SIGKILL
    l.child.wait().unwrap();
    let acked: Vec<String> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    assert!(acked.len() >= 60 && acked.len() < WORKERS * PER_WORKER, "the kill did not land mid-burst: {} acked", acked.len());
    drop(l);

    // Every acknowledged id is a whole, parseable marker (markers_on_disk panics on a partial one).
    let markers = state.join("markers");
    let on_disk: HashSet<String> = markers_on_disk(&markers).into_iter().map(|(id, _)| id).collect();
    let lost: Vec<_> = acked.iter().filter(|id| !on_disk.contains(*id)).collect();
    assert!(lost.is_empty(), "acknowledged but missing: {lost:?}");

    // A crash mid-write leaves a temp file; the next listener removes it.
    let stale = markers.join(".tmp-0000000000001-000000-1-up");
    std::fs::write(&stale, b"{\"direction\":\"u").unwrap();
    let restarted = Listener::start_in(state, &[], false);
    assert!(!stale.exists(), "the restarted listener left the stale temp file");
    let ready = restarted.wait_log("event=listen.ready");
    assert!(field(&ready, "temp_cleaned").unwrap().parse::<usize>().unwrap() >= 1, "{ready}");
    assert_eq!(send(restarted.addr, "GET", "/up", &[], b"").status, 200);
    assert_eq!(markers_on_disk(&markers).len(), on_disk.len() + 1);
}
