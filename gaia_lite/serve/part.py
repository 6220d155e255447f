"""One part of a corpus on Ray Serve: the replica that opens it (:class:`PartReplica`) and the object the front
calls it through (:class:`ServedPart`), which offers :class:`~gaia_lite.parts.LocalPart`'s calls, so the parted
searchers run over served parts unchanged.

A call that finds no live replica (the replica died mid-call, its node went away, Serve is restarting it) is
tried again, with a short backoff, until the call's deadline; only then does the part count as unavailable
(:class:`~gaia_lite.parts.searcher.PartUnavailable`), and the searchers either fail or, inside
:func:`~gaia_lite.parts.parts_report`, name it as missing. An error raised by the part's own code is never
retried: it comes back as it was raised.
"""

from __future__ import annotations

import time
from typing import Any

from ..corpus.parts import check_part
from ..errors import GaiaLiteError, MissingArtifactError
from ..java import JAVA_LOCK
from ..parts.searcher import PartUnavailable

#: The calls a part answers: :class:`~gaia_lite.parts.LocalPart`'s methods.
PART_CALLS = ("info", "bm25_stats", "bm25_search", "bm25_score", "bm25_explain", "bm25_count", "bm25_matching",
              "bm25_query_terms", "dense_search", "dense_score", "documents")
#: How long one call may look for a live replica before its part counts as unavailable (``--part-timeout``):
#: long enough for Serve to notice a dead replica and route to another one or start a new one.
DEFAULT_PART_TIMEOUT_S = 30.0
#: The first wait before trying a call again, doubled each time up to :data:`MAX_BACKOFF_S`.
FIRST_BACKOFF_S = 0.05
MAX_BACKOFF_S = 1.0
#: Marks the line of a startup error raised by gaia_lite's code inside a replica, so that the deploying command
#: can find it in the traceback Serve reports and show it as one line (:func:`~gaia_lite.serve.app.startup_error`).
STARTUP_ERROR = "gaia-lite serve could not start: "


def startup_failure(error: GaiaLiteError, where: str) -> RuntimeError:
    """The exception a replica's constructor raises for ``error``: its one line, marked, with where it happened."""
    message = " ".join(str(error).split())
    return RuntimeError(f"{STARTUP_ERROR}{type(error).__name__}: {where}: {message}")


class PartReplica:
    """A replica of one part's deployment: the part at ``folder`` opened for ``config``'s sides, without a query
    encoder (the front encodes queries). ``entry`` is the part's line of the corpus's parts metadata
    (``num_rows``, ``fingerprint``): a folder holding other documents is refused."""

    def __init__(self, name: str, folder: str, entry: dict[str, Any], config):
        import os
        import socket

        from ..retriever import open_part

        where = f"part {name} on {socket.gethostname()} (pid {os.getpid()})"
        try:
            if not os.path.isdir(folder):
                raise MissingArtifactError(f"it is not at {folder} on this node: mount or copy it there (every node "
                                           "serving it needs it at that path)")
            self.part = open_part(folder, config, name=name, encoder=False)
            check_part(self.part.corpus, entry)
        except GaiaLiteError as e:
            raise startup_failure(e, where) from None

    def call(self, method: str, *args):
        """``part.method(*args)``, for a method of :data:`PART_CALLS`. Serve runs calls on a pool of threads; the
        BM25 ones, which call Java, run one at a time under :data:`~gaia_lite.java.JAVA_LOCK`, as
        :class:`~gaia_lite.parts.Parts` calls local parts: pyjnius binds a Java method to one instance of its class
        at a time, and each call scores with a searcher of its own (kivy/pyjnius#563)."""
        if method not in PART_CALLS:
            raise AttributeError(f"a part has no call {method!r}")
        if method.startswith("bm25_"):
            with JAVA_LOCK:
                return getattr(self.part, method)(*args)
        return getattr(self.part, method)(*args)

    def metas(self) -> dict[str, Any]:
        """The metadata of the part's indexes (``sparse``, ``dense``; None for a side not opened): what the front's
        searchers record and its query encoder is configured from."""
        return {"sparse": None if self.part.bm25 is None else self.part.bm25.meta,
                "dense": None if self.part.dense is None else self.part.dense.meta}


