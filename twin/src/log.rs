//! The twin's log lines: the project's logfmt format, always on stderr so
//! that stdout carries only the one JSON line scripts parse.

use autoscaler::log::{format_line, Level};
use std::fmt::Display;
use std::io::Write;

pub fn emit(level: Level, event: &str, fields: &[(&str, &dyn Display)]) {
    let line = format_line(level, event, fields) + "\n";
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

pub fn info(event: &str, fields: &[(&str, &dyn Display)]) {
    emit(Level::Info, event, fields);
}

pub fn warn(event: &str, fields: &[(&str, &dyn Display)]) {
    emit(Level::Warn, event, fields);
}
