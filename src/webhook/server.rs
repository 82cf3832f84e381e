//! The tiny_http listener (issue B fills this in).

use crate::config::{Env, ListenConfig};
use crate::failure::Failure;

pub fn run(env: &Env) -> Result<(), Failure> {
    let cfg = ListenConfig::from_env(env)?;
    Err(Failure::Runtime(format!("listen on {}:{} is not implemented yet (issue B)", cfg.addr, cfg.port)))
}
