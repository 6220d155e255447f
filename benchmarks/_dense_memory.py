"""bench_dense's memory figures: the resident memory of a fresh process loading a HybridSearcher step by step
(run as ``bench_dense.py --rss-probe SPEC``), what a DenseSearcher holds, and the artifacts' sizes on disk."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from time import perf_counter as perf

from _common import child_reply, proc_mib, run_child, tree_bytes

SCRIPT = Path(__file__).resolve().with_name("bench_dense.py")
PROBE_MARK = "RSS_PROBE_JSON "

BEFORE_LOADING = "imports (torch, transformers, faiss, datasets, gaia_lite)"
AFTER_LOADING = "+ DenseSearcher (FAISS, vectors)"
TRIMMED = "  after malloc_trim(0): freed heap given back (a diagnostic)"


def load_probe(spec: dict, mark) -> tuple:
    """Load a HybridSearcher from a probe ``spec`` (corpus, sparse and dense index folders, encoder dtype, fusion
    settings) one part at a time, calling ``mark(stage)`` after each; return it and the load seconds."""
    from gaia_lite.config import EncoderConfig, FusionConfig
    from gaia_lite.corpus import Corpus
    from gaia_lite.dense import DenseSearcher, Encoder
    from gaia_lite.hybrid import HybridSearcher
    from gaia_lite.java import start_jvm
    from gaia_lite.sparse import BM25Searcher

    corpus = Corpus.load(spec["corpus"], verify=False)
    _ = corpus.ids
    mark("+ corpus opened (ids read)")
    start_jvm()
    mark("+ JVM started")
    t = perf()
    bm25 = BM25Searcher(spec["sparse"], corpus)
    bm25_s = perf() - t
    mark("+ BM25Searcher (Lucene)")
    encoder = Encoder(EncoderConfig(dtype=spec["dtype"]))
    mark("+ Encoder (model)")
    t = perf()
    dense = DenseSearcher(spec["dense"], corpus, encoder=encoder)
    dense_s = perf() - t
    mark(AFTER_LOADING)
    load_s = {"BM25Searcher": bm25_s, "DenseSearcher": dense_s}
    return HybridSearcher(bm25, dense, FusionConfig(**spec["fusion"])), load_s


def held_memory(dense) -> dict:
    """What a DenseSearcher holds: FAISS's vectors, the vectors that fill dense scores (and whether they are a
    view of FAISS's storage or a second copy), the model's parameters; MiB."""
    import faiss

    model_bytes = sum(p.numel() * p.element_size() for p in dense.encoder.model.parameters())
    try:
        flat = faiss.downcast_index(dense.index.storage) if hasattr(dense.index, "storage") else dense.index
        storage = faiss.rev_swig_ptr(flat.get_xb(), 1).__array_interface__["data"][0]
        shares = dense.embeddings.__array_interface__["data"][0] == storage
    except Exception:  # noqa: BLE001  (another index type: unknown)
        shares = None
    return {"faiss_vectors_mib": dense.index.ntotal * dense.index.d * 4 / 2**20,
            "dense_embeddings_mib": dense.embeddings.nbytes / 2**20,
            "dense_embeddings_is_faiss_storage": shares,
            "model_parameters_mib": model_bytes / 2**20}


def rss_probe(spec_file: str) -> int:
    """Child process: VmRSS before and after loading a HybridSearcher, then after queries (:func:`probe` of the
    spec in ``spec_file``). Prints JSON for :func:`run_rss_probe`."""
    stages = {"start (python + this script)": proc_mib()}
    import datasets  # noqa: F401
    import faiss  # noqa: F401
    import numpy as np  # noqa: F401
    import pyarrow  # noqa: F401
    import torch  # noqa: F401
    import transformers  # noqa: F401

    import gaia_lite.corpus  # noqa: F401  (every import before the first figure of loading)
    import gaia_lite.dense  # noqa: F401
    import gaia_lite.hybrid  # noqa: F401
    import gaia_lite.java  # noqa: F401
    import gaia_lite.sparse  # noqa: F401

    spec = json.loads(Path(spec_file).read_text())
    stages[BEFORE_LOADING] = proc_mib()
    child_reply(PROBE_MARK, probe(spec, stages))
    return 0


def probe(spec: dict, stages: dict) -> dict:
    """Load a HybridSearcher from ``spec`` and run its queries, adding VmRSS after each step to ``stages``; the
    probe's figures (run in a fresh process by :func:`rss_probe`)."""
    import ctypes

    h, load_s = load_probe(spec, lambda stage: stages.__setitem__(stage, proc_mib()))
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        stages[TRIMMED] = proc_mib()
    h.search(spec["queries"][0], k=10)
    stages["+ 1 query"] = proc_mib()
    for q in spec["queries"]:
        h.search(q, k=10)
    stages[f"+ {len(spec['queries'])} queries"] = proc_mib()
    return {"docs": len(h.corpus), "stages_mib": stages, "peak_mib": proc_mib("VmHWM"), "load_s": load_s,
            "encoder_dtype": h.dense.encoder.dtype, "held": held_memory(h.dense)}


def run_rss_probe(spec: dict, tmp: Path) -> dict:
    """:func:`probe` of ``spec`` in a fresh process (``bench_dense.py --rss-probe``; its spec file under ``tmp``)."""
    path = tmp / f"rss-probe-{Path(spec['corpus']).name}.json"
    path.write_text(json.dumps(spec))
    try:
        return run_child(SCRIPT, PROBE_MARK, "--rss-probe", path)[0]
    finally:
        path.unlink()


def loading_growth(a: dict, b: dict) -> dict:
    """From the probes of two corpora of different sizes (``a`` SciFact, ``b`` the docstrings): what loading the
    searchers added to each process's memory, and the difference scaled to 100,000 documents; the same after
    ``malloc_trim(0)`` where the probes have that figure."""
    growth = {}
    scale = 100_000 / (b["docs"] - a["docs"])
    for key, stage in (("", AFTER_LOADING), ("_after_malloc_trim", TRIMMED)):
        if stage not in a["stages_mib"]:
            continue
        loaded = {n: r["stages_mib"][stage] - r["stages_mib"][BEFORE_LOADING] for n, r in
                  (("scifact", a), ("docstrings", b))}
        growth[f"rss_added_by_loading_mib{key}"] = loaded
        growth[f"rss_per_100k_docs_mib{key}"] = (loaded["docstrings"] - loaded["scifact"]) * scale
    return growth


def artifact_sizes(parts: dict[str, Path], docs: int) -> dict:
    """The size of each artifact part on disk, MiB, and scaled to 100,000 documents."""
    out = {}
    for name, path in parts.items():
        b = tree_bytes(path)
        out[name] = {"mib": b / 2**20, "mib_per_100k_docs": b / 2**20 * 100_000 / docs}
    return out


def dense_parts(index_dir: Path) -> dict[str, Path]:
    """The parts of a dense index folder whose sizes are reported."""
    return {"dense: FAISS index": index_dir / "index", "dense: embeddings dataset": index_dir / "embeddings",
            "dense: docid": index_dir / "docid", "dense index (all)": index_dir}
