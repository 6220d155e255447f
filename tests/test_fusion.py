"""Tests for gaia_lite.fusion: hand-computed numbers, then the same fusions cross-checked against ranx,
pyserini.fusion and Pyserini's HybridSearcher on seeded random runs."""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
import sys

import pytest
from pytest import approx

from gaia_lite import fusion
from gaia_lite.errors import ConfigError, InputError
from gaia_lite.registry import FUSION_METHODS, NORMALIZATIONS
from gaia_lite.evaluate import ranked, write_trec_run

# bm25 ranks a, b, c; dense ranks b, d. Both returned b; a and c only bm25; d only dense.
SIDES = {"bm25": {"a": 3.0, "b": 2.0, "c": 1.0}, "dense": {"d": 0.5, "b": 0.9}}
# Every document scored on both sides.
FULL = {"bm25": {"a": 3.0, "b": 2.0, "c": 1.0}, "dense": {"a": 0.2, "b": 0.6, "c": 0.4}}
SQ = math.sqrt(1.5)  # z-score of the top of (3, 2, 1): (3 - 2) / sqrt(2/3)


# Normalizations -------------------------------------------------------------------------------------------------

def test_minmax():
    assert fusion.normalize({"a": 3.0, "b": 2.0, "c": 1.0}, "minmax") == {"a": 1.0, "b": 0.5, "c": 0.0}
    assert fusion.normalize({"a": 0.2, "b": 0.6, "c": 0.4}, "minmax") == approx({"a": 0.0, "b": 1.0, "c": 0.5})
    # All equal (one document, say): 0, not 0/0 — ranx's rule (pyserini.fusion.normalize would give 1).
    assert fusion.normalize({"a": 5.0, "b": 5.0}, "minmax") == {"a": 0.0, "b": 0.0}
    assert fusion.normalize({"a": 7.0}, "minmax") == {"a": 0.0}
    # A range under 1e-9 is divided by 1e-9, as in ranx.
    assert fusion.normalize({"a": 1.0, "b": 1.0 + 2**-31}, "minmax") == {"a": 0.0, "b": approx(2**-31 / 1e-9)}
    assert fusion.normalize({}, "minmax") == {}


def test_zscore_uses_population_std():
    assert fusion.normalize({"a": 1.0, "b": 3.0}, "zscore") == approx({"a": -1.0, "b": 1.0})  # sample std: ±0.707
    assert fusion.normalize({"a": 3.0, "b": 2.0, "c": 1.0}, "zscore") == approx({"a": SQ, "b": 0.0, "c": -SQ})
    assert fusion.normalize({"a": 4.0, "b": 4.0}, "zscore") == {"a": 0.0, "b": 0.0}
    assert fusion.normalize({}, "zscore") == {}


def test_none_copies():
    scores = {"a": 3.0, "b": -1.5}
    out = fusion.normalize(scores, "none")
    assert out == scores and out is not scores


# RRF ------------------------------------------------------------------------------------------------------------

def test_rrf_k60():
    fused = fusion.rrf(SIDES)
    assert fused["b"] == approx(1 / 62 + 1 / 61)
    assert fused["a"] == approx(1 / 61)
    assert fused["d"] == approx(1 / 62)  # rank 2 on dense, absent from bm25: nothing from bm25
    assert fused["c"] == approx(1 / 63)
    assert list(fused) == ["b", "a", "d", "c"]


def test_rrf_other_k_and_weights():
    fused = fusion.rrf(SIDES, k=10, weights={"bm25": 0.3, "dense": 0.7})
    assert fused == approx({"b": 0.3 / 12 + 0.7 / 11, "a": 0.3 / 11, "d": 0.7 / 12, "c": 0.3 / 13})
    assert list(fused) == ["b", "d", "a", "c"]
    assert fusion.rrf(SIDES, k=0)["b"] == approx(1 / 2 + 1 / 1)


def test_rrf_ties_rank_by_doc_id():
    # Equal scores: doc id ascending decides the rank, whatever the dict order.
    fused = fusion.rrf({"s": {"y": 1.0, "x": 1.0, "a": 0.5}})
    assert fused == approx({"x": 1 / 61, "y": 1 / 62, "a": 1 / 63})
    # Equal fused scores: doc id ascending decides the order.
    assert list(fusion.rrf({"one": {"q": 1.0}, "two": {"p": 9.0}})) == ["p", "q"]


# Weighted -------------------------------------------------------------------------------------------------------

