//! One simulated pool member: `http-load-generator` on port 8080 (`/health`,
//! `/load`) and a node-exporter-compatible `/metrics` on port 9100, both on
//! the member's own loopback IP. CPU is modelled, not burnt: while at least
//! one `/load` is in flight every vCPU is busy; the CPU counters integrate
//! that exactly over wall time, so `rate()` over any window is the true mean.

use crate::http::{self, Handler, Listener};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const APP_PORT: u16 = 8080;
pub const METRICS_PORT: u16 = 9100;
/// Idle TCP connections a member reports: the scrape itself. Must equal
/// `estab_baseline` in prometheus/scaling.json (a test checks it).
pub const ESTAB_BASELINE: u64 = 1;
/// How busy time splits between modes (the load generator is user-space).
const USER_SHARE: f64 = 0.9;
const IDLE_MODES: [&str; 6] = ["iowait", "irq", "nice", "softirq", "steal", "guest"];

/// Busy/idle accounting for all vCPUs of one member (they move together).
#[derive(Debug)]
pub struct CpuModel {
    booted: Instant,
    since: Instant,
    busy: f64,
    in_flight: u64,
}

impl CpuModel {
    pub fn new(now: Instant) -> CpuModel {
        CpuModel { booted: now, since: now, busy: 0.0, in_flight: 0 }
    }

    fn integrate(&mut self, now: Instant) {
        if self.in_flight > 0 {
            self.busy += now.saturating_duration_since(self.since).as_secs_f64();
        }
        self.since = now.max(self.since);
    }

    pub fn begin(&mut self, now: Instant) {
        self.integrate(now);
        self.in_flight += 1;
    }

    pub fn end(&mut self, now: Instant) {
        self.integrate(now);
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// (seconds since boot, busy seconds) per vCPU at `now`.
    pub fn totals(&self, now: Instant) -> (f64, f64) {
        let total = now.saturating_duration_since(self.booted).as_secs_f64();
        let open = if self.in_flight > 0 { now.saturating_duration_since(self.since).as_secs_f64() } else { 0.0 };
        (total, (self.busy + open).min(total))
    }

    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }
}

pub struct Member {
    vcpus: u32,
    load: Duration,
    alive: AtomicBool,
    model: Mutex<CpuModel>,
    served: AtomicU64,
    listeners: Mutex<Vec<Listener>>,
}

impl Member {
    /// Bind both ports on `ip` and start serving. Fails if either is taken.
    pub fn start(ip: Ipv4Addr, vcpus: u32, load: Duration) -> std::io::Result<Arc<Member>> {
        let member = Arc::new(Member {
            vcpus,
            load,
            alive: AtomicBool::new(true),
            model: Mutex::new(CpuModel::new(Instant::now())),
            served: AtomicU64::new(0),
            listeners: Mutex::new(Vec::new()),
        });
        let app = member.clone();
        let app_handler: Handler = Arc::new(move |s| app.serve_app(s));
        let metrics = member.clone();
        let metrics_handler: Handler = Arc::new(move |s| metrics.serve_metrics(s));
        let app_listener = http::serve(SocketAddr::new(IpAddr::V4(ip), APP_PORT), "member-app", app_handler)?;
        let metrics_listener = http::serve(SocketAddr::new(IpAddr::V4(ip), METRICS_PORT), "member-metrics", metrics_handler)?;
        member.listeners.lock().unwrap().extend([app_listener, metrics_listener]);
        Ok(member)
    }

    /// Stop answering: close both listeners; in-flight `/load` calls are
    /// dropped without a response (as when a VM dies or is destroyed).
    pub fn stop(&self) {
        self.alive.store(false, Ordering::SeqCst);
        let listeners: Vec<Listener> = std::mem::take(&mut *self.listeners.lock().unwrap());
        drop(listeners);
    }

    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    /// Modelled utilisation now (0..1).
    pub fn cpu(&self) -> f64 {
        if self.is_alive() && self.model.lock().unwrap().in_flight() > 0 {
            1.0
        } else {
            0.0
        }
    }

