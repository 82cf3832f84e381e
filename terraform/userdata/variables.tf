# Inputs of the user-data renderer. Secrets are marked sensitive so Terraform
# never prints them in a plan.

variable "zone" {
  description = "Exoscale zone of the pool."
  type        = string
}

variable "pool_id" {
  description = "UUID of the instance pool the autoscaler manages."
  type        = string
}

variable "pool_min_size" {
  description = "AUTOSCALER_MIN_SIZE."
  type        = number
}

variable "pool_max_size" {
  description = "AUTOSCALER_MAX_SIZE."
  type        = number
}

variable "scale_up_cooldown" {
  description = "AUTOSCALER_SCALE_UP_COOLDOWN in seconds; empty keeps the autoscaler's default."
  type        = string
  default     = ""
}

variable "scale_down_cooldown" {
  description = "AUTOSCALER_SCALE_DOWN_COOLDOWN in seconds; empty keeps the autoscaler's default."
  type        = string
  default     = ""
}

variable "api_key" {
  description = "The autoscaler's own IAM API key."
  type        = string
  sensitive   = true
}

variable "api_secret" {
  description = "Its secret."
  type        = string
  sensitive   = true
}

variable "webhook_secret" {
  description = "Shared HMAC secret of Grafana's webhooks and the listener."
  type        = string
  sensitive   = true
}

variable "grafana_admin_password" {
  description = "Initial Grafana admin password."
  type        = string
  sensitive   = true
}

variable "ssh_user" {
  description = "The template's default user, which receives the delivery password."
  type        = string
}

variable "ssh_password" {
  description = "Temporary SSH password for binary delivery."
  type        = string
  sensitive   = true
}

variable "load_generator_image" {
  description = "Load generator container image, pinned by tag."
  type        = string
}

variable "grafana_version" {
  description = "Grafana apt package version."
  type        = string
}

variable "rust_toolchain" {
  description = "Rust toolchain for building the autoscaler on the VM."
  type        = string
}

variable "listen_port" {
  description = "Loopback port of the webhook listener (Grafana's contact points point here)."
  type        = number
  default     = 8090
}