def test_weighted_minmax_zscore_none():
    w = {"bm25": 0.3, "dense": 0.7}
    assert fusion.weighted(FULL, w) == approx({"b": 0.3 * 0.5 + 0.7, "c": 0.7 * 0.5, "a": 0.3})
    assert list(fusion.weighted(FULL, w)) == ["b", "c", "a"]
    assert fusion.weighted(FULL, w, "zscore") == approx({"b": 0.7 * SQ, "c": -0.3 * SQ, "a": (0.3 - 0.7) * SQ})
    assert fusion.weighted(FULL, w, "none") == approx({"a": 0.9 + 0.14, "b": 0.6 + 0.42, "c": 0.3 + 0.28})


def test_weighted_missing_rules():
    sides = {"bm25": {"a": 3.0, "b": 2.0, "c": 1.0}, "dense": {"b": 0.9, "d": 0.5, "e": 0.7}}
    w = {"bm25": 0.4, "dense": 0.6}
    with pytest.raises(InputError) as e:  # the default: nothing invented
        fusion.weighted(sides, w)
    msg = str(e.value)
    assert "side 'bm25' lacks 2 of 5: 'd', 'e'" in msg and "side 'dense' lacks 2 of 5: 'a', 'c'" in msg
    assert "missing='zero'" in msg and "missing='min'" in msg

    # min-max: the lowest normalized score is 0, so "zero" and "min" agree.
    expected = {"a": 0.4, "b": 0.4 * 0.5 + 0.6, "c": 0.0, "d": 0.0, "e": 0.6 * 0.5}
    assert fusion.weighted(sides, w, missing="zero") == approx(expected)
    assert fusion.weighted(sides, w, missing="min") == approx(expected)

    # z-score: "zero" puts a missing document at the side's mean, "min" at its lowest score.
    # dense (0.9, 0.5, 0.7) -> (SQ, -SQ, 0); bm25 (3, 2, 1) -> (SQ, 0, -SQ).
    zero = fusion.weighted(sides, w, "zscore", missing="zero")
    low = fusion.weighted(sides, w, "zscore", missing="min")
    assert zero == approx({"a": 0.4 * SQ, "b": 0.6 * SQ, "c": -0.4 * SQ, "d": -0.6 * SQ, "e": 0.0})
    assert low == approx({"a": (0.4 - 0.6) * SQ, "b": 0.6 * SQ, "c": -SQ, "d": -SQ, "e": -0.4 * SQ})

    # A side that returned nothing gives 0 under "min" too.
    alone = {"bm25": {"a": 3.0, "b": 1.0}, "dense": {}}
    assert fusion.weighted(alone, w, missing="min") == approx({"a": 0.4, "b": 0.0})


# Pyserini mode --------------------------------------------------------------------------------------------------

PYS = {"bm25": {"a": 10.0, "b": 8.0, "c": 6.0}, "dense": {"a": 0.5, "b": 0.9, "d": 0.7}}


def test_pyserini_default_min_fill():
    fused = fusion.pyserini(PYS)  # 0.1 * bm25 + dense; c gets dense's min 0.5, d gets bm25's min 6
    assert fused == approx({"b": 0.8 + 0.9, "a": 1.0 + 0.5, "d": 0.6 + 0.7, "c": 0.6 + 0.5})
    assert list(fused) == ["b", "a", "d", "c"]
    assert list(fusion.pyserini(PYS, k=2)) == ["b", "a"]


def test_pyserini_weight_on_dense():
    fused = fusion.pyserini(PYS, alpha=0.1, weight_on_dense=True)  # bm25 + 0.1 * dense
    assert fused == approx({"a": 10.05, "b": 8.09, "d": 6.07, "c": 6.05})


def test_pyserini_normalization_formula():
    # (s - (min + max) / 2) / (max - min): bm25 (s - 8) / 4, dense (s - 0.7) / 0.4; fills are the minima.
    fused = fusion.pyserini(PYS, normalization=True)
    assert fused == approx({"b": 0.0 + 0.5, "d": 0.1 * -0.5 + 0.0, "a": 0.1 * 0.5 - 0.5, "c": 0.1 * -0.5 - 0.5})
    # An empty side has min 0 and max 1 in HybridSearcher: every document gets (0 - 0.5) / 1 from it.
    alone = fusion.pyserini({"bm25": PYS["bm25"], "dense": {}}, normalization=True)
    assert alone == approx({"a": 0.05 - 0.5, "b": -0.5, "c": -0.05 - 0.5})
    # All-equal scores: HybridSearcher divides by zero; here an InputError says so.
    with pytest.raises(InputError, match="ZeroDivisionError"):
        fusion.pyserini({"bm25": {"a": 2.0}, "dense": PYS["dense"]}, normalization=True)


