output "role_arn" {
  description = "The role byok-vault assumes"
  value       = aws_iam_role.byok.arn
}

output "key_arn" {
  description = "The multi-Region primary key"
  value       = local.key_arn
}

output "template_version" {
  description = "byok-vault template version this module mirrors"
  value       = "2"
}
