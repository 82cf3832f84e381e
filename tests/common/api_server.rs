//! A small in-test Exoscale API v2 server on `127.0.0.1:0`: the one test
//! double allowed for the cloud. It verifies every request's EXO2-HMAC-SHA256
//! signature with `autoscaler::exoscale::sign::verify` (403
//! `{"message":"Invalid request signature"}` otherwise), keeps one simulated
//! instance pool, records every request, and can be scripted to misbehave.
//!
//! ```ignore
//! mod common;
//! use common::api_server::{ApiServer, OpOutcome};
//! let api = ApiServer::start(2);                 // pool of 2 running members
//! // EXOSCALE_API_ENDPOINT=api.endpoint(), EXOSCALE_KEY=api.key(),
//! // EXOSCALE_SECRET=api.secret(), EXOSCALE_INSTANCEPOOL_ID=api.pool_id()
//! api.fail_next(2, 503, None);                   // next 2 answers: 503
//! api.fail_next(1, 429, Some("1"));              // then one 429, Retry-After: 1
//! api.delay_next(1, Duration::from_secs(3));     // next request waits 3 s first
//! api.fail_next_on(":scale", 1, 503, Some("0"));  // only the next scale call: 503
//! api.hold_reply_on(":scale", 1, Duration::from_secs(9)); // apply, then answer 9 s late
//! api.set_member_state(0, "starting");           // first member is still booting
//! api.script_operations(OpOutcome::pending_then(2, "success"));
//! assert_eq!(api.pool().size, 2);
//! let reqs = api.requests();                     // method, path, query, body, status, response, at
//! ```
//!
//! Routes (paths under `/v2`):
//! - `GET  /instance-pool/{id}` → the pool (`id, name, size, state, instances[{id}], ...`);
//! - `PUT  /instance-pool/{id}:scale` body `{"size":N}` → a `pending` operation;
//! - `PUT  /instance-pool/{id}:evict` body `{"instances":[ids]}` → a `pending` operation;
//! - `GET  /instance?manager-id=&manager-type=instance-pool` → `{"instances":[...]}`;
//! - `GET  /operation/{id}` → the operation, advanced by one poll.
//!
//! An unknown pool is 404 `{"message":"Instance pool not found"}`, an unknown
//! route 404, a bad body 400. Scaling and evicting change the pool at once
//! (as Exoscale's reported `size` does) unless the scripted outcome is not
//! `success`, in which case the pool stays as it was. The pool's `state` is
//! `running` unless a test sets it ([`ApiServer::set_pool_state`]). Members
//! get public IPs `127.0.3.N` (loopback; change with
//! [`ApiServer::set_member_net`] before scaling). Order of handling for one
//! request: scripted delay, scripted fault status, signature, route, held
//! reply. Members are created a minute apart (`created-at`). The server stops (and its thread ends) when the value is dropped.
#![allow(dead_code)] // each test binary uses a different part of it

use autoscaler::exoscale::sign;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const DEFAULT_POOL_ID: &str = "f81d4fae-7dec-11d0-a765-00a0c91e6bf6";

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Escaped path, e.g. `/v2/instance-pool/<id>:scale`.
    pub path: String,
    pub query: String,
    pub body: String,
    pub authorization: Option<String>,
    /// The status and JSON body answered.
    pub status: u16,
    pub response: String,
    /// When the request arrived.
    pub at: Instant,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub public_ip: String,
    pub state: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub id: String,
    pub size: u64,
    pub state: String,
    pub members: Vec<Member>,
}

/// How the next operations (from `:scale` / `:evict`) behave: they answer
/// `pending` for `pending_polls` GETs, then `final_state` (`success`,
/// `failure`, `timeout`); `final_state: None` stays pending for ever.
#[derive(Debug, Clone, PartialEq)]
pub struct OpOutcome {
    pub pending_polls: u32,
    pub final_state: Option<String>,
}

impl OpOutcome {
    pub fn pending_then(polls: u32, state: &str) -> OpOutcome {
        OpOutcome { pending_polls: polls, final_state: Some(state.to_string()) }
    }
    pub fn never_ends() -> OpOutcome {
        OpOutcome { pending_polls: 0, final_state: None }
    }
}

impl Default for OpOutcome {
    fn default() -> Self {
        OpOutcome::pending_then(0, "success")
    }
}

struct Fault {
    status: u16,
    retry_after: Option<String>,
    /// Only requests whose path contains this; `None` for any request.
    on: Option<String>,
}

