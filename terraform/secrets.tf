# Generated with Terraform built-ins only, so no extra provider is needed
# (hashicorp/random and hashicorp/tls cannot be built from the Go module proxy
# here, so a module using them could not be validated). uuid() carries 122
# random bits; ignore_changes keeps the first values for the deployment's life.
# They live in the Terraform state: keep terraform.tfstate private.
resource "terraform_data" "secrets" {
  input = {
    webhook = replace("${uuid()}${uuid()}", "-", "")
    grafana = replace(uuid(), "-", "")
    ssh     = replace("${uuid()}${uuid()}", "-", "")
  }

  lifecycle {
    ignore_changes = [input]
  }
}

locals {
  secrets = sensitive(terraform_data.secrets.output)
}
