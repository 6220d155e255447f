"""Shared vocabulary: hits, runs, rank order and the searcher contract, spelled as ir_measures / ranx /
pytrec_eval spell them.

- :class:`Hit` is one document a BM25 or dense search found, and :class:`Hits` the sequence of them a search
  returns; :class:`HybridHit` extends a Hit's fields, in the same order, with how each side scored and ranked
  the document.
- :func:`hit_record` is the one way a hit becomes a JSON-ready record: CLI ``--json``, exports, the app's API
  and Hub result sets all use it.
- :func:`ranked` is the one rank order: score descending, then doc id ascending; :func:`anserini_scores` the
  scores as Anserini writes them in that order (run files, and BM25's side of a hybrid search).
- :class:`Searcher` is the protocol BM25, dense and hybrid searchers all satisfy.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

#: ``{query_id: {doc_id: score}}``, the run format that ranx, ir_measures and pytrec_eval all accept.
Run = dict[str, dict[str, float]]

#: ``{query_id: {doc_id: relevance}}``.
Qrels = dict[str, dict[str, int]]

#: The two sides of a hybrid search, in the order every explanation lists them.
SIDES = ("bm25", "dense")


class Hit(NamedTuple):
    """One retrieved document: its corpus id (never a row number), score, and 1-based rank.

    A NamedTuple: cheaper to make than a dataclass. A search returns them in :class:`Hits`, which makes each
    as it is read.
    """

    doc_id: str
    score: float
    rank: int


# A Hit straight from its (doc_id, score, rank) tuple: tuple.__new__ is C, Hit(...) and Hit._make Python calls
# (100 hits: 28 -> 21 us, a fifth of a SciFact search from the impact matrix).
_hit = functools.partial(tuple.__new__, Hit)


class Hits(Sequence):
    """The hits of one BM25 or dense search, best first: a read-only sequence of :class:`Hit` with ranks 1..n.

    It holds the ids and scores as two lists and makes each Hit as it is read. Results kept by the thousand (a
    run over a query set) then cost three objects per search, not one per hit: Python's garbage collector
    never untracks a NamedTuple, so kept Hits made its full collections walk them again and again. That
    cost was two thirds of a one-by-one benchmark's time at k=100 (BENCHMARKS.md).
    It compares equal to any sequence of the same Hits, a list included.
    """

    __slots__ = ("doc_ids", "scores")

    def __init__(self, doc_ids: list[str] | None = None, scores: list[float] | None = None):
        self.doc_ids = [] if doc_ids is None else doc_ids
        self.scores = [] if scores is None else scores
        if len(self.doc_ids) != len(self.scores):
            raise ValueError(f"{len(self.doc_ids)} ids but {len(self.scores)} scores")

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, float]]) -> Hits:
        """Hits from ``(doc_id, score)`` pairs already in rank order."""
        doc_ids, scores = [], []
        for doc_id, score in pairs:
            doc_ids.append(doc_id)
            scores.append(score)
        return cls(doc_ids, scores)

    def __len__(self) -> int:
        return len(self.doc_ids)

    def __iter__(self) -> Iterator[Hit]:
        return map(_hit, zip(self.doc_ids, self.scores, itertools.count(1)))

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [_hit(item) for item in zip(self.doc_ids[i], self.scores[i], range(1, len(self) + 1)[i])]
        n = len(self.doc_ids)
        i = i + n if i < 0 else i
        if not 0 <= i < n:
            raise IndexError("hit index out of range")
        return _hit((self.doc_ids[i], self.scores[i], i + 1))

    def __eq__(self, other) -> bool:
        if isinstance(other, Hits):
            return self.doc_ids == other.doc_ids and self.scores == other.scores
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # equal to a list, which is unhashable

    def __repr__(self) -> str:
        return f"Hits({list(self)!r})"

    def __getstate__(self):
        return self.doc_ids, self.scores

    def __setstate__(self, state) -> None:
        self.doc_ids, self.scores = state


class HybridHit(NamedTuple):
    """A :class:`Hit` (same first fields, same order) and how both sides saw the document.

    ``score`` is the fused score; ``contributions[side]`` is ``weights[side] * normalized[side]`` and the
    contributions sum to ``score``. ``bm25_rank``/``dense_rank`` are ranks in each side's retrieved list (None
    where that side did not retrieve it); ``bm25_score``/``dense_score`` are real scores, computed for the
    other side where ``filled`` names it, else None. ``found_by`` lists the sides that retrieved it.
    ``term_scores`` (with ``explain_terms``) splits the BM25 score by query term. ``bm25_route`` says how the
    BM25 side was scored: ``impacts`` (the index's impact matrix) or ``lucene`` (see
    :meth:`~gaia_lite.sparse.BM25Searcher.route`); the scores are the same either way.
    """

    doc_id: str
    score: float
    rank: int
    bm25_score: float | None = None
    bm25_rank: int | None = None
    dense_score: float | None = None
    dense_rank: int | None = None
    found_by: tuple[str, ...] = ()
    filled: tuple[str, ...] = ()
    normalized: dict[str, float] | None = None
    weights: dict[str, float] | None = None
    contributions: dict[str, float] | None = None
    term_scores: dict[str, float] | None = None
    bm25_route: str | None = None

    @classmethod
    def from_side(cls, hit: Hit, side: str, bm25_route: str | None = None) -> HybridHit:
        """A one-sided hit (from the BM25 or the dense searcher alone) in this shape, so that pages showing
        results of any retriever have one row type."""
        return cls(hit.doc_id, hit.score, hit.rank, found_by=(side,), bm25_route=bm25_route,
                   **{f"{side}_score": hit.score, f"{side}_rank": hit.rank})


def hit_record(hit: Hit | HybridHit) -> dict[str, Any]:
    """A hit as a JSON-ready dict of its fields, in their order (tuples become lists)."""
    return {name: list(value) if isinstance(value, tuple) else value for name, value in hit._asdict().items()}


def ranked(hits: Mapping[str, float], limit: int | None = None) -> list[tuple[str, float]]:
    """``{doc_id: score}`` in rank order: score descending, then doc id ascending; the first ``limit`` only,
    where given."""
    items = hits.items()
    if limit is not None and 0 <= limit < len(hits) and not math.isnan(sum(hits.values())):
        # Only documents scoring at least the limit-th best score can be among the first limit, so only those
        # are sorted (a fused list of 1,600 for a page of 10: 0.16 ms instead of 0.96).
        cutoff = heapq.nlargest(limit, hits.values())[-1] if limit else math.inf
        items = [item for item in items if item[1] >= cutoff]
    return sorted(items, key=lambda item: (-item[1], item[0]))[:limit]


def anserini_scores(scores: Iterable[float]) -> list[float]:
    """Scores in rank order as Anserini reports them (its ``ScoreTiesAdjusterReranker``, in float32):
    each rounded to 1e-4, and each score within 1e-4 of the one before lowered by 1e-6 per tie, so that the
    written scores sort exactly in rank order whatever tool reads them."""
    import numpy as np

    f32 = np.float32
    out: list[float] = []
    dup = 0
    for i, score in enumerate(scores):
        # As Anserini 1.7.1's bytecode does it: (float) (Math.round((double) s * 1e4) / 1e4), the rounding in
        # double (Math.round(double) is floor(x + 0.5)); the tie test and the nudge below are in float32.
        s = f32(np.floor(float(f32(score)) * 1e4 + 0.5) / 1e4)
        if i == 0 or f32(out[-1] - s) > f32(1e-4):
            dup = 0
        else:
            dup += 1
            s = f32(s - f32(f32(1e-6) * f32(dup)))
        out.append(s)
    return [float(s) for s in out]


def hits_to_run(results: Mapping[str, Sequence[Hit]]) -> Run:
    """Turn ``{query_id: [Hit, ...]}`` into a :data:`Run`."""
    return {qid: {h.doc_id: h.score for h in hits} for qid, hits in results.items()}


@runtime_checkable
class Searcher(Protocol):
    """What every gaia_lite searcher offers (BM25, dense, hybrid); see ``tests/test_searchers.py``.

    - ``search(query, k, only=None)``: the top ``k`` hits, best first, ranks 1..n, ties broken by doc id; an
      empty query gives no hits; ``only`` (doc ids) restricts the search without changing any score.
    - ``search_batch(queries, k)``: ``{query_id: {doc_id: score}}``, equal to ``search`` query by query.
    - ``corpus``: the :class:`~gaia_lite.corpus.Corpus` whose ids the hits carry.
    """

    corpus: Any

    def search(self, query: str, k: int = 10, *, only=None) -> Sequence: ...

    def search_batch(self, queries: Mapping[str, str], k: int = 10) -> Run: ...
