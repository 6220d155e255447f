"""Where a search spends its time: the searchers' public hook for benchmarks and profiling.

Attach a :class:`StepTimes` to a searcher (``searcher.step_times = StepTimes()``) and each search records the
wall time of its steps under fixed names (``BM25Searcher.STEPS``, ``DenseSearcher.STEPS``,
``HybridSearcher.STEPS``). Detached (the default), a step costs one function call. A recorder is meant for
one thread: attach it where searches run one at a time.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Iterator

_NOTHING = contextlib.nullcontext()


class StepTimes:
    """Durations (seconds) and counts recorded per step name, in the order they happened."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self.counts: dict[str, list[int]] = defaultdict(list)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the block as one occurrence of step ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name].append(time.perf_counter() - start)

    def count(self, name: str, n: int) -> None:
        """Record a quantity seen during the work (documents filled in, Lucene rounds)."""
        self.counts[name].append(n)

    def totals(self) -> dict[str, float]:
        """Total seconds per step."""
        return {name: sum(values) for name, values in self.seconds.items()}

    def clear(self) -> None:
        """Forget everything recorded so far."""
        self.seconds.clear()
        self.counts.clear()


def step(times: StepTimes | None, name: str):
    """``times.step(name)``, or a context that does nothing where no recorder is attached."""
    return _NOTHING if times is None else times.step(name)