/// Handle the request, then wait before answering (the client sees a slow
/// reply to a change that already happened).
struct Hold {
    on: String,
    delay: Duration,
}

struct Op {
    id: String,
    polls_left: u32,
    final_state: Option<String>,
    command: &'static str,
}

struct State {
    pool: Pool,
    member_net: String,
    next_member: u32,
    faults: VecDeque<Fault>,
    delays: VecDeque<Duration>,
    holds: Vec<Hold>,
    outcome: OpOutcome,
    ops: Vec<Op>,
    requests: Vec<Recorded>,
    serial: u64,
}

pub struct ApiServer {
    addr: String,
    key: String,
    secret: String,
    state: Arc<Mutex<State>>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl ApiServer {
    /// A server holding pool [`DEFAULT_POOL_ID`] with `size` running members.
    pub fn start(size: u64) -> ApiServer {
        ApiServer::start_with(DEFAULT_POOL_ID, size)
    }

    pub fn start_with(pool_id: &str, size: u64) -> ApiServer {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0"));
        let addr = server.server_addr().to_ip().expect("an IP listener").to_string();
        let mut state = State {
            pool: Pool { id: pool_id.to_string(), size: 0, state: "running".into(), members: Vec::new() },
            member_net: "127.0.3".into(),
            next_member: 0,
            faults: VecDeque::new(),
            delays: VecDeque::new(),
            holds: Vec::new(),
            outcome: OpOutcome::default(),
            ops: Vec::new(),
            requests: Vec::new(),
            serial: 0,
        };
        state.resize(size);
        let state = Arc::new(Mutex::new(state));
        let key = "EXOtestkey0000000000000000".to_string();
        let secret = "test-secret-for-the-in-test-api-server-0000".to_string();
        let thread = {
            let (server, state, key, secret) = (server.clone(), state.clone(), key.clone(), secret.clone());
            thread::spawn(move || {
                // recv fails once `unblock` is called on drop.
                while let Ok(request) = server.recv() {
                    let (state, key, secret) = (state.clone(), key.clone(), secret.clone());
                    // One thread per request, so a scripted delay does not hold up the others.
                    thread::spawn(move || handle(request, &state, &key, &secret));
                }
            })
        };
        ApiServer { addr, key, secret, state, server, thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT/v2`, for EXOSCALE_API_ENDPOINT.
    pub fn endpoint(&self) -> String {
        format!("http://{}/v2", self.addr)
    }
    pub fn addr(&self) -> &str {
        &self.addr
    }
    pub fn key(&self) -> &str {
        &self.key
    }
    pub fn secret(&self) -> &str {
        &self.secret
    }
    pub fn pool_id(&self) -> String {
        self.lock().pool.id.clone()
    }
    pub fn pool(&self) -> Pool {
        self.lock().pool.clone()
    }
    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }
    pub fn set_pool_state(&self, state: &str) {
        self.lock().pool.state = state.to_string();
    }
    /// Set the size directly (as if changed outside the autoscaler).
    pub fn set_size(&self, size: u64) {
        self.lock().resize(size);
    }
    /// First three octets of the members' public IPs, e.g. `127.0.4`.
    pub fn set_member_net(&self, net: &str) {
        self.lock().member_net = net.to_string();
    }
    /// The next `n` requests are answered `status` (JSON `{"message"}` body),
    /// with a `Retry-After` header when given. Queues after earlier faults.
    pub fn fail_next(&self, n: usize, status: u16, retry_after: Option<&str>) {
        self.queue_faults(None, n, status, retry_after);
    }
    /// Like [`ApiServer::fail_next`], for the next `n` requests whose path
    /// contains `on` (e.g. `":scale"`); other requests pass.
    pub fn fail_next_on(&self, on: &str, n: usize, status: u16, retry_after: Option<&str>) {
        self.queue_faults(Some(on), n, status, retry_after);
    }
    fn queue_faults(&self, on: Option<&str>, n: usize, status: u16, retry_after: Option<&str>) {
        let mut s = self.lock();
        for _ in 0..n {
            s.faults.push_back(Fault { status, retry_after: retry_after.map(str::to_string), on: on.map(str::to_string) });
        }
    }
    /// The next `n` requests whose path contains `on` are carried out at
    /// once but answered only after `delay` (to kill a client mid-call).
    pub fn hold_reply_on(&self, on: &str, n: usize, delay: Duration) {
        let mut s = self.lock();
        for _ in 0..n {
            s.holds.push(Hold { on: on.to_string(), delay });
        }
    }
    /// Set the state of the `index`-th member (0 = oldest), e.g. `starting`.
    pub fn set_member_state(&self, index: usize, state: &str) {
        self.lock().pool.members[index].state = state.to_string();
    }
    /// The next `n` requests wait `delay` before being handled.
    pub fn delay_next(&self, n: usize, delay: Duration) {
        let mut s = self.lock();
        s.delays.extend(std::iter::repeat_n(delay, n));
    }
    /// How operations created from now on behave.
    pub fn script_operations(&self, outcome: OpOutcome) {
        self.lock().outcome = outcome;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl State {
    fn uuid(&mut self, kind: u16) -> String {
        self.serial += 1;
        format!("{:08x}-{:04x}-4000-8000-{:012x}", 0x5eed_0000u32 + kind as u32, kind, self.serial)
    }

    fn resize(&mut self, size: u64) {
        while (self.pool.members.len() as u64) < size {
            self.next_member += 1;
            let id = self.uuid(1);
            let n = self.next_member;
            self.pool.members.push(Member {
                name: format!("pool-{}", &id[id.len() - 5..]),
                id,
                public_ip: format!("{}.{}", self.member_net, n),
                state: "running".into(),
                created_at: format!("2026-12-04T{:02}:{:02}:00Z", (n / 60) % 24, n % 60),
            });
        }
        self.pool.members.truncate(size as usize);
        self.pool.size = size;
    }

    fn new_op(&mut self, command: &'static str) -> (Value, bool) {
        let id = self.uuid(2);
        let outcome = self.outcome.clone();
        let succeeds = outcome.final_state.as_deref() == Some("success");
        self.ops.push(Op { id: id.clone(), polls_left: outcome.pending_polls, final_state: outcome.final_state, command });
        let op = self.op_json(self.ops.len() - 1, "pending");
        (op, succeeds)
    }

    fn op_json(&self, index: usize, state: &str) -> Value {
        let op = &self.ops[index];
        let pool = &self.pool.id;
        let mut v = json!({
            "id": op.id,
            "state": state,
            "reference": {"id": pool, "link": format!("/v2/instance-pool/{pool}"), "command": op.command},
        });
        if state != "pending" && state != "success" {
            v["reason"] = json!("unavailable");
            v["message"] = json!("the scripted operation did not succeed");
        }
        v
    }

    fn pool_json(&self) -> Value {
        let p = &self.pool;
        json!({
            "id": p.id,
            "name": "autoscaled-pool",
            "size": p.size,
            "state": p.state,
            "instances": p.members.iter().map(|m| json!({"id": m.id})).collect::<Vec<_>>(),
            "instance-type": {"id": "b6cd1ff5-3a2f-4e9d-a4d1-8988c1191fe8"},
            "template": {"id": "35bfa9ff-1d23-4a4a-a3dd-6b8f8c6ac5d6"},
            "disk-size": 10,
            "instance-prefix": "pool",
            "ipv6-enabled": false,
            "public-ip-assignment": "inet4",
        })
    }

    fn member_json(&self, m: &Member) -> Value {
        json!({
            "id": m.id,
            "name": m.name,
            "state": m.state,
            "public-ip": m.public_ip,
            "public-ip-assignment": "inet4",
            "manager": {"id": self.pool.id, "type": "instance-pool"},
            "created-at": m.created_at,
            "instance-type": {"id": "b6cd1ff5-3a2f-4e9d-a4d1-8988c1191fe8"},
            "template": {"id": "35bfa9ff-1d23-4a4a-a3dd-6b8f8c6ac5d6"},
            "labels": {},
        })
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn handle(mut request: tiny_http::Request, state: &Mutex<State>, key: &str, secret: &str) {
    let at = Instant::now();
    let mut body = Vec::new();
    let _ = request.as_reader().read_to_end(&mut body);
    let method = request.method().as_str().to_string();
    let (path, query) = sign::split_url(request.url());
    let (path, query) = (path.to_string(), query.to_string());
    let authorization = request.headers().iter().find(|h| h.field.equiv("Authorization")).map(|h| h.value.as_str().to_string());

    let delay = lock(state).delays.pop_front();
    if let Some(d) = delay {
        thread::sleep(d);
    }
    let mut retry_after = None;
    let fault = {
        let mut s = lock(state);
        let index = s.faults.iter().position(|f| f.on.as_deref().is_none_or(|on| path.contains(on)));
        index.and_then(|i| s.faults.remove(i))
    };
    let (status, answer) = if let Some(f) = fault {
        retry_after = f.retry_after;
        (f.status, json!({"message": format!("scripted {} from the test server", f.status)}))
    } else {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        match sign::verify(authorization.as_deref(), key, secret, &method, &path, &query, &body, now) {
            Err(_) => (403, json!({"message": "Invalid request signature"})),
            Ok(()) => route(&mut lock(state), &method, &path, &query, &body),
        }
    };
    let hold = {
        let mut s = lock(state);
        let index = s.holds.iter().position(|h| path.contains(&h.on));
        index.map(|i| s.holds.remove(i).delay)
    };
    lock(state).requests.push(Recorded {
        method,
        path,
        query,
        body: String::from_utf8_lossy(&body).into_owned(),
        authorization,
        status,
        response: answer.to_string(),
        at,
    });
    if let Some(d) = hold {
        thread::sleep(d);
    }
    let mut response = tiny_http::Response::from_string(answer.to_string())
        .with_status_code(status)
        .with_header(tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap());
    if let Some(ra) = retry_after {
        response = response.with_header(tiny_http::Header::from_bytes("Retry-After", ra).unwrap());
    }
    // The client may have given up already (read timeout); nothing to do then.
    let _ = request.respond(response);
}

fn not_found(what: &str) -> (u16, Value) {
    (404, json!({"message": format!("{what} not found")}))
}

fn route(s: &mut State, method: &str, path: &str, query: &str, body: &[u8]) -> (u16, Value) {
    let Some(rest) = path.strip_prefix("/v2/") else { return not_found("Resource") };
    if let Some(target) = rest.strip_prefix("instance-pool/") {
        let (id, action) = target.split_once(':').unwrap_or((target, ""));
        if id != s.pool.id {
            return not_found("Instance pool");
        }
        let body: Value = match (method, action) {
            ("GET", "") => return (200, s.pool_json()),
            ("PUT", "scale" | "evict") => match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => return (400, json!({"message": format!("invalid JSON body: {e}")})),
            },
            _ => return not_found("Route"),
        };
        return if action == "scale" { scale(s, &body) } else { evict(s, &body) };
    }
    if rest == "instance" && method == "GET" {
        let pairs: Vec<(&str, &str)> = query.split('&').filter_map(|p| p.split_once('=')).collect();
        let wanted = |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        let of_pool = wanted("manager-id").is_none_or(|id| id == s.pool.id) && wanted("manager-type").is_none_or(|t| t == "instance-pool");
        let instances: Vec<Value> = if of_pool { s.pool.members.iter().map(|m| s.member_json(m)).collect() } else { vec![] };
        return (200, json!({ "instances": instances }));
    }
    if let (Some(id), "GET") = (rest.strip_prefix("operation/"), method) {
        let Some(index) = s.ops.iter().position(|o| o.id == id) else { return not_found("Operation") };
        let op = &mut s.ops[index];
        let state = if op.polls_left > 0 {
            op.polls_left -= 1;
            "pending".to_string()
        } else {
            op.final_state.clone().unwrap_or_else(|| "pending".into())
        };
        return (200, s.op_json(index, &state));
    }
    not_found("Route")
}

fn scale(s: &mut State, body: &Value) -> (u16, Value) {
    let Some(size) = body.get("size").and_then(Value::as_u64) else {
        return (400, json!({"message": "size: required non-negative integer"}));
    };
    let (op, succeeds) = s.new_op("scale-instance-pool");
    if succeeds {
        s.resize(size);
    }
    (200, op)
}

fn evict(s: &mut State, body: &Value) -> (u16, Value) {
    let Some(ids) = body.get("instances").and_then(Value::as_array) else {
        return (400, json!({"message": "instances: required array of instance ids"}));
    };
    let ids: Vec<&str> = ids.iter().filter_map(Value::as_str).collect();
    if let Some(unknown) = ids.iter().find(|id| !s.pool.members.iter().any(|m| m.id == **id)) {
        return (400, json!({"message": format!("instance {unknown} is not a member of the pool")}));
    }
    let (op, succeeds) = s.new_op("evict-instance-pool-members");
    if succeeds {
        s.pool.members.retain(|m| !ids.contains(&m.id.as_str()));
        s.pool.size = s.pool.members.len() as u64;
    }
    (200, op)
}
