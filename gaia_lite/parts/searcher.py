"""BM25, dense and (through :class:`~gaia_lite.hybrid.HybridSearcher`) hybrid search over a corpus's parts.

- **BM25** scores every part with the whole corpus's statistics, as Elasticsearch's ``dfs_query_then_fetch``
  does: each part reports the term and collection statistics the query reads, the sums go back to every part
  with the query (:mod:`gaia_lite.sparse.global_stats`), and each part returns its top ``k`` under the one rank
  order (score, then id). The merged top ``k`` is the one index's, ids and scores.
- **Dense**: each part's top ``k`` for the query vector, merged. Over flat indexes that is exact search; over
  approximate ones each part's recall is its index's.
- Restricting to ids (``only``), phrase filters, counts, scores of given documents and term explanations go to
  every part, each answering for the documents it holds.

A part that does not answer (:class:`PartUnavailable`, raised by a served part once its retries are spent) never
gives a silently partial answer: without :func:`parts_report` the search raises
:class:`~gaia_lite.errors.PartsMissingError`; inside one, the answer is made from the parts that answered and the
report names the missing ones (the served front and the explorer show it).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..config import DEFAULT_K, check_k
from ..dense.searcher import QueryVectors
from ..errors import ConfigError, PartsMissingError
from ..java import JAVA_LOCK
from ..sparse.global_stats import sum_stats
from ..types import Hits, Run


class PartUnavailable(Exception):
    """A part did not answer a call (raised by a part object, caught by :class:`Parts`)."""

    def __init__(self, part: str, why: str):
        super().__init__(f"{part}: {why}")
        self.part, self.why = part, why


@dataclass
class PartsReport:
    """Which parts answered the calls made while it was active, and why the others did not."""

    total: int = 0
    answered: set[str] = field(default_factory=set)
    missing: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Whether every part answered every call."""
        return not self.missing

    def record(self) -> dict[str, Any]:
        """A JSON-ready summary: parts answered and missing, sorted, and whether the answer is complete."""
        return {"parts": self.total, "answered": sorted(self.answered - set(self.missing)),
                "missing": dict(sorted(self.missing.items())), "complete": self.complete}


_report: contextvars.ContextVar[PartsReport | None] = contextvars.ContextVar("gaia_lite_parts_report", default=None)


@contextlib.contextmanager
def parts_report() -> Iterator[PartsReport]:
    """Within this block a part that does not answer leaves it out of the answers and is named in the report
    yielded, instead of failing the search."""
    token = _report.set(PartsReport())
    try:
        yield _report.get()
    finally:
        _report.reset(token)


def settle(total: int, answered: Iterable[str], missing: Mapping[str, str]) -> None:
    """Record which of ``total`` parts answered a call (``missing``: the others, and why) in the active
    :func:`parts_report`; without one, a missing part fails the call (:class:`~gaia_lite.errors.PartsMissingError`)."""
    report = _report.get()
    if report is None:
        if missing:
            raise PartsMissingError(dict(missing), total)
        return
    report.total = max(report.total, total)
    report.answered.update(answered)
    report.missing.update(missing)


class Parts:
    """The parts of one corpus (part objects, in row order), called together: served parts at once on a pool of
    threads (each call waits on the network), parts in this process one after the other (see
    :class:`LocalPart`)."""

    def __init__(self, parts: Sequence[Any]):
        self.parts = list(parts)
        self.names = [part.name for part in self.parts]
        self._concurrent = all(getattr(part, "concurrent", False) for part in self.parts)
        self._pool = ThreadPoolExecutor(max(1, 4 * len(self.parts)), thread_name_prefix="gaia-lite-parts")

    def __len__(self) -> int:
        return len(self.parts)

    def call(self, method: str, *args) -> list[Any]:
        """``part.method(*args)`` on every part; the answers of the parts that answered, in part order. Parts
        that allow it (``concurrent``: served parts) are called at once, the others one after the other."""
        if self._concurrent:
            calls = [self._pool.submit(getattr(part, method), *args).result for part in self.parts]
        else:
            calls = [functools.partial(getattr(part, method), *args) for part in self.parts]
        answers, missing = [], {}
        with contextlib.nullcontext() if self._concurrent else JAVA_LOCK:
            for part, answer in zip(self.parts, calls):
                try:
                    answers.append(answer())
                except PartUnavailable as e:
                    missing[part.name] = e.why
        settle(len(self.parts), self.names, missing)
        return answers

    def info(self) -> list[dict[str, Any]]:
        """Each part's :meth:`LocalPart.info`."""
        return self.call("info")


