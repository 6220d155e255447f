"""Contamination and duplicate analysis: throughput and peak memory, beside a plain peer, in one run.

Run by ``make bench-analysis``. Prints a table, writes ``benchmarks/out/analysis.json`` (figures + machine
facts) and ``benchmarks/out/analysis_section.md`` (a section for BENCHMARKS.md).

Corpora: the default corpus (``builtin:docstrings``) and a corpus of at least ``--million`` documents made from
it as ``bench_scale.py`` makes its own (copy 0 as is, then copies whose words are shuffled across documents);
both reused from ``--root`` where ``make bench-scale`` left them.

1. Contamination. The benchmark: ``--items`` seeded docstring first sentences of 5 to 40 words (each is in the
   corpus, so it must be flagged) and as many made of the same words shuffled (almost never flagged), n = 13.
   gaia_lite (``find_contamination``, in one process) against the peer, a straightforward n-gram set scan: a
   Python dict from each item n-gram (a tuple of words) to its items, and for each document every window of
   words looked up in it; both on gaia_lite's normalised words (``gaia_lite.analysis.text.words``), so they
   compare the matching, not the tokenisation. gaia_lite also finds each item's best documents and longest
   span (with offsets), which the peer does not. Agreement: the flagged items and each item's document count.
2. Duplicates. gaia_lite (``find_duplicates``: exact hashes, MinHash with xxHash-32 shingle hashes, LSH bands
   grouped with numpy and scipy) against datasketch's own pipeline: ``MinHash`` with its default SHA-1 hash
   over the same shingles, ``MinHashLSH`` (same threshold and permutations) with every document inserted and
   then queried, clusters by union-find. Agreement: exact clusters identical; near-duplicate clusters compared
   as pairs of documents put in the same cluster (precision and recall of gaia_lite's pairs against the
   peer's: the hash functions differ, so the LSH's random errors differ too).

Each measurement runs in a fresh child process: its wall time, documents per second and peak resident memory
(VmHWM) are its own, and "others" is the CPU other processes used meanwhile (see ``_common.OtherLoad``). The
corpora come from ``_corpora.py``, shared with bench_scale.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path
from time import perf_counter as perf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helper modules, also when imported as a module (tests)
from _common import child_reply, cpu_model, log, machine_basics, proc_mib, utc_now, write_json  # noqa: E402
from _common import run_child as run_script  # noqa: E402
from _corpora import docstrings_corpus, million_corpus  # noqa: E402
from _queries import first_sentence  # noqa: E402

CHILD_MARK = "BENCH_ANALYSIS_CHILD "
NGRAM = 13


# ----------------------------------------------------------------------------------------------- children


def child_contamination(corpus_folder: str, bench: str) -> dict:
    from gaia_lite.analysis import find_contamination, read_benchmark
    from gaia_lite.corpus import Corpus

    corpus = Corpus.load(corpus_folder, verify=False)
    benchmark = read_benchmark(bench, "text")
    t = perf()
    report = find_contamination(corpus, benchmark, ngram=NGRAM, progress=False, log=None)
    seconds = perf() - t
    return {"seconds": seconds, "docs": len(corpus), "peak_rss_mib": proc_mib("VmHWM"),
            "flagged": sorted(r.item_id for r in report.flagged),
            "documents": {r.item_id: r.documents for r in report.items}}


def child_contamination_peer(corpus_folder: str, bench: str) -> dict:
    """The plain n-gram set scan."""
    from gaia_lite.analysis.text import words
    from gaia_lite.corpus import Corpus

    corpus = Corpus.load(corpus_folder, verify=False)
    items = [json.loads(line) for line in open(bench, encoding="utf-8")]
    t = perf()
    table: dict[tuple, set[str]] = {}
    lengths = set()
    for item in items:
        w = words(item["text"])
        m = min(NGRAM, len(w))
        lengths.add(m)
        for i in range(len(w) - m + 1):
            table.setdefault(tuple(w[i:i + m]), set()).add(item["id"])
    documents: Counter[str] = Counter()
    fields = ["title", "text"] if corpus.has_title else ["text"]
    for batch in corpus.dataset.select_columns(fields).iter(batch_size=2000):
        for k in range(len(batch["text"])):
            hit: set[str] = set()
            for f in fields:
                w = words(batch[f][k] or "")
                for m in lengths:
                    for j in range(len(w) - m + 1):
                        found = table.get(tuple(w[j:j + m]))
                        if found:
                            hit |= found
            documents.update(hit)
    seconds = perf() - t
    return {"seconds": seconds, "docs": len(corpus), "peak_rss_mib": proc_mib("VmHWM"), "flagged": sorted(documents),
            "documents": {item["id"]: documents.get(item["id"], 0) for item in items}}


def child_duplicates(corpus_folder: str) -> dict:
    import pyarrow.parquet as pq

    from gaia_lite.analysis import find_duplicates
    from gaia_lite.corpus import Corpus

    corpus = Corpus.load(corpus_folder, verify=False)
    t = perf()
    report = find_duplicates(corpus, progress=False, log=None)
    seconds = perf() - t
    table = pq.read_table(corpus.folder / "duplicates" / "clusters.parquet")
    return {"seconds": seconds, "docs": len(corpus), "peak_rss_mib": proc_mib("VmHWM"), "bands": report.bands,
            "rows": report.rows, "exact": _counts(report.exact), "near": _counts(report.near),
            "exact_labels": table.column("exact_cluster").to_pylist(),
            "near_labels": table.column("near_cluster").to_pylist()}


def _counts(part: dict) -> dict:
    return {k: part[k] for k in ("clusters", "documents", "duplicates", "rate")}


def child_duplicates_peer(corpus_folder: str) -> dict:
    """datasketch's own pipeline: MinHash (SHA-1) per document, MinHashLSH insert then query, union-find."""
    from datasketch import MinHash, MinHashLSH

    from gaia_lite.analysis.duplicates import shingles
    from gaia_lite.analysis.text import words
    from gaia_lite.config import DuplicatesConfig
    from gaia_lite.corpus import Corpus

    config = DuplicatesConfig()
    corpus = Corpus.load(corpus_folder, verify=False)
    t = perf()
    lsh = MinHashLSH(threshold=config.threshold, num_perm=config.num_perm)
    exact: dict[str, int] = {}
    exact_label, signatures = [], {}
    fields = ["title", "text"] if corpus.has_title else ["text"]
    row = 0
    with lsh.insertion_session() as session:
        for batch in corpus.dataset.select_columns(fields).iter(batch_size=2000):
            for k in range(len(batch["text"])):
                w = [x for f in fields for x in words(batch[f][k] or "")]
                if not w:
                    exact_label.append(-1)
                else:
                    exact_label.append(exact.setdefault(" ".join(w), row))
                    m = MinHash(num_perm=config.num_perm, seed=config.seed)
                    m.update_batch([s.encode("utf-8") for s in shingles(w, config.shingle)])
                    signatures[row] = m
                    session.insert(row, m)
                row += 1
    parent = list(range(row))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for r, m in signatures.items():
        for other in lsh.query(m):
            a, b = find(r), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    near_label = [find(r) if r in signatures else -1 for r in range(row)]
    seconds = perf() - t
    return {"seconds": seconds, "docs": len(corpus), "peak_rss_mib": proc_mib("VmHWM"), "bands": lsh.b, "rows": lsh.r,
            "exact_labels": exact_label, "near_labels": near_label}


