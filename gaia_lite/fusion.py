"""Fusion of per-retriever result lists into one ranking: small pure functions in two registries.

Vocabulary. A *side* is one retriever's scores for one query, ``{doc_id: score}``; ``sides`` maps side names
to them, e.g. ``{"bm25": {...}, "dense": {...}}``. Every function here takes plain dicts, returns a new dict
and changes none of its inputs. Fused results come back in rank order — score descending, then doc id
ascending (:func:`gaia_lite.types.ranked`) — and that same order gives the 1-based ranks RRF uses.

Registries. The names live in :mod:`gaia_lite.registry`: :data:`~gaia_lite.registry.NORMALIZATIONS` (``minmax``,
``zscore``, ``none``) and :data:`~gaia_lite.registry.FUSION_METHODS` (``weighted``, ``rrf``, ``pyserini``), whose
entries point at the functions here. :func:`normalize`, :func:`fuse`, :func:`contributions` and :func:`fuse_runs`
take a name; an unknown name, or a parameter the method does not take, raises
:class:`~gaia_lite.errors.ConfigError` listing the valid ones. A method's function returns :class:`Terms`: each
side's contribution to each document, from which the fused scores and their explanations both come.

Explanations. :func:`contributions` gives ``{doc_id: {side: contribution}}``; a document's fused score is
``sum(contributions[doc_id].values())``, exactly (the fusion functions compute their scores with that sum).

A document that only some sides returned
----------------------------------------
1. Preferred: the caller computes its real score on the other side — its BM25 score from Lucene, its dense
   score from its stored vector — and passes complete sides. No rule is needed then. Filled-in documents are
   part of their side's list, so they also count in that side's normalization statistics (min, max, mean,
   standard deviation). Do this for ``weighted`` and ``pyserini``, not for ``rrf`` (below).
2. ``rrf``: a document absent from a side contributes 0 from it — RRF's definition (Cormack et al. 2009),
   and what ranx and ``pyserini.fusion`` do. RRF ranks the lists as retrieved; filling in scores would give
   the filled documents ranks they were never retrieved at, so pass RRF the retrieved lists.
3. ``weighted``: the ``missing`` argument says what to do, nothing is invented silently:
   ``"error"`` (the default) raises :class:`~gaia_lite.errors.InputError` naming the side and documents;
   ``"zero"`` gives the document 0 from that side *after* normalization (ranx's ``wsum``, CombSUM);
   ``"min"`` gives it the side's lowest normalized score, i.e. the normalized lowest score the side returned
   (Pyserini's ``HybridSearcher``). With ``minmax`` the two agree; with ``zscore``, ``"zero"`` puts the
   document at the side's mean, above about half of the documents that side did return. A side that returned
   nothing for a query gives 0 under either rule.
4. ``pyserini``: always HybridSearcher's rule — the side's lowest raw score, or 0 if the side returned
   nothing (then normalized, with min 0 and max 1 for an empty side, if ``normalization=True``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from itertools import chain, repeat
from operator import add
from typing import NamedTuple

from .config import FusionConfig
from .errors import ConfigError, InputError
from .registry import FUSION_METHODS, MISSING_RULES, NORMALIZATIONS
from .types import Run, ranked

Scores = dict[str, float]
#: ``{side: {doc_id: score}}`` for one query.
Sides = Mapping[str, Mapping[str, float]]
#: ``{doc_id: {side: contribution}}``; the contributions of a document sum to its fused score.
Contributions = dict[str, dict[str, float]]

#: Smallest denominator of min-max and z-score normalization, as in ranx: a list whose scores are all equal
#: (one document, say) normalizes to 0 instead of 0/0.
MIN_DENOMINATOR = 1e-9

#: The ways :func:`weighted` treats a document that a side did not score (see the module docstring): the
#: configuration's rules, and ``error`` for sides that must be complete.
_MISSING = ("error", *MISSING_RULES)


# Normalizations ===============================================================================================

def minmax(scores: Mapping[str, float]) -> Scores:
    """Min-max normalization: ``(s - min) / max(max - min, 1e-9)``, min and max over ``scores``.

    Maps the list onto [0, 1]; a list whose scores are all equal maps to 0 (the 1e-9 floor), as ranx's
    ``min_max_norm`` (Bassani, ECIR 2022) does; ``pyserini.fusion.normalize`` maps such a list to 1 instead.
    Min-max for fusion goes back to Fox & Shaw, TREC-2 (1993) and Lee, SIGIR 1997.
    """
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    denominator = max(hi - lo, MIN_DENOMINATOR)
    return {doc_id: (s - lo) / denominator for doc_id, s in scores.items()}


def zscore(scores: Mapping[str, float]) -> Scores:
    """Z-score normalization: ``(s - mean) / max(std, 1e-9)``, with the population standard deviation
    ``std = sqrt(sum((s - mean)**2) / n)``, over ``scores``.

    As ranx's ``zmuv_norm`` (``np.std``, ddof=0; Bassani, ECIR 2022); for fusion, Montague & Aslam, CIKM 2001.
    A list whose scores are all equal maps to 0.
    """
    if not scores:
        return {}
    n = len(scores)
    mean = math.fsum(scores.values()) / n
    std = math.sqrt(math.fsum((s - mean) ** 2 for s in scores.values()) / n)
    denominator = max(std, MIN_DENOMINATOR)
    return {doc_id: (s - mean) / denominator for doc_id, s in scores.items()}


def identity(scores: Mapping[str, float]) -> Scores:
    """No normalization: ``s``. Right when the sides' scores are already on comparable scales."""
    return dict(scores)


