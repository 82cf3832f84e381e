//! The environment contract. Every setting comes from an environment variable
//! (as a systemd `EnvironmentFile` provides it); command-line flags override
//! by writing into the same map, so there is exactly one validation path.
//!
//! A missing or invalid value becomes a [`ConfigError`] that names the
//! variable; `main` prints it on one line and exits with code 2.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Zones of the Exoscale API v2 (`servers` enum of the official OpenAPI spec).
pub const ZONES: &[&str] = &["ch-gva-2", "ch-dk-2", "de-fra-1", "de-muc-1", "at-vie-1", "at-vie-2", "bg-sof-1", "hr-zag-1"];

pub const DEFAULT_LISTEN_ADDR: &str = "127.0.0.1";
pub const DEFAULT_LISTEN_PORT: u16 = 8090;
pub const DEFAULT_STATE_DIR: &str = "/var/lib/autoscaler";
pub const DEFAULT_MIN_SIZE: u64 = 1;
pub const DEFAULT_MAX_SIZE: u64 = 10;
/// New members boot for 1-3 min, then the 60 s rate window must fill before
/// the pool average shows them: 180 s of boot + 60 s. A second scale-up
/// sooner would count the same demand twice.
pub const DEFAULT_SCALE_UP_COOLDOWN: u64 = 240;
/// Scale-down waits longer than scale-up, after any scale (the HPA's 300 s
/// scale-down stabilisation window), so a spike's end does not undo it.
pub const DEFAULT_SCALE_DOWN_COOLDOWN: u64 = 300;
/// With `ab -c 2` about two members are busy; 3 members give 67 %, under
/// this target and safely under the 80 % alert, while 2 members (100 %) are
/// over it. Inside the 20-80 % band, with room for noise below 80 %.
pub const DEFAULT_TARGET_CPU: f64 = 70.0;
/// Grafana repeats a firing alert every 30-60 s and the tick runs every
/// 60 s, so a still-valid signal is never older than about two minutes;
/// anything older than three tick intervals describes a past situation.
pub const DEFAULT_MARKER_MAX_AGE: u64 = 180;
pub const DEFAULT_DISCOVER_PORT: u16 = 9100;
pub const DEFAULT_SIGNATURE_HEADER: &str = "X-Grafana-Alerting-Signature";
pub const DEFAULT_TIMESTAMP_HEADER: &str = "X-Grafana-Alerting-Timestamp";
/// Seconds a webhook request may take to arrive whole (Grafana's bodies are
/// a few KiB on loopback or a LAN).
pub const DEFAULT_READ_TIMEOUT: u64 = 10;

/// A configuration problem, always tied to the variable that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub var: String,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.var, self.problem)
    }
}

impl std::error::Error for ConfigError {}

fn err(var: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError { var: var.to_string(), problem: problem.into() }
}

/// A secret value. Its `Debug` and `Display` never show the content, so a
/// secret cannot leak through a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A snapshot of the variables the program reads. Built from the process
/// environment, then flags override entries; tests build it from pairs.
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Env {
        Env::from_pairs(std::env::vars())
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Env {
        Env { vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }

    pub fn set(&mut self, var: &str, value: &str) {
        self.vars.insert(var.to_string(), value.to_string());
    }

    /// An empty value counts as unset: `KEY=` in an EnvironmentFile is a
    /// common way to leave something at its default.
    pub fn get(&self, var: &str) -> Option<&str> {
        self.vars.get(var).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// The first of several accepted names that is set, with the name used.
    fn first_of<'a>(&'a self, vars: &[&'a str]) -> Option<(&'a str, &'a str)> {
        vars.iter().find_map(|name| self.get(name).map(|value| (*name, value)))
    }

    fn required(&self, var: &str, hint: &str) -> Result<&str, ConfigError> {
        self.get(var).ok_or_else(|| err(var, format!("is not set ({hint})")))
    }

    pub fn parse_or<T: std::str::FromStr>(&self, var: &str, default: T, what: &str) -> Result<T, ConfigError> {
        match self.get(var) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|_| err(var, format!("'{raw}' is not {what}"))),
        }
    }

    pub fn bool_or(&self, var: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(var).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
            Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
            Some(v) => Err(err(var, format!("'{v}' is not a boolean (use true or false)"))),
        }
    }
}

/// What every command that talks to the Exoscale API needs.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    pub key: String,
    pub secret: Secret,
    pub zone: String,
    pub pool_id: String,
    /// Base URL including `/v2`, without a trailing slash.
    pub endpoint: String,
}

