//! `autoscaler status`: what a person (or, with `--json`, a script) needs to
//! know: the pool and its members from the API, and from the state
//! directory the pending markers, cooldowns, pause/dry-run and the last
//! decisions. When the API cannot be reached (or fails transiently) it
//! still shows the local state, with a note saying so; a refusal that a
//! person must fix (wrong key, unknown pool) is one line and exit 1.

use crate::config::{self, ApiConfig, Env, PolicyConfig};
use crate::decisions::{self, Record};
use crate::exoscale::client::{ApiError, Client, ClientOptions, RetryPolicy};
use crate::exoscale::types::{Instance, InstancePool};
use crate::failure::Failure;
use crate::markers::{self, Direction, Spool};
use crate::policy::Clocks;
use crate::state::State;
use crate::tick::PAUSE_FILE;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// Decisions shown.
const LAST: usize = 10;

#[derive(Serialize)]
struct Report {
    pool_id: String,
    zone: String,
    /// `None` when the API could not be reached; see `api_error`.
    pool: Option<PoolView>,
    api_error: Option<String>,
    pending: Pending,
    cooldown_left_s: CooldownLeft,
    paused: bool,
    dry_run: bool,
    /// A scale call whose outcome the next tick will reconcile.
    intent: Option<Record>,
    decisions: Vec<Record>,
}

#[derive(Serialize)]
struct PoolView {
    name: String,
    size: u64,
    state: String,
    members: Vec<MemberView>,
}

#[derive(Serialize)]
struct MemberView {
    id: String,
    name: String,
    ip: Option<String>,
    state: String,
}

#[derive(Serialize, Default)]
struct Pending {
    up: usize,
    down: usize,
    unreadable: usize,
    oldest_age_s: Option<i64>,
}

#[derive(Serialize)]
struct CooldownLeft {
    up: u64,
    down: u64,
}

pub fn run(env: &Env) -> Result<(), Failure> {
    let api = ApiConfig::from_env(env)?;
    let knobs = PolicyConfig::from_env(env)?;
    let dry_run = config::dry_run(env)?;
    let as_json = env.bool_or("AUTOSCALER_STATUS_JSON", false)?;
    let dir = config::state_dir(env);
    let now = Utc::now();

    let (pool, api_error) = match read_pool(&api) {
        Ok(view) => (Some(view), None),
        Err(e) if e.is_transient() => (None, Some(e.to_string())),
        Err(e) => return Err(Failure::Runtime(format!("cannot read instance pool {} in {}: {e}", api.pool_id, api.zone))),
    };
    let state = State::load(&dir).map_err(Failure::Runtime)?;
    let clocks: &Clocks = &state.clocks;
    let report = Report {
        pool_id: api.pool_id.clone(),
        zone: api.zone.clone(),
        pool,
        api_error,
        pending: pending(&dir, now)?,
        cooldown_left_s: CooldownLeft {
            up: clocks.cooldown_left(Direction::Up, &knobs, now),
            down: clocks.cooldown_left(Direction::Down, &knobs, now),
        },
        paused: dir.join(PAUSE_FILE).exists(),
        dry_run,
        intent: state.intent.clone(),
        decisions: decisions::last(&dir, LAST).map_err(Failure::Runtime)?,
    };
    if as_json {
        println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
    } else {
        print!("{}", human(&report, &dir));
    }
    Ok(())
}

/// One quick attempt: a person waiting at a terminal, not a tick.
fn read_pool(api: &ApiConfig) -> Result<PoolView, ApiError> {
    let options = ClientOptions {
        connect_timeout: Duration::from_secs(3),
        read_timeout: Duration::from_secs(5),
        retry: RetryPolicy { max_retries: 1, max_elapsed: Duration::from_secs(5), ..RetryPolicy::default() },
    };
    let client = Client::with_options(&api.endpoint, &api.key, api.secret.clone(), options);
    let pool: InstancePool = client.get_instance_pool(&api.pool_id)?;
    let members: Vec<Instance> = client.list_pool_instances(&api.pool_id)?;
    Ok(PoolView {
        name: pool.name,
        size: pool.size,
        state: pool.state,
        members: members.into_iter().map(|m| MemberView { id: m.id, name: m.name, ip: m.public_ip, state: m.state }).collect(),
    })
}