    pub fn in_flight(&self) -> u64 {
        self.model.lock().unwrap().in_flight()
    }

    pub fn requests_served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    fn serve_app(&self, mut stream: TcpStream) {
        let Ok(Some(req)) = http::read_request(&mut stream) else { return };
        let (status, body) = match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/health") => (200, "OK"),
            ("GET", "/load") => {
                if !self.run_load() {
                    return; // killed mid-request: the connection just drops
                }
                (200, "Load generation done.")
            }
            (_, "/health" | "/load") => (405, "Method Not Allowed"),
            _ => (404, "Not Found"),
        };
        let answered = http::respond(&mut stream, status, "text/plain; charset=utf-8", body.as_bytes()).is_ok();
        // Only workload requests count: health checks would drown them.
        if answered && req.path == "/load" && status == 200 {
            self.served.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Keep every vCPU busy for the load duration. False if killed meanwhile.
    fn run_load(&self) -> bool {
        self.model.lock().unwrap().begin(Instant::now());
        let deadline = Instant::now() + self.load;
        while self.is_alive() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
        self.model.lock().unwrap().end(Instant::now());
        self.is_alive()
    }

    fn serve_metrics(&self, mut stream: TcpStream) {
        let Ok(Some(req)) = http::read_request(&mut stream) else { return };
        let (status, body) = match req.path.as_str() {
            "/metrics" => (200, self.metrics_text(Instant::now())),
            _ => (404, "Not Found".to_string()),
        };
        let _ = http::respond(&mut stream, status, "text/plain; version=0.0.4; charset=utf-8", body.as_bytes());
    }

    /// The node exporter's text format for the metrics the deployment reads.
    pub fn metrics_text(&self, now: Instant) -> String {
        let (total, busy, in_flight) = {
            let m = self.model.lock().unwrap();
            let (total, busy) = m.totals(now);
            (total, busy, m.in_flight())
        };
        render_metrics(self.vcpus, total, busy, in_flight)
    }
}

fn render_metrics(vcpus: u32, total: f64, busy: f64, in_flight: u64) -> String {
    let mut out = String::with_capacity(600 * vcpus as usize + 300);
    out.push_str("# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n");
    out.push_str("# TYPE node_cpu_seconds_total counter\n");
    for cpu in 0..vcpus {
        let modes = [("idle", total - busy), ("system", busy * (1.0 - USER_SHARE)), ("user", busy * USER_SHARE)]
            .into_iter()
            .chain(IDLE_MODES.map(|m| (m, 0.0)));
        for (mode, value) in modes {
            let _ = writeln!(out, "node_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"{mode}\"}} {value:.6}");
        }
    }
    out.push_str("# HELP node_netstat_Tcp_CurrEstab Statistic TcpCurrEstab.\n");
    out.push_str("# TYPE node_netstat_Tcp_CurrEstab untyped\n");
    let _ = writeln!(out, "node_netstat_Tcp_CurrEstab {}", ESTAB_BASELINE + in_flight);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_integrates_exactly_over_overlapping_loads() {
        let t0 = Instant::now();
        let s = |secs: u64| t0 + Duration::from_secs(secs);
        let mut m = CpuModel::new(t0);
        m.begin(s(10));
        m.begin(s(15)); // overlaps: still 100 %, not 200 %
        m.end(s(20));
        assert_eq!(m.totals(s(22)), (22.0, 12.0));
        m.end(s(25));
        assert_eq!(m.totals(s(30)), (30.0, 15.0));
    }

    #[test]
    fn metrics_follow_the_node_exporter_format() {
        let text = render_metrics(2, 100.0, 40.0, 3);
        assert!(text.contains("# TYPE node_cpu_seconds_total counter\n"));
        assert!(text.contains("node_cpu_seconds_total{cpu=\"1\",mode=\"idle\"} 60.000000\n"));
        assert!(text.contains("node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 36.000000\n"));
        assert!(text.contains("node_netstat_Tcp_CurrEstab 4\n"));
        assert_eq!(text.matches("node_cpu_seconds_total{").count(), 2 * 9);
    }
}
