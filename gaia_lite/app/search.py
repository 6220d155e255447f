"""What a search on the explorer's page is made of, beside its retrieval settings (a
:class:`~gaia_lite.config.RetrieverConfig`): the :class:`View` (which page, how it is shown), the query's words
and phrases, and the results a page shows.

Two depths, never one number: the **page depth** (:attr:`View.depth`, page x k) is how many hits showing a page
takes; the **fusion depth** (``FusionConfig.depth``, ``bm25_depth``, ``dense_depth``) is how many documents each
side of a hybrid search retrieves. :meth:`~.explorer.Explorer.retriever_config` makes each side at least as deep
as the page.

Inputs are bounded here, once, whatever calls: queries, k and pages.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field

from ..config import DEFAULT_K, RetrieverConfig, to_dict
from ..errors import ConfigError
from ..types import HybridHit, hit_record
from . import documents, render

MAX_QUERY_CHARS = 1000
MAX_K = 100
MAX_DEPTH = 1000  # the page depth (page x k) never goes deeper than this
SNIPPET_CHARS = 300


@dataclass(frozen=True)
class View:
    """What a page shows of a search: ``k`` hits a page, ``page`` (from 1), personal data redacted or not,
    ``filters`` (a metadata column and the values a document may have there, any of them) and
    ``hide_duplicates`` (only the best-ranked document of each near-duplicate cluster, where ``gaia-lite
    duplicates`` has run). How the hits are found is the search's :class:`~gaia_lite.config.RetrieverConfig`."""

    k: int = DEFAULT_K
    page: int = 1
    redact: bool = True
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    hide_duplicates: bool = False

    def __post_init__(self):
        if not 1 <= self.k <= MAX_K:
            raise ConfigError(f"k must be between 1 and {MAX_K}, got {self.k}")
        if not 1 <= self.page or self.page * self.k > MAX_DEPTH:
            raise ConfigError(f"page must be between 1 and {MAX_DEPTH // self.k} for k={self.k}, got {self.page}")

    @property
    def depth(self) -> int:
        """The page depth: how many hits showing this page takes (page x k)."""
        return self.page * self.k

    @classmethod
    def make(cls, *, filters: dict | None = None, **kwargs) -> View:
        """A view from loose values (widgets, JSON, a URL): ``k`` and ``page`` may come as floats or strings;
        ``filters`` as ``{column: [values]}``; None takes the default."""
        for name in ("k", "page"):
            if kwargs.get(name) is not None:
                try:
                    kwargs[name] = int(float(kwargs[name]))
                except (TypeError, ValueError):
                    raise ConfigError(f"{name} must be a whole number, got {kwargs[name]!r}") from None
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        chosen = tuple(sorted((str(c), tuple(sorted(map(str, v)))) for c, v in (filters or {}).items() if v))
        return cls(filters=chosen, **kwargs)


def parse_query(query: str) -> tuple[str, list[str]]:
    """Split a query into its words (quotes removed) and its exact phrases (the "quoted" parts)."""
    phrases = [p.strip() for p in re.findall(r'"([^"]*)"', query) if p.strip()]
    return query.replace('"', " "), phrases


def bounded_query(query) -> tuple[str, list[str]]:
    """``query`` as a search takes it: text without control characters, cut at ``MAX_QUERY_CHARS``; and the
    notes saying what was cut."""
    query = "" if query is None else str(query)
    # Control characters carry nothing searchable and upset Lucene's analyzers and the display alike.
    query = "".join(ch if ch.isprintable() or ch in "\t\n" else " " for ch in query)
    if len(query) <= MAX_QUERY_CHARS:
        return query, []
    return query[:MAX_QUERY_CHARS], [f"the query was cut to its first {MAX_QUERY_CHARS:,} of {len(query):,} "
                                     "characters"]


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


def fill_rows(rows: list[Row], corpus, highlight: documents.Highlighter, query: str, redact: bool) -> Counter[str]:
    """Fill each row's title and snippet, the query's words highlighted; return how many items of each kind of
    personal data were hidden."""
    limit = documents.DOC_CHARS
    # A served corpus gives None for a document whose part stopped answering after the search: an empty row.
    docs = [doc or {} for doc in corpus.get_many([r.hit.doc_id for r in rows])]
    marked = highlight(query, [(doc.get("title") or "") + "\n" + (doc.get("text") or "")[:limit] for doc in docs])
    hidden: Counter[str] = Counter()
    for r, doc in zip(rows, docs):
        # Whitespace folded: a snippet is one paragraph, whatever the document's line breaks.
        body = " ".join(render.bounded(doc.get("text") or "", limit).split())
        snippet = render.snippet(body, marked, redact=redact, width=SNIPPET_CHARS)
        r.snippet_html, r.snippet = snippet.html, snippet.text
        r.title = doc.get("title") or ""
        if redact:
            r.title, found = render.redact_text(r.title)
            hidden.update(found)
            hidden.update(snippet.hidden)
    return hidden


@dataclass
class Results:
    """A page of results, with what is needed to say how many there are and to reproduce them: the ``view`` and
    the search's ``config``, as made once for it (each side as deep as the page needs)."""

    query: str
    view: View
    config: RetrieverConfig
    rows: list[Row]
    matches: int | None  # documents that can be found: holding a query term (BM25), else the whole pool
    pool: int  # documents passing the filters and phrases
    phrases: list[str]
    pages: int
    notes: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0
    redactions: dict[str, int] = field(default_factory=dict)
    #: Over a corpus kept in parts (here or served), which parts answered: ``{"parts", "answered", "missing",
    #: "complete"}`` (:meth:`~gaia_lite.parts.PartsReport.record`); None for a corpus in one part.
    parts: dict | None = None

    def to_dict(self) -> dict:
        """JSON-ready results: the API's answer. ``settings`` names the retrieval settings as the ``/search``
        endpoint's parameters do; a hybrid search adds its exact ``fusion_config``, with the weights, and a search
        of a corpus in parts says which ``parts`` answered."""
        f = self.config.fusion
        settings = {"retriever": self.config.kind, "fusion": f.method, "bm25_weight": f.bm25_weight,
                    "normalization": f.normalization, **asdict(self.view),
                    "filters": {c: list(v) for c, v in self.view.filters}}
        out = {"query": self.query, "settings": settings, "phrases": self.phrases, "matches": self.matches,
               "pool": self.pool, "pages": self.pages, "notes": self.notes,
               "hits": [r.record() for r in self.rows]}
        if self.config.kind == "hybrid":
            out["fusion_config"] = to_dict(f) | {"weights": f.side_weights()}
        if self.parts is not None:
            out["parts"] = self.parts
        return out


@dataclass
class Comparison:
    """BM25, dense and hybrid top ``k`` for one query, and how they overlap."""

    query: str
    lists: dict[str, list[Row]]
    overlap: dict[str, int]
    only: dict[str, list[str]]  # ids only BM25 / only dense found
    parts: dict | None = None  # the least complete of the three searches' parts reports (see Results.parts)
