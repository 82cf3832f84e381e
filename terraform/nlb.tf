resource "exoscale_nlb" "nlb" {
  zone        = var.zone
  name        = "${var.name}-nlb"
  description = "Spreads /load over the pool members"
}

resource "exoscale_nlb_service" "http" {
  zone             = var.zone
  nlb_id           = exoscale_nlb.nlb.id
  name             = "${var.name}-http"
  description      = "80 -> load generator on 8080"
  instance_pool_id = exoscale_instance_pool.pool.id
  protocol         = "tcp"
  port             = 80
  target_port      = 8080
  strategy         = "round-robin"

  # Only members whose load generator answers get traffic, so a booting member
  # does not swallow requests.
  healthcheck {
    mode     = "http"
    port     = 8080
    uri      = "/health"
    interval = 5
    timeout  = 3
    retries  = 1
  }
}
