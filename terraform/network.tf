# Security groups. The listener (8090) has no rule anywhere: it binds loopback
# and only Grafana on the same VM talks to it.

resource "exoscale_security_group" "pool" {
  name        = "${var.name}-pool"
  description = "Pool members: load generator for the NLB, node exporter for the monitoring VM"
}

resource "exoscale_security_group" "monitoring" {
  name        = "${var.name}-monitoring"
  description = "Monitoring VM: Grafana, Prometheus, autoscaler"
}

# The NLB keeps the client's source address and health-checks from Exoscale's
# own addresses, so the service port must be open to everyone.
resource "exoscale_security_group_rule" "pool_http" {
  security_group_id = exoscale_security_group.pool.id
  description       = "load generator via the NLB, and its health checks"
  type              = "INGRESS"
  protocol          = "TCP"
  cidr              = "0.0.0.0/0"
  start_port        = 8080
  end_port          = 8080
}

resource "exoscale_security_group_rule" "pool_node_exporter" {
  security_group_id      = exoscale_security_group.pool.id
  description            = "node exporter, scraped by Prometheus on the monitoring VM only"
  type                   = "INGRESS"
  protocol               = "TCP"
  user_security_group_id = exoscale_security_group.monitoring.id
  start_port             = 9100
  end_port               = 9100
}

locals {
  # port => what the admin CIDR reaches there
  admin_ports = {
    22   = "SSH: binary delivery (password login is switched off afterwards)"
    3000 = "Grafana"
    9090 = "Prometheus"
  }
}

resource "exoscale_security_group_rule" "monitoring_admin" {
  for_each          = local.admin_ports
  security_group_id = exoscale_security_group.monitoring.id
  description       = each.value
  type              = "INGRESS"
  protocol          = "TCP"
  cidr              = var.admin_cidr
  start_port        = each.key
  end_port          = each.key
}

resource "exoscale_security_group_rule" "pool_ssh" {
  count             = var.ssh_key_name == "" ? 0 : 1
  security_group_id = exoscale_security_group.pool.id
  description       = "SSH for debugging, only when ssh_key_name is set"
  type              = "INGRESS"
  protocol          = "TCP"
  cidr              = var.admin_cidr
  start_port        = 22
  end_port          = 22
}
