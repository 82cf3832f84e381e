//! The instance pool's state machine, without I/O: members, their states
//! and IPs, asynchronous operations. Callers pass the time in and act on the
//! returned changes (start or stop a member's listeners).
//!
//! Scaling down removes the oldest members first: "Decreasing will destroy
//! the oldest VM in the Pool, this way the whole pool can be cycled"
//! (Exoscale Academy, "Scaling" page, cloud.layer5.io/academy/...).

use crate::ids;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberState {
    Starting,
    Running,
    /// Failed to boot (a fault); stays in the pool and counts toward size.
    Error,
    /// Removed by scale-down or evict; disappears after the operation delay.
    Destroying,
}

impl MemberState {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberState::Starting => "starting",
            MemberState::Running => "running",
            MemberState::Error => "error",
            MemberState::Destroying => "destroying",
        }
    }
}

#[derive(Clone, Debug)]
pub struct MemberRecord {
    pub id: String,
    pub name: String,
    pub ip: Ipv4Addr,
    pub state: MemberState,
    pub created_at: String,
    /// When a starting member finishes booting, or a destroying one is gone.
    pub due: Instant,
}

#[derive(Clone, Debug)]
pub struct Operation {
    pub id: String,
    pub done_at: Instant,
    pub reference: String,
}

impl Operation {
    pub fn state(&self, now: Instant) -> &'static str {
        if now >= self.done_at {
            "success"
        } else {
            "pending"
        }
    }
}

/// What the caller must do after a state change.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    /// Boot finished: start the member's services (or mark it `error`).
    Booted(String, Ipv4Addr),
    /// Destroying began: stop its services now.
    Stopped(String),
    /// Gone from the pool.
    Removed(String),
}

#[derive(Debug, PartialEq, Eq)]
pub enum PoolError {
    BadRequest(String),
}

pub struct Timing {
    pub boot: Duration,
    pub operation: Duration,
}

pub struct Pool {
    pub id: String,
    pub name: String,
    pub size: u64,
    pub members: Vec<MemberRecord>,
    ops: HashMap<String, Operation>,
    net: [u8; 3],
    next_host: u16,
    timing: Timing,
}

/// Host numbers are never reused, so every member keeps distinct series.
const MAX_HOST: u16 = 254;

impl Pool {
    /// A pool that already has `size` running members (a deployed pool).
    pub fn new(net: [u8; 3], size: u64, timing: Timing, now: Instant) -> Result<(Pool, Vec<Change>), PoolError> {
        let id = ids::uuid();
        let mut pool =
            Pool { name: "autoscaling".into(), id, size: 0, members: Vec::new(), ops: HashMap::new(), net, next_host: 1, timing };
        pool.grow(size, now)?;
        for m in &mut pool.members {
            m.due = now;
        }
        let changes = pool.advance(now);
        Ok((pool, changes))
    }

