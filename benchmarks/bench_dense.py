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
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import io
import json
import os
import random
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common, also when imported as a module (tests)
from _common import OtherLoad, first_sentence, log, machine_basics, proc_mib, step_split, tree_bytes  # noqa: E402

from gaia_lite.dense.index import ENCODE_CALL_TEXTS  # noqa: E402

perf = time.perf_counter
BIG_MIN = 100_000
METRICS = ("nDCG@10", "R@100", "R@1000")
ENCODE_TARGET = 3.0  # gaia_lite vs sentence-transformers fp32, docs/s
NDCG_TOLERANCE = 0.005
P95_TARGET_MS = 100.0
SCIFACT_FP32 = {"nDCG@10": 0.6451, "R@100": 0.9250}  # measured, configs/scifact-dense-minilm.yaml
# What --quick sets, unless given: a run of a few minutes that exercises every measurement on SciFact.
QUICK = {"big": "none", "max_queries": 20, "encode_docs": 64, "encode_repeat": 1, "passes": 1,
         "out": REPO / "benchmarks" / "out" / "quick"}
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile",
             "amx_bf16", "amx_int8", "avx_vnni")


# ----------------------------------------------------------------------------------------------- helpers



def pct(values, q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def cpu_facts() -> dict:
    model, flags = "?", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model == "?":
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {"model": model, "flags": {f: f in flags for f in CPU_FLAGS}}


def machine_facts() -> dict:
    import faiss
    import torch

    from gaia_lite.dense.encoder import cpu_has_bf16

    cpu = cpu_facts()
    return {
        "cpu": cpu["model"],
        "cpu_flags": cpu["flags"],
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


# ----------------------------------------------------------------------------------------------- corpora


def sample_texts(corpus, n: int, seed: int) -> tuple[list[str], list[int]]:
    """title + " " + text (what the dense index encodes) of ``n`` seeded documents, in row order."""
    from gaia_lite.dense.index import document_texts

    rows = sorted(random.Random(seed).sample(range(len(corpus)), min(n, len(corpus))))
    cols = ["text"] + (["title"] if corpus.has_title else [])
    return document_texts(corpus.dataset.select_columns(cols).select(rows).to_dict()), rows


def docstring_queries(corpus, n: int, seed: int) -> tuple[dict[str, str], dict]:
    """``n`` seeded docstring first sentences of 3 to 40 words (the BM25 benchmark's query kind)."""
    candidates = []
    for batch in corpus.dataset.select_columns(["text"]).iter(batch_size=10_000):
        candidates.extend(first_sentence(t) for t in batch["text"])
    eligible = [i for i, q in enumerate(candidates) if 3 <= len(q.split()) <= 40]
    rows = sorted(random.Random(seed).sample(eligible, min(n, len(eligible))))
    queries = {f"q{row}": candidates[row] for row in rows}
    words = [len(q.split()) for q in queries.values()]
    return queries, {"kind": "docstring first sentences (3-40 words)", "n": len(queries), "seed": seed,
                     "eligible": len(eligible), "words_mean": statistics.mean(words),
                     "examples": list(queries.values())[:3]}


def scifact_topics(scifact: Path, limit: int | None = None) -> tuple[dict[str, str], dict]:
    """SciFact's test queries and qrels (the first ``limit`` queries where given)."""
    from gaia_lite.evaluate import load_qrels, load_queries

    qrels = load_qrels(scifact / "qrels" / "test.tsv")
    queries = load_queries(scifact / "queries.jsonl")
    topics = {qid: queries[qid] for qid in list(qrels)[:limit]}
    return topics, {qid: qrels[qid] for qid in topics}


def token_stats(tokenizer, texts: list[str], max_length: int) -> dict:
    lengths = [len(ids) for ids in tokenizer(texts, truncation=False)["input_ids"]]
    return {"tokens_mean": statistics.mean(lengths), "tokens_median": statistics.median(lengths),
            "share_truncated": sum(n > max_length for n in lengths) / len(lengths),
            "tokens_mean_after_truncation": statistics.mean(min(n, max_length) for n in lengths),
            "chars_mean": statistics.mean(map(len, texts))}


# ----------------------------------------------------------------------------------------------- 1. encoders


def onnxruntime_int8(folder: Path, tokenizer, max_length: int, workdir: Path):
    """The model exported to ONNX, fused by ONNX Runtime's transformer optimizer and quantized to int8 (dynamic,
    per channel), as an encode function (length-sorted batches of 64, mean pooling, L2 normalisation); or the
    reason it cannot run. optimum, the usual route, is not used: optimum-onnx 0.1.0 requires transformers < 4.58."""
    import numpy as np
    import torch
    from transformers import AutoModel

    try:
        import onnxruntime as ort
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.transformers.optimizer import optimize_model
    except ImportError as e:
        return None, f"skipped: {e}"
    workdir.mkdir(parents=True, exist_ok=True)
    raw, fused, int8 = workdir / "model.onnx", workdir / "model.fused.onnx", workdir / "model.int8.onnx"
    t = perf()
    try:
        # eager attention: the optimizer fuses its pattern into one Attention op (not the SDPA one)
        model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()
        names = ["input_ids", "attention_mask", "token_type_ids"]

        class Hidden(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.m(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

        dummy = tokenizer(["warm up", "a longer warm up text"], padding=True, return_tensors="pt")
        with contextlib.redirect_stderr(io.StringIO()):
            torch.onnx.export(Hidden(model), tuple(dummy[n] for n in names), str(raw), input_names=names,
                              output_names=["hidden"], opset_version=17, dynamo=False,
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]})
            cfg = model.config
            optimize_model(str(raw), model_type="bert", num_heads=cfg.num_attention_heads,
                           hidden_size=cfg.hidden_size).save_model_to_file(str(fused))
            quantize_dynamic(str(fused), str(int8), weight_type=QuantType.QInt8, per_channel=True,
                             extra_options={"DefaultTensorType": 1})
    except Exception as e:  # noqa: BLE001  (any failure means: skipped, with its reason)
        return None, f"skipped: {type(e).__name__}: {str(e).splitlines()[0][:300]}"
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(str(int8), options, providers=["CPUExecutionProvider"])
    inputs = {i.name for i in session.get_inputs()}

    def encode(texts):
        out = np.empty((len(texts), model.config.hidden_size), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(texts), 64):
            idx = order[start:start + 64]
            b = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                          return_tensors="np")
            hidden = session.run(None, {k: v for k, v in b.items() if k in inputs})[0]
            mask = b["attention_mask"][..., None].astype(np.float32)
            v = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
            out[idx] = v / np.linalg.norm(v, axis=1, keepdims=True)
        return out

    return encode, f"exported, fused and quantized in {perf() - t:.1f} s ({int8.stat().st_size / 2**20:.0f} MiB)"


COMPILED = "gaia_lite bf16, torch.compile"
ORT_INT8 = "ONNX Runtime int8 (fused, per-channel dynamic)"


def encoders(folder: Path, workdir: Path) -> tuple[dict, dict]:
    """``{name: encode(texts) -> float32 array}`` for every system, and notes on those that could not run."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from gaia_lite.config import EncoderConfig
    from gaia_lite.dense import Encoder

    systems, notes = {}, {}
    st32 = SentenceTransformer(str(folder), device="cpu")
    systems["sentence-transformers fp32"] = lambda t: st32.encode(t, batch_size=64, show_progress_bar=False,
                                                                  convert_to_numpy=True)
    g32 = Encoder(EncoderConfig(dtype="float32"))
    systems["gaia_lite fp32"] = lambda t: g32.encode_documents(t, progress=False)
    g16 = Encoder(EncoderConfig(dtype="bfloat16"))
    systems["gaia_lite bf16"] = lambda t: g16.encode_documents(t, progress=False)
    notes["auto_dtype"] = Encoder(EncoderConfig(dtype="auto")).dtype
    notes["max_length"] = {"gaia_lite": g32.config.max_length, "sentence-transformers": st32.max_seq_length}
    try:
        st16 = SentenceTransformer(str(folder), device="cpu")
        st16.to(torch.bfloat16)

        def st16_encode(t):
            out = st16.encode(t, batch_size=64, show_progress_bar=False, convert_to_tensor=True)
            return out.float().cpu().numpy().astype(np.float32)

        st16_encode(["warm up"])
        systems["sentence-transformers bf16 (reference)"] = st16_encode
    except Exception as e:  # noqa: BLE001
        notes["sentence-transformers bf16"] = f"skipped: {type(e).__name__}: {e}"
    compiled = Encoder(EncoderConfig(dtype="bfloat16", compile=True))
    t = perf()
    compiled.encode_documents(["warm up"] * 64, progress=False)  # compiles (TorchInductor's cache may help)
    notes["compile_s"] = perf() - t
    if compiled.compiled:
        systems[COMPILED] = lambda t: compiled.encode_documents(t, progress=False)
    else:
        notes[COMPILED] = "skipped: torch.compile failed (see the warning above)"
    ort_encode, notes["onnxruntime int8"] = onnxruntime_int8(folder, g32.tokenizer, g32.config.max_length, workdir)
    if ort_encode is not None:
        systems[ORT_INT8] = ort_encode
    return systems, {"notes": notes, "gaia_fp32": g32, "gaia_bf16": g16}


def bench_encode(systems: dict, texts: list[str], repeat: int) -> dict:
    """docs/s of each system on ``texts``: a warm-up, then ``repeat`` rounds over the sample in calls of
    ``ENCODE_CALL_TEXTS`` texts (as a build calls the encoder), every system making each call in turn (rotating
    order). This machine's speed drifts by tens of percent within a minute, so the systems are compared call by
    call: ``ratio_to_st_fp32`` is sentence-transformers fp32's total time over the system's, on the same calls
    close in time. Also reported: the best and median round (whole sample) and the median of the per-call
    ratios."""
    import numpy as np

    names = list(systems)
    for name in names:
        systems[name](texts[:64])
    # Longest first, as each system batches: a call pads no more than the whole sample would.
    texts = sorted(texts, key=len, reverse=True)
    calls = [texts[i:i + ENCODE_CALL_TEXTS] for i in range(0, len(texts), ENCODE_CALL_TEXTS)]
    seconds: dict = {name: [0.0] * repeat for name in names}
    call_seconds: dict = {name: [] for name in names}
    loads: dict = {name: [] for name in names}
    vectors: dict = {name: [] for name in names}
    for r in range(repeat):
        for c, call in enumerate(calls):
            turn = (r * len(calls) + c) % len(names)
            for name in names[turn:] + names[:turn]:
                gc.collect()
                with OtherLoad() as load:
                    t = perf()
                    v = systems[name](call)
                    dt = perf() - t
                seconds[name][r] += dt
                call_seconds[name].append(dt)
                loads[name].append(load.cores)
                if r == 0:
                    vectors[name].append(np.asarray(v, dtype=np.float32))
        log(f"    round {r + 1}/{repeat}: " + ", ".join(f"{name} {len(texts) / seconds[name][r]:.1f}"
                                                     for name in names) + " docs/s")
    vectors = {name: np.vstack(v) for name, v in vectors.items()}
    ref, base = vectors["sentence-transformers fp32"], call_seconds["sentence-transformers fp32"]
    out = {}
    for name in names:
        v = vectors[name]
        cos = (v * ref).sum(1) / (np.linalg.norm(v, axis=1) * np.linalg.norm(ref, axis=1))
        out[name] = {"docs_per_s": len(texts) / min(seconds[name]),
                     "docs_per_s_median": len(texts) / statistics.median(seconds[name]),
                     "seconds": seconds[name], "call_texts": ENCODE_CALL_TEXTS,
                     "ratio_to_st_fp32": sum(base) / sum(call_seconds[name]),
                     "call_ratio_median": statistics.median(b / s for b, s in zip(base, call_seconds[name])),
                     "other_processes_cores_max": round(max(loads[name]), 2),
                     "cosine_to_st_fp32_min": float(cos.min()), "cosine_to_st_fp32_mean": float(cos.mean())}
    return out


# ----------------------------------------------------------------------------------------------- 2. effectiveness


def evaluate(searcher, topics: dict, qrels: dict, k: int = 1000) -> tuple[dict, dict]:
    from gaia_lite.evaluate import evaluate_run, remove_query_ids

    run = remove_query_ids(searcher.search_batch(topics, k=k))
    return evaluate_run(run, qrels, METRICS), run


def top10_agreement(a: dict, b: dict) -> dict:
    from gaia_lite.evaluate import ranked

    same_list = overlap = 0
    for qid in a:
        ta = [d for d, _ in ranked(a[qid])[:10]]
        tb = [d for d, _ in ranked(b.get(qid, {}))[:10]]
        same_list += ta == tb
        overlap += len(set(ta) & set(tb)) / max(1, len(ta))
    return {"queries": len(a), "identical_top10": same_list, "mean_top10_overlap": overlap / max(1, len(a))}


# ----------------------------------------------------------------------------------------------- 3. latency


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
        for name in names[p % len(names):] + names[:p % len(names)]:
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


# ----------------------------------------------------------------------------------------------- 4. memory

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


def rss_probe(args) -> int:
    """Child process: VmRSS before and after loading a HybridSearcher, then after queries. Prints JSON."""
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

    spec = json.loads(Path(args.rss_probe).read_text())
    stages[BEFORE_LOADING] = proc_mib()
    print("RSS_PROBE_JSON " + json.dumps(probe(spec, stages)))
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
    path = tmp / f"rss-probe-{Path(spec['corpus']).name}.json"
    path.write_text(json.dumps(spec))
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--rss-probe", str(path)],
                          capture_output=True, text=True, cwd=str(REPO), check=False)
    path.unlink()
    for line in proc.stdout.splitlines():
        if line.startswith("RSS_PROBE_JSON "):
            return json.loads(line.split(" ", 1)[1])
    raise RuntimeError(f"rss probe failed ({proc.returncode}): {proc.stderr[-2000:]}")


def artifact_sizes(parts: dict[str, Path], docs: int) -> dict:
    out = {}
    for name, path in parts.items():
        b = tree_bytes(path)
        out[name] = {"mib": b / 2**20, "mib_per_100k_docs": b / 2**20 * 100_000 / docs}
    return out


def dense_parts(index_dir: Path) -> dict[str, Path]:
    return {"dense: FAISS index": index_dir / "index", "dense: embeddings dataset": index_dir / "embeddings",
            "dense: docid": index_dir / "docid", "dense index (all)": index_dir}


# ----------------------------------------------------------------------------------------------- builds


def timings_file(root: Path) -> Path:
    return root / "build-timings.json"


def remember(root: Path, key: str, value: dict) -> dict:
    """Keep build timings beside the artifacts, so that ``--reuse`` can report them later."""
    path = timings_file(root)
    data = json.loads(path.read_text()) if path.is_file() else {}
    data[key] = value | {"measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
    path.write_text(json.dumps(data, indent=1))
    return data[key]


def recalled(root: Path, key: str) -> dict | None:
    path = timings_file(root)
    if not path.is_file():
        return None
    value = json.loads(path.read_text()).get(key)
    return None if value is None else value | {"reused": True}


def timed_build(fn, docs_of=len) -> tuple:
    with OtherLoad() as load:
        t = perf()
        result = fn()
        seconds = perf() - t
    docs = docs_of(result)
    return result, {"docs": docs, "seconds": seconds, "docs_per_s": docs / seconds,
                    "other_processes_cores": round(load.cores, 2)}


def build_big_corpus(root: Path, limit: int | None, reuse: bool):
    from gaia_lite.corpus import Corpus, Source, build_corpus
    from gaia_lite.errors import MissingArtifactError

    if reuse:
        with contextlib.suppress(MissingArtifactError):
            corpus = Corpus.load(root / "docstrings", verify=False)
            if corpus.meta.params.get("limit") == limit:
                return corpus, recalled(root, "docstrings corpus")
    log(f"[docstrings] building corpus builtin:docstrings{f' (first {limit:,})' if limit else ''} "
        "(reads every installed package's .py files; ~2 min)")

    def build():
        # the docstrings reader has its own tqdm bar, which progress=False does not reach
        with contextlib.redirect_stderr(io.StringIO()):
            return build_corpus(Source("builtin:docstrings"), "docstrings", root=root, progress=False,
                                limit=limit)[0]

    corpus, t = timed_build(build)
    return corpus, remember(root, "docstrings corpus", t | {"limit": limit})


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


def scifact_bf16_dir(root: Path) -> Path:
    """Where this benchmark builds SciFact's bfloat16 dense index."""
    return root / "scifact" / "dense-all-minilm-l6-v2-bf16"


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
    big_sparse, big_dense = sparse_dir(big.folder), dense_dir(big.folder)
    t = recalled(root, "docstrings sparse") if args.reuse and (big_sparse / "gaia_lite.json").is_file() else None
    if t is None:
        log("[docstrings] building the Lucene index (flat)")
        _, t = timed_build(lambda: build_sparse_index(big, fields="flat", progress=False), lambda _: len(big))
        t = remember(root, "docstrings sparse", t)
    out["builds"]["docstrings sparse (Lucene, flat)"] = t
    t = recalled(root, "docstrings dense") if args.reuse and (big_dense / "gaia_lite.json").is_file() else None
    if t is None:
        log(f"[docstrings] building the dense index ({enc_auto.dtype}, flat); progress below")
        _, t = timed_build(lambda: build_dense_index(big, encoder=enc_auto, progress=True), lambda _: len(big))
        t = remember(root, "docstrings dense", t | {"dtype": enc_auto.dtype, "compiled": enc_auto.compiled})
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
    t = recalled(root, "scifact dense bf16") if args.reuse and (sci_dense16 / "gaia_lite.json").is_file() else None
    if t is None:
        log("[scifact] building the bf16 dense index")
        _, t = timed_build(lambda: build_dense_index(sci, encoder=enc16, out=sci_dense16, progress=True),
                           lambda _: len(sci))
        t = remember(root, "scifact dense bf16", t | {"dtype": "bfloat16"})
    out["builds"]["scifact dense (bfloat16, flat)"] = t
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
        a, b = mem["rss"]["scifact"], mem["rss"]["docstrings"]
        scale = 100_000 / (b["docs"] - a["docs"])
        for key, stage in (("", AFTER_LOADING), ("_after_malloc_trim", TRIMMED)):
            if stage not in a["stages_mib"]:
                continue
            loaded = {n: r["stages_mib"][stage] - r["stages_mib"][BEFORE_LOADING] for n, r in
                      (("scifact", a), ("docstrings", b))}
            mem[f"rss_added_by_loading_mib{key}"] = loaded
            mem[f"rss_per_100k_docs_mib{key}"] = (loaded["docstrings"] - loaded["scifact"]) * scale
    out["memory"] = mem


# ----------------------------------------------------------------------------------------------- report


DISTURBED_CORES = 0.2


def disturbed(cores: float) -> str:
    """A note for a figure taken while other processes used a noticeable share of the CPU."""
    return f" (disturbed: other processes used {cores:.2f} cores)" if cores > DISTURBED_CORES else ""


def fastest_gaia(systems: dict) -> str:
    """The name of gaia_lite's fastest encoder among ``systems`` (by its ratio to sentence-transformers fp32)."""
    return max((n for n in systems if n.startswith("gaia_lite")), key=lambda n: systems[n]["ratio_to_st_fp32"])


def targets(out: dict) -> dict:
    t = {}
    enc = out.get("encode", {}).get("samples", {})
    eff = out.get("effectiveness", {})
    for sample, data in enc.items():
        best = fastest_gaia(data["systems"])
        g, st32 = data["systems"][best], data["systems"]["sentence-transformers fp32"]
        r = g["ratio_to_st_fp32"]
        others = max(g["other_processes_cores_max"], st32["other_processes_cores_max"])
        t[f"encode {sample}: {best} >= {ENCODE_TARGET:g}x sentence-transformers fp32"] = {
            "value": f"{r:.2f}x" + disturbed(others), "met": r >= ENCODE_TARGET}
        t[f"encode {sample}: {best} vectors cosine >= 0.99 to sentence-transformers fp32"] = {
            "value": f"min {g['cosine_to_st_fp32_min']:.4f}", "met": g["cosine_to_st_fp32_min"] >= 0.99}
    if eff:
        d = eff["diff_bf16_minus_fp32"]["nDCG@10"]
        t[f"bf16 (compiled) nDCG@10 within {NDCG_TOLERANCE} of fp32 (SciFact)"] = {"value": f"{d:+.4f}",
                                                                        "met": abs(d) <= NDCG_TOLERANCE}
    for corpus, data in out.get("latency", {}).items():
        if corpus == "query_encoding_parts":
            continue
        for name, row in data["settings"].items():
            t[f"hybrid p95 <= {P95_TARGET_MS:g} ms, {corpus} ({data['docs']:,} docs), {name}"] = {
                "value": f"{row['p95_ms']:.1f} ms" + disturbed(row["other_processes_cores_max"]),
                "met": row["p95_ms"] <= P95_TARGET_MS}
    return t


def fmt_table(header: list[str], rows: list[list], align: str | None = None) -> str:
    """A GitHub markdown table (also readable as plain text)."""
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def encode_table(out: dict) -> str:
    rows = []
    for sample, data in out["encode"]["samples"].items():
        ts = data["token_stats"]
        for name, r in data["systems"].items():
            rows.append([f"{sample} ({data['texts']:,} docs, {ts['tokens_mean_after_truncation']:.0f} tokens)", name,
                         f"{r['docs_per_s']:.1f}", f"{r['docs_per_s_median']:.1f}", f"{r['ratio_to_st_fp32']:.2f}x",
                         f"{r['call_ratio_median']:.2f}x",
                         f"{r['cosine_to_st_fp32_min']:.4f}", f"{r['other_processes_cores_max']:.2f}"])
    return fmt_table(["sample (mean tokens)", "system", "docs/s (best round)", "docs/s (median round)",
                      "vs ST fp32 (all calls)", "vs ST fp32 (median call)", "min cosine to ST fp32",
                      "others (cores)"], rows, "llrrrrrr")


def effectiveness_table(out: dict) -> str:
    eff = out["effectiveness"]["metrics"]
    rows = [[name] + [f"{v[m]:.4f}" for m in METRICS] for name, v in eff.items()]
    return fmt_table(["SciFact test, k=1000", *METRICS], rows)


def latency_table(out: dict) -> str:
    rows = []
    for corpus, data in out["latency"].items():
        if corpus == "query_encoding_parts":
            continue
        for name, r in data["settings"].items():
            s = r["split_ms_mean"]
            rows.append([f"{corpus} ({data['docs']:,} docs, {data['encoder_dtype']})", name, f"{r['p50_ms']:.1f}",
                         f"{r['p95_ms']:.1f}", f"{r['max_ms']:.1f}"]
                        + [f"{s[p]:.2f}" for p in SPLIT_PARTS]
                        + [f"{r['filled_per_query_mean']['bm25']:.0f} / {r['filled_per_query_mean']['dense']:.0f}",
                           f"{r['other_processes_cores_max']:.2f}"])
    return fmt_table(["corpus", "fusion", "p50 ms", "p95 ms", "max ms", "encode", "BM25", "dense", "fill BM25",
                      "fill dense", "fusion ", "filled BM25/dense", "others (cores)"], rows, "llrrrrrrrrrrr")


def memory_tables(out: dict) -> tuple[str, str]:
    mem = out["memory"]
    names = list(mem["disk"])
    parts = list(mem["disk"][names[0]]["parts"])
    rows = [[part] + [f"{mem['disk'][n]['parts'][part]['mib']:.1f} / {mem['disk'][n]['parts'][part]['mib_per_100k_docs']:.0f}"
                      for n in names] for part in parts]
    disk = fmt_table(["artifact"] + [f"{n} ({mem['disk'][n]['docs']:,} docs): MiB / MiB per 100k" for n in names], rows)
    rnames = list(mem["rss"])
    stages = list(mem["rss"][rnames[0]]["stages_mib"])
    rows = []
    for i, stage in enumerate(stages):
        name = stage if i < len(stages) - 1 else "+ all queries"
        rows.append([name] + [f"{list(mem['rss'][n]['stages_mib'].values())[i]:.0f}" for n in rnames])
    rows.append(["peak (VmHWM)"] + [f"{mem['rss'][n]['peak_mib']:.0f}" for n in rnames])
    rss = fmt_table(["VmRSS, MiB"] + [f"{n} ({mem['rss'][n]['docs']:,} docs)" for n in rnames], rows)
    return disk, rss


def builds_table(out: dict) -> str:
    rows = [[name, f"{t['docs']:,}", f"{t['seconds']:.1f}", f"{t['docs_per_s']:.0f}",
             f"{t.get('other_processes_cores', float('nan')):.2f}",
             f"measured in an earlier run ({t.get('measured', '?')})" if t.get("reused") else ""]
            for name, t in out["builds"].items()]
    return fmt_table(["build", "docs", "seconds", "docs/s", "others (cores)", ""], rows, "lrrrrl")


def print_report(out: dict) -> None:
    m = out["machine"]
    flags = ", ".join(f for f, on in m["cpu_flags"].items() if on)
    print(f"\nDense/hybrid benchmark, {out['date']}: {m['cpu']}, {m['cores']} cores, torch threads "
          f"{m['torch_threads']}, CPU flags: {flags}; gaia_lite cpu_has_bf16={m['gaia_lite_cpu_has_bf16']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()))
    for key, title, fn in (("encode", "encode throughput", encode_table),
                           ("effectiveness", "effectiveness", effectiveness_table),
                           ("latency", "hybrid latency (ms per query; split = mean ms)", latency_table),
                           ("builds", "builds", builds_table)):
        if out.get(key):
            print(f"\n== {title}\n" + fn(out))
    if "memory" in out:
        disk, rss = memory_tables(out)
        print("\n== on-disk size\n" + disk + "\n\n== resident memory\n" + rss)
    print("\n== targets")
    for name, t in targets(out).items():
        print(f"  {'MET    ' if t['met'] else 'NOT MET'}  {name}: {t['value']}")
    if out.get("reading"):
        print("\n== reading\n" + "\n".join(out["reading"]))


def write_section(out: dict, path: Path) -> None:
    """BENCHMARKS.md's "Dense and hybrid" section, from one run's JSON."""
    m, enc, eff, lat, mem = out["machine"], out["encode"], out["effectiveness"], out["latency"], out["memory"]
    flags, notes, settings = m["cpu_flags"], enc["notes"], out["settings"]
    yes = {True: "yes", False: "no"}
    intro = (
        f"`make bench-dense` (`benchmarks/bench_dense.py`), {out['date']}, {m['cpu']}, {m['cores']} cores, "
        f"torch {m['versions']['torch']} on {m['torch_threads']} threads, transformers {m['versions']['transformers']}, "
        f"sentence-transformers {m['versions']['sentence-transformers']}, faiss-cpu {m['versions']['faiss-cpu']}. "
        f"CPU flags: avx512_bf16 {yes[flags['avx512_bf16']]}, AMX {yes[flags['amx_bf16']]}, avx512_vnni "
        f"{yes[flags['avx512_vnni']]}; gaia_lite's `dtype=\"auto\"` resolves to {notes['auto_dtype']} here. "
        "Model: all-MiniLM-L6-v2 (mean pooling, 256 tokens). All figures: `benchmarks/out/dense.json`. "
        "\"others\": CPU cores that other processes used during the measurement (about 0 = undisturbed)."
    )
    target_rows = [[k, v["value"], "met" if v["met"] else "**not met**"] for k, v in targets(out).items()]
    encode_intro = (
        f"Seeded samples (seed {settings['seed']}) of {settings['encode_docs']:,} documents, title + \" \" + "
        f"text as the dense index encodes them; every system encodes the same texts, batch 64, sorted by length. "
        f"After a warm-up, {settings['encode_repeat']} rounds over the sample, longest texts first, in calls of "
        f"{ENCODE_CALL_TEXTS:,} texts, as a build calls the encoder: every system makes each call in turn (rotating "
        "order). \"vs ST fp32 (all calls)\" is sentence-transformers fp32's total time over the system's, the "
        "figure the target is judged on; this machine's speed drifts by tens of percent within a minute, and turns "
        "call by call keep both sides of the ratio close in time. The median of the per-call ratios, and the best "
        "and median rounds (whole sample), are beside it. The bf16 sentence-transformers row is the same model "
        "cast to bfloat16, for reference."
    )
    onnx_line = (f"torch.compile: {notes['compile_s']:.1f} s to compile in the warm-up (with freezing the graph is "
                 "compiled again in every process; TorchInductor's on-disk cache keeps its C++ kernels). "
                 f"ONNX Runtime int8: {notes['onnxruntime int8']}; optimum, the usual route, was not used: "
                 "optimum-onnx 0.1.0 requires transformers < 4.58.")
    d, dh, dq = eff["diff_bf16_minus_fp32"], eff["diff_hybrid_bf16_minus_fp32"], eff["diff_fp32_index_bf16_queries"]
    cos, top = eff["doc_vectors_cosine_bf16_vs_fp32"], eff["top10_bf16_vs_fp32"]
    eff_line = (
        "bf16 − fp32, dense: " + ", ".join(f"{k} {v:+.4f}" for k, v in d.items())
        + "; weighted hybrid: " + ", ".join(f"{k} {v:+.4f}" for k, v in dh.items())
        + "; fp32 index with bf16 queries: " + ", ".join(f"{k} {v:+.4f}" for k, v in dq.items())
        + f". SciFact document vectors, bf16 vs fp32: cosine min {cos['min']:.4f}, mean {cos['mean']:.5f}; "
        f"identical top-10 lists for {top['identical_top10']} of {top['queries']} queries, mean top-10 overlap "
        f"{top['mean_top10_overlap']:.3f}."
    )
    big = lat.get("docstrings")
    big_line = ""
    if big:
        bc, q = out["big_corpus"], big["queries"]
        cut = (f" (the first {bc['limit']:,} of {bc['docs_available']:,}: encoding all was estimated at "
               f"{bc['encode_estimate_s'] / 60:.0f} min)" if bc.get("limit") else "")
        big_line = (f"Big corpus: `builtin:docstrings`, {big['docs']:,} documents{cut}, {big['encoder_dtype']} "
                    f"encoder and index (`dtype=\"auto\"`), {q['n']} seeded queries: {q['kind']}, "
                    f"{q['words_mean']:.1f} words on average. ")
    latency_intro = (
        f"SciFact: its {settings.get('scifact_queries', 300)} test queries, float32 encoder and index (the "
        "configs'). " + big_line
        + "Weighted = configs/scifact-hybrid-weighted.yaml's fusion (z-score, BM25 0.4 / dense 0.6, one-sided "
        "documents filled with their real score on the other side); RRF (k=60) fills nothing. One warm-up pass "
        f"per setting, then {settings['latency_passes']} timed passes per setting, interleaved; p50/p95/max over "
        "all timed queries. Columns encode … fusion: the split, mean ms per query, from a separate pass of `search` "
        "with a `gaia_lite.timing.StepTimes` attached (the steps HybridSearcher records itself); "
        "\"filled\": documents per query given their score on that side."
    )
    qe = lat["query_encoding_parts"]
    qe_line = ("Query encoding alone (SciFact queries, p50 ms): " + "; ".join(
        f"{k}: tokenizer {v['tokenize_ms_p50']:.2f}, model forward {v['forward_ms_p50']:.2f}, whole "
        f"`encode_queries` {v['encode_query_ms_p50']:.2f}" for k, v in qe.items())
        + ". FAISS flat search alone, depth 1000, p50: " + "; ".join(
        f"{c} {lat[c]['faiss_only']['p50_ms']:.2f} ms" for c in lat if c != "query_encoding_parts") + ".")
    disk, rss = memory_tables(out)
    rss_intro = ("Resident memory (VmRSS, MiB) of a fresh process loading a HybridSearcher (`dtype=\"auto\"`, "
                 "weighted fusion at depth 1000), after each step:")
    mem_line = ""
    if "rss_per_100k_docs_mib" in mem:
        held = mem["rss"]["docstrings"]["held"]
        added = mem["rss_added_by_loading_mib"]
        mem_line = (
            f"Loading the searchers adds {added['scifact']:.0f} MiB (SciFact) and {added['docstrings']:.0f} MiB "
            f"(docstrings): **{mem['rss_per_100k_docs_mib']:.0f} MiB per 100,000 documents** beyond the fixed part "
            "(JVM, model, torch)")
        if "rss_per_100k_docs_mib_after_malloc_trim" in mem:
            mem_line += f", {mem['rss_per_100k_docs_mib_after_malloc_trim']:.0f} MiB after `malloc_trim(0)`"
        vectors = ("`DenseSearcher.embeddings`, which fills dense scores, is a view of that storage (no second copy)"
                   if held.get("dense_embeddings_is_faiss_storage") else
                   f"`DenseSearcher.embeddings` holds a second float32 copy ({held['dense_embeddings_mib']:.0f} MiB, "
                   "used to fill dense scores)")
        loads = "; ".join(f"{n} BM25Searcher {r['load_s']['BM25Searcher']:.1f} s, DenseSearcher "
                          f"{r['load_s']['DenseSearcher']:.1f} s" for n, r in mem["rss"].items())
        mem_line += (f". In the docstrings searcher FAISS holds {held['faiss_vectors_mib']:.0f} MiB of vectors; "
                     f"{vectors}; the model's parameters take {held['model_parameters_mib']:.0f} MiB. Load times: "
                     f"{loads}. The growth during the queries is the JVM heap's and torch's warm-up (it levels off).")
    diag = out.get("diagnostics", {})
    diag_parts = []
    tc = diag.get("thread_contention_docstrings")
    if tc:
        rows = [[k, f"{v['encode_ms_p50']:.2f}", f"{v['faiss_ms_p50']:.2f}", f"{v['faiss_back_to_back_ms_p50']:.2f}",
                 f"{v['hybrid_p50_ms']:.1f}", f"{v['hybrid_p95_ms']:.1f}", f"{v['other_processes_cores']:.2f}"]
                for k, v in tc["runs"].items()]
        tc_intro = (f"torch ({tc['torch_threads']} threads) and FAISS on the docstrings corpus, p50 ms per query: "
                 f"query encoding followed by a FAISS search at depth {tc['depth']}, as `search` runs them "
                 f"(encoding alone: {tc['encode_alone_ms_p50']:.2f} ms), FAISS searches back to back, and the "
                 "whole weighted depth-100 `search`:")
        diag_parts += [tc_intro, "", fmt_table(["FAISS OpenMP threads", "encode", "FAISS search", "FAISS back to back",
                                             "hybrid p50", "hybrid p95", "others (cores)"], rows), ""]
    for name in ("bm25_fill_scifact", "bm25_fill_docstrings"):
        fill = diag.get(name)
        if fill:
            corpus = name.rsplit("_", 1)[1]
            rows = [[FILL_STEPS.get(k, k), f"{v:.2f}"] for k, v in fill["ms_mean"].items()]
            fill_intro = (f"`BM25Searcher.score_documents` when filling, {corpus}, weighted depth {fill['depth']} "
                          f"({fill['ids_per_query_mean']:.0f} ids per query), mean ms: the steps it records in a "
                          "`StepTimes`, and the rest of its time:")
            diag_parts += [fill_intro, "", fmt_table(["step", "ms"], rows), ""]
    parts = [
        "## Dense and hybrid", "", intro, "",
        "### Targets", "", fmt_table(["target", "measured", ""], target_rows, "lrl"), "",
        "### Encode throughput (documents/s)", "", encode_intro, "", encode_table(out), "", onnx_line, "",
        "### bfloat16 effectiveness (SciFact test, 300 queries, k=1000, query ids removed)", "",
        effectiveness_table(out), "", eff_line, "",
        "### Hybrid query latency (one query at a time, `HybridSearcher.search(q, k=10)`, query encoding included)",
        "", latency_intro, "", latency_table(out), "", qe_line, "",
        "### Memory", "", "On disk (apparent file sizes; MiB, and scaled to 100,000 documents):", "", disk, "",
        rss_intro, "", rss, "", mem_line, "",
        "### Builds", "", builds_table(out), "",
    ]
    if diag_parts:
        parts += ["### Diagnostics", "", *diag_parts]
    if out.get("reading"):
        parts += ["### Reading", "", *out["reading"], ""]
    path.write_text("\n".join(parts))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scifact", type=Path, default=REPO.parent / "shared/data/beir/scifact",
                   help="BEIR SciFact folder (queries.jsonl, qrels/test.tsv)")
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
    p.add_argument("--max-queries", type=int, help="use only the first N SciFact test queries (effectiveness "
                                                    "and latency; a short check run)")
    p.add_argument("--quick", action="store_true",
                   help="a short check run (a few minutes): no big corpus, the first 20 SciFact queries, 64 "
                        "documents per encode sample, one encode round and one latency pass, output under "
                        "benchmarks/out/quick/; options given explicitly win (figures not for BENCHMARKS.md)")
    p.add_argument("--reuse", action="store_true", help="reuse indexes already under --root (their build "
                                                         "timings come from the run that built them)")
    p.add_argument("--section-only", action="store_true", help="remake dense_section.md from dense.json")
    p.add_argument("--rss-probe", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:  # shrink what was not given explicitly
        p.set_defaults(**QUICK)
        args = p.parse_args(argv)
    if args.rss_probe:
        return rss_probe(args)

    json_path, md_path = args.out / "dense.json", args.out / "dense_section.md"
    if args.section_only:
        out = json.loads(json_path.read_text())
        out["reading"] = reading(out)
        json_path.write_text(json.dumps(out, indent=1, default=str))
        write_section(out, md_path)
        print(f"wrote {md_path}")
        return 0
    if args.root.resolve() == (REPO / "indexes").resolve():
        p.error("--root: build benchmark artifacts elsewhere than ./indexes")
    out = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "argv": sys.argv[1:],
           "machine": machine_facts(), "builds": {}}
    t0 = perf()
    run_all(args, out)
    out["machine"]["load_average_at_end"] = os.getloadavg()
    out["wall_s"] = perf() - t0
    out["targets"] = targets(out)
    out["reading"] = reading(out)
    args.out.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(out, indent=1, default=str))
    print_report(out)
    write_section(out, md_path)
    print(f"\nwrote {json_path} and {md_path}")
    return 0


