//! Structured, journald-friendly log lines: one event per line, `key=value`
//! pairs (logfmt). Info goes to stdout, warnings and errors to stderr, so a
//! plain terminal and `journalctl -u` both read them the same way. A process
//! whose stdout is a machine-read channel (the twin's one JSON line) calls
//! [`all_to_stderr`] once at start.

use std::fmt::Display;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static ALL_TO_STDERR: AtomicBool = AtomicBool::new(false);

/// From now on every line of this process goes to stderr, info included.
pub fn all_to_stderr() {
    ALL_TO_STDERR.store(true, Ordering::Relaxed);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// Render one log line (without the trailing newline).
pub fn format_line(level: Level, event: &str, fields: &[(&str, &dyn Display)]) -> String {
    let mut line = format!("level={} event={}", level.as_str(), quote(event));
    for (key, value) in fields {
        line.push(' ');
        line.push_str(key);
        line.push('=');
        line.push_str(&quote(&value.to_string()));
    }
    line
}

/// Quote a value only when it needs it, so the common case stays grep-able.
fn quote(value: &str) -> String {
    let plain = !value.is_empty() && value.chars().all(|c| !c.is_whitespace() && c != '"' && c != '=' && c != '\\' && !c.is_control());
    if plain {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn emit(level: Level, event: &str, fields: &[(&str, &dyn Display)]) {
    let mut line = format_line(level, event, fields);
    line.push('\n');
    // A closed stdout/stderr must never take the process down: ignore write errors.
    let _ = if level == Level::Info && !ALL_TO_STDERR.load(Ordering::Relaxed) {
        std::io::stdout().lock().write_all(line.as_bytes())
    } else {
        std::io::stderr().lock().write_all(line.as_bytes())
    };
}

pub fn info(event: &str, fields: &[(&str, &dyn Display)]) {
    emit(Level::Info, event, fields);
}

pub fn warn(event: &str, fields: &[(&str, &dyn Display)]) {
    emit(Level::Warn, event, fields);
}

pub fn error(event: &str, fields: &[(&str, &dyn Display)]) {
    emit(Level::Error, event, fields);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_stay_unquoted() {
        let line = format_line(Level::Info, "tick", &[("from", &1), ("to", &3)]);
        assert_eq!(line, "level=info event=tick from=1 to=3");
    }

    #[test]
    fn values_with_spaces_quotes_and_newlines_are_escaped() {
        let line = format_line(Level::Warn, "x", &[("cause", &"cpu \"high\"\nnext"), ("e", &"")]);
        assert_eq!(line, r#"level=warn event=x cause="cpu \"high\"\nnext" e="""#);
    }
}
