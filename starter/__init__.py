"""The `byok` command line: starts, signals and queries workflows, and prints."""