impl ApiConfig {
    pub fn from_env(env: &Env) -> Result<ApiConfig, ConfigError> {
        let (_, key) = env
            .first_of(&["EXOSCALE_KEY", "EXOSCALE_API_KEY"])
            .ok_or_else(|| err("EXOSCALE_KEY", "is not set (the autoscaler's own IAM API key, EXO...)"))?;
        let (_, secret) = env
            .first_of(&["EXOSCALE_SECRET", "EXOSCALE_API_SECRET"])
            .ok_or_else(|| err("EXOSCALE_SECRET", "is not set (the secret of the autoscaler's IAM API key)"))?;
        let zone = env.required("EXOSCALE_ZONE", "e.g. at-vie-1")?;
        if !ZONES.contains(&zone) {
            return Err(err("EXOSCALE_ZONE", format!("'{zone}' is not a known zone (one of {})", ZONES.join(", "))));
        }
        let pool_id = env.required("EXOSCALE_INSTANCEPOOL_ID", "the UUID of the instance pool to scale")?;
        if !is_uuid(pool_id) {
            return Err(err("EXOSCALE_INSTANCEPOOL_ID", format!("'{pool_id}' is not a UUID")));
        }
        let endpoint = match env.get("EXOSCALE_API_ENDPOINT") {
            None => format!("https://api-{zone}.exoscale.com/v2"),
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => url.trim_end_matches('/').to_string(),
            Some(url) => {
                return Err(err(
                    "EXOSCALE_API_ENDPOINT",
                    format!("'{url}' is not an http(s) URL such as https://api-{zone}.exoscale.com/v2"),
                ))
            }
        };
        Ok(ApiConfig {
            key: key.to_string(),
            secret: Secret::new(secret),
            zone: zone.to_string(),
            pool_id: pool_id.to_ascii_lowercase(),
            endpoint,
        })
    }
}

/// What `autoscaler listen` needs.
#[derive(Clone, Debug)]
pub struct ListenConfig {
    pub addr: IpAddr,
    pub port: u16,
    pub state_dir: PathBuf,
    pub webhook_secret: Option<Secret>,
    pub signature_header: String,
    pub timestamp_header: String,
    /// Accept HMAC signatures over the body alone (no timestamp header),
    /// which a captured request could replay. Off by default.
    pub allow_untimestamped: bool,
    /// Whole-request read deadline: a stalled client is cut off after it.
    pub read_timeout: Duration,
}

impl ListenConfig {
    pub fn from_env(env: &Env) -> Result<ListenConfig, ConfigError> {
        Ok(ListenConfig {
            addr: env.parse_or("LISTEN_ADDR", DEFAULT_LISTEN_ADDR.parse().expect("valid default"), "an IP address")?,
            port: env.parse_or("LISTEN_PORT", DEFAULT_LISTEN_PORT, "a TCP port (0-65535)")?,
            state_dir: state_dir(env),
            webhook_secret: env.get("AUTOSCALER_WEBHOOK_SECRET").map(Secret::new),
            signature_header: env.get("AUTOSCALER_WEBHOOK_SIGNATURE_HEADER").unwrap_or(DEFAULT_SIGNATURE_HEADER).to_string(),
            timestamp_header: env.get("AUTOSCALER_WEBHOOK_TIMESTAMP_HEADER").unwrap_or(DEFAULT_TIMESTAMP_HEADER).to_string(),
            allow_untimestamped: env.bool_or("AUTOSCALER_WEBHOOK_ALLOW_UNTIMESTAMPED", false)?,
            read_timeout: match env.parse_or("AUTOSCALER_WEBHOOK_READ_TIMEOUT", DEFAULT_READ_TIMEOUT, "a number of seconds")? {
                0 => return Err(err("AUTOSCALER_WEBHOOK_READ_TIMEOUT", "must be at least 1 second")),
                secs => Duration::from_secs(secs),
            },
        })
    }
}

/// How the size of a step is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyMode {
    /// HPA-style `ceil(size × cpu / target)`, demand-aware at saturation.
    Proportional,
    /// ±1 per tick whatever the values say (the baseline to compare with).
    Step,
}

impl PolicyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyMode::Proportional => "proportional",
            PolicyMode::Step => "step",
        }
    }
}

/// Bounds and pacing of the scaling decision.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyConfig {
    pub min_size: u64,
    pub max_size: u64,
    /// Seconds; 0 disables.
    pub scale_up_cooldown: u64,
    /// Seconds; 0 disables.
    pub scale_down_cooldown: u64,
    /// Pool average CPU (percent) the proportional rule aims for.
    pub target_cpu: f64,
    /// Seconds after which a marker is discarded unused.
    pub marker_max_age: u64,
    pub mode: PolicyMode,
}

