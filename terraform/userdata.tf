# Every file that goes onto a VM is rendered in ./userdata, a module that uses
# no provider at all: the offline tests render it with real Terraform.
module "userdata" {
  source = "./userdata"

  zone                   = var.zone
  pool_id                = exoscale_instance_pool.pool.id
  pool_min_size          = var.pool_min_size
  pool_max_size          = var.pool_max_size
  scale_up_cooldown      = var.scale_up_cooldown
  scale_down_cooldown    = var.scale_down_cooldown
  api_key                = exoscale_iam_api_key.autoscaler.key
  api_secret             = exoscale_iam_api_key.autoscaler.secret
  webhook_secret         = local.secrets.webhook
  grafana_admin_password = local.secrets.grafana
  ssh_user               = data.exoscale_template.ubuntu.default_user
  ssh_password           = local.secrets.ssh
  load_generator_image   = var.load_generator_image
  grafana_version        = var.grafana_version
  rust_toolchain         = var.rust_toolchain
}
