"""Hybrid search: BM25 and dense over the same ids, fused at query time, every hit explaining its place.

Each side retrieves ``depth`` documents. For ``weighted`` fusion (and ``pyserini`` with ``fill_missing``), a
document that only one side retrieved gets its *real* score on the other side: its BM25 score from Lucene
(0.0 where it holds no query term), its dense score from its stored vector. Nothing is filled with a floor
value. RRF uses the lists as retrieved (a document absent from a side adds nothing from it, RRF's
definition). The ``pyserini`` method without ``fill_missing`` reproduces Pyserini's ``HybridSearcher``
exactly, min-fill included, fusing the BM25 scores as Pyserini reports them (rounded to 1e-4 by Anserini).

Every :class:`~gaia_lite.types.HybridHit` carries both sides' scores and ranks, the normalised values, the weights, each
side's contribution (contributions sum to the fused score exactly), and which side(s) found it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from . import fusion
from .config import DEFAULT_K, FusionConfig, check_k, configure
from .errors import ConfigError
from .timing import StepTimes, step
from .types import SIDES, HybridHit, Run, anserini_scores

__all__ = ["Candidates", "HybridSearcher"]


@dataclass(frozen=True)
class Candidates:
    """What both sides found for one query: ``scores[side]`` and ``ranks[side]`` of the retrieved lists (ranks
    1-based), ``filled[side]``, the real scores on ``side`` of documents only the other side retrieved, and how the
    BM25 side was scored (``bm25_route``, as :meth:`~gaia_lite.sparse.BM25Searcher.route` says)."""

    scores: dict[str, dict[str, float]]
    ranks: dict[str, dict[str, int]]
    filled: dict[str, dict[str, float]]
    bm25_route: str | None = None


class HybridSearcher:
    """BM25 + dense over one corpus, fused per query; see the module docstring for the rules. Open one with
    :func:`gaia_lite.retriever.open_searcher`, or from two searchers over the same corpus."""

    #: The steps a search records in an attached :class:`~gaia_lite.timing.StepTimes` (``step_times``):
    #: encoding the query, each side's search, filling in the other side's scores of one-sided documents,
    #: fusing. Counts: ``filled_bm25`` and ``filled_dense``, the documents filled in on each side.
    STEPS = ("encode", "bm25_search", "dense_search", "fill_bm25", "fill_dense", "fusion")
    step_times: StepTimes | None = None
    #: The settings it was opened with, where :func:`~gaia_lite.retriever.open_searcher` opened it.
    config = None

    def __init__(self, bm25, dense, fusion_config: FusionConfig | None = None):
        if bm25.corpus.meta.fingerprint != dense.corpus.meta.fingerprint:
            raise ConfigError("the BM25 and dense searchers are over different corpora")
        self.bm25, self.dense = bm25, dense
        self.corpus = bm25.corpus
        self.fusion = fusion_config or FusionConfig()

    def search(self, query: str, k: int = DEFAULT_K, fusion_config: FusionConfig | None = None, *,
               explain_terms: bool = False, only=None, **settings) -> list[HybridHit]:
        """The top ``k`` fused hits for ``query``; ``fusion_config`` (or its fields as keyword arguments, such as
        ``method="weighted"``) replaces the searcher's fusion settings for this search.

        ``only`` (doc ids) restricts both sides to those documents.
        """
        check_k(k)
        if not query.strip() or (only is not None and not only):
            return []
        f = configure(FusionConfig, fusion_config or self.fusion, settings)
        with step(self.step_times, "encode"):
            vector = self.dense.encode_query(query)
        return self.fuse(query, self.candidates(query, vector, f, only=only), k, f, explain_terms)

    def candidates(self, query: str, vector, f: FusionConfig, fill: bool | None = None, *, only=None) -> Candidates:
        """Both sides' retrieved lists for ``query`` (within ``only`` where given) and, where filling, the real
        other-side scores of one-sided documents. ``fill`` defaults to what ``f`` does."""
        times = self.step_times
        with step(times, "bm25_search"):
            bm25 = self.bm25.search(query, f.side_depth("bm25"), only=only)
        with step(times, "dense_search"):
            dense = self.dense.search_vector(vector, f.side_depth("dense"), only=only)
        retrieved = {"bm25": bm25, "dense": dense}
        ranks = {side: {h.doc_id: h.rank for h in hits} for side, hits in retrieved.items()}
        scores = {side: {h.doc_id: h.score for h in hits} for side, hits in retrieved.items()}
        filled: dict[str, dict[str, float]] = {"bm25": {}, "dense": {}}
        if f.fills if fill is None else fill:
            for side, other in (("bm25", "dense"), ("dense", "bm25")):
                missing = [d for d in scores[other] if d not in scores[side]]
                if times is not None:
                    times.count(f"filled_{side}", len(missing))
                with step(times, f"fill_{side}"):
                    if missing:
                        filled[side] = (self.bm25.score_documents(query, missing) if side == "bm25"
                                        else self.dense.score_documents(vector, missing))
        return Candidates(scores, ranks, filled, self.bm25.route(only))

    def fuse(self, query: str, candidates: Candidates, k: int, f: FusionConfig, explain_terms: bool = False
             ) -> list[HybridHit]:
        """Fuse ``candidates`` with ``f`` and explain the top ``k``."""
        with step(self.step_times, "fusion"):
            sides = {side: dict(candidates.scores[side]) for side in SIDES}
            if f.method == "pyserini":
                # Pyserini's HybridSearcher fuses the BM25 scores LuceneSearcher reports: Anserini's tie-adjusted ones.
                bm25 = list(sides["bm25"].items())
                sides["bm25"] = dict(zip((d for d, _ in bm25), anserini_scores(s for _, s in bm25)))
            if f.fills:
                for side in SIDES:
                    sides[side].update(candidates.filled[side])
            top = list(fusion.contributions(sides, f.method, limit=k, **f.params()).items())
            weights = f.side_weights()
        term_scores = self.bm25.explain_terms(query, [d for d, _ in top]) if explain_terms else {}
        ranks = candidates.ranks
        return [
            HybridHit(
                doc_id=doc_id,
                score=sum(parts.values()),
                rank=rank,
                bm25_score=sides["bm25"].get(doc_id),
                bm25_rank=ranks["bm25"].get(doc_id),
                dense_score=sides["dense"].get(doc_id),
                dense_rank=ranks["dense"].get(doc_id),
                found_by=tuple(s for s in SIDES if doc_id in ranks[s]),
                filled=tuple(s for s in SIDES if f.fills and doc_id in candidates.filled[s]),
                normalized={s: (parts[s] / weights[s] if weights[s] else 0.0) for s in SIDES},
                weights=weights,
                contributions=dict(parts),
                term_scores=term_scores.get(doc_id) if explain_terms else None,
                bm25_route=candidates.bm25_route,
            )
            for rank, (doc_id, parts) in enumerate(top, start=1)
        ]

    def search_batch(self, queries: Mapping[str, str], k: int = DEFAULT_K, fusion_config: FusionConfig | None = None
                     ) -> Run:
        """Fused runs for ``{query_id: text}`` (queries encoded together): ``{query_id: {doc_id: score}}``."""
        check_k(k)
        f = fusion_config or self.fusion
        items = list(queries.items())
        vectors = self.dense.encoder.encode_queries([t for _, t in items]) if items else []
        run: Run = {}
        for (qid, text), vector in zip(items, vectors):
            hits = self.fuse(text, self.candidates(text, vector, f), k, f) if text.strip() else []
            run[qid] = {h.doc_id: h.score for h in hits}
        return run
