"""bench_serve's second part: a corpus of at least a million documents, as one index and in 4 parts; builds, size,
memory, and BM25 latency of one index in process against the parts in process and the served front.

The corpus is bench_scale's (``_corpora.million_corpus``: the docstrings corpus, then copies of it whose words
are shuffled between documents). The parted corpus is made from its saved Dataset with
``build_corpus(save_to_disk folder, parts=4)``, and checked to hold the same documents (the same fingerprint).
BM25 only: encoding a million documents on this machine's cores takes hours, and gaia_lite has no public way to
index vectors encoded elsewhere (bench_scale's million-vector run builds FAISS indexes directly). Each Lucene
build runs in a child process that does only that, in process (no workers), its peak memory and CPU seconds taken
there; a later run with ``--root`` reuses the built indexes and reports their recorded build figures.
"""

from __future__ import annotations

import contextlib
import statistics
from pathlib import Path
from time import perf_counter as perf

from _common import OtherLoad, log, pct
from _corpora import Timings, docstrings_corpus, million_corpus
from _queries import first_sentences
from _serve_costs import folder_costs, parts_costs, text_stats

TIMINGS = "serve-timings.json"


def parted_copy(one, root: Path, parts: int, reuse: bool) -> tuple:
    """``one`` kept in ``parts`` parts as corpus ``<name>-p<parts>``, built from its saved Dataset; the build's
    seconds (None where reused)."""
    from gaia_lite.corpus import Corpus, Source, build_corpus
    from gaia_lite.errors import MissingArtifactError

    name = f"{one.name}-p{parts}"
    if reuse:
        with contextlib.suppress(MissingArtifactError):
            corpus = Corpus.load(name, root=root, verify=False)
            if len(getattr(corpus, "parts", ())) == parts and corpus.meta.fingerprint == one.meta.fingerprint:
                return corpus, None
    log(f"[million] {one.name} in {parts} parts ({name})")
    t = perf()
    corpus, _ = build_corpus(Source(str(one.folder / "dataset")), name, root=root, parts=parts, progress=False)
    seconds = perf() - t
    if corpus.meta.fingerprint != one.meta.fingerprint:
        raise RuntimeError(f"{name} does not hold the documents of {one.name}: fingerprints differ")
    return corpus, {"seconds": seconds, "docs_per_s": len(corpus) / seconds}


def sparse_built(corpus) -> bool:
    return "sparse-flat" in corpus.artifacts("sparse")


def lucene_build(run_child, corpus, timings: Timings, reuse: bool) -> dict:
    """The Lucene build of ``corpus`` (one index, or each part in turn) in a child process; recalled from
    ``timings`` where ``reuse`` and the index is there."""
    key = f"lucene {corpus.name} {corpus.meta.fingerprint}"
    if reuse and sparse_built(corpus) and (recalled := timings.recalled(key)):
        return recalled
    log(f"[million] Lucene build of {corpus.name} ({len(corpus):,} documents), in a child process")
    return timings.remember(key, run_child("sparse-build", corpus.folder))


def latency(search, queries: list[str]) -> dict:
    """ms a query, one at a time, after one untimed pass: p50, p95, mean, queries/s; CPU of other processes."""
    for q in queries:
        search(q)
    times = []
    with OtherLoad(tree=True) as load:
        for q in queries:
            t = perf()
            search(q)
            times.append(1000 * (perf() - t))
    return {"queries": len(queries), "p50_ms": pct(times, 50), "p95_ms": pct(times, 95),
            "mean_ms": statistics.mean(times), "qps": 1000 * len(times) / sum(times), "others": round(load.cores, 2)}


def in_process_latency(one, parted, queries: list[str], k: int) -> tuple[dict, dict, dict]:
    """BM25 latency at ``k`` of one index and of the parts, both in this process (``open_searcher``); and whether
    the two gave the same ids and scores for every query."""
    from gaia_lite.retriever import open_searcher

    quiet = {"progress": False, "log": lambda *_: None}
    single, parts = open_searcher(one, kind="bm25", **quiet), open_searcher(parted, kind="bm25", **quiet)
    same = sum([(h.doc_id, h.score) for h in single.search(q, k)] == [(h.doc_id, h.score) for h in parts.search(q, k)]
               for q in queries)
    one_lat = latency(lambda q: single.search(q, k), queries)
    parts_lat = latency(lambda q: parts.search(q, k), queries)
    with contextlib.suppress(AttributeError):
        single.close()
    return one_lat, parts_lat, {"queries": len(queries), "identical": int(same)}


def part_million(args, root: Path, run_child, served=None) -> dict:
    """Part 2; ``served(parted, queries, k, one_latency)`` measures the served front (None: not there)."""
    reuse = args.root is not None
    timings = Timings(root, TIMINGS)
    source, _ = docstrings_corpus(root, None, reuse)
    one, corpus_build = million_corpus(source, root, args.million, args.seed, reuse)
    parted, split = parted_copy(one, root, args.million_parts, reuse)
    if split is None:
        split = timings.recalled(f"split {parted.name}") or {"reused": True}
    else:
        split = timings.remember(f"split {parted.name}", split)
    builds = {"one": lucene_build(run_child, one, timings, reuse), "parts": lucene_build(run_child, parted, timings,
                                                                                          reuse)}
    texts = list(first_sentences(one, args.latency_queries, args.seed,
                                 rows=corpus_build["replication"]["source_docs"]).values())
    log(f"[million] BM25 latency at k={args.k}, {len(texts)} queries: one index, then {len(parted.parts)} parts, "
        "in process")
    one_lat, parts_lat, same = in_process_latency(one, parted, texts, args.k)
    log("[million] memory of one index and of one part, opened alone in a child process")
    memory = {"one": run_child("open-rss", one.folder, args.k, *texts[:50]),
              "part": run_child("open-rss", parted.parts[0].folder, args.k, *texts[:50])}
    out = {"docs": len(one), "parts": len(parted.parts), "part_docs": [len(p) for p in parted.parts],
           "corpus": corpus_build, "split": split, "builds": builds, "k": args.k,
           "latency": {"one": one_lat, "parts_in_process": parts_lat}, "in_process_same": same, "memory": memory,
           "text": text_stats(one, corpus_build["replication"]["source_docs"]),
           "disk_one": folder_costs(one.folder, len(one)), "disk_parts": parts_costs(parted),
           "queries": {"n": len(texts), "kind": "docstring first sentences of copy 0 (3-40 words)"}}
    out["served"] = {"skipped": "gaia_lite.serve is not in this checkout"}
    if served is not None:
        out["served"] = served(parted, texts, args.k, one_lat)
    return out
