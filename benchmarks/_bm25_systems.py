"""bench_bm25's measurements: the BM25 systems over one corpus (gaia_lite on its two routes, bm25s, raw Pyserini)
and the loops the benchmark times; their queries/s, the identity, exactness and effectiveness checks, the per-step
profile of each gaia_lite route and the diagnostics behind it."""

from __future__ import annotations

import functools
import gc
import logging
import math
import statistics
from pathlib import Path
from time import perf_counter as perf

from _common import OtherLoad, log, rotated, step_split

from gaia_lite.evaluate import anserini_scores

K1, B = 0.9, 0.4
#: The systems timed side by side: gaia_lite as it searches by default (from the impact matrix), gaia_lite with
#: every search in Lucene (``impacts=False``: the reference route), bm25s and raw Pyserini.
SYSTEMS = ("gaia_lite", "gaia_lite_lucene", "bm25s", "pyserini")
LABELS = {"gaia_lite": "gaia_lite", "gaia_lite_lucene": "gaia_lite (Lucene)", "bm25s": "bm25s",
          "pyserini": "raw Pyserini"}
#: The largest score difference between gaia_lite's two routes that counts as equal (issue 23; expected: none).
SCORE_TOLERANCE = 1e-5


class Systems:
    """The searchers over one corpus, each wrapped in the loops that the benchmark times."""

    def __init__(self, corpus, index_dir: Path, texts: list[str], bm25s_backend: str = "numba"):
        import bm25s
        import Stemmer

        logging.getLogger("bm25s").setLevel(logging.WARNING)

        from gaia_lite.sparse import BM25Searcher

        self.ids = corpus.ids
        self.gaia = BM25Searcher(index_dir, corpus, k1=K1, b=B)
        self.gaia_lucene = BM25Searcher(index_dir, corpus, k1=K1, b=B, impacts=False)
        from pyserini.search.lucene import LuceneSearcher

        self.pyserini = LuceneSearcher(str(index_dir))
        self.pyserini.set_bm25(K1, B)
        self.stemmer = Stemmer.Stemmer("english")
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

    def bm25s_tokens(self, texts):
        """bm25s's tokens of ``texts`` (a string or a list), as its index was made."""
        return self.tokenize(texts, stopwords="en", stemmer=self.stemmer, show_progress=False)

    # ---- one query at a time
    #
    # Each loop keeps every query's result in the form its system returns it, with ids mapped: gaia_lite's
    # ``Hits`` (a list of ids and a list of scores), bm25s's arrays as the same two lists, Pyserini's hits as
    # (id, score) pairs. A kept result is what a run over a query set holds, and so pays its share of Python's
    # garbage collection.

    @staticmethod
    def gaia_one(searcher, queries: dict[str, str], k: int):
        search = searcher.search
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
                out[qid] = ([], [])
                continue
            docs, scores = retrieve(tokens, k=min(k, self.docs), show_progress=False, n_threads=1)
            out[qid] = (list(map(ids.__getitem__, docs[0].tolist())), scores[0].tolist())
        return out

    # ---- batched

    @staticmethod
    def gaia_batch(searcher, queries: dict[str, str], k: int, threads: int):
        return searcher.search_batch(queries, k, threads=threads)

    def pyserini_batch(self, queries: dict[str, str], k: int, threads: int):
        qids = list(queries)
        res = self.pyserini.batch_search(list(queries.values()), qids, k, threads)
        return {qid: {h.docid: h.score for h in res[qid]} for qid in qids}

    def bm25s_batch(self, queries: dict[str, str], k: int, threads: int):
        ids = self.ids
        tokens = self.bm25s_tokens(list(queries.values()))
        qids = list(queries)
        if not all(tokens.ids):  # bm25s's retrieve may reject a query of stopwords only: leave those out
            keep = [i for i, q in enumerate(tokens.ids) if q]
            qids = [qids[i] for i in keep]
            tokens = type(tokens)(ids=[tokens.ids[i] for i in keep], vocab=tokens.vocab)
        docs, scores = self.bm25s.retrieve(tokens, k=min(k, self.docs), show_progress=False, n_threads=threads)
        run = {qid: {ids[d]: s for d, s in zip(drow, srow)}
               for qid, drow, srow in zip(qids, docs.tolist(), scores.tolist())}
        return run if len(run) == len(queries) else {qid: run.get(qid, {}) for qid in queries}

    def gaia_searchers(self) -> dict:
        """gaia_lite's searcher of each route, by system name."""
        return {"gaia_lite": self.gaia, "gaia_lite_lucene": self.gaia_lucene}

    def loops(self, name: str) -> tuple:
        """(one query at a time, batched) of system ``name``."""
        if name in self.gaia_searchers():
            searcher = self.gaia_searchers()[name]
            return functools.partial(self.gaia_one, searcher), functools.partial(self.gaia_batch, searcher)
        return {"bm25s": (self.bm25s_one, self.bm25s_batch), "pyserini": (self.pyserini_one, self.pyserini_batch)}[name]

    def close(self):
        self.gaia.close()
        self.gaia_lucene.close()
        self.pyserini.close()


