//! The durable spool between the listener and the tick: one JSON file per
//! firing alert in `$AUTOSCALER_STATE_DIR/markers/`.
//!
//! A marker is written to a temp file in the same directory, fsynced, renamed
//! into place, and the directory fsynced; only then may the listener answer
//! 2xx. A crash leaves either no marker or a whole one. Temp files (`.tmp-*`)
//! left by a crash are never read and are removed by [`Spool::clean_temp`].
//! File names sort by receive time, so listing gives arrival order.

use crate::atomic_file::{create_private_dir, sync_dir};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, SystemTime};

pub const DIR_NAME: &str = "markers";
const TEMP_PREFIX: &str = ".tmp-";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the tick needs to know about one firing alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    pub direction: Direction,
    pub received_at: DateTime<Utc>,
    /// `grafana` (payload version 1), `alertmanager` (version 4) or `plain`
    /// (empty body, as the course grader's GET sends).
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alertname: Option<String>,
    /// With `starts_at`, identifies one alert across Grafana's repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// Observed pool average CPU in percent (0-100), when the alert carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
    /// Optional demand signal beyond CPU saturation (see README, "Payloads").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demand: Option<f64>,
}

/// A marker on disk; `id` is its file name without `.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMarker {
    pub id: String,
    pub marker: Marker,
}

/// A file in the spool that is not a readable marker (kept for a person).
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    pub id: String,
    pub problem: String,
}

pub struct Spool {
    dir: PathBuf,
    dir_sync: GroupSync,
}

/// Group commit of the directory fsync: one fsync makes every rename done
/// before it started durable, so concurrent writers share it instead of
/// queueing one fsync each (the disk's flush is the cost, not the call).
#[derive(Default)]
struct GroupSync {
    state: Mutex<SyncState>,
    finished: Condvar,
}

#[derive(Default)]
struct SyncState {
    /// Tickets handed out; a ticket is taken after the caller's rename.
    requested: u64,
    /// Every ticket up to this one is covered by a completed fsync.
    synced: u64,
    running: bool,
}

