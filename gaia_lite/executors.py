"""Executors and the driver: where a build's shards run, and the one loop every sharded job goes through.

A sharded job (:class:`ShardJob`) says only what it does to one shard and how the shards' parts combine;
:func:`run_sharded` does the rest, the same for every job: it plans the shards, names and holds the
:class:`~gaia_lite.shards.Workdir` (beside the artifact or under ``workdir``), reuses the shards an interrupted
build finished, shows the progress, runs the rest on an executor, and hands the records and parts to the job.
Two executors:

- :class:`LocalExecutor` runs the shards on this machine: in this process (``workers=1``), or in a pool of
  worker processes, each set up once, which end when the driver ends (even by ``kill -9``);
- :class:`RayExecutor` runs them on a Ray cluster: CPU work (Lucene shards) as Ray tasks, model work
  (encoding) through Ray Data with a pool of actors that each load the model once, a GPU per actor where the
  cluster has GPUs.

A job writes each finished shard into the build's workdir itself, so a shard counts as done the moment its
worker finishes it, whichever executor ran it and whatever happens to the driver afterwards. Why not
datatrove's executors: its Ray executor starts a fresh actor and process pool per job, so an encoder would be
loaded again for every shard, and it writes outputs in place without an atomic finish; what this module takes
from it is the shape (rank = shard, a completion record per shard).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, require
from .shards import MAX_AUTO_SHARD, BuildProgress, Shard, Workdir, plan_shards

if TYPE_CHECKING:
    from .config import BuildConfig

#: Called on the driver as each shard finishes: the shard and its record.
OnDone = Callable[[Shard, dict[str, Any]], None]


class ShardJob:
    """A sharded job: what to do to each shard (:meth:`make_part`) and how the parts combine (:meth:`combine`);
    :func:`run_sharded` does everything else. Subclasses are small picklable objects (paths and settings):
    executors send them to workers, call :meth:`setup` once per worker, then :meth:`run` per shard. Attributes
    whose name starts with ``_`` belong to one process (a loaded model, a table) and travel as None."""

    #: Names the job in its plan (and the workdir of a job that makes no artifact folder).
    kind: str = "shards"
    #: True where :meth:`setup` is costly and worth keeping across shards (a model): Ray then runs the job on
    #: a pool of actors instead of tasks.
    stateful: bool = False
    #: Whether a worker of this job wants a GPU where the cluster has them.
    wants_gpu: bool = False
    #: The largest shard an automatic plan gives this job (documents): lower for a job whose memory grows with
    #: its shard, so that it does not grow with the corpus.
    max_auto_shard: int = MAX_AUTO_SHARD
    #: The build's workdir, set by :func:`run_sharded` before any shard runs.
    workdir: str | None = None

    def settings(self) -> dict[str, Any]:
        """What, besides the corpus and the shards, decides the parts: a build with other settings starts
        afresh instead of reusing an interrupted build's parts."""
        return {}

    def setup(self) -> None:
        """Prepare this worker (start a JVM, load a model), once, before its first shard."""

    def make_part(self, shard: Shard, folder: Path) -> dict[str, Any]:
        """Make ``shard``'s part in the empty ``folder``; returns what its record should add (a fingerprint)."""
        raise NotImplementedError

    def combine(self, corpus, parts: list[Path], records: list[dict[str, Any]]):
        """On the driver, once every shard is finished: the job's result from the parts and records of every
        shard, in shard order (an artifact put in place, a report). The workdir is removed afterwards."""
        raise NotImplementedError

    def run(self, shard: Shard) -> dict[str, Any]:
        """Make ``shard``'s part in a scratch folder and put it in place with its record (documents, seconds, the
        node that made it); returns the record. Interrupted, it removes the scratch folder."""
        started = time.perf_counter()
        work = Workdir(self.workdir)
        scratch = work.scratch(shard)
        try:
            record = self.make_part(shard, scratch)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        record = {"docs": len(shard), **record, "seconds": round(time.perf_counter() - started, 3),
                  "node": worker_node()}
        work.finish(shard, scratch, record)
        return record

    def __getstate__(self) -> dict[str, Any]:
        return {k: None if k.startswith("_") else v for k, v in vars(self).items()}

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.__getstate__() == self.__getstate__()