# ----------------------------------------------------------------------------------------------- speed


def warm(fn, args: tuple, warmup_s: float, min_sample_s: float) -> tuple[int, int]:
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
    warmed = {name: warm(*fns[name], warmup_s, min_sample_s) for name in names}
    samples: dict = {name: [] for name in names}
    loads: dict = {name: [] for name in names}
    for r in range(repeat):
        for name in rotated(names, r):
            fn, args = fns[name]
            reps = warmed[name][1]
            with OtherLoad() as load:
                t = perf()
                for _ in range(reps):
                    fn(*args)
                samples[name].append((perf() - t) / reps)
            loads[name].append(load.cores)
        gc.collect()
    return {
        name: {"qps": n / min(samples[name]), "qps_median": n / statistics.median(samples[name]),
               "seconds_per_pass": samples[name], "passes_per_sample": warmed[name][1],
               "warmup_passes": warmed[name][0],
               "other_processes_cores": round(statistics.mean(loads[name]), 2),
               "other_processes_cores_in_best_sample": round(loads[name][samples[name].index(min(samples[name]))], 2)}
        for name in names
    }


def bench_search(sys_: Systems, queries: dict[str, str], args) -> list[dict]:
    """Queries/s of every system, k and mode."""
    rows = []
    n = len(queries)
    modes = [("one-by-one", None)] + [("batch", t) for t in args.threads]
    for k in args.ks:
        for mode, threads in modes:
            row = {"k": k, "mode": mode, "threads": threads, "queries": n}
            group = {}
            for name in SYSTEMS:
                one, batch = sys_.loops(name)
                group[name] = (one, (queries, k)) if threads is None else (batch, (queries, k, threads))
            row |= measure_group(group, n, args.warmup, args.min_sample, args.repeat)
            row["other_processes_cores_max"] = max(row[name]["other_processes_cores"] for name in SYSTEMS)
            row["gaia_over_bm25s"] = row["gaia_lite"]["qps"] / row["bm25s"]["qps"]
            row["gaia_over_pyserini"] = row["gaia_lite"]["qps"] / row["pyserini"]["qps"]
            row["gaia_over_gaia_lucene"] = row["gaia_lite"]["qps"] / row["gaia_lite_lucene"]["qps"]
            label = "one by one" if threads is None else f"batch t={threads}"
            log(f"  k={k:<4} {label:<11} " + "  ".join(f"{LABELS[s]} {row[s]['qps']:8.1f}" for s in SYSTEMS)
                + f" q/s  gaia/bm25s {row['gaia_over_bm25s']:.2f}  gaia/pyserini {row['gaia_over_pyserini']:.2f}  "
                f"(other processes used up to {row['other_processes_cores_max']:.2f} cores)")
            rows.append(row)
    return rows


# ----------------------------------------------------------------------------------------------- checks


