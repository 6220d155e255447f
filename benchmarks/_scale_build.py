"""bench_scale's part 1, build throughput: Lucene and encoding, unsharded in this process, on local worker processes
and on a Ray cluster started on this machine; each sharded artifact checked against the unsharded one."""

from __future__ import annotations

import contextlib
import json
import math
import random
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter as perf

from _common import log, timed
from _queries import first_sentences

WORKERS = 2  # local worker processes, and Ray nodes of one CPU each
SHARDS = 4  # shards of a sharded build
VECTOR_TOLERANCE = 1e-5  # sharded and unsharded vectors agree within this (README: "within 1e-5")


@dataclass
class Place:
    """Where a build runs: a name, an executor, its workers (the efficiency's divisor), the shard size."""

    name: str
    executor: object
    workers: int
    shard_size: int


def sharded_size(docs: int) -> int:
    """The shard size that makes :data:`SHARDS` shards."""
    return max(1, math.ceil(docs / SHARDS))


def local_places(docs: int, workers: int = WORKERS) -> list[Place]:
    """Unsharded in this process, and sharded on ``workers`` local processes."""
    from gaia_lite.executors import LocalExecutor

    return [Place("unsharded, in process", LocalExecutor(1), 1, docs),
            Place(f"{workers} local processes", LocalExecutor(workers), workers, sharded_size(docs))]


def ray_place(address: str, docs: int, nodes: int = WORKERS) -> Place:
    from gaia_lite.executors import RayExecutor

    return Place(f"Ray, {nodes} nodes", RayExecutor(address), nodes, sharded_size(docs))


class ShardsDone:
    """Watches a build's ``BuildProgress`` from a thread: ``seconds`` from entering until every shard was
    finished (what follows is the combining: Lucene's merge, or gathering the vectors and FAISS)."""

    def __init__(self, tracker, every: float = 0.02):
        self.tracker, self.every, self.seconds = tracker, every, None
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)

    def watch(self) -> None:
        while not self.stop_event.is_set():
            if self.tracker.shards and self.tracker.shards_done >= self.tracker.shards:
                self.seconds = perf() - self.t0
                return
            self.stop_event.wait(self.every)

    def __enter__(self):
        self.t0 = perf()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join()
        if self.seconds is None:
            self.seconds = perf() - self.t0


def build_once(kind: str, corpus, place: Place, out: Path, dtype: str) -> dict:
    """Build the ``kind`` (sparse | dense) index of ``corpus`` at ``place`` into ``out`` (removed first), timed."""
    from gaia_lite.artifacts import ArtifactMeta
    from gaia_lite.dense import build_dense_index
    from gaia_lite.shards import BuildProgress
    from gaia_lite.sparse import build_sparse_index

    shutil.rmtree(out, ignore_errors=True)
    tracker = BuildProgress()
    options = {"out": out, "shard_size": place.shard_size, "executor": place.executor, "progress": False,
               "log": None, "tracker": tracker, "workdir": out.parent / "work"}
    if kind == "sparse":
        build = lambda: build_sparse_index(corpus, **options)  # noqa: E731
    else:
        build = lambda: build_dense_index(corpus, dtype=dtype, **options)  # noqa: E731
    with ShardsDone(tracker) as watch:
        path, seconds, others = timed(build, tree=True)
    shards = ArtifactMeta.read(path).params["shards"]
    return {"kind": kind, "place": place.name, "workers": place.workers, "docs": len(corpus),
            "shard_size": place.shard_size, "shards": len(shards), "nodes": len({s["node"] for s in shards}),
            "seconds": seconds, "docs_per_s": len(corpus) / seconds, "shards_s": min(watch.seconds, seconds),
            "combine_s": max(0.0, seconds - watch.seconds), "others": others, "path": str(path)}


def same_sparse(base, other, corpus, queries: dict[str, str], k: int = 100) -> dict:
    """Whether two Lucene indexes give the same top-``k`` ids, in the same order, with the same scores."""
    from gaia_lite.sparse import BM25Searcher

    with BM25Searcher(base, corpus) as a, BM25Searcher(other, corpus) as b:
        run_a, run_b = a.search_batch(queries, k), b.search_batch(queries, k)
    differing = sum(list(run_a[q]) != list(run_b[q]) for q in queries)
    delta = max((abs(s - run_b[q][d]) for q in queries for d, s in run_a[q].items() if d in run_b[q]), default=0.0)
    return {"check": f"BM25 top-{k} of {len(queries)} queries", "queries_differing": differing,
            "max_score_delta": delta, "hits": sum(map(len, run_a.values())), "same": differing == 0 and delta == 0}


def stored_vectors(index_dir) -> tuple[list[str], object]:
    """The ids and exact vectors a dense index stores (its ``embeddings`` Dataset), in corpus order."""
    import datasets
    import numpy as np

    from gaia_lite.dense.index import EMBEDDINGS_DIR

    table = datasets.load_from_disk(str(Path(index_dir) / EMBEDDINGS_DIR)).data
    column = table.column("embedding")
    vectors = np.concatenate([c.flatten().to_numpy().reshape(len(c), -1) for c in column.chunks if len(c)])
    return table.column("id").to_pylist(), vectors.astype(np.float32, copy=False)


