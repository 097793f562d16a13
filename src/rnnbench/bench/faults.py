"""Which failures of a benchmark case mean "cannot run here" rather than "broken".

A case is skipped, with the reason, when its implementation is unavailable in this
environment (:class:`rnnbench.ImplUnavailable`), when ``torch.compile`` cannot compile here
(no C++ compiler, recompile limit) or when CUDA runs out of memory. Anything else is a
failure of the case and must surface as one.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

import torch

from rnnbench.bench.grid import Case
from rnnbench.model.errors import ImplUnavailable

#: One compiled step serves every shape of a cell, so a sweep recompiles for each new dtype,
#: grad mode and (until sizes go dynamic) size. Past the limit dynamo would silently run the
#: step eagerly, i.e. time something else: the limit is raised, and hitting it raises.
RECOMPILE_LIMIT = 64


def skip_reason(case: Case, error: BaseException) -> str | None:
    """Why ``case`` cannot run here, or None when ``error`` is a genuine failure."""
    if isinstance(error, ImplUnavailable):
        return f"{case.id}: {error}"
    if isinstance(error, torch.OutOfMemoryError):
        return f"{case.id}: {case.device} out of memory at this size: {_first_line(error)}"
    if case.impl != "compiled":
        return None
    import torch._dynamo.exc as dynamo

    if isinstance(error, (dynamo.BackendCompilerFailed, dynamo.FailOnRecompileLimitHit)):
        return (f"{case.id}: torch.compile cannot run here "
                f"({type(error).__name__}: {_first_line(error)})")
    return None


@contextlib.contextmanager
def compile_limits() -> Iterator[None]:
    """``torch.compile`` settings for a benchmark: see :data:`RECOMPILE_LIMIT`."""
    import torch._dynamo

    with torch._dynamo.config.patch(recompile_limit=RECOMPILE_LIMIT,
                                    fail_on_recompile_limit_hit=True):
        yield


def release_memory() -> None:
    """Returns what a failed case left behind (call once its traceback is gone)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
