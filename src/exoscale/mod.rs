//! The Exoscale API v2: request signing, the JSON shapes, and a blocking client.

pub mod client;
pub mod sign;
pub mod types;
