"""The shard driver (:func:`gaia_lite.executors.run_sharded`) with real processes, no mocks: a job that declares
only its shard work and how parts combine runs the same on one process or two; the worker processes of a build
killed with ``kill -9`` die with it, and a rebuild started at once takes the working folder over and gives the
clean build's index; while a build runs, a second build of the same index is refused in one line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gaia_lite.config import BuildConfig
from gaia_lite.corpus import build_corpus
from gaia_lite.executors import LocalExecutor, RayExecutor, ShardJob, build_options, run_sharded
from gaia_lite.errors import BuildInProgressError
from gaia_lite.shards import Workdir, shard_batches
from gaia_lite.sparse import build_sparse_index

from .test_sharded_builds import _assert_same_sparse

SHARD_SIZE = 2  # 120 shards of 240 documents: a build spends seconds among its shards, time to kill it there


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """240 docstrings of the installed packages."""
    corpus, _ = build_corpus("builtin:docstrings", "docs", root=tmp_path_factory.mktemp("driver"), limit=240,
                             progress=False)
    return corpus


@pytest.fixture(scope="module")
def queries(corpus):
    """The first words of every sixth document."""
    return {f"q{i}": text.split(".")[0][:200] for i, text in enumerate(corpus.dataset["text"][::6])}


def _cli_build(corpus, out: Path) -> subprocess.Popen:
    """``gaia-lite index sparse`` on two worker processes, started as its own process."""
    argv = [sys.executable, "-m", "gaia_lite", "index", "sparse", str(corpus.folder), "--workers", "2",
            "--shard-size", str(SHARD_SIZE), "--threads", "1", "--out", str(out), "--no-progress"]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stat(pid: int) -> tuple[str, int, int] | None:
    """A process's state, parent and start time (``/proc/<pid>/stat``), None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return fields[0], int(fields[1]), int(fields[19])


def _descendants(pid: int) -> dict[int, int]:
    """Every process below ``pid``, with its start time (which tells a process from a later one of the same
    pid)."""
    parents: dict[int, list[tuple[int, int]]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents.setdefault(stat[1], []).append((int(entry.name), stat[2]))
    found, todo = {}, [pid]
    while todo:
        for child, started in parents.get(todo.pop(), []):
            found[child] = started
            todo.append(child)
    return found


def _alive(pid: int, started: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] not in "ZX" and stat[2] == started  # a zombie has ended


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads processes from /proc")
def test_a_killed_builds_workers_die_with_it_and_a_rebuild_at_once_equals_a_clean_build(corpus, queries, tmp_path):
    clean = build_sparse_index(corpus, out=tmp_path / "clean", progress=False)
    out = corpus.folder / "killed-sparse"
    work = corpus.folder / f".{out.name}.work"
    driver, rebuild = _cli_build(corpus, out), None
    processes: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and driver.poll() is None:
            processes |= _descendants(driver.pid)
            if list(work.glob("done/*.json")):
                break
            time.sleep(0.02)
        processes |= _descendants(driver.pid)
        assert driver.poll() is None and 1 <= len(list(work.glob("done/*.json"))) < 120  # mid-build
        assert len(processes) >= 2, processes  # the two workers (and multiprocessing's resource tracker)
        driver.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        driver.wait()
        rebuild = _cli_build(corpus, out)  # at once: it must not meet the killed build's workers
        time.sleep(max(0.0, killed + 5 - time.monotonic()))
        assert [pid for pid, started in processes.items() if _alive(pid, started)] == []
        said, err = rebuild.communicate(timeout=120)
        assert rebuild.returncode == 0, err
        assert re.search(r"\b\d+ of 120 shards reused from an interrupted build", said), said
        _assert_same_sparse(clean, out, corpus, queries)
        assert not work.exists()
    finally:
        for pid, started in processes.items():  # the killed driver's orphans, where the test failed
            if _alive(pid, started):
                os.kill(pid, signal.SIGKILL)
        for process in (driver, rebuild):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()


def test_a_second_build_of_the_same_index_is_refused_in_one_line_while_the_first_runs(corpus):
    out = corpus.folder / "locked-sparse"
    lock = corpus.folder / f".{out.name}.work" / Workdir.LOCK
    first = _cli_build(corpus, out)
    try:
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.stat().st_size) and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.02)
        second = _cli_build(corpus, out)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2 and len(err.strip().splitlines()) == 1, err
        assert err.startswith(f"error: another build (process {first.pid} on ") and "Traceback" not in err
        assert "wait for it to finish, or stop it, then run this command again" in err
        assert first.poll() is None  # the first goes on, its folder untouched
    finally:
        first.kill()
        first.wait()


def test_a_workdir_is_held_by_one_build_at_a_time_and_taken_over_once_free(tmp_path):
    work = Workdir(tmp_path / ".index.work")
    held_by_us = rf"process {os.getpid()} on .* is running in {re.escape(str(work.folder))}"
    with work.claimed():
        work.start({"kind": "test"}, [])
        (work.folder / "parts" / ".00001.0123abcd").mkdir(parents=True)  # a shard a killed worker was making
        with pytest.raises(BuildInProgressError, match=held_by_us):
            with Workdir(work.folder).claimed():
                pass
    with Workdir(work.folder).claimed() as again:  # the holder is gone
        again.start({"kind": "test"}, [])  # the same plan: its finished shards would stay; its scratch goes
        assert (work.folder / "plan.json").exists() and not list(work.folder.glob("parts/.*"))
        again.remove()
    assert not work.folder.exists()


class CharactersJob(ShardJob):
    """Counts the characters of each document: a job declares its shard work and how the parts combine."""

    kind = "characters"

    def __init__(self, corpus_folder: str):
        self.corpus_folder = corpus_folder

    def make_part(self, shard, folder: Path) -> dict:
        from gaia_lite.corpus import Corpus

        corpus = Corpus.load(self.corpus_folder, verify=False)
        counts = [len(t) for batch in shard_batches(corpus, shard, ["text"], 7) for t in batch["text"]]
        (folder / "counts.txt").write_text(" ".join(map(str, counts)))
        return {"characters": sum(counts)}

    def combine(self, corpus, parts: list[Path], records: list[dict]) -> tuple[list[int], int]:
        counts = [int(c) for part in parts for c in (part / "counts.txt").read_text().split()]
        return counts, sum(r["characters"] for r in records)


def test_a_job_runs_the_same_in_this_process_and_on_worker_processes(corpus, tmp_path):
    expected = [len(t) for t in corpus.dataset["text"]]
    for executor in (None, LocalExecutor(2)):
        lines: list[str] = []
        counts, total = run_sharded(CharactersJob(str(corpus.folder)), corpus, tmp_path / "counts", what="Counting",
                                    shard_size=50, executor=executor, progress=False, log=lines.append)
        assert (counts, total) == (expected, sum(expected)) and lines == []
        assert list(tmp_path.iterdir()) == []  # the workdir went once the parts were combined


def test_build_options_give_the_executor_the_settings_ask_for():
    local = build_options(BuildConfig(shard_size=5, workers=3, workdir="/shared/work"))
    assert (local["shard_size"], local["workdir"]) == (5, "/shared/work")
    assert isinstance(local["executor"], LocalExecutor) and local["executor"].workers == 3
    ray = build_options(BuildConfig(workers=4, ray="auto"))["executor"]
    assert isinstance(ray, RayExecutor) and (ray.address, ray.workers) == ("auto", 4)
    assert build_options(BuildConfig(ray="auto"))["executor"].workers is None  # as many as the cluster has CPUs