def normalize(scores: Mapping[str, float], method: str = "minmax") -> Scores:
    """Normalize one list of scores with the method named ``method`` (a name in :data:`NORMALIZATIONS`)."""
    return NORMALIZATIONS[method](scores)


def _pyserini_midrange(lo: float, hi: float, s: float) -> float:
    # HybridSearcher._hybrid_results, verbatim: (score - (min + max) / 2) / (max - min).
    return (s - (lo + hi) / 2) / (hi - lo)


def _pyserini_normalize(side: str, scores: Mapping[str, float]) -> Scores:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi == lo:
        raise InputError(
            f"pyserini fusion with normalization=True divides by max - min, which is 0 for side {side!r} "
            f"(its {len(scores)} score(s) are all {lo!r}); HybridSearcher raises ZeroDivisionError here. "
            "Retrieve more documents per side, or use normalization=False or method 'weighted'."
        )
    return {doc_id: _pyserini_midrange(lo, hi, s) for doc_id, s in scores.items()}


# Fusion methods ===============================================================================================

def rrf(sides: Sides, k: int = FusionConfig.rrf_k, weights: Mapping[str, float] | None = None) -> Scores:
    """Reciprocal rank fusion's fused scores in rank order (:func:`rrf_terms` gives the formula)."""
    return rrf_terms(sides, k, weights).scores()


def weighted(sides: Sides, weights: Mapping[str, float], normalization: str = "minmax", missing: str = "error"
             ) -> Scores:
    """Weighted fusion's fused scores in rank order (:func:`weighted_terms` gives the formula)."""
    return weighted_terms(sides, weights, normalization, missing).scores()


def pyserini(sides: Sides, **params) -> Scores:
    """Pyserini's ``HybridSearcher`` fusion's scores in rank order (:func:`pyserini_terms` gives the formula and
    the parameters)."""
    return pyserini_terms(sides, **params).scores()


def fuse(sides: Sides, method: str, **params) -> Scores:
    """Fuse one query's sides with the method named ``method`` (a name in
    :data:`~gaia_lite.registry.FUSION_METHODS`) and its ``params``."""
    return _method(method, params)(sides, **params).scores()


