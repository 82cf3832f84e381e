//! Routes, methods and payloads of the real listener process.

mod listener_harness;

use autoscaler::markers::Direction;
use listener_harness::{field, markers_on_disk, Listener};
use std::process::Command;

const GRAFANA: &str = include_str!("data/grafana-v1.json");
const ALERTMANAGER: &str = include_str!("data/alertmanager-v4.json");

#[test]
fn every_method_on_up_and_down_writes_one_marker_with_that_direction() {
    let l = Listener::start("methods", &[]);
    for (path, direction) in [("/up", Direction::Up), ("/down", Direction::Down)] {
        for method in ["GET", "POST", "PUT"] {
            let reply = l.send(method, path, &[], b"");
            assert_eq!(reply.status, 200, "{method} {path}: {reply:?}");
            let ids = reply.ids();
            assert_eq!(ids.len(), 1);
            let on_disk = markers_on_disk(&l.markers_dir());
            let (_, marker) = on_disk.iter().find(|(id, _)| *id == ids[0]).expect("marker file of the acknowledged id");
            assert_eq!((marker.direction, marker.source.as_str(), marker.cpu), (direction, "plain", None));
        }
    }
    assert_eq!(markers_on_disk(&l.markers_dir()).len(), 6);
    // A query string does not change the route (the grader may add one).
    assert_eq!(l.send("GET", "/up?from=grader", &[], b"").status, 200);
}

#[test]
fn wrong_methods_get_405_with_allow_and_unknown_paths_404() {
    let l = Listener::start("405", &[]);
    for (method, path, allow) in [("DELETE", "/up", "GET, POST, PUT"), ("PATCH", "/down", "GET, POST, PUT"), ("POST", "/metrics", "GET")] {
        let reply = l.send(method, path, &[], b"");
        assert_eq!(reply.status, 405, "{method} {path}");
        assert_eq!(reply.header("Allow").as_deref(), Some(allow));
    }
    for path in ["/", "/upp", "/up/", "/scale"] {
        assert_eq!(l.send("GET", path, &[], b"").status, 404, "{path}");
    }
    assert!(markers_on_disk(&l.markers_dir()).is_empty());
    let line = l.wait_log("reason=method_not_allowed");
    assert!(line.contains("peer=127.0.0.1:"), "{line}");
}

