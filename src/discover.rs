//! `autoscaler discover`: the pool's members as a Prometheus `file_sd`
//! target list, `[{"targets":["IP:9100"],"labels":{...}}, ...]`, one group
//! per member so each carries its own labels.
//!
//! Members still `starting` are included once they have a public IP: the
//! node exporter answers as soon as the member has booted, and listing it
//! early lets Prometheus scrape it on its first interval instead of one
//! discover run later. Until then its scrape fails (`up == 0`), which the
//! CPU average ignores. Members leaving the pool are left out.
//!
//! The file is replaced atomically (temp + fsync + rename) and only when the
//! content changed, so Prometheus reloads only on real changes. On an API
//! failure the old file stays and the command exits 1.

use crate::atomic_file;
use crate::config::{ApiConfig, DiscoverConfig, Env};
use crate::exoscale::client::Client;
use crate::exoscale::types::Instance;
use crate::failure::Failure;
use crate::log;
use crate::policy;
use serde_json::json;
use std::net::IpAddr;

pub fn run(env: &Env) -> Result<(), Failure> {
    let api = ApiConfig::from_env(env)?;
    let cfg = DiscoverConfig::from_env(env)?;
    let output = &cfg.output;
    let members = Client::new(&api).list_pool_instances(&api.pool_id).map_err(|e| {
        Failure::Runtime(format!(
            "cannot list the members of instance pool {}: {e}; {} keeps its previous targets",
            api.pool_id,
            output.display()
        ))
    })?;
    let body = render(&members, &api.pool_id, cfg.port);
    let targets = body.matches("\"targets\"").count();
    if std::fs::read(output).is_ok_and(|old| old == body.as_bytes()) {
        log::info("discover.unchanged", &[("output", &output.display()), ("targets", &targets)]);
        return Ok(());
    }
    let fail = |e: std::io::Error| {
        Failure::Runtime(format!("cannot write {}: {e}; check AUTOSCALER_DISCOVER_OUTPUT and its directory", output.display()))
    };
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    // Prometheus runs as its own user and must read the file.
    atomic_file::write(output, body.as_bytes(), 0o644).map_err(fail)?;
    log::info("discover.written", &[("output", &output.display()), ("targets", &targets)]);
    Ok(())
}

/// The file_sd JSON for `members`, sorted by address so the same pool
/// always renders the same bytes.
pub fn render(members: &[Instance], pool_id: &str, port: u16) -> String {
    let mut listed: Vec<(IpAddr, &Instance)> =
        members.iter().filter(|m| !policy::is_leaving(&m.state)).filter_map(|m| Some((m.public_ip.as_deref()?.parse().ok()?, m))).collect();
    listed.sort_by(|a, b| (a.0, &a.1.id).cmp(&(b.0, &b.1.id)));
    let groups: Vec<serde_json::Value> = listed
        .iter()
        .map(|(ip, m)| {
            let target = match ip {
                IpAddr::V4(_) => format!("{ip}:{port}"),
                IpAddr::V6(_) => format!("[{ip}]:{port}"),
            };
            json!({"targets": [target], "labels": {"instance_id": m.id, "instance_name": m.name, "pool_id": pool_id}})
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&groups).expect("JSON values serialise");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, ip: Option<&str>, state: &str) -> Instance {
        Instance {
            id: id.into(),
            name: format!("pool-{id}"),
            state: state.into(),
            public_ip: ip.map(str::to_string),
            manager: None,
            created_at: None,
        }
    }

    #[test]
    fn lists_members_with_an_address_sorted_and_labelled() {
        let members = vec![
            member("b", Some("10.0.0.10"), "running"),
            member("a", Some("10.0.0.9"), "starting"),
            member("c", None, "starting"),
            member("d", Some("10.0.0.11"), "destroying"),
            member("e", Some("not-an-ip"), "running"),
        ];
        let v: serde_json::Value = serde_json::from_str(&render(&members, "p", 9100)).unwrap();
        let targets: Vec<&str> = v.as_array().unwrap().iter().map(|g| g["targets"][0].as_str().unwrap()).collect();
        assert_eq!(targets, vec!["10.0.0.9:9100", "10.0.0.10:9100"]);
        assert_eq!(v[1]["labels"], json!({"instance_id": "b", "instance_name": "pool-b", "pool_id": "p"}));
        assert_eq!(render(&[], "p", 9100), "[]\n");
    }
}