def compare_routes(sys_: Systems, queries: dict[str, str], k: int, threads: int = 2) -> dict:
    """gaia_lite's default route (the impact matrix) against its Lucene route (``impacts=False``, the reference),
    for every query of ``queries`` at ``k``: one by one (``search``) and batched (``search_batch`` on ``threads``
    threads, which analyzes and scores the queries together).

    Per mode: the queries whose id lists differ (ids and their order), the largest |score difference| of a
    document both returned, and the queries that differ (ids, or a score by more than ``SCORE_TOLERANCE``).
    Expected: no query differs and the largest difference is 0.0 (the matrix repeats Lucene's float32 sums).
    """
    reference = {qid: [(h.doc_id, h.score) for h in sys_.gaia_lucene.search(text, k)]
                 for qid, text in queries.items()}
    runs = {"one_by_one": {qid: [(h.doc_id, h.score) for h in sys_.gaia.search(text, k)]
                           for qid, text in queries.items()},
            f"batch_t{threads}": {qid: list(hits.items())
                                  for qid, hits in sys_.gaia.search_batch(queries, k, threads).items()}}
    out = {"k": k, "queries": len(queries), "hits": sum(map(len, reference.values())),
           "routes": {name: s.route() for name, s in sys_.gaia_searchers().items()}, "tolerance": SCORE_TOLERANCE}
    for mode, run in runs.items():
        ids_diff, differing, max_diff, examples = 0, 0, 0.0, []
        for qid, ref in reference.items():
            got = run[qid]
            ref_scores = dict(ref)
            diff = max((abs(s - ref_scores[d]) for d, s in got if d in ref_scores), default=0.0)
            max_diff = max(max_diff, diff)
            same_ids = [d for d, _ in got] == [d for d, _ in ref]
            ids_diff += not same_ids
            if not same_ids or diff > SCORE_TOLERANCE:
                differing += 1
                if len(examples) < 3:
                    examples.append({"qid": qid, "impacts": got[:5], "lucene": ref[:5]})
        out[mode] = {"id_lists_differing": ids_diff, "max_abs_score_diff": max_diff, "queries_differing": differing,
                     "examples": examples}
    out["identical"] = all(out[mode]["queries_differing"] == 0 for mode in runs)
    return out


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
        "gaia_lite": sys_.gaia_batch(sys_.gaia, queries, 1000, 2),
        "gaia_lite_lucene": sys_.gaia_batch(sys_.gaia_lucene, queries, 1000, 2),
        "pyserini": sys_.pyserini_batch(queries, 1000, 2),
        "bm25s": sys_.bm25s_batch(queries, 1000, 2),
    }
    out = {}
    for name, run in runs.items():
        m = evaluate_run(remove_query_ids(run), qrels, ["nDCG@10", "R@100", "R@1000"])
        out[name] = {key: round(v, 4) for key, v in m.items()}
    out["gaia_equals_pyserini"] = out["gaia_lite"] == out["pyserini"] == out["gaia_lite_lucene"]
    return out


# ----------------------------------------------------------------------------------------------- where the time goes


def profile_gaia(searcher, queries: dict[str, str], k: int, repeat: int, warmup: int = 1) -> dict:
    """Split gaia_lite's per-query time into the steps ``BM25Searcher.search`` records in an attached
    ``StepTimes``, on the route the searcher takes (``searcher.route()``): ``BM25Searcher.IMPACT_STEPS`` from the
    impact matrix, ``BM25Searcher.STEPS`` in Lucene.

    ``warmup`` untimed passes over the queries, then ``repeat`` passes of ``searcher.search(text, k)`` with the
    recorder attached; the pass of least total wall time is reported. ``untimed`` is the part of a search's
    wall time outside the recorded steps (argument checks, the loop over Lucene rounds or the mapping of the
    matrix's docids to ids, the recorder itself).
    """
    route = searcher.route()
    step_names = searcher.IMPACT_STEPS if route == "impacts" else searcher.STEPS
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
    steps = {name: sum(c["steps"].get(name, 0.0) for c in calls) for name in step_names}
    steps["untimed"] = max(0.0, total - sum(steps.values()))
    return {
        "route": route, "k": k, "queries": len(texts),
        "ms_per_query": {key: 1000 * v / n for key, v in steps.items()} | {"total": 1000 * total / n},
        "share": {key: v / total if total else 0.0 for key, v in steps.items()},
        "lucene_rounds_per_query": sum(c["counts"].get("lucene_rounds", 0) for c in calls) / n,
        # Steps recorded that are not the route's own: none, unless the route taken is not the one named.
        "other_steps": sorted({name for c in calls for name in c["steps"]} - set(step_names)),
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