CHILDREN = {"contamination": child_contamination, "contamination-peer": child_contamination_peer,
            "duplicates": child_duplicates, "duplicates-peer": child_duplicates_peer}


def run_child(what: str, *args) -> dict:
    """Run this script as ``--child what args...`` in a fresh process; its JSON, with the CPU that other processes
    used meanwhile."""
    result, _, others = run_script(Path(__file__).resolve(), CHILD_MARK, "--child", what, *args)
    return result | {"others": others}


# ----------------------------------------------------------------------------------------------- the parts


def make_benchmark(corpus, path: Path, items: int, seed: int) -> dict:
    """``items`` seeded first sentences of the first rows (5-40 words), and as many of their words shuffled."""
    rng = random.Random(seed)
    sentences = []
    for batch in corpus.dataset.select_columns(["text"]).iter(batch_size=10_000):
        sentences.extend(s for s in (first_sentence(t) for t in batch["text"]) if 5 <= len(s.split()) <= 40)
        if len(sentences) >= 20 * items:
            break
    planted = rng.sample(sentences, min(items, len(sentences)))
    with open(path, "w", encoding="utf-8") as f:
        for i, s in enumerate(planted):
            f.write(json.dumps({"id": f"p{i}", "text": s}) + "\n")
        for i, s in enumerate(planted):
            w = s.split()
            rng.shuffle(w)
            f.write(json.dumps({"id": f"s{i}", "text": " ".join(w)}) + "\n")
    return {"items": 2 * len(planted), "planted": len(planted), "shuffled": len(planted), "seed": seed}


