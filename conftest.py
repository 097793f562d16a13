"""Hypothesis profiles: ``ci`` is deterministic with no deadline (shared, noisy machines);
``dev`` explores more. Chosen by HYPOTHESIS_PROFILE, else ``ci`` when CI is set."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=25, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=60)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
