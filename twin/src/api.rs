//! The Exoscale API v2 subset, on the same paths, JSON shapes and status
//! codes: instance pools (list, get, scale, evict), instances (list with
//! `manager-id`/`manager-type`/`ip-address` filters, get), operations, zones.
//! Every request needs a valid EXO2-HMAC-SHA256 signature, except an
//! unsigned `GET /v2/zone` (public, as on Exoscale); a signed one is checked.

use crate::clock::unix_now;
use crate::faults::Injected;
use crate::log;
use crate::pool::{MemberRecord, Pool, PoolError};
use crate::world::Twin;
use autoscaler::exoscale::sign;
use autoscaler::exoscale::types::{EvictRequest, ScaleRequest};
use serde_json::{json, Value};
use std::time::Instant;

/// Bodies above this size get 413: the real requests are a few bytes.
pub const MAX_BODY: usize = 64 * 1024;

pub const ZONES: [&str; 8] = ["ch-gva-2", "ch-dk-2", "de-fra-1", "de-muc-1", "at-vie-1", "at-vie-2", "bg-sof-1", "hr-zag-1"];

/// A response: status, JSON body, optional Retry-After seconds.
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<u64>,
}

fn ok(body: Value) -> Reply {
    Reply { status: 200, body, retry_after: None }
}

pub fn error(status: u16, message: &str) -> Reply {
    Reply { status, body: json!({ "message": message }), retry_after: None }
}

/// One API request as received; `body` is None when it exceeded MAX_BODY.
pub struct Call<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub authorization: Option<&'a str>,
    pub body: Option<&'a [u8]>,
}

pub fn handle(twin: &Twin, call: &Call) -> Reply {
    let latency = twin.lock().faults.latency_ms;
    if latency > 0 {
        std::thread::sleep(twin.clock.scaled(latency as f64 / 1000.0));
    }
    let injected = twin.lock().faults.next_api_error();
    let reply = match injected {
        Some(fault) => injected_reply(twin, fault),
        None => checked(twin, call),
    };
    twin.record_call(call.method, call.path, reply.status);
    reply
}

fn injected_reply(twin: &Twin, fault: Injected) -> Reply {
    let mut reply = error(fault.status, "twin: injected fault");
    // Retry-After is whole seconds; scale, then round up so it never reads 0 for a positive delay.
    reply.retry_after = fault.retry_after.map(|s| twin.clock.scaled(s).as_secs_f64().ceil() as u64);
    reply
}

fn checked(twin: &Twin, call: &Call) -> Reply {
    let Some(body) = call.body else {
        return error(413, &format!("request body larger than {MAX_BODY} bytes"));
    };
    let public = call.method == "GET" && call.path == "/v2/zone" && call.authorization.is_none();
    if !public {
        let s = &twin.settings;
        if let Err(why) = sign::verify(call.authorization, &s.key, &s.secret, call.method, call.path, call.query, body, unix_now() as i64) {
            log::warn("api.signature_rejected", &[("method", &call.method), ("path", &call.path), ("cause", &why)]);
            return error(403, "Invalid request signature");
        }
    }
    route(twin, call, body)
}

