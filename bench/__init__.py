"""Benchmark harness (issue #7): data generator, load scenarios and budgets."""
