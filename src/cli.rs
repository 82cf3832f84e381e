//! Command-line parsing. Every option is a way to set one environment
//! variable of the config contract, so flags and an `EnvironmentFile` go
//! through the same validation. Secrets have no flag on purpose: a command
//! line is visible to every user in `ps`.

use crate::config::Env;

pub struct Opt {
    pub flag: &'static str,
    pub var: &'static str,
    /// `None` for a switch (sets the variable to `true`).
    pub value_name: Option<&'static str>,
    pub help: &'static str,
}

pub struct Command {
    pub name: &'static str,
    pub about: &'static str,
    pub details: &'static str,
    pub options: &'static [Opt],
}

const fn opt(flag: &'static str, var: &'static str, value_name: &'static str, help: &'static str) -> Opt {
    Opt { flag, var, value_name: Some(value_name), help }
}

const fn switch(flag: &'static str, var: &'static str, help: &'static str) -> Opt {
    Opt { flag, var, value_name: None, help }
}

const STATE_DIR: Opt =
    opt("--state-dir", "AUTOSCALER_STATE_DIR", "DIR", "state directory (markers, decisions, lock) [default: /var/lib/autoscaler]");
const ZONE: Opt = opt("--zone", "EXOSCALE_ZONE", "ZONE", "Exoscale zone, e.g. at-vie-1");
const POOL: Opt = opt("--pool-id", "EXOSCALE_INSTANCEPOOL_ID", "UUID", "instance pool to manage");
const ENDPOINT: Opt = opt("--endpoint", "EXOSCALE_API_ENDPOINT", "URL", "API base URL [default: https://api-{zone}.exoscale.com/v2]");

const API_ENV: &str = "Credentials come only from the environment: EXOSCALE_KEY and EXOSCALE_SECRET\n(or EXOSCALE_API_KEY / EXOSCALE_API_SECRET), never from flags.";

pub const COMMANDS: &[Command] = &[
    Command {
        name: "listen",
        about: "Receive Grafana/Alertmanager webhooks on /up and /down and write durable markers",
        details: "Routes: /up and /down (GET, POST, PUT), GET /healthz, GET /metrics.\nAUTOSCALER_WEBHOOK_SECRET enables Grafana HMAC verification (a timestamp header is required\nunless AUTOSCALER_WEBHOOK_ALLOW_UNTIMESTAMPED=true). AUTOSCALER_WEBHOOK_READ_TIMEOUT (seconds,\ndefault 10) cuts off slow clients. Stops cleanly on SIGTERM/SIGINT.",
        options: &[
            opt("--listen-addr", "LISTEN_ADDR", "IP", "address to bind [default: 127.0.0.1]"),
            opt("--listen-port", "LISTEN_PORT", "PORT", "port to bind [default: 8090]"),
            STATE_DIR,
        ],
    },
    Command {
        name: "scale-tick",
        about: "Run one scaling decision: read markers, decide, call the API, log why",
        details: "Meant for a systemd timer every 60 s. A pause file <state-dir>/paused makes it decide\nand log without calling the scale API, as --dry-run does.",
        options: &[
            ZONE,
            POOL,
            ENDPOINT,
            STATE_DIR,
            opt("--min-size", "AUTOSCALER_MIN_SIZE", "N", "smallest pool size [default: 1]"),
            opt("--max-size", "AUTOSCALER_MAX_SIZE", "N", "largest pool size [default: 10]"),
            opt("--scale-up-cooldown", "AUTOSCALER_SCALE_UP_COOLDOWN", "SECS", "wait after a scale-up, 0 disables [default: 240]"),
            opt("--scale-down-cooldown", "AUTOSCALER_SCALE_DOWN_COOLDOWN", "SECS", "wait after any scale before a scale-down, 0 disables [default: 300]"),
            opt("--target-cpu", "AUTOSCALER_TARGET_CPU", "PERCENT", "pool CPU the proportional rule aims for [default: 70]"),
            opt("--marker-max-age", "AUTOSCALER_MARKER_MAX_AGE", "SECS", "discard markers older than this [default: 180]"),
            opt("--policy", "AUTOSCALER_POLICY", "NAME", "proportional or step (±1 per tick) [default: proportional]"),
            switch("--dry-run", "AUTOSCALER_DRY_RUN", "decide and log, but call no scale API"),
        ],
    },
    Command {
        name: "discover",
        about: "Write the pool members as a Prometheus file_sd target list",
        details: "Writes atomically and only when the member list changed; on API failure the old\nfile stays and the exit code is 1.",
        options: &[
            ZONE,
            POOL,
            ENDPOINT,
            opt("--output", "AUTOSCALER_DISCOVER_OUTPUT", "FILE", "file_sd JSON file to write [default: <state-dir>/file_sd/pool.json]"),
            opt("--port", "AUTOSCALER_DISCOVER_PORT", "PORT", "node exporter port on each member [default: 9100]"),
            STATE_DIR,
        ],
    },
    Command {
        name: "status",
        about: "Show the pool, pending markers, cooldowns and the last decisions",
        details: "",
        options: &[ZONE, POOL, ENDPOINT, STATE_DIR, switch("--json", "AUTOSCALER_STATUS_JSON", "machine-readable output")],
    },
];

