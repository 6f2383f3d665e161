"""Orchestration between the core and the store: optimization jobs."""
