"""bench_dense's report: the targets, the tables it prints, the "Dense and hybrid" section of BENCHMARKS.md and
the reading of the figures, all made from one run's JSON."""

from __future__ import annotations

from pathlib import Path

from _common import markdown_table
from _dense_search import FILL_STEPS, FILL_WHOLE, METRICS, SPLIT_PARTS

from gaia_lite.dense.index import ENCODE_CALL_TEXTS

ENCODE_TARGET = 3.0  # gaia_lite vs sentence-transformers fp32, docs/s
NDCG_TOLERANCE = 0.005
P95_TARGET_MS = 100.0
DISTURBED_CORES = 0.2


# ----------------------------------------------------------------------------------------------- targets and tables


def disturbed(cores: float) -> str:
    """A note for a figure taken while other processes used a noticeable share of the CPU."""
    return f" (disturbed: other processes used {cores:.2f} cores)" if cores > DISTURBED_CORES else ""


def fastest_gaia(systems: dict) -> str:
    """The name of gaia_lite's fastest encoder among ``systems`` (by its ratio to sentence-transformers fp32)."""
    return max((n for n in systems if n.startswith("gaia_lite")), key=lambda n: systems[n]["ratio_to_st_fp32"])


def latency_corpora(out: dict) -> dict:
    """``{corpus: its latency figures}`` (the latency part also holds the query encoding parts, not a corpus)."""
    return {c: data for c, data in out.get("latency", {}).items() if c != "query_encoding_parts"}


def targets(out: dict) -> dict:
    """``{target: {"value": measured, "met": bool}}`` of the figures in ``out``."""
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
    for corpus, data in latency_corpora(out).items():
        for name, row in data["settings"].items():
            t[f"hybrid p95 <= {P95_TARGET_MS:g} ms, {corpus} ({data['docs']:,} docs), {name}"] = {
                "value": f"{row['p95_ms']:.1f} ms" + disturbed(row["other_processes_cores_max"]),
                "met": row["p95_ms"] <= P95_TARGET_MS}
    return t


def encode_table(out: dict) -> str:
    rows = []
    for sample, data in out["encode"]["samples"].items():
        ts = data["token_stats"]
        for name, r in data["systems"].items():
            rows.append([f"{sample} ({data['texts']:,} docs, {ts['tokens_mean_after_truncation']:.0f} tokens)", name,
                         f"{r['docs_per_s']:.1f}", f"{r['docs_per_s_median']:.1f}", f"{r['ratio_to_st_fp32']:.2f}x",
                         f"{r['call_ratio_median']:.2f}x",
                         f"{r['cosine_to_st_fp32_min']:.4f}", f"{r['other_processes_cores_max']:.2f}"])
    return markdown_table(["sample (mean tokens)", "system", "docs/s (best round)", "docs/s (median round)",
                      "vs ST fp32 (all calls)", "vs ST fp32 (median call)", "min cosine to ST fp32",
                      "others (cores)"], rows, "llrrrrrr")


def effectiveness_table(out: dict) -> str:
    eff = out["effectiveness"]["metrics"]
    rows = [[name] + [f"{v[m]:.4f}" for m in METRICS] for name, v in eff.items()]
    return markdown_table(["SciFact test, k=1000", *METRICS], rows)


def latency_table(out: dict) -> str:
    rows = []
    for corpus, data in latency_corpora(out).items():
        for name, r in data["settings"].items():
            s = r["split_ms_mean"]
            rows.append([f"{corpus} ({data['docs']:,} docs, {data['encoder_dtype']})", name, f"{r['p50_ms']:.1f}",
                         f"{r['p95_ms']:.1f}", f"{r['max_ms']:.1f}"]
                        + [f"{s[p]:.2f}" for p in SPLIT_PARTS]
                        + [f"{r['filled_per_query_mean']['bm25']:.0f} / {r['filled_per_query_mean']['dense']:.0f}",
                           f"{r['other_processes_cores_max']:.2f}"])
    return markdown_table(["corpus", "fusion", "p50 ms", "p95 ms", "max ms", "encode", "BM25", "dense", "fill BM25",
                           "fill dense", "fusion ", "filled BM25/dense", "others (cores)"], rows, "llrrrrrrrrrrr")