def contributions(sides: Sides, method: str, *, limit: int | None = None, **params) -> Contributions:
    """Each side's share of each fused score: ``{doc_id: {side: contribution}}`` in rank order, every side
    listed for every document (0.0 where it adds nothing), in the order of ``sides``; the first ``limit``
    documents only, where given (the rank order is the same).

    ``sum(result[doc_id].values()) == fuse(sides, method, **params)[doc_id]`` exactly: the fusion functions
    add these same numbers in this same order. For ``rrf`` a contribution is ``w / (k + rank)``; for
    ``weighted`` and ``pyserini`` it is ``weight * normalized score``.
    """
    terms = _method(method, params)
    if limit is not None:
        _check_count("limit", limit)
    return terms(sides, **params).contributions(limit)


def top(scores: Mapping[str, float], k: int | None) -> Scores:
    """The first ``k`` documents of ``scores`` in rank order (score descending, doc id ascending); all if ``None``."""
    if k is None:
        return dict(ranked(scores))
    _check_count("k", k)
    return dict(ranked(scores)[:k])


def fuse_runs(
    runs: Mapping[str, Run],
    method: str,
    *,
    depth: int | Mapping[str, int] | None = None,
    **params,
) -> Run:
    """Fuse whole runs, ``{side: {query_id: {doc_id: score}}}``, query by query with :func:`fuse`.

    Every query found in any run is fused; a run without the query is an empty side for it. ``depth`` keeps
    only each side's best ``depth`` documents per query (rank order) before fusing: one number for every side,
    or ``{side: depth}``; ``None`` keeps all. ``params`` go to the fusion method.
    """
    fusion = _method(method, params)
    if isinstance(depth, Mapping):
        if set(depth) != set(runs):
            raise ConfigError(f"depth names sides {sorted(depth)}, but the runs are {sorted(runs)}")
        depths = dict(depth)
    else:
        depths = dict.fromkeys(runs, depth)
    for d in depths.values():
        if d is not None:
            _check_count("depth", d)
    fused: Run = {}
    for qid in dict.fromkeys(q for run in runs.values() for q in run):
        sides = {name: top(run.get(qid, {}), depths[name]) for name, run in runs.items()}
        try:
            fused[qid] = fusion(sides, **params).scores()
        except InputError as e:
            raise InputError(f"query {qid!r}: {e}") from None
    return fused


# The one place each method's numbers are computed =============================================================

def rrf_terms(sides: Sides, k: int = FusionConfig.rrf_k, weights: Mapping[str, float] | None = None) -> Terms:
    """Reciprocal rank fusion: ``score(d) = sum over sides of w_side / (k + rank_side(d))``.

    ``rank_side(d)`` is d's 1-based rank in that side's list, in rank order (score descending, then doc id
    ascending); a document absent from a side gets nothing from it. ``weights`` default to 1 for every side
    (plain RRF); ``k`` = 60 as in the paper. Scores are ignored but for ordering each list.

    Cormack, Clarke & Büttcher, "Reciprocal rank fusion outperforms Condorcet and individual rank learning
    methods", SIGIR 2009, pp. 758-759, https://doi.org/10.1145/1571941.1572114.
    """
    if isinstance(k, bool) or not isinstance(k, (int, float)) or not k >= 0:
        raise ConfigError(f"rrf needs k >= 0 (60 in Cormack et al.), got {k!r}")
    w = _weights(sides, weights, "rrf")
    return Terms({side: ({doc_id: w[side] / (k + rank) for rank, (doc_id, _) in enumerate(ranked(scores), 1)}, 0.0)
                   for side, scores in sides.items()})