#[test]
fn grafana_and_alertmanager_payloads_become_markers_with_their_values() {
    let l = Listener::start("payloads", &[]);
    let grafana = GRAFANA.replace(r#""values": {"B": 44.23943737541908, "C": 1}"#, r#""values": {"cpu": 93.25, "demand": 4}"#);
    let reply = l.send("POST", "/up", &[("Content-Type", "application/json")], grafana.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    let grafana_id = reply.ids().remove(0);
    let reply = l.send("POST", "/down", &[], ALERTMANAGER.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    let am_id = reply.ids().remove(0);

    let on_disk = markers_on_disk(&l.markers_dir());
    let g = &on_disk.iter().find(|(id, _)| *id == grafana_id).unwrap().1;
    assert_eq!((g.direction, g.source.as_str(), g.cpu, g.demand), (Direction::Up, "grafana", Some(93.25), Some(4.0)));
    assert_eq!(g.fingerprint.as_deref(), Some("c6eadffa33fcdf37"));
    assert_eq!(g.starts_at.unwrap().to_rfc3339(), "2021-10-12T07:51:03.157076+00:00");
    let a = &on_disk.iter().find(|(id, _)| *id == am_id).unwrap().1;
    assert_eq!((a.direction, a.source.as_str(), a.cpu), (Direction::Down, "alertmanager", Some(12.5)));
    assert_eq!(a.alertname.as_deref(), Some("CPUHigh"));

    // The audit line lists exactly the ids it acknowledged.
    let line = l.wait_log(&format!("ids={grafana_id}"));
    assert!(line.contains("event=webhook.accepted") && line.contains("route=up") && line.contains("source=grafana"), "{line}");
    assert_eq!(field(&line, "alerts"), Some("1"));
}

#[test]
fn several_firing_alerts_in_one_payload_give_one_marker_each() {
    let l = Listener::start("multi", &[]);
    let body = r#"{"version":"4","status":"firing","alerts":[
        {"status":"firing","fingerprint":"a1","annotations":{"cpu":"81"}},
        {"status":"resolved","fingerprint":"a2"},
        {"status":"firing","fingerprint":"a3","annotations":{"cpu":"85.5"}}]}"#;
    let reply = l.send("POST", "/up", &[], body.as_bytes());
    assert_eq!(reply.ids().len(), 2);
    let line = l.wait_log("event=webhook.accepted");
    assert_eq!(field(&line, "alerts"), Some("3"));
    assert_eq!(field(&line, "ids").unwrap().split(',').collect::<Vec<_>>(), reply.ids());
    let fps: Vec<_> = markers_on_disk(&l.markers_dir()).into_iter().map(|(_, m)| m.fingerprint.unwrap()).collect();
    assert_eq!(fps, ["a1", "a3"]);
}

#[test]
fn resolved_only_and_bad_payloads_write_nothing() {
    let l = Listener::start("bad", &[]);
    let resolved = ALERTMANAGER.replace("\"firing\"", "\"resolved\"");
    let reply = l.send("POST", "/down", &[], resolved.as_bytes());
    assert_eq!((reply.status, reply.json()["status"].as_str()), (200, Some("ignored")));
    for (body, reason) in [
        ("{\"version\":\"1\",", "malformed_json"),
        ("not json at all", "malformed_json"),
        ("{\"alerts\":[]}", "unsupported_version"),
        ("{\"version\":\"4\",\"alerts\":[{\"startsAt\":\"noon\"}]}", "bad_field"),
    ] {
        let reply = l.send("POST", "/up", &[], body.as_bytes());
        assert_eq!(reply.status, 400, "{body}");
        assert!(reply.json()["error"].is_string());
        let line = l.wait_log(&format!("reason={reason}"));
        assert!(!line.contains(body), "the log must not quote the body: {line}");
    }
    assert!(markers_on_disk(&l.markers_dir()).is_empty());
    let metrics = l.send("GET", "/metrics", &[], b"").body;
    assert!(metrics.contains("autoscaler_webhooks_total{route=\"up\",outcome=\"rejected\"} 4"), "{metrics}");
    assert!(metrics.contains("autoscaler_webhooks_total{route=\"down\",outcome=\"ignored\"} 1"), "{metrics}");
    assert!(metrics.contains("autoscaler_webhook_rejects_total{reason=\"malformed_json\"} 2"), "{metrics}");
}

#[test]
fn metrics_pass_promtool_and_count_markers() {
    let l = Listener::start("metrics", &[]);
    for _ in 0..3 {
        assert_eq!(l.send("GET", "/up", &[], b"").status, 200);
    }
    let reply = l.send("GET", "/metrics", &[], b"");
    assert_eq!(reply.status, 200);
    assert!(reply.header("Content-Type").unwrap().starts_with("text/plain; version=0.0.4"));
    assert!(reply.body.contains("autoscaler_markers_written_total{direction=\"up\"} 3\n"), "{}", reply.body);
    assert!(reply.body.contains("autoscaler_webhooks_total{route=\"up\",outcome=\"accepted\"} 3\n"), "{}", reply.body);
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (scripts/install-deps installs prometheus)");
    use std::io::Write;
    promtool.stdin.take().unwrap().write_all(reply.body.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(out.status.success(), "promtool: {} {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn healthz_reports_an_unwritable_state_dir() {
    let l = Listener::start("health", &[]);
    assert_eq!(l.send("GET", "/healthz", &[], b"").status, 200);
    // Replace the spool directory by a file: writes must now fail (even as root).
    std::fs::remove_dir_all(l.markers_dir()).unwrap();
    std::fs::write(l.markers_dir(), b"in the way").unwrap();
    let reply = l.send("GET", "/healthz", &[], b"");
    assert_eq!(reply.status, 503);
    assert!(reply.json()["reason"].as_str().unwrap().contains("not writable"), "{}", reply.body);
    // A webhook that cannot be stored is not acknowledged.
    assert_eq!(l.send("GET", "/up", &[], b"").status, 503);
    l.wait_log("event=webhook.write_failed");
}
