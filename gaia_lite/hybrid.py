"""Hybrid search: BM25 and dense over the same ids, fused at query time, every hit explaining its place.

Each side retrieves ``depth`` documents. For ``weighted`` fusion (and ``pyserini`` with ``fill_missing``), a
document that only one side retrieved gets its *real* score on the other side: its BM25 score from Lucene
(0.0 where it holds no query term), its dense score from its stored vector. Nothing is filled with a floor
value. RRF uses the lists as retrieved (a document absent from a side adds nothing from it, RRF's
definition). The ``pyserini`` method without ``fill_missing`` reproduces Pyserini's ``HybridSearcher``
exactly, min-fill included, fusing the BM25 scores as Pyserini reports them (rounded to 1e-4 by Anserini).

Every :class:`HybridHit` carries both sides' scores and ranks, the normalised values, the weights, each
side's contribution (contributions sum to the fused score exactly), and which side(s) found it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from . import fusion
from .errors import ConfigError
from .evaluate import anserini_scores
from .types import Run

SIDES = ("bm25", "dense")


@dataclass(frozen=True)
class FusionConfig:
    """How to fuse, chosen per query.

    ``method``: ``rrf`` (Cormack et al. 2009; ``rrf_k``), ``weighted`` (weighted sum of normalised scores;
    ``weights``, ``normalization``) or ``pyserini`` (HybridSearcher: ``alpha``·BM25 + dense, or
    ``weight_on_dense``; ``pyserini_normalization``). ``depth`` is how many documents each side retrieves
    (``bm25_depth``/``dense_depth`` override it per side). ``fill_missing`` (default: on for ``weighted``,
    off for ``pyserini``, ignored by ``rrf``) computes the real other-side score of a one-sided document.

    ``weights`` default to equal weights, a choice of principle rather than of tuning: 1/1 for RRF (its
    definition), 0.5/0.5 for ``weighted`` (so fused scores stay in [0, 1] after min-max).
    """

    method: str = "rrf"
    depth: int = 100
    bm25_depth: int | None = None
    dense_depth: int | None = None
    rrf_k: int = 60
    weights: Mapping[str, float] | None = None
    normalization: str = "minmax"
    alpha: float = 0.1
    weight_on_dense: bool = False
    pyserini_normalization: bool = False
    fill_missing: bool | None = None

    def __post_init__(self):
        if self.method not in fusion.FUSIONS:
            raise ConfigError(f"unknown fusion method {self.method!r}; valid: {', '.join(fusion.FUSIONS)}")
        if self.normalization not in fusion.NORMALIZATIONS:
            raise ConfigError(
                f"unknown normalization {self.normalization!r}; valid: {', '.join(fusion.NORMALIZATIONS)}")
        if self.weights is not None and set(self.weights) != set(SIDES):
            raise ConfigError(f"weights must name exactly {SIDES}, got {sorted(self.weights)}")
        for name in ("depth", "bm25_depth", "dense_depth", "rrf_k"):
            value = getattr(self, name)
            if value is not None and value < (0 if name == "rrf_k" else 1):
                raise ConfigError(f"{name} must be positive, got {value}")

    def side_depth(self, side: str) -> int:
        """How many documents ``side`` retrieves."""
        return getattr(self, f"{side}_depth") or self.depth

    @property
    def fills(self) -> bool:
        """Whether one-sided documents get their real score on the other side."""
        if self.method == "rrf":
            return False
        return self.fill_missing if self.fill_missing is not None else self.method == "weighted"

    def side_weights(self) -> dict[str, float]:
        """The factor each side's normalised value is multiplied by."""
        if self.method == "pyserini":
            return {"bm25": 1.0, "dense": self.alpha} if self.weight_on_dense else {"bm25": self.alpha, "dense": 1.0}
        if self.weights is not None:
            return dict(self.weights)
        equal = 1.0 if self.method == "rrf" else 0.5
        return {side: equal for side in SIDES}

    def params(self) -> dict:
        """Keyword arguments for :func:`gaia_lite.fusion.contributions`."""
        if self.method == "rrf":
            return {"k": self.rrf_k, "weights": self.side_weights()}
        if self.method == "weighted":
            return {"weights": self.side_weights(), "normalization": self.normalization, "missing": "error"}
        return {"alpha": self.alpha, "normalization": self.pyserini_normalization,
                "weight_on_dense": self.weight_on_dense}


@dataclass(frozen=True)
class HybridHit:
    """One fused result and how it got its place.

    ``score`` is the fused score; ``contributions[side]`` is ``weights[side] * normalized[side]`` and the
    contributions sum to ``score``. ``bm25_rank``/``dense_rank`` are ranks in each side's retrieved list (None
    where that side did not retrieve it); ``bm25_score``/``dense_score`` are real scores, computed for the
    other side where ``filled`` names it, else None. ``found_by`` lists the sides that retrieved it.
    ``term_scores`` (with ``explain_terms``) splits the BM25 score by query term.
    """

    doc_id: str
    rank: int
    score: float
    bm25_score: float | None
    bm25_rank: int | None
    dense_score: float | None
    dense_rank: int | None
    normalized: dict[str, float]
    weights: dict[str, float]
    contributions: dict[str, float]
    found_by: tuple[str, ...]
    filled: tuple[str, ...] = ()
    term_scores: dict[str, float] | None = None


@dataclass(frozen=True)
class Candidates:
    """What both sides found for one query: ``scores[side]`` and ``ranks[side]`` of the retrieved lists (ranks
    1-based), and ``filled[side]``, the real scores on ``side`` of documents only the other side retrieved."""

    scores: dict[str, dict[str, float]]
    ranks: dict[str, dict[str, int]]
    filled: dict[str, dict[str, float]]


