output "pool_member" {
  description = "cloud-init user data of a pool member."
  value = templatefile("${local.repo}/cloud-init/pool-member.yaml.tftpl", {
    load_generator_image = var.load_generator_image
  })
}

output "monitoring" {
  description = "cloud-init user data of the monitoring VM (no long-lived secret: those travel in secret_files)."
  value = templatefile("${local.repo}/cloud-init/monitoring.yaml.tftpl", {
    files             = local.monitoring_files
    ssh_user          = var.ssh_user
    ssh_password_hash = terraform_data.ssh_password_hash.output
    grafana_version   = var.grafana_version
    rust_toolchain    = var.rust_toolchain
  })
}

output "secret_files" {
  description = "file name => content of the env files that delivery.tf uploads over SSH and install-autoscaler installs as /etc/autoscaler/<name>, mode 0600."
  sensitive   = true
  value = {
    "api.env"     = "EXOSCALE_KEY=${var.api_key}\nEXOSCALE_SECRET=${var.api_secret}\n"
    "webhook.env" = "AUTOSCALER_WEBHOOK_SECRET=${var.webhook_secret}\n"
    "grafana.env" = "AUTOSCALER_WEBHOOK_SECRET=${var.webhook_secret}\nGF_SECURITY_ADMIN_PASSWORD=${var.grafana_admin_password}\n"
  }
}

output "grafana" {
  description = "Grafana provisioning files as rendered (for the offline tests)."
  value       = local.grafana
}

output "prometheus" {
  description = "/etc/prometheus/prometheus.yml as rendered."
  value       = local.prometheus
}
