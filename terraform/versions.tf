terraform {
  # 1.4 brought terraform_data, which holds the generated secrets.
  required_version = ">= 1.4"

  required_providers {
    exoscale = {
      source  = "exoscale/exoscale"
      version = "~> 0.70"
    }
  }
}

# The operator's key is used only here, by Terraform on the operator's machine;
# the VMs get the autoscaler's own restricted key (iam.tf).
provider "exoscale" {
  key    = var.exoscale_key
  secret = var.exoscale_secret
}
