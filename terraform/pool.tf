data "exoscale_template" "ubuntu" {
  zone = var.zone
  name = var.template_name
}

resource "exoscale_instance_pool" "pool" {
  zone               = var.zone
  name               = "${var.name}-pool"
  description        = "Load generator pool, scaled by the autoscaler on the monitoring VM"
  template_id        = data.exoscale_template.ubuntu.id
  instance_type      = var.pool_instance_type
  disk_size          = 10
  size               = var.pool_min_size
  instance_prefix    = "${var.name}-member"
  key_pair           = var.ssh_key_name == "" ? null : var.ssh_key_name
  security_group_ids = [exoscale_security_group.pool.id]
  user_data          = module.userdata.pool_member

  lifecycle {
    # The autoscaler owns the size: a re-apply must not undo its work.
    ignore_changes = [size]
  }
}
