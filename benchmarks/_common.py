"""What every benchmark script needs around its measurements: logging, the machine's facts, memory and sizes, how
much CPU other processes took during a measurement, timing and percentiles, the per-step split of a searcher's
calls (through gaia_lite's public ``StepTimes`` hook), the command line, child processes and the output files.

The helper modules beside the scripts, one concern each (the scripts import them by name: ``benchmarks/`` is put
on ``sys.path`` by each script):

- ``_common``: this module;
- ``_queries``: queries made of documents' first sentences, and SciFact's test queries;
- ``_corpora``: corpora the benchmarks build or reuse (the default docstrings corpus, replicated corpora) and
  the build timings kept beside them;
- ``_bm25_*``, ``_dense_*``, ``_scale_*``: one benchmark's measurements and report, by concern.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from time import perf_counter as perf

REPO = Path(__file__).resolve().parents[1]
SCIFACT = REPO.parent / "shared/data/beir/scifact"  # where the Makefile's SCIFACT points


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def utc_now() -> str:
    """Now, as every benchmark dates its figures: ``2026-11-30 07:45 UTC``."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


# --- memory and sizes ------------------------------------------------------------------------------------------


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


# --- CPU: this process, its descendants and the others ---------------------------------------------------------


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


# --- timing ----------------------------------------------------------------------------------------------------


def timed(fn, tree: bool = False) -> tuple:
    """(what ``fn()`` returned, its wall seconds, the CPU cores other processes used meanwhile, to 2 decimals);
    with ``tree``, "other" is outside this process's tree (see :class:`OtherLoad`)."""
    with OtherLoad(tree=tree) as load:
        t = perf()
        result = fn()
        seconds = perf() - t
    return result, seconds, round(load.cores, 2)


def pct(values, q: float) -> float:
    """The ``q``-th percentile of ``values`` (numpy's, linear interpolation between the closest ranks)."""
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def rotated(names: list, turn: int) -> list:
    """``names`` starting at ``turn`` (modulo their number): the order of one round of interleaved measurements,
    so that a burst of load from another process hits every system alike over the rounds."""
    turn %= len(names)
    return names[turn:] + names[:turn]


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


# --- the machine -----------------------------------------------------------------------------------------------


def cpu_model(default: str = "?") -> str:
    """The CPU's model name (the first in /proc/cpuinfo), or ``default`` where it is not to be read."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return default


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


# --- the command line ------------------------------------------------------------------------------------------


def add_scifact(parser, reads: str, max_queries: str | None = None) -> None:
    """``--scifact``, the BEIR SciFact folder (``reads``: the files the benchmark reads there), and where the
    benchmark can run on fewer of its test queries, ``--max-queries`` (``max_queries``: what then covers only
    those)."""
    parser.add_argument("--scifact", type=Path, default=SCIFACT, help=f"BEIR SciFact folder ({reads})")
    if max_queries:
        parser.add_argument("--max-queries", type=int, help="use only the first N SciFact test queries "
                                                            f"({max_queries}; a short check run)")


def add_quick(parser, what: str) -> None:
    """``--quick``: a short check run that exercises every measurement (``what`` it does), with the values that
    :func:`parse_args` puts in place of the defaults."""
    parser.add_argument("--quick", action="store_true", help=f"a short check run ({what}); options given "
                                                              "explicitly win (figures not for BENCHMARKS.md)")


def parse_args(parser, argv, quick: dict):
    """``parser``'s arguments from ``argv``; with ``--quick``, the ``quick`` values stand in for the defaults, so
    that options given explicitly still win."""
    args = parser.parse_args(argv)
    if args.quick:
        parser.set_defaults(**quick)
        args = parser.parse_args(argv)
    return args


def refuse_indexes_root(parser, root: Path | None) -> None:
    """A benchmark builds its artifacts under its own ``--root``, never in the checkout's ``./indexes``."""
    if root is not None and Path(root).resolve() == (REPO / "indexes").resolve():
        parser.error("--root: build benchmark artifacts elsewhere than ./indexes")


