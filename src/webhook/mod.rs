//! `autoscaler listen`: the webhook receiver (issue B).

pub mod auth;
pub mod http;
pub mod payload;
pub mod server;