fn route(twin: &Twin, call: &Call, body: &[u8]) -> Reply {
    let rest = &call.path["/v2".len()..];
    let mut st = twin.lock();
    let now = Instant::now();
    let pool_id = st.pool.id.clone();
    let resource = |prefix: &str| rest.strip_prefix(prefix).filter(|id| !id.is_empty() && !id.contains('/')).map(str::to_string);
    match (call.method, rest) {
        ("GET", "/zone") => ok(json!({ "zones": ZONES.iter().map(|z| zone_json(z)).collect::<Vec<_>>() })),
        ("GET", "/instance-pool") => ok(json!({ "instance-pools": [pool_json(&st.pool)] })),
        ("GET", "/instance") => list_instances(&st.pool, call.query),
        _ => {
            if let Some(id) = resource("/instance-pool/") {
                let (id, action) = id.split_once(':').map_or((id.as_str(), None), |(i, a)| (i, Some(a)));
                if id != pool_id {
                    return error(404, "Instance Pool not found");
                }
                let result = match (call.method, action) {
                    ("GET", None) => return ok(pool_json(&st.pool)),
                    ("PUT", Some("scale")) => match serde_json::from_slice::<ScaleRequest>(body) {
                        Ok(r) => st.pool.scale(r.size, now),
                        Err(e) => {
                            return error(400, &format!("invalid body for scale-instance-pool: want {{\"size\": <integer >= 0>}}: {e}"))
                        }
                    },
                    ("PUT", Some("evict")) => match serde_json::from_slice::<EvictRequest>(body) {
                        Ok(r) => st.pool.evict(&r.instances, now),
                        Err(e) => {
                            return error(
                                400,
                                &format!("invalid body for evict-instance-pool-members: want {{\"instances\": [<id>, ...]}}: {e}"),
                            )
                        }
                    },
                    _ => return error(404, "no such operation on instance-pool"),
                };
                return match result {
                    Ok((op, changes)) => {
                        twin.apply(&mut st, changes);
                        log::info("api.pool_changed", &[("action", &action.unwrap_or("")), ("size", &st.pool.size), ("operation", &op)]);
                        ok(operation_json(&st.pool, &op, now))
                    }
                    Err(PoolError::BadRequest(m)) => error(400, &m),
                };
            }
            match (call.method, resource("/instance/"), resource("/operation/")) {
                ("GET", Some(id), _) => match st.pool.member(&id) {
                    Some(m) => ok(instance_json(m, &pool_id)),
                    None => error(404, "Instance not found"),
                },
                ("GET", _, Some(id)) if st.pool.operation(&id).is_some() => ok(operation_json(&st.pool, &id, now)),
                ("GET", _, Some(_)) => error(404, "Operation not found"),
                _ => error(404, &format!("no route for {} {}", call.method, call.path)),
            }
        }
    }
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').filter_map(|p| p.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v)
}

fn list_instances(pool: &Pool, query: &str) -> Reply {
    if let Some(kind) = query_param(query, "manager-type") {
        if kind != "instance-pool" {
            return error(400, &format!("manager-type: unsupported value {kind:?}, expected \"instance-pool\" or \"sks-nodepool\""));
        }
    }
    let by_manager = query_param(query, "manager-id").is_none_or(|id| id == pool.id);
    let ip = query_param(query, "ip-address");
    let instances: Vec<Value> = pool
        .members
        .iter()
        .filter(|m| by_manager && ip.is_none_or(|ip| ip == m.ip.to_string()))
        .map(|m| instance_json(m, &pool.id))
        .collect();
    ok(json!({ "instances": instances }))
}

fn zone_json(zone: &str) -> Value {
    json!({ "name": zone, "api-endpoint": format!("https://api-{zone}.exoscale.com/v2"), "sos-endpoint": format!("https://sos-{zone}.exo.io") })
}

pub fn pool_json(pool: &Pool) -> Value {
    json!({
        "id": pool.id,
        "name": pool.name,
        "description": "instance pool of the local twin",
        "size": pool.size,
        "state": pool.state(),
        "instances": pool.current().map(|m| json!({ "id": m.id })).collect::<Vec<_>>(),
        "instance-prefix": "pool",
        "disk-size": 10,
        "labels": {},
    })
}

pub fn instance_json(m: &MemberRecord, pool_id: &str) -> Value {
    json!({
        "id": m.id,
        "name": m.name,
        "state": m.state.as_str(),
        "public-ip": m.ip.to_string(),
        "public-ip-assignment": "inet4",
        "manager": { "id": pool_id, "type": "instance-pool" },
        "created-at": m.created_at,
        "disk-size": 10,
        "labels": {},
    })
}

fn operation_json(pool: &Pool, id: &str, now: Instant) -> Value {
    let op = pool.operation(id).expect("operation ids come from the pool");
    json!({
        "id": op.id,
        "state": op.state(now),
        "reference": { "id": op.reference, "link": format!("/v2/instance-pool/{}", op.reference), "command": "get-instance-pool" },
    })
}
