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

Part 1 is measured in ``_scale_build.py``, part 3 in ``_scale_ann.py``, and the report made in ``_scale_report.py``;
part 2 is here, with the child processes it runs; the corpora come from ``_corpora.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path
from time import perf_counter as perf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helper modules, also when imported as a module (tests)
from _common import (  # noqa: E402
    OtherLoad, add_quick, child_reply, cpu_model, log, machine_basics, parse_args, pct, proc_mib,
    refuse_indexes_root, run_in_parts, tree_bytes)
from _common import run_child as run_script  # noqa: E402
from _corpora import docstrings_corpus, million_corpus  # noqa: E402
from _queries import first_sentences  # noqa: E402
from _scale_ann import part_ann  # noqa: E402
from _scale_build import part_build  # noqa: E402
from _scale_report import print_report, write_section  # noqa: E402

PARTS = ("build", "million", "ann", "app")
CHILD_MARK = "BENCH_SCALE_CHILD "
# What --quick sets, unless given: a run of a few minutes that exercises every measurement.
QUICK = {"docs": 3000, "encode_docs": 600, "million": 20_000, "vectors": 20_000, "ann_queries": 300,
         "max_seconds": 3.0, "out": REPO / "benchmarks" / "out" / "quick"}


def machine_facts() -> dict:
    import faiss
    import torch

    return {"cpu": cpu_model(), "cores": os.cpu_count(), "cores_usable": len(os.sched_getaffinity(0)),
            "torch_threads": torch.get_num_threads(), "faiss_omp_threads": faiss.omp_get_max_threads(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            **machine_basics(REPO, ("gaia-lite", "pyserini", "faiss-cpu", "torch", "transformers", "ray",
                                    "datasets", "pyarrow", "numpy"))}


# ----------------------------------------------------------------------------------------------- 2. a million documents


def run_child(what: str, *args) -> dict:
    """Run this script as ``--child what args...`` in a fresh process; its JSON, with the process's wall time
    and the CPU that other processes used meanwhile."""
    result, wall, others = run_script(Path(__file__).resolve(), CHILD_MARK, "--child", what, *args)
    return result | {"process_wall_s": wall, "others": others}


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


def part_million(args, root: Path, source) -> dict:
    """Part 2: a corpus of a million documents: its builds, BM25 latency, the explorer's start."""
    corpus, corpus_build = million_corpus(source, root, args.million, args.seed, reuse=args.root is not None)
    log(f"[million] Lucene build of {len(corpus):,} documents, automatic shards, in a child process")
    lucene = run_child("sparse-build", corpus.folder)
    lucene["index_mib"] = tree_bytes(Path(lucene["index"])) / 2**20
    queries = first_sentences(corpus, args.latency_queries, args.seed,
                              rows=corpus_build["replication"]["source_docs"])
    log(f"[million] BM25 latency, {len(queries)} queries, k=10 and k=100")
    latency = bm25_latency(lucene["index"], corpus, queries)
    log("[million] explorer start (BM25 only) in a child process")
    explorer = run_child("explorer", corpus.folder, next(iter(queries.values())))
    return {"docs": len(corpus), "corpus": corpus_build, "lucene": lucene, "latency": latency,
            "queries": {"n": len(queries), "kind": "docstring first sentences of copy 0 (3-40 words)",
                        "examples": list(queries.values())[:3]}, "explorer": explorer}


CHILDREN = {"sparse-build": child_sparse_build, "explorer": child_explorer}


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
    add_quick(p, "a few minutes: 3,000 docs, 600 encoded, 20,000 docs and vectors, output under benchmarks/out/quick/")
    p.add_argument("--section-only", action="store_true", help="remake scale_section.md from scale.json")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parse_args(p, argv, QUICK)
    args.parts = [x.strip() for x in args.parts.split(",") if x.strip()]
    if unknown := set(args.parts) - set(PARTS):
        p.error(f"--parts: unknown {', '.join(sorted(unknown))}; choose among {', '.join(PARTS)}")
    refuse_indexes_root(p, args.root)
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
        child_reply(CHILD_MARK, CHILDREN[what](*rest))
        return 0
    return run_in_parts(Path(__file__).resolve(), "scale", args, argv, machine_facts, run_parts, print_report,
                        write_section)


if __name__ == "__main__":
    sys.exit(main())
