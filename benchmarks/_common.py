"""Helpers both benchmark scripts use: logging, and how much CPU other processes took during a measurement."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from time import perf_counter as perf


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def cpu_ticks() -> tuple[int, int]:
    """(busy ticks of the whole machine, ticks of this process, its threads and its finished children)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        values = [int(v) for v in fields]
        busy = sum(values) - values[3] - (values[4] if len(values) > 4 else 0)  # minus idle and iowait
        own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        return busy, sum(int(v) for v in own[11:15])  # utime + stime, and of the children waited for
    except (OSError, ValueError, IndexError):
        return 0, 0


class OtherLoad:
    """CPU cores that other processes used while a block ran (``cores``), and this process's own (``own_cores``)."""

    def __enter__(self):
        self.t, self.ticks = perf(), cpu_ticks()
        return self

    def __exit__(self, *exc):
        busy, own = cpu_ticks()
        hz = os.sysconf("SC_CLK_TCK")
        wall = perf() - self.t
        self.cores = max(0.0, ((busy - self.ticks[0]) - (own - self.ticks[1])) / hz / wall)
        self.own_cores = (own - self.ticks[1]) / hz / wall


_SENTENCE_END = re.compile(r"(?<=[.!?])\s|\n\s*\n")


def first_sentence(text: str) -> str:
    """The first sentence of a docstring, whitespace folded (used as a query)."""
    return " ".join(_SENTENCE_END.split(text.strip(), maxsplit=1)[0].split())