def test_pyserini_side_names():
    renamed = {"sparse": PYS["bm25"], "emb": PYS["dense"]}
    assert fusion.pyserini(renamed, sparse="sparse", dense="emb") == fusion.pyserini(PYS)
    with pytest.raises(ConfigError, match="sparse='bm25' and dense='dense'"):
        fusion.pyserini(renamed)


# Contributions, registries, errors ------------------------------------------------------------------------------

METHOD_PARAMS = [
    ("rrf", {}),
    ("rrf", {"k": 5, "weights": {"bm25": 2.0, "dense": 0.5}}),
    ("weighted", {"weights": {"bm25": 0.3, "dense": 0.7}, "missing": "zero"}),
    ("weighted", {"weights": {"bm25": 0.3, "dense": 0.7}, "normalization": "zscore", "missing": "min"}),
    ("weighted", {"weights": {"bm25": 1.0, "dense": 2.0}, "normalization": "none", "missing": "zero"}),
    ("pyserini", {}),
    ("pyserini", {"alpha": 0.5, "normalization": True, "weight_on_dense": True, "k": 3}),
]


@pytest.mark.parametrize("method, params", METHOD_PARAMS)
def test_contributions_sum_exactly_to_fused_scores(method, params):
    for sides in (SIDES, PYS, *[_sides(q) for q in range(5)]):
        fused = fusion.fuse(sides, method, **params)
        parts = fusion.contributions(sides, method, **params)
        assert list(parts) == list(fused)  # same documents, same order
        for doc_id, by_side in parts.items():
            assert list(by_side) == list(sides)  # every side, in the order of sides
            assert sum(by_side.values()) == fused[doc_id]  # exactly


@pytest.mark.parametrize("method, params", METHOD_PARAMS)
def test_contributions_of_the_best_few_are_the_first_of_all(method, params):
    for sides in (SIDES, PYS, *[_sides(q) for q in range(5)]):
        every = list(fusion.contributions(sides, method, **params).items())
        for limit in (0, 1, 2, 3, 10, 1000):
            assert list(fusion.contributions(sides, method, limit=limit, **params).items()) == every[:limit]


def test_rank_order_of_the_first_few_equals_the_whole_order_cut():
    """ranked(h, limit) sorts only what can be among the first ``limit``; ties, infinities and NaN included."""
    import math
    import random

    from gaia_lite.types import ranked

    rng = random.Random(7)
    for trial in range(400):
        hits = {f"d{rng.randint(0, 999):03d}": rng.choice([round(rng.uniform(-2, 2), 1), 1.0, 0.0, -0.0])
                for _ in range(rng.randint(0, 60))}
        if trial % 10 == 0 and hits:
            hits[next(iter(hits))] = rng.choice([math.inf, -math.inf, math.nan])
        every = ranked(hits)
        for limit in (0, 1, 5, 10, len(hits), len(hits) + 3):
            got = ranked(hits, limit)
            assert [d for d, _ in got] == [d for d, _ in every[:limit]], (hits, limit)


def test_contribution_values():
    parts = fusion.contributions(SIDES, "rrf", k=10, weights={"bm25": 0.3, "dense": 0.7})
    assert parts["b"] == approx({"bm25": 0.3 / 12, "dense": 0.7 / 11})
    assert parts["a"] == {"bm25": approx(0.3 / 11), "dense": 0.0}
    parts = fusion.contributions(PYS, "pyserini")
    assert parts["c"] == approx({"bm25": 0.1 * 6.0, "dense": 0.5})


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ConfigError, match="unknown normalization 'min-max'; valid: minmax, zscore, none"):
        fusion.normalize({"a": 1.0}, "min-max")
    with pytest.raises(ConfigError, match="unknown fusion method 'combsum'; valid: rrf, weighted, pyserini"):
        fusion.fuse(SIDES, "combsum")
    with pytest.raises(ConfigError, match="valid: rrf, weighted, pyserini"):
        fusion.fuse_runs({"bm25": {}}, "bogus")
    with pytest.raises(ConfigError, match="valid: minmax, zscore, none"):
        fusion.weighted(FULL, {"bm25": 1.0, "dense": 1.0}, normalization="l2")
    with pytest.raises(ConfigError, match="valid: error, zero, min"):
        fusion.weighted(FULL, {"bm25": 1.0, "dense": 1.0}, missing="mean")
    with pytest.raises(ConfigError, match="its parameters are k, weights"):
        fusion.fuse(SIDES, "rrf", alpha=0.5)
    with pytest.raises(ConfigError, match="missing a required argument: 'weights'"):
        fusion.fuse(FULL, "weighted")


