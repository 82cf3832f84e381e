//! Grafana HMAC verification on the real listener process.

mod listener_harness;

use autoscaler::webhook::auth::sign;
use listener_harness::{markers_on_disk, Listener};

const SECRET: &str = "hmac-test-secret-7f3a";
const BODY: &str = r#"{"version":"1","status":"firing","alerts":[{"status":"firing","fingerprint":"f1","values":{"cpu":88}}]}"#;
const SIG: &str = "X-Grafana-Alerting-Signature";
const TS: &str = "X-Grafana-Alerting-Timestamp";

type Headers<'a> = Vec<(&'a str, &'a str)>;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[test]
fn signed_requests_pass_and_every_bad_one_gets_401_and_writes_nothing() {
    let l = Listener::start("hmac", &[("AUTOSCALER_WEBHOOK_SECRET", SECRET)]);
    let ts = now().to_string();
    let good = sign(SECRET.as_bytes(), Some(&ts), BODY.as_bytes());
    let reply = l.send("POST", "/up", &[(SIG, &good), (TS, &ts)], BODY.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(markers_on_disk(&l.markers_dir()).len(), 1);

    let old = (now() - 301).to_string();
    let old_sig = sign(SECRET.as_bytes(), Some(&old), BODY.as_bytes());
    let body_only = sign(SECRET.as_bytes(), None, BODY.as_bytes());
    let wrong_key = sign(b"other", Some(&ts), BODY.as_bytes());
    let tampered = BODY.replace("88", "99");
    let cases: [(&str, Headers, &str, &str); 6] = [
        ("no signature", vec![(TS, &ts)], BODY, "missing_signature"),
        ("no timestamp", vec![(SIG, &body_only)], BODY, "missing_timestamp"),
        ("expired", vec![(SIG, &old_sig), (TS, &old)], BODY, "expired_timestamp"),
        ("wrong key", vec![(SIG, &wrong_key), (TS, &ts)], BODY, "bad_signature"),
        ("tampered body", vec![(SIG, &good), (TS, &ts)], &tampered, "bad_signature"),
        ("empty GET", vec![], "", "missing_signature"),
    ];
    for (what, headers, body, reason) in cases {
        let reply = l.send("POST", "/up", &headers, body.as_bytes());
        assert_eq!(reply.status, 401, "{what}: {reply:?}");
        l.wait_log(&format!("reason={reason}"));
    }
    assert_eq!(markers_on_disk(&l.markers_dir()).len(), 1, "a rejected request wrote a marker");
    let logs = [l.stdout(), l.stderr()].concat().join("\n");
    assert!(!logs.contains(SECRET), "the secret leaked into the log");
    assert!(!logs.contains(&good), "a signature leaked into the log");
    // Health and metrics stay open for the local scraper.
    assert_eq!(l.send("GET", "/healthz", &[], b"").status, 200);
    let metrics = l.send("GET", "/metrics", &[], b"").body;
    assert!(metrics.contains("autoscaler_webhook_rejects_total{reason=\"bad_signature\"} 2"), "{metrics}");
}

#[test]
fn body_only_signing_needs_the_explicit_opt_in_and_custom_headers_work() {
    let l = Listener::start(
        "hmac-body",
        &[
            ("AUTOSCALER_WEBHOOK_SECRET", SECRET),
            ("AUTOSCALER_WEBHOOK_ALLOW_UNTIMESTAMPED", "true"),
            ("AUTOSCALER_WEBHOOK_SIGNATURE_HEADER", "X-Sig"),
            ("AUTOSCALER_WEBHOOK_TIMESTAMP_HEADER", "X-Sig-Time"),
        ],
    );
    let body_only = sign(SECRET.as_bytes(), None, BODY.as_bytes());
    assert_eq!(l.send("POST", "/up", &[("x-sig", &body_only)], BODY.as_bytes()).status, 200);
    // The default header name is not read when another is configured.
    assert_eq!(l.send("POST", "/up", &[(SIG, &body_only)], BODY.as_bytes()).status, 401);
    // A timestamp, when sent, is still checked.
    let old = (now() - 1000).to_string();
    let old_sig = sign(SECRET.as_bytes(), Some(&old), BODY.as_bytes());
    assert_eq!(l.send("POST", "/up", &[("X-Sig", &old_sig), ("X-Sig-Time", &old)], BODY.as_bytes()).status, 401);
    assert_eq!(markers_on_disk(&l.markers_dir()).len(), 1);
}