    pub fn state(&self) -> &'static str {
        if self.members.iter().any(|m| m.state == MemberState::Starting) {
            "scaling-up"
        } else if self.members.iter().any(|m| m.state == MemberState::Destroying) {
            "scaling-down"
        } else {
            "running"
        }
    }

    /// Members that belong to the pool (not being destroyed), oldest first.
    pub fn current(&self) -> impl Iterator<Item = &MemberRecord> {
        self.members.iter().filter(|m| m.state != MemberState::Destroying)
    }

    pub fn member(&self, id: &str) -> Option<&MemberRecord> {
        self.members.iter().find(|m| m.id == id)
    }

    pub fn set_state(&mut self, id: &str, state: MemberState) {
        if let Some(m) = self.members.iter_mut().find(|m| m.id == id) {
            m.state = state;
        }
    }

    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.ops.get(id)
    }

    fn new_operation(&mut self, now: Instant) -> String {
        let op = Operation { id: ids::uuid(), done_at: now + self.timing.operation, reference: self.id.clone() };
        let id = op.id.clone();
        self.ops.insert(id.clone(), op);
        id
    }

    fn grow(&mut self, count: u64, now: Instant) -> Result<(), PoolError> {
        if self.next_host as u64 + count > MAX_HOST as u64 + 1 {
            return Err(PoolError::BadRequest(format!(
                "the twin's member network {}.{}.{}.0/24 has no free address left for {count} more members (addresses are not reused); restart the twin",
                self.net[0], self.net[1], self.net[2]
            )));
        }
        for _ in 0..count {
            let id = ids::uuid();
            let name = format!("pool-{}-{}", &self.id[..5], &id[..5]);
            let ip = Ipv4Addr::new(self.net[0], self.net[1], self.net[2], self.next_host as u8);
            self.next_host += 1;
            let created_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
            self.members.push(MemberRecord { id, name, ip, state: MemberState::Starting, created_at, due: now + self.timing.boot });
        }
        self.size += count;
        Ok(())
    }

    fn destroy(&mut self, ids: &[String], now: Instant) -> Vec<Change> {
        let until = now + self.timing.operation;
        let mut changes = Vec::new();
        for m in self.members.iter_mut().filter(|m| ids.contains(&m.id)) {
            m.state = MemberState::Destroying;
            m.due = until;
            changes.push(Change::Stopped(m.id.clone()));
        }
        self.size -= changes.len() as u64;
        changes
    }

    /// `PUT :scale`: returns the operation id and the changes to apply now.
    pub fn scale(&mut self, size: u64, now: Instant) -> Result<(String, Vec<Change>), PoolError> {
        let mut changes = Vec::new();
        if size > self.size {
            self.grow(size - self.size, now)?;
        } else if size < self.size {
            let oldest: Vec<String> = self.current().take((self.size - size) as usize).map(|m| m.id.clone()).collect();
            changes = self.destroy(&oldest, now);
        }
        Ok((self.new_operation(now), changes))
    }

    /// `PUT :evict`: remove the named members; size shrinks by their number.
    pub fn evict(&mut self, ids: &[String], now: Instant) -> Result<(String, Vec<Change>), PoolError> {
        if ids.is_empty() {
            return Err(PoolError::BadRequest("instances: give at least one instance id".into()));
        }
        for id in ids {
            if !self.current().any(|m| &m.id == id) {
                return Err(PoolError::BadRequest(format!("instance {id} is not a member of instance pool {}", self.id)));
            }
        }
        let changes = self.destroy(ids, now);
        Ok((self.new_operation(now), changes))
    }

    /// Move members whose time has come: booted, or gone.
    pub fn advance(&mut self, now: Instant) -> Vec<Change> {
        let mut changes = Vec::new();
        for m in self.members.iter_mut().filter(|m| m.state == MemberState::Starting && m.due <= now) {
            m.state = MemberState::Running;
            changes.push(Change::Booted(m.id.clone(), m.ip));
        }
        self.members.retain(|m| {
            let gone = m.state == MemberState::Destroying && m.due <= now;
            if gone {
                changes.push(Change::Removed(m.id.clone()));
            }
            !gone
        });
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(size: u64, t0: Instant) -> Pool {
        let timing = Timing { boot: Duration::from_secs(90), operation: Duration::from_secs(5) };
        Pool::new([127, 0, 9], size, timing, t0).unwrap().0
    }

    #[test]
    fn initial_members_run_at_once_with_distinct_ips() {
        let t0 = Instant::now();
        let p = pool(3, t0);
        assert_eq!(p.state(), "running");
        let ips: Vec<String> = p.members.iter().map(|m| m.ip.to_string()).collect();
        assert_eq!(ips, ["127.0.9.1", "127.0.9.2", "127.0.9.3"]);
    }

    #[test]
    fn scale_up_boots_then_runs_and_operation_completes() {
        let t0 = Instant::now();
        let mut p = pool(1, t0);
        let (op, changes) = p.scale(3, t0).unwrap();
        assert!(changes.is_empty());
        assert_eq!((p.size, p.state()), (3, "scaling-up"));
        assert_eq!(p.operation(&op).unwrap().state(t0), "pending");
        assert_eq!(p.operation(&op).unwrap().state(t0 + Duration::from_secs(5)), "success");
        assert!(p.advance(t0 + Duration::from_secs(89)).is_empty());
        let booted = p.advance(t0 + Duration::from_secs(90));
        assert_eq!(booted.len(), 2);
        assert_eq!(p.state(), "running");
    }

    #[test]
    fn scale_down_destroys_the_oldest_and_never_reuses_ips() {
        let t0 = Instant::now();
        let mut p = pool(3, t0);
        let oldest = p.members[0].id.clone();
        let (_, changes) = p.scale(2, t0).unwrap();
        assert_eq!(changes, vec![Change::Stopped(oldest.clone())]);
        assert_eq!((p.size, p.state()), (2, "scaling-down"));
        assert_eq!(p.advance(t0 + Duration::from_secs(5)), vec![Change::Removed(oldest)]);
        p.scale(3, t0).unwrap();
        assert_eq!(p.members.last().unwrap().ip.to_string(), "127.0.9.4");
    }

    #[test]
    fn evict_removes_named_members_and_rejects_strangers() {
        let t0 = Instant::now();
        let mut p = pool(3, t0);
        let victim = p.members[1].id.clone();
        assert!(matches!(p.evict(&["nope".into()], t0), Err(PoolError::BadRequest(_))));
        assert!(matches!(p.evict(&[], t0), Err(PoolError::BadRequest(_))));
        assert_eq!(p.size, 3);
        p.evict(std::slice::from_ref(&victim), t0).unwrap();
        assert_eq!(p.size, 2);
        assert!(p.current().all(|m| m.id != victim));
        assert!(matches!(p.evict(&[victim], t0), Err(PoolError::BadRequest(_))));
    }

    #[test]
    fn address_space_exhaustion_is_a_clear_error() {
        let t0 = Instant::now();
        let mut p = pool(250, t0);
        assert!(p.scale(254, t0).is_ok());
        let err = p.scale(255, t0).unwrap_err();
        assert!(matches!(err, PoolError::BadRequest(m) if m.contains("no free address")));
        assert_eq!(p.size, 254);
    }
}
