"""bench_bm25's costs of the impact matrix (``gaia_lite.sparse.impacts``): the time and memory to write an index's
matrix, its size on disk, and the time and resident memory to open it and search with it; on the benchmark's
corpora and, with ``--million``, on a corpus of at least a million documents (bench_scale's ``docstrings-x``).

Each write and each open runs in a fresh child process (``bench_bm25.py --child ...``) that does only that, so
its memory figures are its own: resident memory (VmRSS) before and after, and the process's peak (VmHWM), the JVM
included. The write is ``write_impacts`` on the built index, replacing the matrix its build wrote with the same
one (the searches measured after it read the rewritten matrix, so the identity check covers it too).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from time import perf_counter as perf

import bench_scale  # its child process builds the million-document index, as in bench_scale's own million part
from _common import child_reply, log, proc_mib, run_child, tree_bytes
from _corpora import Timings, million_corpus
from _queries import first_sentences
from _serve_million import TIMINGS, lucene_build

SCRIPT = Path(__file__).resolve().with_name("bench_bm25.py")
CHILD_MARK = "BENCH_BM25_CHILD "
K1, B = 0.9, 0.4  # as _bm25_systems opens gaia_lite


def child(what: str, *args) -> dict:
    """Run ``bench_bm25.py --child what args...`` in a fresh process; its JSON, with the process's wall time and
    the CPU that other processes used meanwhile."""
    result, wall, others = run_child(SCRIPT, CHILD_MARK, "--child", what, *args)
    return result | {"process_wall_s": wall, "others": others}


def child_write(index: str, corpus_folder: str) -> dict:
    """In a child process: rewrite the impact matrix of the Lucene index at ``index``; seconds and memory."""
    import numpy as np

    from gaia_lite.artifacts import ArtifactMeta
    from gaia_lite.corpus import Corpus
    from gaia_lite.java import start_jvm
    from gaia_lite.sparse.impacts import write_impacts
    from gaia_lite.sparse.indexer import ROWS_FILE

    index = Path(index)
    corpus = Corpus.load(corpus_folder, verify=False)
    ids = corpus.ids
    rows = np.load(index / ROWS_FILE).tolist()
    fields = ArtifactMeta.read(index, "sparse").params["fields"]
    start_jvm()
    before = proc_mib()  # the ids, the row map and the JVM are there before the write, as in a build
    t = perf()
    folder = write_impacts(index, fields, ids, rows)
    seconds = perf() - t
    stats = ArtifactMeta.read(folder, "impacts").params["stats"]
    return {"seconds": seconds, "docs": len(rows), "docs_per_s": len(rows) / seconds, "fields": fields,
            "postings": sum(s["postings"] for s in stats.values()), "terms": sum(s["terms"] for s in stats.values()),
            "rss_before_mib": before, "rss_after_mib": proc_mib(), "peak_rss_mib": proc_mib("VmHWM")}


def child_open(index: str, corpus_folder: str, k: str, queries_file: str) -> dict:
    """In a child process: open the impact matrix of the index at ``index`` and score the queries (a JSON list in
    ``queries_file``) from it at ``k``; seconds and resident memory.

    The index is first opened in Lucene alone (``BM25Searcher(impacts=False)``) and the queries analyzed. A first
    ``ImpactMatrix`` then scores one query: that loads numba and the kernels (from numba's cache on disk), once
    per process (``first_*``). What a matrix adds over that is measured on a second one, opened beside it (its
    own mapped files, order arrays, term lookups, accumulators): the open, then every query scored from it (the
    pages of the mapped arrays the queries read, one thread's accumulators). Last, the open of a later
    ``BM25Searcher``, with its matrix and without.
    """
    from gaia_lite.corpus import Corpus
    from gaia_lite.sparse import BM25Searcher
    from gaia_lite.sparse.impacts import ImpactMatrix

    corpus = Corpus.load(corpus_folder, verify=False)
    _ = corpus.ids
    queries = json.loads(Path(queries_file).read_text(encoding="utf-8"))
    lucene = BM25Searcher(index, corpus, k1=K1, b=B, impacts=False)
    terms = [lucene.query_terms(q) for q in queries]
    start = proc_mib()
    t = perf()
    first = ImpactMatrix(Path(index), K1, B)
    first.top(terms[0] if terms else {}, int(k))
    first_s = perf() - t
    base = proc_mib()
    t = perf()
    matrix = ImpactMatrix(Path(index), K1, B)
    open_s = perf() - t
    opened = proc_mib()
    t = perf()
    hits = sum(len(matrix.top(q, int(k))[0]) for q in terms)
    search_s = perf() - t
    searched = proc_mib()
    out = {"docs": matrix.num_docs, "first_open_and_query_s": first_s, "first_rss_added_mib": base - start,
           "open_s": open_s, "queries": len(terms), "k": int(k), "hits": hits, "search_s": search_s,
           "rss_base_mib": base, "rss_added_by_open_mib": opened - base,
           "rss_added_after_queries_mib": searched - base, "peak_rss_mib": proc_mib("VmHWM")}
    for key, impacts in (("searcher_open_s", True), ("searcher_lucene_open_s", False)):
        t = perf()
        BM25Searcher(index, corpus, k1=K1, b=B, impacts=impacts).close()
        out[key] = perf() - t
    return out


CHILDREN = {"impacts-write": child_write, "impacts-open": child_open}


def run_as_child(what: str, *args) -> None:
    """In a child process: run the measurement ``what`` and print its figures for :func:`child` to read."""
    child_reply(CHILD_MARK, CHILDREN[what](*args))


def impact_costs(index: Path, corpus, queries: dict[str, str], k: int) -> dict:
    """The impact matrix of the Lucene index at ``index`` (of ``corpus``): written again (time, memory), its size
    on disk (by array), opened and searched with ``queries`` at ``k`` (time, memory); each in a child process."""
    index = Path(index)
    log(f"[{corpus.name}] impact matrix: write, size, open ({len(corpus):,} docs), each in a child process")
    write = child("impacts-write", index, corpus.folder)
    with tempfile.TemporaryDirectory(prefix="gaia-bench-queries-") as tmp:
        # A file, not arguments: a query may begin with "-", which the child's command line would read as an option.
        path = Path(tmp) / "queries.json"
        path.write_text(json.dumps(list(queries.values())), encoding="utf-8")
        opened = child("impacts-open", index, corpus.folder, k, path)
    folder = index / "impacts"
    by_file: dict[str, int] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            by_file[p.name] = by_file.get(p.name, 0) + p.stat().st_size
    size = sum(by_file.values())
    return {"docs": len(corpus), "postings": write["postings"], "terms": write["terms"], "write": write,
            "disk": {"impacts_mib": size / 2**20, "bytes_per_posting": size / max(1, write["postings"]),
                     "index_mib": tree_bytes(index) / 2**20,
                     "by_file_mib": {name: n / 2**20 for name, n in by_file.items()}},
            "open": opened}


def million_costs(root: Path, source, docs: int, seed: int, n_queries: int, k: int) -> dict:
    """The impact matrix's costs on a corpus of at least ``docs`` documents replicated from ``source`` (the
    docstrings corpus; ``_corpora.million_corpus``, as bench_scale and bench_serve make theirs), its flat Lucene
    index built in a child process (bench_scale's; its build writes the matrix too). Corpus and index are reused
    from ``root`` where built there before (bench_scale's and bench_serve's under the same root included).
    Queries: docstring first sentences of copy 0."""
    corpus, corpus_build = million_corpus(source, root, docs, seed, reuse=True)
    build = lucene_build(bench_scale.run_child, corpus, Timings(root, TIMINGS), reuse=True)
    queries = first_sentences(corpus, n_queries, seed, rows=corpus_build["replication"]["source_docs"])
    return {"corpus": corpus.name, "corpus_build": corpus_build, "lucene_build": build,
            "queries": {"n": len(queries), "kind": "docstring first sentences of copy 0 (3-40 words)"},
            **impact_costs(Path(build["index"]), corpus, queries, k)}