def memory_tables(out: dict) -> tuple[str, str]:
    """(sizes on disk, resident memory by loading stage), a column a corpus."""
    mem = out["memory"]
    disk = mem["disk"]
    names = list(disk)
    rows = [[part] + [f"{disk[n]['parts'][part]['mib']:.1f} / {disk[n]['parts'][part]['mib_per_100k_docs']:.0f}"
                      for n in names] for part in disk[names[0]]["parts"]]
    disk = markdown_table(["artifact"] + [f"{n} ({disk[n]['docs']:,} docs): MiB / MiB per 100k" for n in names], rows)
    rnames = list(mem["rss"])
    stages = list(mem["rss"][rnames[0]]["stages_mib"])
    rows = []
    for i, stage in enumerate(stages):
        name = stage if i < len(stages) - 1 else "+ all queries"
        rows.append([name] + [f"{list(mem['rss'][n]['stages_mib'].values())[i]:.0f}" for n in rnames])
    rows.append(["peak (VmHWM)"] + [f"{mem['rss'][n]['peak_mib']:.0f}" for n in rnames])
    rss = markdown_table(["VmRSS, MiB"] + [f"{n} ({mem['rss'][n]['docs']:,} docs)" for n in rnames], rows)
    return disk, rss


def builds_table(out: dict) -> str:
    rows = [[name, f"{t['docs']:,}", f"{t['seconds']:.1f}", f"{t['docs_per_s']:.0f}",
             f"{t.get('other_processes_cores', float('nan')):.2f}",
             f"measured in an earlier run ({t.get('measured', '?')})" if t.get("reused") else ""]
            for name, t in out["builds"].items()]
    return markdown_table(["build", "docs", "seconds", "docs/s", "others (cores)", ""], rows, "lrrrrl")


# ----------------------------------------------------------------------------------------------- printed


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


# ----------------------------------------------------------------------------------------------- the section


def write_section(out: dict, path: Path) -> None:
    """BENCHMARKS.md's "Dense and hybrid" section, from one run's JSON."""
    target_rows = [[k, v["value"], "met" if v["met"] else "**not met**"] for k, v in targets(out).items()]
    disk, rss = memory_tables(out)
    parts = [
        "## Dense and hybrid", "", section_intro(out), "",
        "### Targets", "", markdown_table(["target", "measured", ""], target_rows, "lrl"), "",
        "### Encode throughput (documents/s)", "", encode_intro(out["settings"]), "", encode_table(out), "",
        encode_notes(out["encode"]["notes"]), "",
        "### bfloat16 effectiveness (SciFact test, 300 queries, k=1000, query ids removed)", "",
        effectiveness_table(out), "", effectiveness_line(out["effectiveness"]), "",
        "### Hybrid query latency (one query at a time, `HybridSearcher.search(q, k=10)`, query encoding included)",
        "", latency_intro(out), "", latency_table(out), "", query_encoding_line(out), "",
        "### Memory", "", "On disk (apparent file sizes; MiB, and scaled to 100,000 documents):", "", disk, "",
        "Resident memory (VmRSS, MiB) of a fresh process loading a HybridSearcher (`dtype=\"auto\"`, weighted "
        "fusion at depth 1000), after each step:", "", rss, "", memory_line(out["memory"]), "",
        "### Builds", "", builds_table(out), "",
    ]
    diagnostics = diagnostics_parts(out.get("diagnostics", {}))
    if diagnostics:
        parts += ["### Diagnostics", "", *diagnostics]
    if out.get("reading"):
        parts += ["### Reading", "", *out["reading"], ""]
    path.write_text("\n".join(parts))


