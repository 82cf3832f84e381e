//! Introspection and faults, under `/twin` on the API port (no auth,
//! loopback clients only): `GET /twin/status`, `POST /twin/faults`; and the
//! `twin status` command that prints the status for a person.

use crate::api::{error, Reply};
use crate::faults::FaultRequest;
use crate::http;
use crate::world::Twin;
use serde_json::{json, Value};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::time::Duration;

pub fn handle(twin: &Twin, method: &str, path: &str, body: Option<&[u8]>) -> Reply {
    match (method, path) {
        ("GET", "/twin/status") => Reply { status: 200, body: status_json(twin), retry_after: None },
        ("POST", "/twin/faults") => match body.map(serde_json::from_slice::<FaultRequest>) {
            None => error(413, "fault request too large"),
            Some(Err(e)) => error(400, &format!("invalid fault request: {e}")),
            Some(Ok(req)) => set_faults(twin, &req),
        },
        _ => error(404, "control endpoints: GET /twin/status, POST /twin/faults"),
    }
}

fn set_faults(twin: &Twin, req: &FaultRequest) -> Reply {
    if let Err(e) = req.validate() {
        return error(400, &e);
    }
    if let Some(id) = &req.kill_member {
        if let Err(e) = twin.kill(id) {
            return error(404, &e);
        }
    }
    let mut st = twin.lock();
    st.faults.apply(req);
    crate::log::info("faults.set", &[("request", &serde_json::to_string(req).unwrap_or_default())]);
    Reply { status: 200, body: json!({ "faults": st.faults.describe() }), retry_after: None }
}

pub fn status_json(twin: &Twin) -> Value {
    let st = twin.lock();
    let members: Vec<Value> = st
        .pool
        .members
        .iter()
        .map(|m| {
            let svc = st.members.get(&m.id);
            json!({
                "id": m.id,
                "name": m.name,
                "public_ip": m.ip.to_string(),
                "state": m.state.as_str(),
                "alive": svc.is_some_and(|s| s.is_alive()),
                "cpu": svc.map_or(0.0, |s| s.cpu()),
                "in_flight": svc.map_or(0, |s| s.in_flight()),
                "requests_served": svc.map_or(0, |s| s.requests_served()),
            })
        })
        .collect();
    let healthy: Vec<String> = twin.nlb.healthy().into_iter().map(|(id, _)| id).collect();
    json!({
        "time_factor": twin.clock.factor(),
        "pool": { "id": st.pool.id, "size": st.pool.size, "state": st.pool.state() },
        "members": members,
        "nlb": {
            "requests": twin.nlb.requests.load(Ordering::Relaxed),
            "no_backend": twin.nlb.no_backend.load(Ordering::Relaxed),
            "healthy": healthy,
        },
        "faults": st.faults.describe(),
        "api_calls": st.api_calls,
    })
}

/// Fetch `{control_url}/status`.
pub fn fetch_status(control_url: &str) -> Result<Value, String> {
    let rest = control_url
        .strip_prefix("http://")
        .ok_or_else(|| format!("--control-url {control_url:?}: expected http://HOST:PORT/twin as printed by `twin serve`"))?;
    let (hostport, base) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    let addr: SocketAddr = hostport
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("--control-url {control_url:?}: cannot resolve {hostport}"))?;
    let path = format!("/{}/status", base.trim_end_matches('/'));
    let (status, body) = http::get(addr, hostport, &path, Duration::from_secs(5))
        .map_err(|e| format!("cannot reach the twin at {control_url} ({e}); is `twin serve` running?"))?;
    if status != 200 {
        return Err(format!("GET {control_url}/status answered {status}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("GET {control_url}/status: invalid JSON ({e})"))
}

/// The status as a person reads it.
pub fn render(status: &Value) -> String {
    let mut out = String::new();
    let pool = &status["pool"];
    out += &format!(
        "pool {}  size {}  state {}  time factor {}\n",
        pool["id"].as_str().unwrap_or("?"),
        pool["size"],
        pool["state"].as_str().unwrap_or("?"),
        status["time_factor"]
    );
    out += &format!("{:<38} {:<15} {:<11} {:>5} {:>9} {:>9}\n", "member", "public ip", "state", "cpu", "in flight", "served");
    for m in status["members"].as_array().into_iter().flatten() {
        let state = if m["alive"] == false && m["state"] == "running" { "dead" } else { m["state"].as_str().unwrap_or("?") };
        out += &format!(
            "{:<38} {:<15} {:<11} {:>4.0}% {:>9} {:>9}\n",
            m["id"].as_str().unwrap_or("?"),
            m["public_ip"].as_str().unwrap_or("?"),
            state,
            m["cpu"].as_f64().unwrap_or(0.0) * 100.0,
            m["in_flight"].as_u64().unwrap_or(0),
            m["requests_served"].as_u64().unwrap_or(0)
        );
    }
    out += &format!("nlb: {} connections forwarded, {} without a healthy member\n", status["nlb"]["requests"], status["nlb"]["no_backend"]);
    let calls = status["api_calls"].as_array().map_or(&[][..], |v| v.as_slice());
    out += &format!("api calls: {} (last 20 below)\n", calls.len());
    for c in calls.iter().rev().take(20).rev() {
        out += &format!(
            "  {:.3} {:<4} {} -> {}\n",
            c["at"].as_f64().unwrap_or(0.0),
            c["method"].as_str().unwrap_or("?"),
            c["path"].as_str().unwrap_or("?"),
            c["status"]
        );
    }
    out
}
