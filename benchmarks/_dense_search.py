"""bench_dense's searches: effectiveness of the bf16 index against the fp32 one, hybrid latency per fusion
setting with the split of each search into its steps, query encoding and FAISS apart, and the diagnostics
behind the reading (torch and FAISS threads, the steps of BM25 filling)."""

from __future__ import annotations

import functools
import gc
import statistics
from dataclasses import replace
from time import perf_counter as perf

from _common import OtherLoad, log, pct, rotated, step_split

METRICS = ("nDCG@10", "R@100", "R@1000")


# ----------------------------------------------------------------------------------------------- effectiveness


def evaluate(searcher, topics: dict, qrels: dict, k: int = 1000) -> tuple[dict, dict]:
    """``METRICS`` of ``searcher``'s run at depth ``k`` (hits equal to the query id removed), and the run."""
    from gaia_lite.evaluate import evaluate_run, remove_query_ids

    run = remove_query_ids(searcher.search_batch(topics, k=k))
    return evaluate_run(run, qrels, METRICS), run


def top10_agreement(a: dict, b: dict) -> dict:
    """How alike two runs' top-10 lists are: identical lists, and the mean share of ``a``'s top 10 in ``b``'s."""
    from gaia_lite.evaluate import ranked

    same_list = overlap = 0
    for qid in a:
        ta = [d for d, _ in ranked(a[qid])[:10]]
        tb = [d for d, _ in ranked(b.get(qid, {}))[:10]]
        same_list += ta == tb
        overlap += len(set(ta) & set(tb)) / max(1, len(ta))
    return {"queries": len(a), "identical_top10": same_list, "mean_top10_overlap": overlap / max(1, len(a))}


# ----------------------------------------------------------------------------------------------- latency


def fusion_settings(weighted) -> dict:
    """The timed fusion settings: gaia_lite's default, configs/scifact-hybrid-weighted.yaml (depth changed) and
    RRF k=60."""
    from gaia_lite.config import FusionConfig

    return {
        "default (weighted z-score 0.5/0.5, depth 1000)": FusionConfig(),
        "weighted, depth 100": replace(weighted, depth=100),
        "weighted, depth 1000": replace(weighted, depth=1000),
        "rrf, depth 100": FusionConfig(method="rrf", rrf_k=60, depth=100),
    }


SPLIT_PARTS = ("encode", "bm25_search", "dense_search", "fill_bm25", "fill_dense", "fusion")  # HybridSearcher.STEPS


def hybrid_split(h, texts: list[str], k: int, f) -> tuple[list[list], dict[str, list]]:
    """``h.search(q, k=k, fusion_config=f)`` for each text with a ``StepTimes`` attached to ``h``: the hits of each
    search, and one value per query for each of ``SPLIT_PARTS``, ``untimed`` (the rest of the search: making
    the HybridHits, the recorder itself), ``total`` (seconds; a step that did not run counts 0), ``filled_bm25``
    and ``filled_dense`` (documents filled in on that side)."""
    calls = step_split(h, [functools.partial(h.search, q, k=k, fusion_config=f) for q in texts])
    parts = {key: [c["steps"].get(key, 0.0) for c in calls] for key in SPLIT_PARTS}
    parts["total"] = [c["total"] for c in calls]
    parts["untimed"] = [max(0.0, c["total"] - sum(c["steps"].values())) for c in calls]
    for name in ("filled_bm25", "filled_dense"):
        parts[name] = [c["counts"].get(name, 0) for c in calls]
    return [c["result"] for c in calls], parts


def split_summary(h, texts: list[str], k: int, f) -> dict:
    """The split of ``search``'s time into its steps, from one pass with the step recorder attached."""
    gc.collect()
    with OtherLoad() as load:
        _, parts = hybrid_split(h, texts, k, f)
    keys = SPLIT_PARTS + ("untimed", "total")
    return {"split_ms_mean": {key: statistics.mean(parts[key]) * 1000 for key in keys},
            "split_ms_p50": {key: pct(parts[key], 50) * 1000 for key in keys},
            "split_ms_p95": {key: pct(parts[key], 95) * 1000 for key in keys},
            "filled_per_query_mean": {"bm25": statistics.mean(parts["filled_bm25"]),
                                      "dense": statistics.mean(parts["filled_dense"])},
            "split_other_processes_cores": round(load.cores, 2)}


