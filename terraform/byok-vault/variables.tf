# The same four inputs as the CloudFormation template byok-v2.yaml, with the same checks,
# plus the two service values the byok-vault console fills in for you.

variable "role_name" {
  description = "Name of the IAM role the byok-vault service assumes to use your key."
  type        = string
  default     = "ByokVaultKMSRole"

  validation {
    condition     = length(var.role_name) >= 1 && length(var.role_name) <= 64 && can(regex("^ByokVault[A-Za-z0-9_+=,.@-]*$", var.role_name))
    error_message = "role_name must start with ByokVault (the only names the byok-vault service may assume), then letters, digits and _+=,.@- (64 characters at most)."
  }
}

variable "external_id" {
  description = "The ExternalId shown in the byok-vault console."
  type        = string

  validation {
    condition     = length(var.external_id) >= 8 && length(var.external_id) <= 128 && can(regex("^[A-Za-z0-9+=,.@:/-]*$", var.external_id))
    error_message = "external_id: 8 to 128 characters of letters, digits and +=,.@:/-."
  }
}

variable "vault_token" {
  description = "The one-time token shown in the byok-vault console; it links this deployment to you."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.vault_token) == 36 && can(regex("^[A-Za-z0-9-]{36}$", var.vault_token))
    error_message = "vault_token: the 36-character token shown in the byok-vault console."
  }
}

variable "existing_key_id" {
  description = "Optional. Key id (mrk-...) or ARN of an existing multi-Region primary key in this account and Region. Empty: the module creates one."
  type        = string
  default     = ""

  validation {
    condition     = length(var.existing_key_id) <= 2048 && can(regex("^(|mrk-[0-9a-f]{32}|arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/mrk-[0-9a-f]{32})$", var.existing_key_id))
    error_message = "existing_key_id: empty, a multi-Region key id (mrk-...) or the ARN of such a key."
  }
}

variable "replica_management" {
  description = "service: byok-vault replicates the key into your connected Regions. tenant: you create the replicas (modules/replica, one per Region) and the role can neither replicate nor create keys."
  type        = string
  default     = "service"

  validation {
    condition     = contains(["service", "tenant"], var.replica_management)
    error_message = "replica_management: service or tenant."
  }
}

variable "service_role_arn" {
  description = "The byok-vault service role (shown in the console): the only principal your role trusts."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@-]+$", var.service_role_arn))
    error_message = "service_role_arn: the IAM role ARN shown in the byok-vault console."
  }
}

variable "callback_topic_arn" {
  description = "The byok-vault SNS topic (shown in the console) that the completion step notifies."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$", var.callback_topic_arn))
    error_message = "callback_topic_arn: the SNS topic ARN shown in the byok-vault console."
  }
}
