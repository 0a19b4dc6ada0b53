"""Workflows: deterministic decisions only; every side effect is an activity."""
