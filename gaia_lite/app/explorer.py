"""The explorer's handlers: plain Python over one built corpus, without Gradio.

The Gradio UI (:mod:`.ui`) and its named API endpoints call these, and tests call them directly. What they
return for display is already safe: HTML comes from :mod:`.render`, which escapes every character of corpus
text and, unless told not to, redacts personal data; plain-text fields (API, exports) are redacted the same
way. Inputs are bounded here, once, whatever calls: queries, k, pages, document sizes.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import math
import re
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from ..config import DEFAULT_K, RETRIEVERS, FusionConfig, RetrieverConfig, to_dict
from ..corpus import Corpus
from ..errors import ConfigError, InputError
from ..evaluate import query_id, trec_lines
from ..types import HybridHit, hit_record
from . import render

#: The fusion methods and normalizations the explorer offers (pyserini's reproduction mode is for experiments).
FUSIONS = ("rrf", "weighted")
NORMALIZATIONS = ("minmax", "zscore")
EXPORT_FORMATS = ("csv", "jsonl", "trec")
MAX_QUERY_CHARS = 1000
MAX_K = 100
MAX_DEPTH = 1000  # page * k never goes deeper than this
DOC_CHARS = 100_000  # characters of a document shown at most
SNIPPET_CHARS = 300
FILTER_MAX_VALUES = 500  # a metadata column with more distinct values gets no filter
OVERVIEW_SAMPLE = 50_000  # documents read for the frequent terms
#: Hiding near duplicates looks this many times deeper than the page, so that a page still fills up.
DUPLICATE_LOOKAHEAD = 3
#: A benchmark checked from the page has at most this many items (a run reads the whole corpus).
MAX_BENCHMARK_ITEMS = 20_000
#: Flagged items listed on the page at most (the export has every item).
MAX_CONTAMINATION_ROWS = 200
_STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her here
hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off
on once only or other our ours ourselves out over own same she should so some such than that the their theirs
them themselves then there these they this those through to too under until up very was we were what when where
which while who whom why will with would you your yours yourself yourselves may might must shall used use using
one two three however thus therefore whether within without via per e g eg ie et al
""".split())


@dataclass(frozen=True)
class Settings:
    """One search's settings, as the UI and the API take them.

    ``retriever``, ``fusion`` (the fusion method), ``bm25_weight`` and ``normalization`` mean what the
    :class:`~gaia_lite.config.RetrieverConfig` and :class:`~gaia_lite.config.FusionConfig` fields of those names
    mean; None takes the explorer's own setting (see :meth:`Explorer.settings`). ``filters`` maps a metadata
    column to the values a document may have (any of them); ``page`` counts from 1. ``hide_duplicates`` shows
    only the best-ranked document of each near-duplicate cluster (where ``gaia-lite duplicates`` has run).
    """

    retriever: str | None = None
    fusion: str | None = None
    bm25_weight: float | None = None
    normalization: str | None = None
    k: int = DEFAULT_K
    page: int = 1
    redact: bool = True
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    hide_duplicates: bool = False

    def __post_init__(self):
        if self.retriever is not None and self.retriever not in RETRIEVERS:
            raise ConfigError(f"unknown retriever {self.retriever!r}; valid: {', '.join(RETRIEVERS)}")
        if self.fusion is not None and self.fusion not in FUSIONS:
            raise ConfigError(f"unknown fusion {self.fusion!r}; valid: {', '.join(FUSIONS)}")
        if self.normalization is not None and self.normalization not in NORMALIZATIONS:
            raise ConfigError(f"unknown normalization {self.normalization!r}; valid: {', '.join(NORMALIZATIONS)}")
        if self.bm25_weight is not None:
            FusionConfig(bm25_weight=self.bm25_weight)  # its bounds, checked where they are defined
        if not 1 <= self.k <= MAX_K:
            raise ConfigError(f"k must be between 1 and {MAX_K}, got {self.k}")
        if not 1 <= self.page or self.page * self.k > MAX_DEPTH:
            raise ConfigError(f"page must be between 1 and {MAX_DEPTH // self.k} for k={self.k}, got {self.page}")

    @classmethod
    def make(cls, *, filters: dict | None = None, **kwargs) -> Settings:
        """Settings from loose values (UI widgets, JSON): numbers may come as floats or strings."""
        for name in ("k", "page"):
            if name in kwargs and kwargs[name] is not None:
                try:
                    kwargs[name] = int(float(kwargs[name]))
                except (TypeError, ValueError):
                    raise ConfigError(f"{name} must be a whole number, got {kwargs[name]!r}") from None
        if "bm25_weight" in kwargs and kwargs["bm25_weight"] is not None:
            try:
                kwargs["bm25_weight"] = float(kwargs["bm25_weight"])
            except (TypeError, ValueError):
                raise ConfigError(f"bm25_weight must be a number, got {kwargs['bm25_weight']!r}") from None
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        chosen = tuple(sorted((str(c), tuple(sorted(map(str, v)))) for c, v in (filters or {}).items() if v))
        return cls(filters=chosen, **kwargs)