impl PolicyConfig {
    pub fn from_env(env: &Env) -> Result<PolicyConfig, ConfigError> {
        let min_size = env.parse_or("AUTOSCALER_MIN_SIZE", DEFAULT_MIN_SIZE, "a whole number of members")?;
        let max_size = env.parse_or("AUTOSCALER_MAX_SIZE", DEFAULT_MAX_SIZE, "a whole number of members")?;
        if min_size < 1 {
            return Err(err("AUTOSCALER_MIN_SIZE", "must be at least 1 (an empty pool cannot report CPU)"));
        }
        if max_size < min_size {
            return Err(err("AUTOSCALER_MAX_SIZE", format!("{max_size} is below AUTOSCALER_MIN_SIZE={min_size}")));
        }
        Ok(PolicyConfig {
            min_size,
            max_size,
            scale_up_cooldown: env.parse_or("AUTOSCALER_SCALE_UP_COOLDOWN", DEFAULT_SCALE_UP_COOLDOWN, "a number of seconds")?,
            scale_down_cooldown: env.parse_or("AUTOSCALER_SCALE_DOWN_COOLDOWN", DEFAULT_SCALE_DOWN_COOLDOWN, "a number of seconds")?,
            target_cpu: target_cpu(env)?,
            marker_max_age: env.parse_or("AUTOSCALER_MARKER_MAX_AGE", DEFAULT_MARKER_MAX_AGE, "a number of seconds")?,
            mode: match env.get("AUTOSCALER_POLICY") {
                None | Some("proportional") => PolicyMode::Proportional,
                Some("step") => PolicyMode::Step,
                Some(other) => return Err(err("AUTOSCALER_POLICY", format!("'{other}' is not a policy (use proportional or step)"))),
            },
        })
    }
}

fn target_cpu(env: &Env) -> Result<f64, ConfigError> {
    let target: f64 = env.parse_or("AUTOSCALER_TARGET_CPU", DEFAULT_TARGET_CPU, "a percentage")?;
    if !(target > 0.0 && target <= 100.0) {
        return Err(err(
            "AUTOSCALER_TARGET_CPU",
            format!("{target} is not a percentage above 0 and at most 100 (default {DEFAULT_TARGET_CPU})"),
        ));
    }
    Ok(target)
}

/// `--dry-run`: decide and log, but call no scale API.
pub fn dry_run(env: &Env) -> Result<bool, ConfigError> {
    env.bool_or("AUTOSCALER_DRY_RUN", false)
}

/// What `autoscaler discover` writes, and where.
#[derive(Clone, Debug, PartialEq)]
pub struct DiscoverConfig {
    pub output: PathBuf,
    /// The node exporter's port on every member.
    pub port: u16,
}

impl DiscoverConfig {
    pub fn from_env(env: &Env) -> Result<DiscoverConfig, ConfigError> {
        let output = match env.get("AUTOSCALER_DISCOVER_OUTPUT") {
            Some(path) => PathBuf::from(path),
            None => state_dir(env).join("file_sd").join("pool.json"),
        };
        Ok(DiscoverConfig { output, port: env.parse_or("AUTOSCALER_DISCOVER_PORT", DEFAULT_DISCOVER_PORT, "a TCP port (0-65535)")? })
    }
}

pub fn state_dir(env: &Env) -> PathBuf {
    PathBuf::from(env.get("AUTOSCALER_STATE_DIR").unwrap_or(DEFAULT_STATE_DIR))
}

