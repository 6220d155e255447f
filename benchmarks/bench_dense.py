"""Dense and hybrid speed of gaia_lite: encoder throughput, bf16 effectiveness, hybrid latency, memory.

Run by ``make bench-dense`` (``python benchmarks/bench_dense.py --scifact <BEIR scifact folder>``). Prints the
tables, writes ``benchmarks/out/dense.json`` (figures + machine facts) and ``benchmarks/out/dense_section.md``
(the "Dense and hybrid" section of BENCHMARKS.md, made from that JSON; ``--section-only`` remakes it).

What is measured (one process, one machine; torch's default thread count, reported):

1. Encode throughput, documents/s, on the same texts for every system: a seeded sample of SciFact documents
   (title + " " + text, as the dense index encodes them) and of the big corpus (short docstrings).
   Systems: plain sentence-transformers in float32 (``SentenceTransformer(<model folder>).encode(texts,
   batch_size=64)``), gaia_lite's ``Encoder`` in float32, in bfloat16, and in bfloat16 through ``torch.compile``
   (``compile=True``, what builds of 20,000 documents or more use on a CPU; compiled in the warm-up, its time
   reported), ONNX Runtime int8 (the model exported, fused by ORT's transformer optimizer, dynamically quantized
   per channel; needs the ``onnx`` package, else skipped with the reason), and for reference
   sentence-transformers with its model cast to bfloat16. Every system encodes a 64-text warm-up first; then,
   in ``--encode-repeat`` rounds over the sample (sorted longest first) in calls of ``ENCODE_CALL_TEXTS`` (1,024,
   the texts a build hands the encoder at a time; the default sample of 1,000 is one call), every system makes
   each call in turn (rotating order). The ratio to sentence-transformers fp32 is its total time over the
   system's on the same calls: this machine's speed drifts by tens of percent within a minute, and turns call by
   call keep both sides of the ratio close in time. Best and median rounds are shown too. Vectors are compared
   (cosine) with sentence-transformers'. Calls were 128 texts until 2026-11-30: two batches, where a build's
   call has 16 to share among the cores (``Encoder.encode_documents`` runs one batch per core).
2. bf16 effectiveness: a bfloat16 dense index of SciFact is built (under ``--root``, through torch.compile as a
   large build would), and nDCG@10, R@100 and
   R@1000 on the test split (k=1000, hits equal to the query id removed: configs/scifact-dense-minilm.yaml's
   protocol) are compared with the float32 index in ``indexes/scifact`` (read only). Also: the float32 index
   searched with bf16 query vectors, and the weighted hybrid (configs/scifact-hybrid-weighted.yaml) on each.
3. Hybrid query latency, ms per query, one query at a time, query encoding included:
   ``HybridSearcher.search(query, k=10)`` with weighted fusion (the config's z-score 0.4/0.6) at depth 100 and
   1000, and RRF (k=60) at depth 100; on SciFact's 300 test queries (the configs' float32 encoder) and on the
   big corpus (the ``dtype="auto"`` encoder, bfloat16 on this CPU) with 300 seeded queries made of docstring
   first sentences. After a warm-up pass per setting, ``--passes`` timed passes interleave the settings;
   p50/p95 are over all timed queries. The split (query encoding, BM25 search, dense search, filling of
   one-sided documents on each side, fusion: ``HybridSearcher.STEPS``) and the documents filled per query come
   from a separate pass of ``search`` with a ``gaia_lite.timing.StepTimes`` attached, the searcher's own record
   of its steps.
4. Memory: on-disk size of each artifact scaled to 100,000 documents, and the resident memory (VmRSS from
   /proc/self/status) of a fresh process before and after loading a HybridSearcher, on SciFact and on the
   big corpus, whose difference gives the memory per extra 100,000 documents.
5. Build times: Lucene and dense index of the big corpus, dense index of SciFact in bf16 (documents/s).
6. Diagnostics behind the reading: query encoding and FAISS search in alternation with FAISS's default
   OpenMP threads and with one (and the whole hybrid search under both, through ``DenseSearcher.faiss_threads``),
   the steps ``BM25Searcher.score_documents`` records (``StepTimes``) when it fills BM25 scores at depth 1000,
   load times, and the resident memory after ``malloc_trim(0)`` (heap freed while loading but kept by the
   allocator).

The big corpus is ``builtin:docstrings`` (all of it, or the first 100,000 documents where encoding all of
them would take longer than ``--max-encode-min``; the report says which). It is built under ``--root``.
Every timed block records how many CPU cores other processes used meanwhile (from /proc/stat), so a figure
taken while something else ran is visible as such.

``--quick`` makes a short check run (no big corpus, the first 20 SciFact test queries, small encode samples,
one pass); it still needs SciFact's corpus with its flat sparse and fp32 dense indexes (``--scifact-corpus``).

The benchmark uses gaia_lite's public API only (``tests/test_benchmarks.py`` checks it). The split no longer
replays ``HybridSearcher.search`` step by step, so its "same hits as search" check is gone (the split is the
search); the BM25 filling diagnostic reports the steps ``score_documents`` records (id filter, Lucene search,
Jackson, JSON parsing) and the rest as one figure, where it used to time a copy of its internals (query
building and id mapping apart).

The measurements are in helper modules beside this script, one concern each: ``_dense_encode`` (1), ``_dense_search``
(2, 3 and the diagnostics), ``_dense_memory`` (4) and ``_dense_report`` (the tables, targets, section and reading);
this script runs them in order.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
from pathlib import Path
from time import perf_counter as perf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helper modules, also when imported as a module (tests)
from _common import (  # noqa: E402
    add_quick, add_scifact, cpu_model, log, machine_basics, parse_args, publish, refuse_indexes_root, timed, utc_now,
    write_json)
from _corpora import Timings, build_docstrings, reusable_docstrings  # noqa: E402
from _dense_encode import COMPILED, bench_encode, encoders, sample_texts, token_stats  # noqa: E402
from _dense_memory import artifact_sizes, dense_parts, loading_growth, rss_probe, run_rss_probe  # noqa: E402
from _dense_report import print_report, reading, targets, write_section  # noqa: E402
from _dense_search import (  # noqa: E402
    METRICS, bench_latency, bm25_fill_parts, evaluate, faiss_only, fusion_settings, query_encoding_parts,
    thread_contention, top10_agreement)
from _queries import sample_queries, scifact_topics, sentence_candidates  # noqa: E402

BIG_MIN = 100_000
SCIFACT_FP32 = {"nDCG@10": 0.6451, "R@100": 0.9250}  # measured, configs/scifact-dense-minilm.yaml
# What --quick sets, unless given: a run of a few minutes that exercises every measurement on SciFact.
QUICK = {"big": "none", "max_queries": 20, "encode_docs": 64, "encode_repeat": 1, "passes": 1,
         "out": REPO / "benchmarks" / "out" / "quick"}
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile",
             "amx_bf16", "amx_int8", "avx_vnni")
TIMINGS = "build-timings.json"  # under --root: when and how long the reused artifacts took to build


def cpu_flags() -> dict[str, bool]:
    """Which of ``CPU_FLAGS`` this CPU has (the first ``flags`` line of /proc/cpuinfo)."""
    flags: set[str] = set()
    try:
        flags = set(next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                          if line.startswith("flags")), []))
    except OSError:
        pass
    return {f: f in flags for f in CPU_FLAGS}


def machine_facts() -> dict:
    import faiss
    import torch

    from gaia_lite.dense.encoder import cpu_has_bf16

    return {
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "gaia_lite_cpu_has_bf16": cpu_has_bf16(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch_mkldnn": torch.backends.mkldnn.is_available(),
        "faiss_omp_threads": faiss.omp_get_max_threads(),
        **machine_basics(REPO, ("gaia-lite", "torch", "transformers", "tokenizers", "sentence-transformers",
                                "faiss-cpu", "onnxruntime", "optimum", "numpy", "datasets", "pyarrow", "pyserini",
                                "ir_measures")),
    }


# ----------------------------------------------------------------------------------------------- builds and queries


def timed_build(fn, docs_of=len) -> tuple:
    """(what ``fn()`` built, its timing: documents, seconds, documents/s, CPU cores other processes used)."""
    result, seconds, others = timed(fn)
    docs = docs_of(result)
    return result, {"docs": docs, "seconds": seconds, "docs_per_s": docs / seconds, "other_processes_cores": others}


def built_index(root: Path, key: str, folder: Path, reuse: bool, docs: int, note: str, build, extra=dict) -> dict:
    """The timing of building an index of ``docs`` documents into ``folder`` with ``build()``, kept under ``key`` in
    the root's timings; with ``reuse``, an index already there is kept and its timing recalled from the run that
    built it. ``note`` is logged before a build, and ``extra()`` adds facts to its timing after it."""
    timings = Timings(root, TIMINGS)
    t = timings.recalled(key) if reuse and (folder / "gaia_lite.json").is_file() else None
    if t is None:
        log(note)
        _, t = timed_build(build, lambda _: docs)
        t = timings.remember(key, t | extra())
    return t


def build_big_corpus(root: Path, limit: int | None, reuse: bool):
    """The docstrings corpus (its first ``limit`` documents), built under ``root`` or reused, and its timing."""
    timings = Timings(root, TIMINGS)
    corpus = reusable_docstrings(root, limit) if reuse else None
    if corpus is not None:
        return corpus, timings.recalled("docstrings corpus")
    corpus, t = timed_build(lambda: build_docstrings(root, limit, "docstrings"))
    return corpus, timings.remember("docstrings corpus", t | {"limit": limit})


def docstring_queries(corpus, n: int, seed: int) -> tuple[dict[str, str], dict]:
    """``n`` seeded docstring first sentences of 3 to 40 words (the BM25 benchmark's query kind)."""
    queries, eligible = sample_queries(sentence_candidates(corpus), n, seed)
    words = [len(q.split()) for q in queries.values()]
    return queries, {"kind": "docstring first sentences (3-40 words)", "n": len(queries), "seed": seed,
                     "eligible": eligible, "words_mean": statistics.mean(words),
                     "examples": list(queries.values())[:3]}


def scifact_bf16_dir(root: Path) -> Path:
    """Where this benchmark builds SciFact's bfloat16 dense index."""
    return root / "scifact" / "dense-all-minilm-l6-v2-bf16"


# ----------------------------------------------------------------------------------------------- main flow


def run_all(args, out: dict) -> None:
    from gaia_lite.config import ExperimentConfig
    from gaia_lite.corpus import Corpus
    from gaia_lite.dense import Encoder, dense_dir
    from gaia_lite.sparse import sparse_dir

    root = args.root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    topics, qrels = scifact_topics(args.scifact.resolve(), args.max_queries)
    sci = Corpus.load(args.scifact_corpus, verify=False)
    for p in (dense_dir(sci.folder), sparse_dir(sci.folder)):
        if not (p / "gaia_lite.json").is_file():
            raise SystemExit(f"{p}: missing; build SciFact's indexes first (make experiments)")
    weighted = ExperimentConfig.from_yaml(REPO / "configs" / "scifact-hybrid-weighted.yaml").retriever.fusion
    settings = fusion_settings(weighted)
    out["settings"] = {
        "seed": args.seed, "encode_docs": args.encode_docs, "encode_repeat": args.encode_repeat,
        "latency_passes": args.passes, "latency_k": 10, "root": str(root), "scifact_queries": len(topics),
        "fusion": {name: {"method": f.method, "depth": f.depth, "normalization": f.normalization,
                          "weights": dict(f.side_weights()), "rrf_k": f.rrf_k, "fills": f.fills}
                   for name, f in settings.items()},
    }
    big = None
    if args.big == "docstrings":  # the corpus first: its texts are one of the encode samples
        big, t = build_big_corpus(root, args.big_limit, args.reuse)
        out["builds"]["docstrings corpus"] = t
        log(f"[docstrings] {len(big):,} documents")
    stage_encode(args, out, sci, big)
    enc_auto = None
    if big is not None:
        enc_auto = Encoder(dtype="auto")  # the big corpus's encoder: bfloat16 where the CPU computes it natively
        big = stage_big_indexes(args, out, big, enc_auto, root)
    h_sci, enc16 = stage_effectiveness(args, out, sci, topics, qrels, weighted, root)
    bq = stage_latency(args, out, h_sci, enc16, big, enc_auto, topics, settings, weighted)
    stage_memory(out, sci, big, bq, root, list(topics.values()))


def stage_encode(args, out: dict, sci, big) -> None:
    """1. Encode throughput of every system on SciFact's sample and the big corpus's."""
    import torch

    from gaia_lite.dense import DEFAULT_MODEL, resolve_model

    folder = resolve_model(DEFAULT_MODEL)
    log(f"[encode] systems on {folder}; torch threads {torch.get_num_threads()}")
    systems, extra = encoders(folder, args.root.resolve() / "onnx")
    out["encode"] = {"model": DEFAULT_MODEL, "model_folder": str(folder), "batch_size": 64,
                     "torch_threads": torch.get_num_threads(), "notes": extra["notes"], "samples": {}}
    samples = {"scifact": sample_texts(sci, args.encode_docs, args.seed)[0]}
    if big is not None:
        samples["docstrings"] = sample_texts(big, args.encode_docs, args.seed)[0]
    g32 = extra["gaia_fp32"]
    for name, texts in samples.items():
        log(f"[encode] {name}: {len(texts)} texts, {args.encode_repeat} rounds")
        out["encode"]["samples"][name] = {
            "texts": len(texts), "seed": args.seed,
            "token_stats": token_stats(g32.tokenizer, texts, g32.config.max_length),
            "systems": bench_encode(systems, texts, args.encode_repeat),
        }
    del systems, extra
    gc.collect()


def stage_big_indexes(args, out: dict, big, enc_auto, root: Path):
    """The big corpus's Lucene and dense indexes (of its first 100,000 documents where encoding all of them
    would take longer than ``--max-encode-min``), encoded with ``enc_auto``; returns the corpus indexed."""
    from gaia_lite.config import COMPILE_MIN_DOCS
    from gaia_lite.dense import build_dense_index, dense_dir
    from gaia_lite.sparse import build_sparse_index, sparse_dir

    measured = out["encode"]["samples"]["docstrings"]["systems"]
    system = f"gaia_lite {'bf16' if enc_auto.dtype == 'bfloat16' else 'fp32'}"
    if system == "gaia_lite bf16" and COMPILED in measured and len(big) >= COMPILE_MIN_DOCS:
        system = COMPILED  # what the build will use
    rate = measured[system]["docs_per_s"]
    estimate = len(big) / rate
    out["big_corpus"] = {"name": "builtin:docstrings", "docs_available": len(big),
                         "encode_estimate_s": estimate, "limit": args.big_limit}
    log(f"[docstrings] encoding {len(big):,} docs at ~{rate:.0f} docs/s would take ~{estimate / 60:.1f} min")
    if args.big_limit is None and estimate > args.max_encode_min * 60 and len(big) > BIG_MIN:
        log(f"[docstrings] over {args.max_encode_min} min: using the first {BIG_MIN:,} documents")
        big, t = build_big_corpus(root, BIG_MIN, args.reuse)
        out["builds"]["docstrings corpus"] = t
        out["big_corpus"]["limit"] = BIG_MIN
    out["big_corpus"]["docs"] = len(big)
    out["builds"]["docstrings sparse (Lucene, flat)"] = built_index(
        root, "docstrings sparse", sparse_dir(big.folder), args.reuse, len(big),
        "[docstrings] building the Lucene index (flat)",
        lambda: build_sparse_index(big, fields="flat", progress=False))
    t = built_index(root, "docstrings dense", dense_dir(big.folder), args.reuse, len(big),
                    f"[docstrings] building the dense index ({enc_auto.dtype}, flat); progress below",
                    lambda: build_dense_index(big, encoder=enc_auto, progress=True),
                    lambda: {"dtype": enc_auto.dtype, "compiled": enc_auto.compiled})
    out["builds"][f"docstrings dense ({t.get('dtype', enc_auto.dtype)}, flat)"] = t
    log(f"[docstrings] dense index: {t['seconds']:.0f} s, {t['docs_per_s']:.0f} docs/s")
    return big


def stage_effectiveness(args, out: dict, sci, topics: dict, qrels: dict, weighted, root: Path) -> tuple:
    """2. A bf16 dense index of SciFact (built under ``root``) against the fp32 one, dense and hybrid; returns
    the fp32 hybrid searcher of SciFact and the bf16 encoder, for the latency stage."""
    import numpy as np

    from gaia_lite.dense import DenseSearcher, Encoder, build_dense_index, dense_dir
    from gaia_lite.hybrid import HybridSearcher
    from gaia_lite.sparse import BM25Searcher, sparse_dir

    sci_dense32, sci_dense16 = dense_dir(sci.folder), scifact_bf16_dir(root)
    # bf16 documents through torch.compile, as a large build encodes them; queries never compile
    enc32, enc16 = Encoder(dtype="float32"), Encoder(dtype="bfloat16", compile=True)
    out["builds"]["scifact dense (bfloat16, flat)"] = built_index(
        root, "scifact dense bf16", sci_dense16, args.reuse, len(sci), "[scifact] building the bf16 dense index",
        lambda: build_dense_index(sci, encoder=enc16, out=sci_dense16, progress=True), lambda: {"dtype": "bfloat16"})
    log(f"[scifact] effectiveness, {len(topics)} test queries, k=1000")
    bm25 = BM25Searcher(sparse_dir(sci.folder), sci)
    d32 = DenseSearcher(sci_dense32, sci, encoder=enc32)
    d16 = DenseSearcher(sci_dense16, sci, encoder=enc16)
    default_loaded = DenseSearcher(sci_dense32, sci)
    searchers = {"dense fp32 index, fp32 queries": d32, "dense bf16 index, bf16 queries": d16,
                 "dense fp32 index, bf16 queries": DenseSearcher(sci_dense32, sci, encoder=enc16),
                 "hybrid weighted (config), fp32": HybridSearcher(bm25, d32, weighted),
                 "hybrid weighted (config), bf16": HybridSearcher(bm25, d16, weighted)}
    eff, runs = {}, {}
    for name, searcher in searchers.items():
        eff[name], runs[name] = evaluate(searcher, topics, qrels)
        log(f"    {name:<36} " + "  ".join(f"{m} {v:.4f}" for m, v in eff[name].items()))
    e32, e16 = d32.embeddings, d16.embeddings
    cos = (e32 * e16).sum(1) / (np.linalg.norm(e32, axis=1) * np.linalg.norm(e16, axis=1))
    diff = {key: {m: eff[a][m] - eff[b][m] for m in METRICS} for key, a, b in (
        ("diff_bf16_minus_fp32", "dense bf16 index, bf16 queries", "dense fp32 index, fp32 queries"),
        ("diff_hybrid_bf16_minus_fp32", "hybrid weighted (config), bf16", "hybrid weighted (config), fp32"),
        ("diff_fp32_index_bf16_queries", "dense fp32 index, bf16 queries", "dense fp32 index, fp32 queries"))}
    out["effectiveness"] = {
        "protocol": f"SciFact test ({len(topics)} queries), k=1000, hits equal to the query id removed",
        "metrics": eff, "expected_fp32": SCIFACT_FP32, **diff,
        "doc_vectors_cosine_bf16_vs_fp32": {"min": float(cos.min()), "mean": float(cos.mean())},
        "top10_bf16_vs_fp32": top10_agreement(runs["dense fp32 index, fp32 queries"],
                                              runs["dense bf16 index, bf16 queries"]),
        "fp32_index_loaded_without_encoder_uses": {"index_dtype": d32.meta.params["encoder"]["dtype"],
                                                   "query_encoder_dtype": default_loaded.encoder.dtype},
    }
    del default_loaded, searchers, runs, d16
    gc.collect()
    return HybridSearcher(bm25, d32, weighted), enc16


def stage_latency(args, out: dict, h_sci, enc16, big, enc_auto, topics: dict, settings: dict, weighted
                  ) -> dict | None:
    """3. Hybrid latency on SciFact and the big corpus, with the diagnostics that need the loaded searchers;
    returns the big corpus's queries (None without one)."""
    from gaia_lite.dense import DenseSearcher, dense_dir
    from gaia_lite.hybrid import HybridSearcher
    from gaia_lite.sparse import BM25Searcher, sparse_dir

    enc32, sci_queries = h_sci.dense.encoder, list(topics.values())
    log(f"[latency] SciFact: {len(topics)} test queries, fp32 encoder and index (the configs')")
    out["latency"] = {"scifact": {
        "docs": len(h_sci.corpus), "queries": "SciFact test queries (qrels/test.tsv)", "encoder_dtype": enc32.dtype,
        "settings": bench_latency(h_sci, topics, settings, args.passes),
        "faiss_only": faiss_only(h_sci.dense, enc32.encode_queries(sci_queries), 1000),
    }}
    out["latency"]["query_encoding_parts"] = query_encoding_parts({"fp32": enc32, "bf16": enc16}, sci_queries)
    out["diagnostics"] = {"bm25_fill_scifact": bm25_fill_parts(h_sci, topics)}
    if big is None:
        return None
    bq, info = docstring_queries(big, args.n_queries, args.seed)
    log(f"[latency] docstrings: {len(bq)} queries ({info['kind']}), {enc_auto.dtype} encoder")
    bm25_big = BM25Searcher(sparse_dir(big.folder), big)
    h_big = HybridSearcher(bm25_big, DenseSearcher(dense_dir(big.folder), big, encoder=enc_auto), weighted)
    out["latency"]["docstrings"] = {
        "docs": len(big), "queries": info, "encoder_dtype": enc_auto.dtype,
        "settings": bench_latency(h_big, bq, settings, args.passes),
        "faiss_only": faiss_only(h_big.dense, enc_auto.encode_queries(list(bq.values())), 1000),
    }
    log("[diagnostics] docstrings: encoding + FAISS with FAISS's default threads and with 1")
    tc = thread_contention(h_big, bq, settings["weighted, depth 100"])
    out["diagnostics"]["thread_contention_docstrings"] = tc
    log("    " + "; ".join(f"{k}: encode {v['encode_ms_p50']:.2f} ms, FAISS {v['faiss_ms_p50']:.2f} ms, hybrid "
                           f"p50 {v['hybrid_p50_ms']:.1f} p95 {v['hybrid_p95_ms']:.1f} ms"
                           for k, v in tc["runs"].items()))
    out["diagnostics"]["bm25_fill_docstrings"] = bm25_fill_parts(h_big, bq)
    bm25_big.close()
    del h_big, bm25_big
    gc.collect()
    return bq


def stage_memory(out: dict, sci, big, bq: dict | None, root: Path, sci_queries: list[str]) -> None:
    """4. Artifact sizes, and the resident memory of fresh processes loading a HybridSearcher."""
    from gaia_lite.dense import dense_dir
    from gaia_lite.sparse import sparse_dir

    log("[memory] artifact sizes and resident memory (fresh processes)")
    mem = {"disk": {}, "rss": {}}
    spec_fusion = {"method": "weighted", "normalization": "zscore", "bm25_weight": 0.4, "depth": 1000}
    corpora = {"scifact": (sci, sci_queries, scifact_bf16_dir(root))}
    if big is not None:
        corpora["docstrings"] = (big, list(bq.values()), dense_dir(big.folder))
    for name, (corpus, queries, probe_dense) in corpora.items():
        parts = {"dataset": corpus.folder / "dataset",
                 "sparse index (Lucene, flat)": sparse_dir(corpus.folder)} | dense_parts(dense_dir(corpus.folder))
        mem["disk"][name] = {"docs": len(corpus), "parts": artifact_sizes(parts, len(corpus))}
        spec = {"corpus": str(corpus.folder), "sparse": str(sparse_dir(corpus.folder)), "dense": str(probe_dense),
                "dtype": "auto", "fusion": spec_fusion, "queries": queries}
        r = mem["rss"][name] = run_rss_probe(spec, root)
        log(f"    {name}: " + ", ".join(f"{k} {v:.0f}" for k, v in r["stages_mib"].items())
            + f" MiB; peak {r['peak_mib']:.0f}")
    if "docstrings" in mem["rss"]:
        mem |= loading_growth(mem["rss"]["scifact"], mem["rss"]["docstrings"])
    out["memory"] = mem


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_scifact(p, "queries.jsonl, qrels/test.tsv", max_queries="effectiveness and latency")
    p.add_argument("--scifact-corpus", type=Path, default=REPO / "indexes" / "scifact",
                   help="the built SciFact corpus with its sparse-flat and fp32 dense indexes (read only)")
    p.add_argument("--root", type=Path, default=REPO / "benchmarks" / "out" / "indexes",
                   help="where this benchmark builds its corpora and indexes")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    p.add_argument("--big", choices=["docstrings", "none"], default="docstrings")
    p.add_argument("--big-limit", type=int, help="use the first N docstrings (default: all, or 100,000 where "
                                                  "encoding all is estimated over --max-encode-min)")
    p.add_argument("--max-encode-min", type=float, default=20.0)
    p.add_argument("--encode-docs", type=int, default=1000, help="documents per encode sample")
    p.add_argument("--encode-repeat", type=int, default=3, help="timed passes per encoder and sample")
    p.add_argument("--n-queries", type=int, default=300, help="queries for the big corpus")
    p.add_argument("--passes", type=int, default=2, help="timed latency passes per fusion setting")
    p.add_argument("--seed", type=int, default=13)
    add_quick(p, "a few minutes: no big corpus, the first 20 SciFact queries, 64 documents per encode sample, one "
                 "encode round and one latency pass, output under benchmarks/out/quick/")
    p.add_argument("--reuse", action="store_true", help="reuse indexes already under --root (their build "
                                                         "timings come from the run that built them)")
    p.add_argument("--section-only", action="store_true", help="remake dense_section.md from dense.json")
    p.add_argument("--rss-probe", help=argparse.SUPPRESS)
    args = parse_args(p, argv, QUICK)
    if args.rss_probe:
        return rss_probe(args.rss_probe)

    json_path, md_path = args.out / "dense.json", args.out / "dense_section.md"
    if args.section_only:
        out = json.loads(json_path.read_text())
        out["reading"] = reading(out)
        write_json(json_path, out)
        write_section(out, md_path)
        print(f"wrote {md_path}")
        return 0
    refuse_indexes_root(p, args.root)
    out = {"date": utc_now(), "argv": sys.argv[1:], "machine": machine_facts(), "builds": {}}
    t0 = perf()
    run_all(args, out)
    out["machine"]["load_average_at_end"] = os.getloadavg()
    out["wall_s"] = perf() - t0
    out["targets"] = targets(out)
    out["reading"] = reading(out)
    args.out.mkdir(parents=True, exist_ok=True)
    publish(out, json_path, md_path, print_report, write_section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
