"""The corpus as the explorer's page reads it: a document by id, the metadata filters, the overview, and which
words of a text to highlight for a query.

Plain Python over the Dataset (and the Lucene analyzer, for highlighting); no Gradio. Text leaves here escaped
and, unless asked not to, redacted (:mod:`.render`). A served corpus (:class:`~gaia_lite.serve.client.ServedCorpus`)
has no Dataset here: its documents come from its front by id, and it offers no filters.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
from collections import Counter
from dataclasses import dataclass
from functools import cached_property

from ..corpus import Corpus
from ..errors import ConfigError, InputError
from . import render

DOC_CHARS = 100_000  # characters of a document shown at most
FILTER_MAX_VALUES = 500  # a metadata column with more distinct values gets no filter
OVERVIEW_SAMPLE = 50_000  # documents read for the frequent terms
_STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her here
hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off
on once only or other our ours ourselves out over own same she should so some such than that the their theirs
them themselves then there these they this those through to too under until up very was we were what when where
which while who whom why will with would you your yours yourself yourselves may might must shall used use using
one two three however thus therefore whether within without via per e g eg ie et al
""".split())


class Highlighter:
    """The lowercase words of some texts that the index's analyzer turns into one of a query's terms (stemmed as
    the index stems them), each word analyzed once and remembered."""

    def __init__(self, bm25):
        self.bm25 = bm25
        self._analyzed: dict[str, frozenset[str]] = {}

    def __call__(self, query: str, texts: list[str]) -> frozenset[str]:
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


class Analyzer:
    """The analyzer a BM25 index with settings ``sparse`` (a :class:`~gaia_lite.config.SparseConfig`) applies to
    queries, without the index: a served corpus's explorer highlights the words its front's index would match.
    Offers :meth:`query_terms`, as a BM25 searcher does; the JVM starts on first use."""

    def __init__(self, sparse):
        self.sparse = sparse
        self._analyzer = None
        self._lock = threading.Lock()

    def query_terms(self, query: str) -> dict[str, int]:
        """The analyzed terms of ``query`` with their counts."""
        with self._lock:
            if self._analyzer is None:
                from ..java import start_jvm

                start_jvm()
                from pyserini.analysis import get_lucene_analyzer  # needs the JVM started above

                a = self.sparse.analyzer()
                self._analyzer = get_lucene_analyzer(language=a["language"], stemming=a["stemmer"] != "none",
                                                     stemmer=a["stemmer"], stopwords=not a["keep_stopwords"])
        from ..java import jclass

        return Counter(jclass("io.anserini.analysis.AnalyzerUtils").analyze(self._analyzer, query))


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


