"""bench_scale's part 3, approximate dense search: HNSW, IVF and IVF-PQ indexes built with FAISS as gaia_lite builds
them, from the flat index's stored vectors (and from noisy copies of them, to a million), each search setting
measured for recall@10 against exact search, single-thread queries/s, size and build time."""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path
from time import perf_counter as perf

from _common import OtherLoad, log, timed
from _corpora import SCALE_TIMINGS, Timings
from _queries import first_sentences

K = 10
HNSW_EF = (32, 64, 128, 256)
IVF_PROBES = (8, 16, 32, 64)
RECALL_TARGET, SPEEDUP_TARGET = 0.95, 5.0
TIE_TOLERANCE = 1e-5  # a hit scoring within this of the exact k-th score counts as found


def ground_truth(vectors, queries, k: int = K, chunk: int = 32):
    """Exact top-``k`` rows by inner product (numpy, not FAISS) and each query's exact k-th score."""
    import numpy as np

    ids = np.empty((len(queries), k), dtype=np.int64)
    kth = np.empty(len(queries), dtype=np.float32)
    for start in range(0, len(queries), chunk):
        scores = queries[start:start + chunk] @ vectors.T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1)
        ids[start:start + chunk] = np.take_along_axis(top, order, axis=1)
        kth[start:start + chunk] = top_scores.min(axis=1)
    return ids, kth


def build_faiss(kind: str, vectors, config=None):
    """A FAISS index of ``kind`` over ``vectors`` as gaia_lite builds one (``gaia_lite/dense/index.py``): HNSW
    with ``hnsw_m``/``hnsw_ef_construction``; IVF lists ``ivf_lists(n)`` trained on <= ``IVF_TRAINING`` evenly
    spaced vectors; IVF-PQ with ``pq_m`` codes of ``pq_bits(n)`` bits; inner product."""
    from gaia_lite.dense.index import empty_faiss_index, training_rows

    n, dim = vectors.shape
    index = empty_faiss_index(kind, dim, n, config)
    if not index.is_trained:
        rows = training_rows(n)
        index.train(vectors[rows.start:rows.stop:rows.step])
    for start in range(0, n, 10_000):
        index.add(vectors[start:start + 10_000])
    return index


def index_params(kind: str, n: int) -> dict:
    from gaia_lite.config import DenseConfig
    from gaia_lite.dense.index import IVF_TRAINING, ivf_lists, pq_bits
    from gaia_lite.dense.searcher import REFINE

    c = DenseConfig()
    return {"flat": {}, "hnsw": {"m": c.hnsw_m, "ef_construction": c.hnsw_ef_construction},
            "ivf": {"lists": ivf_lists(n, c), "training_vectors": min(n, IVF_TRAINING)},
            "ivfpq": {"lists": ivf_lists(n, c), "training_vectors": min(n, IVF_TRAINING), "pq_m": c.pq_m,
                      "bits": pq_bits(n), "refine": f"exact re-scoring of {REFINE}k candidates"}}[kind]


def settings_of(kind: str) -> list[tuple[str, int | None, bool]]:
    """(label, value, whether it is gaia_lite's default) of each search setting swept for ``kind``."""
    from gaia_lite.config import DenseConfig

    c = DenseConfig()
    if kind == "flat":
        return [("exact", None, True)]
    if kind == "hnsw":
        return [(f"efSearch={ef}", ef, ef == c.ef_search) for ef in HNSW_EF]
    return [(f"nprobe={p}", p, p == c.ivf_probe) for p in IVF_PROBES]


def apply_setting(index, kind: str, value) -> None:
    if kind == "hnsw":
        index.hnsw.efSearch = value
    elif kind in ("ivf", "ivfpq"):
        index.nprobe = value


def search(index, vectors, queries, k: int, refine: int):
    """Top-``k`` rows of each query; with ``refine``, ``refine * k`` candidates re-scored exactly from
    ``vectors`` (as gaia_lite's ``DenseSearcher`` does for IVF-PQ). Rows -1 where fewer were found."""
    import numpy as np

    wanted = min(k * refine, len(vectors)) if refine else k
    _, found = index.search(queries, wanted)
    if not refine:
        return found
    exact = np.einsum("qcd,qd->qc", vectors[np.maximum(found, 0)], queries)
    exact[found < 0] = -np.inf
    best = np.argsort(-exact, axis=1, kind="stable")[:, :k]
    return np.where(np.take_along_axis(exact, best, axis=1) > -np.inf, np.take_along_axis(found, best, axis=1), -1)


