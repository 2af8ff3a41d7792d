"""Watching a shadow run: Prometheus metrics, in-process alerts, the live dashboard."""