class HybridSearcher:
    """BM25 + dense over one corpus, fused per query; see the module docstring for the rules."""

    def __init__(self, bm25, dense, fusion_config: FusionConfig | None = None):
        if bm25.corpus.meta.fingerprint != dense.corpus.meta.fingerprint:
            raise ConfigError("the BM25 and dense searchers are over different corpora")
        self.bm25, self.dense = bm25, dense
        self.corpus = bm25.corpus
        self.fusion = fusion_config or FusionConfig()

    @classmethod
    def from_corpus(cls, corpus, fusion_config: FusionConfig | None = None, *, fields: str = "flat",
                    model: str | None = None, encoder=None) -> HybridSearcher:
        """BM25 over the corpus's ``sparse-<fields>`` index and dense over its ``dense-<model>`` index."""
        from .corpus import Corpus
        from .dense import DEFAULT_MODEL, DenseSearcher
        from .sparse import BM25Searcher

        if not isinstance(corpus, Corpus):
            corpus = Corpus.load(corpus, verify=False)
        return cls(BM25Searcher.from_corpus(corpus, fields),
                   DenseSearcher.from_corpus(corpus, model or DEFAULT_MODEL, encoder=encoder), fusion_config)

    def search(self, query: str, k: int = 10, fusion_config: FusionConfig | None = None, *,
               explain_terms: bool = False, only=None, **overrides) -> list[HybridHit]:
        """The top ``k`` fused hits for ``query``; ``fusion_config`` or keyword overrides change the fusion.

        ``only`` (doc ids) restricts both sides to those documents.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if not query.strip():
            return []
        f = replace(fusion_config or self.fusion, **overrides) if overrides else (fusion_config or self.fusion)
        vector = self.dense.encode_query(query)
        return self.fuse(query, self.candidates(query, vector, f, only=only), k, f, explain_terms)

    def candidates(self, query: str, vector, f: FusionConfig, fill: bool | None = None, *, only=None) -> Candidates:
        """Both sides' retrieved lists for ``query`` (within ``only`` where given) and, where filling, the real
        other-side scores of one-sided documents. ``fill`` defaults to what ``f`` does."""
        retrieved = {
            "bm25": self.bm25.search(query, f.side_depth("bm25"), only=only),
            "dense": self.dense.search_vector(vector, f.side_depth("dense"), only=only),
        }
        ranks = {side: {h.doc_id: h.rank for h in hits} for side, hits in retrieved.items()}
        scores = {side: {h.doc_id: h.score for h in hits} for side, hits in retrieved.items()}
        filled: dict[str, dict[str, float]] = {"bm25": {}, "dense": {}}
        if f.fills if fill is None else fill:
            for side, other in (("bm25", "dense"), ("dense", "bm25")):
                missing = [d for d in scores[other] if d not in scores[side]]
                if missing:
                    filled[side] = (self.bm25.score_documents(query, missing) if side == "bm25"
                                    else self.dense.score_documents(vector, missing))
        return Candidates(scores, ranks, filled)

    def fuse(self, query: str, candidates: Candidates, k: int, f: FusionConfig, explain_terms: bool = False
             ) -> list[HybridHit]:
        """Fuse ``candidates`` with ``f`` and explain the top ``k``."""
        sides = {side: dict(candidates.scores[side]) for side in SIDES}
        if f.method == "pyserini":
            # Pyserini's HybridSearcher fuses the BM25 scores LuceneSearcher reports: Anserini's tie-adjusted ones.
            bm25 = list(sides["bm25"].items())
            sides["bm25"] = dict(zip((d for d, _ in bm25), anserini_scores(s for _, s in bm25)))
        if f.fills:
            for side in SIDES:
                sides[side].update(candidates.filled[side])
        terms = fusion.contributions(sides, f.method, **f.params())
        weights = f.side_weights()
        top = list(terms.items())[:k]
        term_scores = self.bm25.explain_terms(query, [d for d, _ in top]) if explain_terms else {}
        ranks = candidates.ranks
        return [
            HybridHit(
                doc_id=doc_id,
                rank=rank,
                score=sum(parts.values()),
                bm25_score=sides["bm25"].get(doc_id),
                bm25_rank=ranks["bm25"].get(doc_id),
                dense_score=sides["dense"].get(doc_id),
                dense_rank=ranks["dense"].get(doc_id),
                normalized={s: (parts[s] / weights[s] if weights[s] else 0.0) for s in SIDES},
                weights=weights,
                contributions=dict(parts),
                found_by=tuple(s for s in SIDES if doc_id in ranks[s]),
                filled=tuple(s for s in SIDES if f.fills and doc_id in candidates.filled[s]),
                term_scores=term_scores.get(doc_id) if explain_terms else None,
            )
            for rank, (doc_id, parts) in enumerate(top, start=1)
        ]

    def _fuse(self, query, vector, k: int, f: FusionConfig, explain_terms: bool) -> list[HybridHit]:
        return self.fuse(query, self.candidates(query, vector, f), k, f, explain_terms)

    def search_batch(self, queries: Mapping[str, str], k: int = 10, fusion_config: FusionConfig | None = None
                     ) -> Run:
        """Fused runs for ``{query_id: text}`` (queries encoded together): ``{query_id: {doc_id: score}}``."""
        f = fusion_config or self.fusion
        items = list(queries.items())
        vectors = self.dense.encoder.encode_queries([t for _, t in items]) if items else []
        run: Run = {}
        for (qid, text), vector in zip(items, vectors):
            hits = self._fuse(text, vector, k, f, False) if text.strip() else []
            run[qid] = {h.doc_id: h.score for h in hits}
        return run
