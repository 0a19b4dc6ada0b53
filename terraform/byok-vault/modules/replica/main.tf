# One tenant-managed replica of the byok-vault primary key, for replica_management = "tenant".
# Instantiate it once per connected Region (other than the primary's), each with a provider
# for that Region: `providers = { aws = aws.eu_west_1 }`. It mirrors byok-v2-replicas.yaml.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

data "aws_iam_policy_document" "replica" {
  # The same key policy as the primary's: this account's IAM policies decide, and the
  # byok-vault role's policy names this key id in every Region.
  #checkov:skip=CKV_AWS_111:key policy; the resource is this key and the principal this account
  #checkov:skip=CKV_AWS_356:key policy; "*" means this key, nothing else
  #checkov:skip=CKV_AWS_109:key policy; the default key policy delegating to this account's IAM
  statement {
    sid       = "EnableIamPoliciesOfThisAccount"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

# Backups encrypted in this Region are read with this replica: Terraform refuses to destroy it.
resource "aws_kms_replica_key" "replica" {
  primary_key_arn         = var.primary_key_arn
  description             = "byok-vault backup encryption key (replica)"
  enabled                 = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.replica.json

  lifecycle {
    prevent_destroy = true
  }
}
