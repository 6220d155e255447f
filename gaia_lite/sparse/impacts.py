"""BM25 from an impact matrix beside the Lucene index: Lucene's scores, bit for bit, at numba's speed.

Lucene's search is most of a BM25 query's time (BENCHMARKS.md, "BM25 speed"). So the index build also writes each
field's postings (term, Lucene docid, term frequency) and each document's encoded length (its norm) as flat arrays
in ``impacts/`` inside the index folder, with every posting's BM25 impact for the default ``k1`` and ``b``. A
query then adds up its terms' impacts with a numba kernel and keeps the top ``k`` with a heap, as bm25s does.

The arithmetic is Lucene 9's ``BM25Similarity`` in float32, in its order (a test checks it against Lucene's own
scorer on a grid of frequencies, norms, boosts and statistics): ``idf = log(1 + (N - df + 0.5) / (df + 0.5))``,
``weight = boost * idf``, ``cache[norm] = 1 / (k1 * ((1 - b) + b * length(norm) / avgdl))``, and a posting's
impact ``weight - weight / (1 + freq * cache[norm])``. A document's score is its impacts, in every field, summed in
double and rounded to float, as Lucene sums the (flattened) disjunction of Anserini's bag-of-words query. Ties
are broken by ascending document id, as :class:`~gaia_lite.sparse.BM25Searcher` breaks them.

Files (``impacts/<field>/``): ``terms.txt`` (one term a line, Lucene's order), ``starts.npy`` (int64, where each
term's postings start), ``docs.npy`` (int32 Lucene docids), ``freqs.npy`` (int32), ``norms.npy`` (uint8 per
document), ``impacts.npy`` (float32, for the ``k1`` and ``b`` in the metadata); and ``order.npy`` (int32, each
Lucene docid's rank in the ids' sort order). ``gaia_lite.json`` holds each field's statistics.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from ..artifacts import ArtifactMeta
from ..config import SparseConfig
from ..java import jclass, open_index_reader

IMPACTS_DIR = "impacts"
#: The fields BM25 searches, by the index's ``fields`` setting.
FIELDS = {"flat": ("contents",), "multifield": ("contents", "title")}
_ARRAYS = ("starts", "docs", "freqs", "impacts", "norms")  # in the order the kernels take them
#: Postings converted to impacts at a time when the matrix is written, to bound the memory it takes.
_CHUNK = 1 << 22


def length_table():
    """Lucene's document length for each of the 256 encoded norms (``SmallFloat.byte4ToInt``), as float32."""
    import numpy as np

    small_float = jclass("org.apache.lucene.util.SmallFloat")
    return np.array([small_float.byte4ToInt(i if i < 128 else i - 256) for i in range(256)], dtype=np.float32)


def norm_cache(k1: float, b: float, avgdl, lengths):
    """``1 / (k1 * ((1 - b) + b * length / avgdl))`` for each encoded norm, in float32 as Lucene computes it."""
    import numpy as np

    f32 = np.float32
    k1, b = f32(k1), f32(b)
    return (f32(1) / (k1 * ((f32(1) - b) + b * lengths / f32(avgdl)))).astype(np.float32)


def idf(df, doc_count: int):
    """Lucene's BM25 idf of terms of document frequency ``df`` (an int or an array), as float32."""
    import numpy as np

    return np.float32(np.log(1 + (doc_count - np.asarray(df, dtype=np.float64) + 0.5) /
                             (np.asarray(df, dtype=np.float64) + 0.5)))


def avg_length(stats: dict):
    """Lucene's average field length: ``sumTotalTermFreq / docCount`` in double, rounded to float."""
    import numpy as np

    return np.float32(stats["sum_total_term_freq"] / stats["doc_count"]) if stats["doc_count"] else np.float32(1)


