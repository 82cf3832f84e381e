//! `autoscaler scale-tick` (issue C fills this in).

use crate::config::{ApiConfig, Env, PolicyConfig};
use crate::failure::Failure;

pub fn run(env: &Env) -> Result<(), Failure> {
    let api = ApiConfig::from_env(env)?;
    PolicyConfig::from_env(env)?;
    Err(Failure::Runtime(format!("scale-tick for pool {} is not implemented yet (issue C)", api.pool_id)))
}
