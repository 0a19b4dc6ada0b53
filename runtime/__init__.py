"""What a worker process runs on: telemetry, metrics, and a graceful drain on signals."""
