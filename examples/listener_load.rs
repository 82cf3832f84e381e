//! Benchmark of `autoscaler listen` (BENCHMARKS.md, "Listener").
//!
//! First the disk's floor: the same durable write as one marker (create,
//! write, fsync, rename, fsync the directory) done 200 times in a row with
//! the library's spool, in the state directory's file system. Then it starts
//! the release listener on a free loopback port with a fresh state
//! directory and HMAC on, and measures:
//! 1. idle RSS (VmRSS from /proc/PID/status);
//! 2. open loop at a fixed rate: request i is due at start + i/rate, and its
//!    latency counts from that due time (so a slow listener cannot hide
//!    queueing), signed Grafana payloads, one connection per request;
//! 3. closed loop: `--concurrency` clients back to back, for webhooks/s;
//! 4. RSS after load and the peak (VmHWM).
//!
//! Bounded: `--rate` x `--seconds` requests, then `--burst` requests.
//! Usage: cargo run --release --example listener_load -- [--rate 500] [--seconds 10] [--burst 5000] [--concurrency 8]

use autoscaler::webhook::auth::sign;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const SECRET: &str = "bench-secret";
const WORKERS: usize = 64;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map_or(default, |v| v.parse().expect("a number"))
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn body(i: u64) -> String {
    format!(
        r#"{{"receiver":"autoscaler-up","status":"firing","orgId":1,"alerts":[{{"status":"firing","labels":{{"alertname":"PoolCpuHigh","grafana_folder":"autoscaler"}},"annotations":{{"summary":"pool CPU above 80 %"}},"startsAt":"2026-12-04T19:42:05.123+01:00","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://127.0.0.1:3000/alerting/x/edit","fingerprint":"{i:016x}","silenceURL":"","dashboardURL":"","panelURL":"","values":{{"cpu":91.5,"demand":2}}}}],"groupLabels":{{}},"commonLabels":{{"alertname":"PoolCpuHigh"}},"commonAnnotations":{{}},"externalURL":"http://127.0.0.1:3000/","version":"1","groupKey":"{{}}:{{}}","truncatedAlerts":0,"title":"[FIRING:1]","state":"alerting","message":""}}"#
    )
}

/// One signed webhook; its latency from `due`, or the status line when the
/// answer was not 200 (e.g. 503 when all connection slots are busy).
fn webhook(addr: SocketAddr, i: u64, due: Instant) -> Result<Duration, String> {
    let body = body(i);
    let ts = chrono::Utc::now().timestamp().to_string();
    let sig = sign(SECRET.as_bytes(), Some(&ts), body.as_bytes());
    let raw = format!(
        "POST /up HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nX-Grafana-Alerting-Signature: {sig}\r\nX-Grafana-Alerting-Timestamp: {ts}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    if !reply.starts_with(b"HTTP/1.1 200") {
        return Err(String::from_utf8_lossy(&reply).lines().next().unwrap_or("no answer").to_string());
    }
    Ok(due.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx].as_secs_f64() * 1000.0
}

fn report(name: &str, results: Vec<Result<Duration, String>>, wall: Duration) {
    let failed = results.iter().filter(|r| r.is_err()).count();
    let mut lat: Vec<Duration> = results.into_iter().filter_map(Result::ok).collect();
    lat.sort();
    println!(
        "{name}: {} done ({failed} refused) in {:.2} s = {:.0}/s; latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}",
        lat.len(),
        wall.as_secs_f64(),
        lat.len() as f64 / wall.as_secs_f64(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.9),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0)
    );
}

/// Sequential single-marker writes with the real spool: what one webhook
/// costs on this disk before any HTTP.
fn disk_floor(dir: &std::path::Path) {
    let spool = autoscaler::markers::Spool::open(dir).unwrap();
    let marker = autoscaler::markers::Marker {
        direction: autoscaler::markers::Direction::Up,
        received_at: chrono::Utc::now(),
        source: "plain".into(),
        alertname: None,
        fingerprint: None,
        starts_at: None,
        cpu: Some(91.5),
        demand: None,
    };
    let start = Instant::now();
    let results = (0..200)
        .map(|_| {
            let t = Instant::now();
            spool.write(std::slice::from_ref(&marker)).map(|_| t.elapsed()).map_err(|e| e.to_string())
        })
        .collect();
    report("disk floor (Spool::write, 1 marker, sequential)", results, start.elapsed());
    let _ = std::fs::remove_dir_all(dir);
}

fn main() {
    let (rate, seconds, burst, concurrency) = (arg("--rate", 500), arg("--seconds", 10), arg("--burst", 5000), arg("--concurrency", 8));
    let state = std::env::temp_dir().join(format!("listener-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    disk_floor(&state.join("floor"));
    let mut child = Command::new("target/release/autoscaler")
        .arg("listen")
        .env("AUTOSCALER_STATE_DIR", &state)
        .env("LISTEN_PORT", "0")
        .env("AUTOSCALER_WEBHOOK_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("target/release/autoscaler (cargo build --release first)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.by_ref().map_while(Result::ok).find(|l| l.contains("event=listen.ready")).expect("listen.ready");
    let addr: SocketAddr = ready.split(' ').find_map(|kv| kv.strip_prefix("addr=")).unwrap().parse().unwrap();
    // Drain the log so the listener never blocks on a full pipe.
    thread::spawn(move || lines.for_each(drop));
    let pid = child.id();
    thread::sleep(Duration::from_millis(300));
    println!("idle RSS: {} KiB", rss_kib(pid, "VmRSS"));

    // Open loop at a fixed rate.
    let total = rate * seconds;
    let (tx, rx) = mpsc::channel::<(u64, Instant)>();
    let rx = Arc::new(Mutex::new(rx));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(total as usize)));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (rx, latencies) = (rx.clone(), latencies.clone());
            thread::spawn(move || loop {
                let job = rx.lock().unwrap().recv();
                let Ok((i, due)) = job else { return };
                let lat = webhook(addr, i, due);
                latencies.lock().unwrap().push(lat);
            })
        })
        .collect();
    let start = Instant::now();
    let mut peak_rss = 0;
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        tx.send((i, due)).unwrap();
        if i % rate == 0 {
            peak_rss = peak_rss.max(rss_kib(pid, "VmRSS"));
        }
    }
    drop(tx);
    workers.into_iter().for_each(|w| w.join().unwrap());
    let wall = start.elapsed();
    report(&format!("fixed rate {rate}/s"), std::mem::take(&mut latencies.lock().unwrap()), wall);
    println!("RSS during fixed-rate load (sampled each second): max {peak_rss} KiB");

    // Closed loop: as fast as `concurrency` clients go.
    let start = Instant::now();
    let per = burst / concurrency;
    let clients: Vec<_> = (0..concurrency)
        .map(|c| thread::spawn(move || (0..per).map(|i| webhook(addr, total + c * per + i, Instant::now())).collect::<Vec<_>>()))
        .collect();
    let results: Vec<_> = clients.into_iter().flat_map(|c| c.join().unwrap()).collect();
    report(&format!("closed loop, {concurrency} clients"), results, start.elapsed());
    println!("RSS after load: {} KiB, peak (VmHWM): {} KiB", rss_kib(pid, "VmRSS"), rss_kib(pid, "VmHWM"));
    let markers = std::fs::read_dir(state.join("markers")).unwrap().count();
    println!("markers on disk: {markers} (one per acknowledged webhook)");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&state);
}
