"""BM25 search over a gaia_lite Lucene index, with exact Anserini scores and few crossings into Java.

Pyserini's ``LuceneSearcher`` returns one Java object per hit and loads each hit's stored document; at
k=100 that per-hit traffic costs more than the search itself (BENCHMARKS.md). Here a query crosses into Java
three times whatever k is: build the query, search, and serialize the ``TopDocs`` to JSON with Jackson (inside
Anserini's jar). Lucene docids map to corpus rows through the index's ``rows.npy`` sidecar.

Where the index has an impact matrix (:mod:`gaia_lite.sparse.impacts`, written by every build), a plain search is
scored from it instead, with Lucene's arithmetic and several times faster; :meth:`BM25Searcher.route` decides
which, and says so. Either way a hit's score is the float32 score Lucene computes, exactly.

Ranking equals Anserini's ``SimpleSearcher``: BM25 (k1=0.9, b=0.4 by default), the query analyzed as a bag
of words with the index's analyzer, ties broken by ascending document id.
"""

from __future__ import annotations

import base64
import collections
import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path

from ..config import DEFAULT_K, SparseConfig, check_k, configure
from ..corpus import Corpus, index_meta
from ..errors import ArtifactMismatchError, InputError
from ..java import JAVA_LOCK, jclass, open_index_reader, start_jvm
from ..timing import StepTimes, step
from ..types import Hits, Run
from .impacts import ImpactMatrix, has_impacts
from .indexer import ROWS_FILE, index_command

try:  # orjson parses the hits faster than json; it comes with gradio
    from orjson import loads as _loads
except ImportError:  # pragma: no cover
    from json import loads as _loads

# Lucene's default of 1024 clauses rejects long queries; each distinct query term (per field) is one clause.
_MAX_CLAUSES = 1 << 16
#: The two ways a search is scored (:meth:`BM25Searcher.route`).
IMPACTS, LUCENE = "impacts", "lucene"
#: Queries per slice of a batch scored on several threads from the impact matrix: small enough that the pool
#: starts early, large enough that one crossing into Java analyzes many.
_BATCH_SLICE = 64


def _exact(scores) -> list[float]:
    """Lucene's float32 scores (as Jackson wrote them, or as numpy holds them) as the doubles of their exact
    values, so that both routes give the same numbers."""
    import numpy as np

    return np.asarray(scores, dtype=np.float32).tolist()


