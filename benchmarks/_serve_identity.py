"""bench_serve's first part: SciFact as one index and as 3 parts, all 300 test queries at k=1000, BM25, dense and the
default hybrid; the same ids and scores, and the same nDCG@10, in process and through the served front.

Both corpora are built under the benchmark's root from the BEIR folder (``build_corpus(..., parts=3)`` for the
parted one), each indexed by gaia_lite's own builds (``build_sparse_index``, ``build_dense_index`` with
``dtype=float32``, as the SciFact configs encode), which index a parted corpus part by part. A run's answers are
compared query by query: the same ids in the same order, and the largest |score difference| over the documents
both return. nDCG@10 is ``gaia_lite.evaluate.evaluate_run`` (ir_measures) on the run without each query's own id,
as ``make experiments`` scores SciFact.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from _common import log
from _corpora import Timings
from _queries import scifact_topics
from _serve_costs import CpuClock, build_rates, folder_costs, parts_costs, text_stats
from _serve_recall import approximate_recall

K = 1000
KINDS = ("bm25", "dense", "hybrid")
DTYPE = "float32"


def built_corpus(scifact: Path, root: Path, name: str, parts: int | None, reuse: bool) -> tuple:
    """SciFact's corpus ``name`` under ``root`` (in ``parts`` parts where given), built or reused; the build's
    timing (None where reused)."""
    from gaia_lite.corpus import Corpus, Source, build_corpus
    from gaia_lite.errors import MissingArtifactError

    if reuse:
        with contextlib.suppress(MissingArtifactError):
            corpus = Corpus.load(name, root=root, verify=False)
            if len(getattr(corpus, "parts", [corpus])) == (parts or 1):
                return corpus, None
    with CpuClock() as clock:
        corpus, _ = build_corpus(Source(str(scifact.resolve()), format="beir"), name, root=root, parts=parts,
                                 progress=False)
    return corpus, build_rates(len(corpus), clock.wall_s, clock.cpu_s)


def built_indexes(corpus, reuse: bool, timings: Timings) -> dict:
    """The corpus's Lucene (flat fields) and dense (float32, flat) indexes, built where missing (or always
    without ``reuse``); each build's rates, in this process (where reused: those ``timings`` recorded, or None)."""
    from gaia_lite.dense import build_dense_index
    from gaia_lite.sparse import build_sparse_index

    out = {}
    for side, build, options in (("sparse", build_sparse_index, {}), ("dense", build_dense_index, {"dtype": DTYPE})):
        first = getattr(corpus, "parts", [corpus])[0]
        built = any(name.startswith(side + "-") for name in first.artifacts(side))
        key = f"{side} {corpus.name} {corpus.meta.fingerprint}"
        if reuse and built:
            out[side] = timings.recalled(key)
            continue
        log(f"[scifact] {side} index of {corpus.name} ({len(corpus):,} documents)")
        with CpuClock() as clock:
            build(corpus, progress=False, log=None, **options)
        out[side] = timings.remember(key, build_rates(len(corpus), clock.wall_s, clock.cpu_s))
    return out


def compare(one: dict, other: dict) -> dict:
    """How far run ``other`` is from run ``one`` (``{qid: {doc_id: score}}`` in rank order), query by query."""
    same = max_diff = same_sets = 0.0
    differing, first_rank = [], None
    for qid, hits in one.items():
        theirs = other.get(qid, {})
        if list(hits) == list(theirs):
            same += 1
        else:
            differing.append(qid)
            same_sets += hits.keys() == theirs.keys()
            rank = next((i for i, (a, b) in enumerate(zip(hits, theirs), start=1) if a != b), None)
            first_rank = rank if first_rank is None or (rank or 0) < first_rank else first_rank
        common = hits.keys() & theirs.keys()
        if common:
            max_diff = max(max_diff, max(abs(hits[d] - theirs[d]) for d in common))
    return {"queries": len(one), "identical_ids": int(same), "differing": differing[:10],
            "differing_same_ids": int(same_sets), "first_differing_rank": first_rank,
            "max_abs_score_diff": max_diff, "hits": sum(map(len, one.values())),
            "other_hits": sum(map(len, other.values()))}


