# Binary delivery without publishing anything: Terraform's built-in `file`
# provisioner copies the crate's source from this checkout to the monitoring
# VM over SSH, and the VM compiles it with the Rust toolchain that cloud-init
# installed (the VM has internet; the operator needs only Terraform, on any OS
# and CPU). The source does not fit in the 32 KiB of user data.
#
# SSH uses a generated password (secrets.tf), reachable only from admin_cidr;
# install-autoscaler switches password login off and locks the password when
# it is done. To deliver a new version later, replace the VM:
#   terraform apply -replace=exoscale_compute_instance.monitoring
locals {
  crate_root = abspath("${path.module}/..")
}

resource "terraform_data" "delivery" {
  triggers_replace = [exoscale_compute_instance.monitoring.id]

  connection {
    type     = "ssh"
    host     = exoscale_compute_instance.monitoring.public_ip_address
    user     = data.exoscale_template.ubuntu.default_user
    password = local.secrets.ssh
    timeout  = "15m"
  }

  # Wait until cloud-init has installed Prometheus, Grafana and Rust. Its exit
  # code is ignored because "degraded" (a warning) is not a failure here; the
  # install script checks what it needs.
  provisioner "remote-exec" {
    inline = ["cloud-init status --wait >/dev/null; rm -rf /tmp/autoscaler-src; mkdir -m 0700 -p /tmp/autoscaler-src/secrets"]
  }

  # cargo needs every workspace member present, so twin/ travels too.
  provisioner "file" {
    source      = "${local.crate_root}/Cargo.toml"
    destination = "/tmp/autoscaler-src/Cargo.toml"
  }
  provisioner "file" {
    source      = "${local.crate_root}/Cargo.lock"
    destination = "/tmp/autoscaler-src/Cargo.lock"
  }
  provisioner "file" {
    source      = "${local.crate_root}/src"
    destination = "/tmp/autoscaler-src"
  }
  provisioner "file" {
    source      = "${local.crate_root}/twin"
    destination = "/tmp/autoscaler-src"
  }

  # The secrets travel only this way (encrypted, into a 0700 directory), never
  # in user data, which any process on the VM can read from the metadata server.
  provisioner "file" {
    content     = module.userdata.secret_files["api.env"]
    destination = "/tmp/autoscaler-src/secrets/api.env"
  }
  provisioner "file" {
    content     = module.userdata.secret_files["webhook.env"]
    destination = "/tmp/autoscaler-src/secrets/webhook.env"
  }
  provisioner "file" {
    content     = module.userdata.secret_files["grafana.env"]
    destination = "/tmp/autoscaler-src/secrets/grafana.env"
  }

  provisioner "remote-exec" {
    inline = ["sudo /usr/local/sbin/install-autoscaler /tmp/autoscaler-src"]
  }
}
