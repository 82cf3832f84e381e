//! The API port: tiny_http workers that read each request (bounded body),
//! send `/v2/...` to the API and `/twin/...` to the control endpoints, and
//! write the JSON reply.

use crate::api::{self, Call, Reply, MAX_BODY};
use crate::control;
use crate::world::Twin;
use autoscaler::exoscale::sign::split_url;
use std::io::Read;
use std::sync::Arc;
use tiny_http::{Header, Request, Response, Server};

/// Enough workers that injected latency on one call does not block others.
const WORKERS: usize = 8;

pub fn start(twin: Arc<Twin>, server: Arc<Server>) -> std::io::Result<()> {
    for i in 0..WORKERS {
        let (twin, server) = (twin.clone(), server.clone());
        std::thread::Builder::new().name(format!("api-{i}")).spawn(move || {
            while let Ok(request) = server.recv() {
                serve(&twin, request);
            }
        })?;
    }
    Ok(())
}

/// The body, or None if it is larger than MAX_BODY.
fn read_body(request: &mut Request) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    let read = request.as_reader().take(MAX_BODY as u64 + 1).read_to_end(&mut body);
    (read.is_ok() && body.len() <= MAX_BODY).then_some(body)
}

fn serve(twin: &Twin, mut request: Request) {
    let url = request.url().to_string();
    let (path, query) = split_url(&url);
    let method = request.method().as_str().to_string();
    let authorization = request.headers().iter().find(|h| h.field.equiv("Authorization")).map(|h| h.value.as_str().to_string());
    let body = read_body(&mut request);
    let reply = if path == "/v2" || path.starts_with("/v2/") {
        api::handle(twin, &Call { method: &method, path, query, authorization: authorization.as_deref(), body: body.as_deref() })
    } else if path.starts_with("/twin/") {
        if request.remote_addr().is_some_and(|a| !a.ip().is_loopback()) {
            api::error(403, "control endpoints answer loopback clients only")
        } else {
            control::handle(twin, &method, path, body.as_deref())
        }
    } else {
        api::error(404, &format!("no route for {method} {path}: the API is under /v2, the twin's control under /twin"))
    };
    respond(request, reply);
}

fn respond(request: Request, reply: Reply) {
    let mut response = Response::from_string(reply.body.to_string())
        .with_status_code(reply.status)
        .with_header(Header::from_bytes("Content-Type", "application/json").expect("static header"));
    if let Some(secs) = reply.retry_after {
        response.add_header(Header::from_bytes("Retry-After", secs.to_string()).expect("digits are a valid header"));
    }
    let _ = request.respond(response);
}