def parse_query(query: str) -> tuple[str, list[str]]:
    """Split a query into its words (quotes removed) and its exact phrases (the "quoted" parts)."""
    phrases = [p.strip() for p in re.findall(r'"([^"]*)"', query) if p.strip()]
    return query.replace('"', " "), phrases


@dataclass
class Row:
    """One displayed hit: the hit, in the hybrid hit's shape whatever the retriever (a side that did not
    retrieve the document has None for its score and rank), and what the page shows of the document."""

    hit: HybridHit
    title: str = ""
    snippet: str = ""  # plain text, redacted where asked
    snippet_html: str = ""

    def record(self) -> dict:
        """The row as the API and the exports give it: the hit's record, then title and snippet."""
        return hit_record(self.hit) | {"title": self.title, "snippet": self.snippet}


@dataclass
class Results:
    """A page of results, with what is needed to say how many there are and to reproduce them."""

    query: str
    settings: Settings
    rows: list[Row]
    matches: int | None  # documents that can be found: holding a query term (BM25), else the whole pool
    pool: int  # documents passing the filters and phrases
    phrases: list[str]
    pages: int
    notes: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0
    redactions: dict[str, int] = field(default_factory=dict)
    fusion: FusionConfig | None = None  # the exact fusion of a hybrid search

    def to_dict(self) -> dict:
        """JSON-ready results: the API's answer."""
        settings = asdict(self.settings)
        settings["filters"] = {c: list(v) for c, v in self.settings.filters}
        out = {"query": self.query, "settings": settings, "phrases": self.phrases, "matches": self.matches,
               "pool": self.pool, "pages": self.pages, "notes": self.notes,
               "hits": [r.record() for r in self.rows]}
        if self.fusion is not None:
            out["fusion_config"] = to_dict(self.fusion) | {"weights": self.fusion.side_weights()}
        return out


@dataclass
class Comparison:
    """BM25, dense and hybrid top ``k`` for one query, and how they overlap."""

    query: str
    lists: dict[str, list[Row]]
    overlap: dict[str, int]
    only: dict[str, list[str]]  # ids only BM25 / only dense found


@dataclass
class DocumentView:
    """A document fetched from the Dataset by id, ready to show."""

    doc_id: str
    title: str
    html: str  # the text as safe HTML, or "" where plain text was asked for
    text: str  # the text as plain text (bounded, redacted unless asked not to), or "" where HTML was asked for
    metadata: dict[str, str]
    characters: int
    words: int


