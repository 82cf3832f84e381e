//! The autoscaler library: every command's logic lives here so that tests and
//! the twin can use it; `main.rs` only parses and dispatches.
//!
//! Flow of one alert: `webhook` → `markers` (disk) → `tick` → `policy` →
//! `exoscale::client`. Lower layers (`policy`, `markers`, `config`,
//! `exoscale`) know nothing of the commands that use them.

pub mod atomic_file;
pub mod cli;
pub mod config;
pub mod decisions;
pub mod discover;
pub mod exoscale;
pub mod failure;
pub mod log;
pub mod markers;
pub mod metrics;
pub mod policy;
pub mod state;
pub mod status;
pub mod tick;
pub mod webhook;
