"""Serving a corpus in parts: the same answers as one index, and what a served front costs in latency, throughput,
memory, disk and build time (issue 21).

Run by ``make bench-serve``. Prints the tables, writes ``benchmarks/out/serve.json`` (figures + machine facts) and
``benchmarks/out/serve_section.md`` (a section for BENCHMARKS.md, made from that JSON; ``--section-only`` remakes
it). Every timed block records how many CPU cores other processes used meanwhile ("others", as bench_scale).

What is measured; each part can be chosen with ``--parts``:

1. ``scifact``: BEIR SciFact as one index and as ``--scifact-parts`` (3) parts, built under the root with
   gaia_lite's builds; all 300 test queries at k=1000 with BM25, dense (all-MiniLM-L6-v2, float32, flat) and the
   default hybrid: per retriever, the queries whose ids (in order) are the one index's, the largest |score
   difference|, and nDCG@10 of each, for the parts searched in process (``open_searcher(parted corpus)``) and
   through the served front (HTTP, ``gaia-lite serve``) (``_serve_identity.py``).
2. ``million``: bench_scale's corpus of at least ``--million`` documents, as one index and in ``--million-parts``
   (4) parts; BM25 only (``_serve_million.py`` says why). Lucene builds (CPU seconds a document, peak memory),
   size on disk, resident memory of one index and of one part opened alone, and BM25 latency at ``--k``, one
   query at a time over ``--latency-queries`` docstring first sentences: one index in process (the reference),
   the parts in process, and the served front over HTTP. Then queries/s from ``--clients`` concurrent clients
   for ``--seconds`` with 1 and 2 replicas a part, and each replica's resident memory (``_serve_front.py``).
   The served runs use a Ray cluster of ``--nodes`` (3) nodes on this machine (``ray.cluster_utils.Cluster``),
   started by this script and shut down at the end.
3. ``faiss``: bytes a vector and build CPU of each FAISS index type, made by gaia_lite's factory over
   ``--faiss-vectors`` random unit vectors (``_serve_costs.py``).

``--quick`` makes a short check run (20,000 documents, a few queries); its figures are not for BENCHMARKS.md.
``--root DIR`` keeps the corpora and indexes and reuses them in later runs (their build figures are then the
ones recorded when they were built); by default they go to a temporary folder, removed at the end. The script
uses gaia_lite's public API only.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from time import perf_counter as perf
from time import process_time

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helper modules
from _common import (  # noqa: E402
    add_quick, add_scifact, child_reply, cpu_model, log, machine_basics, parse_args, proc_mib, refuse_indexes_root,
    run_in_parts, tree_bytes)
from _common import run_child as run_script  # noqa: E402
from _serve_costs import faiss_costs  # noqa: E402
from _serve_identity import part_scifact  # noqa: E402
from _serve_million import part_million  # noqa: E402
from _serve_report import print_report, write_section  # noqa: E402

PARTS = ("scifact", "million", "faiss")
CHILD_MARK = "BENCH_SERVE_CHILD "
QUICK = {"million": 20_000, "latency_queries": 40, "seconds": 5.0, "faiss_vectors": 20_000,
         "out": REPO / "benchmarks" / "out" / "quick"}


def machine_facts() -> dict:
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "cores_usable": len(os.sched_getaffinity(0)),
            **machine_basics(REPO, ("gaia-lite", "pyserini", "faiss-cpu", "torch", "ray", "datasets", "numpy"))}


# ----------------------------------------------------------------------------------------------- child processes


def run_child(what: str, *args) -> dict:
    """This script as ``--child what args...`` in a fresh process: its JSON, wall seconds and others' CPU."""
    result, wall, others = run_script(Path(__file__).resolve(), CHILD_MARK, "--child", what, *args)
    return result | {"process_wall_s": wall, "others": others}


def child_sparse_build(folder: str) -> dict:
    """Build the corpus's Lucene index (one index, or each part in turn), in process: seconds, CPU seconds (every
    thread, the JVM's included), peak memory, size on disk."""
    from gaia_lite.corpus import Corpus
    from gaia_lite.sparse import build_sparse_index

    corpus = Corpus.load(folder, verify=False)
    before = proc_mib()
    t, c = perf(), process_time()
    build_sparse_index(corpus, progress=False, log=None)
    seconds, cpu = perf() - t, process_time() - c
    parts = getattr(corpus, "parts", [corpus])
    size = sum(tree_bytes(p.folder / "sparse-flat") for p in parts)
    return {"docs": len(corpus), "parts": len(parts), "seconds": seconds, "cpu_s": cpu,
            "docs_per_s": len(corpus) / seconds, "docs_per_cpu_s": len(corpus) / cpu, "index_bytes": size,
            "bytes_per_doc": size / len(corpus), "rss_before_mib": before, "peak_rss_mib": proc_mib("VmHWM")}


