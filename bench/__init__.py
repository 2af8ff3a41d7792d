"""Benchmarks of the simulator and its plain NumPy reference implementation."""