def test_bad_parameters():
    with pytest.raises(ConfigError, match="weights must be"):
        fusion.rrf(SIDES, weights={"bm25": 1.0})
    with pytest.raises(ConfigError, match="weights must be"):
        fusion.weighted(FULL, {"bm25": 1.0, "dense": 1.0, "splade": 1.0})
    with pytest.raises(ConfigError, match="k >= 0"):
        fusion.rrf(SIDES, k=-1)
    with pytest.raises(ConfigError, match="k must be"):
        fusion.pyserini(PYS, k=-3)
    with pytest.raises(ConfigError, match="depth names sides"):
        fusion.fuse_runs({"bm25": {}, "dense": {}}, "rrf", depth={"bm25": 3})


def test_empty_inputs():
    for method, params in METHOD_PARAMS:
        assert fusion.fuse({"bm25": {}, "dense": {}}, method, **params) == {}
        assert fusion.contributions({"bm25": {}, "dense": {}}, method, **params) == {}
        assert fusion.fuse_runs({"bm25": {}, "dense": {}}, method, **params) == {}
    assert fusion.rrf({}) == {}
    assert fusion.weighted({}, {}) == {}
    assert fusion.fuse_runs({}, "rrf") == {}
    assert fusion.top({}, 3) == {}


def test_fuse_runs_query_in_one_run_only_and_depth():
    runs = {"bm25": {"q1": FULL["bm25"], "q2": {"x": 1.0}}, "dense": {"q1": FULL["dense"]}}
    fused = fusion.fuse_runs(runs, "rrf")
    assert list(fused) == ["q1", "q2"]
    assert fused["q1"] == fusion.rrf(FULL)
    assert fused["q2"] == {"x": approx(1 / 61)}
    w = {"bm25": 0.5, "dense": 0.5}
    with pytest.raises(InputError, match="^query 'q2': .*side 'dense' lacks 1 of 1: 'x'"):
        fusion.fuse_runs(runs, "weighted", weights=w)
    assert fusion.fuse_runs(runs, "weighted", weights=w, missing="zero") == {
        "q1": fusion.weighted(FULL, w), "q2": {"x": 0.0}}
    assert fusion.fuse_runs(runs, "pyserini")["q2"] == {"x": approx(0.1)}  # 0.1 * 1.0 + 0 (empty side)

    # depth: bm25 keeps a, b; dense keeps b only.
    runs = {"bm25": {"q1": SIDES["bm25"]}, "dense": {"q1": SIDES["dense"]}}
    cut = fusion.fuse_runs(runs, "rrf", depth={"bm25": 2, "dense": 1})
    assert cut["q1"] == approx({"b": 1 / 62 + 1 / 61, "a": 1 / 61})
    assert fusion.fuse_runs(runs, "rrf", depth=1)["q1"] == approx({"a": 1 / 61, "b": 1 / 61})
    assert list(fusion.fuse_runs(runs, "rrf", depth=1)["q1"]) == ["a", "b"]


def test_top():
    assert list(fusion.top({"c": 1.0, "b": 2.0, "a": 2.0}, 2).items()) == [("a", 2.0), ("b", 2.0)]
    assert list(fusion.top({"c": 1.0, "b": 2.0}, None)) == ["b", "c"]


def test_inputs_are_not_changed():
    sides = {"bm25": dict(SIDES["bm25"]), "dense": dict(SIDES["dense"])}
    for method, params in METHOD_PARAMS:
        fusion.fuse(sides, method, **params)
    assert sides == SIDES


def test_every_registered_function_documents_formula_and_citation():
    for fn in [e.implementation() for e in (*NORMALIZATIONS.entries(), *FUSION_METHODS.entries())]:
        doc = fn.__doc__ or ""
        assert "``" in doc, fn.__name__  # a formula
        if fn is not fusion.identity:
            assert re.search(r"(19|20)\d\d", doc), fn.__name__  # a citation


