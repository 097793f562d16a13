"""The speed benchmark suite's library: the grid of cases, the workloads that run them,
what is measured besides time, the machine description and the targets summary.

``benchmarks/`` holds the pytest side (options, hooks, the one timed test); everything that
can be unit-tested without timing lives here.
"""