def write_impacts(index_dir: Path, fields: str, ids: list[str], rows, *, fingerprint: str | None = None,
                  source: str | None = None, config: SparseConfig | None = None) -> Path:
    """Write the impact matrix of the Lucene index at ``index_dir`` (fields ``flat`` or ``multifield``) into its
    ``impacts/`` folder, with the impacts of ``config``'s ``k1`` and ``b`` (the defaults where None). ``ids`` are
    the corpus ids, ``rows`` each Lucene docid's corpus row (``rows.npy``), ``fingerprint`` the corpus's and
    ``source`` where the index lives (by default the index's own fingerprint and folder). The index build calls
    it inside its temporary folder, so the matrix is put in place with the index or not at all."""
    import numpy as np

    config = config or SparseConfig()
    if fingerprint is None:
        fingerprint = ArtifactMeta.read(index_dir, "sparse").fingerprint
    out = Path(index_dir) / IMPACTS_DIR
    shutil.rmtree(out, ignore_errors=True)
    reader = open_index_reader(index_dir)
    lengths, stats = length_table(), {}
    try:
        for field in FIELDS[fields]:
            folder = out / field
            terms, postings, doc_count, sum_ttf, max_doc = map(int, str(
                jclass("io.gaialite.PostingsExport").export(reader, field, str(folder))).split())
            stats[field] = {"terms": terms, "postings": postings, "doc_count": doc_count,
                            "sum_total_term_freq": sum_ttf, "max_doc": max_doc}
            _to_npy(folder, "starts.i64", np.int64, "starts")
            _to_npy(folder, "docs.i32", np.int32, "docs")
            _to_npy(folder, "freqs.i32", np.int32, "freqs")
            _to_npy(folder, "norms.u8", np.uint8, "norms")
            _write_impacts(folder, stats[field], config, lengths)
    finally:
        reader.close()
    rank = np.empty(len(rows), dtype=np.int32)
    by_id = sorted(range(len(rows)), key=lambda d: ids[rows[d]])
    rank[np.asarray(by_id, dtype=np.int64)] = np.arange(len(rows), dtype=np.int32)
    np.save(out / "order.npy", rank)
    ArtifactMeta(kind="impacts", num_rows=len(rows), fingerprint=fingerprint, source=source or str(index_dir),
                 params={"fields": fields, "k1": config.k1, "b": config.b, "stats": stats}).write(out)
    return out


def _to_npy(folder: Path, raw: str, dtype, name: str) -> None:
    """Turn the raw little-endian array ``raw`` that Java wrote into ``name.npy`` (mapped later without a copy), a
    chunk at a time, in bounded memory."""
    import numpy as np

    path = folder / raw
    little = np.dtype(dtype).newbyteorder("<")
    n = path.stat().st_size // little.itemsize
    out = np.lib.format.open_memmap(folder / f"{name}.npy", mode="w+", dtype=dtype, shape=(n,))
    if n:
        data = np.memmap(path, dtype=little, mode="r")
        for lo in range(0, n, _CHUNK):
            out[lo:lo + _CHUNK] = data[lo:lo + _CHUNK]
        del data
    out.flush()
    del out
    path.unlink()


def _write_impacts(folder: Path, stats: dict, config: SparseConfig, lengths) -> None:
    """Every posting's impact for ``config``'s ``k1`` and ``b``, a chunk of postings at a time."""
    import numpy as np

    starts = np.load(folder / "starts.npy")
    docs = np.load(folder / "docs.npy", mmap_mode="r")
    freqs = np.load(folder / "freqs.npy", mmap_mode="r")
    norms = np.load(folder / "norms.npy")
    weights = idf(np.diff(starts), stats["doc_count"])
    cache = norm_cache(config.k1, config.b, avg_length(stats), lengths)
    out = np.lib.format.open_memmap(folder / "impacts.npy", mode="w+", dtype=np.float32, shape=(len(docs),))
    term = np.repeat(np.arange(len(weights), dtype=np.int64), np.diff(starts)) if len(docs) <= _CHUNK else None
    for lo in range(0, len(docs), _CHUNK):
        hi = min(lo + _CHUNK, len(docs))
        t = term[lo:hi] if term is not None else np.searchsorted(starts, np.arange(lo, hi), side="right") - 1
        w = weights[t]
        x = freqs[lo:hi].astype(np.float32) * cache[norms[docs[lo:hi]]]
        out[lo:hi] = w - w / (np.float32(1) + x)
    out.flush()
    del out