/// RFC 4122 textual form: 8-4-4-4-12 hex digits.
pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5 && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, len)| g.len() == len && g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POOL: &str = "f81d4fae-7dec-11d0-a765-00a0c91e6bf6";

    fn api_env(extra: &[(&str, &str)]) -> Env {
        let mut env = Env::from_pairs([
            ("EXOSCALE_KEY", "EXOkey"),
            ("EXOSCALE_SECRET", "s3cr3t-value"),
            ("EXOSCALE_ZONE", "at-vie-1"),
            ("EXOSCALE_INSTANCEPOOL_ID", POOL),
        ]);
        for (k, v) in extra {
            env.set(k, v);
        }
        env
    }

    #[test]
    fn api_config_defaults_endpoint_from_zone() {
        let cfg = ApiConfig::from_env(&api_env(&[])).unwrap();
        assert_eq!(cfg.endpoint, "https://api-at-vie-1.exoscale.com/v2");
        assert_eq!(cfg.pool_id, POOL);
    }

    #[test]
    fn api_config_accepts_official_alternative_names() {
        let env = Env::from_pairs([
            ("EXOSCALE_API_KEY", "EXOalt"),
            ("EXOSCALE_API_SECRET", "alt"),
            ("EXOSCALE_ZONE", "ch-gva-2"),
            ("EXOSCALE_INSTANCEPOOL_ID", POOL),
        ]);
        let cfg = ApiConfig::from_env(&env).unwrap();
        assert_eq!(cfg.key, "EXOalt");
        assert_eq!(cfg.secret.expose(), "alt");
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("EXOSCALE_ZONE", "mars-1")], "EXOSCALE_ZONE"),
            (&[("EXOSCALE_INSTANCEPOOL_ID", "not-a-uuid")], "EXOSCALE_INSTANCEPOOL_ID"),
            (&[("EXOSCALE_API_ENDPOINT", "ftp://x")], "EXOSCALE_API_ENDPOINT"),
            (&[("EXOSCALE_ZONE", "")], "EXOSCALE_ZONE"),
        ];
        for (extra, var) in cases {
            let e = ApiConfig::from_env(&api_env(extra)).unwrap_err();
            assert_eq!(e.var, *var, "{extra:?}");
        }
        let missing = ApiConfig::from_env(&Env::default()).unwrap_err();
        assert_eq!(missing.var, "EXOSCALE_KEY");
    }

    #[test]
    fn secrets_never_render() {
        let cfg = ApiConfig::from_env(&api_env(&[])).unwrap();
        let shown = format!("{cfg:?} {}", cfg.secret);
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
    }

    #[test]
    fn policy_bounds_are_checked() {
        let e = PolicyConfig::from_env(&Env::from_pairs([("AUTOSCALER_MIN_SIZE", "5"), ("AUTOSCALER_MAX_SIZE", "3")])).unwrap_err();
        assert_eq!(e.var, "AUTOSCALER_MAX_SIZE");
        let e = PolicyConfig::from_env(&Env::from_pairs([("AUTOSCALER_SCALE_UP_COOLDOWN", "-1")])).unwrap_err();
        assert_eq!(e.var, "AUTOSCALER_SCALE_UP_COOLDOWN");
        let p = PolicyConfig::from_env(&Env::default()).unwrap();
        assert_eq!((p.min_size, p.max_size), (1, 10));
        assert_eq!((p.target_cpu, p.marker_max_age, p.mode), (70.0, 180, PolicyMode::Proportional));
    }

    #[test]
    fn tick_knobs_are_checked() {
        for (var, bad) in [
            ("AUTOSCALER_TARGET_CPU", "0"),
            ("AUTOSCALER_TARGET_CPU", "120"),
            ("AUTOSCALER_TARGET_CPU", "high"),
            ("AUTOSCALER_MARKER_MAX_AGE", "soon"),
            ("AUTOSCALER_POLICY", "random"),
        ] {
            assert_eq!(PolicyConfig::from_env(&Env::from_pairs([(var, bad)])).unwrap_err().var, var, "{var}={bad}");
        }
        let p = PolicyConfig::from_env(&Env::from_pairs([("AUTOSCALER_POLICY", "step"), ("AUTOSCALER_TARGET_CPU", "55.5")])).unwrap();
        assert_eq!((p.mode, p.target_cpu), (PolicyMode::Step, 55.5));
        assert_eq!(dry_run(&Env::from_pairs([("AUTOSCALER_DRY_RUN", "maybe")])).unwrap_err().var, "AUTOSCALER_DRY_RUN");
        assert!(dry_run(&Env::from_pairs([("AUTOSCALER_DRY_RUN", "true")])).unwrap());
    }

    #[test]
    fn discover_defaults_under_the_state_dir() {
        let d = DiscoverConfig::from_env(&Env::from_pairs([("AUTOSCALER_STATE_DIR", "/s")])).unwrap();
        assert_eq!((d.output, d.port), (PathBuf::from("/s/file_sd/pool.json"), 9100));
        assert_eq!(
            DiscoverConfig::from_env(&Env::from_pairs([("AUTOSCALER_DISCOVER_PORT", "x")])).unwrap_err().var,
            "AUTOSCALER_DISCOVER_PORT"
        );
    }

    #[test]
    fn listen_defaults_to_loopback() {
        let l = ListenConfig::from_env(&Env::default()).unwrap();
        assert_eq!(l.addr.to_string(), "127.0.0.1");
        assert_eq!(l.port, 8090);
        assert!(!l.allow_untimestamped);
        assert_eq!(l.read_timeout, Duration::from_secs(10));
        let e = ListenConfig::from_env(&Env::from_pairs([("LISTEN_PORT", "99999")])).unwrap_err();
        assert_eq!(e.var, "LISTEN_PORT");
        for (var, bad) in [("AUTOSCALER_WEBHOOK_ALLOW_UNTIMESTAMPED", "maybe"), ("AUTOSCALER_WEBHOOK_READ_TIMEOUT", "0")] {
            let e = ListenConfig::from_env(&Env::from_pairs([(var, bad)])).unwrap_err();
            assert_eq!(e.var, var);
        }
    }

    #[test]
    fn uuid_shape() {
        assert!(is_uuid(POOL));
        assert!(!is_uuid("f81d4fae7dec11d0a76500a0c91e6bf6"));
        assert!(!is_uuid("g81d4fae-7dec-11d0-a765-00a0c91e6bf6"));
    }
}
