output "nlb_ip" {
  description = "Public IP of the load balancer in front of the pool."
  value       = exoscale_nlb.nlb.ip_address
}

output "grafana_url" {
  description = "Grafana on the monitoring VM (user admin)."
  value       = "http://${exoscale_compute_instance.monitoring.public_ip_address}:3000"
}

output "prometheus_url" {
  description = "Prometheus on the monitoring VM."
  value       = "http://${exoscale_compute_instance.monitoring.public_ip_address}:9090"
}

output "grafana_admin_password_command" {
  description = "How to read the generated Grafana admin password."
  value       = "terraform output -raw grafana_admin_password"
}

output "grafana_admin_password" {
  description = "Generated Grafana admin password (sensitive: shown only on request)."
  value       = local.secrets.grafana
  sensitive   = true
}

output "acceptance_command" {
  description = "The acceptance test: the pool must bring the average CPU under 80 % within 10 minutes."
  value       = "ab -c 2 -n 1000 http://${exoscale_nlb.nlb.ip_address}/load"
}

output "instance_pool_id" {
  description = "The pool the autoscaler manages."
  value       = exoscale_instance_pool.pool.id
}