class BM25Searcher:
    """BM25 over a Lucene index built by :func:`~gaia_lite.sparse.build_sparse_index`.

    ``search(query, k)`` returns hits; ``search_batch(queries, k)`` returns a run. Query text is analyzed
    as plain words: Lucene syntax (quotes, ``field:``, brackets, wildcards, AND/OR/NOT, ``-``) has no
    special meaning and never raises a parse error. Open one with :func:`gaia_lite.retriever.open_searcher`,
    or directly over an index folder.
    """

    #: The steps a search records in an attached :class:`~gaia_lite.timing.StepTimes` (``step_times``). Lucene's
    #: route: building the Lucene query, Lucene's search, serializing its hits to JSON in Java (Jackson), parsing
    #: that JSON, mapping Lucene docids to ids and sorting, making the Hit list (counts: ``lucene_rounds``). The
    #: impact route: analyzing the query, scoring and keeping the top k (numba), making the Hit list.
    STEPS = ("build_query", "lucene_search", "jackson_json", "json_parse", "map_sort", "hits")
    IMPACT_STEPS = ("analyze", "impact_top", "hits")
    step_times: StepTimes | None = None
    #: The settings it was opened with, where :func:`~gaia_lite.retriever.open_searcher` opened it.
    config = None

    def __init__(self, index_dir: str | os.PathLike, corpus: Corpus | None = None, config: SparseConfig | None = None,
                 *, impacts: bool = True, **settings):
        """Open the index at ``index_dir`` (of ``corpus``, else of the corpus its metadata names). ``config`` (or
        its fields as keyword arguments, such as ``k1=1.2``) gives BM25's ``k1`` and ``b``; its fields and
        analyzer, where given, must be the ones the index was built with. ``impacts=False`` leaves the index's
        impact matrix unused, every search in Lucene: the reference the tests and benchmarks compare with."""
        import numpy as np

        self.index_dir = Path(index_dir)
        self.meta, self.corpus = index_meta(self.index_dir, "sparse", corpus)
        corpus = self.corpus
        self.fields = self.meta.params["fields"]
        built = SparseConfig(fields=self.fields, **self.meta.params["analyzer"])
        if config is not None and (config.fields, config.analyzer()) != (built.fields, built.analyzer()):
            raise ArtifactMismatchError(
                f"{self.index_dir} was built with fields={built.fields} and analyzer {built.analyzer()}, not "
                f"fields={config.fields} and {config.analyzer()}: open the index built with those settings "
                f"(`{index_command(corpus.folder, config)}` builds it)")
        config = configure(SparseConfig, config or built, settings)
        self.k1, self.b = config.k1, config.b
        start_jvm()
        self._rows = np.load(self.index_dir / ROWS_FILE).tolist()
        self._ids = corpus.ids
        self._reader = open_index_reader(self.index_dir)
        if self._reader.maxDoc() != len(self._rows) or len(self._rows) != self.meta.params["indexed"]:
            raise ArtifactMismatchError(
                f"{self.index_dir}: Lucene holds {self._reader.maxDoc()} documents, its sidecar {len(self._rows)}, "
                f"its metadata {self.meta.params['indexed']}: rebuild with `{self.meta.command}`"
            )
        searcher_class = jclass("org.apache.lucene.search.IndexSearcher")
        searcher_class.setMaxClauseCount(_MAX_CLAUSES)
        self._searcher = searcher_class(self._reader, signature="(Lorg/apache/lucene/index/IndexReader;)V")
        self._searcher.setSimilarity(jclass("org.apache.lucene.search.similarities.BM25Similarity")(self.k1, self.b))
        from pyserini.analysis import get_lucene_analyzer  # needs the JVM, which start_jvm started

        a = self.meta.params["analyzer"]
        self._analyzer = get_lucene_analyzer(
            language=a["language"], stemming=a["stemmer"] != "none", stemmer=a["stemmer"],
            stopwords=not a["keep_stopwords"],
        )
        self._generator = jclass("io.anserini.search.query.BagOfWordsQueryGenerator")()
        if self.fields == "multifield":
            weights = jclass("java.util.HashMap")()
            for name in ("contents", "title"):
                weights.put(name, jclass("java.lang.Float")(1.0))
            self._field_arg = weights
        else:
            self._field_arg = "contents"
        self._mapper = jclass("com.fasterxml.jackson.databind.ObjectMapper")()
        self._bytes_refs = self._mapper.readerForListOf(jclass("org.apache.lucene.util.BytesRef"))
        self._impacts = (ImpactMatrix(self.index_dir, self.k1, self.b) if impacts and has_impacts(self.index_dir)
                         else None)
        if self._impacts is not None and (self._impacts.num_docs, self._impacts.meta.fingerprint) != (
                len(self._rows), self.meta.fingerprint):
            raise ArtifactMismatchError(
                f"{self.index_dir}: its impact matrix holds {self._impacts.num_docs} documents with fingerprint "
                f"{self._impacts.meta.fingerprint[:19]}, the index {len(self._rows)} with "
                f"{self.meta.fingerprint[:19]}: rebuild with `{self.meta.command}`")
        self._docid = self._lucene_ids = None  # id -> Lucene docid and back, made when first needed

    def route(self, only=None, phrases=()) -> str:
        """How a search with these restrictions is scored: ``"impacts"`` (the impact matrix: a plain search where
        the index has one) or ``"lucene"`` (phrases, an ``only`` filter, corpus-wide statistics of a corpus in
        parts, or an index built before impact matrices). The one place that decides; hits are the same."""
        return IMPACTS if self._impacts is not None and only is None and not phrases else LUCENE

    def local_stats(self, query: str) -> str:
        """The term and collection statistics that scoring ``query`` reads from this index, as text to sum over
        the parts of a corpus (:func:`~gaia_lite.sparse.global_stats.sum_stats`); empty for an empty query."""
        if not query.strip():
            return ""
        return str(jclass("io.gaialite.GlobalStatsSearcher").localStats(self._searcher, self._query(query)))

    def with_stats(self, stats: str) -> BM25Searcher:
        """This searcher scoring with ``stats`` (a whole corpus's, summed over its parts) instead of its own
        index's: a view sharing the open index, for one search or many."""
        view = copy.copy(self)
        view._impacts = None  # the matrix holds this index's statistics, not the corpus's
        view._searcher = jclass("io.gaialite.GlobalStatsSearcher")(self._reader, stats)
        view._searcher.setSimilarity(jclass("org.apache.lucene.search.similarities.BM25Similarity")(self.k1, self.b))
        return view

    def _top(self, q, k: int) -> list[tuple[int, float]]:
        """``(lucene_docid, score)`` of every document that can be in the top ``k`` for the Lucene query ``q``.

        Lucene breaks score ties by Lucene docid, Anserini by document id. So the search asks for a few hits
        more than needed (a sixteenth, at least one); while the last hit ties with the k-th, it asks for four
        times as many more, until the whole group of documents tied at the k-th place is in. Sorting those by
        (score, id) then picks exactly the documents Anserini picks. The group is rarely larger than that
        margin: on SciFact at k=1000, at most 42 documents past the 1000th (300 queries); asking for one more
        and then twice as many made half of those searches run twice, for 2,002 hits.
        """
        times = self.step_times
        n = k + max(1, k // 16)
        rounds = 0
        while True:
            rounds += 1
            top = self._lucene_search(q, n)
            if len(top) < n or top[-1]["score"] != top[k - 1]["score"]:
                if times is not None:
                    times.count("lucene_rounds", rounds)
                return [(d["doc"], d["score"]) for d in top]
            n = k + (n - k) * 4

    def _lucene_search(self, q, n: int) -> list[dict]:
        """Lucene's top ``n`` for ``q`` as ``[{"doc": lucene_docid, "score": s}, ...]``: one crossing into Java
        for the search and one for the hits, serialized to JSON there (Jackson), instead of one per hit."""
        times = self.step_times
        with step(times, "lucene_search"):
            top_docs = self._searcher.search(q, n)
        with step(times, "jackson_json"):
            text = self._mapper.writeValueAsString(top_docs)
        with step(times, "json_parse"):
            return _loads(text)["scoreDocs"]

    def _query(self, query: str, only=None, phrases=()):
        """The bag-of-words query (every document where ``query`` is empty), restricted by non-scoring filters (so
        scores stay exactly BM25's) to the documents ``only`` names and to those holding every one of ``phrases``."""
        q = (self._generator.buildQuery(self._field_arg, self._analyzer, query) if query.strip()
             else jclass("org.apache.lucene.search.MatchAllDocsQuery")())
        filters = [self.phrase_query(p) for p in phrases]
        if only is not None:
            filters.append(self._id_filter(only))
        return self._filtered(q, filters) if filters else q

    def search(self, query: str, k: int = DEFAULT_K, *, only=None, phrases=()) -> Hits:
        """The top ``k`` documents for ``query``, best first.

        ``only`` (doc ids) restricts the search to those documents; ``phrases`` to documents holding each
        phrase exactly (as analyzed: stemmed words in order, stop words as gaps). Neither changes a score.
        """
        check_k(k)
        if not query.strip() or (only is not None and not only):
            return Hits()
        times = self.step_times
        if self.route(only, phrases) == IMPACTS:
            return Hits(*self._impact_search([query], k)[0])
        with step(times, "build_query"):
            q = self._query(query, only, phrases)
        top = self._top(q, k)
        with step(times, "map_sort"):
            ids, rows = self._ids, self._rows
            pairs = [(ids[rows[doc]], score) for (doc, _), score in zip(top, _exact([s for _, s in top]))]
            pairs.sort(key=lambda p: (-p[1], p[0]))
        with step(times, "hits"):
            return Hits.of(pairs[:k])

    def count(self, query: str = "", *, only=None, phrases=()) -> int:
        """How many documents hold at least one term of ``query`` (every document where ``query`` is empty),
        within ``only`` and holding each of ``phrases``."""
        if only is not None and not only:
            return 0
        if query.strip() and self.route(only, phrases) == IMPACTS:
            return self._impacts.count(self.query_terms(query))
        return int(self._searcher.count(self._query(query, only, phrases)))

    def matching(self, phrases, *, only=None) -> list[str]:
        """The ids of all documents holding every one of ``phrases`` (within ``only``), in corpus order."""
        if only is not None and not only:
            return []
        q = self._query("", only, phrases)
        n = int(self._searcher.count(q))
        if n == 0:
            return []
        return [self._ids[r] for r in sorted(self._rows[d["doc"]] for d in self._lucene_search(q, n))]

    def phrase_query(self, phrase: str):
        """The Lucene query for documents holding ``phrase`` exactly, in the fields BM25 searches.

        Raises :class:`InputError` for a phrase the index cannot match (only stop words or punctuation).
        """
        fields = ["contents", "title"] if self.fields == "multifield" else ["contents"]
        with JAVA_LOCK:
            builder = jclass("org.apache.lucene.util.QueryBuilder")(self._analyzer)
            clauses = [q for q in (builder.createPhraseQuery(f, phrase) for f in fields) if q is not None]
        if not clauses:
            raise InputError(
                f"the phrase \"{phrase}\" has no indexed words (stop words and punctuation are not indexed): "
                "remove the quotes or add a content word")
        if len(clauses) == 1:
            return clauses[0]
        occur = jclass("org.apache.lucene.search.BooleanClause$Occur")
        with JAVA_LOCK:
            either = jclass("org.apache.lucene.search.BooleanQuery$Builder")()
            for q in clauses:
                either.add(q, occur.SHOULD)
            return either.build()

    def search_batch(self, queries: Mapping[str, str], k: int = DEFAULT_K, threads: int = 1) -> Run:
        """Search every ``{query_id: text}`` and return ``{query_id: {doc_id: score}}``.

        ``threads`` > 1 runs queries on that many Python threads. Lucene's part runs in parallel (pyjnius releases
        the GIL), the Python part does not (BENCHMARKS.md has the speed-up).
        """
        check_k(k)
        items = list(queries.items())
        if self.route() == IMPACTS:
            return self._impact_batch(items, k, threads)
        if threads <= 1:
            return {qid: {h.doc_id: h.score for h in self.search(text, k)} for qid, text in items}
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            results = pool.map(lambda item: self.search(item[1], k), items)
            return {qid: {h.doc_id: h.score for h in hits} for (qid, _), hits in zip(items, results)}

    def _impact_search(self, queries: list[str], k: int, threads: int = 1) -> list[tuple[list[str], list[float]]]:
        """The top ``k`` ids and scores of each of ``queries``, scored from the impact matrix: analyzed in one call
        into Java, scored on ``threads`` threads."""
        times = self.step_times
        with step(times, "analyze"):
            terms = self._analyze(queries)
        with step(times, "impact_top"):
            top = self._impacts.top_many(terms, k, threads)
        with step(times, "hits"):
            return self._named(*top)

    def _named(self, docs, scores, n) -> list[tuple[list[str], list[float]]]:
        """:meth:`ImpactMatrix.top_many`'s rows as (document ids, scores) lists."""
        names = self._names().__getitem__
        return [(list(map(names, docs[i, :n[i]].tolist())), scores[i, :n[i]].tolist()) for i in range(len(n))]

    def _impact_batch(self, items: list[tuple[str, str]], k: int, threads: int) -> Run:
        """:meth:`search_batch` from the impact matrix.

        On several threads it runs as a pipeline over slices of the queries: this thread analyzes the next slice
        (in Java) and turns scored slices into results (in Python) while the pool's threads score the slices in
        between (numba, without the GIL). Analyzed all first and converted all after, they left the pool idle
        meanwhile: SciFact's 300 queries at k=100 on 2 threads went from 19,005 to 28,996 queries/s (2026-12-05).
        """
        texts = [text for _, text in items]
        if threads <= 1 or len(texts) <= _BATCH_SLICE:
            tops = self._impact_search(texts, k, threads)
        else:
            pool = self._impacts.pool(threads)
            in_flight: collections.deque = collections.deque()
            tops = []
            for lo in range(0, len(texts), _BATCH_SLICE):
                terms = self._analyze(texts[lo:lo + _BATCH_SLICE])
                in_flight.append(pool.submit(self._impacts.top_many, terms, k))
                while len(in_flight) > threads:
                    tops += self._named(*in_flight.popleft().result())
            while in_flight:
                tops += self._named(*in_flight.popleft().result())
        return {qid: dict(zip(ids, scores)) for (qid, _), (ids, scores) in zip(items, tops)}

    def _names(self) -> list[str]:
        """Each Lucene docid's document id, made when first needed."""
        if self._lucene_ids is None:
            ids = self._ids
            self._lucene_ids = [ids[r] for r in self._rows]
        return self._lucene_ids

    def _id_filter(self, doc_ids):
        """A query matching exactly the documents ``doc_ids`` names.

        The ids cross into Java as one JSON string that Jackson reads into ``BytesRef`` objects, much cheaper
        than a pyjnius call per id (BENCHMARKS.md).
        """
        data = json.dumps([{"bytes": base64.b64encode(d.encode("utf-8")).decode("ascii"), "offset": 0,
                            "length": len(d.encode("utf-8"))} for d in doc_ids])
        return jclass("org.apache.lucene.search.TermInSetQuery")("id", self._bytes_refs.readValue(data))

    @staticmethod
    def _filtered(query, filters):
        """``query`` with ``filters`` as non-scoring clauses every hit must match."""
        occur = jclass("org.apache.lucene.search.BooleanClause$Occur")
        with JAVA_LOCK:
            builder = jclass("org.apache.lucene.search.BooleanQuery$Builder")()
            builder.add(query, occur.MUST)
            for f in filters:
                builder.add(f, occur.FILTER)
            return builder.build()

    def _restricted(self, query, doc_ids: list[str]):
        """``query`` limited to ``doc_ids`` by a non-scoring filter, so scores stay exactly BM25's."""
        return self._filtered(query, [self._id_filter(doc_ids)])

    def _scores_of(self, query, doc_ids: list[str]) -> dict[str, float]:
        with step(self.step_times, "id_filter"):
            restricted = self._restricted(query, doc_ids)
        top = self._lucene_search(restricted, len(doc_ids))
        return {self._ids[self._rows[d["doc"]]]: s for d, s in zip(top, _exact([d["score"] for d in top]))}

    def score_documents(self, query: str, doc_ids) -> dict[str, float]:
        """The exact BM25 score of each of ``doc_ids`` for ``query``; 0.0 for a document holding no query term.

        Used to give a document that only the dense side retrieved its real BM25 score.
        """
        ids = list(dict.fromkeys(doc_ids))
        if not ids:
            return {}
        if not query.strip():
            return dict.fromkeys(ids, 0.0)
        if self.route() == IMPACTS:
            docids = {doc_id: self._lucene_docid(doc_id) for doc_id in ids}
            known = [doc_id for doc_id, d in docids.items() if d is not None]
            found = dict(zip(known, self._impacts.scores(self.query_terms(query), [docids[d] for d in known]).tolist()))
            return {doc_id: found.get(doc_id, 0.0) for doc_id in ids}
        found = self._scores_of(self._query(query), ids)
        return {doc_id: found.get(doc_id, 0.0) for doc_id in ids}

    def _lucene_docid(self, doc_id: str) -> int | None:
        """The Lucene docid of the document ``doc_id``; None for an id the index does not hold."""
        if self._docid is None:
            self._docid = {doc_id: d for d, doc_id in enumerate(self._names())}
        return self._docid.get(doc_id)

    def query_terms(self, query: str) -> dict[str, int]:
        """The analyzed query terms with their counts, as the bag-of-words query weighs them."""
        return self._analyze([query])[0]

    def _analyze(self, queries: list[str]) -> list[dict[str, int]]:
        """Each query's analyzed terms with their counts: one crossing into Java for all of them."""
        out = []
        for terms in _loads(jclass("io.gaialite.QueryTerms").analyze(self._analyzer, queries)):
            counts: dict[str, int] = {}
            for term in terms:
                counts[term] = counts.get(term, 0) + 1
            out.append(counts)
        return out

    def explain_terms(self, query: str, doc_ids) -> dict[str, dict[str, float]]:
        """Each query term's share of each document's BM25 score: ``{doc_id: {term: score}}``.

        A document's shares sum to its BM25 score (up to float32 rounding of the sum); terms a document does
        not hold are left out.
        """
        ids = list(dict.fromkeys(doc_ids))
        out: dict[str, dict[str, float]] = {doc_id: {} for doc_id in ids}
        if not ids:
            return out
        term_class, term_query = jclass("org.apache.lucene.index.Term"), jclass("org.apache.lucene.search.TermQuery")
        boost = jclass("org.apache.lucene.search.BoostQuery")
        fields = ["contents", "title"] if self.fields == "multifield" else ["contents"]
        for term, count in self.query_terms(query).items():
            for field in fields:
                q = term_query(term_class(field, term))
                for doc_id, score in self._scores_of(boost(q, float(count)) if count > 1 else q, ids).items():
                    out[doc_id][term] = out[doc_id].get(term, 0.0) + score
        return out

    def doc(self, doc_id: str) -> dict:
        """The corpus row behind a hit, by id."""
        return self.corpus.get(doc_id)

    @property
    def num_docs(self) -> int:
        """How many documents the Lucene index holds."""
        return int(self._reader.numDocs())

    def close(self) -> None:
        """Release the Lucene index (and the impact matrix's threads)."""
        if self._impacts is not None:
            self._impacts.close()
        self._reader.close()

    def __enter__(self) -> BM25Searcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
