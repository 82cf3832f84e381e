//! A member's HTTP surface over real TCP: routes, wrong methods, request
//! bodies it does not read, and requests that are not HTTP.

mod common;
use common::{http_get, member_addr, Twin};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const T: Duration = Duration::from_secs(5);

#[test]
fn routes_methods_and_unread_bodies_get_clean_answers() {
    let twin = Twin::start(&[]);
    let ip = twin.status()["members"][0]["public_ip"].as_str().unwrap().to_string();
    assert_eq!(http_get(member_addr(&ip, 8080), "/health", T).unwrap(), (200, "OK".to_string()));
    assert_eq!(http_get(member_addr(&ip, 8080), "/nope", T).unwrap().0, 404);
    assert_eq!(http_get(member_addr(&ip, 9100), "/nope", T).unwrap().0, 404);

    // A 256 KiB body the member never reads: the 405 must still arrive whole
    // (no connection reset), and nothing counts as served.
    let body = vec![b'x'; 256 * 1024];
    let reply = ureq::post(&format!("http://{ip}:8080/load")).timeout(T).send_bytes(&body);
    match reply {
        Err(ureq::Error::Status(405, r)) => assert_eq!(r.into_string().unwrap(), "Method Not Allowed"),
        other => panic!("expected 405, got {other:?}"),
    }
    assert_eq!(twin.status()["members"][0]["requests_served"], 0);
}

#[test]
fn a_request_that_is_not_http_is_closed_without_an_answer() {
    let twin = Twin::start(&[]);
    let ip = twin.status()["members"][0]["public_ip"].as_str().unwrap().to_string();
    let mut s = TcpStream::connect_timeout(&member_addr(&ip, 8080), T).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    s.write_all(b"hello there\r\n\r\n").unwrap();
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    assert!(reply.is_empty(), "got {:?}", String::from_utf8_lossy(&reply));
    // The member still serves the next, well-formed request.
    assert_eq!(http_get(member_addr(&ip, 8080), "/health", T).unwrap().0, 200);
}