def run_sharded(job: ShardJob, corpus, out: Path | None = None, *, what: str, shard_size: int | None = None,
                executor=None, workdir: str | os.PathLike | None = None, progress: bool = True,
                log: Callable[[str], None] | None = print, tracker: BuildProgress | None = None):
    """Run ``job`` over ``corpus`` in shards of ``shard_size`` rows (automatic where None) with ``executor``
    (default: in this process) and return ``job.combine(...)``.

    The shards are made in the workdir of ``out``, the artifact the job makes (see
    :meth:`~gaia_lite.shards.Workdir.beside`; a job without an artifact folder gets one named by its kind and
    plan in the corpus folder), held by this build for its life: another live build of the same artifact is
    refused (:class:`~gaia_lite.errors.BuildInProgressError`). Finished shards of an earlier, interrupted build
    of the same plan are reused and ``log`` says how many; progress shows in documents (a bar titled ``what``
    where ``progress``, and ``tracker`` for a page to read). The workdir is removed once ``combine`` returns."""
    executor = executor or LocalExecutor()
    shards = plan_shards(len(corpus), shard_size, workers=getattr(executor, "workers", None) or 1,
                         largest=job.max_auto_shard)
    plan = {"kind": job.kind, "fingerprint": corpus.meta.fingerprint, **job.settings()}
    if out is None:
        key = hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()[:12]
        out = Path(corpus.folder) / f"{job.kind}-{key}"
    work = Workdir.beside(Path(out), corpus.name, workdir)
    job.workdir = str(work.folder)
    with work.claimed():
        finished = work.start(plan, shards)
        if finished and log is not None:
            log(f"{len(finished)} of {len(shards)} shards reused from an interrupted build ({work.folder})")
        pending = [s for s in shards if s not in finished]
        try:
            _run_with_progress(job, shards, pending, finished, executor, what, progress, tracker or BuildProgress())
        except KeyboardInterrupt:  # Ctrl+C, SIGTERM: the executor has stopped; its unfinished shards go now
            work.remove_scratch()
            raise
        result = job.combine(corpus, [work.part(s) for s in shards], work.records(shards))
        work.remove()
    return result


def _run_with_progress(job: ShardJob, shards: list[Shard], pending: list[Shard], finished: list[Shard], executor,
                       what: str, progress: bool, tracker: BuildProgress) -> None:
    from tqdm.auto import tqdm

    tracker.begin(sum(len(s) for s in shards), len(shards), sum(len(s) for s in finished), len(finished))
    with tqdm(total=tracker.total, initial=tracker.done, unit=" docs", disable=not progress,
              desc=f"{what}: {len(shards)} shard{'s' * (len(shards) != 1)} {executor.describe()}") as bar:

        def done(shard: Shard, record: dict[str, Any]) -> None:
            bar.update(len(shard))
            tracker.shard_done(len(shard))

        executor.run(job, pending, done)


def executor_for(config: BuildConfig):
    """The executor ``config`` asks for: a :class:`RayExecutor` where it names a cluster (``workers`` bounding
    its actors), else a :class:`LocalExecutor` of ``workers`` processes."""
    if config.ray:
        return RayExecutor(config.ray, workers=config.workers if config.workers > 1 else None)
    return LocalExecutor(config.workers)


def build_options(config: BuildConfig) -> dict[str, Any]:
    """Keyword arguments for :func:`~gaia_lite.sparse.build_sparse_index`, :func:`~gaia_lite.dense.build_dense_index`,
    :func:`~gaia_lite.analysis.find_duplicates` and :func:`~gaia_lite.analysis.find_contamination`:
    ``shard_size``, ``executor`` and ``workdir`` as ``config`` gives them."""
    return {"shard_size": config.shard_size, "executor": executor_for(config), "workdir": config.workdir}


class LocalExecutor:
    """Runs shards on this machine: one after the other in this process (``workers=1``, the default), or on
    ``workers`` processes, each set up once."""

    def __init__(self, workers: int = 1):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ConfigError(f"workers must be positive (a whole number), got {workers!r}")
        self.workers = workers

    def describe(self) -> str:
        """A few words for progress lines."""
        return "in this process" if self.workers == 1 else f"on {self.workers} local processes"

    def run(self, job: ShardJob, shards: Sequence[Shard], on_done: OnDone) -> None:
        """Run ``job`` on every shard of ``shards``, calling ``on_done`` as each finishes."""
        if not shards:
            return
        if self.workers == 1 or len(shards) == 1:
            job.setup()
            for shard in shards:
                on_done(shard, job.run(shard))
            return
        # spawn, not fork: a forked child of a process running a JVM or torch threads is unsafe.
        context = multiprocessing.get_context("spawn")
        workers = min(self.workers, len(shards))
        threads = max(1, (os.cpu_count() or 1) // workers)  # the workers share the cores, not each take them all
        # The workers are started by this thread (ProcessPoolExecutor starts them in submit) and the parent-death
        # signal follows the thread that started them: it outlives the pool, which closes before run returns.
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_set_up,
                                 initargs=(job, threads, os.getpid())) as pool:
            futures = {pool.submit(_run, shard): shard for shard in shards}
            try:
                while futures:
                    finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                    for future in finished:
                        on_done(futures.pop(future), future.result())
            except Exception:
                for future in futures:
                    future.cancel()
                raise
            except BaseException:  # Ctrl+C, SIGTERM: stop now, not after the shards under way
                _kill_workers(pool)  # the pool then fails the futures left (cancelling them first upsets 3.11)
                raise


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """End the pool's worker processes at once (a JVM among them could ignore a gentler signal)."""
    # The pool keeps its processes in a private attribute; 3.14's kill_workers() is the public way.
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError):
            process.kill()