class Explorer:
    """Search, compare, read and summarise one built corpus (Dataset + Lucene index, and a dense index where
    built). The dense side is optional: without it only BM25 is offered.

    ``config`` chooses the indexes (as for :func:`~gaia_lite.retriever.open_searcher`) and gives the page's
    initial settings (its fusion); ``encoder`` is an already loaded query encoder. With ``build_dense`` and no
    dense index built, the dense index is built in the background (:class:`DenseBuild`) while BM25 serves;
    dense and hybrid search turn on when it is complete.

    ``benchmarks`` names the benchmark sources the page may check for contamination (``{name: Source}``); a page
    can also upload a file or name a Hub dataset, never a path on the server. A duplicate analysis stored
    beside the corpus (``gaia-lite duplicates``) is found at start and read on first use: the overview shows it,
    and searches can hide near duplicates.
    """

    def __init__(self, corpus: Corpus | str, config: RetrieverConfig | None = None, *, root=None, encoder=None,
                 build_dense: bool = False, benchmarks: dict | None = None):
        from ..retriever import open_corpus, open_searcher

        self.corpus = open_corpus(corpus, root=root)
        config = config or RetrieverConfig()
        # Dense and hybrid where a dense index is built, or one is asked for and not to be built here (then its
        # absence is an error).
        with_dense = bool(self.corpus.artifacts("dense")) or (config.dense.model is not None and not build_dense)
        searcher = open_searcher(self.corpus, replace(config, kind="hybrid" if with_dense else "bm25"),
                                 encoder=encoder)
        self.hybrid = self.dense = self.dense_build = None
        if with_dense:
            self._use(searcher)
        else:
            self.bm25, self.config, self.retrievers = searcher, searcher.config, ("bm25",)
            if build_dense:
                self.dense_build = DenseBuild(self, encoder)
        self.columns = [c for c in self.corpus.dataset.column_names if c not in ("id", "title", "text")]
        self.benchmarks = dict(benchmarks or {})
        #: Whether a duplicate analysis of the corpus's current documents is stored (its clusters load on first use:
        #: at a million documents that takes about a second, which the start need not pay).
        self.has_duplicates = self._duplicates_usable()
        self._duplicates = None
        self._duplicates_lock = threading.Lock()
        self._analyzed: dict[str, frozenset[str]] = {}
        self._overview = None
        self._overview_lock = threading.Lock()

    def _use(self, hybrid) -> None:
        """Serve every retriever from ``hybrid`` (a :class:`~gaia_lite.hybrid.HybridSearcher` from the factory)."""
        self.hybrid, self.bm25, self.dense, self.config = hybrid, hybrid.bm25, hybrid.dense, hybrid.config
        self.retrievers = ("bm25", "dense", "hybrid")  # set last: searches read it to know what is served

    def dense_status(self) -> dict:
        """Where the dense side is: ``ready``, ``building`` (with the build's progress), ``failed`` (with the
        error) or ``none`` (no dense index, none being built)."""
        if self.dense is not None:
            return {"state": "ready"}
        if self.dense_build is None:
            return {"state": "none"}
        return self.dense_build.status()

    def settings(self, settings: Settings | None = None) -> Settings:
        """``settings`` with every open choice made: the richest retriever built, and the fusion settings of the
        explorer's config."""
        s = settings or Settings()
        f = self.config.fusion
        return replace(s, retriever=s.retriever or self.retrievers[-1], fusion=s.fusion or f.method,
                       bm25_weight=f.bm25_weight if s.bm25_weight is None else s.bm25_weight,
                       normalization=s.normalization or f.normalization)

    def fusion_config(self, settings: Settings) -> FusionConfig:
        """The hybrid fusion ``settings`` ask for: the explorer's, with the page's choices, deep enough for the
        page shown."""
        s = self.settings(settings)
        f = self.config.fusion
        return replace(f, method=s.fusion, bm25_weight=s.bm25_weight, normalization=s.normalization,
                       depth=max(f.depth, s.page * s.k))

    # --- searching -------------------------------------------------------------------------------------------

    def search(self, query: str, settings: Settings | None = None) -> Results:
        """One page of results for ``query``; quoted parts of the query are exact phrases."""
        settings = self.settings(settings)
        start = time.perf_counter()
        query, notes = self._bounded(query)
        if settings.retriever not in self.retrievers:
            status = self.dense_status()
            if status["state"] == "building":
                raise ConfigError(f"the dense index is being built ({status['percent']}% done): BM25 works now, "
                                  "dense and hybrid search turn on when it is complete")
            raise ConfigError(f"this corpus has no dense index, so only BM25 is available: build one with "
                              f"`gaia-lite index dense {self.corpus.folder}`")
        text, phrases = parse_query(query)
        only = self._only(settings.filters, tuple(phrases))
        pool = len(self.corpus) if only is None else len(only)
        depth = settings.page * settings.k
        hiding = settings.hide_duplicates and self.has_duplicates
        if settings.hide_duplicates and not self.has_duplicates:
            notes.append(f"no duplicate analysis of this corpus, so nothing is hidden: run `gaia-lite duplicates "
                         f"{self.corpus.folder}`")
        wanted, depth = depth, depth * DUPLICATE_LOOKAHEAD if hiding else depth
        hits: list[HybridHit] = []
        matches: int | None = None
        fusion = self.fusion_config(settings) if settings.retriever == "hybrid" else None
        if text.strip():
            if settings.retriever == "bm25":
                matches = self.bm25.count(text, only=only)
                hits = [HybridHit.from_side(h, "bm25") for h in self.bm25.search(text, depth, only=only)]
            elif settings.retriever == "dense":
                matches = pool
                hits = [HybridHit.from_side(h, "dense") for h in self.dense.search(text, depth, only=only)]
            else:
                matches = pool
                hits = self.hybrid.search(text, depth, fusion, only=only)
        elif not phrases and not settings.filters:
            notes.append("type a query to search")
        if hiding:
            hits, hidden = self._collapse(hits)
            hits = hits[:wanted]
            if hidden:
                notes.append(f"{hidden:,} near duplicate{'s' * (hidden != 1)} of better-ranked results hidden")
        rows = [Row(h) for h in hits[wanted - settings.k:]]
        pages = max(1, min(math.ceil((matches or 0) / settings.k), MAX_DEPTH // settings.k))
        counts = self._render_rows(rows, text, settings.redact)
        return Results(query, settings, rows, matches, pool, phrases, pages, notes,
                       (time.perf_counter() - start) * 1000, dict(counts), fusion)

    def compare(self, query: str, settings: Settings | None = None) -> Comparison:
        """BM25, dense and hybrid (with ``settings``' fusion) side by side at ``settings.k``, page 1."""
        if self.dense is None:
            raise ConfigError(f"comparing needs a dense index: build one with "
                              f"`gaia-lite index dense {self.corpus.folder}`")
        settings = settings or Settings()
        lists = {r: self.search(query, replace(settings, retriever=r, page=1)).rows for r in RETRIEVERS}
        bm25, dense = ({r.hit.doc_id for r in lists[s]} for s in ("bm25", "dense"))
        overlap = {"bm25_dense": len(bm25 & dense), "bm25": len(bm25), "dense": len(dense)}
        only = {"bm25": [r.hit.doc_id for r in lists["bm25"] if r.hit.doc_id not in dense],
                "dense": [r.hit.doc_id for r in lists["dense"] if r.hit.doc_id not in bm25]}
        return Comparison(query, lists, overlap, only)

    def _collapse(self, hits: list[HybridHit]) -> tuple[list[HybridHit], int]:
        """``hits`` without the near duplicates of a better-ranked hit, and how many were left out."""
        seen, kept = set(), []
        cluster = self.duplicates.near_cluster
        for h in hits:
            row = self.corpus.row_of(h.doc_id)
            key = int(cluster[row]) if cluster[row] >= 0 else -1 - row  # a document in no cluster is its own
            if key not in seen:
                seen.add(key)
                kept.append(h)
        return kept, len(hits) - len(kept)

    def _duplicates_usable(self) -> bool:
        from ..analysis.duplicates import check_duplicates
        from ..errors import ArtifactError

        try:
            return check_duplicates(self.corpus)
        except ArtifactError as e:  # stale (the corpus was rebuilt): say so, and serve without it
            logging.getLogger("gaia_lite.app").warning("duplicate analysis not used: %s", e)
            return False

    @property
    def duplicates(self):
        """The stored duplicate analysis (:func:`~gaia_lite.analysis.load_duplicates`), read on first use; None
        where there is none."""
        if not self.has_duplicates:
            return None
        with self._duplicates_lock:
            if self._duplicates is None:
                from ..analysis import load_duplicates

                self._duplicates = load_duplicates(self.corpus)
            return self._duplicates

    def document(self, doc_id: str, *, query: str = "", redact: bool = True, html: bool = True,
                 span: tuple[str, int, int] | None = None) -> DocumentView:
        """The document with id ``doc_id``, from the Dataset (an id is looked up, never opened as a path); its
        text as HTML with the query's words highlighted, or with ``html=False`` as plain text (the API's).
        ``span`` (``field``, start, end: a contamination match) is marked in the HTML."""
        doc_id = str(doc_id).strip()
        if doc_id not in self.corpus:
            shown = doc_id if len(doc_id) <= 80 else doc_id[:77] + "..."
            raise InputError(f"no document with id {shown!r} in corpus {self.corpus.name!r}: "
                             "pick an id from the results")
        row = self.corpus.get(doc_id)
        text = row.get("text") or ""
        title = row.get("title") or ""
        metadata = {}
        for column in self.columns:
            value = row.get(column)
            value = "" if value is None else value if isinstance(value, str) else json.dumps(value, default=str)
            metadata[column] = render.redact_text(value)[0] if redact else value
        if html:
            highlight = self._highlight(query, [title, text[:DOC_CHARS]]) if query.strip() else frozenset()
            marked = _span(span, "text")
            shown_html = render.to_html(text, highlight=highlight, redact=redact, limit=DOC_CHARS, span=marked)
            title_span = _span(span, "title")
            if title_span is not None:
                shown_html = ('<div class="gl-note">shared with the benchmark item, in the title: '
                              f"{render.to_html(title, redact=redact, span=title_span)}</div>" + shown_html)
            elif marked is not None and marked[0] >= DOC_CHARS:
                shown_html = (f'<div class="gl-note">the shared passage starts at character {marked[0]:,}, past '
                              f"the {DOC_CHARS:,} shown</div>" + shown_html)
            shown_text = ""
        else:
            shown = render.bounded(text, DOC_CHARS)  # never cut inside personal data
            shown_html, shown_text = "", render.redact_text(shown)[0] if redact else shown
        return DocumentView(doc_id, render.redact_text(title)[0] if redact else title, shown_html, shown_text,
                            metadata, len(text), len(text.split()))

    # --- corpus overview, filters -----------------------------------------------------------------------------

    def filter_choices(self) -> dict[str, list[str]]:
        """Metadata columns that can be filtered on (at most ``FILTER_MAX_VALUES`` distinct values), with their
        values."""
        return dict(self._filter_choices())

    @lru_cache(maxsize=1)  # noqa: B019 - one Explorer per app; the cache lives as long as it does
    def _filter_choices(self) -> tuple[tuple[str, list[str]], ...]:
        import pyarrow as pa
        import pyarrow.compute as pc

        out = []
        table = self.corpus.dataset.data
        for column in self.columns:
            values = table.column(column)
            if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
                    or pa.types.is_integer(values.type) or pa.types.is_boolean(values.type)):
                continue
            distinct = pc.unique(values.drop_null())
            if 1 < len(distinct) <= FILTER_MAX_VALUES:
                out.append((column, sorted(str(v) for v in distinct.to_pylist())))
        return tuple(out)

    @lru_cache(maxsize=64)  # noqa: B019
    def _only(self, filters: tuple, phrases: tuple) -> list[str] | None:
        """The ids a search may return under ``filters`` and ``phrases`` (None: every document)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        only = None
        if filters:
            allowed = dict(self._filter_choices())
            table = self.corpus.dataset.data
            mask = None
            for column, values in filters:
                if column not in allowed:
                    raise ConfigError(f"cannot filter on {column!r}; filterable columns: {sorted(allowed) or 'none'}")
                cells = pc.cast(table.column(column), pa.string())
                keep = pc.fill_null(pc.is_in(cells, value_set=pa.array(list(values), pa.string())), False)
                mask = keep if mask is None else pc.and_(mask, keep)
            only = table.column("id").filter(mask).to_pylist()
        if phrases:
            only = self.bm25.matching(list(phrases), only=only)
        return only

    def overview(self) -> dict:
        """Document count, length distribution and most frequent words (computed once, then kept)."""
        with self._overview_lock:
            if self._overview is None:
                self._overview = self._compute_overview()
            return self._overview

    def _compute_overview(self) -> dict:
        import numpy as np
        import pyarrow.compute as pc

        table = self.corpus.dataset.data
        text = table.column("text")
        lengths = np.asarray(pc.fill_null(pc.count_substring_regex(text, r"\S+"), 0).to_numpy(zero_copy_only=False))
        n = len(lengths)
        edges = [0, 1, 10, 25, 50, 100, 200, 400, 800, 1600, 3200, 6400, 12800]
        edges = [e for e in edges if e <= max(1, int(lengths.max(initial=0)))] + [int(lengths.max(initial=0)) + 1]
        edges = sorted(set(edges))
        counts, _ = np.histogram(lengths, bins=edges)
        bins = [f"{lo}-{hi - 1}" if hi - 1 > lo else str(lo) for lo, hi in itertools.pairwise(edges)]
        step = max(1, math.ceil(n / OVERVIEW_SAMPLE))
        words: Counter[str] = Counter()
        for value in text.to_pylist()[::step]:
            words.update(w for w in re.findall(r"[^\W\d_]{3,}", (value or "").lower()) if w not in _STOPWORDS)
        return {
            "documents": n,
            "words": int(lengths.sum()),
            "mean_words": float(lengths.mean()) if n else 0.0,
            "median_words": float(np.median(lengths)) if n else 0.0,
            "empty": int((lengths == 0).sum()),
            "length_bins": bins,
            "length_counts": [int(c) for c in counts],
            "top_terms": words.most_common(30),
            "sampled": n if step == 1 else len(range(0, n, step)),
            "columns": self.columns,
            "filters": {c: len(v) for c, v in self._filter_choices()},
            "indexes": [name for name, meta in self.corpus.artifacts().items() if meta.kind in ("sparse", "dense")],
            "duplicates": self._duplicates_overview(),
        }

    def _duplicates_overview(self) -> dict | None:
        """The stored duplicate analysis in numbers (None where there is none)."""
        if self.duplicates is None:
            return None
        r = self.duplicates.report
        return {kind: {k: r[kind][k] for k in ("clusters", "documents", "duplicates", "rate", "largest")}
                for kind in ("exact", "near")} | {"settings": r["config"], "definition": r["definition"]}

    # --- contamination ----------------------------------------------------------------------------------------

    def contamination(self, *, benchmark: str | None = None, upload: str | None = None, hub: str | None = None,
                      fields: str = "", split: str = "", ngram: int | None = None, progress=None):
        """Check a benchmark for contamination of this corpus: one of :attr:`benchmarks` by name, an uploaded
        file (JSON Lines or parquet), or a Hub dataset (``owner/name``); ``fields`` is a comma-separated list
        (default: the usual text fields). Returns a
        :class:`~gaia_lite.analysis.contamination.ContaminationReport`."""
        from ..analysis import find_contamination, read_benchmark
        from ..config import ContaminationConfig
        from ..corpus import Source

        given = [x for x in (benchmark, upload, hub) if x]
        if len(given) != 1:
            raise InputError("choose one benchmark: a listed one, an uploaded file, or a Hub dataset (owner/name)")
        split = (split or "").strip() or None
        if benchmark:
            if benchmark not in self.benchmarks:
                raise InputError(f"unknown benchmark {benchmark!r}; listed: {', '.join(self.benchmarks) or 'none'}")
            source = self.benchmarks[benchmark]
        elif upload:
            name = str(upload).lower()
            if not name.endswith((".jsonl", ".json", ".ndjson", ".jsonl.gz", ".parquet")):
                raise InputError("upload a JSON Lines (.jsonl) or parquet (.parquet) file")
            source = Source(str(upload), format="parquet" if name.endswith(".parquet") else "jsonl")
        else:
            hub = hub.strip()
            if Path(hub).exists() or not re.fullmatch(r"[\w-][\w.-]*/[\w.-]+", hub) or ".." in hub:
                raise InputError(f"{hub[:80]!r} is not a Hub dataset name (owner/name); files are uploaded")
            source = Source(hub, format="hub")
        items = read_benchmark(source, [f.strip() for f in fields.split(",") if f.strip()] or None, split=split)
        if len(items) > MAX_BENCHMARK_ITEMS:
            raise InputError(f"the benchmark has {len(items):,} items; the page checks at most "
                             f"{MAX_BENCHMARK_ITEMS:,}: run `gaia-lite contamination` for more")
        config = ContaminationConfig(ngram=int(ngram)) if ngram else ContaminationConfig()
        return find_contamination(self.corpus, items, config, progress=False, log=None, tracker=progress)

    @staticmethod
    def contamination_export(report, fmt: str, *, redact: bool = True) -> str:
        """Every item of a contamination ``report`` as JSON Lines (its records) or CSV (one row per item, the
        longest span flattened), personal data in texts and spans redacted unless ``redact`` is False."""
        if fmt not in ("jsonl", "csv"):
            raise ConfigError(f"unknown export format {fmt!r}; valid: jsonl, csv")

        def clean(text):
            return render.redact_text(text)[0] if redact and text else text

        records = []
        for r in report.items:
            record = r.record()
            record["text"] = clean(record["text"])
            for o in ([record["longest"]] if record["longest"] else []) + record["top_documents"]:
                o["span"] = clean(o["span"])
            records.append(record)
        if fmt == "jsonl":
            return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        out = io.StringIO()
        columns = ["item_id", "flagged", "overlap", "documents", "matched_ngrams", "ngrams", "words", "doc_id",
                   "field", "start", "end", "span", "text"]
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for r in records:
            writer.writerow({**r, **(r["longest"] or {}), "words": r["words"]})
        return out.getvalue()

    # --- exports ----------------------------------------------------------------------------------------------

    def export(self, results: Results, fmt: str) -> str:
        """The results as CSV, JSON Lines (one hit per line, with the query and settings) or TREC run lines (the
        query's id from :func:`~gaia_lite.evaluate.query_id`)."""
        if fmt not in EXPORT_FORMATS:
            raise ConfigError(f"unknown export format {fmt!r}; valid: {', '.join(EXPORT_FORMATS)}")
        if fmt == "trec":
            return trec_lines({query_id(results.query): [r.hit for r in results.rows]},
                              tag=f"gaia_lite-{results.settings.retriever}")
        answer = results.to_dict()
        records = answer["hits"]
        if fmt == "jsonl":
            return "".join(json.dumps({"query": results.query, "settings": answer["settings"], **r},
                                      ensure_ascii=False) + "\n"
                           for r in records)
        out = io.StringIO()
        columns = ["rank", "doc_id", "score", "bm25_score", "bm25_rank", "dense_score", "dense_rank", "found_by",
                   "title", "snippet"]
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for r in records:
            writer.writerow({**r, "found_by": "+".join(r["found_by"])})
        return out.getvalue()

    # --- helpers ----------------------------------------------------------------------------------------------

    @staticmethod
    def _bounded(query) -> tuple[str, list[str]]:
        query = "" if query is None else str(query)
        # Control characters carry nothing searchable and upset Lucene's analyzers and the display alike.
        query = "".join(ch if ch.isprintable() or ch in "\t\n" else " " for ch in query)
        notes = []
        if len(query) > MAX_QUERY_CHARS:
            notes.append(f"the query was cut to its first {MAX_QUERY_CHARS:,} of {len(query):,} characters")
            query = query[:MAX_QUERY_CHARS]
        return query, notes

    def _render_rows(self, rows: list[Row], text: str, redact: bool) -> Counter[str]:
        """Fill each row's title and snippets; return how many items of each kind of personal data were hidden."""
        docs = self.corpus.get_many([r.hit.doc_id for r in rows])
        texts = [(doc.get("title") or "") + "\n" + (doc.get("text") or "")[:DOC_CHARS] for doc in docs]
        highlight = self._highlight(text, texts)
        hidden: Counter[str] = Counter()
        for r, doc in zip(rows, docs):
            # Whitespace folded: a snippet is one paragraph, whatever the document's line breaks.
            body = " ".join(render.bounded(doc.get("text") or "", DOC_CHARS).split())
            snippet = render.snippet(body, highlight, redact=redact, width=SNIPPET_CHARS)
            r.snippet_html, r.snippet = snippet.html, snippet.text
            r.title = doc.get("title") or ""
            if redact:
                r.title, found = render.redact_text(r.title)
                hidden.update(found)
                hidden.update(snippet.hidden)
        return hidden

    def _highlight(self, query: str, texts: list[str]) -> frozenset[str]:
        """The lowercase surface words of ``texts`` that the index's analyzer turns into a query term."""
        terms = set(self.bm25.query_terms(query)) if query.strip() else set()
        if not terms:
            return frozenset()
        # Stems keep a word's first letters, so only words sharing a 3-letter prefix with a term are analyzed
        # (a word equal to a term shares its prefix).
        prefixes = {t[:3] for t in terms}
        candidates = set().union(*(render.word_forms(t, starting=prefixes) for t in texts))
        out = set()
        for word in candidates:
            if word[:3] not in prefixes:
                continue
            analyzed = self._analyzed.get(word)
            if analyzed is None:
                if len(self._analyzed) > 200_000:
                    self._analyzed.clear()
                analyzed = self._analyzed[word] = frozenset(self.bm25.query_terms(word))
            if analyzed & terms:
                out.add(word)
        return frozenset(out)


def _span(span, field: str) -> tuple[int, int] | None:
    """The (start, end) of ``span`` (field, start, end) where it is in ``field``, checked."""
    if not span or span[0] != field:
        return None
    try:
        start, end = int(span[1]), int(span[2])
    except (TypeError, ValueError):
        return None
    return (start, end) if 0 <= start < end else None


#: A dense index built while the explorer serves is cut into about this many shards, so that its progress on
#: the page moves every few seconds and a restart loses at most one shard's work.
BACKGROUND_SHARDS = 50


class DenseBuild:
    """The dense index of an explorer's corpus, built in a background thread (resuming an interrupted build)
    while the explorer serves BM25; when it is complete the explorer serves dense and hybrid search too."""

    def __init__(self, explorer: Explorer, encoder=None):
        from ..shards import BuildProgress

        self.explorer = explorer
        self.progress = BuildProgress()
        self.error: str | None = None
        self.log: list[str] = []
        self._after: list = []  # what runs when the build ends (then())
        self._after_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, args=(encoder,), name="gaia-lite-dense-build", daemon=True)
        self._thread.start()

    def _run(self, encoder) -> None:
        from ..dense import build_dense_index
        from ..retriever import open_searcher

        e = self.explorer
        try:
            size = max(1_000, math.ceil(len(e.corpus) / BACKGROUND_SHARDS))
            build_dense_index(e.corpus, e.config.dense, encoder=encoder, shard_size=size, progress=False,
                              log=self.log.append, tracker=self.progress)
            e._use(open_searcher(e.corpus, replace(e.config, kind="hybrid"), encoder=encoder, log=self.log.append))
        except Exception as error:  # the page shows it; BM25 keeps serving
            logging.getLogger("gaia_lite.app").exception("building the dense index failed")
            self.error = str(error) or type(error).__name__
        finally:
            with self._after_lock:
                after, self._after = self._after, None
            for fn in after:
                fn()

    def then(self, fn) -> None:
        """Run ``fn()`` when the build has ended (now, if it has)."""
        with self._after_lock:
            if self._after is not None:
                self._after.append(fn)
                return
        fn()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the build to end (``timeout`` seconds at most); True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def status(self) -> dict:
        """``building`` with documents and shards done, ``failed`` with the error, or ``ready``."""
        p = self.progress
        if self.error is not None:
            return {"state": "failed", "error": self.error}
        if self.explorer.dense is not None:
            return {"state": "ready"}
        return {"state": "building", "done": p.done, "total": p.total or len(self.explorer.corpus),
                "shards_done": p.shards_done, "shards": p.shards, "reused": p.reused,
                "percent": int(100 * p.fraction)}