def recall_at_k(vectors, queries, found, truth, kth, k: int = K) -> tuple[float, float]:
    """(recall@k with ties counted: hits scoring at least the exact k-th score, minus :data:`TIE_TOLERANCE`;
    recall@k of the ids themselves), averaged over the queries."""
    import numpy as np

    found = found[:, :k]
    scores = np.einsum("qcd,qd->qc", vectors[np.maximum(found, 0)], queries)
    good = (found >= 0) & (scores >= kth[:, None] - TIE_TOLERANCE)
    same = [len(set(f[f >= 0].tolist()) & set(t.tolist())) for f, t in zip(found, truth)]
    return float(good.sum(axis=1).mean() / k), float(np.mean(same) / k)


def single_thread_qps(index, vectors, queries, k: int, refine: int, max_seconds: float, warmup: int = 20) -> dict:
    """Queries/s one query at a time on one FAISS thread (the re-scoring included), over the queries in order
    until all are done or ``max_seconds`` passed (at least 20 queries)."""
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        for i in range(min(warmup, len(queries))):
            search(index, vectors, queries[i:i + 1], k, refine)
        done, t0 = 0, perf()
        with OtherLoad(tree=True) as load:
            while done < len(queries) and (perf() - t0 < max_seconds or done < 20):
                search(index, vectors, queries[done:done + 1], k, refine)
                done += 1
            elapsed = perf() - t0
    finally:
        faiss.omp_set_num_threads(threads)
    return {"qps": done / elapsed, "ms_mean": 1000 * elapsed / done, "timed_queries": done,
            "others": round(load.cores, 2)}


def index_bytes(index, folder: Path) -> int:
    """The size of the index as FAISS serializes it (written to a file, measured, removed)."""
    import faiss

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "index.faiss"
    faiss.write_index(index, str(path))
    size = path.stat().st_size
    path.unlink()
    return size


