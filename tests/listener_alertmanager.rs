//! The real Alertmanager (Debian's 0.25) sends its v4 webhook to the real
//! listener: a firing alert becomes a marker carrying the `cpu` annotation,
//! and the resolved notification writes nothing.

mod listener_harness;

use listener_harness::{markers_on_disk, send, Listener};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

struct Alertmanager(Child);

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn post_alert(am: SocketAddr, ends_at: Option<&str>) {
    let ends = ends_at.map(|t| format!(r#","endsAt":"{t}""#)).unwrap_or_default();
    let body =
        format!(r#"[{{"labels":{{"alertname":"PoolCpuHigh","pool":"test"}},"annotations":{{"cpu":"93.5","summary":"hot"}}{ends}}}]"#);
    let reply = send(am, "POST", "/api/v2/alerts", &[("Content-Type", "application/json")], body.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn alertmanager_firing_becomes_a_marker_and_resolved_writes_nothing() {
    let l = Listener::start("am", &[]);
    let dir = l.state_dir.join("alertmanager");
    std::fs::create_dir_all(&dir).unwrap();
    let config = format!(
        "route:\n  receiver: up\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: up\n    webhook_configs:\n      - url: http://{}/up\n        send_resolved: true\n",
        l.addr
    );
    std::fs::write(dir.join("alertmanager.yml"), config).unwrap();
    let am_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let _am = Alertmanager(
        Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", dir.join("alertmanager.yml").display()))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={am_addr}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-alertmanager (scripts/install-deps installs it)"),
    );
    wait_for("alertmanager to be ready", || {
        std::net::TcpStream::connect(am_addr).is_ok() && send(am_addr, "GET", "/-/ready", &[], b"").status == 200
    });

    post_alert(am_addr, None);
    wait_for("a marker from alertmanager", || !markers_on_disk(&l.markers_dir()).is_empty());
    let markers = markers_on_disk(&l.markers_dir());
    let m = &markers[0].1;
    assert_eq!((m.source.as_str(), m.cpu, m.alertname.as_deref()), ("alertmanager", Some(93.5), Some("PoolCpuHigh")));
    assert_eq!(m.fingerprint.as_deref().map(str::len), Some(16), "{m:?}");
    assert!(m.starts_at.is_some());

    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    post_alert(am_addr, Some(&now));
    let ignored = l.wait_log_within("event=webhook.ignored", Duration::from_secs(20));
    assert!(ignored.contains("source=alertmanager"), "{ignored}");
    assert_eq!(markers_on_disk(&l.markers_dir()).len(), markers.len(), "the resolved notification wrote a marker");
}
