//! `autoscaler discover` (issue C fills this in).

use crate::config::{ApiConfig, Env};
use crate::failure::Failure;

pub fn run(env: &Env) -> Result<(), Failure> {
    let api = ApiConfig::from_env(env)?;
    Err(Failure::Runtime(format!("discover for pool {} is not implemented yet (issue C)", api.pool_id)))
}
