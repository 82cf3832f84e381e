//! The command line: help, clear exit-2 errors for bad flags, a clash on
//! the member network, and `twin status` for a person and as JSON.

mod common;
use common::Twin;
use std::process::{Command, Output};

fn twin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin")).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_lists_the_contract_flags() {
    let o = twin(&["serve", "--help"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--api-addr",
        "--nlb-addr",
        "--member-net",
        "--key",
        "--secret",
        "--zone",
        "--pool-size",
        "--boot-seconds",
        "--time-factor",
        "--boot-failures",
    ] {
        assert!(text.contains(flag), "{flag} missing from --help");
    }
    assert!(twin(&["status", "--help"]).status.success());
}

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    for (args, needle) in [
        (&["serve", "--bogus", "1"][..], "--bogus"),
        (&["serve", "--time-factor", "0"], "--time-factor"),
        (&["serve", "--pool-size", "-1"], "--pool-size"),
        (&["serve", "--zone", "mars-1"], "--zone"),
        (&["serve", "--member-net", "10.0.1"], "--member-net"),
        (&["serve", "--api-error-status", "503"], "count"),
        (&["serve", "--boot-seconds"], "needs a value"),
        (&["status"], "--control-url"),
        (&[], "expected a command"),
    ] {
        let o = twin(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "no JSON line on failure");
    }
}

#[test]
fn a_second_twin_on_the_same_member_net_fails_clearly() {
    let first = Twin::start(&[]);
    let o = twin(&["serve", "--member-net", &first.net]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("pick another"), "{}", stderr(&o));
}

#[test]
fn status_prints_members_and_calls_and_fails_with_1_when_unreachable() {
    let t = Twin::start(&["--pool-size", "2"]);
    t.call("GET", "/v2/instance-pool", "");
    let o = twin(&["status", "--control-url", &t.s("control_url")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains(&t.pool_id()) && text.contains(&format!("{}.2", t.net)), "{text}");
    assert!(text.contains("GET  /v2/instance-pool -> 200"), "{text}");
    let o = twin(&["status", "--json", "--control-url", &t.s("control_url")]);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["members"].as_array().unwrap().len(), 2);
    drop(t);
    let o = twin(&["status", "--control-url", "http://127.0.0.1:1/twin"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is `twin serve` running?"));
}
