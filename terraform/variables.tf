# Only exoscale_key and exoscale_secret are required; Terraform asks for them.

variable "exoscale_key" {
  description = "Your Exoscale API key (EXO...). Used by Terraform only; it never reaches a VM."
  type        = string
  sensitive   = true
}

variable "exoscale_secret" {
  description = "The secret of that API key."
  type        = string
  sensitive   = true
}

variable "zone" {
  description = "Exoscale zone for every resource."
  type        = string
  default     = "at-vie-1"
}

variable "name" {
  description = "Prefix of every resource name, so two deployments can share an account."
  type        = string
  default     = "autoscaler"
}

variable "template_name" {
  description = "Ubuntu LTS template for every VM (the name the Exoscale provider's examples use)."
  type        = string
  default     = "Linux Ubuntu 22.04 LTS 64-bit"
}

variable "pool_instance_type" {
  description = "Instance type of the pool members."
  type        = string
  default     = "standard.micro"
}

variable "monitoring_instance_type" {
  description = "Instance type of the monitoring VM. It compiles the autoscaler once and runs Prometheus and Grafana: keep at least 4 GB."
  type        = string
  default     = "standard.medium"
}

variable "pool_min_size" {
  description = "Smallest pool size: the size at creation and the autoscaler's floor."
  type        = number
  default     = 1
  validation {
    condition     = var.pool_min_size >= 1
    error_message = "pool_min_size must be at least 1: an empty pool reports no CPU."
  }
}

variable "pool_max_size" {
  description = "Largest pool size the autoscaler may reach (each member costs money)."
  type        = number
  default     = 5
  validation {
    condition     = var.pool_max_size >= 1
    error_message = "pool_max_size must be at least 1."
  }
}

variable "admin_cidr" {
  description = <<-EOT
    Who may reach Grafana (3000), Prometheus (9090) and, during binary delivery only, SSH (22).
    The default 0.0.0.0/0 lets the course grader read Prometheus from outside and works from any
    network; Grafana still needs its generated password and SSH password login is switched off
    once the binary is delivered. Set your own address (e.g. "203.0.113.7/32") to close them.
  EOT
  type        = string
  default     = "0.0.0.0/0"
  validation {
    condition     = can(cidrnetmask(var.admin_cidr))
    error_message = "admin_cidr must be an IPv4 CIDR such as 203.0.113.7/32."
  }
}

variable "ssh_key_name" {
  description = "Optional name of an SSH key already registered in your Exoscale account, added to every VM for debugging. Empty: none."
  type        = string
  default     = ""
}

variable "load_generator_image" {
  description = "Container image of the course's load generator, pinned by tag."
  type        = string
  default     = "janoszen/http-load-generator:1.0.1"
}

variable "grafana_version" {
  description = "Grafana OSS package version from Grafana's apt repository (>= 12 for webhook HMAC signing)."
  type        = string
  default     = "12.4.4"
}

variable "rust_toolchain" {
  description = "Rust toolchain the monitoring VM installs with rustup to build the autoscaler (the crate needs >= 1.89)."
  type        = string
  default     = "1.89.0"
}

variable "scale_up_cooldown" {
  description = "Seconds the autoscaler waits after a scale-up before the next one (AUTOSCALER_SCALE_UP_COOLDOWN). Empty: its default."
  type        = string
  default     = ""
}

variable "scale_down_cooldown" {
  description = "Seconds the autoscaler waits after any scale before a scale-down (AUTOSCALER_SCALE_DOWN_COOLDOWN). Empty: its default."
  type        = string
  default     = ""
}
