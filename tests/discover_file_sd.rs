//! `autoscaler discover` (real binary) against the signature-checking test
//! API server; the file it writes is checked by the real `promtool`.

mod common;

use common::api_server::ApiServer;
use common::autoscaler_bin::Autoscaler;
use serde_json::{json, Value};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("file_sd written")).expect("file_sd is JSON")
}

fn targets(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().flat_map(|g| g["targets"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string())).collect()
}

/// Prometheus' own checker accepts the file as a file_sd target list.
fn promtool_accepts(sd_file: &Path) {
    let config = sd_file.with_file_name("prometheus.yml");
    std::fs::write(
        &config,
        format!("scrape_configs:\n  - job_name: pool\n    file_sd_configs:\n      - files: [\"{}\"]\n", sd_file.display()),
    )
    .unwrap();
    let out = Command::new("promtool")
        .arg("check")
        .arg("config")
        .arg(&config)
        .output()
        .expect("promtool (scripts/install-deps installs prometheus)");
    assert!(
        out.status.success(),
        "promtool rejected the file: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn writes_members_with_labels_and_rewrites_only_on_change() {
    let api = ApiServer::start(2);
    let a = Autoscaler::new(&api);
    let output = a.state.join("file_sd").join("pool.json");
    let run = a.run(&["discover"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("event=discover.written") && run.stdout.contains("targets=2"), "{}", run.stdout);
    let v = read(&output);
    assert_eq!(targets(&v), vec!["127.0.3.1:9100", "127.0.3.2:9100"]);
    let member = &api.pool().members[0];
    assert_eq!(v[0]["labels"], json!({"instance_id": member.id, "instance_name": member.name, "pool_id": api.pool_id()}));
    assert_eq!(std::fs::metadata(&output).unwrap().permissions().mode() & 0o777, 0o644, "Prometheus must read it");
    promtool_accepts(&output);

    let inode = || std::fs::metadata(&output).unwrap().ino();
    let before = inode();
    let run = a.run(&["discover"]);
    assert!(run.stdout.contains("event=discover.unchanged"), "{}", run.stdout);
    assert_eq!(inode(), before, "an unchanged file is not replaced");

    api.set_size(3);
    api.set_member_state(2, "starting");
    assert!(a.run(&["discover"]).stdout.contains("targets=3"));
    assert_eq!(targets(&read(&output)).len(), 3, "a starting member with an address is listed");
    api.set_member_state(0, "destroying");
    a.run(&["discover"]);
    assert_eq!(targets(&read(&output)), vec!["127.0.3.2:9100", "127.0.3.3:9100"], "a leaving member is dropped");
}

#[test]
fn output_and_port_flags_are_honoured() {
    let api = ApiServer::start(1);
    let a = Autoscaler::new(&api);
    let output = a.state.join("elsewhere").join("targets.json");
    let run = a.run(&["discover", "--output", output.to_str().unwrap(), "--port", "9200"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(targets(&read(&output)), vec!["127.0.3.1:9200"]);
}

#[test]
fn api_failure_keeps_the_old_file_and_exits_1() {
    let api = ApiServer::start(2);
    let a = Autoscaler::new(&api);
    let output = a.state.join("file_sd").join("pool.json");
    assert_eq!(a.run(&["discover"]).code, 0);
    let before = std::fs::read(&output).unwrap();
    api.set_size(3);
    api.fail_next(5, 503, Some("0"));
    let run = a.run(&["discover"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("keeps its previous targets") && run.stderr.contains("503"), "{}", run.stderr);
    assert_eq!(std::fs::read(&output).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(output.parent().unwrap()).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no temp file left: {leftovers:?}");
}
