//! `autoscaler scale-tick`: one scaling decision, crash-safe.
//!
//! 1. Take `<state-dir>/lock` (non-blocking); if another tick holds it, log
//!    `action=skipped` and exit 0.
//! 2. Read the pool (its target `size` counts booting members).
//! 3. Reconcile a leftover intent: if the pool is at the intent's target,
//!    the interrupted call took effect; consume its markers, record it, and
//!    end the tick without a second call. Otherwise drop the intent.
//! 4. Decide ([`policy::decide`]); record the intent durably; call the API.
//! 5. Only after the API accepted (or for a deliberate no-op): append the
//!    decision record, consume the markers, clear the intent, log one line.
//!
//! An API failure leaves the markers in place and exits 1.

use crate::atomic_file;
use crate::config::{self, ApiConfig, Env, PolicyConfig};
use crate::decisions::{self, Record};
use crate::exoscale::client::Client;
use crate::failure::Failure;
use crate::log;
use crate::markers::Spool;
use crate::policy::{self, Action};
use crate::state::State;
use chrono::Utc;
use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

pub const LOCK_FILE: &str = "lock";
pub const PAUSE_FILE: &str = "paused";

pub fn run(env: &Env) -> Result<(), Failure> {
    let api = ApiConfig::from_env(env)?;
    let knobs = PolicyConfig::from_env(env)?;
    let dry_run = config::dry_run(env)?;
    let dir = config::state_dir(env);
    atomic_file::create_private_dir(&dir).map_err(|e| {
        runtime(format!("cannot create the state directory {}: {e}; check AUTOSCALER_STATE_DIR and its owner", dir.display()))
    })?;
    let Some(_lock) = try_lock(&dir)? else {
        log::info(
            "tick.decision",
            &[("action", &"skipped"), ("cause", &"another scale-tick holds the lock; it decides this round"), ("dry_run", &dry_run)],
        );
        return Ok(());
    };
    Tick { dir: &dir, api: &api, client: Client::new(&api), knobs: &knobs, dry_run }.run().map_err(runtime)
}

fn runtime(message: String) -> Failure {
    Failure::Runtime(message)
}

/// The exclusive lock, held until the returned file is dropped (or the
/// process dies: the kernel releases it, so a crash never wedges the timer).
fn try_lock(dir: &Path) -> Result<Option<File>, Failure> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| runtime(format!("cannot open the lock file {}: {e}; check AUTOSCALER_STATE_DIR permissions", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(runtime(format!("cannot lock {}: {e}", path.display()))),
    }
}

struct Tick<'a> {
    dir: &'a Path,
    api: &'a ApiConfig,
    client: Client,
    knobs: &'a PolicyConfig,
    dry_run: bool,
}

impl Tick<'_> {
    fn run(&self) -> Result<(), String> {
        let mut state = State::load(self.dir)?;
        let pool = self.client.get_instance_pool(&self.api.pool_id).map_err(|e| {
            format!("cannot read instance pool {} in {}: {e}; pending markers are kept for the next tick", self.api.pool_id, self.api.zone)
        })?;
        let spool = Spool::open(self.dir).map_err(|e| format!("cannot open the marker spool in {}: {e}", self.dir.display()))?;

        if let Some(intent) = state.intent.take() {
            if pool.size == intent.to {
                let called_at = intent.at;
                let record = Record {
                    at: Utc::now(),
                    applied: true,
                    cause: format!(
                        "reconciled: the pool is at {}, so the interrupted tick's call took effect ({})",
                        pool.size, intent.cause
                    ),
                    ..intent
                };
                state.clocks.note(record.action, called_at);
                return self.finish(&spool, &mut state, &record);
            }
            log::warn(
                "tick.intent_dropped",
                &[
                    ("from", &intent.from),
                    ("to", &intent.to),
                    ("size", &pool.size),
                    ("cause", &"the interrupted tick's call did not take effect; deciding afresh, its markers are still pending"),
                ],
            );
            state.save(self.dir)?;
        }

        let (pending, unreadable) = spool.list().map_err(|e| format!("cannot list markers in {}: {e}", spool.dir().display()))?;
        for u in &unreadable {
            log::warn(
                "tick.marker_unreadable",
                &[("id", &u.id), ("problem", &u.problem), ("hint", &"left in place for a person to inspect")],
            );
        }
        let now = Utc::now();
        let paused = self.dir.join(PAUSE_FILE).exists();
        let decision = policy::decide(now, pool.size, &pending, &state.clocks, self.knobs);
        if let (Some(first), Some(last)) = (decision.expired.first(), decision.expired.last()) {
            log::info(
                "tick.markers_expired",
                &[("count", &decision.expired.len()), ("max_age_s", &self.knobs.marker_max_age), ("first", first), ("last", last)],
            );
        }
        let mut record = Record::new(now, &decision, self.dry_run, paused);
        if decision.action != Action::None && !self.dry_run && !paused {
            self.scale(&mut state, &mut record, decision.action)?;
        }
        self.finish(&spool, &mut state, &record)
    }

    /// Record the intent, then make the call. On failure the intent stays,
    /// so the next tick reconciles it against the pool's size.
    fn scale(&self, state: &mut State, record: &mut Record, action: Action) -> Result<(), String> {
        let pool_id = &self.api.pool_id;
        let shrink_by = record.from.saturating_sub(record.to) as usize;
        if action == Action::ScaleDown {
            let members = self.client.list_pool_instances(pool_id).map_err(|e| {
                format!("cannot list the members of instance pool {pool_id} to choose whom to evict: {e}; markers kept for the next tick")
            })?;
            let chosen = policy::choose_evictions(&members, shrink_by);
            // Too few evictable members (the pool is changing): let Exoscale pick.
            if chosen.len() == shrink_by {
                record.evicted = chosen;
            }
        }
        record.method = Some(if record.evicted.is_empty() { "scale" } else { "evict" }.to_string());
        state.intent = Some(record.clone());
        state.save(self.dir)?;
        let result = if record.evicted.is_empty() {
            self.client.scale_instance_pool(pool_id, record.to)
        } else {
            self.client.evict_instance_pool_members(pool_id, &record.evicted)
        };
        result.map_err(|e| {
            format!("cannot scale instance pool {pool_id} from {} to {}: {e}; markers kept for the next tick", record.from, record.to)
        })?;
        record.applied = true;
        state.clocks.note(action, record.at);
        Ok(())
    }

    /// Record, then consume, then clear the intent. A crash in between
    /// leaves the intent (reconciled next tick) or markers already listed in
    /// a record (decided again, listed twice): a marker id can appear in the
    /// audit twice, but never go missing from it.
    fn finish(&self, spool: &Spool, state: &mut State, record: &Record) -> Result<(), String> {
        decisions::append(self.dir, record)?;
        spool.consume(&record.consumed).map_err(|e| format!("cannot remove consumed markers from {}: {e}", spool.dir().display()))?;
        state.intent = None;
        state.save(self.dir)?;
        record.log();
        Ok(())
    }
}
