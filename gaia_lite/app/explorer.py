"""The explorer's handlers: one built corpus, served for searching, in plain Python without Gradio.

:class:`Explorer` opens the corpus and its searchers through the factory (:func:`~gaia_lite.retriever.open_searcher`),
makes each search's retrieval settings into one :class:`~gaia_lite.config.RetrieverConfig`, searches and compares.
The rest it hands to its parts, one concern each:

- :mod:`.search`: what a search is made of besides its retrieval settings (:class:`~.search.View`, the query's
  words and phrases) and the results a page shows;
- :mod:`.documents`: a document by id, the metadata filters, the overview, highlighting;
- :mod:`.analysis`: the stored audit and duplicate analysis, and contamination checks;
- :mod:`.exports`: results, contamination items and the audit's tables as files;
- :mod:`.build`: the dense index built in the background while BM25 serves.

A corpus served by ``gaia-lite serve`` (its address, ``http://HOST:PORT/NAME``) plugs in through the same factory:
its :class:`~gaia_lite.serve.client.ServedSearcher` stands in for the searchers and its
:class:`~gaia_lite.serve.client.ServedCorpus` for the corpus, so searching, paging, comparing, documents and
exports work as over a corpus here. What needs the whole corpus on this machine (filters, the overview and the
audit, phrase counts, duplicates, contamination checks, building an index) says so instead
(:meth:`Explorer.local_only`). Over a corpus kept in parts, served or here, each search says which parts answered
(``Results.parts``); a served part that did not answer leaves a partial answer that says so, never a silent one.

The Gradio UI (:mod:`.ui`) and its named API endpoints call these, and tests call them directly. What they return
for display is already safe: HTML comes from :mod:`.render`, which escapes every character of corpus text and,
unless told not to, redacts personal data; plain-text fields (API, exports) are redacted the same way.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import replace
from functools import lru_cache

from ..config import FusionConfig, RetrieverConfig
from ..corpus import Corpus
from ..errors import ConfigError
from ..parts import parts_report
from ..registry import FUSION_METHODS
from ..types import HybridHit
from . import exports
from .analysis import Audit, Contamination, Duplicates
from .build import DenseBuild
from .documents import Analyzer, Documents, DocumentView, Highlighter
from .search import MAX_DEPTH, Comparison, Results, Row, View, bounded_query, fill_rows, parse_query

#: Hiding near duplicates looks this many times deeper than the page, so that a page still fills up.
DUPLICATE_LOOKAHEAD = 3
_FUSION_FIELDS = frozenset(f.name for f in dataclasses.fields(FusionConfig))
#: The fusion depths: every method reads them.
_DEPTHS = ("depth", "bm25_depth", "dense_depth")
#: Documents a phrase count lists at most (the page and the API).
COUNT_LIMIT = 100


class Explorer:
    """Search, compare, read and summarise one built corpus (Dataset + Lucene index, and a dense index where
    built), or search and read a corpus served by ``gaia-lite serve``, given its address (:attr:`served`). The
    dense side is optional: without it only BM25 is offered.

    ``config`` chooses the indexes (as for :func:`~gaia_lite.retriever.open_searcher`) and gives the page's
    initial retrieval settings (its fusion); ``encoder`` is an already loaded query encoder. With ``build_dense``
    and no dense index built, the dense index is built in the background (:class:`~.build.DenseBuild`) while BM25
    serves; dense and hybrid search turn on when it is complete.

    ``benchmarks`` names the benchmark sources the page may check for contamination (``{name: Source}``); a page
    can also upload a file or name a Hub dataset, never a path on the server. A duplicate analysis stored
    beside the corpus (``gaia-lite duplicates``) is found at start and read on first use: the overview shows it,
    and searches can hide near duplicates.
    """

    def __init__(self, corpus: Corpus | str, config: RetrieverConfig | None = None, *, root=None, encoder=None,
                 build_dense: bool = False, benchmarks: dict | None = None):
        from ..retriever import open_corpus, open_searcher

        self.corpus = open_corpus(corpus, root=root)
        #: The address of the served corpus's front, or None for a corpus on this machine.
        self.served: str | None = getattr(self.corpus, "address", None)
        config = config or RetrieverConfig()
        # Dense and hybrid where a dense index is built (or served), or one is asked for and not to be built here
        # (then its absence is an error).
        with_dense = ({"dense", "hybrid"} <= set(self.corpus.retrievers) if self.served else
                      bool(self.corpus.artifacts("dense")) or (config.dense.model is not None and not build_dense))
        searcher = open_searcher(self.corpus, replace(config, kind="hybrid" if with_dense else "bm25"),
                                 encoder=encoder)
        self.bm25 = searcher.bm25 if with_dense else searcher
        self.hybrid = self.dense = self.dense_build = None
        #: The explorer's retrieval settings, resolved from what is built: each search starts from them.
        self.config: RetrieverConfig = searcher.config
        self.retrievers: tuple[str, ...] = ("bm25",)
        # A served corpus's words are highlighted as its front's index analyzes them, with the same analyzer here.
        self.documents = Documents(self.corpus, Highlighter(Analyzer(self.config.sparse) if self.served else self.bm25))
        self.duplicates = Duplicates(None if self.served else self.corpus)
        self.audit = Audit(None if self.served else self.corpus)
        self.checks = Contamination(self.corpus, benchmarks)
        if with_dense:
            self._use(searcher)
        elif build_dense and not self.served:
            self.dense_build = DenseBuild(self, encoder)

    def _use(self, hybrid) -> None:
        """Serve dense and hybrid search from ``hybrid`` (a :class:`~gaia_lite.hybrid.HybridSearcher` from the
        factory)."""
        self.hybrid, self.dense, self.config = hybrid, hybrid.dense, hybrid.config
        self.retrievers = ("bm25", "dense", "hybrid")  # set last: searches read it to know what is served

    def dense_status(self) -> dict:
        """Where the dense side is: ``ready``, ``building`` (with the build's progress), ``failed`` (with the
        error) or ``none`` (no dense index, none being built)."""
        if self.dense is not None:
            return {"state": "ready"}
        if self.dense_build is None:
            return {"state": "none"}
        return self.dense_build.status()

    def local_only(self, what: str) -> ConfigError:
        """The error saying that ``what`` needs the whole corpus on this machine, which the explorer of a served
        corpus does not have; the features that need it raise it over a served corpus only."""
        return ConfigError(f"{what} needs the whole corpus on this machine, and this explorer searches the corpus "
                           f"served at {self.served}: open the explorer where the corpus is (`gaia-lite app NAME`)")

    @property
    def benchmarks(self) -> dict:
        """The benchmarks a page may check by name (``{name: Source}``)."""
        return self.checks.benchmarks

    @property
    def has_duplicates(self) -> bool:
        """Whether a duplicate analysis of the corpus's current documents is stored."""
        return self.duplicates.stored

    # --- searching -------------------------------------------------------------------------------------------

    def retriever_config(self, view: View | None = None, kind: str | None = None, **fusion) -> RetrieverConfig:
        """One search's retrieval settings, made once: the explorer's :attr:`config` with ``kind`` (None: the
        richest retriever served) and ``fusion``, :class:`~gaia_lite.config.FusionConfig` fields by name (None:
        the explorer's own). A setting the fusion method does not read (its registry entry's ``settings``; the
        page hides its control) stays the explorer's, and one the method refuses is set to its default, so that a
        hidden control never makes a method refuse. Each side retrieves at least the hits ``view`` needs (its
        page depth, or more where near duplicates are hidden). The values are checked once, by the configs' own
        ``__post_init__``."""
        unknown = sorted(set(fusion) - _FUSION_FIELDS)
        if unknown:
            raise ConfigError(f"unknown fusion setting(s) {unknown}; valid: {', '.join(sorted(_FUSION_FIELDS))}")
        base = self.config.fusion
        method = fusion.get("method") or base.method
        entry = FUSION_METHODS[method] if method in FUSION_METHODS else None  # an unknown one: FusionConfig says so
        reads, refuses = ((*entry.settings, *_DEPTHS), entry.refuses) if entry else ((), {})
        chosen = {name: fusion[name] for name in reads if fusion.get(name) is not None}
        refused = {name: getattr(FusionConfig, name) for name in refuses}
        needed = self._needed(view or View())
        depths = {name: chosen.get(name, getattr(base, name)) for name in _DEPTHS}
        deeper = {name: needed for name, value in depths.items() if type(value) is int and value < needed}
        return replace(self.config, kind=kind or self.retrievers[-1],
                       fusion=replace(base, **(refused | chosen | deeper | {"method": method})))

    def _needed(self, view: View) -> int:
        """How many hits a search for ``view`` asks for: its page depth, deeper where near duplicates are hidden."""
        return view.depth * DUPLICATE_LOOKAHEAD if view.hide_duplicates and self.duplicates.stored else view.depth

    def search(self, query: str, view: View | None = None, *, kind: str | None = None, **fusion) -> Results:
        """One page of results for ``query`` (quoted parts are exact phrases), shown as ``view`` says (default:
        the first page); ``kind`` and ``fusion`` are its retrieval settings, made into one RetrieverConfig by
        :meth:`retriever_config`."""
        start = time.perf_counter()
        view = view or View()
        config = self.retriever_config(view, kind, **fusion)
        self._check_served(config.kind)
        query, notes = bounded_query(query)
        text, phrases = parse_query(query)
        hiding = view.hide_duplicates and self.duplicates.stored
        if view.hide_duplicates and not hiding:
            notes.append("near duplicates are not hidden: the duplicate analysis needs the corpus on this machine"
                         if self.served else "no duplicate analysis of this corpus, so nothing is hidden: run "
                         f"`gaia-lite duplicates {self.corpus.folder}`")
        asked = self._needed(view)
        hits: list[HybridHit] = []
        # Parts that do not answer leave the answer partial, and the report says so (the page shows it).
        with parts_report() as report:
            only = self._restriction(view.filters, tuple(phrases))
            pool = len(self.corpus) if only is None else len(only)
            matches: int | None = pool
            if not text.strip():
                matches = None
                if not phrases and not view.filters:
                    notes.append("type a query to search")
            elif config.kind == "bm25":
                matches = self.bm25.count(text, only=only)
                route = self.bm25.route(only)
                hits = [HybridHit.from_side(h, "bm25", route) for h in self.bm25.search(text, asked, only=only)]
            elif config.kind == "dense":
                hits = [HybridHit.from_side(h, "dense") for h in self.dense.search(text, asked, only=only)]
            else:
                hits = self.hybrid.search(text, asked, config.fusion, only=only)
            if hiding:
                hits, hidden = self.duplicates.collapse(hits)
                hits = hits[:view.depth]
                if hidden:
                    notes.append(f"{hidden:,} near duplicate{'s' * (hidden != 1)} of better-ranked results hidden")
            rows = [Row(h) for h in hits[view.depth - view.k:]]
            pages = max(1, min(math.ceil((matches or 0) / view.k), MAX_DEPTH // view.k))
            redactions = fill_rows(rows, self.corpus, self.documents.highlight, text, view.redact)
        return Results(query, view, config, rows, matches, pool, phrases, pages, notes,
                       (time.perf_counter() - start) * 1000, dict(redactions),
                       report.record() if report.total else None)

    def _check_served(self, kind: str) -> None:
        if kind in self.retrievers:
            return
        if self.served:
            raise ConfigError(f"the front at {self.served} serves {', '.join(self.retrievers)} only: serve the corpus "
                              f"with a dense index for {kind} search")
        status = self.dense_status()
        if status["state"] == "building":
            raise ConfigError(f"the dense index is being built ({status['percent']}% done): BM25 works now, "
                              "dense and hybrid search turn on when it is complete")
        raise ConfigError(f"this corpus has no dense index, so only BM25 is available: build one with "
                          f"`gaia-lite index dense {self.corpus.folder}`")

    def _restriction(self, filters: tuple, phrases: tuple) -> list[str] | None:
        """The ids a search may return under ``filters`` and ``phrases`` (None: every document). A served corpus
        has no metadata here to filter on, and its phrase matches are asked for at each search: a part missing
        now may answer at the next, so a partial set is never kept."""
        if not self.served:
            return self._only(filters, phrases)
        if filters:
            raise self.local_only("filtering on metadata")
        return self.bm25.matching(list(phrases)) if phrases else None

    @lru_cache(maxsize=64)  # noqa: B019 - one Explorer per app; the cache lives as long as it does
    def _only(self, filters: tuple, phrases: tuple) -> list[str] | None:
        """The ids a search may return under ``filters`` and ``phrases`` (None: every document)."""
        only = self.documents.passing(filters) if filters else None
        return self.bm25.matching(list(phrases), only=only) if phrases else only

    def compare(self, query: str, view: View | None = None, **fusion) -> Comparison:
        """BM25, dense and hybrid (fused with ``fusion``, as for :meth:`search`) side by side: the first page of
        ``view``."""
        if self.dense is None:
            self._check_served("dense")
            raise ConfigError(f"comparing needs a dense index: build one with "
                              f"`gaia-lite index dense {self.corpus.folder}`")
        view = replace(view or View(), page=1)
        searched = {kind: self.search(query, view, kind=kind, **fusion) for kind in self.retrievers}
        lists = {kind: results.rows for kind, results in searched.items()}
        bm25, dense = ({r.hit.doc_id for r in lists[s]} for s in ("bm25", "dense"))
        overlap = {"bm25_dense": len(bm25 & dense), "bm25": len(bm25), "dense": len(dense)}
        only = {"bm25": [r.hit.doc_id for r in lists["bm25"] if r.hit.doc_id not in dense],
                "dense": [r.hit.doc_id for r in lists["dense"] if r.hit.doc_id not in bm25]}
        # The least complete of the three answers speaks for the comparison.
        reports = [r.parts for r in searched.values() if r.parts is not None]
        parts = min(reports, key=lambda p: len(p["answered"])) if reports else None
        return Comparison(query, lists, overlap, only, parts)

    # --- the other concerns, by their parts ----------------------------------------------------------------------

    def document(self, doc_id: str, **options) -> DocumentView:
        """The document with id ``doc_id`` (:meth:`.documents.Documents.get`)."""
        return self.documents.get(doc_id, **options)

    def filter_choices(self) -> dict[str, list[str]]:
        """Metadata columns that can be filtered on, with their values (none for a served corpus)."""
        return {column: list(values) for column, values in self.documents.filter_choices.items()}

    def overview(self) -> dict:
        """Document count, length distribution, most frequent words and the stored duplicate analysis."""
        if self.served:
            raise self.local_only("the overview (document lengths, frequent words, duplicates)")
        return self.documents.overview() | {"duplicates": self.duplicates.summary()}

    def audit_summary(self) -> dict:
        """The summary of the audit stored beside the corpus (``gaia-lite audit``): its ``summary.json``."""
        if self.served:
            raise self.local_only("the audit (lengths, n-grams, personal data, languages, metadata)")
        return self.audit.summary

    def count(self, phrase: str, limit: int = COUNT_LIMIT):
        """The exact count of ``phrase`` in the corpus, from its audit's word index
        (:func:`~gaia_lite.analysis.count_phrase`): a :class:`~gaia_lite.analysis.PhraseCount` listing the first
        ``limit`` documents (at most :data:`COUNT_LIMIT`)."""
        from ..analysis import count_phrase

        if self.served:
            raise self.local_only("counting a phrase")
        self.audit.require()  # count_phrase reads the audit's word index
        limit = int(limit) if limit else COUNT_LIMIT
        if not 1 <= limit <= COUNT_LIMIT:
            raise ConfigError(f"limit must be between 1 and {COUNT_LIMIT}, not {limit}")
        return count_phrase(self.corpus, bounded_query(phrase)[0], limit=limit)

    def contamination(self, **benchmark):
        """Check a benchmark for contamination of this corpus (:meth:`.analysis.Contamination.check`)."""
        if self.served:
            raise self.local_only("checking a benchmark for contamination")
        return self.checks.check(**benchmark)

    export = staticmethod(exports.results_export)
    contamination_export = staticmethod(exports.contamination_export)
