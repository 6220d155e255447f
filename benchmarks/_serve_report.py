"""bench_serve's report: the tables it prints and the "Serving a corpus in parts" section of BENCHMARKS.md, from one
run's JSON."""

from __future__ import annotations

from pathlib import Path

from _common import markdown_table
from _serve_plan import plan_table

P95_TARGET = 1.3  # the served front's p95 at most 1.3x one index's, in process


def same_text(c: dict | None) -> str:
    if not c:
        return "-"
    text = f"{c['identical_ids']}/{c['queries']}, max diff {c['max_abs_score_diff']:.1e}"
    if c["identical_ids"] < c["queries"] and "first_differing_rank" in c:
        text += (f" (the others: same ids in {c['differing_same_ids']}, first difference at rank "
                 f"{c['first_differing_rank']} or deeper)")
    return text


def scifact_table(part: dict) -> str:
    rows = []
    for r in part["rows"]:
        served = r.get("served")
        rows.append([r["kind"], f"{r['one_ndcg10']:.4f}", same_text(r["in_process"]), f"{r['parts_ndcg10']:.4f}",
                     same_text(served), f"{r['served_ndcg10']:.4f}" if served else "-"])
    return markdown_table(["retriever", "one index nDCG@10", f"{part['parts']} parts in process: same ids",
                           "nDCG@10", "served front: same ids", "nDCG@10"], rows, "lrrrrr")


def lat_row(name: str, lat: dict, ref: dict) -> list:
    return [name, f"{lat['p50_ms']:.1f}", f"{lat['p95_ms']:.1f}", f"{lat['mean_ms']:.1f}", f"{lat['qps']:.0f}",
            f"{lat['p50_ms'] / ref['p50_ms']:.2f}x", f"{lat['p95_ms'] / ref['p95_ms']:.2f}x", f"{lat['others']:.2f}"]


def latency_table(part: dict) -> str:
    lat, ref = part["latency"], part["latency"]["one"]
    rows = [lat_row("one index, in process", ref, ref),
            lat_row(f"{part['parts']} parts, in process", lat["parts_in_process"], ref)]
    served = part.get("served", {})
    for r in served.get("latency", []):
        rows.append(lat_row(f"served front (HTTP), {r['replicas']} replica(s) a part", r, ref))
    return markdown_table(["BM25 k=" + str(part["k"]) + f", {ref['queries']} queries, one at a time", "p50 ms",
                           "p95 ms", "mean ms", "queries/s", "p50 vs one", "p95 vs one", "others"], rows)


def throughput_table(part: dict) -> str:
    served = part.get("served", {})
    runs = [(str(r["replicas"]), r) for r in served.get("throughput", [])]
    if f := served.get("failover"):
        runs.append((f"{f['replicas']}, one replica of {f['killed']} killed at {f['killed_at_s']:.0f} s", f))
    rows = [[label, r["clients"], f"{r['queries']:,}", f"{r['qps']:.1f}", f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}",
             f"{r['max_ms']:,.0f}", r["failed"], r["incomplete"], f"{r['others']:.2f}"] for label, r in runs]
    return markdown_table(["replicas a part", "clients", "queries", "queries/s", "p50 ms", "p95 ms", "max ms",
                           "failed", "incomplete", "others"], rows, "lrrrrrrrrr")


def memory_table(part: dict) -> str:
    m = part["memory"]
    rows = [["one index opened alone (BM25, a fresh process)", f"{part['docs']:,}", f"{m['one']['rss_mib']:,.0f}",
             f"{m['one']['rss_before_mib']:,.0f}"],
            ["one part opened alone (BM25, a fresh process)", f"{m['part']['docs']:,}", f"{m['part']['rss_mib']:,.0f}",
             f"{m['part']['rss_before_mib']:,.0f}"]]
    for r in part.get("served", {}).get("replica_memory", []):
        what = "front replica" if r["name"] == "front" else f"part replica, {r['name']}"
        rows.append([f"served {what} ({r['replicas']} replica(s) a part)", f"{r['docs']:,}" if r.get("docs")
                     else "", f"{r['rss_mib']:,.0f}", ""])
    return markdown_table(["process", "documents", "RSS MiB", "before opening MiB"], rows, "lrrr")


def build_table(out: dict) -> str:
    rows = []
    sc, mi = out["parts"].get("scifact"), out["parts"].get("million")
    if sc:
        for where in ("one", "parts"):
            for side in ("sparse", "dense"):
                b = sc["builds"][where].get(side)
                if b:
                    rows.append([f"SciFact, {'one index' if where == 'one' else str(sc['parts']) + ' parts'}",
                                 "Lucene" if side == "sparse" else "encoding (float32) + FAISS flat", f"{b['docs']:,}",
                                 f"{b['seconds']:.1f}", f"{b['docs_per_s']:,.0f}", f"{b['docs_per_cpu_s']:,.0f}", "-"])
    if mi:
        for where in ("one", "parts"):
            b = mi["builds"][where]
            rows.append([f"{mi['docs']:,} docs, {'one index' if where == 'one' else str(b['parts']) + ' parts'}",
                         "Lucene", f"{b['docs']:,}", f"{b['seconds']:.1f}", f"{b['docs_per_s']:,.0f}",
                         f"{b['docs_per_cpu_s']:,.0f}", f"{b['peak_rss_mib']:,.0f}"])
    return markdown_table(["corpus", "build", "docs", "seconds", "docs/s", "docs per CPU-second", "peak RSS MiB"],
                          rows, "llrrrrr")


