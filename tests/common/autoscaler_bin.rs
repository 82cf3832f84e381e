//! Run the real `autoscaler` binary against an [`ApiServer`] with its own
//! temporary state directory (removed on drop), and look at what it left:
//! pending markers, decision records, state.
#![allow(dead_code)] // each test binary uses a different part of it

use super::api_server::ApiServer;
use autoscaler::markers::{Direction, Marker, Spool};
use chrono::Utc;
use serde_json::Value;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Longest any single run may take before the test kills it and fails.
const RUN_LIMIT: Duration = Duration::from_secs(90);

pub struct Autoscaler {
    pub state: PathBuf,
    env: Vec<(String, String)>,
}

impl Autoscaler {
    /// Credentials, zone, pool and endpoint of `api`; a fresh state dir.
    pub fn new(api: &ApiServer) -> Autoscaler {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let state = std::env::temp_dir().join(format!(
            "autoscaler-it-{}-{n}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or(0)
        ));
        let env = [
            ("EXOSCALE_KEY", api.key().to_string()),
            ("EXOSCALE_SECRET", api.secret().to_string()),
            ("EXOSCALE_ZONE", "at-vie-1".to_string()),
            ("EXOSCALE_INSTANCEPOOL_ID", api.pool_id()),
            ("EXOSCALE_API_ENDPOINT", api.endpoint()),
            ("AUTOSCALER_STATE_DIR", state.display().to_string()),
        ];
        Autoscaler { state, env: env.into_iter().map(|(k, v)| (k.to_string(), v)).collect() }
    }

    pub fn set(mut self, var: &str, value: &str) -> Autoscaler {
        self.env.push((var.to_string(), value.to_string()));
        self
    }

    /// The command with only our variables (nothing leaks in from the
    /// developer's shell), output captured.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_autoscaler"));
        cmd.args(args).env_clear().envs(self.env.iter().map(|(k, v)| (k, v))).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args).spawn().expect("start autoscaler")
    }

    /// Run to completion (killed and failed after [`RUN_LIMIT`]).
    pub fn run(&self, args: &[&str]) -> Run {
        finish(self.spawn(args))
    }

    pub fn spool(&self) -> Spool {
        Spool::open(&self.state).expect("open spool")
    }

    /// Put `count` markers received `age_s` seconds ago into the spool, as
    /// the listener would leave them; returns their ids (in arrival order).
    /// Written without fsync: test setup needs no durability, and 10,000
    /// fsyncs would dominate the test's run time.
    pub fn add_markers(&self, direction: Direction, count: usize, cpu: Option<f64>, demand: Option<f64>, age_s: i64) -> Vec<String> {
        let received_at = Utc::now() - chrono::Duration::seconds(age_s);
        let marker = Marker {
            direction,
            received_at,
            source: "grafana".into(),
            alertname: Some(format!("PoolCpu{direction}")),
            fingerprint: None,
            starts_at: None,
            cpu,
            demand,
        };
        let body = serde_json::to_vec(&marker).unwrap();
        let spool = self.spool();
        (0..count)
            .map(|_| {
                let n = COUNTER.fetch_add(1, Ordering::Relaxed);
                let id = format!("{:013}-{n:06}-{}-{direction}", received_at.timestamp_millis(), std::process::id());
                std::fs::write(spool.dir().join(format!("{id}.json")), &body).expect("write marker");
                id
            })
            .collect()
    }

    pub fn pending(&self) -> Vec<String> {
        self.spool().list().expect("list markers").0.into_iter().map(|m| m.id).collect()
    }

    pub fn decisions(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.state.join("decisions.jsonl")).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).expect("decision record is JSON")).collect()
    }

    pub fn state_json(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.state.join("state.json")).expect("state.json")).expect("state is JSON")
    }
}

impl Drop for Autoscaler {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The `event=tick.decision` line, which every tick prints exactly once.
    pub fn decision_line(&self) -> String {
        let lines: Vec<&str> = self.stdout.lines().filter(|l| l.contains("event=tick.decision")).collect();
        assert_eq!(lines.len(), 1, "exactly one decision line expected:\n{}\n{}", self.stdout, self.stderr);
        lines[0].to_string()
    }
}

/// Wait for a started command, bounded by [`RUN_LIMIT`]. Output is read
/// on threads so a chatty child never blocks on a full pipe.
pub fn finish(mut child: Child) -> Run {
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = read(Box::new(child.stderr.take().expect("piped stderr")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("autoscaler ran longer than {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run { code: status.code().unwrap_or(-1), stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() }
}

/// The PUT requests the server received (scale and evict calls).
pub fn puts(api: &ApiServer) -> Vec<super::api_server::Recorded> {
    api.requests().into_iter().filter(|r| r.method == "PUT").collect()
}
