//! Helpers shared by the integration tests (`mod common;`).
pub mod api_server;
pub mod autoscaler_bin;
pub mod oracle;