def disk_rows(label: str, part: dict) -> list:
    d, t = part["disk_one"], part["text"]
    dense = next((v for k, v in d.items() if k.startswith("dense-")), None)
    return [label, f"{t['mean_words']:.0f}", f"{t['mean_chars']:,.0f}", f"{d['dataset']['bytes_per_doc']:,.0f}",
            f"{d['sparse-flat']['bytes_per_doc']:,.0f}",
            f"{dense['index_bytes_per_doc']:,.0f} + {dense['embeddings_bytes_per_doc']:,.0f}" if dense else "-"]


def disk_table(out: dict) -> str:
    rows = []
    if sc := out["parts"].get("scifact"):
        rows.append(disk_rows(f"SciFact ({sc['docs']:,} docs)", sc))
    if mi := out["parts"].get("million"):
        rows.append(disk_rows(f"docstrings-x ({mi['docs']:,} docs)", mi))
    return markdown_table(["corpus", "words/doc", "chars/doc", "dataset bytes/doc", "Lucene bytes/doc",
                           "dense flat bytes/doc (FAISS + stored vectors)"], rows, "lrrrrr")


def faiss_table(part: dict) -> str:
    rows = [[kind, f"{f['vectors']:,}", f"{f['bytes_per_vector']:,.0f}", f"{f['build_s']:.1f}",
             f"{f['cpu_s_per_1k_vectors']:.2f}"] for kind, f in part.items()]
    return markdown_table(["FAISS type", "vectors (random, 384-d)", "bytes/vector", "build s",
                           "CPU s per 1,000 vectors"], rows, "lrrrr")


def recall_table(part: dict) -> str:
    r = part["recall"]
    types = [t for t in ("hnsw", "ivf", "ivfpq") if t in r]
    ks = list(r[types[0]])
    rows = [[t] + [f"{r[t][k]['parts']:.4f} / {r[t][k]['one_index']:.4f}" for k in ks] for t in types]
    return markdown_table(["index type"] + [f"{k}, {r['parts']} parts / one index" for k in ks], rows,
                          "l" + "r" * len(ks))


def tables(out: dict) -> list[tuple[str, str]]:
    """(title, table) of each table the run has figures for."""
    found = []
    if sc := out["parts"].get("scifact"):
        found.append((f"SciFact: {sc['queries']} test queries at k={sc['k']}, one index against {sc['parts']} parts "
                      f"({'/'.join(f'{n:,}' for n in sc['part_docs'])} docs)", scifact_table(sc)))
        if sc.get("recall"):
            s = sc["recall"]["settings"]
            found.append((f"SciFact: approximate dense indexes over {sc['parts']} parts, recall against exact search "
                          f"({sc['recall']['queries']} queries; ef_search {s['ef_search']}, ivf_probe "
                          f"{s['ivf_probe']})", recall_table(sc)))
    if mi := out["parts"].get("million"):
        found.append((f"{mi['docs']:,} documents in {mi['parts']} parts: latency", latency_table(mi)))
        if mi.get("served", {}).get("throughput"):
            found.append((f"{mi['docs']:,} documents in {mi['parts']} parts: throughput of the served front",
                          throughput_table(mi)))
        found.append((f"{mi['docs']:,} documents: memory", memory_table(mi)))
    if out["parts"].get("scifact") or mi:
        found.append(("Builds", build_table(out)))
        found.append(("Disk a document", disk_table(out)))
    if fa := out["parts"].get("faiss"):
        found.append(("FAISS index types", faiss_table(fa)))
    if plan := plan_table(out):
        found.append(("Capacity plan, from the costs above", plan))
    return found


def verdicts(out: dict) -> list[str]:
    lines = []
    if sc := out["parts"].get("scifact"):
        for r in sc["rows"]:
            for where in ("in_process", "served"):
                c = r.get(where)
                if c:
                    ok = c["identical_ids"] == c["queries"]
                    lines.append(f"SciFact {r['kind']}, {where.replace('_', ' ')}: "
                                 f"{'identical' if ok else 'NOT identical'} ({same_text(c)})")
    mi = out["parts"].get("million") or {}
    ref = mi.get("latency", {}).get("one")
    for r in mi.get("served", {}).get("latency", []):
        ratio = r["p95_ms"] / ref["p95_ms"]
        lines.append(f"served p95 {r['p95_ms']:.1f} ms vs one index {ref['p95_ms']:.1f} ms: {ratio:.2f}x "
                     f"(target <= {P95_TARGET}x: {'met' if ratio <= P95_TARGET else 'NOT met'})")
    return lines


def print_report(out: dict) -> None:
    for title, table in tables(out):
        print(f"\n## {title}\n\n{table}")
    for line in verdicts(out):
        print("- " + line)


def write_section(out: dict, path: Path) -> None:
    m = out["machine"]
    head = (f"# Serving a corpus in parts (`make bench-serve`, {out['date']})\n\n`{out['command']}` on {m['cpu']}, "
            f"{m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}; git {m['git_commit']}"
            f"{' (dirty)' if m['git_dirty'] else ''}; ray {m['versions'].get('ray')}. The run took "
            f"{out['wall_s'] / 60:.0f} min. All figures: `benchmarks/out/serve.json`.\n")
    body = "\n".join(f"\n## {title}\n\n{table}\n" for title, table in tables(out))
    path.write_text(head + body + "\n" + "\n".join("- " + v for v in verdicts(out)) + "\n")