def ndcg10(run: dict, qrels: dict) -> float:
    from gaia_lite.evaluate import evaluate_run, remove_query_ids

    return evaluate_run(remove_query_ids(run), qrels, ["nDCG@10"])["nDCG@10"]


def in_process_runs(corpus, topics: dict) -> dict:
    """BM25, dense and default-hybrid runs at k=1000 over ``corpus`` (one index or parts) in this process:
    one :func:`~gaia_lite.retriever.open_searcher` hybrid searcher, its sides searched alone for BM25 and dense."""
    from gaia_lite.retriever import open_searcher

    hybrid = open_searcher(corpus, kind="hybrid", progress=False, log=lambda *_: None)
    runs = {}
    for kind, searcher in (("bm25", hybrid.bm25), ("dense", hybrid.dense), ("hybrid", hybrid)):
        with CpuClock() as clock:
            runs[kind] = searcher.search_batch(topics, k=K)
        runs[kind + "_s"] = clock.wall_s
    with contextlib.suppress(AttributeError):
        hybrid.bm25.close()
    return runs


def part_scifact(args, root: Path, served=None) -> dict:
    """SciFact in one index and in 3 parts: builds, the comparisons in process, and through ``served`` (a
    function ``(parted corpus, topics, kinds, k) -> {kind: run}`` over the served front; None where
    gaia_lite.serve is not there)."""
    reuse = args.root is not None
    topics, qrels = scifact_topics(args.scifact)
    one, one_build = built_corpus(args.scifact, root, "scifact", None, reuse)
    parted, parted_build = built_corpus(args.scifact, root, f"scifact-p{args.scifact_parts}",
                                        args.scifact_parts, reuse)
    timings = Timings(root, "serve-timings.json")
    builds = {"one": {"corpus": one_build, **built_indexes(one, reuse, timings)},
              "parts": {"corpus": parted_build, **built_indexes(parted, reuse, timings)}}
    log(f"[scifact] {len(topics)} test queries at k={K}: one index, then {args.scifact_parts} parts, in process")
    runs_one, runs_parts = in_process_runs(one, topics), in_process_runs(parted, topics)
    rows = []
    for kind in KINDS:
        row = {"kind": kind, "one_ndcg10": ndcg10(runs_one[kind], qrels),
               "parts_ndcg10": ndcg10(runs_parts[kind], qrels),
               "in_process": compare(runs_one[kind], runs_parts[kind]),
               "one_s": runs_one[kind + "_s"], "parts_s": runs_parts[kind + "_s"]}
        rows.append(row)
    log(f"[scifact] approximate dense indexes, one a part: recall against exact search")
    from gaia_lite.config import DenseConfig, RetrieverConfig
    from gaia_lite.retriever import open_searcher

    dense = open_searcher(parted, RetrieverConfig(kind="dense", dense=DenseConfig(dtype=DTYPE)), progress=False)
    recall = approximate_recall(dense, list(topics.values()))
    served_facts = {"skipped": "gaia_lite.serve is not in this checkout"}
    if served is not None:
        log(f"[scifact] the same {len(topics)} queries through the served front")
        served_runs, served_facts = served(parted, topics, KINDS, K)
        for row in rows:
            run = served_runs[row["kind"]]
            row["served"] = compare(runs_one[row["kind"]], run)
            row["served_ndcg10"] = ndcg10(run, qrels)
            row["served_s"] = served_runs[row["kind"] + "_s"]
    return {"docs": len(one), "parts": len(parted.parts), "part_docs": [len(p) for p in parted.parts],
            "queries": len(topics), "k": K, "dtype": DTYPE, "builds": builds, "rows": rows, "served": served_facts,
            "recall": recall,
            "text": text_stats(one), "disk_one": folder_costs(one.folder, len(one)),
            "disk_parts": parts_costs(parted)}
