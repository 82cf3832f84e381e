//! Benchmark: wall time of one `autoscaler scale-tick` (the release binary,
//! a whole process from start to exit) with 10,000 pending markers and with
//! none, against the signature-checking test API server on loopback.
//! Setup (writing markers, a fresh state dir) is not timed. A third row is
//! the floor on this filesystem: only reading and deleting 10,000 marker
//! files with std::fs, in the same run, for a ratio on a noisy machine.
//!
//! Run: `cargo bench --bench tick_wall` (optionally `-- ROUNDS`, default 15).

#[path = "../tests/common/mod.rs"]
mod common;

use autoscaler::markers::Direction::Up;
use common::api_server::ApiServer;
use common::autoscaler_bin::Autoscaler;
use std::time::{Duration, Instant};

fn main() {
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(15);
    println!("scale-tick wall time, {rounds} rounds each (ms)");
    println!("{:<16} {:>8} {:>8} {:>8} {:>8}", "pending markers", "min", "median", "max", "calls");
    for markers in [0usize, 10_000] {
        let mut times = Vec::with_capacity(rounds);
        let mut calls = 0;
        for _ in 0..rounds {
            let api = ApiServer::start(2);
            let a = Autoscaler::new(&api);
            a.add_markers(Up, markers, None, None, 1);
            let started = Instant::now();
            let run = a.run(&["scale-tick"]);
            times.push(started.elapsed());
            assert_eq!(run.code, 0, "{}", run.stderr);
            assert!(a.pending().is_empty());
            calls += api.requests().len();
        }
        report(&markers.to_string(), times, calls / rounds);
    }
    let mut floor = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let api = ApiServer::start(2);
        let a = Autoscaler::new(&api);
        a.add_markers(Up, 10_000, None, None, 1);
        let dir = a.spool().dir().to_path_buf();
        let started = Instant::now();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            std::hint::black_box(std::fs::read(&path).unwrap());
            std::fs::remove_file(&path).unwrap();
        }
        floor.push(started.elapsed());
    }
    report("10000 fs floor", floor, 0);
}

fn report(label: &str, mut times: Vec<Duration>, calls: usize) {
    times.sort();
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
    let n = times.len();
    println!("{label:<16} {:>8} {:>8} {:>8} {:>8}", ms(times[0]), ms(times[n / 2]), ms(times[n - 1]), calls);
}