def timed_passes(h, texts: list[str], settings: dict, passes: int, k: int) -> tuple[dict, dict]:
    """Seconds of each ``h.search`` per setting over ``passes`` interleaved passes (rotating order), and the CPU
    cores other processes used during each pass."""
    lat: dict = {name: [] for name in settings}
    loads: dict = {name: [] for name in settings}
    names = list(settings)
    for p in range(passes):
        for name in rotated(names, p):
            f = settings[name]
            gc.collect()
            with OtherLoad() as load:
                for q in texts:
                    t = perf()
                    h.search(q, k=k, fusion_config=f)
                    lat[name].append(perf() - t)
            loads[name].append(load.cores)
    return lat, loads


def bench_latency(h, queries: dict[str, str], settings: dict, passes: int, k: int = 10, warmup: bool = True) -> dict:
    """Per-query latency of ``h.search`` for each fusion setting (nothing attached), then the split of the same work."""
    texts = list(queries.values())
    if warmup:  # the JVM's JIT, torch's kernels, FAISS, the caches
        for f in settings.values():
            for q in texts:
                h.search(q, k=k, fusion_config=f)
    lat, loads = timed_passes(h, texts, settings, passes, k)
    out = {}
    for name, f in settings.items():
        ms = [x * 1000 for x in lat[name]]
        row = {"queries": len(texts), "passes": passes, "p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95),
               "p99_ms": pct(ms, 99), "mean_ms": statistics.mean(ms), "max_ms": max(ms),
               "p95_ms_per_pass": [pct(ms[i * len(texts):(i + 1) * len(texts)], 95) for i in range(passes)],
               "other_processes_cores_max": round(max(loads[name]), 2)}
        row |= split_summary(h, texts, k, f)
        out[name] = row
        log(f"    {name:<22} p50 {row['p50_ms']:7.2f} ms  p95 {row['p95_ms']:7.2f} ms  split(mean ms) "
            + " ".join(f"{key} {v:.2f}" for key, v in row["split_ms_mean"].items())
            + f"  (others {row['other_processes_cores_max']:.2f} cores)")
    return out


def query_encoding_parts(encoders: dict, texts: list[str]) -> dict:
    """Per query: tokenizer, model forward and whole encode_queries call, for each encoder (p50, ms)."""
    import torch

    out = {}
    for name, enc in encoders.items():
        tok, fwd, whole = [], [], []
        for q in texts:  # warm-up
            enc.encode_queries([q])
        for q in texts:
            t0 = perf()
            batch = enc.tokenizer([q], padding=True, truncation=True, max_length=enc.config.max_length,
                                  return_tensors="pt")
            t1 = perf()
            with torch.inference_mode():
                enc.model(**batch)
            t2 = perf()
            enc.encode_queries([q])
            t3 = perf()
            tok.append(t1 - t0)
            fwd.append(t2 - t1)
            whole.append(t3 - t2)
        out[name] = {"tokenize_ms_p50": pct(tok, 50) * 1000, "forward_ms_p50": pct(fwd, 50) * 1000,
                     "encode_query_ms_p50": pct(whole, 50) * 1000, "encode_query_ms_p95": pct(whole, 95) * 1000}
    return out


def faiss_only(dense, vectors, depth: int) -> dict:
    """FAISS's own search time per query (one query at a time), without gaia_lite's Hit list."""
    import numpy as np

    times = []
    for v in vectors:
        x = np.asarray(v, dtype=np.float32).reshape(1, -1)
        t = perf()
        dense.index.search(x, depth)
        times.append(perf() - t)
    return {"depth": depth, "p50_ms": pct(times, 50) * 1000, "mean_ms": statistics.mean(times) * 1000}


# ----------------------------------------------------------------------------------------------- diagnostics


