"""The error of an implementation that cannot run here: below the registry and every scan
that raises it, so that none of them imports upwards to reach it."""

from __future__ import annotations


class ImplUnavailable(RuntimeError):
    """This implementation cannot run in this environment; the message says why."""
