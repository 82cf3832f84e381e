//! Shared by the listener tests: start the real `autoscaler listen` on a
//! free loopback port with its own state directory, talk raw HTTP to it, and
//! read what it logged and wrote. Dropping a `Listener` kills it and removes
//! the directory.
#![allow(dead_code)] // each test binary uses a different part

use autoscaler::markers::Marker;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

static DIRS: AtomicU64 = AtomicU64::new(0);

pub fn temp_state_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("listener-{tag}-{}-{}", std::process::id(), DIRS.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub struct Listener {
    pub child: Child,
    pub addr: SocketAddr,
    pub state_dir: PathBuf,
    keep_dir: bool,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

fn collect(stream: impl Read + Send + 'static, lines: Arc<Mutex<Vec<String>>>, ready: Option<std::sync::mpsc::Sender<String>>) {
    thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let (Some(tx), true) = (&ready, line.contains("event=listen.ready")) {
                let _ = tx.send(line.clone());
            }
            lines.lock().unwrap().push(line);
        }
    });
}

impl Listener {
    pub fn start(tag: &str, env: &[(&str, &str)]) -> Listener {
        Listener::start_in(temp_state_dir(tag), env, false)
    }

    /// Start on an existing state directory (e.g. after a crash); with
    /// `keep_dir` the directory survives this listener.
    pub fn start_in(state_dir: PathBuf, env: &[(&str, &str)], keep_dir: bool) -> Listener {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_autoscaler"));
        cmd.arg("listen")
            .env_clear()
            .env("AUTOSCALER_STATE_DIR", &state_dir)
            .env("LISTEN_ADDR", "127.0.0.1")
            .env("LISTEN_PORT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn autoscaler listen");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        collect(child.stdout.take().unwrap(), stdout.clone(), Some(tx));
        collect(child.stderr.take().unwrap(), stderr.clone(), None);
        let ready = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("listener did not start; stderr: {:?}", stderr.lock().unwrap());
            }
        };
        let addr = field(&ready, "addr").expect("addr= in listen.ready").parse().unwrap();
        Listener { child, addr, state_dir, keep_dir, stdout, stderr }
    }

    pub fn markers_dir(&self) -> PathBuf {
        self.state_dir.join("markers")
    }

    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Wait (bounded) until some stdout/stderr line contains `needle`.
    pub fn wait_log(&self, needle: &str) -> String {
        self.wait_log_within(needle, Duration::from_secs(5))
    }

    pub fn wait_log_within(&self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let all: Vec<String> = self.stdout().into_iter().chain(self.stderr()).collect();
            if let Some(line) = all.into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            assert!(Instant::now() < deadline, "no log line with {needle:?}; stdout {:?} stderr {:?}", self.stdout(), self.stderr());
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        send(self.addr, method, path, headers, body)
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").arg(format!("-{name}")).arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.keep_dir {
            let _ = std::fs::remove_dir_all(&self.state_dir);
        }
    }
}

/// The value of `key=` in a logfmt line (unquoted values only).
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split(' ').find_map(|kv| kv.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("reply is not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// Marker ids of an accepted webhook.
    pub fn ids(&self) -> Vec<String> {
        self.json()["markers"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
    }
}

pub fn request_bytes(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        raw.push_str(&format!("{k}: {v}\r\n"));
    }
    raw.push_str("\r\n");
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(body);
    raw
}

pub fn send(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    send_raw(addr, &request_bytes(method, path, headers, body))
}

/// Send raw bytes and read the whole answer (the listener closes after it).
pub fn send_raw(addr: SocketAddr, raw: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(raw).unwrap();
    read_reply(stream)
}

/// Read until the listener closes; panics when no answer arrives.
pub fn read_reply(stream: TcpStream) -> Reply {
    try_read_reply(stream).unwrap_or_else(|e| panic!("no HTTP answer: {e}"))
}

/// Read until the listener closes. A reset after the answer (a server may
/// close with our unread bytes pending) keeps what arrived before it.
pub fn try_read_reply(mut stream: TcpStream) -> std::io::Result<Reply> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && !bytes.is_empty() => break,
            Err(e) => return Err(e),
        }
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{what}: {text:?}"));
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| bad("incomplete answer"))?;
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("bad status line"))?;
    Ok(Reply { status, head: head.to_string(), body: body.to_string() })
}

/// Every marker file, parsed (panics on a partial or unreadable one).
pub fn markers_on_disk(dir: &Path) -> Vec<(String, Marker)> {
    let mut out: Vec<(String, Marker)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|name| name.strip_suffix(".json").map(str::to_string))
        .map(|id| {
            let bytes = std::fs::read(dir.join(format!("{id}.json"))).unwrap();
            let marker = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("marker {id} is not whole: {e}"));
            (id, marker)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