_worker_job: ShardJob | None = None


def _set_up(job: ShardJob, threads: int, driver: int) -> None:
    global _worker_job
    from tqdm import tqdm

    _end_with(driver)
    # Ctrl+C reaches the driver too, which stops its workers and removes what they were making; left to the workers
    # it would print a traceback for each idle one.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Read by torch and FAISS (OpenMP) when they load, which in a spawned worker is after this.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    # A worker's bars (datasets makes some) share no line with another process's, so a thread lock will do; tqdm's
    # default is a named semaphore, which a worker killed with its build would leave to multiprocessing's
    # resource tracker to remove, with a warning.
    tqdm.set_lock(threading.RLock())
    job.setup()
    _worker_job = job


#: prctl(2)'s option that gives a process a signal to receive when its parent ends.
_PR_SET_PDEATHSIG = 1


def _end_with(driver: int) -> None:
    """Make this worker process end as soon as ``driver``, its parent, does, however the driver ends (``kill
    -9`` included): left running, a worker would hold its memory (a JVM's, a model's) and go on writing into a
    workdir that a new build now owns. On Linux the kernel sends SIGKILL to the whole process (its JVM threads
    too); elsewhere a thread watches for the parent to change."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            set_up = ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):
            set_up = False
        if set_up:
            if os.getppid() != driver:  # the driver ended before the signal was asked for
                os._exit(1)
            return

    def watch() -> None:
        while os.getppid() == driver:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="gaia-lite-driver-watch", daemon=True).start()


def _run(shard: Shard) -> dict[str, Any]:
    return _worker_job.run(shard)


class RayExecutor:
    """Runs shards on a Ray cluster (``address``: ``auto`` for the cluster this machine belongs to, or
    ``host:port``); the workdir must be on storage every node reads and writes.

    ``workers`` bounds the actors of a stateful job (default: as many as the cluster has CPUs for, at most one
    per shard); tasks are retried when their worker dies (up to 3 times), Ray Data restarts lost actors and
    retries their shards.
    """

    def __init__(self, address: str = "auto", *, workers: int | None = None, cpus_per_worker: float = 1):
        self.address = address
        self.workers = workers
        self.cpus_per_worker = cpus_per_worker

    def describe(self) -> str:
        """A few words for progress lines."""
        return f"on the Ray cluster at {self.address}"

    def connect(self):
        """The ``ray`` module, connected to the cluster (once per process)."""
        ray = require("ray", "running a build on a Ray cluster (--ray)", "gaia-lite[ray]")
        if not ray.is_initialized():
            try:
                with _native_signal_handlers_kept():
                    ray.init(address=self.address, log_to_driver=False, configure_logging=False)
            except ConnectionError as e:
                raise ConfigError(f"no Ray cluster at {self.address!r} ({e}): start one with `ray start --head` "
                                  "or pass its address (--ray HOST:PORT)") from None
        return ray

    @staticmethod
    def disconnect() -> None:
        """Disconnect this process from its Ray cluster, if connected. Use this rather than ``ray.shutdown()``
        in a process that goes on using the JVM: ``ray.shutdown()`` resets the native SIGSEGV handler, and the
        JVM's next deliberate SIGSEGV would end the process."""
        if "ray" in sys.modules and sys.modules["ray"].is_initialized():
            with _native_signal_handlers_kept():
                sys.modules["ray"].shutdown()

    def run(self, job: ShardJob, shards: Sequence[Shard], on_done: OnDone) -> None:
        """Run ``job`` on every shard of ``shards`` on the cluster, calling ``on_done`` as each finishes."""
        if not shards:
            return
        ray = self.connect()
        gpus = 1 if job.wants_gpu and ray.cluster_resources().get("GPU", 0) >= 1 else 0
        if job.stateful:
            self._run_actors(ray, job, shards, on_done, gpus)
        else:
            self._run_tasks(ray, job, shards, on_done, gpus)

    def _run_tasks(self, ray, job: ShardJob, shards: Sequence[Shard], on_done: OnDone, gpus: int) -> None:
        task = ray.remote(_ray_task).options(num_cpus=self.cpus_per_worker, num_gpus=gpus, max_retries=3,
                                             scheduling_strategy="SPREAD")
        job_ref = ray.put(job)
        pending = {task.remote(job_ref, shard): shard for shard in shards}
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    on_done(pending.pop(ref), ray.get(ref))
        except BaseException:
            for ref in pending:
                ray.cancel(ref)
            raise

    def _run_actors(self, ray, job: ShardJob, shards: Sequence[Shard], on_done: OnDone, gpus: int) -> None:
        data = require("ray.data", "running a build on a Ray cluster (--ray)", "gaia-lite[ray]")
        # gaia_lite shows the build's progress itself; Ray Data's own bars and progress log lines would repeat it.
        data.DataContext.get_current().enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        cpus = ray.cluster_resources().get("CPU", 1)
        size = self.workers or max(1, min(len(shards), int(cpus // max(self.cpus_per_worker, 1))))
        if gpus:
            size = min(size, int(ray.cluster_resources().get("GPU", 1)))
        items = [{"index": s.index, "start": s.start, "stop": s.stop} for s in shards]
        by_index = {s.index: s for s in shards}
        # The job travels inside the actor class, not as constructor arguments: Ray keeps those in the object
        # store, where a restarted actor could find them gone.
        actor = type("ShardActor", (_ShardActor,), {"job": job})
        results = data.from_items(items, override_num_blocks=len(items)).map_batches(
            actor, batch_size=1, batch_format="pandas", compute=data.ActorPoolStrategy(size=size),
            num_cpus=self.cpus_per_worker, num_gpus=gpus)
        for row in results.iter_rows():
            on_done(by_index[int(row["index"])], {k: _plain(v) for k, v in row.items() if k != "index"})


#: The signals a JVM handles itself: it raises SIGSEGV on purpose (implicit null checks, safepoint polls).
_JVM_SIGNALS = (4, 7, 8, 11)  # SIGILL, SIGBUS, SIGFPE, SIGSEGV on Linux


@contextlib.contextmanager
def _native_signal_handlers_kept():
    """Put back, after the block, the native handlers of :data:`_JVM_SIGNALS` it replaced. ``ray.init``
    installs crash-report handlers for them and ``ray.shutdown`` resets them to the default; in a driver whose
    JVM is running (it merges the Lucene shards) the JVM's own SIGSEGVs would then end the process."""
    import ctypes

    class Action(ctypes.Structure):  # glibc's struct sigaction on Linux
        _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_ulong * 16), ("flags", ctypes.c_int),
                    ("restorer", ctypes.c_void_p)]

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        saved = {sig: Action() for sig in _JVM_SIGNALS}
        for sig, action in saved.items():
            libc.sigaction(sig, None, ctypes.byref(action))
    except (OSError, AttributeError):  # not glibc: nothing to keep
        yield
        return
    try:
        yield
    finally:
        for sig, action in saved.items():
            libc.sigaction(sig, ctypes.byref(action), None)


def _ray_task(job: ShardJob, shard: Shard) -> dict[str, Any]:
    """One shard as a Ray task: the job is set up in this worker process once, then reused by later tasks."""
    global _worker_job
    if _worker_job is None or _worker_job != job:
        job.setup()
        _worker_job = job
    return _worker_job.run(shard)


class _ShardActor:
    """A Ray Data actor: sets its class's job up once (loads its model), then runs one shard per batch."""

    job: ShardJob

    def __init__(self):
        self.job.setup()

    def __call__(self, batch):
        import pandas as pd

        rows = []
        for index, start, stop in zip(batch["index"], batch["start"], batch["stop"]):
            record = self.job.run(Shard(int(index), int(start), int(stop)))
            rows.append({"index": int(index), **{k: v for k, v in record.items() if not isinstance(v, dict)}})
        return pd.DataFrame(rows)


def worker_node() -> str:
    """Where this code runs: the Ray node's id inside a Ray worker, else this machine's name (recorded with each
    shard, so a build says which node made what)."""
    if "ray" in sys.modules:
        import ray

        if ray.is_initialized():
            return ray.get_runtime_context().get_node_id()
    return os.uname().nodename


def _plain(value):
    """A value from a pandas row as plain Python (Ray Data hands back numpy scalars)."""
    return value.item() if hasattr(value, "item") else value
