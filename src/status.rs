//! `autoscaler status`: what a person needs to know about the pool.

use crate::config::{ApiConfig, Env};
use crate::exoscale::client::Client;
use crate::failure::Failure;

pub fn run(env: &Env) -> Result<(), Failure> {
    let api = ApiConfig::from_env(env)?;
    let client = Client::new(&api);
    let pool = client
        .get_instance_pool(&api.pool_id)
        .map_err(|e| Failure::Runtime(format!("cannot read instance pool {} in {}: {e}", api.pool_id, api.zone)))?;
    println!("pool      {} ({})", pool.id, pool.name);
    println!("zone      {}", api.zone);
    println!("size      {}", pool.size);
    println!("state     {}", pool.state);
    println!("members   {}", pool.instances.len());
    Ok(())
}
