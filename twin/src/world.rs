//! The simulated cloud's shared state: the pool, the running member
//! services, the fault settings and the API call log, behind one lock. The
//! main loop calls `tick` to move time-driven transitions forward.

use crate::clock::{unix_now, Clock};
use crate::faults::Faults;
use crate::log;
use crate::member::Member;
use crate::nlb::{HealthCheck, NlbState};
use crate::pool::{Change, MemberState, Pool, Timing};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The API call log keeps this many recent calls.
const MAX_CALLS: usize = 10_000;

pub struct Settings {
    pub key: String,
    pub secret: String,
    pub vcpus: u32,
    pub load: Duration,
    pub health: HealthCheck,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ApiCall {
    pub at: f64,
    pub method: String,
    pub path: String,
    pub status: u16,
}

pub struct State {
    pub pool: Pool,
    /// Services of members that booted; killed ones stay listed, not alive.
    pub members: HashMap<String, Arc<Member>>,
    pub faults: Faults,
    pub api_calls: VecDeque<ApiCall>,
}

pub struct Twin {
    pub clock: Clock,
    pub settings: Settings,
    pub nlb: NlbState,
    state: Mutex<State>,
}

impl Twin {
    /// Create the pool with `size` running members; fails if their
    /// addresses cannot be bound (another twin on the same --member-net).
    pub fn new(settings: Settings, clock: Clock, net: [u8; 3], size: u64, timing: Timing, faults: Faults) -> Result<Arc<Twin>, String> {
        let now = Instant::now();
        let (pool, changes) =
            Pool::new(net, size, timing, now).map_err(|crate::pool::PoolError::BadRequest(e)| format!("--pool-size {size}: {e}"))?;
        let mut members = HashMap::new();
        for change in changes {
            if let Change::Booted(id, ip) = change {
                let m = Member::start(ip, settings.vcpus, settings.load).map_err(|e| {
                    format!(
                        "cannot bind member address {ip} ports 8080/9100 ({e}); is another twin using --member-net {}.{}.{}? pick another",
                        net[0], net[1], net[2]
                    )
                })?;
                members.insert(id, m);
            }
        }
        let state = State { pool, members, faults, api_calls: VecDeque::new() };
        Ok(Arc::new(Twin { clock, settings, nlb: NlbState::default(), state: Mutex::new(state) }))
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Act on pool changes: start booted members (unless a boot-failure
    /// fault claims them), stop destroyed ones.
    pub fn apply(&self, st: &mut State, changes: Vec<Change>) {
        for change in changes {
            match change {
                Change::Booted(id, ip) => {
                    if st.faults.take_boot_failure() {
                        st.pool.set_state(&id, MemberState::Error);
                        log::warn("member.boot_failed", &[("id", &id), ("ip", &ip), ("cause", &"boot_failures fault")]);
                        continue;
                    }
                    match Member::start(ip, self.settings.vcpus, self.settings.load) {
                        Ok(m) => {
                            log::info("member.running", &[("id", &id), ("ip", &ip)]);
                            st.members.insert(id, m);
                        }
                        Err(e) => {
                            st.pool.set_state(&id, MemberState::Error);
                            log::warn(
                                "member.boot_failed",
                                &[("id", &id), ("ip", &ip), ("cause", &e), ("hint", &"address in use: another twin on this --member-net?")],
                            );
                        }
                    }
                }
                Change::Stopped(id) => {
                    if let Some(m) = st.members.remove(&id) {
                        m.stop();
                    }
                    self.nlb.forget(&id);
                    log::info("member.destroying", &[("id", &id)]);
                }
                Change::Removed(id) => log::info("member.removed", &[("id", &id)]),
            }
        }
    }

    /// Advance boot and destroy timers.
    pub fn tick(&self) {
        let mut st = self.lock();
        let changes = st.pool.advance(Instant::now());
        self.apply(&mut st, changes);
    }

    /// A member dies: its services stop answering. Exoscale keeps showing
    /// the VM as `running` (the hypervisor does not see the workload die);
    /// only the NLB health check notices.
    pub fn kill(&self, id: &str) -> Result<(), String> {
        let st = self.lock();
        let m = st.members.get(id).ok_or_else(|| format!("kill_member: no running member with id {id}"))?;
        m.stop();
        log::warn("member.killed", &[("id", &id)]);
        Ok(())
    }

    pub fn record_call(&self, method: &str, path: &str, status: u16) {
        let mut st = self.lock();
        if st.api_calls.len() == MAX_CALLS {
            st.api_calls.pop_front();
        }
        st.api_calls.push_back(ApiCall { at: unix_now(), method: method.to_string(), path: path.to_string(), status });
    }
}
