# Renders every file that goes onto a VM. No provider: the offline tests run
# this module with real Terraform (tests/py/test_deploy_render.py).

locals {
  repo = "${path.module}/../.."

  # The one source of truth for the alerts, shared with the twin's rules
  # (prometheus/render.py); a test fails if the two renderings diverge.
  scaling   = jsondecode(file("${local.repo}/prometheus/scaling.json"))
  window    = "${local.scaling.rate_window_seconds}s"
  cpu_query = replace(local.scaling.cpu_query, "$${window}", local.window)
  demand_query = replace(replace(local.scaling.demand_query, "$${window}", local.window),
  "$${baseline}", tostring(local.scaling.estab_baseline))

  # Paths shared by several files; systemd/autoscaler-discover.service sets
  # AUTOSCALER_DISCOVER_OUTPUT to the same file_sd path (checked by a test).
  file_sd              = "/var/lib/autoscaler-sd/pool.json"
  datasource_uid       = "autoscaler-prometheus"
  dashboards_dir       = "/var/lib/grafana/dashboards"
  listener             = "http://127.0.0.1:${var.listen_port}"
  grafana_provisioning = "/etc/grafana/provisioning"

  autoscaler_env = join("", [for k, v in {
    EXOSCALE_ZONE                  = var.zone
    EXOSCALE_INSTANCEPOOL_ID       = var.pool_id
    LISTEN_ADDR                    = "127.0.0.1"
    LISTEN_PORT                    = var.listen_port
    AUTOSCALER_MIN_SIZE            = var.pool_min_size
    AUTOSCALER_MAX_SIZE            = var.pool_max_size
    AUTOSCALER_SCALE_UP_COOLDOWN   = var.scale_up_cooldown
    AUTOSCALER_SCALE_DOWN_COOLDOWN = var.scale_down_cooldown
  } : "${k}=${v}\n" if v != ""])

  # name => content of the files Grafana provisions
  grafana = {
    datasource = templatefile("${local.repo}/grafana/datasources/prometheus.yaml.tftpl", {
      uid             = local.datasource_uid
      scrape_interval = "${local.scaling.scrape_interval_seconds}s"
    })
    dashboards_provider = templatefile("${local.repo}/grafana/dashboards/provider.yaml.tftpl", {
      path = local.dashboards_dir
    })
    # Minified: the whole user data must stay under Exoscale's 32 KiB.
    dashboard = jsonencode(jsondecode(templatefile("${local.repo}/grafana/dashboards/autoscaler.json.tftpl", {
      datasource_uid = local.datasource_uid
      cpu_query      = local.cpu_query
      job            = local.scaling.job
      window         = local.window
      high           = local.scaling.high_percent
      low            = local.scaling.low_percent
    })))
    rules = templatefile("${local.repo}/grafana/alerting/rules.yaml.tftpl", {
      datasource_uid = local.datasource_uid
      cpu_query      = local.cpu_query
      demand_query   = local.demand_query
      high           = local.scaling.high_percent
      low            = local.scaling.low_percent
      for            = "${local.scaling.for_seconds}s"
      interval       = "${local.scaling.evaluation_interval_seconds}s"
    })
    contact_points = templatefile("${local.repo}/grafana/alerting/contact-points.yaml.tftpl", {
      listener = local.listener
    })
    policies = templatefile("${local.repo}/grafana/alerting/policies.yaml.tftpl", {
      group_wait      = "${local.scaling.group_wait_seconds}s"
      group_interval  = "${local.scaling.group_interval_seconds}s"
      repeat_interval = "${local.scaling.repeat_interval_seconds}s"
    })
  }

  prometheus = templatefile("${local.repo}/prometheus/prometheus.yml.tftpl", {
    job             = local.scaling.job
    scrape_interval = "${local.scaling.scrape_interval_seconds}s"
    file_sd         = local.file_sd
    listener        = "127.0.0.1:${var.listen_port}"
  })

  systemd_units = ["autoscaler-listen.service", "autoscaler-scale-tick.service", "autoscaler-scale-tick.timer",
  "autoscaler-discover.service", "autoscaler-discover.timer", "autoscaler-.service.d/hardening.conf"]

  monitoring_files = concat(
    [for u in local.systemd_units : { path = "/etc/systemd/system/${u}", mode = "0644", content = file("${local.repo}/systemd/${u}") }],
    [
      { path = "/etc/autoscaler/autoscaler.env", mode = "0600", content = local.autoscaler_env },
      { path = "/usr/local/sbin/install-autoscaler", mode = "0755", content = file("${local.repo}/cloud-init/install-autoscaler.sh") },
      { path = "/etc/systemd/system/grafana-server.service.d/autoscaler.conf", mode = "0644", content = file("${local.repo}/grafana/grafana-server.conf") },
      { path = "/etc/prometheus/prometheus.yml", mode = "0644", content = local.prometheus },
      { path = "${local.grafana_provisioning}/datasources/autoscaler.yaml", mode = "0644", content = local.grafana.datasource },
      { path = "${local.grafana_provisioning}/dashboards/autoscaler.yaml", mode = "0644", content = local.grafana.dashboards_provider },
      { path = "${local.grafana_provisioning}/alerting/rules.yaml", mode = "0644", content = local.grafana.rules },
      { path = "${local.grafana_provisioning}/alerting/contact-points.yaml", mode = "0644", content = local.grafana.contact_points },
      { path = "${local.grafana_provisioning}/alerting/policies.yaml", mode = "0644", content = local.grafana.policies },
      { path = "${local.dashboards_dir}/autoscaler.json", mode = "0644", content = local.grafana.dashboard },
    ],
  )
}

# Hashed once: bcrypt salts randomly, so a fresh hash on every plan would
# replace the monitoring VM each time.
resource "terraform_data" "ssh_password_hash" {
  input = bcrypt(var.ssh_password)

  lifecycle {
    ignore_changes = [input]
  }
}