def weighted_terms(
    sides: Sides, weights: Mapping[str, float], normalization: str = "minmax", missing: str = "error"
) -> Terms:
    """Weighted sum of normalized scores (CombSUM with weights): ``score(d) = sum over sides of
    w_side * norm_side(s_side(d))``.

    ``norm_side`` is the normalization named ``normalization`` (see :data:`NORMALIZATIONS`), its statistics
    taken over all the scores passed for that side. ``weights`` gives one weight per side. A document a side
    did not score is handled by ``missing``: ``"error"`` raises, ``"zero"`` adds 0 from that side (ranx's
    ``wsum``), ``"min"`` adds ``w_side`` times the side's lowest normalized score (Pyserini's
    ``HybridSearcher``); see the module docstring. Better still, pass the document's real score.

    Fox & Shaw, "Combination of multiple searches", TREC-2, 1993 (CombSUM); Lee, "Analyses of multiple
    evidence combination", SIGIR 1997 (normalized scores); Bassani & Romelli, "ranx.fuse", CIKM 2022 (``wsum``).
    """
    if weights is None:
        raise ConfigError("weighted fusion needs weights, one per side, e.g. {'bm25': 0.3, 'dense': 0.7}")
    w = _weights(sides, weights, "weighted")
    norm = NORMALIZATIONS[normalization]
    if missing not in _MISSING:
        raise ConfigError(f"unknown missing-document rule {missing!r}; valid: {', '.join(_MISSING)}")
    normed = {side: norm(scores) for side, scores in sides.items()}
    if missing == "error":
        fill = dict.fromkeys(sides)
    elif missing == "zero":
        fill = dict.fromkeys(sides, 0.0)
    else:
        fill = {side: min(s.values()) if s else 0.0 for side, s in normed.items()}
    return _combine(normed, w, fill)


def pyserini_terms(
    sides: Sides,
    alpha: float = FusionConfig.alpha,
    normalization: bool = FusionConfig.pyserini_normalization,
    weight_on_dense: bool = FusionConfig.weight_on_dense,
    k: int | None = None,
    sparse: str = "bm25",
    dense: str = "dense",
) -> Terms:
    """Pyserini's ``HybridSearcher`` fusion, same arithmetic:
    ``score(d) = alpha * sparse(d) + dense(d)``, or ``sparse(d) + alpha * dense(d)`` if ``weight_on_dense``.

    A document missing from one side takes that side's lowest score (0 if the side returned nothing). With
    ``normalization=True`` each side's scores, filled ones included, become
    ``(s - (min + max) / 2) / (max - min)``, min and max over the side's returned list (0 and 1 if empty);
    HybridSearcher divides by zero when a side's scores are all equal, this raises an
    :class:`~gaia_lite.errors.InputError`. The result keeps the best ``k`` (``None``: all; HybridSearcher's
    default is 10, with k0 = 10 hits per side). ``sparse`` and ``dense`` name the two sides of ``sides``.

    One difference: documents with exactly equal fused scores are ordered by doc id here, where HybridSearcher
    keeps the iteration order of a Python ``set`` (which varies with ``PYTHONHASHSEED``); scores are equal.

    Ma, Sun, Pradeep & Lin, "A replication study of dense passage retriever", arXiv:2104.05740 (2021);
    Lin et al., "Pyserini", SIGIR 2021, https://doi.org/10.1145/3404835.3463238
    (``pyserini/search/hybrid/_searcher.py``).
    """
    if sparse == dense or set(sides) != {sparse, dense}:
        raise ConfigError(
            f"pyserini fusion needs exactly two sides, sparse={sparse!r} and dense={dense!r}; got {sorted(sides)} "
            "(name them with sparse=... and dense=...)"
        )
    if k is not None:
        _check_count("k", k)
    if normalization:
        normed = {side: _pyserini_normalize(side, scores) for side, scores in sides.items()}
        empty_fill = _pyserini_midrange(0, 1, 0)  # HybridSearcher's min = 0, max = 1 for an empty side
    else:
        normed = {side: dict(scores) for side, scores in sides.items()}
        empty_fill = 0
    # The normalized lowest score equals the lowest normalized score: both formulas are increasing in s.
    fill = {side: min(s.values()) if s else empty_fill for side, s in normed.items()}
    w = {sparse: 1.0, dense: alpha} if weight_on_dense else {sparse: alpha, dense: 1.0}
    return _combine(normed, w, fill, keep=k)


