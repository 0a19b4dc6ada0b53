variable "primary_key_arn" {
  description = "The ARN of the multi-Region primary key: the key_arn output of the byok-vault module."
  type        = string

  validation {
    condition     = length(var.primary_key_arn) <= 2048 && can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/mrk-[0-9a-f]{32}$", var.primary_key_arn))
    error_message = "primary_key_arn: the ARN of the multi-Region primary key (key_arn output of the byok-vault module)."
  }
}