def same_dense(base, other) -> dict:
    """Whether two dense indexes hold the same ids and vectors (within :data:`VECTOR_TOLERANCE`)."""
    import numpy as np

    ids_a, va = stored_vectors(base)
    ids_b, vb = stored_vectors(other)
    delta = float(np.abs(va - vb).max()) if ids_a == ids_b else float("inf")
    return {"check": f"ids and max |delta| of {len(ids_a):,} vectors", "same_ids": ids_a == ids_b,
            "max_abs_delta": delta, "same": ids_a == ids_b and delta <= VECTOR_TOLERANCE}


def throughput(kind: str, corpus, places: list[Place], folder: Path, *, queries=None, dtype: str = "float32",
               base: dict | None = None) -> list[dict]:
    """Build ``kind`` of ``corpus`` at each of ``places`` into ``folder``; each row compared with the reference
    (``base``, a row of an earlier call, else the first place): speed-up, parallel efficiency (speed-up /
    workers) and whether its artifact equals the reference's (BM25 hits of ``queries``, or the vectors)."""
    rows: list[dict] = []
    for place in places:
        log(f"[build] {kind}, {len(corpus):,} docs, {place.name}, shards of {place.shard_size:,}")
        row = build_once(kind, corpus, place, folder / re.sub(r"\W+", "-", f"{kind} {place.name}"), dtype)
        ref = base or (rows[0] if rows else row)
        row["speedup"] = ref["seconds"] / row["seconds"]
        row["efficiency"] = row["speedup"] / row["workers"]
        if row is not ref:
            row["same"] = (same_sparse(ref["path"], row["path"], corpus, queries) if kind == "sparse"
                           else same_dense(ref["path"], row["path"]))
        rows.append(row)
    return rows


@contextlib.contextmanager
def ray_cluster(nodes: int = WORKERS):
    """A Ray cluster on this machine, started here: a head and ``nodes - 1`` more nodes, one CPU each (no
    dashboard, a small object store); yields its address and facts (start and connect seconds)."""
    from ray.cluster_utils import Cluster

    from gaia_lite.executors import RayExecutor

    node = {"num_cpus": 1, "object_store_memory": 256 * 2**20}
    t = perf()
    cluster = Cluster(initialize_head=True, head_node_args=node | {"include_dashboard": False})
    try:
        for _ in range(nodes - 1):
            cluster.add_node(**node)
        cluster.wait_for_nodes()
        facts = {"nodes": nodes, "cpus_per_node": 1, "start_s": perf() - t}
        t = perf()
        RayExecutor(cluster.address).connect()
        facts["connect_s"] = perf() - t
        yield cluster.address, facts
    finally:
        RayExecutor.disconnect()  # not ray.shutdown(): the JVM in this process keeps its signal handlers
        cluster.shutdown()


def sample_corpus(corpus, n: int, seed: int, root: Path):
    """A corpus of ``n`` seeded documents of ``corpus`` (id, title, text), in row order."""
    from gaia_lite.corpus import build_corpus

    rows = sorted(random.Random(seed).sample(range(len(corpus)), min(n, len(corpus))))
    path = root / f"{corpus.name}-sample.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for r in corpus.dataset.select(rows).select_columns(corpus.text_columns):
            f.write(json.dumps({"_id": r["id"], "title": r.get("title") or "", "text": r["text"]}) + "\n")
    sample, _ = build_corpus(str(path), f"{corpus.name}-sample", root=root, progress=False)
    path.unlink()
    return sample


def part_build(args, root: Path, corpus, corpus_build: dict) -> dict:
    """Part 1: Lucene and encoding throughput, unsharded, on local workers and on a 2-node Ray cluster."""
    log(f"[build] encode sample: {args.encode_docs:,} seeded documents")
    sample = sample_corpus(corpus, args.encode_docs, args.seed, root)
    queries = first_sentences(corpus, args.check_queries, args.seed)
    folder = root / "throughput"
    rows = throughput("sparse", corpus, local_places(len(corpus)), folder, queries=queries)
    rows += throughput("dense", sample, local_places(len(sample)), folder, dtype=args.dtype)
    ray_facts: dict = {"skipped": "--no-ray"}
    if args.ray:
        try:
            import ray  # noqa: F401
        except ImportError:
            ray_facts = {"skipped": "Ray is not installed (pip install gaia-lite[ray])"}
        else:
            log(f"[build] starting a Ray cluster of {WORKERS} nodes on this machine")
            with ray_cluster() as (address, ray_facts):
                sparse_base, dense_base = rows[0], next(r for r in rows if r["kind"] == "dense")
                rows += throughput("sparse", corpus, [ray_place(address, len(corpus))], folder, queries=queries,
                                   base=sparse_base)
                rows += throughput("dense", sample, [ray_place(address, len(sample))], folder, dtype=args.dtype,
                                   base=dense_base)
    shutil.rmtree(folder, ignore_errors=True)
    sample.remove()
    rows.sort(key=lambda r: r["kind"] != "sparse")  # Lucene rows first, then encoding
    return {"corpus": {"docs": len(corpus), "build": corpus_build}, "encode_sample": len(sample),
            "dtype": args.dtype, "check_queries": len(queries), "ray": ray_facts, "rows": rows,
            "torch_threads_note": "local workers: torch's default threads (the cores); Ray workers: 1 "
                                  "(Ray sets OMP_NUM_THREADS to a task's CPUs)"}
