"""Shards: the unit of work of every index build, and the record that makes a build resumable.

A build splits the corpus Dataset into contiguous row ranges (:func:`plan_shards`), builds each shard's part
on its own (a Lucene index, a table of (id, embedding)), then combines the parts in row order into the
artifact searchers load. A :class:`Workdir` beside the artifact (or on storage every node of a cluster reads)
holds the parts while the build runs:

    .<artifact>.work/
      .lock                held (``flock``) by the live build that uses the folder: its process and host
      plan.json            what is being built: kind, settings, corpus fingerprint, the shards
      parts/00003/         a finished shard's output, put in place by one rename
      done/00003.json      its record: row range, fingerprint of its rows, documents, seconds

A shard's record is written after its output is in place, so a build killed at any moment (Ctrl+C,
``kill -9``, a lost worker) leaves only complete parts with records, and the next build with the same plan
reuses them. A different plan (other settings, another corpus version, another shard size) starts afresh.
The workdir is removed once the artifact is in place.

One live build uses a workdir at a time (:meth:`Workdir.claimed`): a second build of the same artifact is
refused while the first runs. The kernel drops the lock when its process ends however it ends, so a build
whose predecessor was killed takes the folder over, keeps its finished shards and removes its scratch.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import ArtifactError, BuildInProgressError, ConfigError

#: Automatic shard sizes stay within these bounds (documents): small enough to resume and spread, large
#: enough that each shard's fixed cost (a Lucene writer, a merge input) stays small beside its work.
MIN_AUTO_SHARD = 10_000
MAX_AUTO_SHARD = 250_000
#: Shards per worker an automatic plan aims for, so that a slow shard does not leave the others idle.
SHARDS_PER_WORKER = 4
#: What an artifact's metadata records of each shard: its rows, their fingerprint, and the node that built it.
SHARD_FIELDS = ("start", "stop", "fingerprint", "node")


@dataclass(frozen=True)
class Shard:
    """Rows ``start`` (included) to ``stop`` (excluded) of the corpus, the ``index``-th shard of a plan."""

    index: int
    start: int
    stop: int

    @property
    def name(self) -> str:
        """The shard's name in a workdir: its index, zero-padded."""
        return f"{self.index:05d}"

    def __len__(self) -> int:
        return self.stop - self.start


class BuildProgress:
    """How far a build is, in documents and shards, for a page to show while it runs (read from any thread).
    ``reused`` counts the shards an interrupted build had finished."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = self.done = self.shards = self.shards_done = self.reused = 0

    def begin(self, total: int, shards: int, done: int, reused: int) -> None:
        """The plan is known: ``total`` documents in ``shards`` shards, ``done`` of them in ``reused`` shards."""
        with self._lock:
            self.total, self.shards, self.done, self.shards_done, self.reused = total, shards, done, reused, reused

    def shard_done(self, docs: int) -> None:
        """One more shard of ``docs`` documents is finished."""
        with self._lock:
            self.done += docs
            self.shards_done += 1

    @property
    def fraction(self) -> float:
        """The share of the documents done, from 0 to 1."""
        return self.done / self.total if self.total else 0.0


def auto_shard_size(num_rows: int, workers: int = 1, largest: int = MAX_AUTO_SHARD) -> int:
    """The shard size an automatic plan uses: about :data:`SHARDS_PER_WORKER` shards per worker, within
    :data:`MIN_AUTO_SHARD` and ``largest`` documents (a job whose memory grows with its shard sets it lower)."""
    wanted = math.ceil(num_rows / max(1, workers * SHARDS_PER_WORKER))
    return max(MIN_AUTO_SHARD, min(largest, wanted))


def plan_shards(num_rows: int, shard_size: int | None = None, *, workers: int = 1,
                largest: int = MAX_AUTO_SHARD) -> list[Shard]:
    """Contiguous shards covering rows ``0..num_rows``, each ``shard_size`` rows but the last (automatic
    where None: :func:`auto_shard_size`, at most ``largest``)."""
    if shard_size is not None and (isinstance(shard_size, bool) or not isinstance(shard_size, int)
                                   or shard_size < 1):
        raise ConfigError(f"shard_size must be positive (a whole number), got {shard_size!r}")
    size = shard_size or auto_shard_size(num_rows, workers, largest)
    return [Shard(i, start, min(start + size, num_rows)) for i, start in enumerate(range(0, num_rows, size))]


def shard_batches(corpus, shard: Shard, columns: list[str], batch_size: int = 1000) -> Iterator[dict]:
    """The shard's rows, ``columns`` only, in batches (dicts of lists), in row order."""
    rows = corpus.dataset.select(range(shard.start, shard.stop)).select_columns(columns)
    yield from rows.iter(batch_size=batch_size)