def section_intro(out: dict) -> str:
    m = out["machine"]
    v, flags, notes = m["versions"], m["cpu_flags"], out["encode"]["notes"]
    yes = {True: "yes", False: "no"}
    return (
        f"`make bench-dense` (`benchmarks/bench_dense.py`), {out['date']}, {m['cpu']}, {m['cores']} cores, "
        f"torch {v['torch']} on {m['torch_threads']} threads, transformers {v['transformers']}, "
        f"sentence-transformers {v['sentence-transformers']}, faiss-cpu {v['faiss-cpu']}. "
        f"CPU flags: avx512_bf16 {yes[flags['avx512_bf16']]}, AMX {yes[flags['amx_bf16']]}, avx512_vnni "
        f"{yes[flags['avx512_vnni']]}; gaia_lite's `dtype=\"auto\"` resolves to {notes['auto_dtype']} here. "
        "Model: all-MiniLM-L6-v2 (mean pooling, 256 tokens). All figures: `benchmarks/out/dense.json`. "
        "\"others\": CPU cores that other processes used during the measurement (about 0 = undisturbed)."
    )


def encode_intro(settings: dict) -> str:
    return (
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


def encode_notes(notes: dict) -> str:
    return (f"torch.compile: {notes['compile_s']:.1f} s to compile in the warm-up (with freezing the graph is "
            "compiled again in every process; TorchInductor's on-disk cache keeps its C++ kernels). "
            f"ONNX Runtime int8: {notes['onnxruntime int8']}; optimum, the usual route, was not used: "
            "optimum-onnx 0.1.0 requires transformers < 4.58.")


def effectiveness_line(eff: dict) -> str:
    d, dh, dq = eff["diff_bf16_minus_fp32"], eff["diff_hybrid_bf16_minus_fp32"], eff["diff_fp32_index_bf16_queries"]
    cos, top = eff["doc_vectors_cosine_bf16_vs_fp32"], eff["top10_bf16_vs_fp32"]
    return (
        "bf16 − fp32, dense: " + ", ".join(f"{k} {v:+.4f}" for k, v in d.items())
        + "; weighted hybrid: " + ", ".join(f"{k} {v:+.4f}" for k, v in dh.items())
        + "; fp32 index with bf16 queries: " + ", ".join(f"{k} {v:+.4f}" for k, v in dq.items())
        + f". SciFact document vectors, bf16 vs fp32: cosine min {cos['min']:.4f}, mean {cos['mean']:.5f}; "
        f"identical top-10 lists for {top['identical_top10']} of {top['queries']} queries, mean top-10 overlap "
        f"{top['mean_top10_overlap']:.3f}."
    )


def latency_intro(out: dict) -> str:
    settings, big = out["settings"], out["latency"].get("docstrings")
    big_line = ""
    if big:
        bc, q = out["big_corpus"], big["queries"]
        cut = (f" (the first {bc['limit']:,} of {bc['docs_available']:,}: encoding all was estimated at "
               f"{bc['encode_estimate_s'] / 60:.0f} min)" if bc.get("limit") else "")
        big_line = (f"Big corpus: `builtin:docstrings`, {big['docs']:,} documents{cut}, {big['encoder_dtype']} "
                    f"encoder and index (`dtype=\"auto\"`), {q['n']} seeded queries: {q['kind']}, "
                    f"{q['words_mean']:.1f} words on average. ")
    return (
        f"SciFact: its {settings.get('scifact_queries', 300)} test queries, float32 encoder and index (the "
        "configs'). " + big_line
        + "Weighted = configs/scifact-hybrid-weighted.yaml's fusion (z-score, BM25 0.4 / dense 0.6, one-sided "
        "documents filled with their real score on the other side); RRF (k=60) fills nothing. One warm-up pass "
        f"per setting, then {settings['latency_passes']} timed passes per setting, interleaved; p50/p95/max over "
        "all timed queries. Columns encode … fusion: the split, mean ms per query, from a separate pass of `search` "
        "with a `gaia_lite.timing.StepTimes` attached (the steps HybridSearcher records itself); "
        "\"filled\": documents per query given their score on that side."
    )


def query_encoding_line(out: dict) -> str:
    qe = out["latency"]["query_encoding_parts"]
    return ("Query encoding alone (SciFact queries, p50 ms): " + "; ".join(
        f"{k}: tokenizer {v['tokenize_ms_p50']:.2f}, model forward {v['forward_ms_p50']:.2f}, whole "
        f"`encode_queries` {v['encode_query_ms_p50']:.2f}" for k, v in qe.items())
        + ". FAISS flat search alone, depth 1000, p50: " + "; ".join(
        f"{c} {data['faiss_only']['p50_ms']:.2f} ms" for c, data in latency_corpora(out).items()) + ".")


def memory_line(mem: dict) -> str:
    """What loading costs per 100,000 documents, and what the docstrings searcher holds (both corpora probed)."""
    if "rss_per_100k_docs_mib" not in mem:
        return ""
    held = mem["rss"]["docstrings"]["held"]
    added = mem["rss_added_by_loading_mib"]
    line = (f"Loading the searchers adds {added['scifact']:.0f} MiB (SciFact) and {added['docstrings']:.0f} MiB "
            f"(docstrings): **{mem['rss_per_100k_docs_mib']:.0f} MiB per 100,000 documents** beyond the fixed part "
            "(JVM, model, torch)")
    if "rss_per_100k_docs_mib_after_malloc_trim" in mem:
        line += f", {mem['rss_per_100k_docs_mib_after_malloc_trim']:.0f} MiB after `malloc_trim(0)`"
    vectors = ("`DenseSearcher.embeddings`, which fills dense scores, is a view of that storage (no second copy)"
               if held.get("dense_embeddings_is_faiss_storage") else
               f"`DenseSearcher.embeddings` holds a second float32 copy ({held['dense_embeddings_mib']:.0f} MiB, "
               "used to fill dense scores)")
    loads = "; ".join(f"{n} BM25Searcher {r['load_s']['BM25Searcher']:.1f} s, DenseSearcher "
                      f"{r['load_s']['DenseSearcher']:.1f} s" for n, r in mem["rss"].items())
    return line + (f". In the docstrings searcher FAISS holds {held['faiss_vectors_mib']:.0f} MiB of vectors; "
                   f"{vectors}; the model's parameters take {held['model_parameters_mib']:.0f} MiB. Load times: "
                   f"{loads}. The growth during the queries is the JVM heap's and torch's warm-up (it levels off).")


def diagnostics_parts(diag: dict) -> list[str]:
    """The diagnostics that ran, each an introduction and a table."""
    parts = []
    tc = diag.get("thread_contention_docstrings")
    if tc:
        rows = [[k, f"{v['encode_ms_p50']:.2f}", f"{v['faiss_ms_p50']:.2f}", f"{v['faiss_back_to_back_ms_p50']:.2f}",
                 f"{v['hybrid_p50_ms']:.1f}", f"{v['hybrid_p95_ms']:.1f}", f"{v['other_processes_cores']:.2f}"]
                for k, v in tc["runs"].items()]
        intro = (f"torch ({tc['torch_threads']} threads) and FAISS on the docstrings corpus, p50 ms per query: "
                 f"query encoding followed by a FAISS search at depth {tc['depth']}, as `search` runs them "
                 f"(encoding alone: {tc['encode_alone_ms_p50']:.2f} ms), FAISS searches back to back, and the "
                 "whole weighted depth-100 `search`:")
        parts += [intro, "", markdown_table(["FAISS OpenMP threads", "encode", "FAISS search", "FAISS back to back",
                                             "hybrid p50", "hybrid p95", "others (cores)"], rows), ""]
    for name in ("bm25_fill_scifact", "bm25_fill_docstrings"):
        fill = diag.get(name)
        if fill:
            rows = [[FILL_STEPS.get(k, k), f"{v:.2f}"] for k, v in fill["ms_mean"].items()]
            intro = (f"`BM25Searcher.score_documents` when filling, {name.rsplit('_', 1)[1]}, weighted depth "
                     f"{fill['depth']} ({fill['ids_per_query_mean']:.0f} ids per query), mean ms: the steps it "
                     "records in a `StepTimes`, and the rest of its time:")
            parts += [intro, "", markdown_table(["step", "ms"], rows), ""]
    return parts


# ----------------------------------------------------------------------------------------------- the reading


def reading(out: dict) -> list[str]:
    """A short reading of the figures, every number taken from ``out``: a bullet a topic, for those measured."""
    eff, lat, mem, diag = out["effectiveness"], out["latency"], out["memory"], out.get("diagnostics", {})
    bullets = [encoding_bullet(out), bf16_bullet(eff), query_dtype_bullet(eff), scifact_latency_bullet(lat)]
    if diag.get("bm25_fill_scifact"):
        bullets.append(bm25_fill_bullet(diag["bm25_fill_scifact"]))
    if lat.get("docstrings"):
        bullets.append(docstrings_latency_bullet(lat["docstrings"], lat["query_encoding_parts"]))
    if diag.get("thread_contention_docstrings"):
        bullets.append(threads_bullet(diag["thread_contention_docstrings"]))
    if "docstrings" in mem["disk"]:
        bullets.append(memory_bullet(mem))
    return bullets


def encoding_bullet(out: dict) -> str:
    flags = out["machine"]["cpu_flags"]
    ratios, reached = [], []
    for sample, data in out["encode"]["samples"].items():
        s = data["systems"]
        st32 = s["sentence-transformers fp32"]
        others = [f"{name} {r['ratio_to_st_fp32']:.2f}x" for name, r in s.items()
                  if name != "sentence-transformers fp32"]
        best = fastest_gaia(s)
        reached.append(s[best]["ratio_to_st_fp32"] >= ENCODE_TARGET)
        ratios.append(f"{sample}: {best} {s[best]['ratio_to_st_fp32']:.2f}x (median call "
                      f"{s[best]['call_ratio_median']:.2f}x, best rounds "
                      f"{s[best]['docs_per_s'] / st32['docs_per_s']:.2f}x; all: {', '.join(others)})")
    return (
        "- **Encoding.** Against sentence-transformers in fp32: " + "; ".join(ratios) + ". In fp32 gaia_lite and "
        "sentence-transformers do the same work (length-sorted batches of 64, same tokenizer, same vectors); "
        "bfloat16 arithmetic is the first gain and torch.compile the second: it fuses the element-wise work (layer "
        "norm, copies) between the matrix products and, with TorchInductor's freezing, runs the linear layers as "
        "oneDNN kernels with prepacked weights that add the bias and apply GELU or the residual sum themselves. "
        f"This CPU has avx512_bf16 {'but no AMX' if not flags['amx_bf16'] else 'and AMX'}; gaia_lite's fastest "
        + (f"encoder reaches the {ENCODE_TARGET:g}x target on every sample." if all(reached) else
           f"encoder misses the {ENCODE_TARGET:g}x target on {reached.count(False)} of {len(reached)} samples."))


def bf16_bullet(eff: dict) -> str:
    d = eff["diff_bf16_minus_fp32"]
    return (
        f"- **bf16 effectiveness.** On SciFact the bf16 index with bf16 queries scores nDCG@10 {d['nDCG@10']:+.4f} "
        f"and R@100 {d['R@100']:+.4f} against fp32 (target: nDCG@10 within {NDCG_TOLERANCE}); the weighted hybrid "
        f"moves by {eff['diff_hybrid_bf16_minus_fp32']['nDCG@10']:+.4f}. Document vectors keep a cosine of at "
        f"least {eff['doc_vectors_cosine_bf16_vs_fp32']['min']:.4f} to fp32; top-10 lists overlap "
        f"{eff['top10_bf16_vs_fp32']['mean_top10_overlap']:.1%} on average.")


def query_dtype_bullet(eff: dict) -> str:
    dl, dq = eff["fp32_index_loaded_without_encoder_uses"], eff["diff_fp32_index_bf16_queries"]
    if dl["index_dtype"] != dl["query_encoder_dtype"]:
        return (
            f"- **Query dtype.** `DenseSearcher(index_dir)` without an encoder (so also `open_searcher`) "
            f"encodes queries in {dl['query_encoder_dtype']} on this CPU even for a {dl['index_dtype']} index: it "
            "rebuilds the encoder from the settings stored in the index but leaves out the stored `dtype`, so "
            f"`dtype=\"auto\"` decides. On SciFact that changes nDCG@10 by {dq['nDCG@10']:+.4f} and R@100 by "
            f"{dq['R@100']:+.4f}: small, but not what the index metadata says.")
    return (
        f"- **Query dtype.** `DenseSearcher(index_dir)` without an encoder encodes queries in the dtype the index "
        f"was built in ({dl['query_encoder_dtype']} for the fp32 SciFact index): checked. Queries in bf16 "
        f"against the fp32 index would move nDCG@10 by {dq['nDCG@10']:+.4f} and R@100 by {dq['R@100']:+.4f}.")


def scifact_latency_bullet(lat: dict) -> str:
    sci = lat["scifact"]["settings"]
    w100, w1000, rrf = sci["weighted, depth 100"], sci["weighted, depth 1000"], sci["rrf, depth 100"]
    split100, split1000 = w100["split_ms_mean"], w1000["split_ms_mean"]
    return (
        f"- **SciFact latency.** p95 is {rrf['p95_ms']:.1f} ms (RRF, depth 100) to {w1000['p95_ms']:.1f} ms "
        f"(weighted, depth 1000). Query encoding in fp32 takes {split100['encode']:.1f} ms of it "
        f"({split100['encode'] / split100['total']:.0%} at depth 100). At depth 1000 filling the BM25 scores of "
        f"~{w1000['filled_per_query_mean']['bm25']:.0f} dense-only documents costs {split1000['fill_bm25']:.1f} ms, "
        f"BM25 search {split1000['bm25_search']:.1f} ms and the fusion in Python {split1000['fusion']:.1f} ms.")


def bm25_fill_bullet(fill: dict) -> str:
    ms = fill["ms_mean"]
    whole = ms[FILL_WHOLE]
    return (
        f"- **BM25 filling.** Of `score_documents`'s {whole:.1f} ms for {fill['ids_per_query_mean']:.0f} ids "
        f"(SciFact, depth {fill['depth']}), {ms['id_filter']:.1f} ms ({ms['id_filter'] / whole if whole else 0:.0%}) "
        "go to building the id filter: the ids cross into Java as one JSON string that Jackson reads into "
        "`BytesRef`s (until 2026-11-24 one pyjnius call per id, 3.2 of 3.8 ms). Lucene's search and Jackson take "
        f"{ms['lucene_search'] + ms['jackson_json']:.1f} ms.")


STEP_NAMES = {"encode": "query encoding", "bm25_search": "BM25 search", "dense_search": "dense search (FAISS)",
              "fill_bm25": "BM25 filling", "fill_dense": "dense filling", "fusion": "fusion"}


def docstrings_latency_bullet(big: dict, query_encoding: dict) -> str:
    worst = max(big["settings"].values(), key=lambda r: r["p95_ms"])
    split = big["settings"]["weighted, depth 100"]["split_ms_mean"]
    top2 = sorted(SPLIT_PARTS, key=lambda k: -split[k])[:2]
    return (
        f"- **{big['docs']:,} docstrings.** The worst p95 is {worst['p95_ms']:.1f} ms, "
        + ("within" if worst["p95_ms"] <= P95_TARGET_MS else "over")
        + f" the {P95_TARGET_MS:g} ms target. At weighted depth 100, of a mean {split['total']:.1f} ms, "
        + " and ".join(f"{STEP_NAMES[k]} takes {split[k]:.1f} ms" for k in top2)
        + f"; FAISS's exact scan reads {big['docs']:,} x 384 float32 vectors "
        f"({big['docs'] * 384 * 4 / 2**20:.0f} MiB) per query, and bf16 query encoding, "
        f"{query_encoding['bf16']['encode_query_ms_p50']:.1f} ms p50 when it runs alone, takes "
        f"{split['encode']:.1f} ms on average here.")


def threads_bullet(tc: dict) -> str:
    dflt, one = tc["runs"][f"faiss threads {tc['faiss_threads_default']}"], tc["runs"]["faiss threads 1"]
    text = (f"- **torch and FAISS threads.** Alone, a bf16 query encodes in {tc['encode_alone_ms_p50']:.1f} ms "
            f"(p50). Followed by a FAISS search as in `search`, with FAISS's default "
            f"{tc['faiss_threads_default']} OpenMP threads, encoding takes {dflt['encode_ms_p50']:.1f} ms and the "
            f"search {dflt['faiss_ms_p50']:.1f} ms; with `faiss.omp_set_num_threads(1)`, "
            f"{one['encode_ms_p50']:.1f} ms and {one['faiss_ms_p50']:.1f} ms (FAISS back to back: "
            f"{dflt['faiss_back_to_back_ms_p50']:.1f} vs {one['faiss_back_to_back_ms_p50']:.1f} ms).")
    if dflt["encode_ms_p50"] + dflt["faiss_ms_p50"] > 1.2 * (one["encode_ms_p50"] + one["faiss_ms_p50"]):
        return text + (" torch and faiss-cpu each ship their own libgomp; most likely the idle, spinning threads of "
                       "one hold the cores the other needs. The weighted depth-100 search goes from p50 "
                       f"{dflt['hybrid_p50_ms']:.1f} / p95 {dflt['hybrid_p95_ms']:.1f} ms to "
                       f"{one['hybrid_p50_ms']:.1f} / {one['hybrid_p95_ms']:.1f} ms with one FAISS thread.")
    return text + " No contention worth the name at this size."


def memory_bullet(mem: dict) -> str:
    parts = mem["disk"]["docstrings"]["parts"]
    r = mem["rss"]["docstrings"]
    held = r["held"]
    text = (f"- **Memory.** Per 100,000 docstrings on disk: dataset {parts['dataset']['mib_per_100k_docs']:.0f} "
            f"MiB, Lucene index {parts['sparse index (Lucene, flat)']['mib_per_100k_docs']:.0f} MiB, dense index "
            f"{parts['dense index (all)']['mib_per_100k_docs']:.0f} MiB, which holds the vectors twice (FAISS "
            "file and embeddings dataset, 146 MiB per 100k each).")
    if "rss_per_100k_docs_mib" not in mem:
        return text
    text += (f" In memory a loaded HybridSearcher costs {mem['rss_per_100k_docs_mib']:.0f} MiB per 100,000 "
             f"documents, mostly FAISS's vectors ({held['faiss_vectors_mib']:.0f} MiB for {r['docs']:,}); "
             + ("the vectors that fill dense scores are a view of FAISS's storage, not a second copy"
                if held.get("dense_embeddings_is_faiss_storage") else
                f"`DenseSearcher.embeddings` adds a second copy ({held['dense_embeddings_mib']:.0f} MiB)"))
    if "rss_per_100k_docs_mib_after_malloc_trim" in mem:
        kept = mem["rss_per_100k_docs_mib"] - mem["rss_per_100k_docs_mib_after_malloc_trim"]
        text += f"; heap freed while loading but kept by the allocator: {kept:.0f} MiB per 100k"
    return text + f". Loading the dense side takes {r['load_s']['DenseSearcher']:.1f} s for {r['docs']:,} documents."
