//! `autoscaler listen`: accept loop, routes, limits, responses, shutdown.
//!
//! One thread per connection (at most [`MAX_CONNECTIONS`] at once; beyond
//! that an immediate 503), each with a whole-request deadline, so a stalled
//! client costs one thread for at most `AUTOSCALER_WEBHOOK_READ_TIMEOUT`.
//! A 2xx on /up or /down is sent only after the markers are on disk.

use super::auth::Verifier;
use super::http::{self, Conn, Head, ReadError, Response};
use super::payload;
use crate::config::{Env, ListenConfig};
use crate::failure::Failure;
use crate::log;
use crate::markers::{Direction, Spool};
use crate::metrics::{Metrics, MARKERS, REJECTS, WEBHOOKS};
use chrono::Utc;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

pub const MAX_BODY_BYTES: usize = 1024 * 1024;
pub const MAX_CONNECTIONS: usize = 64;
/// In-flight requests get this long to finish after SIGTERM (exit within 2 s).
const DRAIN: Duration = Duration::from_millis(1500);

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" {
    fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
}

extern "C" fn on_signal(_: i32) {
    // Only an atomic store: the one thing safe in a signal handler.
    STOP.store(true, Ordering::SeqCst);
}

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

struct Ctx {
    cfg: ListenConfig,
    spool: Spool,
    metrics: Metrics,
    in_flight: AtomicUsize,
}

pub fn run(env: &Env) -> Result<(), Failure> {
    let cfg = ListenConfig::from_env(env)?;
    let spool = Spool::open(&cfg.state_dir).map_err(|e| {
        Failure::Runtime(format!(
            "cannot open the marker spool in {}: {e} (check AUTOSCALER_STATE_DIR exists and is writable by this user)",
            cfg.state_dir.display()
        ))
    })?;
    // Nothing of ours is mid-write yet, so every temp file is a crash leftover.
    let cleaned = spool.clean_temp(Duration::ZERO).map_err(|e| Failure::Runtime(format!("cannot clean {}: {e}", spool.dir().display())))?;
    let listener = TcpListener::bind((cfg.addr, cfg.port)).map_err(|e| {
        Failure::Runtime(format!("cannot listen on {}:{}: {e} (another listener running? set LISTEN_ADDR/LISTEN_PORT)", cfg.addr, cfg.port))
    })?;
    let local = listener.local_addr().map_err(|e| Failure::Runtime(format!("cannot read the bound address: {e}")))?;
    // SAFETY: `signal` is async-signal-safe to install; the handler only stores an atomic.
    unsafe {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
    }
    log::info(
        "listen.ready",
        &[
            ("addr", &local),
            ("state_dir", &cfg.state_dir.display()),
            ("hmac", &if cfg.webhook_secret.is_some() { "on" } else { "off" }),
            ("temp_cleaned", &cleaned),
        ],
    );
    let ctx = Arc::new(Ctx { cfg, spool, metrics: Metrics::for_listener(), in_flight: AtomicUsize::new(0) });
    spawn_waker(local);
    for incoming in listener.incoming() {
        // Whatever was accepted is served, the waker's empty connection too
        // (it closes without a request, which ends quietly).
        match incoming {
            Ok(stream) => dispatch(&ctx, stream),
            Err(e) => {
                log::warn("listen.accept_failed", &[("error", &e)]);
                thread::sleep(Duration::from_millis(50));
            }
        }
        if STOP.load(Ordering::SeqCst) {
            break;
        }
    }
    drop(listener);
    let deadline = Instant::now() + DRAIN;
    while ctx.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    log::info("listen.stopped", &[("abandoned", &ctx.in_flight.load(Ordering::SeqCst))]);
    Ok(())
}

/// A blocked `accept` does not return on a signal (SA_RESTART), so a
/// watcher connects once to wake it after STOP is set.
fn spawn_waker(local: SocketAddr) {
    let target = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), local.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), local.port()),
        _ => local,
    };
    thread::spawn(move || {
        while !STOP.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(20));
        }
        log::info("listen.stopping", &[]);
        drop(TcpStream::connect_timeout(&target, Duration::from_millis(500)));
    });
}

fn dispatch(ctx: &Arc<Ctx>, stream: TcpStream) {
    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "unknown".into());
    if ctx.in_flight.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
        ctx.in_flight.fetch_sub(1, Ordering::SeqCst);
        ctx.metrics.inc(&REJECTS, &[("reason", "too_many_connections")]);
        log::warn("webhook.rejected", &[("reason", &"too_many_connections"), ("status", &503), ("peer", &peer)]);
        // Non-blocking so a full house cannot stall the accept loop; what
        // the client already sent is drained so closing does not reset it.
        let mut stream = stream;
        let _ = stream.set_nonblocking(true);
        let _ = stream.write_all(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let _ = stream.read(&mut [0u8; 16 * 1024]);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        return;
    }
    let ctx = Arc::clone(ctx);
    thread::spawn(move || {
        let conn = http::connection(stream, ctx.cfg.read_timeout);
        serve(&ctx, conn, &peer);
        ctx.in_flight.fetch_sub(1, Ordering::SeqCst);
    });
}

fn json_error(status: u16, message: &str) -> Response {
    Response::new(status, "application/json", serde_json::json!({ "error": message }).to_string())
}

/// A refused request: counted, logged on one line (never the body), answered.
struct Refusal {
    status: u16,
    reason: &'static str,
    detail: String,
}

fn refuse(status: u16, reason: &'static str, detail: impl Into<String>) -> Refusal {
    Refusal { status, reason, detail: detail.into() }
}

