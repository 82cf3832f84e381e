//! `twin`: a local twin of the Exoscale cloud for the autoscaler: the API v2
//! subset, one instance pool whose members serve the load generator and node
//! metrics on their own loopback IPs, and an NLB in front of them.
//! `twin serve` runs it; `twin status` shows what it is doing.

mod api;
mod clock;
mod control;
mod faults;
mod http;
mod ids;
mod log;
mod member;
mod nlb;
mod pool;
mod server;
mod signals;
mod world;

use clock::Clock;
use faults::{ApiErrors, FaultRequest, Faults};
use nlb::HealthCheck;
use pool::Timing;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use world::{Settings, Twin};

const USAGE: &str = "twin: a local twin of the Exoscale cloud (API v2 subset, instance pool, NLB, node metrics)

usage:
  twin serve [FLAGS]                       run until SIGTERM/SIGINT; prints one JSON line when ready
  twin status --control-url URL [--json]   show members, states, CPU, API calls of a running twin
  twin <command> --help
";

const SERVE_HELP: &str = "twin serve: run the twin until SIGTERM/SIGINT (exit 0).

When every listener is bound it prints one JSON line to stdout:
  {\"api_endpoint\",\"zone\",\"pool_id\",\"nlb_url\",\"key\",\"secret\",\"control_url\",\"time_factor\",\"member_net\"}
Logs go to stderr. Every duration below is in simulated seconds and divided by --time-factor.

flags:
  --api-addr HOST:PORT        API v2 and /twin control endpoints (default 127.0.0.1:0)
  --nlb-addr HOST:PORT        the NLB's TCP listener (default 127.0.0.1:0)
  --member-net A.B.C          members get A.B.C.N (N = 1, 2, ... never reused), ports 8080 and 9100
                              (default 127.0.1; give every concurrent twin its own)
  --key KEY, --secret SECRET  API credentials (random when omitted)
  --zone ZONE                 one of ch-gva-2 ch-dk-2 de-fra-1 de-muc-1 at-vie-1 at-vie-2 bg-sof-1 hr-zag-1 (default at-vie-1)
  --pool-size N               initial members, running at start (default 1)
  --boot-seconds S            a new member is `starting` this long (default 90)
  --operation-seconds S       operations stay `pending` this long; destroyed members linger as long (default 5)
  --load-seconds S            one GET /load keeps all vCPUs busy this long (default 10)
  --vcpus N                   vCPUs per member (default 2)
  --time-factor F             divide every duration by F (default 1)
  --health-interval S         NLB health check interval (default 10)
  --health-timeout S          NLB health check timeout (default 5)
  --health-retries N          failures tolerated before a member leaves rotation (default 1)
faults (also settable at run time with POST {control_url}/faults):
  --api-error-status CODE     inject this HTTP status (e.g. 429, 500, 503) into API replies...
  --api-error-count N         ...for the next N calls
  --api-error-rate P          ...or for each call with probability P (0..1)
  --api-retry-after S         with a Retry-After header of S seconds
  --latency-ms MS             added to every API call
  --boot-failures N           the next N members to finish booting end in state `error`
";

const STATUS_HELP: &str = "twin status --control-url URL [--json]: print a running twin's status
(members, states, modelled CPU, requests served, NLB counters, recent API calls).
  --control-url URL   the control_url from `twin serve`'s JSON line
  --json              print the raw JSON of GET {control_url}/status
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("status") => status(&args[1..]),
        Some("--help" | "-h" | "help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => Err(Usage(format!("expected a command\n{USAGE}"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Usage(msg)) => {
            eprintln!("twin: {msg}");
            ExitCode::from(2)
        }
        Err(Runtime(msg)) => {
            eprintln!("twin: {msg}");
            ExitCode::from(1)
        }
    }
}

/// Usage or configuration errors (and failures to bind) exit 2; a failed
/// request to a running twin exits 1.
enum Failure {
    Usage(String),
    Runtime(String),
}
use Failure::{Runtime, Usage};