impl GroupSync {
    fn sync(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.requested += 1;
        let ticket = st.requested;
        loop {
            if st.synced >= ticket {
                return Ok(());
            }
            if st.running {
                st = self.finished.wait(st).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            // Our rename came before `covers` was read, so this fsync covers it.
            st.running = true;
            let covers = st.requested;
            drop(st);
            let result = sync_dir(dir);
            st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            st.running = false;
            if result.is_ok() {
                st.synced = st.synced.max(covers);
            }
            self.finished.notify_all();
            result?;
        }
    }
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

impl Spool {
    /// Open (and create, mode 0700) `<state_dir>/markers`.
    pub fn open(state_dir: &Path) -> io::Result<Spool> {
        let dir = state_dir.join(DIR_NAME);
        create_private_dir(&dir)?;
        Ok(Spool { dir, dir_sync: GroupSync::default() })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Durably write markers; returns their ids in order. When this returns
    /// Ok, every marker survives a crash or power loss.
    pub fn write(&self, markers: &[Marker]) -> io::Result<Vec<String>> {
        let mut ids = Vec::with_capacity(markers.len());
        for marker in markers {
            let id = new_id(marker);
            let tmp = self.dir.join(format!("{TEMP_PREFIX}{id}"));
            let body = serde_json::to_vec(marker).map_err(io::Error::other)?;
            let result = (|| {
                let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
                file.write_all(&body)?;
                file.sync_all()?;
                fs::rename(&tmp, self.dir.join(format!("{id}.json")))
            })();
            if let Err(e) = result {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
            ids.push(id);
        }
        self.dir_sync.sync(&self.dir)?;
        Ok(ids)
    }

    /// Prove the spool accepts writes: create, fsync and remove a temp file
    /// (named like a temp marker, so a crash leaves nothing `list` reads).
    pub fn check_writable(&self) -> io::Result<()> {
        let probe = self.dir.join(format!("{TEMP_PREFIX}probe-{}-{}", std::process::id(), SEQUENCE.fetch_add(1, Ordering::Relaxed)));
        let result = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&probe).and_then(|f| f.sync_all());
        let _ = fs::remove_file(&probe);
        result
    }

    /// Every marker, oldest first, plus files that could not be read.
    pub fn list(&self) -> io::Result<(Vec<StoredMarker>, Vec<Unreadable>)> {
        let mut names: Vec<String> = fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".json") && !n.starts_with(TEMP_PREFIX))
            .collect();
        names.sort();
        let mut good = Vec::with_capacity(names.len());
        let mut bad = Vec::new();
        for name in names {
            let id = name.trim_end_matches(".json").to_string();
            match fs::read(self.dir.join(&name)) {
                // Consumed by a concurrent reader between listing and reading.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => bad.push(Unreadable { id, problem: e.to_string() }),
                Ok(bytes) => match serde_json::from_slice::<Marker>(&bytes) {
                    Ok(marker) => good.push(StoredMarker { id, marker }),
                    Err(e) => bad.push(Unreadable { id, problem: e.to_string() }),
                },
            }
        }
        Ok((good, bad))
    }

    /// Remove markers by id (already-missing ones are fine), then fsync the
    /// directory so the removal is durable before the caller records it.
    pub fn consume(&self, ids: &[String]) -> io::Result<()> {
        for id in ids {
            match fs::remove_file(self.dir.join(format!("{id}.json"))) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        sync_dir(&self.dir)
    }

    /// Delete temp files older than `age` (left by a crash mid-write; younger
    /// ones may belong to a write in progress). Returns how many went.
    pub fn clean_temp(&self, age: Duration) -> io::Result<usize> {
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in fs::read_dir(&self.dir)?.filter_map(|e| e.ok()) {
            let is_temp = entry.file_name().to_str().is_some_and(|n| n.starts_with(TEMP_PREFIX));
            let old =
                entry.metadata().and_then(|m| m.modified()).map(|t| now.duration_since(t).unwrap_or_default() >= age).unwrap_or(false);
            if is_temp && old && fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// `<unix millis, 13 digits>-<sequence>-<pid>-<direction>`: sorts by time
/// (and by arrival within one millisecond), unique across threads and
/// listener restarts.
fn new_id(marker: &Marker) -> String {
    let millis = marker.received_at.timestamp_millis().max(0);
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!("{millis:013}-{seq:06}-{}-{}", std::process::id(), marker.direction)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_state() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("markers-test-{}-{}", std::process::id(), SEQUENCE.fetch_add(1, Ordering::Relaxed)));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn marker(direction: Direction, cpu: Option<f64>) -> Marker {
        Marker {
            direction,
            received_at: Utc::now(),
            source: "grafana".into(),
            alertname: Some("PoolCpuHigh".into()),
            fingerprint: Some("c6eadffa33fcdf37".into()),
            starts_at: Some(Utc::now()),
            cpu,
            demand: None,
        }
    }

    #[test]
    fn write_list_consume_roundtrip() {
        let state = temp_state();
        let spool = Spool::open(&state).unwrap();
        let ids = spool.write(&[marker(Direction::Up, Some(97.5)), marker(Direction::Down, None)]).unwrap();
        let (listed, bad) = spool.list().unwrap();
        assert!(bad.is_empty());
        assert_eq!(listed.iter().map(|m| m.id.clone()).collect::<Vec<_>>(), ids);
        assert_eq!(listed[0].marker.cpu, Some(97.5));
        spool.consume(&ids[..1]).unwrap();
        assert_eq!(spool.list().unwrap().0.len(), 1);
        spool.consume(&ids).unwrap();
        assert!(spool.list().unwrap().0.is_empty());
        fs::remove_dir_all(state).unwrap();
    }

    #[test]
    fn temp_files_are_ignored_and_cleaned() {
        let state = temp_state();
        let spool = Spool::open(&state).unwrap();
        fs::write(spool.dir().join(".tmp-0000000000123-000001-1-up"), b"{\"direc").unwrap();
        fs::write(spool.dir().join("garbage.json"), b"not json").unwrap();
        let (good, bad) = spool.list().unwrap();
        assert!(good.is_empty());
        assert_eq!(bad.len(), 1);
        assert_eq!(spool.clean_temp(Duration::from_secs(3600)).unwrap(), 0);
        assert_eq!(spool.clean_temp(Duration::ZERO).unwrap(), 1);
        fs::remove_dir_all(state).unwrap();
    }

    #[test]
    fn concurrent_writers_all_land_and_every_ticket_is_synced() {
        let state = temp_state();
        let spool = std::sync::Arc::new(Spool::open(&state).unwrap());
        let writers: Vec<_> = (0..8)
            .map(|_| {
                let spool = spool.clone();
                std::thread::spawn(move || (0..20).flat_map(|_| spool.write(&[marker(Direction::Up, None)]).unwrap()).collect::<Vec<_>>())
            })
            .collect();
        let mut ids: Vec<String> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
        ids.sort();
        let listed: Vec<String> = spool.list().unwrap().0.into_iter().map(|m| m.id).collect();
        assert_eq!(listed, ids);
        let st = spool.dir_sync.state.lock().unwrap();
        assert_eq!((st.requested, st.synced, st.running), (160, 160, false));
        drop(st);
        fs::remove_dir_all(state).unwrap();
    }

    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let state = temp_state();
        let spool = Spool::open(&state).unwrap();
        let id = spool.write(&[marker(Direction::Up, None)]).unwrap().remove(0);
        let mode = fs::metadata(spool.dir().join(format!("{id}.json"))).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        fs::remove_dir_all(state).unwrap();
    }
}
