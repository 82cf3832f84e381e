//! What must survive between ticks, in `<state-dir>/state.json`: the
//! cooldown clocks and the intent of a scale call in flight. Written
//! atomically (temp + fsync + rename), so a crash leaves the old or the new.

use crate::atomic_file;
use crate::decisions::Record;
use crate::policy::Clocks;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "state.json";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub clocks: Clocks,
    /// Recorded before a scale call and cleared after its markers are
    /// consumed. Found at the start of a tick, it means the last tick died
    /// in between: the pool's size tells whether the call took effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<Record>,
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE_NAME)
}

impl State {
    /// The saved state, or the default when there is none yet.
    pub fn load(state_dir: &Path) -> Result<State, String> {
        let file = path(state_dir);
        match std::fs::read(&file) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(format!("cannot read {}: {e}; check the owner and mode of AUTOSCALER_STATE_DIR", file.display())),
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("{} is not valid state ({e}); move it away to start with fresh cooldown clocks", file.display())),
        }
    }

    pub fn save(&self, state_dir: &Path) -> Result<(), String> {
        let file = path(state_dir);
        let body = serde_json::to_vec_pretty(self).expect("state serialises");
        atomic_file::write(&file, &body, 0o600)
            .map_err(|e| format!("cannot write {}: {e}; check free space and permissions", file.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn missing_is_default_and_roundtrips_and_garbage_is_explained() {
        let dir = std::env::temp_dir().join(format!("state-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(State::load(&dir).unwrap(), State::default());
        let state = State { clocks: Clocks { last_scale_up: Some(Utc::now()), last_scale_down: None }, intent: None };
        state.save(&dir).unwrap();
        assert_eq!(State::load(&dir).unwrap(), state);
        std::fs::write(path(&dir), b"{oops").unwrap();
        assert!(State::load(&dir).unwrap_err().contains("move it away"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