/// Flags as `--name value` pairs; bare flags in `switches` map to "true".
fn parse_flags(args: &[String], known: &[&str], switches: &[&str], help: &str) -> Result<Option<HashMap<String, String>>, Failure> {
    let mut out = HashMap::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--help" || arg == "-h" {
            print!("{help}");
            return Ok(None);
        }
        let (name, inline) = arg.split_once('=').map_or((arg.as_str(), None), |(n, v)| (n, Some(v.to_string())));
        let bare = name.trim_start_matches("--");
        if switches.contains(&bare) {
            out.insert(bare.to_string(), "true".to_string());
        } else if known.contains(&bare) && name.starts_with("--") {
            let value = inline.or_else(|| it.next().cloned()).ok_or_else(|| Usage(format!("{name} needs a value")))?;
            out.insert(bare.to_string(), value);
        } else {
            return Err(Usage(format!("unknown argument {arg:?}; see --help")));
        }
    }
    Ok(Some(out))
}

fn get<T: std::str::FromStr>(flags: &HashMap<String, String>, name: &str, default: T) -> Result<T, Failure> {
    match flags.get(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| Usage(format!("--{name} {v:?} is not valid; see --help"))),
    }
}

fn seconds(flags: &HashMap<String, String>, name: &str, default: f64) -> Result<f64, Failure> {
    let v: f64 = get(flags, name, default)?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(Usage(format!("--{name} must be a non-negative number of seconds, got {v}")))
    }
}

fn member_net(text: &str) -> Result<[u8; 3], Failure> {
    let parts: Vec<u8> = text.split('.').filter_map(|p| p.parse().ok()).collect();
    match parts[..] {
        [127, b, c] if text.split('.').count() == 3 => Ok([127, b, c]),
        _ => Err(Usage(format!("--member-net {text:?}: expected three octets on loopback, like 127.0.1"))),
    }
}

/// The fault flags, as the same request the control endpoint takes.
fn fault_flags(flags: &HashMap<String, String>) -> Result<FaultRequest, Failure> {
    let api_errors = match flags.get("api-error-status") {
        None => None,
        Some(_) => Some(ApiErrors {
            status: get(flags, "api-error-status", 0)?,
            count: flags.get("api-error-count").map(|_| get(flags, "api-error-count", 0)).transpose()?,
            rate: flags.get("api-error-rate").map(|_| get(flags, "api-error-rate", 0.0)).transpose()?,
            retry_after: flags.get("api-retry-after").map(|_| seconds(flags, "api-retry-after", 0.0)).transpose()?,
        }),
    };
    let req = FaultRequest {
        api_errors,
        latency_ms: flags.get("latency-ms").map(|_| get(flags, "latency-ms", 0)).transpose()?,
        boot_failures: flags.get("boot-failures").map(|_| get(flags, "boot-failures", 0)).transpose()?,
        kill_member: None,
    };
    req.validate().map_err(|e| Usage(format!("fault flags: {e}")))?;
    Ok(req)
}

const SERVE_FLAGS: &[&str] = &[
    "api-addr",
    "nlb-addr",
    "member-net",
    "key",
    "secret",
    "zone",
    "pool-size",
    "boot-seconds",
    "operation-seconds",
    "load-seconds",
    "vcpus",
    "time-factor",
    "health-interval",
    "health-timeout",
    "health-retries",
    "api-error-status",
    "api-error-count",
    "api-error-rate",
    "api-retry-after",
    "latency-ms",
    "boot-failures",
];

