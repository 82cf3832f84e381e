//! `autoscaler status`, the built binary, against the signature-checking
//! in-test API server: it shows the pool size, or one clear line and the
//! right exit code. (Issue C extends `status`; this stays about size/errors.)

mod common;

use common::api_server::ApiServer;
use std::process::{Command, Output};

fn status(api: &ApiServer, secret: &str, unset: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autoscaler"));
    cmd.arg("status").env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (var, value) in [
        ("EXOSCALE_API_ENDPOINT", api.endpoint()),
        ("EXOSCALE_KEY", api.key().to_string()),
        ("EXOSCALE_SECRET", secret.to_string()),
        ("EXOSCALE_ZONE", "at-vie-1".to_string()),
        ("EXOSCALE_INSTANCEPOOL_ID", api.pool_id()),
    ] {
        if !unset.contains(&var) {
            cmd.env(var, value);
        }
    }
    cmd.output().expect("run autoscaler status")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn shows_the_pool_size() {
    let api = ApiServer::start(4);
    let out = status(&api, api.secret(), &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "exit {:?}, stderr: {}", out.status, text(&out.stderr));
    let size_line = stdout.lines().find(|l| l.starts_with("size")).unwrap_or_else(|| panic!("no size line in:\n{stdout}"));
    assert_eq!(size_line.split_whitespace().last(), Some("4"), "{stdout}");
    assert!(!stdout.contains(api.secret()) && !text(&out.stderr).contains(api.secret()));
    // It really asked the API (the pool, then its members), with signatures the server accepted.
    let reqs = api.requests();
    assert!(!reqs.is_empty() && reqs.iter().all(|r| r.status == 200), "{reqs:?}");
    assert!(reqs[0].path.ends_with(&api.pool_id()), "{reqs:?}");

    api.set_size(7);
    let again = text(&status(&api, api.secret(), &[]).stdout);
    assert!(again.lines().any(|l| l.starts_with("size") && l.ends_with(" 7")), "{again}");
}

#[test]
fn a_wrong_secret_is_one_clear_line_and_exit_1() {
    let api = ApiServer::start(2);
    let wrong = "an-entirely-wrong-secret-value";
    let out = status(&api, wrong, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line, got:\n{stderr}");
    assert!(stderr.contains("403") && stderr.contains("Invalid request signature") && stderr.contains("EXOSCALE_SECRET"), "{stderr}");
    assert!(!stderr.contains(wrong) && !text(&out.stdout).contains(wrong), "the secret leaked");
    assert!(text(&out.stdout).is_empty());
}

#[test]
fn a_missing_variable_is_exit_2_naming_it() {
    let api = ApiServer::start(1);
    for var in ["EXOSCALE_INSTANCEPOOL_ID", "EXOSCALE_ZONE", "EXOSCALE_SECRET"] {
        let out = status(&api, api.secret(), &[var]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{var}: {stderr}");
        assert!(stderr.contains(var), "{var} not named: {stderr}");
    }
    assert!(api.requests().is_empty(), "no API call without a complete configuration");
}