/// The spool as it is; a missing spool is an empty one (status creates nothing).
fn pending(dir: &Path, now: DateTime<Utc>) -> Result<Pending, Failure> {
    if !dir.join(markers::DIR_NAME).is_dir() {
        return Ok(Pending::default());
    }
    let spool = Spool::open(dir).map_err(|e| Failure::Runtime(format!("cannot open the marker spool in {}: {e}", dir.display())))?;
    let (good, bad) = spool.list().map_err(|e| Failure::Runtime(format!("cannot list markers in {}: {e}", spool.dir().display())))?;
    let count = |d: Direction| good.iter().filter(|m| m.marker.direction == d).count();
    Ok(Pending {
        up: count(Direction::Up),
        down: count(Direction::Down),
        unreadable: bad.len(),
        oldest_age_s: good.iter().map(|m| m.marker.received_at).min().map(|t| (now - t).num_seconds()),
    })
}

fn human(r: &Report, dir: &Path) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: String| out.push_str(&format!("{label:<11}{value}\n"));
    line("pool", format!("{} in {}", r.pool_id, r.zone));
    match (&r.pool, &r.api_error) {
        (Some(p), _) => {
            line("name", p.name.clone());
            line("size", p.size.to_string());
            line("state", p.state.clone());
            line("members", p.members.len().to_string());
            for m in &p.members {
                line("", format!("{}  {:<16} {:<15} {}", m.id, m.name, m.ip.as_deref().unwrap_or("-"), m.state));
            }
        }
        (None, error) => line("api", format!("UNREACHABLE, showing local state only: {}", error.as_deref().unwrap_or("unknown error"))),
    }
    let p = &r.pending;
    let oldest = p.oldest_age_s.map_or(String::new(), |a| format!(", oldest {a} s ago"));
    let unreadable = if p.unreadable > 0 {
        format!(", {} unreadable (see {})", p.unreadable, dir.join(markers::DIR_NAME).display())
    } else {
        String::new()
    };
    line("pending", format!("up {}, down {}{oldest}{unreadable}", p.up, p.down));
    let c = &r.cooldown_left_s;
    line("cooldown", format!("scale-up {} s left, scale-down {} s left", c.up, c.down));
    let mode = match (r.paused, r.dry_run) {
        (true, _) => format!("PAUSED: deciding without scaling (remove {} to resume)", dir.join(PAUSE_FILE).display()),
        (false, true) => "DRY RUN: deciding without scaling (AUTOSCALER_DRY_RUN)".to_string(),
        (false, false) => "active".to_string(),
    };
    line("mode", mode);
    if let Some(i) = &r.intent {
        line(
            "intent",
            format!("{} {}→{} at {} not yet confirmed; the next tick reconciles it", i.action.as_str(), i.from, i.to, i.at.to_rfc3339()),
        );
    }
    line("decisions", if r.decisions.is_empty() { "none yet".to_string() } else { "newest last".to_string() });
    for d in &r.decisions {
        let flags = match (d.applied, d.dry_run, d.paused) {
            (true, ..) => "applied",
            (false, true, _) => "dry-run",
            (false, _, true) => "paused",
            _ => "",
        };
        line(
            "",
            format!(
                "{} {:<10} {}→{} {:<14} {flags:<8} {}",
                d.at.format("%Y-%m-%d %H:%M:%S"),
                d.action.as_str(),
                d.from,
                d.to,
                d.rule,
                d.cause
            ),
        );
    }
    out
}