class ServedPart:
    """A part served by a Serve deployment, reached through its ``handle``; the calls of
    :class:`~gaia_lite.parts.LocalPart`, each retried on another (or a restarted) replica until ``timeout_s``
    has passed, then :class:`~gaia_lite.parts.searcher.PartUnavailable`."""

    #: :class:`~gaia_lite.parts.Parts` calls served parts at once: each call waits on the network.
    concurrent = True

    def __init__(self, name: str, handle, timeout_s: float = DEFAULT_PART_TIMEOUT_S):
        self.name, self.handle, self.timeout_s = name, handle, timeout_s

    def call(self, method: str, *args, timeout_s: float | None = None):
        """The part's answer to ``method(*args)`` (a method of :data:`PART_CALLS`) from any live replica, within
        ``timeout_s`` (default: the part's)."""
        return self._retried(lambda: self.handle.call.remote(method, *args), timeout_s)

    def metas(self, timeout_s: float | None = None) -> dict[str, Any]:
        """:meth:`PartReplica.metas`."""
        return self._retried(lambda: self.handle.metas.remote(), timeout_s)

    def _retried(self, request, timeout_s: float | None):
        """The result of ``request()`` (a handle call), made again after a lost replica until the deadline."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout_s
        backoff, why = FIRST_BACKOFF_S, "no replica answered"
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PartUnavailable(self.name, f"no replica answered within {timeout_s:g} s (last: {why})")
            response = None
            try:
                response = request()
                return response.result(timeout_s=left)
            except Exception as e:  # noqa: BLE001 - sorted below: only a lost replica is tried again
                cause = _cause(e)
                if not _replica_lost(cause):
                    raise cause from None
                if isinstance(cause, TimeoutError) and response is not None:
                    response.cancel()  # still waiting for a replica: do not leave it to run later
                why = _one_line(cause)
            time.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
            backoff = min(2 * backoff, MAX_BACKOFF_S)

    def info(self) -> dict[str, Any]:
        """:meth:`~gaia_lite.parts.LocalPart.info`."""
        return self.call("info")

    def bm25_stats(self, query: str) -> str:
        """:meth:`~gaia_lite.parts.LocalPart.bm25_stats`."""
        return self.call("bm25_stats", query)

    def bm25_search(self, query: str, k: int, stats: str, only=None, phrases=()) -> list[tuple[str, float]]:
        """:meth:`~gaia_lite.parts.LocalPart.bm25_search`."""
        return self.call("bm25_search", query, k, stats, only, list(phrases))

    def bm25_score(self, query: str, doc_ids, stats: str) -> dict[str, float]:
        """:meth:`~gaia_lite.parts.LocalPart.bm25_score`."""
        return self.call("bm25_score", query, list(doc_ids), stats)

    def bm25_explain(self, query: str, doc_ids, stats: str) -> dict[str, dict[str, float]]:
        """:meth:`~gaia_lite.parts.LocalPart.bm25_explain`."""
        return self.call("bm25_explain", query, list(doc_ids), stats)

    def bm25_count(self, query: str, only=None, phrases=()) -> int:
        """:meth:`~gaia_lite.parts.LocalPart.bm25_count`."""
        return self.call("bm25_count", query, only, list(phrases))

    def bm25_matching(self, phrases, only=None) -> list[str]:
        """:meth:`~gaia_lite.parts.LocalPart.bm25_matching`."""
        return self.call("bm25_matching", list(phrases), only)

    def bm25_query_terms(self, query: str) -> dict[str, int]:
        """:meth:`~gaia_lite.parts.LocalPart.bm25_query_terms`."""
        return self.call("bm25_query_terms", query)

    def dense_search(self, vector, k: int, only=None) -> list[tuple[str, float]]:
        """:meth:`~gaia_lite.parts.LocalPart.dense_search`."""
        return self.call("dense_search", vector, k, only)

    def dense_score(self, vector, doc_ids) -> dict[str, float]:
        """:meth:`~gaia_lite.parts.LocalPart.dense_score`."""
        return self.call("dense_score", vector, list(doc_ids))

    def documents(self, doc_ids) -> list[dict[str, Any]]:
        """:meth:`~gaia_lite.parts.LocalPart.documents`."""
        return self.call("documents", list(doc_ids))


def _cause(error: BaseException) -> BaseException:
    """The exception behind a Ray task error: what the replica's code (or Ray inside it) raised."""
    from ray.exceptions import RayTaskError

    while isinstance(error, RayTaskError) and error.cause is not None and error.cause is not error:
        error = error.cause
    return error


def _replica_lost(error: BaseException) -> bool:
    """Whether ``error`` says the call found no live replica (so another replica, or a restarted one, may
    answer), rather than that the part's code failed."""
    from ray import exceptions as rx
    from ray.serve.exceptions import RayServeException

    return isinstance(error, (rx.RayActorError, rx.WorkerCrashedError, rx.NodeDiedError, rx.ObjectLostError,
                              rx.OwnerDiedError, rx.TaskCancelledError, RayServeException, TimeoutError))


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{type(error).__name__}: {text[:300]}"

