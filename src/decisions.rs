//! The decision log kept for `status` and for audits:
//! `<state-dir>/decisions.jsonl`, one JSON [`Record`] per tick, the last
//! [`KEEP`] kept. Each record lists in `consumed` every marker id the tick
//! removed, so a checker can prove every acknowledged webhook reached a
//! decision. The same record renders the tick's one stdout line.

use crate::atomic_file;
use crate::log;
use crate::policy::{Action, Decision};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "decisions.jsonl";
/// About 200 ticks: more than three hours at one tick a minute.
pub const KEEP: usize = 200;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub at: DateTime<Utc>,
    /// `scale_up`, `scale_down`, `none` (`skipped` appears only on stdout).
    pub action: Action,
    pub from: u64,
    pub to: u64,
    pub rule: String,
    pub cause: String,
    pub cpu: Option<f64>,
    pub demand: Option<f64>,
    pub dry_run: bool,
    pub paused: bool,
    /// True when the API accepted the scale call (or a reconciliation found
    /// that it did): the pool really changed on our request.
    pub applied: bool,
    /// `scale` or `evict` when a call was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evicted: Vec<String>,
    pub used: usize,
    pub duplicates: usize,
    pub expired: usize,
    pub overridden: usize,
    /// Every marker id removed by this tick: used, duplicate, expired, overridden.
    pub consumed: Vec<String>,
}

impl Record {
    pub fn new(at: DateTime<Utc>, d: &Decision, dry_run: bool, paused: bool) -> Record {
        Record {
            at,
            action: d.action,
            from: d.from,
            to: d.to,
            rule: d.rule.to_string(),
            cause: d.cause.clone(),
            cpu: d.cpu,
            demand: d.demand,
            dry_run,
            paused,
            applied: false,
            method: None,
            evicted: Vec::new(),
            used: d.used.len(),
            duplicates: d.duplicates.len(),
            expired: d.expired.len(),
            overridden: d.overridden.len(),
            consumed: d.consumed(),
        }
    }

    /// The tick's one structured stdout line.
    pub fn log(&self) {
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.1}"));
        log::info(
            "tick.decision",
            &[
                ("action", &self.action.as_str()),
                ("from", &self.from),
                ("to", &self.to),
                ("rule", &self.rule),
                ("cause", &self.cause),
                ("cpu", &opt(self.cpu)),
                ("demand", &opt(self.demand)),
                ("markers", &self.used),
                ("duplicates", &self.duplicates),
                ("expired", &self.expired),
                ("overridden", &self.overridden),
                ("consumed", &self.consumed.len()),
                ("method", &self.method.as_deref().unwrap_or("-")),
                ("applied", &self.applied),
                ("dry_run", &self.dry_run),
                ("paused", &self.paused),
            ],
        );
    }
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE_NAME)
}

/// Append one record durably; past [`KEEP`] records, rewrite the file
/// with the last ones atomically instead.
pub fn append(state_dir: &Path, record: &Record) -> Result<(), String> {
    let file = path(state_dir);
    let fail = |e: io::Error| format!("cannot append to {}: {e}; check free space and permissions", file.display());
    let existing = match std::fs::read_to_string(&file) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        other => other.map_err(fail)?,
    };
    let json = serde_json::to_string(record).expect("record serialises");
    let count = existing.lines().count();
    if count >= KEEP {
        let mut kept: Vec<&str> = existing.lines().skip(count + 1 - KEEP).collect();
        kept.push(&json);
        return atomic_file::write(&file, (kept.join("\n") + "\n").as_bytes(), 0o600).map_err(fail);
    }
    // A line torn by a crash must not swallow this record.
    let separator = if existing.is_empty() || existing.ends_with('\n') { "" } else { "\n" };
    let mut f = OpenOptions::new().append(true).create(true).mode(0o600).open(&file).map_err(fail)?;
    f.write_all(format!("{separator}{json}\n").as_bytes()).map_err(fail)?;
    f.sync_all().map_err(fail)
}

/// The last `n` readable records, oldest first (a line torn by a crash is skipped).
pub fn last(state_dir: &Path, n: usize) -> Result<Vec<Record>, String> {
    let file = path(state_dir);
    let text = match std::fs::read_to_string(&file) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
        Ok(t) => t,
    };
    let records: Vec<Record> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    Ok(records[records.len().saturating_sub(n)..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_records_and_skips_torn_lines() {
        let dir = std::env::temp_dir().join(format!("decisions-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let d = Decision {
            action: Action::None,
            from: 1,
            to: 1,
            rule: "no_markers",
            cause: "no pending markers".into(),
            cpu: None,
            demand: None,
            used: vec![],
            duplicates: vec![],
            expired: vec!["x".into()],
            overridden: vec![],
        };
        for i in 0..(KEEP as u64 + 5) {
            append(&dir, &Record { from: i, ..Record::new(Utc::now(), &d, false, false) }).unwrap();
        }
        let all = last(&dir, usize::MAX).unwrap();
        assert_eq!(all.len(), KEEP);
        assert_eq!(all.last().unwrap().from, KEEP as u64 + 4);
        assert_eq!(last(&dir, 3).unwrap().len(), 3);
        std::fs::remove_file(path(&dir)).unwrap();
        append(&dir, &Record::new(Utc::now(), &d, false, false)).unwrap();
        std::fs::OpenOptions::new().append(true).open(path(&dir)).unwrap().write_all(b"{\"torn").unwrap();
        append(&dir, &Record { from: 7, ..Record::new(Utc::now(), &d, false, false) }).unwrap();
        let all = last(&dir, usize::MAX).unwrap();
        assert_eq!(all.iter().map(|r| r.from).collect::<Vec<_>>(), vec![1, 7], "the record after a torn line survives");
        assert_eq!(all[0].consumed, vec!["x".to_string()]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
