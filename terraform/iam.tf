# The autoscaler's own identity: it may read and resize pools and read
# instances and operations, nothing else. Its key is the only Exoscale
# credential that reaches a VM (the env file, mode 0600).
#
# Not verifiable offline (no Exoscale account here), to check on first apply:
# - that get-operation is classed under "compute" (its API spec tag says "general");
# - that no other operation is needed (e.g. list-zones by the SDK);
# - pinning the rule to this pool (parameters.id / resources.instance_pool.id)
#   is not done because that binding form is unconfirmed: the role can resize
#   every pool of the account.
resource "exoscale_iam_role" "autoscaler" {
  name        = "${var.name}-autoscaler"
  description = "Exoscale autoscaler on the monitoring VM: read pools/instances, scale and evict"
  editable    = true

  policy = {
    default_service_strategy = "deny"
    services = {
      compute = {
        type = "rules"
        rules = [{
          action     = "allow"
          expression = "operation in ['get-instance-pool', 'list-instance-pools', 'scale-instance-pool', 'evict-instance-pool-members', 'list-instances', 'get-instance', 'get-operation']"
        }]
      }
    }
  }
}

resource "exoscale_iam_api_key" "autoscaler" {
  name    = "${var.name}-autoscaler"
  role_id = exoscale_iam_role.autoscaler.id
}