class Documents:
    """Documents, filters and the overview of one corpus; ``highlight`` marks a query's words in a document."""

    def __init__(self, corpus: Corpus, highlight: Highlighter):
        self.corpus = corpus
        self.highlight = highlight
        #: The metadata columns; None for a served corpus, whose rows say which they hold.
        self.columns = ([c for c in corpus.dataset.column_names if c not in ("id", "title", "text")]
                        if isinstance(corpus, Corpus) else None)
        self._overview: dict | None = None
        self._overview_lock = threading.Lock()

    def get(self, doc_id: str, *, query: str = "", redact: bool = True, html: bool = True,
            span: tuple[str, int, int] | None = None) -> DocumentView:
        """The document with id ``doc_id``, from the Dataset (an id is looked up, never opened as a path); its
        text as HTML with the query's words highlighted, or with ``html=False`` as plain text (the API's).
        ``span`` (``field``, start, end: a contamination match) is marked in the HTML."""
        doc_id = str(doc_id).strip()
        try:
            row = self.corpus.get(doc_id)
        except KeyError:
            shown = doc_id if len(doc_id) <= 80 else doc_id[:77] + "..."
            raise InputError(f"no document with id {shown!r} in corpus {self.corpus.name!r}: "
                             "pick an id from the results") from None
        text = row.get("text") or ""
        title = row.get("title") or ""
        metadata = {}
        for column in self.columns if self.columns is not None else [c for c in row if c not in ("id", "title", "text")]:
            value = row.get(column)
            value = "" if value is None else value if isinstance(value, str) else json.dumps(value, default=str)
            metadata[column] = render.redact_text(value)[0] if redact else value
        if html:
            shown_html, shown_text = self._html(title, text, query, redact, span), ""
        else:
            shown = render.bounded(text, DOC_CHARS)  # never cut inside personal data
            shown_html, shown_text = "", render.redact_text(shown)[0] if redact else shown
        return DocumentView(doc_id, render.redact_text(title)[0] if redact else title, shown_html, shown_text,
                            metadata, len(text), len(text.split()))

    def _html(self, title: str, text: str, query: str, redact: bool, span) -> str:
        highlight = self.highlight(query, [title, text[:DOC_CHARS]]) if query.strip() else frozenset()
        marked = _span(span, "text")
        html = render.to_html(text, highlight=highlight, redact=redact, limit=DOC_CHARS, span=marked)
        title_span = _span(span, "title")
        if title_span is not None:
            return ('<div class="gl-note">shared with the benchmark item, in the title: '
                    f"{render.to_html(title, redact=redact, span=title_span)}</div>" + html)
        if marked is not None and marked[0] >= DOC_CHARS:
            return (f'<div class="gl-note">the shared passage starts at character {marked[0]:,}, past the '
                    f"{DOC_CHARS:,} shown</div>" + html)
        return html

    # --- filters -------------------------------------------------------------------------------------------------

    @cached_property
    def filter_choices(self) -> dict[str, list[str]]:
        """Metadata columns that can be filtered on (at most ``FILTER_MAX_VALUES`` distinct values), with their
        values."""
        import pyarrow as pa
        import pyarrow.compute as pc

        out = {}
        if self.columns is None:  # a served corpus: its metadata is not on this machine
            return out
        table = self.corpus.dataset.data
        for column in self.columns:
            values = table.column(column)
            if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
                    or pa.types.is_integer(values.type) or pa.types.is_boolean(values.type)):
                continue
            distinct = pc.unique(values.drop_null())
            if 1 < len(distinct) <= FILTER_MAX_VALUES:
                out[column] = sorted(str(v) for v in distinct.to_pylist())
        return out

    def passing(self, filters: tuple[tuple[str, tuple[str, ...]], ...]) -> list[str]:
        """The ids of the documents whose metadata has, in every column of ``filters``, one of its values."""
        import pyarrow as pa
        import pyarrow.compute as pc

        table = self.corpus.dataset.data
        mask = None
        for column, values in filters:
            if column not in self.filter_choices:
                raise ConfigError(f"cannot filter on {column!r}; filterable columns: "
                                  f"{sorted(self.filter_choices) or 'none'}")
            cells = pc.cast(table.column(column), pa.string())
            keep = pc.fill_null(pc.is_in(cells, value_set=pa.array(list(values), pa.string())), False)
            mask = keep if mask is None else pc.and_(mask, keep)
        return table.column("id").filter(mask).to_pylist()

    # --- the overview ----------------------------------------------------------------------------------------------

    def overview(self) -> dict:
        """Document count, length distribution and most frequent words (computed once, then kept)."""
        with self._overview_lock:
            if self._overview is None:
                self._overview = self._compute_overview()
            return self._overview

    def _compute_overview(self) -> dict:
        import numpy as np
        import pyarrow.compute as pc

        text = self.corpus.dataset.data.column("text")
        lengths = np.asarray(pc.fill_null(pc.count_substring_regex(text, r"\S+"), 0).to_numpy(zero_copy_only=False))
        n = len(lengths)
        longest = int(lengths.max(initial=0))
        edges = [0, 1, 10, 25, 50, 100, 200, 400, 800, 1600, 3200, 6400, 12800]
        edges = sorted(set([e for e in edges if e <= max(1, longest)] + [longest + 1]))
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
            "filters": {c: len(v) for c, v in self.filter_choices.items()},
            "indexes": [name for name, meta in self.corpus.artifacts().items() if meta.kind in ("sparse", "dense")],
        }


def _span(span, field: str) -> tuple[int, int] | None:
    """The (start, end) of ``span`` (field, start, end) where it is in ``field``, checked."""
    if not span or span[0] != field:
        return None
    try:
        start, end = int(span[1]), int(span[2])
    except (TypeError, ValueError):
        return None
    return (start, end) if 0 <= start < end else None
