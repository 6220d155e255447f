"""The dense index of an explorer's corpus, built in the background through the factory while BM25 serves."""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import replace

#: A dense index built while the explorer serves is cut into about this many shards, so that its progress on
#: the page moves every few seconds and a restart loses at most one shard's work.
BACKGROUND_SHARDS = 50


class DenseBuild:
    """The dense index of an explorer's corpus, built in a background thread by
    :func:`~gaia_lite.retriever.open_searcher` (``build=True``; an interrupted build resumes from its finished
    shards) while the explorer serves BM25; when it is complete the explorer serves dense and hybrid search
    too."""

    def __init__(self, explorer, encoder=None):
        from ..shards import BuildProgress

        self.explorer = explorer
        self.progress = BuildProgress()
        self.error: str | None = None
        self.log: list[str] = []
        self._after: list = []  # what runs when the build ends (then())
        self._after_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, args=(encoder,), name="gaia-lite-dense-build", daemon=True)
        self._thread.start()

    def _run(self, encoder) -> None:
        from ..retriever import open_searcher

        e = self.explorer
        try:
            e._use(open_searcher(e.corpus, replace(e.config, kind="hybrid"), build=True, encoder=encoder,
                                 progress=False, log=self.log.append, tracker=self.progress,
                                 shard_size=max(1_000, math.ceil(len(e.corpus) / BACKGROUND_SHARDS))))
        except Exception as error:  # the page shows it; BM25 keeps serving
            logging.getLogger("gaia_lite.app").exception("building the dense index failed")
            self.error = str(error) or type(error).__name__
        finally:
            with self._after_lock:
                after, self._after = self._after, None
            for fn in after:
                fn()

    def then(self, fn) -> None:
        """Run ``fn()`` when the build has ended (now, if it has)."""
        with self._after_lock:
            if self._after is not None:
                self._after.append(fn)
                return
        fn()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the build to end (``timeout`` seconds at most); True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def status(self) -> dict:
        """``building`` with documents and shards done, ``failed`` with the error, or ``ready``."""
        p = self.progress
        if self.error is not None:
            return {"state": "failed", "error": self.error}
        if self.explorer.dense is not None:
            return {"state": "ready"}
        return {"state": "building", "done": p.done, "total": p.total or len(self.explorer.corpus),
                "shards_done": p.shards_done, "shards": p.shards, "reused": p.reused,
                "percent": int(100 * p.fraction)}
