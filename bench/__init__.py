"""Benchmarks: one script per benchmark, all run by runner.py (see README's table)."""
