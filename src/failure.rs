//! How a command ends when it cannot do its job: a configuration problem
//! (exit 2, names the variable) or a runtime failure (exit 1, one line
//! saying what failed and what to do).

use crate::config::ConfigError;
use std::fmt;

#[derive(Debug)]
pub enum Failure {
    Config(ConfigError),
    Runtime(String),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Config(_) => 2,
            Failure::Runtime(_) => 1,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Config(e) => write!(f, "configuration error: {e}"),
            Failure::Runtime(msg) => f.write_str(msg),
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::Config(e)
    }
}
