"""Convergence: how many steps each gating mechanism needs, on synthetic tasks and IMDB.

``rnnbench converge`` (:mod:`rnnbench.commands.converge`) drives it; each module says its job.
"""