def child_open_rss(folder: str, k: str, *queries: str) -> dict:
    """Open BM25 over one corpus folder (one index or one part) alone, search ``queries``: resident memory."""
    from gaia_lite.retriever import open_searcher

    before = proc_mib()
    searcher = open_searcher(folder, kind="bm25", progress=False, log=lambda *_: None)
    for q in queries:
        searcher.search(q, int(k))
    return {"rss_before_mib": before, "rss_mib": proc_mib(), "peak_rss_mib": proc_mib("VmHWM"),
            "docs": searcher.num_docs, "queries": len(queries)}


CHILDREN = {"sparse-build": child_sparse_build, "open-rss": child_open_rss}


# ----------------------------------------------------------------------------------------------- main


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma list of {', '.join(PARTS)}")
    add_scifact(p, "corpus.jsonl, queries.jsonl, qrels/test.tsv")
    p.add_argument("--scifact-parts", type=int, default=3)
    p.add_argument("--million", type=int, default=1_000_000, help="documents of the replicated corpus, at least")
    p.add_argument("--million-parts", type=int, default=4)
    p.add_argument("--k", type=int, default=10, help="hits a query in the latency and throughput runs")
    p.add_argument("--latency-queries", type=int, default=300)
    p.add_argument("--clients", type=int, default=4, help="concurrent clients of the throughput runs")
    p.add_argument("--seconds", type=float, default=30.0, help="length of each throughput run")
    p.add_argument("--nodes", type=int, default=3, help="nodes of the local Ray cluster")
    p.add_argument("--node-cpus", type=int, default=4, help="logical CPUs a node declares to Ray")
    p.add_argument("--replicas", default="1,2", help="replicas a part, one throughput run each")
    p.add_argument("--faiss-vectors", type=int, default=50_000)
    p.add_argument("--no-serve", dest="serve", action="store_false", help="skip the served front")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--root", type=Path, help="keep corpora and indexes here and reuse them (default: a temporary "
                                             "folder, removed at the end)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out", help="folder for serve.json and "
                                                                                "serve_section.md")
    add_quick(p, "a few minutes: 20,000 docs, 40 queries, 5 s a throughput run; output under benchmarks/out/quick/")
    p.add_argument("--section-only", action="store_true", help="remake serve_section.md from serve.json")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parse_args(p, argv, QUICK)
    args.parts = [x.strip() for x in args.parts.split(",") if x.strip()]
    args.replicas = [int(r) for r in args.replicas.split(",") if r.strip()]
    if unknown := set(args.parts) - set(PARTS):
        p.error(f"--parts: unknown {', '.join(sorted(unknown))}; choose among {', '.join(PARTS)}")
    refuse_indexes_root(p, args.root)
    return args


def run_parts(args, root: Path, out: dict, save) -> None:
    serving = None
    if args.serve and ({"scifact", "million"} & set(args.parts)):
        try:
            from _serve_front import Serving
        except ImportError as e:
            out["serve"] = {"skipped": f"gaia_lite.serve is not there ({e})"}
            log(f"[serve] skipped: {e}")
        else:
            serving = Serving(args, root)
    try:
        if "faiss" in args.parts:
            out["parts"]["faiss"] = faiss_costs(args.faiss_vectors, args.seed)
            save()
        if "scifact" in args.parts:
            out["parts"]["scifact"] = part_scifact(args, root, serving and serving.scifact)
            save()
        if "million" in args.parts:
            out["parts"]["million"] = part_million(args, root, run_child, serving and serving.million)
            save()
    finally:
        if serving is not None:
            out["serve"] = serving.close()


def main(argv=None) -> int:
    args = parse(argv)
    if args.child:
        what, *rest = args.child
        child_reply(CHILD_MARK, CHILDREN[what](*rest))
        return 0
    return run_in_parts(Path(__file__).resolve(), "serve", args, argv, machine_facts, run_parts, print_report,
                        write_section)


if __name__ == "__main__":
    sys.exit(main())