pub enum Parsed {
    Run { command: &'static Command, env: Env },
    Help(String),
    Version,
}

/// Parse `args` (without the program name) on top of `env`.
pub fn parse(args: &[String], mut env: Env) -> Result<Parsed, String> {
    let Some(first) = args.first() else {
        return Ok(Parsed::Help(usage()));
    };
    match first.as_str() {
        "-h" | "--help" | "help" => {
            return Ok(match args.get(1).and_then(|n| find(n)) {
                Some(cmd) => Parsed::Help(command_help(cmd)),
                None => Parsed::Help(usage()),
            })
        }
        "-V" | "--version" => return Ok(Parsed::Version),
        _ => {}
    }
    let command = find(first).ok_or_else(|| format!("unknown command '{first}'\n\n{}", usage()))?;
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Parsed::Help(command_help(command)));
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let opt = command
            .options
            .iter()
            .find(|o| o.flag == flag)
            .ok_or_else(|| format!("{}: unknown option '{arg}' (see autoscaler {} --help)", command.name, command.name))?;
        let value = match opt.value_name {
            None if inline.is_some() => return Err(format!("{}: {} takes no value", command.name, opt.flag)),
            None => "true".to_string(),
            Some(name) => match inline {
                Some(v) => v,
                None => rest.next().cloned().ok_or_else(|| format!("{}: {} needs a value {name}", command.name, opt.flag))?,
            },
        };
        env.set(opt.var, &value);
    }
    Ok(Parsed::Run { command, env })
}

fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

pub fn usage() -> String {
    let mut s = String::from("autoscaler: scales an Exoscale instance pool from Grafana/Alertmanager webhooks\n\nUsage: autoscaler <COMMAND> [OPTIONS]\n\nCommands:\n");
    for c in COMMANDS {
        s.push_str(&format!("  {:<12}{}\n", c.name, c.about));
    }
    s.push_str("\nOptions:\n  -h, --help     show help (also: autoscaler <COMMAND> --help)\n  -V, --version  show version\n\nSettings come from environment variables (see each command's help); flags override them.\n");
    s
}

pub fn command_help(c: &Command) -> String {
    let mut s = format!("{}\n\nUsage: autoscaler {} [OPTIONS]\n\nOptions:\n", c.about, c.name);
    for o in c.options {
        let left = match o.value_name {
            Some(v) => format!("{} {v}", o.flag),
            None => o.flag.to_string(),
        };
        s.push_str(&format!("  {left:<28}{} (env {})\n", o.help, o.var));
    }
    s.push_str("  -h, --help                  show this help\n");
    if c.options.iter().any(|o| o.var == "EXOSCALE_ZONE") {
        s.push('\n');
        s.push_str(API_ENV);
        s.push('\n');
    }
    if !c.details.is_empty() {
        s.push('\n');
        s.push_str(c.details);
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_override_environment() {
        let env = Env::from_pairs([("EXOSCALE_ZONE", "at-vie-1")]);
        let Ok(Parsed::Run { command, env }) = parse(&args(&["scale-tick", "--zone", "ch-gva-2", "--dry-run", "--min-size=2"]), env) else {
            panic!("expected a run")
        };
        assert_eq!(command.name, "scale-tick");
        assert_eq!(env.get("EXOSCALE_ZONE"), Some("ch-gva-2"));
        assert_eq!(env.get("AUTOSCALER_DRY_RUN"), Some("true"));
        assert_eq!(env.get("AUTOSCALER_MIN_SIZE"), Some("2"));
    }

    #[test]
    fn every_command_has_help() {
        for c in COMMANDS {
            let Ok(Parsed::Help(text)) = parse(&args(&[c.name, "--help"]), Env::default()) else { panic!("{}", c.name) };
            assert!(text.contains(c.name), "{text}");
        }
    }

    #[test]
    fn mistakes_are_explained() {
        assert!(parse(&args(&["frobnicate"]), Env::default()).err().unwrap().contains("unknown command"));
        assert!(parse(&args(&["status", "--bogus"]), Env::default()).err().unwrap().contains("unknown option"));
        assert!(parse(&args(&["status", "--zone"]), Env::default()).err().unwrap().contains("needs a value"));
        assert!(parse(&args(&["status", "--json=1"]), Env::default()).err().unwrap().contains("takes no value"));
    }
}
