//! Run a Python oracle script from tests/oracle/ with the project's venv:
//! JSON on stdin, JSON on stdout. A missing venv is a failure that says how
//! to fix it, never a skip.
#![allow(dead_code)] // each test binary uses a different part of `common`

use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

pub fn run(script: &str, input: &Value) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    assert!(python.exists(), "{} is missing: run scripts/install-deps to create the Python venv the oracle tests need", python.display());
    let mut child = Command::new(&python)
        .arg(root.join("tests/oracle").join(script))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    // Write from a thread so a large answer cannot deadlock against a full stdin pipe.
    let mut stdin = child.stdin.take().unwrap();
    let payload = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(payload.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "oracle {script} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("oracle {script} printed no JSON: {e}"))
}
