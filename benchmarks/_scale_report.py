"""bench_scale's report: the tables it prints and the "Scaling out" section of BENCHMARKS.md, from one run's JSON."""

from __future__ import annotations

from pathlib import Path

from _common import markdown_table
from _scale_build import SHARDS, WORKERS


def others_note(cores: float) -> str:
    """The CPU cores other processes used during a measurement, as the tables show it."""
    return f"{cores:.2f}"


def same_text(row: dict) -> str:
    """Whether a build row's artifact is the unsharded one's, in words."""
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
    return markdown_table(["build", "where", "docs", "shards", "seconds (shards + rest)", "docs/s", "speed-up",
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
    return markdown_table([f"{part['docs']:,} documents", "figure", "details", "others"], rows, "lrlr")


def ann_table(sweep: dict) -> str:
    rows = []
    for r in sweep["rows"]:
        build = f"{r['build_s']:.1f}"
        rows.append([r["index"], r["setting"] + (" (default)" if r["gaia_lite_default"] and r["index"] != "flat"
                                                 else ""), build, f"{r['bytes'] / 2**20:,.1f}",
                     f"{r['bytes_per_vector']:,.0f}", f"{r['recall@10']:.3f}", f"{r['qps']:,.0f}",
                     f"{r['speedup_over_flat']:.1f}x", "**yes**" if r["target_met"] else "no",
                     others_note(max(r["others"], r["build_others"]))])
    return markdown_table(["index", "search setting", "build s", "MiB", "bytes/vector", "recall@10", "queries/s",
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
