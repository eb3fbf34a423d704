"""Benchmarks: ``python -m bench`` prints one table, each figure beside a baseline from the same run."""