def merged(lists: Iterable[Sequence[Sequence]], k: int) -> Hits:
    """The top ``k`` of the parts' ``(doc_id, score)`` lists in the one rank order (score descending, then id)."""
    pairs = sorted((pair for answer in lists for pair in answer), key=lambda p: (-p[1], p[0]))
    return Hits.of(pairs[:k])


def check_compatible(infos: Sequence[Mapping[str, Any]]) -> None:
    """Refuse parts whose indexes were built with different settings (fields and analyzer, model and encoder
    settings): their scores could not be merged. The error names both settings."""
    first = infos[0]
    for info in infos[1:]:
        for side in ("sparse", "dense"):
            a, b = first.get(side), info.get(side)
            if a is not None and b is not None and a != b:
                differ = ", ".join(f"{key}={a.get(key)!r} in {first['name']} but {b.get(key)!r} in {info['name']}"
                                   for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key))
                raise ConfigError(f"the parts' {side} indexes were built with different settings ({differ}): "
                                  f"rebuild {info['name']} with the settings of the others")


class LocalPart:
    """One part opened in this process: its corpus and its BM25 and/or dense searcher (``None`` for a side not
    opened). Every call takes and returns plain data, so a served part can offer the same calls.

    :class:`Parts` calls local parts one at a time, holding :data:`~gaia_lite.java.JAVA_LOCK`: pyjnius binds a
    Java method to one instance of its class at a time, so two threads searching two parts' Lucene searchers
    could both search the same one (a count of one part came back as another's, before this).
    """

    #: Whether :class:`Parts` may call this part from several threads at once.
    concurrent = False

    def __init__(self, name: str, corpus, bm25=None, dense=None):
        self.name, self.corpus, self.bm25, self.dense = name, corpus, bm25, dense

    def info(self) -> dict[str, Any]:
        """The part's name, documents and fingerprint, and the settings its indexes were built with."""
        out: dict[str, Any] = {"name": self.name, "num_rows": len(self.corpus),
                               "fingerprint": self.corpus.meta.fingerprint}
        if self.bm25 is not None:
            out["sparse"] = {"fields": self.bm25.fields, **self.bm25.meta.params["analyzer"], "k1": self.bm25.k1,
                             "b": self.bm25.b}
        if self.dense is not None:
            stored = self.dense.meta.params["encoder"]
            out["dense"] = {key: stored[key] for key in ("model", "dim", "pooling", "normalize", "max_length",
                                                         "query_prefix", "document_prefix")}
            out["dense_index"] = self.dense.meta.params.get("index_type", "flat")
        return out

    def _held(self, only):
        return None if only is None else [d for d in only if d in self.corpus]

    def bm25_stats(self, query: str) -> str:
        """The statistics scoring ``query`` reads from this part's index."""
        return self.bm25.local_stats(query)

    def bm25_search(self, query: str, k: int, stats: str, only=None, phrases=()) -> list[tuple[str, float]]:
        """This part's top ``k`` for ``query``, scored with the corpus's ``stats``."""
        held = self._held(only)
        if held is not None and not held:
            return []
        hits = self.bm25.with_stats(stats).search(query, k, only=held, phrases=phrases)
        return list(zip(hits.doc_ids, hits.scores))

    def bm25_score(self, query: str, doc_ids, stats: str) -> dict[str, float]:
        """BM25 scores (with the corpus's ``stats``) of the documents of ``doc_ids`` this part holds."""
        held = self._held(doc_ids)
        return self.bm25.with_stats(stats).score_documents(query, held) if held else {}

    def bm25_explain(self, query: str, doc_ids, stats: str) -> dict[str, dict[str, float]]:
        """Each query term's share of the BM25 score of the documents of ``doc_ids`` this part holds."""
        held = self._held(doc_ids)
        return self.bm25.with_stats(stats).explain_terms(query, held) if held else {}

    def bm25_count(self, query: str, only=None, phrases=()) -> int:
        """How many of this part's documents match (as :meth:`~gaia_lite.sparse.BM25Searcher.count`)."""
        held = self._held(only)
        return self.bm25.count(query, only=held, phrases=list(phrases))

    def bm25_matching(self, phrases, only=None) -> list[str]:
        """This part's documents holding every one of ``phrases``, in row order."""
        return self.bm25.matching(list(phrases), only=self._held(only))

    def bm25_query_terms(self, query: str) -> dict[str, int]:
        """The analyzed query terms with their counts."""
        return self.bm25.query_terms(query)

    def dense_search(self, vector, k: int, only=None) -> list[tuple[str, float]]:
        """This part's top ``k`` for a query vector."""
        held = self._held(only)
        if held is not None and not held:
            return []
        hits = self.dense.search_vector(vector, k, only=held)
        return list(zip(hits.doc_ids, hits.scores))

    def dense_score(self, vector, doc_ids) -> dict[str, float]:
        """Inner products of the query vector with the stored vectors of the documents of ``doc_ids`` held here."""
        held = self._held(doc_ids)
        return self.dense.score_documents(vector, held) if held else {}

    def documents(self, doc_ids) -> list[dict[str, Any]]:
        """The rows of the documents of ``doc_ids`` this part holds."""
        held = self._held(doc_ids)
        return self.corpus.get_many(held) if held else []