class Workdir:
    """The working folder of one build: its plan, the finished shards' parts and records (see the module
    docstring). Workers make and finish shards in it (:meth:`scratch`, :meth:`finish`) from any node that sees
    the folder; the driver holds it for the build's life (:meth:`claimed`) and alone prepares and removes it."""

    PLAN = "plan.json"
    LOCK = ".lock"

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    @classmethod
    def beside(cls, artifact: Path, corpus_name: str, workdir: str | os.PathLike | None = None) -> Workdir:
        """The workdir of a build of ``artifact``: ``.<artifact>.work`` beside it, or
        ``<workdir>/<corpus>.<artifact>`` where a ``workdir`` is given (storage every node of a cluster reads)."""
        if workdir:
            return cls(Path(workdir) / f"{corpus_name}.{artifact.name}")
        return cls(artifact.parent / f".{artifact.name}.work")

    @contextlib.contextmanager
    def claimed(self) -> Iterator[Workdir]:
        """Hold the folder for the block: an exclusive ``flock`` on its lock file, which the kernel drops when
        this process ends, however it ends. Raises :class:`BuildInProgressError` while another live process
        holds it."""
        import fcntl

        path = self.folder / self.LOCK
        while True:
            self.folder.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:  # the build before removed its finished folder meanwhile
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise BuildInProgressError(
                    f"another build ({self._holder(path)}) is running in {self.folder}: wait for it to finish, or "
                    "stop it, then run this command again") from None
            # A lock taken on a file the previous holder removed with its folder guards nothing: take it again.
            with contextlib.suppress(OSError):
                if os.fstat(fd).st_ino == os.stat(path).st_ino:
                    break
            os.close(fd)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()})
                     .encode())
            yield self
        finally:
            os.close(fd)

    @staticmethod
    def _holder(lock: Path) -> str:
        """Who holds ``lock``, in words, from what it wrote into the file."""
        try:
            holder = json.loads(lock.read_text(encoding="utf-8"))
            since = time.strftime("%H:%M:%S", time.localtime(holder["since"]))
            return f"process {holder['pid']} on {holder['host']}, since {since}"
        except (OSError, ValueError, KeyError, TypeError):
            return "its process is starting"

    def part(self, shard: Shard) -> Path:
        """Where the finished output of ``shard`` lives."""
        return self.folder / "parts" / shard.name

    def record_path(self, shard: Shard) -> Path:
        """Where the record of ``shard`` lives, once finished."""
        return self.folder / "done" / f"{shard.name}.json"

    def start(self, plan: dict[str, Any], shards: list[Shard]) -> list[Shard]:
        """Prepare the folder for ``plan`` and return the shards already finished under that same plan. A
        folder holding another plan (or none readable) is emptied first: its parts cannot be reused. Call it
        while holding the folder (:meth:`claimed`)."""
        plan = {**plan, "shards": [asdict(s) for s in shards]}
        path = self.folder / self.PLAN
        try:
            same = json.loads(path.read_text(encoding="utf-8")) == plan
        except (OSError, ValueError):
            same = False
        self.folder.mkdir(parents=True, exist_ok=True)
        if not same:
            for entry in self.folder.iterdir():
                if entry.name != self.LOCK:
                    _delete(entry)
            tmp = path.with_name(f".{self.PLAN}.{uuid.uuid4().hex[:8]}")
            tmp.write_text(json.dumps(plan, indent=1) + "\n", encoding="utf-8")
            tmp.replace(path)
        else:
            self.remove_scratch()
        return [s for s in shards if self.finished(s)]

    def remove_scratch(self) -> None:
        """Remove the unfinished outputs and half-written files of shards (hidden names), which a killed build or
        worker leaves behind. Only for the build holding the folder (:meth:`claimed`): no other writes there."""
        for pattern in ("parts/.*", "done/.*", f".{self.PLAN}.*"):
            for entry in self.folder.glob(pattern):
                _delete(entry)

    def finished(self, shard: Shard) -> bool:
        """Whether ``shard`` has its part and a record of the same rows."""
        try:
            record = json.loads(self.record_path(shard).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return (record.get("start"), record.get("stop")) == (shard.start, shard.stop) and self.part(shard).exists()

    def records(self, shards: list[Shard]) -> list[dict]:
        """The records of ``shards``, in their order (every one must be finished)."""
        out = []
        for shard in shards:
            if not self.finished(shard):
                raise ArtifactError(f"shard {shard.name} of {self.folder} is not finished; run the build again")
            out.append(json.loads(self.record_path(shard).read_text(encoding="utf-8")))
        return out

    def scratch(self, shard: Shard) -> Path:
        """A new empty folder for ``shard``'s output while it is made (put in place with :meth:`finish`)."""
        path = self.folder / "parts" / f".{shard.name}.{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True)
        return path

    def finish(self, shard: Shard, scratch: Path, record: dict[str, Any]) -> None:
        """Put ``shard``'s output in place (one rename), then write its record: only then does it count as
        finished."""
        final = self.part(shard)
        if final.exists():  # a crashed attempt's part without a record
            shutil.rmtree(final)
        scratch.rename(final)
        done = self.record_path(shard)
        done.parent.mkdir(parents=True, exist_ok=True)
        tmp = done.with_name(f".{done.name}.{uuid.uuid4().hex[:8]}")
        tmp.write_text(json.dumps({**asdict(shard), **record, "finished": time.time()}, indent=1) + "\n",
                       encoding="utf-8")
        tmp.replace(done)

    def remove(self) -> None:
        """Delete the folder (after the artifact is in place)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def _delete(path: Path) -> None:
    """Remove a file or a folder, if still there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