fn serve(args: &[String]) -> Result<(), Failure> {
    let Some(flags) = parse_flags(args, SERVE_FLAGS, &[], SERVE_HELP)? else { return Ok(()) };
    let loopback = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
    let api_addr: SocketAddr = get(&flags, "api-addr", loopback)?;
    let nlb_addr: SocketAddr = get(&flags, "nlb-addr", loopback)?;
    let net = member_net(flags.get("member-net").map_or("127.0.1", String::as_str))?;
    let zone = flags.get("zone").cloned().unwrap_or_else(|| "at-vie-1".into());
    if !api::ZONES.contains(&zone.as_str()) {
        return Err(Usage(format!("--zone {zone:?}: expected one of {}", api::ZONES.join(" "))));
    }
    let clock = Clock::new(get(&flags, "time-factor", 1.0)?).map_err(Usage)?;
    let pool_size: u64 = get(&flags, "pool-size", 1)?;
    let vcpus: u32 = get(&flags, "vcpus", 2)?;
    if !(1..=128).contains(&vcpus) {
        return Err(Usage(format!("--vcpus must be within 1..=128, got {vcpus}")));
    }
    let health = HealthCheck {
        interval: clock.scaled(seconds(&flags, "health-interval", 10.0)?).max(Duration::from_millis(10)),
        timeout: clock.scaled(seconds(&flags, "health-timeout", 5.0)?).max(Duration::from_millis(10)),
        retries: get(&flags, "health-retries", 1)?,
    };
    let settings = Settings {
        key: flags.get("key").cloned().unwrap_or_else(ids::api_key),
        secret: flags.get("secret").cloned().unwrap_or_else(ids::api_secret),
        vcpus,
        load: clock.scaled(seconds(&flags, "load-seconds", 10.0)?),
        health,
    };
    let timing = Timing {
        boot: clock.scaled(seconds(&flags, "boot-seconds", 90.0)?),
        operation: clock.scaled(seconds(&flags, "operation-seconds", 5.0)?),
    };
    let mut faults = Faults::new(ids::Rng::from_entropy());
    faults.apply(&fault_flags(&flags)?);

    let api_server = tiny_http::Server::http(api_addr).map_err(|e| Usage(format!("--api-addr {api_addr}: cannot listen ({e})")))?;
    let api_bound = api_server.server_addr().to_ip().ok_or_else(|| Usage("--api-addr: not an IP listener".into()))?;
    let nlb_listener = TcpListener::bind(nlb_addr).map_err(|e| Usage(format!("--nlb-addr {nlb_addr}: cannot listen ({e})")))?;
    let nlb_bound = nlb_listener.local_addr().map_err(|e| Usage(format!("--nlb-addr: {e}")))?;
    let twin = Twin::new(settings, clock, net, pool_size, timing, faults).map_err(Usage)?;
    signals::install();
    server::start(twin.clone(), Arc::new(api_server)).map_err(|e| Usage(format!("cannot start API workers: {e}")))?;
    nlb::start(twin.clone(), nlb_listener).map_err(|e| Usage(format!("cannot start the NLB: {e}")))?;

    let api_url = format!("http://{}", reachable(api_bound));
    let pool_id = twin.lock().pool.id.clone();
    let line = serde_json::json!({
        "api_endpoint": format!("{api_url}/v2"),
        "zone": zone,
        "pool_id": pool_id,
        "nlb_url": format!("http://{}", reachable(nlb_bound)),
        "key": twin.settings.key,
        "secret": twin.settings.secret,
        "control_url": format!("{api_url}/twin"),
        "time_factor": clock.factor(),
        "member_net": format!("{}.{}.{}", net[0], net[1], net[2]),
    });
    println!("{line}");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    log::info(
        "twin.ready",
        &[("api", &api_bound), ("nlb", &nlb_bound), ("pool_id", &pool_id), ("size", &pool_size), ("time_factor", &clock.factor())],
    );

    while !signals::stop_requested() {
        twin.tick();
        std::thread::sleep(Duration::from_millis(20));
    }
    log::info("twin.stopped", &[("signal", &"SIGTERM/SIGINT")]);
    Ok(())
}

/// A bound address as clients should dial it (0.0.0.0 → 127.0.0.1).
fn reachable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
    } else {
        addr
    }
}

fn status(args: &[String]) -> Result<(), Failure> {
    let Some(flags) = parse_flags(args, &["control-url"], &["json"], STATUS_HELP)? else { return Ok(()) };
    let url = flags
        .get("control-url")
        .ok_or_else(|| Usage("status: --control-url URL is required (the control_url printed by `twin serve`)".into()))?;
    let status = control::fetch_status(url).map_err(Runtime)?;
    if flags.contains_key("json") {
        println!("{status}");
    } else {
        print!("{}", control::render(&status));
    }
    Ok(())
}
