//! One time factor compresses every duration alike: boot, /load and the
//! operation delay shrink by F while their ratios stay put, and the CPU
//! counters keep counting wall-clock seconds.

mod common;
use common::{http_get, member_addr, Twin};
use std::time::{Duration, Instant};

struct Measured {
    load: f64,
    busy: f64,
    boot: f64,
    operation: f64,
}

fn busy_seconds(ip: &str) -> f64 {
    let (_, text) = http_get(member_addr(ip, 9100), "/metrics", Duration::from_secs(2)).unwrap();
    text.lines()
        .filter(|l| l.starts_with("node_cpu_seconds_total{cpu=\"0\"") && !l.contains("mode=\"idle\""))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

fn measure(factor: &str) -> Measured {
    let twin = Twin::start(&["--time-factor", factor, "--boot-seconds", "4", "--load-seconds", "2", "--operation-seconds", "2"]);
    let ip = twin.status()["members"][0]["public_ip"].as_str().unwrap().to_string();
    let before = busy_seconds(&ip);
    let t = Instant::now();
    assert_eq!(http_get(member_addr(&ip, 8080), "/load", Duration::from_secs(10)).unwrap().0, 200);
    let load = t.elapsed().as_secs_f64();
    let busy = busy_seconds(&ip) - before;

    let t = Instant::now();
    let op = twin.call("PUT", &format!("/v2/instance-pool/{}:scale", twin.pool_id()), "{\"size\":2}");
    let op_path = format!("/v2/operation/{}", op.json["id"].as_str().unwrap());
    let (mut operation, mut boot) = (None, None);
    while boot.is_none() {
        assert!(t.elapsed() < Duration::from_secs(10), "scale-up never finished");
        if operation.is_none() && twin.call("GET", &op_path, "").json["state"] == "success" {
            operation = Some(t.elapsed().as_secs_f64());
        }
        if twin.status()["members"][1]["state"] == "running" {
            boot = Some(t.elapsed().as_secs_f64());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Measured { load, busy, boot: boot.unwrap(), operation: operation.unwrap() }
}

fn near(got: f64, want: f64, tolerance: f64) -> bool {
    (got - want).abs() <= want * tolerance
}

#[test]
fn durations_shrink_by_the_factor_and_keep_their_ratios() {
    // Small factors keep durations long enough that scheduling noise on a
    // busy machine stays well inside the tolerances.
    let slow = measure("2");
    let fast = measure("4");
    for (m, f) in [(&slow, 2.0), (&fast, 4.0)] {
        assert!(near(m.load, 2.0 / f, 0.25), "load {} at factor {f}", m.load);
        assert!(near(m.boot, 4.0 / f, 0.25), "boot {} at factor {f}", m.boot);
        assert!(near(m.operation, 2.0 / f, 0.3), "operation {} at factor {f}", m.operation);
        // Metrics stay in wall seconds: the busy time is the wall time of the load.
        assert!(near(m.busy, m.load, 0.1), "busy {} vs load {}", m.busy, m.load);
        assert!(near(m.boot / m.load, 2.0, 0.3), "boot/load ratio {}", m.boot / m.load);
    }
    assert!(near(slow.load / fast.load, 2.0, 0.3), "load ratio {}", slow.load / fast.load);
    assert!(near(slow.boot / fast.boot, 2.0, 0.3), "boot ratio {}", slow.boot / fast.boot);
}