def thread_contention(h, queries: dict[str, str], f, depth: int = 1000) -> dict:
    """Query encoding and FAISS search, one after the other as HybridSearcher runs them, with FAISS's default
    OpenMP threads and with one: torch and FAISS each bring their own OpenMP runtime, whose idle threads spin.
    Also the whole ``search`` (fusion ``f``) under both settings, set through ``DenseSearcher.faiss_threads``
    (which the dense searcher applies around each FAISS search). Both settings are restored after."""
    import faiss
    import torch

    enc, index = h.dense.encoder, h.dense.index
    texts = list(queries.values())
    default, searcher_threads = faiss.omp_get_max_threads(), h.dense.faiss_threads
    vectors = enc.encode_queries(texts)
    alone = []
    for q in texts:  # encoding alone, nothing in between
        t = perf()
        enc.encode_queries([q])
        alone.append(perf() - t)
    out = {"torch_threads": torch.get_num_threads(), "faiss_threads_default": default, "depth": depth,
           "encode_alone_ms_p50": pct(alone, 50) * 1000, "runs": {}}
    try:
        for threads in (default, 1):
            faiss.omp_set_num_threads(threads)
            h.dense.faiss_threads = threads
            for _ in range(2):  # the first pass warms up
                e, s = [], []
                for q in texts:
                    t0 = perf()
                    v = enc.encode_queries([q])
                    t1 = perf()
                    index.search(v, depth)
                    s.append(perf() - t1)
                    e.append(t1 - t0)
            back = []
            for v in vectors:
                t = perf()
                index.search(v.reshape(1, -1), depth)
                back.append(perf() - t)
            lat = []
            with OtherLoad() as load:
                for q in texts:
                    t = perf()
                    h.search(q, k=10, fusion_config=f)
                    lat.append(perf() - t)
            out["runs"][f"faiss threads {threads}"] = {
                "encode_ms_p50": pct(e, 50) * 1000, "faiss_ms_p50": pct(s, 50) * 1000,
                "faiss_back_to_back_ms_p50": pct(back, 50) * 1000,
                "hybrid_p50_ms": pct(lat, 50) * 1000, "hybrid_p95_ms": pct(lat, 95) * 1000,
                "other_processes_cores": round(load.cores, 2)}
    finally:
        faiss.omp_set_num_threads(default)
        h.dense.faiss_threads = searcher_threads
    return out


FILL_STEPS = {"id_filter": "id filter (TermInSetQuery of the ids, through Jackson)",
              "lucene_search": "Lucene search", "jackson_json": "Jackson (hits to JSON)",
              "json_parse": "JSON parse"}
FILL_REST = "rest (query building, id mapping)"
FILL_WHOLE = "score_documents (whole)"


def bm25_fill_parts(h, queries: dict[str, str], depth: int = 1000, warmup: bool = True) -> dict:
    """Where ``BM25Searcher.score_documents`` spends its time when filling the BM25 scores of the documents only
    the dense side retrieved (weighted fusion at ``depth``): the steps it records in an attached ``StepTimes``
    (``FILL_STEPS``), and the rest of its wall time as one figure."""
    bm = h.bm25
    work = []
    for q in queries.values():
        found = {x.doc_id for x in bm.search(q, depth)}
        vector = h.dense.encode_query(q)
        work.append((q, [x.doc_id for x in h.dense.search_vector(vector, depth) if x.doc_id not in found]))
    if warmup:
        for q, ids in work:
            bm.score_documents(q, ids)
    calls = step_split(bm, [functools.partial(bm.score_documents, q, ids) for q, ids in work])
    ms = {step: statistics.mean(c["steps"].get(step, 0.0) for c in calls) * 1000 for step in FILL_STEPS}
    whole = statistics.mean(c["total"] for c in calls) * 1000
    ms[FILL_REST] = max(0.0, whole - sum(ms.values()))
    ms[FILL_WHOLE] = whole
    return {"depth": depth, "ids_per_query_mean": statistics.mean(len(ids) for _, ids in work), "ms_mean": ms}
