"""Results over commits: ``rnnbench history run`` measures commits in lockstep into
pytest-benchmark's storage (:mod:`~rnnbench.history.run`), :mod:`~rnnbench.history.series`
reads a storage into a series per machine and case, :mod:`~rnnbench.history.steps` finds where
a series moved."""