class Terms(NamedTuple):
    """One query's fusion before ranking: for each side, its contribution to each document it holds and what it
    adds for a document it lacks (None: nothing may lack it). ``keep``: only the best that many count. What a
    fusion method's function returns: ``Terms({"bm25": ({doc_id: contribution}, 0.0), "dense": (...)})``."""

    by_side: dict[str, tuple[Mapping[str, float], float | None]]
    keep: int | None = None

    def totals(self) -> Scores:
        """Each document's fused score, in no particular order."""
        docs = _union({side: values for side, (values, _) in self.by_side.items()})
        # From 0, side by side in order: the additions sum(contributions.values()) makes, so the two agree
        # exactly. Whole lists at a time: a per-document dict of contributions is only made for those asked.
        total = repeat(0)
        for values, lacking in self.by_side.values():
            total = map(add, total, map(values.get, docs, repeat(lacking)))
        return dict(zip(docs, total))

    def _ranked(self, limit: int | None) -> list[tuple[str, float]]:
        stop = self.keep if limit is None else limit if self.keep is None else min(limit, self.keep)
        return ranked(self.totals(), stop)

    def scores(self) -> Scores:
        """``{doc_id: fused score}`` in rank order."""
        return dict(self._ranked(None))

    def contributions(self, limit: int | None = None) -> Contributions:
        """``{doc_id: {side: contribution}}`` in rank order, for the best ``limit`` documents (None: all)."""
        return {doc_id: {side: values.get(doc_id, lacking) for side, (values, lacking) in self.by_side.items()}
                for doc_id, _ in self._ranked(limit)}


def _combine(
    normed: Mapping[str, Mapping[str, float]], weights: Mapping[str, float], fill: Mapping[str, float | None],
    keep: int | None = None,
) -> Terms:
    """Each side's ``weight * score``, a side's ``fill`` standing in for a document it lacks (``None``: raise)."""
    docs = _union(normed) if None in fill.values() else []
    lacking = {side: [d for d in docs if d not in scores] for side, scores in normed.items() if fill[side] is None}
    lacking = {side: ds for side, ds in lacking.items() if ds}
    if lacking:
        parts = "; ".join(
            f"side {side!r} lacks {len(ds)} of {len(docs)}: "
            + ", ".join(map(repr, ds[:5])) + (" …" if len(ds) > 5 else "")
            for side, ds in lacking.items()
        )
        raise InputError(
            f"weighted fusion: documents without a score on every side ({parts}). Pass their real scores "
            "(BM25 from Lucene, dense from the stored vectors), or choose a rule: missing='zero' (ranx's wsum) "
            "or missing='min' (Pyserini's HybridSearcher)."
        )
    return Terms({side: ({doc_id: weights[side] * s for doc_id, s in scores.items()},
                          None if fill[side] is None else weights[side] * fill[side])
                   for side, scores in normed.items()}, keep)


# Helpers ======================================================================================================

def _union(sides: Mapping[str, Mapping[str, float]]) -> list[str]:
    return list(dict.fromkeys(chain.from_iterable(sides.values())))


def _weights(sides: Sides, weights: Mapping[str, float] | None, method: str) -> dict[str, float]:
    if weights is None:
        return dict.fromkeys(sides, 1.0)
    if not isinstance(weights, Mapping) or set(weights) != set(sides):
        named = sorted(weights) if isinstance(weights, Mapping) else repr(weights)
        raise ConfigError(f"{method}: weights must be {{side: weight}} for the sides {sorted(sides)}, got {named}")
    return dict(weights)


def _check_count(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{name} must be a whole number >= 0 or None, got {value!r}")


def _method(method: str, params: Mapping[str, object]) -> Callable[..., Terms]:
    """The fusion function named ``method``, after checking that it takes ``params``."""
    import inspect

    fusion = FUSION_METHODS[method].implementation()
    try:
        inspect.signature(fusion).bind({}, **params)
    except TypeError as e:
        names = [p for p in inspect.signature(fusion).parameters if p != "sides"]
        raise ConfigError(f"fusion method {method!r}: {e}; its parameters are {', '.join(names)}") from None
    return fusion
