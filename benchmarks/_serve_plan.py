"""bench_serve's capacity plan: the costs it measured (bytes a document on disk and in memory, CPU-seconds a
document to build, a part replica's memory) multiplied out to 100M, 1B and 10B documents. README, "Serving at
scale", copies the table this makes.

Assumptions, stated in the table's notes: documents as long as SciFact's (the costs measured on it; Lucene's
build CPU a word measured on the million documents), parts of
``AUTO_PART_SIZE`` documents (gaia_lite's automatic part size), each part served by ``REPLICAS`` replicas, each
replica on a node of its own with ``NODE_GIB`` of memory and ``NODE_CORES`` cores; dense side all-MiniLM-L6-v2
(384 dimensions) with the FAISS type given; memory = FAISS index + the replica's own memory measured (Lucene's
files are memory-mapped: the OS caches what memory is left, the rest is read from local disk); disk = the part's
dataset + Lucene index + dense folder (FAISS index + stored float32 vectors), per replica.
"""

from __future__ import annotations

import math

from _common import markdown_table

SIZES = (100_000_000, 1_000_000_000, 10_000_000_000)
REPLICAS = 2
NODE_GIB = 128
NODE_CORES = 32
DENSE_TYPES = ("flat", "hnsw", "ivfpq")


def unit_costs(out: dict) -> dict | None:
    """Per-document costs the plan multiplies, from a run's figures (None where the run lacks them)."""
    sc, fa, mi = out["parts"].get("scifact"), out["parts"].get("faiss"), out["parts"].get("million")
    if not (sc and fa):
        return None
    disk = sc["disk_one"]
    dense = next(v for k, v in disk.items() if k.startswith("dense-"))
    builds = sc["builds"]["one"]
    replica_mib = None
    if mi and mi.get("served", {}).get("replica_memory"):
        replica_mib = max(r["rss_mib"] for r in mi["served"]["replica_memory"] if r["name"] != "front")
    elif mi:
        replica_mib = mi["memory"]["part"]["rss_mib"]
    if mi:  # Lucene's CPU a word, measured on the million documents, for documents of SciFact's length
        lucene_cpu = mi["builds"]["one"]["docs_per_cpu_s"] * mi["text"]["mean_words"] / sc["text"]["mean_words"]
    else:  # SciFact's own build: too small to amortize the JVM's start
        lucene_cpu = (builds.get("sparse") or {}).get("docs_per_cpu_s")
    return {"words": sc["text"]["mean_words"], "dataset": disk["dataset"]["bytes_per_doc"],
            "lucene": disk["sparse-flat"]["bytes_per_doc"], "stored_vectors": dense["embeddings_bytes_per_doc"],
            "faiss": {kind: fa[kind]["bytes_per_vector"] for kind in DENSE_TYPES if kind in fa},
            "faiss_cpu_s": {kind: fa[kind]["cpu_s_per_1k_vectors"] / 1000 for kind in DENSE_TYPES if kind in fa},
            "lucene_docs_per_cpu_s": lucene_cpu,
            "encode_docs_per_cpu_s": (builds.get("dense") or {}).get("docs_per_cpu_s"),
            "replica_mib": replica_mib}


def plan_rows(costs: dict, part_size: int) -> list[list]:
    rows = []
    gib, tib = 2**30, 2**40
    overhead = (costs["replica_mib"] or 0) * 2**20
    for n in SIZES:
        parts = math.ceil(n / part_size)
        docs, nodes = n / parts, parts * REPLICAS
        disk = docs * (costs["dataset"] + costs["lucene"] + costs["stored_vectors"])
        ram = {kind: (docs * b + overhead) / gib for kind, b in costs["faiss"].items()}
        hours = {"Lucene": n / (costs["lucene_docs_per_cpu_s"] or math.inf) / 3600,
                 "encoding": n / (costs["encode_docs_per_cpu_s"] or math.inf) / 3600,
                 "HNSW": n * costs["faiss_cpu_s"].get("hnsw", 0) / 3600}
        rows.append([f"{n:,}", parts, nodes, " / ".join(f"{ram[k]:,.0f}" for k in DENSE_TYPES if k in ram),
                     f"{disk / gib:,.0f}", f"{nodes * disk / tib:,.1f}",
                     " / ".join(f"{h:,.0f}" for h in hours.values()),
                     f"{sum(hours.values()) / (nodes * NODE_CORES):,.0f}"])
    return rows


def part_size_text() -> str:
    from gaia_lite.corpus.parts import AUTO_PART_SIZE

    return f"{AUTO_PART_SIZE / 1e6:.0f}M"


def plan_table(out: dict) -> str | None:
    """The capacity plan as a markdown table, or None where the run lacks the figures."""
    from gaia_lite.corpus.parts import AUTO_PART_SIZE

    costs = unit_costs(out)
    if costs is None:
        return None
    header = ["documents", f"parts ({part_size_text()} each)", f"nodes ({REPLICAS} replicas a part)",
              "RAM a replica GiB: " + " / ".join(k for k in DENSE_TYPES if k in costs["faiss"]),
              "disk a replica GiB", "disk total TiB", "build CPU-hours: Lucene / encoding / HNSW",
              f"build wall hours on the nodes ({NODE_CORES} cores each)"]
    notes = (f"Per document, measured: {costs['words']:.0f} words (SciFact); dataset {costs['dataset']:,.0f} B, "
             f"Lucene {costs['lucene']:,.0f} B, stored vectors {costs['stored_vectors']:,.0f} B on disk; FAISS "
             + ", ".join(f"{k} {v:,.0f} B" for k, v in costs["faiss"].items()) + " in memory; a part replica's own "
             f"memory {costs['replica_mib'] or 0:,.0f} MiB; Lucene {costs['lucene_docs_per_cpu_s'] or 0:,.0f} and "
             f"encoding {costs['encode_docs_per_cpu_s'] or 0:,.1f} documents a CPU-second.")
    return markdown_table(header, plan_rows(costs, AUTO_PART_SIZE)) + "\n\n" + notes