def pair_agreement(a: list, b: list) -> dict:
    """Pairs of documents put in one cluster by ``a`` and by ``b`` (labels per row, -1 = none): how many each
    has, how many both, and ``a``'s precision and recall against ``b``."""
    def pairs(counter):
        return sum(n * (n - 1) // 2 for n in counter.values())

    la = Counter(x for x in a if x != -1 and x != "")
    lb = Counter(x for x in b if x != -1 and x != "")
    both = Counter((x, y) for x, y in zip(a, b) if x not in (-1, "") and y not in (-1, ""))
    pa, pb, pab = pairs(la), pairs(lb), pairs(both)
    return {"pairs": pa, "peer_pairs": pb, "common_pairs": pab, "precision": pab / pa if pa else 1.0,
            "recall": pab / pb if pb else 1.0}


def same_partition(a: list, b: list) -> bool:
    """Whether two labelings group the rows identically (labels may differ)."""
    forward, backward = {}, {}
    for x, y in zip(a, b):
        if forward.setdefault(x, y) != y or backward.setdefault(y, x) != x:
            return False
    return True


def measure(corpus, bench: Path) -> dict:
    folder = str(corpus.folder)
    log(f"[{corpus.name}] contamination: gaia_lite")
    ours = run_child("contamination", folder, bench)
    log(f"[{corpus.name}] contamination: n-gram set scan")
    peer = run_child("contamination-peer", folder, bench)
    agree_flags = ours["flagged"] == peer["flagged"]
    agree_counts = ours["documents"] == peer["documents"]
    contamination = {
        "gaia_lite": {k: ours[k] for k in ("seconds", "peak_rss_mib", "others")} | {"flagged": len(ours["flagged"])},
        "peer": {k: peer[k] for k in ("seconds", "peak_rss_mib", "others")} | {"flagged": len(peer["flagged"])},
        "same_flags": agree_flags, "same_document_counts": agree_counts, "docs": ours["docs"]}
    log(f"[{corpus.name}] duplicates: gaia_lite")
    dups = run_child("duplicates", folder)
    log(f"[{corpus.name}] duplicates: datasketch MinHash + MinHashLSH")
    dpeer = run_child("duplicates-peer", folder)
    rows_of = {doc_id: i for i, doc_id in enumerate(corpus.ids)}
    ours_exact = [rows_of.get(x, -1) if x else -1 for x in dups["exact_labels"]]
    ours_near = [rows_of.get(x, -1) if x else -1 for x in dups["near_labels"]]
    duplicates = {
        "gaia_lite": {k: dups[k] for k in ("seconds", "peak_rss_mib", "others", "exact", "near", "bands", "rows")},
        "peer": {k: dpeer[k] for k in ("seconds", "peak_rss_mib", "others", "bands", "rows")},
        "same_exact_clusters": same_partition(ours_exact, dpeer["exact_labels"]),
        "near_pairs": pair_agreement(ours_near, dpeer["near_labels"]), "docs": dups["docs"]}
    return {"docs": len(corpus), "contamination": contamination, "duplicates": duplicates}


# ----------------------------------------------------------------------------------------------- report


def table(out: dict) -> str:
    lines = ["| corpus | analysis | gaia_lite docs/s | peer docs/s | ratio | gaia_lite peak MiB | peer peak MiB | "
             "agreement |", "|---|---|---:|---:|---:|---:|---:|---|"]
    for name, r in out["corpora"].items():
        for analysis in ("contamination", "duplicates"):
            ours, peer, n = r[analysis]["gaia_lite"], r[analysis]["peer"], r["docs"]
            lines.append(f"| {name} ({n:,} docs) | {analysis} | {n / ours['seconds']:,.0f} | "
                         f"{n / peer['seconds']:,.0f} | {peer['seconds'] / ours['seconds']:.2f}x | "
                         f"{ours['peak_rss_mib']:,.0f} | {peer['peak_rss_mib']:,.0f} | {agreement(r, analysis)} |")
    return "\n".join(lines)


def agreement(r: dict, analysis: str) -> str:
    """How far gaia_lite and the peer agree on one corpus's ``analysis``, in words."""
    def yes(same: bool) -> str:
        return "yes" if same else "NO"

    if analysis == "contamination":
        c = r["contamination"]
        return (f"same flagged items ({c['gaia_lite']['flagged']:,}): {yes(c['same_flags'])}; same document counts: "
                f"{yes(c['same_document_counts'])}")
    d = r["duplicates"]
    p = d["near_pairs"]
    return (f"exact clusters identical: {yes(d['same_exact_clusters'])}; near-duplicate pairs: {p['pairs']:,} vs "
            f"{p['peer_pairs']:,}, precision {p['precision']:.3f}, recall {p['recall']:.3f}")


def section(out: dict) -> str:
    m = out["machine"]
    lines = [f"Measured {out['measured']} on {m.get('cpu', '?')} ({m.get('cores')} cores, {m.get('memory_gib')} "
             f"GiB), commit {m.get('git_commit')}{' (dirty)' if m.get('git_dirty') else ''}, by `make bench-analysis`"
             f" (`benchmarks/bench_analysis.py`, method in its docstring). Each run in a fresh process, one at a "
             "time; docs/s = corpus documents / wall seconds of the analysis; ratio = peer seconds / gaia_lite "
             "seconds (above 1: gaia_lite faster).", "", table(out), ""]
    for name, r in out["corpora"].items():
        g = r["duplicates"]["gaia_lite"]
        lines.append(f"- {name}: exact duplicates {g['exact']['duplicates']:,} ({100 * g['exact']['rate']:.2f}%) in "
                     f"{g['exact']['clusters']:,} clusters; near duplicates {g['near']['duplicates']:,} "
                     f"({100 * g['near']['rate']:.2f}%) in {g['near']['clusters']:,} clusters (MinHash 128, "
                     f"{g['bands']} bands x {g['rows']}, threshold 0.8). Other processes used at most "
                     f"{max(r['contamination']['gaia_lite']['others'], r['duplicates']['gaia_lite']['others']):.2f}"
                     " cores during gaia_lite's runs.")
    lines.append(f"- Benchmark: {out['benchmark']['items']:,} items ({out['benchmark']['planted']:,} docstring first "
                 f"sentences, {out['benchmark']['shuffled']:,} of them with their words shuffled), n = {NGRAM}.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, help="keep and reuse corpora here (bench_scale.py's --root works)")
    p.add_argument("--million", type=int, default=1_000_000, help="documents of the replicated corpus, at least")
    p.add_argument("--no-million", action="store_true", help="only the default corpus")
    p.add_argument("--docs", type=int, help="use the first N docstrings (default: all)")
    p.add_argument("--items", type=int, default=500, help="planted benchmark items (as many shuffled are added)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child_reply(CHILD_MARK, CHILDREN[args.child[0]](*args.child[1:]))
        return 0
    root = args.root or Path(tempfile.mkdtemp(prefix="gaia_lite_bench_analysis_"))
    root.mkdir(parents=True, exist_ok=True)
    corpus, _ = docstrings_corpus(root, args.docs, reuse=True)
    bench = root / "analysis-benchmark.jsonl"
    facts = make_benchmark(corpus, bench, args.items, args.seed)
    out = {"measured": utc_now(),
           "machine": machine_basics(REPO, ("gaia-lite", "datasketch", "datasets", "numpy", "xxhash")),
           "benchmark": facts, "corpora": {}}
    out["machine"]["cpu"] = cpu_model(platform.processor())
    out["machine"]["cores"] = len(os.sched_getaffinity(0))
    out["corpora"]["docstrings"] = measure(corpus, bench)
    if not args.no_million:
        big, _ = million_corpus(corpus, root, args.million, args.seed, reuse=args.root is not None)
        out["corpora"]["docstrings-x"] = measure(big, bench)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "analysis.json", out, end="\n")
    (args.out / "analysis_section.md").write_text(section(out))
    print(table(out))
    log(f"wrote {args.out / 'analysis.json'} and {args.out / 'analysis_section.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
