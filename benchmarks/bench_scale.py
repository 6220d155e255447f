"""Scaling out: sharded and Ray build throughput, a corpus of a million documents, approximate dense search.

Run by ``make bench-scale``. Prints the tables, writes ``benchmarks/out/scale.json`` (figures + machine facts)
and ``benchmarks/out/scale_section.md`` (a section for BENCHMARKS.md, made from that JSON; ``--section-only``
remakes it). Every timed block records how many CPU cores other processes used meanwhile ("others"): the
machine's busy time minus that of this process and all its descendants (build workers, the Ray cluster this
script starts), so a figure taken while something else ran is visible as such.

What is measured (issue 10); each part can be chosen with ``--parts``:

1. ``build``: index build throughput, side by side in one run, on the default corpus (``builtin:docstrings``;
   ``--docs N`` keeps the first N). Lucene (``build_sparse_index``) on the whole corpus, and encoding
   (``build_dense_index``, all-MiniLM-L6-v2, ``--dtype``, flat) on a seeded sample of ``--encode-docs``
   documents; each (a) unsharded, in this process (one shard), (b) on 2 local worker processes
   (``LocalExecutor(2)``) and (c) on a Ray cluster of 2 nodes of one CPU each that the script starts on this
   machine (``ray.cluster_utils.Cluster``; ``RayExecutor``), (b) and (c) with 4 shards. Each build is timed
   whole, from the call to the index in place (worker start-up, the JVM or model loads, the merge or FAISS
   included); the time until the last shard finished is recorded apart (``shards_s``; the rest is combining).
   Speed-up = unsharded seconds / seconds; parallel efficiency = speed-up / 2 (workers). Each sharded or Ray
   artifact is checked against the unsharded one: BM25 top-100 ids and scores of ``--check-queries`` queries,
   and the largest difference between the dense vectors. On a 2-core machine the workers compete with the
   driver and with each other: the figures are as measured, not asserted.
2. ``million``: a corpus of at least ``--million`` documents made as ``bench_bm25.py``'s scifact-x is, from the
   docstrings corpus: copy 0 as is, then copies whose documents are all the corpus's title words (and text
   words) shuffled together and dealt back into documents of the original lengths; streamed to a JSONL file
   and saved with ``build_corpus``. Measured: the corpus build, the Lucene build with automatic shards in a
   child process that does only that (its peak resident memory, VmHWM, JVM included), the index size on disk,
   BM25 latency p50/p95 at k=10 and k=100 (``BM25Searcher.search``, one query at a time, after a warm-up pass)
   over ``--latency-queries`` docstring first sentences of copy 0, and the explorer's start in a child
   process: ``Explorer(corpus)`` (BM25 only) and one search, with the resident memory after.
3. ``ann``: approximate dense search. (a) The real vectors of the docstrings corpus: its flat dense index is
   built with ``build_dense_index`` where missing (reused under ``--root``), its exact vectors read
   (``DenseSearcher.embeddings``), and HNSW, IVF and IVF-PQ indexes built from those same vectors with FAISS
   directly, with gaia_lite's parameters (``DenseConfig`` defaults, ``gaia_lite.dense.index.ivf_lists`` and
   ``pq_bits``; gaia_lite has no public way to index vectors already encoded). (b) The same at ``--vectors``
   vectors (1,000,000): the real vectors repeated, copies 1.. with Gaussian noise (``--noise`` per dimension)
   and re-normalized. Queries: ``--ann-queries`` docstring first sentences, encoded once. For each index and
   search setting: recall@10 against exact search (numpy, ties counted: a hit scoring at least the exact
   10th score counts), queries/s one query at a time on one FAISS thread, the serialized index size (bytes
   per vector) and the build time. A setting meets the target where recall@10 >= 0.95 at >= 5x the flat
   index's queries/s.
4. ``app`` (``make demo``'s time to the first answer) is measured by hand, not here.

``--quick`` makes a short check run (a few minutes: 3,000 documents, 600 encoded, 20,000 documents and
vectors); its figures are not for BENCHMARKS.md. ``--root DIR`` keeps the corpora and the flat dense index and
reuses them in later runs (the builds that are measured always run); by default they go to a temporary folder,
removed at the end. The script uses gaia_lite's public API only (``tests/test_benchmarks.py`` checks it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common, also when imported as a module (tests)
from _common import OtherLoad, first_sentence, log, machine_basics, proc_mib, tree_bytes  # noqa: E402

perf = time.perf_counter
PARTS = ("build", "million", "ann", "app")
WORKERS = 2  # local worker processes, and Ray nodes of one CPU each
SHARDS = 4  # shards of a sharded build in part 1
K = 10
HNSW_EF = (32, 64, 128, 256)
IVF_PROBES = (8, 16, 32, 64)
RECALL_TARGET, SPEEDUP_TARGET = 0.95, 5.0
TIE_TOLERANCE = 1e-5  # a hit scoring within this of the exact k-th score counts as found
VECTOR_TOLERANCE = 1e-5  # sharded and unsharded vectors agree within this (README: "within 1e-5")
CHILD_MARK = "BENCH_SCALE_CHILD "
TIMINGS = "scale-timings.json"  # under --root: when and how long the reused artifacts took to build
# What --quick sets, unless given: a run of a few minutes that exercises every measurement.
QUICK = {"docs": 3000, "encode_docs": 600, "million": 20_000, "vectors": 20_000, "ann_queries": 300,
         "max_seconds": 3.0, "out": REPO / "benchmarks" / "out" / "quick"}


# ----------------------------------------------------------------------------------------------- helpers


def pct(values, q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def timed(fn) -> tuple:
    """(what ``fn()`` returned, its wall seconds, CPU cores that processes outside this one's tree used)."""
    with OtherLoad(tree=True) as load:
        t = perf()
        result = fn()
        seconds = perf() - t
    return result, seconds, round(load.cores, 2)


def remember(root: Path, key: str, value: dict) -> dict:
    """Keep a build's timing beside the artifacts under ``--root``, so that a later run reusing them reports it."""
    path = root / TIMINGS
    data = json.loads(path.read_text()) if path.is_file() else {}
    data[key] = value | {"measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
    path.write_text(json.dumps(data, indent=1))
    return data[key]


def recalled(root: Path, key: str) -> dict | None:
    path = root / TIMINGS
    value = json.loads(path.read_text()).get(key) if path.is_file() else None
    return None if value is None else value | {"reused": True}


def machine_facts() -> dict:
    import faiss
    import torch

    cpu = "?"
    with contextlib.suppress(OSError):
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "?")
    return {"cpu": cpu, "cores": os.cpu_count(), "cores_usable": len(os.sched_getaffinity(0)),
            "torch_threads": torch.get_num_threads(), "faiss_omp_threads": faiss.omp_get_max_threads(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            **machine_basics(REPO, ("gaia-lite", "pyserini", "faiss-cpu", "torch", "transformers", "ray",
                                    "datasets", "pyarrow", "numpy"))}


def first_sentences(corpus, n: int, seed: int, rows: int | None = None) -> dict[str, str]:
    """``n`` seeded docstring first sentences of 3 to 40 words, of the first ``rows`` documents (all where None):
    ``{"q<row>": sentence}``."""
    rows = rows or len(corpus)
    candidates: list[str] = []
    for batch in corpus.dataset.select_columns(["text"]).iter(batch_size=10_000):
        candidates.extend(first_sentence(t) for t in batch["text"][:rows - len(candidates)])
        if len(candidates) >= rows:
            break
    eligible = [i for i, q in enumerate(candidates) if 3 <= len(q.split()) <= 40]
    return {f"q{i}": candidates[i] for i in sorted(random.Random(seed).sample(eligible, min(n, len(eligible))))}


# ----------------------------------------------------------------------------------------------- corpora


def docstrings_corpus(root: Path, limit: int | None, reuse: bool):
    """The default corpus (``builtin:docstrings``, its first ``limit`` documents), built under ``root`` or reused."""
    from gaia_lite.corpus import Corpus, build_corpus
    from gaia_lite.errors import MissingArtifactError

    if reuse:
        with contextlib.suppress(MissingArtifactError):
            corpus = Corpus.load(root / "docstrings", verify=False)
            if corpus.meta.params.get("limit") == limit:
                return corpus, recalled(root, "docstrings corpus") or {"reused": True}
    log(f"[corpus] building builtin:docstrings{f' (first {limit:,})' if limit else ''} (reads every installed "
        "package's .py files; about 2 min in full)")
    corpus, seconds, others = timed(lambda: build_corpus("builtin:docstrings", "docstrings", root=root,
                                                         progress=False, limit=limit)[0])
    return corpus, remember(root, "docstrings corpus", {"docs": len(corpus), "seconds": seconds,
                                                        "others": others, "limit": limit})


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


def deal(words: list[str], ends: list[int]):
    """``words`` dealt into documents ending at ``ends`` (cumulative lengths), each joined by spaces."""
    start = 0
    for end in ends:
        yield " ".join(words[start:end])
        start = end


def replicate(corpus, path: Path, min_docs: int, seed: int) -> dict:
    """Write ``corpus`` (id, title, text) repeated until it holds >= ``min_docs`` documents, as BEIR-style JSONL,
    streaming: bench_bm25's scifact-x. Copy 0 is the corpus as is. In copy r >= 1 (ids ``<id>-r<r>``) all the
    title words of the corpus are shuffled together and dealt back into titles of the original lengths, and
    the same for the text words: each copy keeps the vocabulary, term frequencies and document lengths, with
    new mixtures. Only the words are held in memory (as numbers into a vocabulary), and only once."""
    import numpy as np

    code: dict[str, int] = {}
    ids: list[str] = []
    shapes = {"title": array("i"), "text": array("i")}
    pools = {"title": array("i"), "text": array("i")}
    with open(path, "w", encoding="utf-8") as f:
        for batch in corpus.dataset.select_columns(corpus.text_columns).iter(batch_size=10_000):
            titles = batch.get("title") or [""] * len(batch["id"])
            for doc_id, title, text in zip(batch["id"], titles, batch["text"]):
                f.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
                ids.append(doc_id)
                for field, value in (("title", title), ("text", text)):
                    words = value.split()
                    shapes[field].append(len(words))
                    pools[field].extend(code.setdefault(w, len(code)) for w in words)
        vocab = sorted(code, key=code.__getitem__)
        del code
        pools = {k: np.frombuffer(v, dtype=np.int32).copy() for k, v in pools.items()}
        ends = {k: np.cumsum(np.frombuffer(v, dtype=np.int32)).tolist() for k, v in shapes.items()}
        rng = np.random.default_rng(seed)
        copies = max(1, math.ceil(min_docs / len(ids)))
        for r in range(1, copies):
            for pool in pools.values():
                rng.shuffle(pool)
            titles, texts = (deal([vocab[i] for i in pools[k].tolist()], ends[k]) for k in ("title", "text"))
            for doc_id, title, text in zip(ids, titles, texts):
                f.write(json.dumps({"_id": f"{doc_id}-r{r}", "title": title, "text": text}) + "\n")
    return {"source_docs": len(ids), "copies": copies, "docs": copies * len(ids), "seed": seed,
            "vocabulary": len(vocab), "words": {k: int(v.size) for k, v in pools.items()}}


# ----------------------------------------------------------------------------------------------- 1. build throughput


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
        path, seconds, others = timed(build)
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


# ----------------------------------------------------------------------------------------------- 2. a million documents


def run_child(what: str, *args) -> dict:
    """Run this script as ``--child what args...`` in a fresh process; its JSON, with the process's wall time
    and the CPU that other processes used meanwhile."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", what, *map(str, args)]
    proc, wall, others = timed(lambda: subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO),
                                                      check=False))
    for line in proc.stdout.splitlines():
        if line.startswith(CHILD_MARK):
            return json.loads(line[len(CHILD_MARK):]) | {"process_wall_s": wall, "others": others}
    raise RuntimeError(f"child {what} failed ({proc.returncode}): {proc.stderr[-3000:]}")


def child_sparse_build(folder: str) -> dict:
    """In a child process: build the corpus's Lucene index with automatic shards, in process; its peak memory."""
    from gaia_lite.artifacts import ArtifactMeta
    from gaia_lite.corpus import Corpus
    from gaia_lite.sparse import build_sparse_index

    corpus = Corpus.load(folder, verify=False)
    before = proc_mib()
    t = perf()
    index = build_sparse_index(corpus, progress=False, log=None)
    seconds = perf() - t
    shards = ArtifactMeta.read(index).params["shards"]
    return {"index": str(index), "docs": len(corpus), "seconds": seconds, "docs_per_s": len(corpus) / seconds,
            "shards": len(shards), "shard_size": shards[0]["stop"] - shards[0]["start"],
            "rss_before_mib": before, "peak_rss_mib": proc_mib("VmHWM"), "rss_after_mib": proc_mib()}


def child_explorer(folder: str, query: str) -> dict:
    """In a child process: open the explorer over a corpus (BM25 only) and search once; times and memory."""
    t0 = perf()
    from gaia_lite.app import Explorer

    t1 = perf()
    explorer = Explorer(folder)
    t2 = perf()
    results = explorer.search(query)
    t3 = perf()
    return {"import_s": t1 - t0, "open_s": t2 - t1, "first_search_s": t3 - t2, "open_and_search_s": t3 - t1,
            "retrievers": list(explorer.retrievers), "hits": len(results.rows), "rss_mib": proc_mib(),
            "peak_rss_mib": proc_mib("VmHWM")}


def bm25_latency(index, corpus, queries: dict[str, str], ks=(10, 100)) -> dict:
    """BM25 ms per query, one query at a time, at each k (after one untimed pass at the largest k)."""
    from gaia_lite.sparse import BM25Searcher

    texts = list(queries.values())
    out = {}
    with BM25Searcher(index, corpus) as searcher:
        for q in texts:
            searcher.search(q, max(ks))
        for k in ks:
            times = []
            with OtherLoad(tree=True) as load:
                for q in texts:
                    t = perf()
                    searcher.search(q, k)
                    times.append(1000 * (perf() - t))
            out[str(k)] = {"queries": len(texts), "p50_ms": pct(times, 50), "p95_ms": pct(times, 95),
                           "mean_ms": statistics.mean(times), "max_ms": max(times),
                           "qps": 1000 * len(times) / sum(times), "others": round(load.cores, 2)}
    return out


def million_corpus(args, root: Path, source) -> tuple:
    """The replicated corpus of >= ``args.million`` documents (reused under ``--root`` where built alike)."""
    from gaia_lite.corpus import Corpus, build_corpus
    from gaia_lite.errors import MissingArtifactError

    name, key = "docstrings-x", f"replicated corpus {args.million} {args.seed} {source.meta.fingerprint}"
    if args.root is not None and (timing := recalled(root, key)):
        with contextlib.suppress(MissingArtifactError):
            return Corpus.load(root / name, verify=False), timing
    path = root / f"{name}.jsonl"
    log(f"[million] writing >= {args.million:,} documents from {len(source):,} ({path})")
    replication, replicate_s, others_r = timed(lambda: replicate(source, path, args.million, args.seed))
    log(f"[million] build_corpus of {replication['docs']:,} documents")
    corpus, corpus_s, others_c = timed(lambda: build_corpus(str(path), name, root=root, progress=False)[0])
    jsonl_mib = path.stat().st_size / 2**20
    path.unlink()
    return corpus, remember(root, key, {"replication": replication, "replicate_s": replicate_s,
                                        "build_corpus_s": corpus_s, "jsonl_mib": jsonl_mib,
                                        "others": max(others_r, others_c),
                                        "dataset_mib": tree_bytes(corpus.folder / "dataset") / 2**20})


def part_million(args, root: Path, source) -> dict:
    """Part 2: a corpus of a million documents: its builds, BM25 latency, the explorer's start."""
    corpus, corpus_build = million_corpus(args, root, source)
    log(f"[million] Lucene build of {len(corpus):,} documents, automatic shards, in a child process")
    lucene = run_child("sparse-build", corpus.folder)
    lucene["index_mib"] = tree_bytes(Path(lucene["index"])) / 2**20
    queries = first_sentences(corpus, args.latency_queries, args.seed, rows=corpus_build["replication"]["source_docs"])
    log(f"[million] BM25 latency, {len(queries)} queries, k=10 and k=100")
    latency = bm25_latency(lucene["index"], corpus, queries)
    log("[million] explorer start (BM25 only) in a child process")
    explorer = run_child("explorer", corpus.folder, next(iter(queries.values())))
    return {"docs": len(corpus), "corpus": corpus_build, "lucene": lucene, "latency": latency,
            "queries": {"n": len(queries), "kind": "docstring first sentences of copy 0 (3-40 words)",
                        "examples": list(queries.values())[:3]}, "explorer": explorer}


# ----------------------------------------------------------------------------------------------- 3. approximate search


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
    (index, threads), build_s, build_others = timed(lambda: faiss_threads(build_threads,
                                                                          lambda: build_faiss(kind, vectors)))
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
    (truth, kth), truth_s, _ = timed(lambda: ground_truth(vectors, queries))
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
    if args.root is not None and (path / "gaia_lite.json").is_file() and (timing := recalled(root, key)):
        if ArtifactMeta.read(path).fingerprint == corpus.meta.fingerprint:
            return path, timing
    log(f"[ann] encoding {len(corpus):,} documents for the flat dense index ({dtype}; the full docstrings corpus "
        "takes about 30 min in float32 on 2 idle cores, 12 in bfloat16)")
    path, seconds, others = timed(lambda: build_dense_index(corpus, dtype=dtype, log=None,
                                                            progress=sys.stderr.isatty()))
    return path, remember(root, key, {"docs": len(corpus), "seconds": seconds, "docs_per_s": len(corpus) / seconds,
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


# ----------------------------------------------------------------------------------------------- report


def others_note(cores: float) -> str:
    return f"{cores:.2f}"


def fmt_table(header: list[str], rows: list[list], align: str | None = None) -> str:
    """A GitHub markdown table (also readable as plain text)."""
    align = align or "l" + "r" * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---:" if a == "r" else "---" for a in align) + " |"]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def same_text(row: dict) -> str:
    same = row.get("same")
    if same is None:
        return "(reference)"
    if "max_score_delta" in same:
        return (f"{'yes' if same['same'] else 'NO'}: {same['queries_differing']} of {same['check'].split(' of ')[1]}"
                f" differ, max score delta {same['max_score_delta']:g}")
    return f"{'yes' if same['same'] else 'NO'}: max vector delta {same['max_abs_delta']:.1e}"


def build_table(part: dict) -> str:
    rows = [["Lucene" if r["kind"] == "sparse" else f"encoding ({part['dtype']})", r["place"], f"{r['docs']:,}",
             f"{r['shards']} ({r['nodes']} node{'s' * (r['nodes'] != 1)})",
             f"{r['seconds']:.1f} ({r['shards_s']:.1f} + {r['combine_s']:.1f})", f"{r['docs_per_s']:,.0f}",
             f"{r['speedup']:.2f}x", f"{r['efficiency']:.0%}", same_text(r), others_note(r["others"])]
            for r in part["rows"]]
    return fmt_table(["build", "where", "docs", "shards", "seconds (shards + rest)", "docs/s", "speed-up",
                      "efficiency", "same artifact as unsharded", "others"], rows, "llrrrrrrlr")


def million_table(part: dict) -> str:
    c, lu, ex = part["corpus"], part["lucene"], part["explorer"]
    rep = c["replication"]
    reused = f" (measured {c['measured']})" if c.get("reused") else ""
    rows = [["corpus: replicate to JSONL", f"{c['replicate_s']:.1f} s", f"{rep['copies']} copies of "
             f"{rep['source_docs']:,} docs, {c['jsonl_mib']:,.0f} MiB{reused}", others_note(c["others"])],
            ["corpus: build_corpus", f"{c['build_corpus_s']:.1f} s",
             f"{rep['docs'] / c['build_corpus_s']:,.0f} docs/s, dataset {c['dataset_mib']:,.0f} MiB{reused}", ""],
            ["Lucene build (automatic shards)", f"{lu['seconds']:.1f} s", f"{lu['docs_per_s']:,.0f} docs/s, "
             f"{lu['shards']} shards of {lu['shard_size']:,}", others_note(lu["others"])],
            ["Lucene index on disk", f"{lu['index_mib']:,.0f} MiB", f"{lu['index_mib'] * 2**20 / part['docs']:.0f} "
             "bytes/doc", ""],
            ["peak RSS of the build process", f"{lu['peak_rss_mib']:,.0f} MiB",
             f"{lu['rss_before_mib']:,.0f} MiB before the build (Python, imports)", ""]]
    for k, lat in part["latency"].items():
        rows.append([f"BM25 k={k}, {lat['queries']} queries", f"p50 {lat['p50_ms']:.1f} ms, p95 {lat['p95_ms']:.1f}"
                     " ms", f"mean {lat['mean_ms']:.1f} ms, {lat['qps']:.0f} queries/s", others_note(lat["others"])])
    rows.append(["explorer start: Explorer(corpus) + 1 search", f"{ex['open_and_search_s']:.1f} s",
                 f"open {ex['open_s']:.1f} s + search {ex['first_search_s']:.2f} s (import {ex['import_s']:.1f} s "
                 f"before); RSS after {ex['rss_mib']:,.0f} MiB, peak {ex['peak_rss_mib']:,.0f} MiB",
                 others_note(ex["others"])])
    return fmt_table([f"{part['docs']:,} documents", "figure", "details", "others"], rows, "lrlr")


def ann_table(sweep: dict) -> str:
    rows = []
    for r in sweep["rows"]:
        build = f"{r['build_s']:.1f}"
        rows.append([r["index"], r["setting"] + (" (default)" if r["gaia_lite_default"] and r["index"] != "flat"
                                                 else ""), build, f"{r['bytes'] / 2**20:,.1f}",
                     f"{r['bytes_per_vector']:,.0f}", f"{r['recall@10']:.3f}", f"{r['qps']:,.0f}",
                     f"{r['speedup_over_flat']:.1f}x", "**yes**" if r["target_met"] else "no",
                     others_note(max(r["others"], r["build_others"]))])
    return fmt_table(["index", "search setting", "build s", "MiB", "bytes/vector", "recall@10", "queries/s",
                      "vs flat", "target", "others"], rows, "llrrrrrrlr")


def print_report(out: dict) -> None:
    m = out["machine"]
    print(f"\nScaling benchmark, {out['date']}: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; "
          f"git {m['git_commit']}{' (dirty)' if m['git_dirty'] else ''}\ncommand: {out['command']}")
    parts = out["parts"]
    if "build" in parts:
        b = parts["build"]
        ray = b["ray"]
        print(f"\n== 1. build throughput ({b['corpus']['docs']:,} docs for Lucene, {b['encode_sample']:,} encoded)"
              + (f"; Ray cluster: {ray['nodes']} nodes started in {ray['start_s']:.1f} s" if "start_s" in ray
                 else f"; Ray: {ray['skipped']}"))
        print(build_table(b))
    if "million" in parts:
        print("\n== 2. a corpus of a million documents\n" + million_table(parts["million"]))
    if "ann" in parts:
        a = parts["ann"]
        for key, title in (("real", "real vectors"), ("synthetic", "real vectors + noisy copies")):
            s = a[key]
            print(f"\n== 3. approximate dense search, {title}: {s['vectors']:,} vectors, {s['queries']:,} queries")
            print(ann_table(s))
    print(f"\n(others: CPU cores other processes used during the measurement; run took {out['wall_s'] / 60:.1f} min)")


def method_lines(out: dict) -> list[str]:
    """How each part that ran was measured, a bullet each."""
    s = out["settings"]
    lines = {
        "build": "- **Build throughput.** Each build is timed whole, from the call to the index in place: worker "
        "start-up, each worker's JVM or model load, the shards, then the rest (local workers stopping, Lucene's "
        "`addIndexes` merge; gathering the vectors and FAISS), shown as \"shards + rest\". Unsharded = one shard "
        f"in this process; sharded = {SHARDS} shards on `LocalExecutor({WORKERS})` or on `RayExecutor` over a "
        f"cluster of {WORKERS} nodes of "
        "one CPU each started on this machine (`ray.cluster_utils.Cluster`; its start is not in the figures). "
        "Efficiency = speed-up / 2 workers. The machine has 2 cores: the workers compete with the driver and "
        "with each other, and local workers run torch on its default threads (2 each) while Ray gives each "
        "worker 1 (`OMP_NUM_THREADS`). Artifacts are compared with the unsharded one: BM25 top-100 ids and "
        f"scores of {s['check_queries']} queries, and the largest difference of the dense vectors.",
        "million": "- **A million documents.** bench_bm25's scifact-x recipe on the docstrings corpus (seed "
        f"{s['seed']}): copy 0 as is, then copies whose documents are the corpus's words shuffled between "
        "documents, keeping "
        "the vocabulary, term frequencies and lengths; id, title, text only. The Lucene build (`build_sparse_index`"
        " with its automatic shards, in process) runs in a child process that does only that; its peak RSS is "
        "that process's VmHWM (the JVM included). Latency: `BM25Searcher.search` one query at a time after one "
        "untimed pass. Explorer start: a fresh process times `Explorer(corpus)` (BM25 only) and one search.",
        "ann": "- **Approximate dense search.** HNSW, IVF and IVF-PQ indexes are built with FAISS from the flat "
        "index's stored vectors (gaia_lite's build encodes the corpus again; it has no public way to index stored "
        "vectors) "
        "with gaia_lite's parameters: HNSW M=32, efConstruction=200; IVF 4·√n lists trained on up to 200,000 "
        "evenly spaced vectors; IVF-PQ m=48 codes of 8 bits whose 4k candidates are re-scored exactly. Recall@10 "
        "is against exact numpy search, ties counted (a hit scoring at least the exact 10th score counts); "
        "queries/s one query at a time on one FAISS thread, over the queries in order for at most "
        f"{s['max_seconds']:g} s a setting; builds on {s['faiss_build_threads'] or 'FAISS default'} threads "
        f"(OMP_WAIT_POLICY {out['machine']['omp_wait_policy'] or 'unset'}: with OpenMP's default spinning, a "
        "build while other processes use the cores can be many times slower; IVF-PQ training of 2,000 vectors "
        "took 34 s instead of 0.5 s in a check, PASSIVE avoids it); size = FAISS's serialized index (IVF-PQ's "
        "exact re-scoring also reads the vectors, which gaia_lite memory-maps from disk). Target: recall@10 >= 0.95 "
        "at >= 5x flat's "
        f"queries/s. The {s['vectors']:,} vectors: the real ones, then copies with Gaussian noise "
        f"(sigma {s['noise']:g} a dimension) re-normalized.",
    }
    return [line for part, line in lines.items() if part in out["parts"]]


def write_section(out: dict, path: Path) -> None:
    """The section for BENCHMARKS.md, from one run's JSON."""
    m, parts = out["machine"], out["parts"]
    v = m["versions"]
    text = [f"## Scaling out (`make bench-scale`, {out['date']})", "",
            f"`{out['command']}` on {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}; "
            f"git {m['git_commit']}{' (dirty)' if m['git_dirty'] else ''}; pyserini {v['pyserini']}, faiss-cpu "
            f"{v['faiss-cpu']}, torch {v['torch']} ({m['torch_threads']} threads), ray {v['ray']}. The run took "
            f"{out['wall_s'] / 60:.0f} min. All figures: `benchmarks/out/scale.json`. \"others\": CPU cores that other"
            " processes (outside this script's process tree) used during the measurement (about 0 = undisturbed).",
            "", *method_lines(out)]
    if "build" in parts:
        b = parts["build"]
        ray = b["ray"]
        text += ["", f"### Build throughput ({b['corpus']['docs']:,} documents for Lucene, a sample of "
                 f"{b['encode_sample']:,} for encoding)", "", build_table(b), "",
                 (f"The Ray cluster ({ray['nodes']} nodes) started in {ray['start_s']:.1f} s; connecting took "
                  f"{ray['connect_s']:.1f} s." if "start_s" in ray else f"Ray: {ray['skipped']}.")]
    if "million" in parts:
        text += ["", f"### A corpus of {parts['million']['docs']:,} documents", "", million_table(parts["million"])]
    if "ann" in parts:
        a = parts["ann"]
        fb = a["flat_build"]
        made = a["synthetic"]["made"]
        text += ["", f"### Approximate dense search: the docstrings' real vectors ({a['real']['vectors']:,})", "",
                 f"Flat index ({fb['dtype']}) built with `build_dense_index` in {fb['seconds']:.0f} s "
                 f"({fb['docs_per_s']:.0f} docs/s"
                 f"{', measured ' + fb['measured'] if fb.get('reused') else ''}); {a['real']['queries']:,} queries.",
                 "", ann_table(a["real"]), "",
                 f"### Approximate dense search at {a['synthetic']['vectors']:,} vectors", "",
                 f"{made['real']:,} real vectors and {made['total'] - made['real']:,} noisy copies (mean cosine of a "
                 f"copy to its original {made['cosine_copy_to_original_mean'] or float('nan'):.3f}).", "",
                 ann_table(a["synthetic"])]
    text += ["", "`make demo`'s time to the first answer is measured by hand (not by this script)."]
    path.write_text("\n".join(text) + "\n")


# ----------------------------------------------------------------------------------------------- main


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--parts", default="build,million,ann", help=f"comma list of {', '.join(PARTS)} (app: measured by "
                                                                "hand, skipped here)")
    p.add_argument("--docs", type=int, help="use the first N docstrings (default: all, about 120,000)")
    p.add_argument("--encode-docs", type=int, default=6000, help="documents encoded in the build part")
    p.add_argument("--million", type=int, default=1_000_000, help="documents of the replicated corpus, at least")
    p.add_argument("--vectors", type=int, default=1_000_000, help="vectors of the large approximate-search run")
    p.add_argument("--noise", type=float, default=0.025, help="Gaussian noise per dimension of the copied vectors")
    p.add_argument("--dtype", choices=["float32", "bfloat16", "auto"], default="float32", help="encoding precision")
    p.add_argument("--ann-dtype", choices=["float32", "bfloat16", "auto"],
                   help="precision of the flat dense index the ann part reads its vectors from (default: --dtype; "
                        "bfloat16 encodes the full corpus in about 12 min instead of 30)")
    p.add_argument("--ann-queries", type=int, default=1000)
    p.add_argument("--latency-queries", type=int, default=300)
    p.add_argument("--check-queries", type=int, default=50, help="queries whose BM25 hits are compared")
    p.add_argument("--max-seconds", type=float, default=20.0, help="longest queries/s timing of one ann setting")
    p.add_argument("--faiss-build-threads", type=int, help="FAISS threads while building the approximate indexes "
                   "(default: FAISS's own, the cores, as gaia_lite builds)")
    p.add_argument("--no-ray", dest="ray", action="store_false", help="skip the Ray cluster builds")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--root", type=Path, help="keep corpora and the flat dense index here and reuse them "
                                             "(default: a temporary folder, removed at the end)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out", help="folder for scale.json and "
                                                                                "scale_section.md")
    p.add_argument("--quick", action="store_true", help="a short check run (a few minutes; 3,000 docs, 600 "
                   "encoded, 20,000 docs and vectors, out to benchmarks/out/quick); options given explicitly win")
    p.add_argument("--section-only", action="store_true", help="remake scale_section.md from scale.json")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:  # shrink what was not given explicitly
        p.set_defaults(**QUICK)
        args = p.parse_args(argv)
    args.parts = [x.strip() for x in args.parts.split(",") if x.strip()]
    if unknown := set(args.parts) - set(PARTS):
        p.error(f"--parts: unknown {', '.join(sorted(unknown))}; choose among {', '.join(PARTS)}")
    if args.root and args.root.resolve() == (REPO / "indexes").resolve():
        p.error("--root: build benchmark artifacts elsewhere than ./indexes")
    return args


def run_parts(args, root: Path, out: dict, save) -> None:
    needs_corpus = {"build", "million", "ann"} & set(args.parts)
    corpus, corpus_build = docstrings_corpus(root, args.docs, args.root is not None) if needs_corpus else (None, None)
    if corpus is not None:
        out["docstrings"] = {"docs": len(corpus), "build": corpus_build}
    for name, fn in (("build", lambda: part_build(args, root, corpus, corpus_build)),
                     ("million", lambda: part_million(args, root, corpus)),
                     ("ann", lambda: part_ann(args, root, corpus))):
        if name in args.parts:
            out["parts"][name] = fn()
            save()
    if "app" in args.parts:
        log("[app] make demo's time to the first answer is measured by hand: skipped")


def main(argv=None) -> int:
    args = parse(argv)
    if args.child:
        what, *rest = args.child
        result = {"sparse-build": child_sparse_build, "explorer": child_explorer}[what](*rest)
        print(CHILD_MARK + json.dumps(result), flush=True)
        return 0
    json_path, md_path = args.out / "scale.json", args.out / "scale_section.md"
    # Worker processes and Ray nodes inherit it: no "Loading weights" bar from each model load in the log.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if args.section_only:
        write_section(json.loads(json_path.read_text()), md_path)
        print(f"wrote {md_path}")
        return 0
    argv = sys.argv[1:] if argv is None else list(argv)
    python = os.path.relpath(sys.executable, REPO) if sys.executable.startswith(str(REPO)) else "python"
    out = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "argv": argv,
           "command": shlex.join([python, "benchmarks/bench_scale.py", *argv]), "machine": machine_facts(),
           "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "child"},
           "parts": {}}
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = perf()

    def save() -> None:
        out["wall_s"] = perf() - t0
        json_path.write_text(json.dumps(out, indent=1, default=str))

    root = args.root or Path(tempfile.mkdtemp(prefix="gaia-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        run_parts(args, root.resolve(), out, save)
    finally:
        if args.root is None:
            shutil.rmtree(root, ignore_errors=True)
    out["machine"]["load_average_at_end"] = os.getloadavg()
    save()
    print_report(out)
    write_section(out, md_path)
    print(f"\nwrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