class PartedBM25Searcher:
    """BM25 over a corpus's parts with the corpus's statistics: the ids and scores of one index over it (see the
    module docstring). Offers what :class:`~gaia_lite.sparse.BM25Searcher` offers a page or a hybrid search."""

    step_times = None
    config = None

    #: Queries whose statistics are kept: a hybrid search asks for them up to three times (search, the scores
    #: it fills in, explanations), and a page after the first asks again; the parts' indexes do not change while
    #: they are open, so kept statistics stay exact.
    STATS_KEPT = 1024

    def __init__(self, parts: Parts, corpus, fields: str, meta=None):
        self.parts, self.corpus, self.fields, self.meta = parts, corpus, fields, meta
        self._stats: dict[str, str] = {}
        self._stats_lock = threading.Lock()

    def stats(self, query: str) -> str:
        """The corpus's statistics for ``query``: every part's, summed (kept only where every part answered)."""
        with self._stats_lock:
            kept = self._stats.get(query)
        if kept is not None:
            return kept
        answers = self.parts.call("bm25_stats", query)
        total = sum_stats(answers)
        if len(answers) == len(self.parts):
            with self._stats_lock:
                if len(self._stats) >= self.STATS_KEPT:
                    self._stats.pop(next(iter(self._stats)))
                self._stats[query] = total
        return total

    def route(self, only=None, phrases=()) -> str:
        """``"lucene"``: each part scores in Lucene with the corpus's statistics (an index's impact matrix holds its
        own)."""
        return "lucene"

    def search(self, query: str, k: int = DEFAULT_K, *, only=None, phrases=()) -> Hits:
        """The top ``k`` documents for ``query`` over all parts; ``only`` and ``phrases`` as for one index."""
        check_k(k)
        if not query.strip() or (only is not None and not only):
            return Hits()
        only = None if only is None else list(only)
        return merged(self.parts.call("bm25_search", query, k, self.stats(query), only, list(phrases)), k)

    def search_batch(self, queries: Mapping[str, str], k: int = DEFAULT_K, threads: int = 1) -> Run:
        """Search every ``{query_id: text}``: ``{query_id: {doc_id: score}}``; ``threads`` queries at a time (over
        served parts; parts in this process take one call at a time whatever the threads)."""
        check_k(k)
        items = list(queries.items())
        search = lambda item: {h.doc_id: h.score for h in self.search(item[1], k)}  # noqa: E731
        if threads <= 1:
            return {qid: search((qid, text)) for qid, text in items}
        with ThreadPoolExecutor(threads) as pool:
            return dict(zip((qid for qid, _ in items), pool.map(search, items)))

    def score_documents(self, query: str, doc_ids) -> dict[str, float]:
        """The exact BM25 score of each of ``doc_ids``; 0.0 for a document holding no query term."""
        ids = list(dict.fromkeys(doc_ids))
        if not ids:
            return {}
        found: dict[str, float] = {}
        if query.strip():
            for answer in self.parts.call("bm25_score", query, ids, self.stats(query)):
                found.update(answer)
        return {doc_id: found.get(doc_id, 0.0) for doc_id in ids}

    def explain_terms(self, query: str, doc_ids) -> dict[str, dict[str, float]]:
        """Each query term's share of each document's BM25 score: ``{doc_id: {term: score}}``."""
        ids = list(dict.fromkeys(doc_ids))
        out: dict[str, dict[str, float]] = {doc_id: {} for doc_id in ids}
        if ids and query.strip():
            for answer in self.parts.call("bm25_explain", query, ids, self.stats(query)):
                out.update(answer)
        return out

    def query_terms(self, query: str) -> dict[str, int]:
        """The analyzed query terms with their counts (every part analyzes alike)."""
        return self.parts.parts[0].bm25_query_terms(query)

    def count(self, query: str = "", *, only=None, phrases=()) -> int:
        """How many documents over all parts match, as :meth:`~gaia_lite.sparse.BM25Searcher.count` counts."""
        if only is not None and not only:
            return 0
        return sum(self.parts.call("bm25_count", query, None if only is None else list(only), list(phrases)))

    def matching(self, phrases, *, only=None) -> list[str]:
        """The ids of all documents holding every one of ``phrases`` (within ``only``), in corpus order (the
        parts are runs of rows in order)."""
        if only is not None and not only:
            return []
        answers = self.parts.call("bm25_matching", list(phrases), None if only is None else list(only))
        return [doc_id for answer in answers for doc_id in answer]

    def doc(self, doc_id: str) -> dict:
        """The corpus row behind a hit, by id."""
        return self.corpus.get(doc_id)

    @property
    def num_docs(self) -> int:
        """How many documents the parts' indexes hold together."""
        return sum(info["num_rows"] for info in self.parts.info())


class PartedDenseSearcher(QueryVectors):
    """Dense search over a corpus's parts: each part's top ``k`` merged (exact over flat indexes). The query is
    encoded once, here; the parts only search vectors."""

    step_times = None
    config = None

    def __init__(self, parts: Parts, corpus, encoder, meta):
        self.parts, self.corpus, self.encoder, self.meta = parts, corpus, encoder, meta

    def encode_query(self, query: str):
        """The query's vector."""
        return self.encoder.encode_queries([query])[0]

    def search_vector(self, vector, k: int = DEFAULT_K, *, only=None) -> Hits:
        """The top ``k`` documents over all parts for a query vector (ties by id); ``only`` restricts."""
        if only is not None and not only:
            return Hits()
        return merged(self.parts.call("dense_search", vector, k, None if only is None else list(only)), k)

    def score_documents(self, vector, doc_ids) -> dict[str, float]:
        """Exact inner products of a query vector with the stored vectors of ``doc_ids``."""
        ids = list(dict.fromkeys(doc_ids))
        found: dict[str, float] = {}
        if ids:
            for answer in self.parts.call("dense_score", vector, ids):
                found.update(answer)
        return {doc_id: found[doc_id] for doc_id in ids if doc_id in found}