# --- child processes -------------------------------------------------------------------------------------------
# A measurement that needs a fresh process (its peak memory, its start-up) runs a benchmark script again with a
# hidden option; the child prints its figures as one line of JSON after a mark, which the parent reads back.


def child_reply(mark: str, result: dict) -> None:
    """In a child process: print ``result`` for :func:`run_child` to read."""
    print(mark + json.dumps(result), flush=True)


def run_child(script: Path, mark: str, *args) -> tuple[dict, float, float]:
    """Run ``script args...`` in a fresh Python process, from the repository root, and read what it printed with
    :func:`child_reply`: (that JSON, the process's wall seconds, CPU cores that processes outside this one's tree
    used meanwhile). A child that printed nothing after ``mark`` raises, with the end of its stderr."""
    cmd = [sys.executable, str(script), *map(str, args)]
    proc, wall, others = timed(lambda: subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO),
                                                      check=False), tree=True)
    for line in proc.stdout.splitlines():
        if line.startswith(mark):
            return json.loads(line[len(mark):]), wall, others
    raise RuntimeError(f"{Path(script).name} {' '.join(map(str, args))} failed ({proc.returncode}): "
                       f"{proc.stderr[-3000:]}")


# --- output ----------------------------------------------------------------------------------------------------


def write_json(path: Path, out: dict, end: str = "") -> None:
    """A benchmark's figures as JSON (one space of indent; values JSON has no type for, such as paths, as text)."""
    path.write_text(json.dumps(out, indent=1, default=str) + end)


def publish(out: dict, json_path: Path, md_path: Path, print_report, write_section) -> None:
    """The end of a run: its figures written to ``json_path``, its report printed (``print_report(out)``) and its
    section of BENCHMARKS.md written to ``md_path`` (``write_section(out, md_path)``)."""
    write_json(json_path, out)
    print_report(out)
    write_section(out, md_path)
    print(f"\nwrote {json_path} and {md_path}")


def run_in_parts(script: Path, stem: str, args, argv, machine_facts, run_parts, print_report, write_section) -> int:
    """The run of a benchmark made of parts (bench_scale, bench_serve): with ``--section-only`` only its
    BENCHMARKS.md section remade from ``<stem>.json``; otherwise ``run_parts(args, root, out, save)`` over a root
    folder (``--root``, or a temporary one removed at the end; ``save()`` writes the figures so far), then the
    figures, report and section published."""
    import shlex
    import shutil
    import tempfile

    json_path, md_path = args.out / f"{stem}.json", args.out / f"{stem}_section.md"
    # Worker processes and Ray nodes inherit it: no "Loading weights" bar from each model load in the log.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if args.section_only:
        write_section(json.loads(json_path.read_text()), md_path)
        print(f"wrote {md_path}")
        return 0
    argv = sys.argv[1:] if argv is None else list(argv)
    repo = script.parents[1]
    python = os.path.relpath(sys.executable, repo) if sys.executable.startswith(str(repo)) else "python"
    out = {"date": utc_now(), "argv": argv,
           "command": shlex.join([python, f"benchmarks/{script.name}", *argv]), "machine": machine_facts(),
           "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "child"},
           "parts": {}}
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = perf()

    def save() -> None:
        out["wall_s"] = perf() - t0
        write_json(json_path, out)

    root = args.root or Path(tempfile.mkdtemp(prefix=f"gaia-{stem}-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        run_parts(args, root.resolve(), out, save)
    finally:
        if args.root is None:
            shutil.rmtree(root, ignore_errors=True)
    out["machine"]["load_average_at_end"] = os.getloadavg()
    out["wall_s"] = perf() - t0
    publish(out, json_path, md_path, print_report, write_section)
    return 0


def markdown_table(header: list[str], rows: list[list], align: str | None = None) -> str:
    """A GitHub markdown table (also readable as plain text); ``align`` a letter a column, ``l`` or ``r`` (default:
    the first column left, the others right)."""
    align = align or "l" + "r" * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---:" if a == "r" else "---" for a in align) + " |"]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])