def faiss_threads(threads: int | None, fn):
    """``fn()`` with FAISS's OpenMP threads set to ``threads`` (None: as they are), restored after."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads or before)
    try:
        return fn(), faiss.omp_get_max_threads()
    finally:
        faiss.omp_set_num_threads(before)


def sweep_index(kind: str, vectors, queries, truth, kth, folder: Path, max_seconds: float,
                build_threads: int | None = None) -> list[dict]:
    """Build one index of ``kind`` (on ``build_threads`` FAISS threads; None: FAISS's default, as gaia_lite)
    and measure each of its search settings."""
    from gaia_lite.dense.searcher import REFINE

    log(f"[ann] {len(vectors):,} vectors: building {kind}")
    (index, threads), build_s, build_others = timed(
        lambda: faiss_threads(build_threads, lambda: build_faiss(kind, vectors)), tree=True)
    size = index_bytes(index, folder)
    refine = REFINE if kind == "ivfpq" else 0
    rows = []
    for label, value, default in settings_of(kind):
        apply_setting(index, kind, value)
        tie, ids = recall_at_k(vectors, queries, search(index, vectors, queries, K, refine), truth, kth)
        speed = single_thread_qps(index, vectors, queries, K, refine, max_seconds)
        rows.append({"index": kind, "setting": label, "gaia_lite_default": default, "params": index_params(
            kind, len(vectors)), "build_s": build_s, "build_threads": threads,
            "build_others": build_others, "bytes": size, "bytes_per_vector": size / len(vectors),
            "recall@10": tie, "recall@10_ids": ids, **speed})
    del index
    return rows


def ann_sweep(vectors, queries, folder: Path, *, max_seconds: float = 20.0, kinds=("flat", "hnsw", "ivf", "ivfpq"),
              build_threads: int | None = None) -> dict:
    """Every index kind and search setting over ``vectors`` (rows L2-normalized) for ``queries``: recall@10
    against exact search, single-thread queries/s, size, build time; ``target_met`` where recall@10 >= 0.95
    at >= 5x the flat index's queries/s."""
    import numpy as np

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    log(f"[ann] {len(vectors):,} vectors: exact top-{K} of {len(queries):,} queries (numpy)")
    (truth, kth), truth_s, _ = timed(lambda: ground_truth(vectors, queries), tree=True)
    rows = [row for kind in kinds
            for row in sweep_index(kind, vectors, queries, truth, kth, folder, max_seconds, build_threads)]
    flat_qps = next(r["qps"] for r in rows if r["index"] == "flat")
    for r in rows:
        r["speedup_over_flat"] = r["qps"] / flat_qps
        r["target_met"] = r["recall@10"] >= RECALL_TARGET and r["speedup_over_flat"] >= SPEEDUP_TARGET
    return {"vectors": len(vectors), "dim": int(vectors.shape[1]), "queries": len(queries),
            "exact_search_s": truth_s, "rows": rows}


def noisy_copies(vectors, total: int, sigma: float, seed: int) -> tuple:
    """``total`` vectors: ``vectors`` as they are, then copies of them with Gaussian noise of ``sigma`` per
    dimension, each re-normalized (L2), cut at ``total``; and a description (cosine of a copy to its original)."""
    import numpy as np

    n, dim = vectors.shape
    rng = np.random.default_rng(seed)
    out = np.empty((total, dim), dtype=np.float32)
    out[:min(n, total)] = vectors[:total]
    for start in range(n, total, n):
        stop = min(start + n, total)
        copy = vectors[:stop - start] + rng.standard_normal((stop - start, dim), dtype=np.float32) * sigma
        out[start:stop] = copy / np.linalg.norm(copy, axis=1, keepdims=True)
    cosine = np.einsum("ij,ij->i", out[n:min(total, 2 * n)], vectors[:min(n, total - n)]) if total > n else []
    return out, {"real": min(n, total), "total": total, "copies": math.ceil(total / n), "sigma": sigma,
                 "seed": seed, "cosine_copy_to_original_mean": float(np.mean(cosine)) if len(cosine) else None}


def flat_dense_index(args, root: Path, corpus) -> tuple[Path, dict]:
    """The flat dense index of ``corpus`` (built with ``build_dense_index``, or reused under ``--root``)."""
    from gaia_lite.artifacts import ArtifactMeta
    from gaia_lite.dense import build_dense_index, dense_dir

    path = dense_dir(corpus.folder)
    dtype = args.ann_dtype or args.dtype
    key = f"dense flat {dtype} {corpus.meta.fingerprint}"
    timings = Timings(root, SCALE_TIMINGS)
    if args.root is not None and (path / "gaia_lite.json").is_file() and (timing := timings.recalled(key)):
        if ArtifactMeta.read(path).fingerprint == corpus.meta.fingerprint:
            return path, timing
    log(f"[ann] encoding {len(corpus):,} documents for the flat dense index ({dtype}; the full docstrings corpus "
        "takes about 30 min in float32 on 2 idle cores, 12 in bfloat16)")
    path, seconds, others = timed(lambda: build_dense_index(corpus, dtype=dtype, log=None,
                                                            progress=sys.stderr.isatty()), tree=True)
    return path, timings.remember(key, {"docs": len(corpus), "seconds": seconds, "docs_per_s": len(corpus) / seconds,
                                        "others": others, "dtype": dtype})


def part_ann(args, root: Path, corpus) -> dict:
    """Part 3: approximate dense search on the real vectors, then on >= 1M vectors made from them."""
    import numpy as np

    from gaia_lite.config import DenseConfig
    from gaia_lite.dense import DenseSearcher

    flat, flat_build = flat_dense_index(args, root, corpus)
    texts = first_sentences(corpus, args.ann_queries, args.seed + 1)
    searcher = DenseSearcher(flat, corpus, DenseConfig(dtype=args.ann_dtype or args.dtype))
    vectors = np.array(searcher.embeddings, dtype=np.float32)  # a copy: the searcher goes
    queries = searcher.encoder.encode_queries(list(texts.values()))
    encoder = searcher.encoder.describe()
    del searcher
    folder = root / "ann"
    real = ann_sweep(vectors, queries, folder, max_seconds=args.max_seconds, build_threads=args.faiss_build_threads)
    log(f"[ann] making {args.vectors:,} vectors from the {len(vectors):,} real ones")
    big, made = noisy_copies(vectors, args.vectors, args.noise, args.seed)
    del vectors
    synthetic = ann_sweep(big, queries, folder, max_seconds=args.max_seconds, build_threads=args.faiss_build_threads)
    shutil.rmtree(folder, ignore_errors=True)
    return {"flat_build": flat_build, "encoder": encoder, "queries": {"n": len(texts), "kind": "docstring first "
            "sentences (3-40 words)", "examples": list(texts.values())[:3]}, "real": real,
            "synthetic": synthetic | {"made": made}}