def has_impacts(index_dir: Path) -> bool:
    """Whether the index at ``index_dir`` has an impact matrix (indexes built before it existed have none)."""
    return (Path(index_dir) / IMPACTS_DIR / "gaia_lite.json").is_file()


class ImpactMatrix:
    """An index's impact matrix, memory-mapped, scoring queries as Lucene's BM25 with ``k1`` and ``b``.

    A query is given as its analyzed terms with their counts (``{term: count}``, the count being the term's boost
    in Anserini's bag-of-words query). :meth:`top_many` scores many queries in one call; :meth:`top` one;
    :meth:`scores` gives the scores of chosen documents. Thread-safe: each thread has its own accumulators, and
    the kernels release the GIL.
    """

    def __init__(self, index_dir: Path, k1: float, b: float):
        import numpy as np

        folder = Path(index_dir) / IMPACTS_DIR
        self.meta = ArtifactMeta.read(folder, "impacts", "gaia-lite index sparse CORPUS")
        params = self.meta.params
        self.num_docs = self.meta.num_rows
        self.order = np.load(folder / "order.npy")
        self.by_rank = np.empty_like(self.order)
        self.by_rank[self.order] = np.arange(len(self.order), dtype=self.order.dtype)
        lengths = length_table()
        fields = FIELDS[params["fields"]]
        # np.asarray: numba takes the mapped files as plain arrays (a view: nothing is read until a query needs it)
        arrays = [{name: np.asarray(np.load(folder / f / f"{name}.npy", mmap_mode="r")) for name in _ARRAYS}
                  for f in fields]
        stats = [params["stats"][f] for f in fields]
        self._dfs = [np.diff(a["starts"]) for a in arrays]
        same = (np.float32(k1), np.float32(b)) == (np.float32(params["k1"]), np.float32(params["b"]))
        # What every kernel takes first: each array per field, then each field's norm cache for k1/b, its idfs,
        # and whether the stored impacts are for this k1/b (else they are computed from frequencies and norms).
        self._matrix = (*(tuple(a[name] for a in arrays) for name in _ARRAYS),
                        tuple(norm_cache(k1, b, avg_length(st), lengths) for st in stats),
                        tuple(idf(df, st["doc_count"]) for df, st in zip(self._dfs, stats)),
                        np.array([same] * len(fields)))
        self._lookups = []
        for f in fields:
            terms = (folder / f / "terms.txt").read_text(encoding="utf-8").split("\n")[:-1]
            self._lookups.append(dict(zip(terms, range(len(terms)))))
        self._local = threading.local()
        self._pools, self._pool_lock = {}, threading.Lock()
        from . import _kernels  # compiles (or loads the cached) numba kernels now, not in the first search

        self._kernels = _kernels

    def _scratch(self):
        """This thread's accumulators (:meth:`_new_scratch`), made on its first query."""
        s = getattr(self._local, "scratch", None)
        if s is None:
            s = self._local.scratch = self._new_scratch()
        return s

    def _new_scratch(self):
        """Accumulators for one thread: a double per document, marks, and the touched documents (one more, for
        the kernels' branch-free marking)."""
        import numpy as np

        n = self.num_docs
        return np.zeros(n, dtype=np.float64), np.zeros(n, dtype=np.uint8), np.empty(n + 1, dtype=np.int32)

    def _entries(self, queries):
        """The queries as the kernels take them: where each starts, and each (field, term id, boost) entry."""
        import numpy as np

        starts, fields, terms, boosts = [0], [], [], []
        for query in queries:
            found = []
            for f, (lookup, df) in enumerate(zip(self._lookups, self._dfs)):
                for term, count in query.items():
                    t = lookup.get(term)
                    if t is not None:
                        found.append((df[t], f, t, count))
            # Rarest terms first: their documents score highest, so the top-k heap fills with good ones and most
            # later documents fall below its floor (SciFact, k=100: the kernel 34 -> 29 us a query). Scores do not
            # depend on the order: each document's impacts are summed exactly, in double.
            found.sort()
            for _, f, t, count in found:
                fields.append(f)
                terms.append(t)
                boosts.append(count)
            starts.append(len(fields))
        return (np.array(starts, dtype=np.int64), np.array(fields, dtype=np.int64), np.array(terms, dtype=np.int64),
                np.array(boosts, dtype=np.int32))

    def top_many(self, queries, k: int, threads: int = 1):
        """The best ``k`` documents of each of ``queries``: Lucene docids and float32 scores (arrays of one row per
        query, best first, ties by id) and how many each row holds. ``threads`` > 1 scores that many slices of the
        queries at once (the kernels release the GIL)."""
        import numpy as np

        q_start, q_field, q_term, q_boost = self._entries(queries)
        out_docs = np.empty((len(queries), k), dtype=np.int32)
        out_scores = np.empty((len(queries), k), dtype=np.float32)
        out_n = np.empty(len(queries), dtype=np.int64)

        def score(lo: int, hi: int) -> None:
            first = q_start[lo]
            self._kernels.top_k(*self._matrix, q_start[lo:hi + 1] - first, q_field[first:], q_term[first:],
                                q_boost[first:], self.order, self.by_rank, k, *self._scratch(), out_docs[lo:hi],
                                out_scores[lo:hi], out_n[lo:hi])

        slices = min(max(1, threads), len(queries))
        if slices <= 1:
            score(0, len(queries))
        else:
            bounds = [len(queries) * i // slices for i in range(slices + 1)]
            list(self.pool(slices).map(lambda i: score(bounds[i], bounds[i + 1]), range(slices)))
        return out_docs, out_scores, out_n

    def pool(self, threads: int):
        """A pool of ``threads`` threads kept for later batches, each with its own accumulators (a new pool and new
        threads per batch cost 3 ms: a tenth of scoring SciFact's 300 queries). Analysis stays on the caller's
        thread: in Java from pool threads, it made a batch slower, not faster."""
        from concurrent.futures import ThreadPoolExecutor

        with self._pool_lock:
            pool = self._pools.get(threads)
            if pool is None:
                pool = self._pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="gaia-lite-bm25")
            return pool

    def close(self) -> None:
        """Stop the pools' threads."""
        with self._pool_lock:
            for pool in self._pools.values():
                pool.shutdown(wait=False)
            self._pools.clear()

    def top(self, terms: dict[str, int], k: int):
        """The Lucene docids and float32 scores of the best ``k`` documents for ``terms``, best first (ties by id)."""
        docs, scores, n = self.top_many([terms], k)
        return docs[0, :n[0]], scores[0, :n[0]]

    def count(self, terms: dict[str, int]) -> int:
        """How many documents hold at least one of ``terms``."""
        _, q_field, q_term, q_boost = self._entries([terms])
        return int(self._kernels.count(*self._matrix, q_field, q_term, q_boost, *self._scratch()))

    def scores(self, terms: dict[str, int], docids):
        """The float32 score of each Lucene docid of ``docids`` for ``terms`` (0 where it holds no term)."""
        import numpy as np

        _, q_field, q_term, q_boost = self._entries([terms])
        return self._kernels.scores_of(*self._matrix, q_field, q_term, q_boost, *self._scratch(),
                                       np.asarray(docids, dtype=np.int64))
