//! Oversized bodies, stalled clients and bursts against the real listener.

mod listener_harness;

use listener_harness::{markers_on_disk, read_reply, request_bytes, send_raw, Listener};
use std::collections::HashSet;
use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

const MIB: usize = 1024 * 1024;

#[test]
fn oversized_bodies_get_413_without_being_read() {
    let l = Listener::start("413", &[]);
    for length in ["1048577", "18446744073709551615", "99999999999999"] {
        // Only the head is sent: the answer must come from Content-Length alone.
        let mut stream = TcpStream::connect(l.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let started = Instant::now();
        stream.write_all(format!("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: {length}\r\n\r\n").as_bytes()).unwrap();
        let reply = read_reply(stream);
        assert_eq!(reply.status, 413, "Content-Length {length}");
        assert!(started.elapsed() < Duration::from_secs(2), "413 took {:?}", started.elapsed());
    }
    // A client that asks first is not invited to send what would be refused.
    let reply = send_raw(l.addr, b"PUT /down HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2000000\r\n\r\n");
    assert_eq!(reply.status, 413, "{reply:?}");
    // A request head over 16 KiB.
    let big_head = format!("GET /up HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "a".repeat(17 * 1024));
    assert_eq!(send_raw(l.addr, big_head.as_bytes()).status, 431);
    // Chunked: refused once the chunks pass 1 MiB.
    let mut raw = b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        raw.extend_from_slice(format!("{:x}\r\n", MIB / 2).as_bytes());
        raw.extend(std::iter::repeat_n(b' ', MIB / 2));
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(send_raw(l.addr, &raw).status, 413);
    // Exactly 1 MiB (JSON padded with spaces) is still fine.
    let mut body = br#"{"version":"4","alerts":[{"status":"firing"}]}"#.to_vec();
    body.resize(MIB, b' ');
    assert_eq!(l.send("POST", "/up", &[], &body).status, 200);
    // A small chunked body is decoded.
    let chunked = b"POST /down HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"version\":\"4\",\"\r\n12;ext=1\r\nalerts\":[{}]}     \r\n0\r\n\r\n";
    assert_eq!(send_raw(l.addr, chunked).status, 200);
    assert_eq!(markers_on_disk(&l.markers_dir()).len(), 2);
    // The process survived every one of them.
    assert!(l.child.id() > 0 && l.send("GET", "/healthz", &[], b"").status == 200);
    let metrics = l.send("GET", "/metrics", &[], b"").body;
    assert!(metrics.contains("autoscaler_webhook_rejects_total{reason=\"too_large\"} 5"), "{metrics}");
    assert!(metrics.contains("autoscaler_webhook_rejects_total{reason=\"head_too_large\"} 1"), "{metrics}");
}

#[test]
fn a_stalled_client_blocks_nobody_and_is_cut_off_at_the_deadline() {
    let l = Listener::start("stall", &[("AUTOSCALER_WEBHOOK_READ_TIMEOUT", "2")]);
    // One client stops mid-head, one mid-body.
    let mut mid_head = TcpStream::connect(l.addr).unwrap();
    mid_head.write_all(b"POST /up HTTP/1.1\r\nContent-Le").unwrap();
    let mut mid_body = TcpStream::connect(l.addr).unwrap();
    mid_body.write_all(b"POST /up HTTP/1.1\r\nContent-Length: 50\r\n\r\n{\"version\":").unwrap();
    let started = Instant::now();
    for _ in 0..20 {
        let reply = l.send("GET", "/up", &[], b"");
        assert_eq!(reply.status, 200);
    }
    assert!(started.elapsed() < Duration::from_millis(1500), "others waited {:?}", started.elapsed());
    for stalled in [mid_head, mid_body] {
        stalled.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let reply = read_reply(stalled);
        assert_eq!(reply.status, 408);
    }
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1900) && waited < Duration::from_secs(4), "cut off after {waited:?}");
    assert_eq!(markers_on_disk(&l.markers_dir()).len(), 20, "the stalled requests wrote nothing");
    l.wait_log("reason=timeout");
}

#[test]
fn connections_beyond_the_cap_get_503_and_the_listener_recovers() {
    let l = Listener::start("cap", &[("AUTOSCALER_WEBHOOK_READ_TIMEOUT", "2")]);
    let held: Vec<TcpStream> = (0..64).map(|_| TcpStream::connect(l.addr).unwrap()).collect();
    thread::sleep(Duration::from_millis(200));
    assert_eq!(l.send("GET", "/up", &[], b"").status, 503);
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    while l.send("GET", "/healthz", &[], b"").status != 200 {
        assert!(Instant::now() < deadline, "listener did not recover after the held connections closed");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_concurrent_burst_is_acknowledged_once_per_marker() {
    let l = Listener::start("burst", &[]);
    let addr = l.addr;
    let workers: Vec<_> = (0..8)
        .map(|w| {
            thread::spawn(move || {
                (0..25)
                    .map(|i| {
                        let body = format!(
                            r#"{{"version":"4","alerts":[{{"status":"firing","fingerprint":"w{w}i{i}","annotations":{{"cpu":"{i}"}}}}]}}"#
                        );
                        let reply = send_raw(addr, &request_bytes("POST", if w % 2 == 0 { "/up" } else { "/down" }, &[], body.as_bytes()));
                        assert_eq!(reply.status, 200);
                        reply.ids().remove(0)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let acked: Vec<String> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    let unique: HashSet<_> = acked.iter().collect();
    assert_eq!((acked.len(), unique.len()), (200, 200));
    let on_disk = markers_on_disk(&l.markers_dir());
    assert_eq!(on_disk.len(), 200);
    assert!(on_disk.iter().all(|(id, _)| unique.contains(id)));
    let fingerprints: HashSet<_> = on_disk.iter().map(|(_, m)| m.fingerprint.clone().unwrap()).collect();
    assert_eq!(fingerprints.len(), 200);
}