fn serve(ctx: &Ctx, mut conn: Conn, peer: &str) {
    let head = match http::read_head(&mut conn) {
        Ok(head) => head,
        Err(ReadError::Closed) => return,
        Err(e) => {
            let refusal = match e {
                ReadError::Timeout => refuse(408, "timeout", "request head did not arrive in time"),
                ReadError::Bad(what) => refuse(400, "bad_request", what),
                ReadError::TooLarge | ReadError::Closed => refuse(431, "head_too_large", "request head over 16 KiB"),
            };
            return finish(ctx, conn, peer, None, Err(refusal), true);
        }
    };
    let route = match head.path.as_str() {
        "/up" => Some(Direction::Up),
        "/down" => Some(Direction::Down),
        _ => None,
    };
    let allowed = match (head.path.as_str(), route) {
        (_, Some(_)) => "GET, POST, PUT",
        ("/healthz" | "/metrics", None) => "GET",
        _ => {
            return finish(ctx, conn, peer, None, Err(refuse(404, "not_found", "no such route (use /up, /down, /healthz, /metrics)")), true)
        }
    };
    if !allowed.split(", ").any(|m| m == head.method) {
        let refusal = refuse(405, "method_not_allowed", format!("{} takes {allowed}", head.path));
        return finish(ctx, conn, peer, route, Err(refusal), true);
    }
    let outcome = match route {
        Some(direction) => webhook(ctx, &mut conn, &head, direction, peer),
        None if head.path == "/metrics" => Ok(Response::new(200, "text/plain; version=0.0.4; charset=utf-8", ctx.metrics.render())),
        None => Ok(healthz(ctx)),
    };
    let body_unread = matches!(&outcome, Err(r) if r.status == 413);
    finish(ctx, conn, peer, route, outcome, body_unread);
}

fn finish(ctx: &Ctx, conn: Conn, peer: &str, route: Option<Direction>, outcome: Result<Response, Refusal>, body_unread: bool) {
    let response = match outcome {
        Ok(response) => response,
        Err(r) => {
            ctx.metrics.inc(&REJECTS, &[("reason", r.reason)]);
            if let Some(direction) = route {
                ctx.metrics.inc(&WEBHOOKS, &[("route", direction.as_str()), ("outcome", "rejected")]);
            }
            let route_name = route.map_or("-", Direction::as_str);
            log::warn(
                "webhook.rejected",
                &[("route", &route_name), ("status", &r.status), ("reason", &r.reason), ("detail", &r.detail), ("peer", &peer)],
            );
            let mut response = json_error(r.status, &r.detail);
            if r.status == 405 {
                let allow = if route.is_some() { "GET, POST, PUT" } else { "GET" };
                response = response.with_header("Allow", allow);
            }
            response
        }
    };
    if let Err(e) = http::respond(conn, &response, body_unread) {
        log::warn("webhook.respond_failed", &[("status", &response.status), ("error", &e), ("peer", &peer)]);
    }
}

fn webhook(ctx: &Ctx, conn: &mut Conn, head: &Head, direction: Direction, peer: &str) -> Result<Response, Refusal> {
    let body = http::read_body(conn, head, MAX_BODY_BYTES).map_err(|e| match e {
        ReadError::TooLarge => refuse(413, "too_large", format!("body over {MAX_BODY_BYTES} bytes")),
        ReadError::Timeout => refuse(408, "timeout", "body did not arrive in time"),
        ReadError::Bad(what) => refuse(400, "bad_request", what),
        ReadError::Closed => refuse(400, "bad_request", "connection closed mid-body"),
    })?;
    if let Some(secret) = &ctx.cfg.webhook_secret {
        let verifier = Verifier { secret: secret.expose().as_bytes(), allow_untimestamped: ctx.cfg.allow_untimestamped };
        verifier
            .verify(head.header(&ctx.cfg.signature_header), head.header(&ctx.cfg.timestamp_header), &body, Utc::now().timestamp())
            .map_err(|e| refuse(401, e.reason(), e.hint()))?;
    }
    let parsed = payload::parse(&body, direction, Utc::now()).map_err(|e| refuse(400, e.reason, e.detail))?;
    let route = direction.as_str();
    if parsed.markers.is_empty() {
        ctx.metrics.inc(&WEBHOOKS, &[("route", route), ("outcome", "ignored")]);
        log::info("webhook.ignored", &[("route", &route), ("source", &parsed.source), ("alerts", &parsed.alerts), ("peer", &peer)]);
        return Ok(Response::new(200, "application/json", r#"{"status":"ignored","reason":"no firing alerts","markers":[]}"#));
    }
    let ids = ctx.spool.write(&parsed.markers).map_err(|e| {
        log::error("webhook.write_failed", &[("route", &route), ("error", &e), ("dir", &ctx.spool.dir().display())]);
        refuse(503, "spool_error", "could not write the marker to disk; retry later")
    })?;
    ctx.metrics.inc(&WEBHOOKS, &[("route", route), ("outcome", "accepted")]);
    ctx.metrics.add(&MARKERS, &[("direction", route)], ids.len() as u64);
    log::info(
        "webhook.accepted",
        &[("route", &route), ("source", &parsed.source), ("alerts", &parsed.alerts), ("ids", &ids.join(",")), ("peer", &peer)],
    );
    Ok(Response::new(200, "application/json", serde_json::json!({ "status": "accepted", "markers": ids }).to_string()))
}

fn healthz(ctx: &Ctx) -> Response {
    match ctx.spool.check_writable() {
        Ok(()) => Response::new(200, "application/json", r#"{"status":"ok"}"#),
        Err(e) => {
            let reason = format!("state directory {} is not writable: {e}", ctx.spool.dir().display());
            log::warn("healthz.failed", &[("reason", &reason)]);
            Response::new(503, "application/json", serde_json::json!({ "status": "unhealthy", "reason": reason }).to_string())
        }
    }
}
