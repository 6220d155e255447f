"""bench_serve's costs for the capacity plan: what a document costs on disk (corpus Dataset, Lucene index, dense
index by FAISS type) and in build time per core, and the length of a corpus's documents; the plan in README
("Serving at scale") is these figures multiplied out.

- Lucene bytes a document: the index folder as gaia_lite builds it (positions, document vectors, the raw JSON
  stored), over the documents it holds.
- FAISS bytes a document for each index type of ``gaia_lite.registry.INDEX_TYPES``: an index made with gaia_lite's
  own factory (``gaia_lite.dense.index.empty_faiss_index``, trained on ``training_rows``) over random unit
  vectors of the model's 384 dimensions, serialized (``faiss.serialize_index``). The size a vector does not
  depend on the vectors' values; IVF's list count (4·√n) makes its per-vector overhead shrink with n.
- Build seconds a document per core: the CPU seconds (all threads of the building process, the JVM or torch
  included: ``time.process_time``) over the documents built.
"""

from __future__ import annotations

from pathlib import Path
from time import perf_counter as perf
from time import process_time

from _common import log, tree_bytes

DIM = 384  # all-MiniLM-L6-v2, gaia_lite's default model


def text_stats(corpus, rows: int | None = None) -> dict:
    """Mean words (whitespace-split) and characters of title + text over the first ``rows`` documents (all where
    None)."""
    rows = min(rows or len(corpus), len(corpus))
    docs = words = chars = 0
    for batch in corpus.dataset.select(range(rows)).select_columns(corpus.text_columns).iter(batch_size=10_000):
        titles = batch.get("title") or [""] * len(batch["id"])
        for title, text in zip(titles, batch["text"]):
            docs += 1
            words += len(title.split()) + len(text.split())
            chars += len(title) + len(text)
    return {"docs_read": docs, "mean_words": words / docs, "mean_chars": chars / docs}


def folder_costs(corpus_folder: Path, docs: int) -> dict:
    """Bytes on disk of each artifact in a (one-part) corpus folder, and a document: ``dataset``, ``sparse-*``,
    ``dense-*`` (with its ``index`` and ``embeddings`` apart)."""
    out = {}
    for folder in sorted(p for p in Path(corpus_folder).iterdir() if p.is_dir() and not p.name.startswith(".")):
        size = tree_bytes(folder)
        entry = {"bytes": size, "bytes_per_doc": size / docs}
        if folder.name.startswith("dense-"):
            for sub in ("index", "embeddings"):
                if (folder / sub).exists():
                    entry[f"{sub}_bytes_per_doc"] = tree_bytes(folder / sub) / docs
        out[folder.name] = entry
    return out


def parts_costs(parted) -> dict:
    """:func:`folder_costs` of each part of a parted corpus, and their sums by artifact."""
    each = [folder_costs(part.folder, len(part)) for part in parted.parts]
    docs = len(parted)
    total = {name: sum(e[name]["bytes"] for e in each if name in e) for name in each[0]}
    return {"each": each, "total": {name: {"bytes": b, "bytes_per_doc": b / docs} for name, b in total.items()}}


def faiss_costs(n: int, seed: int, kinds=("flat", "hnsw", "ivf", "ivfpq")) -> dict:
    """Each FAISS index type made by gaia_lite's factory over ``n`` random unit vectors: serialized bytes a
    vector, build seconds (train + add) and CPU seconds a vector (FAISS's threads included)."""
    import faiss
    import numpy as np

    from gaia_lite.dense.index import empty_faiss_index, training_rows

    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    out = {}
    for kind in kinds:
        log(f"[faiss] {kind} over {n:,} random vectors")
        t, c = perf(), process_time()
        index = empty_faiss_index(kind, DIM, n)
        if not index.is_trained:
            rows = training_rows(n)
            index.train(vectors[rows.start:rows.stop:rows.step])
        for start in range(0, n, 10_000):
            index.add(vectors[start:start + 10_000])
        seconds, cpu = perf() - t, process_time() - c
        size = int(faiss.serialize_index(index).size)
        out[kind] = {"vectors": n, "bytes": size, "bytes_per_vector": size / n, "build_s": seconds,
                     "cpu_s_per_1k_vectors": 1000 * cpu / n, "faiss_threads": faiss.omp_get_max_threads()}
        del index
    return out


class CpuClock:
    """Wall and CPU seconds of this process (every thread) over a block: ``with CpuClock() as c: ...; c.cpu_s``."""

    def __enter__(self):
        self.t, self.c = perf(), process_time()
        return self

    def __exit__(self, *exc):
        self.wall_s, self.cpu_s = perf() - self.t, process_time() - self.c


def build_rates(docs: int, wall_s: float, cpu_s: float) -> dict:
    """Documents a second, and a CPU-second (per core), of a build of ``docs`` documents."""
    return {"docs": docs, "seconds": wall_s, "cpu_s": cpu_s, "docs_per_s": docs / wall_s,
            "docs_per_cpu_s": docs / cpu_s if cpu_s else None, "cores_used": cpu_s / wall_s if wall_s else None}
