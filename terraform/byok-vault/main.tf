# byok-vault BYOK for tenants who deploy with Terraform: what byok-v2.yaml creates, written
# as aws_iam_policy_document data sources so CI compares them with the template statement
# by statement. Completion goes through a one-resource CloudFormation stack (notify.yaml):
# its custom resource reaches byok-vault exactly as the template's does, and byok-vault's
# answer (SUCCESS, or FAILED with the reason) decides whether `terraform apply` succeeds.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  create_key = var.existing_key_id == ""
  # "tenant": you create the replicas (modules/replica), and the role can neither replicate
  # nor create keys.
  service_replicates = var.replica_management == "service"
  key_id     = local.create_key ? aws_kms_key.multi_region[0].key_id : "mrk-${split("mrk-", var.existing_key_id)[1]}"
  key_arn    = "arn:${local.partition}:kms:${local.region}:${local.account_id}:key/${local.key_id}"
}

# An existing key must be a multi-Region primary in this account and Region.
data "aws_kms_key" "existing" {
  count  = local.create_key ? 0 : 1
  key_id = var.existing_key_id

  lifecycle {
    postcondition {
      condition     = self.multi_region && self.multi_region_configuration[0].multi_region_key_type == "PRIMARY"
      error_message = "existing_key_id must be a multi-Region primary key (not a replica, not single-Region)."
    }
    postcondition {
      condition     = split(":", self.arn)[4] == data.aws_caller_identity.current.account_id && split(":", self.arn)[3] == data.aws_region.current.name
      error_message = "existing_key_id must be a key of this account in this Region."
    }
  }
}

data "aws_iam_policy_document" "key" {
  # A key policy's "*" resource is this key alone, and kms:* for this account's root is the
  # AWS default key policy: it hands the decision to the account's own IAM policies.
  #checkov:skip=CKV_AWS_111:key policy; the resource is this key and the principal this account
  #checkov:skip=CKV_AWS_356:key policy; "*" means this key, nothing else
  #checkov:skip=CKV_AWS_109:key policy; the default key policy delegating to this account's IAM
  # Only this account's IAM policies decide who uses the key; the service gets in solely
  # through the role below.
  statement {
    sid       = "EnableIamPoliciesOfThisAccount"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
}

# Backups encrypted under this key are lost with it: Terraform refuses to destroy it.
resource "aws_kms_key" "multi_region" {
  count                    = local.create_key ? 1 : 0
  description              = "byok-vault backup encryption key (multi-Region primary)"
  multi_region             = true
  enable_key_rotation      = true
  customer_master_key_spec = "SYMMETRIC_DEFAULT"
  key_usage                = "ENCRYPT_DECRYPT"
  deletion_window_in_days  = 30
  policy                   = data.aws_iam_policy_document.key.json

  lifecycle {
    prevent_destroy = true
  }
}

data "aws_iam_policy_document" "trust" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [var.service_role_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.external_id]
    }
  }
}

data "aws_iam_policy_document" "key_access" {
  # The key and its replicas share one key id, so a region wildcard covers exactly this
  # key everywhere and nothing else.
  statement {
    sid    = "UseTheKey"
    effect = "Allow"
    actions = [
      "kms:DescribeKey",
      "kms:GenerateDataKey",
      "kms:Decrypt",
    ]
    resources = ["arn:${local.partition}:kms:*:${local.account_id}:key/${local.key_id}"]
  }

  # Replicas only into the Regions byok-vault serves (none when you create them).
  dynamic "statement" {
    for_each = local.service_replicates ? [1] : []
    content {
      sid       = "ReplicateTheKey"
      effect    = "Allow"
      actions   = ["kms:ReplicateKey"]
      resources = ["arn:${local.partition}:kms:${local.region}:${local.account_id}:key/${local.key_id}"]

      condition {
        test     = "StringEquals"
        variable = "kms:ReplicaRegion"
        values = [
          "af-south-1",
          "ap-east-1",
          "ap-northeast-1",
          "ap-northeast-2",
          "ap-northeast-3",
          "ap-south-1",
          "ap-south-2",
          "ap-southeast-1",
          "ap-southeast-2",
          "ap-southeast-3",
          "ap-southeast-4",
          "ap-southeast-5",
          "ap-southeast-7",
          "ca-central-1",
          "ca-west-1",
          "eu-central-1",
          "eu-central-2",
          "eu-north-1",
          "eu-south-1",
          "eu-south-2",
          "eu-west-1",
          "eu-west-2",
          "eu-west-3",
          "il-central-1",
          "me-central-1",
          "me-south-1",
          "mx-central-1",
          "sa-east-1",
          "us-east-1",
          "us-east-2",
          "us-west-1",
          "us-west-2",
        ]
      }
    }
  }

  # Backups made before an upgrade from version 1 stay under the version 1 key (which that
  # template tagged): the role keeps opening and checking it (a data-key round trip), never
  # more.
  statement {
    sid       = "OpenLegacyBackups"
    effect    = "Allow"
    actions   = ["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["arn:${local.partition}:kms:${local.region}:${local.account_id}:key/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/byok-vault"
      values   = ["v1"]
    }
  }

  # ReplicateKey needs CreateKey in the replica's Region; CreateKey has no key to scope to,
  # so the condition limits it to creating replicas.
  dynamic "statement" {
    for_each = local.service_replicates ? [1] : []
    content {
      sid       = "CreateReplicasOnly"
      effect    = "Allow"
      actions   = ["kms:CreateKey"]
      resources = ["*"]

      condition {
        test     = "StringEquals"
        variable = "kms:MultiRegionKeyType"
        values   = ["REPLICA"]
      }
    }
  }
}

resource "aws_iam_role" "byok" {
  name                 = var.role_name
  description          = "Lets the byok-vault service use your multi-Region KMS key for backups."
  max_session_duration = 3600
  assume_role_policy   = data.aws_iam_policy_document.trust.json
}

resource "aws_iam_role_policy" "key_access" {
  name   = "ByokVaultKeyAccess"
  role   = aws_iam_role.byok.id
  policy = data.aws_iam_policy_document.key_access.json
}

# The completion step: byok-vault verifies the role and key when this stack's custom
# resource reaches it, and answers; a FAILED answer fails this resource with the reason.
resource "aws_cloudformation_stack" "notify" {
  #checkov:skip=CKV_AWS_124:a one-resource completion stack; its outcome is terraform apply's
  name          = "byok-vault-notify"
  template_body = file("${path.module}/notify.yaml")

  parameters = {
    ServiceToken          = var.callback_topic_arn
    VaultToken            = var.vault_token
    RoleArn               = aws_iam_role.byok.arn
    RoleId                = aws_iam_role.byok.unique_id
    ExternalId            = var.external_id
    MultiRegionCmkKeyId   = local.create_key ? local.key_id : var.existing_key_id
    CreatedMultiRegionCmk = local.create_key ? "true" : "false"
    ReplicaManagement     = var.replica_management
  }

  # The role must be usable before byok-vault is told to verify it.
  depends_on = [aws_iam_role_policy.key_access]
}
