//! The network load balancer: a TCP proxy that spreads connections
//! round-robin over pool members whose HTTP health check (`GET /health` on
//! port 8080) passes. Health-check defaults are those of
//! `exoscale_nlb_service`: interval 10 s, timeout 5 s, retries 1.
//!
//! A member becomes healthy after one passing check and unhealthy after
//! `retries + 1` consecutive failures. With no healthy member the NLB
//! accepts the connection and closes it at once (the client sees an empty
//! reply); such connections are counted as `no_backend`.

use crate::http;
use crate::log;
use crate::member::APP_PORT;
use crate::world::Twin;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct HealthCheck {
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
}

#[derive(Clone, Debug)]
struct Backend {
    id: String,
    ip: Ipv4Addr,
    healthy: bool,
    failures: u32,
}

#[derive(Default)]
pub struct NlbState {
    /// Current members in pool order (oldest first) with their health.
    backends: Mutex<Vec<Backend>>,
    next: AtomicUsize,
    pub requests: AtomicU64,
    pub no_backend: AtomicU64,
}

impl NlbState {
    /// Take a destroyed member out of rotation at once (the NLB follows the pool).
    pub fn forget(&self, id: &str) {
        self.backends.lock().unwrap().retain(|b| b.id != id);
    }

    pub fn healthy(&self) -> Vec<(String, Ipv4Addr)> {
        self.backends.lock().unwrap().iter().filter(|b| b.healthy).map(|b| (b.id.clone(), b.ip)).collect()
    }

    /// Record one round of checks for the current members (in pool order).
    fn update(&self, results: Vec<(String, Ipv4Addr, bool)>, retries: u32) {
        let mut backends = self.backends.lock().unwrap();
        let old = std::mem::take(&mut *backends);
        for (id, ip, passed) in results {
            let prev = old.iter().find(|b| b.id == id);
            let failures = if passed { 0 } else { prev.map_or(0, |b| b.failures) + 1 };
            let healthy = passed || (prev.is_some_and(|b| b.healthy) && failures <= retries);
            backends.push(Backend { id, ip, healthy, failures });
        }
    }
}

/// Start the proxy and the health checker on an already bound listener.
pub fn start(twin: Arc<Twin>, listener: TcpListener) -> io::Result<()> {
    let checker = twin.clone();
    std::thread::Builder::new().name("nlb-health".into()).spawn(move || health_loop(&checker))?;
    std::thread::Builder::new().name("nlb-accept".into()).spawn(move || {
        for conn in listener.incoming() {
            let Ok(client) = conn else { continue };
            let twin = twin.clone();
            let _ = std::thread::Builder::new().stack_size(128 * 1024).spawn(move || forward(&twin, client));
        }
    })?;
    Ok(())
}

fn health_loop(twin: &Twin) {
    let hc = twin.settings.health;
    loop {
        let targets: Vec<(String, Ipv4Addr)> = twin.lock().pool.current().map(|m| (m.id.clone(), m.ip)).collect();
        let results = std::thread::scope(|s| {
            let checks: Vec<_> = targets.into_iter().map(|(id, ip)| s.spawn(move || (id.clone(), ip, check(ip, hc.timeout)))).collect();
            checks.into_iter().filter_map(|c| c.join().ok()).collect()
        });
        twin.nlb.update(results, hc.retries);
        std::thread::sleep(hc.interval);
    }
}

fn check(ip: Ipv4Addr, timeout: Duration) -> bool {
    let addr = SocketAddr::new(IpAddr::V4(ip), APP_PORT);
    matches!(http::get(addr, &ip.to_string(), "/health", timeout), Ok((200, _)))
}

/// Connect the client to the next healthy member and copy both ways.
fn forward(twin: &Twin, client: TcpStream) {
    let healthy = twin.nlb.healthy();
    let start = twin.nlb.next.fetch_add(1, Ordering::Relaxed);
    // A member that just died may still look healthy: try the next one.
    let backend = (0..healthy.len()).find_map(|i| {
        let (_, ip) = &healthy[(start + i) % healthy.len()];
        TcpStream::connect_timeout(&SocketAddr::new(IpAddr::V4(*ip), APP_PORT), Duration::from_secs(2)).ok()
    });
    let Some(backend) = backend else {
        twin.nlb.no_backend.fetch_add(1, Ordering::Relaxed);
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    twin.nlb.requests.fetch_add(1, Ordering::Relaxed);
    let (Ok(client_r), Ok(backend_w)) = (client.try_clone(), backend.try_clone()) else {
        log::warn("nlb.clone_failed", &[]);
        return;
    };
    let upstream = std::thread::Builder::new().stack_size(128 * 1024).spawn(move || pipe(client_r, backend_w));
    pipe(backend, client);
    if let Ok(t) = upstream {
        let _ = t.join();
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(state: &NlbState, passed: &[bool]) -> Vec<bool> {
        let results = passed.iter().enumerate().map(|(i, p)| (format!("m{i}"), Ipv4Addr::new(127, 0, 9, i as u8 + 1), *p)).collect();
        state.update(results, 1);
        state.backends.lock().unwrap().iter().map(|b| b.healthy).collect()
    }

    #[test]
    fn healthy_after_one_pass_unhealthy_after_retries_plus_one_failures() {
        let s = NlbState::default();
        assert_eq!(round(&s, &[false, true]), [false, true]);
        assert_eq!(round(&s, &[true, false]), [true, true]); // one failure is tolerated (retries 1)
        assert_eq!(round(&s, &[true, false]), [true, false]);
        assert_eq!(round(&s, &[true, true]), [true, true]);
    }

    #[test]
    fn forgotten_members_leave_rotation_at_once() {
        let s = NlbState::default();
        round(&s, &[true, true]);
        s.forget("m0");
        assert_eq!(s.healthy().len(), 1);
    }
}
