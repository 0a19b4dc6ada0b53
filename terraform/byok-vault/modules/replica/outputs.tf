output "replica_key_arn" {
  description = "The replica in this Region"
  value       = aws_kms_replica_key.replica.arn
}
