resource "exoscale_compute_instance" "monitoring" {
  zone               = var.zone
  name               = "${var.name}-monitoring"
  template_id        = data.exoscale_template.ubuntu.id
  type               = var.monitoring_instance_type
  disk_size          = 20
  ssh_keys           = var.ssh_key_name == "" ? null : [var.ssh_key_name]
  security_group_ids = [exoscale_security_group.monitoring.id]
  user_data          = module.userdata.monitoring
}
