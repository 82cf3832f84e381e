//! `autoscaler listen`: the webhook receiver (issue B).

pub mod server;