def test_import_is_cheap():
    code = "import sys, json, gaia_lite.fusion; print(json.dumps(sorted(m for m in %r if m in sys.modules)))" % (
        ["numpy", "ranx", "pyserini", "jnius", "pandas", "numba", "torch"],
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


# Cross-checks on seeded random runs -----------------------------------------------------------------------------

N_QUERIES, DEPTH, POOL = 20, 50, 80


def _sides(q: int) -> dict[str, dict[str, float]]:
    """One query: two lists of 50 documents from a pool of 80 (about 30 in both), distinct random scores."""
    rng = random.Random(1000 + q)
    pool = [f"doc{i:03d}" for i in range(POOL)]
    return {
        "bm25": {d: rng.uniform(2.0, 30.0) for d in rng.sample(pool, DEPTH)},
        "dense": {d: rng.uniform(0.1, 0.9) for d in rng.sample(pool, DEPTH)},
    }


@pytest.fixture(scope="module")
def random_runs() -> dict[str, dict[str, dict[str, float]]]:
    runs: dict[str, dict[str, dict[str, float]]] = {"bm25": {}, "dense": {}}
    for q in range(N_QUERIES):
        for side, scores in _sides(q).items():
            runs[side][f"q{q:02d}"] = scores
    # No exact ties within a list: ranx (unstable argsort) and pyserini (rank column) would order them their own way.
    for run in runs.values():
        assert all(len(set(s.values())) == len(s) for s in run.values())
    assert 20 <= min(len(runs["bm25"][q].keys() & runs["dense"][q].keys()) for q in runs["bm25"]) < DEPTH
    return runs


def _assert_close(ours: dict, theirs: dict) -> None:
    assert ours.keys() == theirs.keys()
    for qid in ours:
        assert ours[qid].keys() == theirs[qid].keys(), qid
        for doc_id, score in ours[qid].items():
            assert abs(score - theirs[qid][doc_id]) <= 1e-6, (qid, doc_id, score, theirs[qid][doc_id])


@pytest.mark.filterwarnings("ignore:unsafe cast")  # numba, inside ranx
def test_same_as_ranx(random_runs):
    from ranx import Run, fuse

    r_bm25, r_dense = Run(random_runs["bm25"]), Run(random_runs["dense"])
    w = {"bm25": 0.3, "dense": 0.7}

    def ranx(**kwargs):
        return {q: dict(d) for q, d in fuse([r_bm25, r_dense], **kwargs).to_dict().items()}

    for k in (60, 10):
        ours = fusion.fuse_runs(random_runs, "rrf", k=k)
        _assert_close(ours, ranx(norm=None, method="rrf", params={"k": k}))
        assert ours != fusion.fuse_runs(random_runs, "rrf", k=k + 1)  # the check can tell k apart
    # ranx's wsum gives 0 to a document a run lacks, after normalizing: our missing="zero".
    for ours_norm, ranx_norm in (("minmax", "min-max"), ("zscore", "zmuv")):
        ours = fusion.fuse_runs(random_runs, "weighted", weights=w, normalization=ours_norm, missing="zero")
        _assert_close(ours, ranx(norm=ranx_norm, method="wsum", params={"weights": [0.3, 0.7]}))
    # With min-max the lowest normalized score is 0: missing="min" is ranx's wsum too.
    ours = fusion.fuse_runs(random_runs, "weighted", weights=w, normalization="minmax", missing="min")
    _assert_close(ours, ranx(norm="min-max", method="wsum", params={"weights": [0.3, 0.7]}))
    ours = fusion.fuse_runs(random_runs, "weighted", weights=w, normalization="none", missing="zero")
    _assert_close(ours, ranx(norm=None, method="wsum", params={"weights": [0.3, 0.7]}))


def _trec_run(run: dict[str, dict[str, float]]):
    from pyserini.trectools import TrecRun

    rows = [(qid, "Q0", d, rank, s, "t") for qid in run for rank, (d, s) in enumerate(ranked(run[qid]), 1)]
    return TrecRun.from_list(rows)


def _from_trec_run(trec_run) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for qid, docid, score in trec_run.run_data[["topic", "docid", "score"]].itertuples(index=False):
        out.setdefault(str(qid), {})[docid] = float(score)
    return out


def test_same_as_pyserini_fusion(random_runs):
    from pyserini import fusion as pf

    bm25, dense = _trec_run(random_runs["bm25"]), _trec_run(random_runs["dense"])
    for k in (60, 10):
        theirs = _from_trec_run(pf.reciprocal_rank_fusion([bm25, dense], rrf_k=k))
        ours = fusion.fuse_runs(random_runs, "rrf", k=k)
        _assert_close(ours, theirs)
        assert {q: list(d) for q, d in ours.items()} == {q: list(d) for q, d in theirs.items()}  # same order
    theirs = _from_trec_run(pf.reciprocal_rank_fusion([bm25, dense], rrf_k=60, depth=20))
    _assert_close(fusion.fuse_runs(random_runs, "rrf", depth=20), theirs)
    # pyserini's normalize = min-max then sum; its interpolation = alpha * first + (1 - alpha) * second.
    theirs = _from_trec_run(pf.normalize([bm25, dense]))
    _assert_close(fusion.fuse_runs(random_runs, "weighted", weights={"bm25": 1, "dense": 1}, missing="zero"), theirs)
    theirs = _from_trec_run(pf.interpolation([bm25, dense], alpha=0.3))
    ours = fusion.fuse_runs(random_runs, "weighted", weights={"bm25": 0.3, "dense": 0.7}, normalization="none",
                            missing="zero")
    _assert_close(ours, theirs)


def test_same_as_pyserini_rrf_from_run_files(random_runs, tmp_path):
    """pyserini's RRF reads ranks from the run file's rank column; ours ranks by score. Through
    write_trec_run the two agree, a query present in one run only included."""
    from pyserini import fusion as pf
    from pyserini.trectools import TrecRun

    runs = {"bm25": dict(random_runs["bm25"]), "dense": dict(random_runs["dense"])}
    runs["bm25"]["q99"] = {"lonely": 3.0, "other": 2.0}
    paths = [write_trec_run(runs[side], tmp_path / f"{side}.trec") for side in runs]
    theirs = _from_trec_run(pf.reciprocal_rank_fusion([TrecRun(str(p)) for p in paths], rrf_k=60))
    ours = fusion.fuse_runs(runs, "rrf")
    _assert_close(ours, theirs)
    assert ours["q99"] == approx({"lonely": 1 / 61, "other": 1 / 62})


def test_same_as_pyserini_hybrid_searcher(random_runs):
    """The pyserini mode against HybridSearcher._hybrid_results itself, fed hit objects like its searchers'."""
    from gaia_lite.java import start_jvm

    start_jvm()  # pyserini.search would otherwise configure the JVM itself
    from pyserini.search.faiss import DenseSearchResult
    from pyserini.search.hybrid import HybridSearcher

    def hits(scores):
        return [DenseSearchResult(d, s) for d, s in sorted(scores.items(), key=lambda x: -x[1])]

    queries = [(random_runs["bm25"][q], random_runs["dense"][q]) for q in sorted(random_runs["bm25"])[:8]]
    queries += [(PYS["bm25"], PYS["dense"]), (PYS["bm25"], {}), ({}, PYS["dense"]), ({}, {})]
    configs = [
        dict(alpha=0.1, normalization=False, weight_on_dense=False, k=10),  # HybridSearcher's defaults
        dict(alpha=0.1, normalization=False, weight_on_dense=False, k=1000),
        dict(alpha=0.5, normalization=True, weight_on_dense=False, k=1000),
        dict(alpha=2.0, normalization=True, weight_on_dense=True, k=25),
        dict(alpha=0.3, normalization=False, weight_on_dense=True, k=7),
    ]
    checked = ties = 0
    for sparse, dense in queries:
        for c in configs:
            theirs = HybridSearcher._hybrid_results(hits(dense), hits(sparse), c["alpha"], c["k"],
                                                    c["normalization"], c["weight_on_dense"])
            ours = fusion.pyserini({"bm25": sparse, "dense": dense}, **c)
            assert list(ours.values()) == [h.score for h in theirs]  # the same scores, exactly, in order
            # Documents in the same order but for exact ties, which HybridSearcher leaves in set order (it
            # varies with PYTHONHASHSEED) and we order by doc id: ours is all of its scores ranked our way, cut at k.
            everything = HybridSearcher._hybrid_results(hits(dense), hits(sparse), c["alpha"], 10**6,
                                                        c["normalization"], c["weight_on_dense"])
            assert list(ours.items()) == ranked({h.docid: h.score for h in everything})[:c["k"]]
            ties += len(ours) - len(set(ours.values()))
            checked += len(theirs)
    assert checked > 1000
    # Pyserini's min fill ties a side's lowest document missing from the other side with the other side's
    # lowest document missing from this one: both score (min sparse, min dense). The data hold such ties.
    assert ties > 0