def reading(out: dict) -> list[str]:
    """A short reading of the figures, every number taken from ``out``."""
    lines = []
    enc, eff, lat, mem = out["encode"], out["effectiveness"], out["latency"], out["memory"]
    diag = out.get("diagnostics", {})
    flags = out["machine"]["cpu_flags"]
    ratios, reached = [], []
    for sample, data in enc["samples"].items():
        s = data["systems"]
        st32 = s["sentence-transformers fp32"]
        others = [f"{name} {r['ratio_to_st_fp32']:.2f}x" for name, r in s.items() if name != "sentence-transformers fp32"]
        best = fastest_gaia(s)
        reached.append(s[best]["ratio_to_st_fp32"] >= ENCODE_TARGET)
        ratios.append(f"{sample}: {best} {s[best]['ratio_to_st_fp32']:.2f}x (median call "
                      f"{s[best]['call_ratio_median']:.2f}x, best rounds "
                      f"{s[best]['docs_per_s'] / st32['docs_per_s']:.2f}x; all: {', '.join(others)})")
    lines.append(
        "- **Encoding.** Against sentence-transformers in fp32: " + "; ".join(ratios) + ". In fp32 gaia_lite and "
        "sentence-transformers do the same work (length-sorted batches of 64, same tokenizer, same vectors); "
        "bfloat16 arithmetic is the first gain and torch.compile the second: it fuses the element-wise work (layer "
        "norm, copies) between the matrix products and, with TorchInductor's freezing, runs the linear layers as "
        "oneDNN kernels with prepacked weights that add the bias and apply GELU or the residual sum themselves. "
        f"This CPU has avx512_bf16 {'but no AMX' if not flags['amx_bf16'] else 'and AMX'}; gaia_lite's fastest "
        + (f"encoder reaches the {ENCODE_TARGET:g}x target on every sample." if all(reached) else
           f"encoder misses the {ENCODE_TARGET:g}x target on {reached.count(False)} of {len(reached)} samples."))
    d = eff["diff_bf16_minus_fp32"]
    lines.append(
        f"- **bf16 effectiveness.** On SciFact the bf16 index with bf16 queries scores nDCG@10 {d['nDCG@10']:+.4f} "
        f"and R@100 {d['R@100']:+.4f} against fp32 (target: nDCG@10 within {NDCG_TOLERANCE}); the weighted hybrid "
        f"moves by {eff['diff_hybrid_bf16_minus_fp32']['nDCG@10']:+.4f}. Document vectors keep a cosine of at "
        f"least {eff['doc_vectors_cosine_bf16_vs_fp32']['min']:.4f} to fp32; top-10 lists overlap "
        f"{eff['top10_bf16_vs_fp32']['mean_top10_overlap']:.1%} on average.")
    dl = eff["fp32_index_loaded_without_encoder_uses"]
    if dl["index_dtype"] != dl["query_encoder_dtype"]:
        lines.append(
            f"- **Query dtype.** `DenseSearcher(index_dir)` without an encoder (so also `open_searcher`) "
            f"encodes queries in {dl['query_encoder_dtype']} on this CPU even for a {dl['index_dtype']} index: it "
            "rebuilds the encoder from the settings stored in the index but leaves out the stored `dtype`, so "
            "`dtype=\"auto\"` decides. On SciFact that changes nDCG@10 by "
            f"{eff['diff_fp32_index_bf16_queries']['nDCG@10']:+.4f} and R@100 by "
            f"{eff['diff_fp32_index_bf16_queries']['R@100']:+.4f}: small, but not what the index metadata says.")
    else:
        lines.append(
            f"- **Query dtype.** `DenseSearcher(index_dir)` without an encoder encodes queries in the dtype the index "
            f"was built in ({dl['query_encoder_dtype']} for the fp32 SciFact index): checked. Queries in bf16 "
            f"against the fp32 index would move nDCG@10 by {eff['diff_fp32_index_bf16_queries']['nDCG@10']:+.4f} "
            f"and R@100 by {eff['diff_fp32_index_bf16_queries']['R@100']:+.4f}.")
    sci = lat["scifact"]["settings"]
    w100, w1000, rrf = sci["weighted, depth 100"], sci["weighted, depth 1000"], sci["rrf, depth 100"]
    lines.append(
        f"- **SciFact latency.** p95 is {rrf['p95_ms']:.1f} ms (RRF, depth 100) to {w1000['p95_ms']:.1f} ms "
        f"(weighted, depth 1000). Query encoding in fp32 takes {w100['split_ms_mean']['encode']:.1f} ms of it "
        f"({w100['split_ms_mean']['encode'] / w100['split_ms_mean']['total']:.0%} at depth 100). At depth 1000 "
        f"filling the BM25 scores of ~{w1000['filled_per_query_mean']['bm25']:.0f} dense-only documents costs "
        f"{w1000['split_ms_mean']['fill_bm25']:.1f} ms, BM25 search {w1000['split_ms_mean']['bm25_search']:.1f} ms "
        f"and the fusion in Python {w1000['split_ms_mean']['fusion']:.1f} ms.")
    fill = diag.get("bm25_fill_scifact")
    if fill:
        ms = fill["ms_mean"]
        whole = ms[FILL_WHOLE]
        lines.append(
            f"- **BM25 filling.** Of `score_documents`'s {whole:.1f} ms for "
            f"{fill['ids_per_query_mean']:.0f} ids (SciFact, depth {fill['depth']}), {ms['id_filter']:.1f} ms "
            f"({ms['id_filter'] / whole if whole else 0:.0%}) go to building the id filter: the ids cross into Java "
            "as one JSON string that Jackson reads into `BytesRef`s (until 2026-11-24 one pyjnius call per id, 3.2 "
            "of 3.8 ms). Lucene's search and Jackson take "
            f"{ms['lucene_search'] + ms['jackson_json']:.1f} ms.")
    big = lat.get("docstrings")
    if big:
        b = big["settings"]
        worst = max(b.values(), key=lambda r: r["p95_ms"])
        split = b["weighted, depth 100"]["split_ms_mean"]
        names = {"encode": "query encoding", "bm25_search": "BM25 search", "dense_search": "dense search (FAISS)",
                 "fill_bm25": "BM25 filling", "fill_dense": "dense filling", "fusion": "fusion"}
        top2 = sorted(SPLIT_PARTS, key=lambda k: -split[k])[:2]
        lines.append(
            f"- **{big['docs']:,} docstrings.** The worst p95 is {worst['p95_ms']:.1f} ms, "
            + ("within" if worst["p95_ms"] <= P95_TARGET_MS else "over")
            + f" the {P95_TARGET_MS:g} ms target. At weighted depth 100, of a mean {split['total']:.1f} ms, "
            + " and ".join(f"{names[k]} takes {split[k]:.1f} ms" for k in top2)
            + f"; FAISS's exact scan reads {big['docs']:,} x 384 float32 vectors "
            f"({big['docs'] * 384 * 4 / 2**20:.0f} MiB) per query, and bf16 query encoding, "
            f"{lat['query_encoding_parts']['bf16']['encode_query_ms_p50']:.1f} ms p50 when it runs alone, takes "
            f"{split['encode']:.1f} ms on average here.")
    tc = diag.get("thread_contention_docstrings")
    if tc:
        runs = tc["runs"]
        dflt, one = runs[f"faiss threads {tc['faiss_threads_default']}"], runs["faiss threads 1"]
        both = dflt["encode_ms_p50"] + dflt["faiss_ms_p50"]
        both1 = one["encode_ms_p50"] + one["faiss_ms_p50"]
        text = (f"- **torch and FAISS threads.** Alone, a bf16 query encodes in {tc['encode_alone_ms_p50']:.1f} ms "
                f"(p50). Followed by a FAISS search as in `search`, with FAISS's default "
                f"{tc['faiss_threads_default']} OpenMP threads, encoding takes {dflt['encode_ms_p50']:.1f} ms and the "
                f"search {dflt['faiss_ms_p50']:.1f} ms; with `faiss.omp_set_num_threads(1)`, "
                f"{one['encode_ms_p50']:.1f} ms and {one['faiss_ms_p50']:.1f} ms (FAISS back to back: "
                f"{dflt['faiss_back_to_back_ms_p50']:.1f} vs {one['faiss_back_to_back_ms_p50']:.1f} ms).")
        if both > 1.2 * both1:
            text += (" torch and faiss-cpu each ship their own libgomp; most likely the idle, spinning threads of "
                     "one hold the cores the other needs. The weighted depth-100 search goes from p50 "
                     f"{dflt['hybrid_p50_ms']:.1f} / p95 {dflt['hybrid_p95_ms']:.1f} ms to {one['hybrid_p50_ms']:.1f} / "
                     f"{one['hybrid_p95_ms']:.1f} ms with one FAISS thread.")
        else:
            text += " No contention worth the name at this size."
        lines.append(text)
    if "docstrings" in mem["disk"]:
        parts = mem["disk"]["docstrings"]["parts"]
        r = mem["rss"]["docstrings"]
        held = r["held"]
        text = (f"- **Memory.** Per 100,000 docstrings on disk: dataset {parts['dataset']['mib_per_100k_docs']:.0f} "
                f"MiB, Lucene index {parts['sparse index (Lucene, flat)']['mib_per_100k_docs']:.0f} MiB, dense index "
                f"{parts['dense index (all)']['mib_per_100k_docs']:.0f} MiB, which holds the vectors twice (FAISS "
                "file and embeddings dataset, 146 MiB per 100k each).")
        if "rss_per_100k_docs_mib" in mem:
            text += (f" In memory a loaded HybridSearcher costs {mem['rss_per_100k_docs_mib']:.0f} MiB per 100,000 "
                     f"documents, mostly FAISS's vectors ({held['faiss_vectors_mib']:.0f} MiB for {r['docs']:,}); "
                     + ("the vectors that fill dense scores are a view of FAISS's storage, not a second copy"
                        if held.get("dense_embeddings_is_faiss_storage") else
                        f"`DenseSearcher.embeddings` adds a second copy ({held['dense_embeddings_mib']:.0f} MiB)"))
            if "rss_per_100k_docs_mib_after_malloc_trim" in mem:
                kept = mem["rss_per_100k_docs_mib"] - mem["rss_per_100k_docs_mib_after_malloc_trim"]
                text += f"; heap freed while loading but kept by the allocator: {kept:.0f} MiB per 100k"
            text += (f". Loading the dense side takes {r['load_s']['DenseSearcher']:.1f} s for {r['docs']:,} "
                     "documents.")
        lines.append(text)
    return lines


if __name__ == "__main__":
    sys.exit(main())
