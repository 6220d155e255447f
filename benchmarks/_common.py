"""Helpers the benchmark scripts share: logging, the machine's facts, memory and sizes, how much CPU other
processes took during a measurement, and the per-step split of a searcher's calls (through gaia_lite's public
``StepTimes`` hook)."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from time import perf_counter as perf


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def proc_mib(field: str = "VmRSS") -> float:
    """A memory figure of this process from /proc/self/status, in MiB (``VmHWM``: its peak resident memory)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tree_bytes(path: Path) -> int:
    """Apparent size of a file, or of every file under a folder."""
    path = Path(path)
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


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


def tree_ticks(pid: int | None = None) -> int:
    """CPU ticks of process ``pid`` (this one by default) and of all its descendants, finished children they
    waited for included: the work of a build's worker processes, or of a Ray cluster this process started."""
    table: dict[int, tuple[int, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        table[int(entry.name)] = (int(fields[1]), sum(int(v) for v in fields[11:15]))
    children: dict[int, list[int]] = {}
    for child, (parent, _) in table.items():
        children.setdefault(parent, []).append(child)
    todo, total = [pid or os.getpid()], 0
    while todo:
        p = todo.pop()
        total += table.get(p, (0, 0))[1]
        todo.extend(children.get(p, ()))
    return total


class OtherLoad:
    """CPU cores that other processes used while a block ran (``cores``), and this process's own (``own_cores``).
    With ``tree``, "own" is this process and all its descendants (worker processes, a Ray cluster it started)."""

    def __init__(self, tree: bool = False):
        self.tree = tree

    def read_ticks(self) -> tuple[int, int]:
        busy, own = cpu_ticks()
        return (busy, tree_ticks()) if self.tree else (busy, own)

    def __enter__(self):
        self.t, self.ticks = perf(), self.read_ticks()
        return self

    def __exit__(self, *exc):
        busy, own = self.read_ticks()
        hz = os.sysconf("SC_CLK_TCK")
        wall = perf() - self.t
        self.cores = max(0.0, ((busy - self.ticks[0]) - (own - self.ticks[1])) / hz / wall)
        self.own_cores = (own - self.ticks[1]) / hz / wall


_SENTENCE_END = re.compile(r"(?<=[.!?])\s|\n\s*\n")


def first_sentence(text: str) -> str:
    """The first sentence of a docstring, whitespace folded (used as a query)."""
    return " ".join(_SENTENCE_END.split(text.strip(), maxsplit=1)[0].split())


def step_split(searcher, calls) -> list[dict]:
    """Run each of ``calls`` (functions of no argument that search with ``searcher``) with a
    :class:`gaia_lite.timing.StepTimes` attached to ``searcher``, one at a time; the recorder is detached after.

    Per call: ``result`` (what the call returned), ``total`` (its wall seconds, the recorder's own cost
    included), ``steps`` (``{step: seconds}`` of the steps it recorded, a step recorded twice summed) and
    ``counts`` (``{name: sum}`` of the counts it recorded). Steps absent from ``steps`` did not run.
    """
    from gaia_lite.timing import StepTimes

    times, previous = StepTimes(), searcher.step_times
    searcher.step_times = times
    out = []
    try:
        for call in calls:
            times.clear()
            t = perf()
            result = call()
            total = perf() - t
            out.append({"result": result, "total": total, "steps": times.totals(),
                        "counts": {name: sum(values) for name, values in times.counts.items()}})
    finally:
        searcher.step_times = previous
    return out


def machine_basics(repo: Path, dists) -> dict:
    """Memory, OS, Python, the versions of ``dists``, the git commit (and whether the tree was dirty) and the
    load average: what every benchmark records about where it ran."""
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    versions = {}
    for dist in dists:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    try:
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=False).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, check=False).stdout.strip())
    except OSError:
        commit, dirty = None, None
    return {"memory_gib": mem_gib, "os": platform.platform(), "python": platform.python_version(),
            "versions": versions, "git_commit": commit, "git_dirty": dirty,
            "load_average_at_start": os.getloadavg()}
