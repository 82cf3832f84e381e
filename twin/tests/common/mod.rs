//! Start a real `twin serve` process on loopback for a test, sign API calls
//! like the official clients, and always kill the process afterwards.
#![allow(dead_code)] // each test file uses a different part of this helper

use autoscaler::exoscale::sign;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub struct Twin {
    child: Child,
    pub info: Value,
    pub net: String,
    log_path: std::path::PathBuf,
}

static NEXT_NET: AtomicU32 = AtomicU32::new(0);

/// A member network of our own: other tests and other twins on this
/// machine use other ones; a clash makes `twin serve` fail and we move on.
fn candidate_net() -> String {
    let n = NEXT_NET.fetch_add(1, Ordering::SeqCst);
    let seed = std::process::id().wrapping_mul(2_654_435_761).wrapping_add(n.wrapping_mul(40_503));
    format!("127.{}.{}", 200 + seed % 50, (seed >> 8) % 250 + 1)
}

impl Twin {
    pub fn start(args: &[&str]) -> Twin {
        for _ in 0..8 {
            let net = candidate_net();
            // Logs go to a file: an unread pipe would fill up and block the twin.
            let log_path = std::env::temp_dir().join(format!("twin-test-{}-{net}.log", std::process::id()));
            let log = std::fs::File::create(&log_path).expect("log file");
            let mut child = Command::new(env!("CARGO_BIN_EXE_twin"))
                .arg("serve")
                .args(["--member-net", &net])
                .args(args)
                .stdout(Stdio::piped())
                .stderr(log)
                .spawn()
                .expect("start twin");
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                let _ = child.wait();
                let err = std::fs::read_to_string(&log_path).unwrap_or_default();
                let _ = std::fs::remove_file(&log_path);
                assert!(err.contains("member address"), "twin failed for another reason than a busy --member-net: {err}");
                continue;
            }
            let info: Value = serde_json::from_str(&line).expect("one JSON line");
            return Twin { child, info, net, log_path };
        }
        panic!("no free --member-net found");
    }

    pub fn s(&self, field: &str) -> String {
        self.info[field].as_str().unwrap_or_else(|| panic!("{field} in {}", self.info)).to_string()
    }

    pub fn pool_id(&self) -> String {
        self.s("pool_id")
    }

    /// A signed API call with the twin's credentials: (status, JSON body, headers).
    pub fn call(&self, method: &str, path: &str, body: &str) -> Reply {
        let (key, secret) = (self.s("key"), self.s("secret"));
        self.call_as(&key, &secret, method, path, body, now() + 600)
    }

    pub fn call_as(&self, key: &str, secret: &str, method: &str, path: &str, body: &str, expires: i64) -> Reply {
        let url = format!("{}{}", self.s("api_endpoint").trim_end_matches("/v2"), path);
        let (p, q) = sign::split_url(&url);
        let auth = sign::authorization(key, secret, method, p, q, body.as_bytes(), expires);
        send(ureq::request(method, &url).set("Authorization", &auth), body)
    }

    pub fn unsigned(&self, method: &str, path: &str, body: &str) -> Reply {
        let url = format!("{}{}", self.s("api_endpoint").trim_end_matches("/v2"), path);
        send(ureq::request(method, &url), body)
    }

    pub fn status(&self) -> Value {
        let r = send(ureq::get(&format!("{}/status", self.s("control_url"))), "");
        assert_eq!(r.status, 200);
        r.json
    }

    pub fn fault(&self, json: &str) -> Reply {
        send(ureq::post(&format!("{}/faults", self.s("control_url"))).set("Content-Type", "application/json"), json)
    }

    /// Wait until `pred(status)` holds, polling every 20 ms, at most `limit`.
    pub fn wait_for(&self, limit: Duration, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.status();
            if pred(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; status: {s}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn nlb(&self) -> SocketAddr {
        self.s("nlb_url").trim_start_matches("http://").parse().unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn sigterm(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "twin ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Twin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log_path);
    }
}

pub struct Reply {
    pub status: u16,
    pub json: Value,
    pub retry_after: Option<String>,
}

fn send(req: ureq::Request, body: &str) -> Reply {
    let req = req.timeout(Duration::from_secs(20));
    let result = if body.is_empty() { req.call() } else { req.send_string(body) };
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = resp.status();
    let retry_after = resp.header("Retry-After").map(str::to_string);
    let json = serde_json::from_str(&resp.into_string().unwrap()).unwrap_or(Value::Null);
    Reply { status, json, retry_after }
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A plain HTTP GET over TCP (for members and the NLB): (status, body).
pub fn http_get(addr: SocketAddr, path: &str, timeout: Duration) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let status = raw.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
    Ok((status, body))
}

pub fn member_addr(ip: &str, port: u16) -> SocketAddr {
    format!("{ip}:{port}").parse().unwrap()
}
