"""The explorer's named API endpoints as plain functions: ``/search``, ``/compare``, ``/document``, ``/overview``,
``/status``, ``/contamination``, ``/audit`` and ``/count``, JSON in and JSON out, over an :class:`~.explorer.Explorer`.

:mod:`.ui` publishes them through Gradio (for gradio_client and the app's "Use via API" page); nothing here imports
Gradio. Parameters left out take the explorer's settings. The first parameters keep the names and order they were
published with (``fusion`` is the fusion method, ``normalization`` the ninth of ``/search``); the other fusion
settings follow, named as in :class:`~gaia_lite.config.FusionConfig`. Hits have the one record shape of
:func:`gaia_lite.types.hit_record`.
"""

from __future__ import annotations

from collections.abc import Callable

from ..config import DEFAULT_K
from .explorer import COUNT_LIMIT
from .search import View


def endpoints(explorer) -> tuple[Callable[..., dict], ...]:
    """The endpoints over ``explorer``, each named as its route."""
    d = explorer.retriever_config().fusion

    def search(query: str, retriever: str | None = None, fusion: str = d.method, bm25_weight: float = d.bm25_weight,
               k: int = DEFAULT_K, page: int = 1, redact: bool = True, filters: dict | None = None,
               normalization: str = d.normalization, hide_duplicates: bool = False, rrf_k: int | None = None,
               alpha: float | None = None, weight_on_dense: bool | None = None,
               pyserini_normalization: bool | None = None, fill_missing: bool | None = None,
               missing: str | None = None) -> dict:
        """Search the corpus (by default with the richest retriever served: hybrid where a dense index is built);
        the hits carry each side's scores and ranks, and over a corpus in parts ``parts`` says which answered. A
        fusion setting the method does not read is ignored."""
        view = View.make(k=k, page=page, redact=redact, filters=filters if isinstance(filters, dict) else None,
                         hide_duplicates=bool(hide_duplicates))
        return explorer.search(query, view, kind=retriever, method=fusion, bm25_weight=bm25_weight,
                               normalization=normalization, rrf_k=rrf_k, alpha=alpha, weight_on_dense=weight_on_dense,
                               pyserini_normalization=pyserini_normalization, fill_missing=fill_missing,
                               missing=missing).to_dict()

    def compare(query: str, k: int = DEFAULT_K, fusion: str = d.method, bm25_weight: float = d.bm25_weight,
                redact: bool = True, normalization: str = d.normalization) -> dict:
        """BM25, dense and hybrid top k side by side, with their overlap."""
        c = explorer.compare(query, View.make(k=k, redact=redact), method=fusion, bm25_weight=bm25_weight,
                             normalization=normalization)
        return {"query": c.query, "overlap": c.overlap, "only": c.only,
                "lists": {side: [r.record() for r in rows] for side, rows in c.lists.items()}}

    def document(doc_id: str, redact: bool = True) -> dict:
        """A document by id: title, text (bounded, redacted unless asked not to) and metadata."""
        view = explorer.document(doc_id, redact=redact, html=False)
        return {"id": view.doc_id, "title": view.title, "text": view.text, "characters": view.characters,
                "words": view.words, "metadata": view.metadata}

    def overview() -> dict:
        """Document count, length distribution and most frequent words."""
        return explorer.overview()

    def status() -> dict:
        """The retrievers served now, the dense index's state (``ready``, ``building`` with its progress,
        ``failed``, ``none``) and, for a corpus served by ``gaia-lite serve``, the front's address (else None)."""
        return {"retrievers": list(explorer.retrievers), "dense": explorer.dense_status(), "served": explorer.served}

    def contamination(benchmark: str | None = None, hub: str | None = None, fields: str = "", split: str = "",
                      ngram: int | None = None) -> dict:
        """Check a listed benchmark (by name) or a Hub dataset (owner/name) for contamination of the corpus: the
        summary and every item (the shape of ``gaia-lite contamination --json``)."""
        return explorer.contamination(benchmark=benchmark, hub=hub, fields=fields or "", split=split or "",
                                      ngram=ngram).to_dict()

    def audit() -> dict:
        """The summary of the corpus's audit (``gaia-lite audit``), as stored in its ``summary.json``."""
        return explorer.audit_summary()

    def count(phrase: str, limit: int = COUNT_LIMIT) -> dict:
        """The exact occurrences of ``phrase`` in the corpus and the documents holding it (the first ``limit``
        listed, in corpus order, with their occurrences), from its audit's word index (the shape of
        ``gaia-lite count --json``)."""
        return explorer.count(phrase, limit).to_dict()

    return search, compare, document, overview, status, contamination, audit, count
