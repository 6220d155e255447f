"""A corpus served by ``gaia-lite serve``, searched from any machine through its HTTP front: the searcher and the
corpus that the CLI, the explorer and a Space use where they are given an address (``http://HOST:PORT/NAME``)
instead of a corpus on this machine's disk.

- :class:`ServedCorpus`: the corpus as the front describes it (name, documents, fingerprint, parts) and its
  documents by id (``get``, ``get_many``), fetched from the front.
- :class:`ServedSearcher`: the :class:`~gaia_lite.types.Searcher` contract over the front, BM25, dense or hybrid,
  with the hits rebuilt as the in-process searcher returns them (same ids, scores and ranks: JSON carries a
  float exactly). ``search_report`` also gives which parts answered; ``search`` never returns a silently partial
  answer: inside :func:`~gaia_lite.parts.parts_report` the missing parts are recorded there, as the in-process
  parted searchers record them, and outside one they raise :class:`~gaia_lite.errors.PartsMissingError`.

The standard library only (urllib, json): no Ray, no JVM, no torch, so this runs on a small machine in front of
the cluster. Every failure a user can meet (an address nothing answers at, a name the front does not serve, a
refused setting) is one line saying what to do.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

from ..config import DEFAULT_K, FusionConfig, RetrieverConfig, SparseConfig, check_k, configure, from_dict, to_dict
from ..errors import ConfigError, GaiaLiteError, InputError
from ..types import Hit, HybridHit, Run

__all__ = ["Answer", "FrontError", "FrontRefused", "ServedCorpus", "ServedSearcher", "is_address"]

#: Seconds a call to the front may take before it counts as unanswered (a search over every part, model
#: encoding included, takes well under one).
TIMEOUT_S = 60.0


class FrontError(GaiaLiteError):
    """The served corpus's front cannot be reached, or did not answer as ``gaia-lite serve`` does."""


class FrontRefused(ConfigError, InputError):
    """The front refused a request as the in-process searcher would (HTTP 400): a setting or a query it cannot
    take. Both a :class:`~gaia_lite.errors.ConfigError` and an :class:`~gaia_lite.errors.InputError`, since the
    front's answer does not say which."""


class Answer(NamedTuple):
    """A search as the front answered it: the ``hits``, ``parts`` (which parts answered: ``{"parts", "answered",
    "missing", "complete"}``) and, where asked for, each hit's ``documents`` (its corpus row)."""

    hits: list
    parts: dict[str, Any]
    documents: list[dict[str, Any]] | None = None


def is_address(spec) -> bool:
    """Whether ``spec`` is a served corpus's address (``http://`` or ``https://``) rather than a corpus here."""
    return isinstance(spec, str) and spec.lower().startswith(("http://", "https://"))


class _Front:
    """The HTTP front of one served corpus: JSON calls under its address, each failure one line."""

    def __init__(self, address: str, timeout: float = TIMEOUT_S):
        address = address.strip().rstrip("/")
        parsed = urllib.parse.urlparse(address)
        if not is_address(address) or not parsed.hostname or parsed.path.strip("/") == "":
            raise ConfigError(f"{address!r} is not a served corpus's address: write http://HOST:PORT/NAME, as "
                              "`gaia-lite serve` prints it")
        self.address, self.timeout = address, timeout

    def call(self, route: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET ``route`` (``body`` None) or POST ``body`` as JSON to it; the JSON answer."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(f"{self.address}/{route}", data=data, method="GET" if data is None else "POST",
                                         headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            raise self._refused(route, e.code, e.read()) from None
        except (urllib.error.URLError, OSError) as e:  # refused, unknown host, timed out, reset
            why = getattr(e, "reason", None) or e
            if isinstance(why, TimeoutError):
                why = f"no answer within {self.timeout:g} s"
            raise FrontError(f"cannot reach the served corpus at {self.address} ({why}): is `gaia-lite serve` "
                             "running, and is the address the one it printed (http://HOST:PORT/NAME)?") from None
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise FrontError(f"{self.address}/{route} did not answer with JSON: is {self.address} the address "
                             "`gaia-lite serve` printed?")
        return answer

    def _refused(self, route: str, status: int, raw: bytes) -> GaiaLiteError:
        try:
            message = json.loads(raw).get("error")
        except (ValueError, AttributeError):
            message = None
        message = " ".join(str(message or raw[:200].decode("utf-8", "replace")).split())
        if status == 400 and message:
            return FrontRefused(message)
        if status == 404:
            base, _, name = self.address.rpartition("/")
            return FrontError(f"{base} serves no corpus named {name!r} (HTTP 404): check the name in the address "
                              "`gaia-lite serve` printed")
        return FrontError(f"the front at {self.address} failed on /{route} (HTTP {status}{': ' + message if message else ''})"
                          ": see `gaia-lite serve`'s log, and `serve status` on the cluster")


def _settle(parts: dict[str, Any]) -> None:
    """Record a partial answer's missing parts in the active :func:`~gaia_lite.parts.parts_report`, as the
    in-process parted searchers do; without one, refuse it (:class:`PartsMissingError`)."""
    from ..parts import settle

    settle(int(parts.get("parts", 0)), parts.get("answered", ()), parts.get("missing") or {})


def _hit(record: dict[str, Any]) -> Hit | HybridHit:
    """A hit record (:func:`~gaia_lite.types.hit_record`) back as the hit it was made of."""
    if set(record) <= set(Hit._fields):
        return Hit(record["doc_id"], record["score"], record["rank"])
    return HybridHit(**{name: tuple(value) if isinstance(value, list) else value for name, value in record.items()
                        if name in HybridHit._fields})


class ServedCorpus:
    """A corpus served by ``gaia-lite serve``, as its front describes it: ``name``, ``len()``, ``fingerprint``,
    ``parts`` (each part's name, documents and fingerprint), ``retrievers`` and ``replicas``; its documents come
    from the front by id. Open one with :meth:`open` or :func:`gaia_lite.retriever.open_corpus`."""

    def __init__(self, front: _Front, info: dict[str, Any]):
        self.front, self.info = front, info
        try:
            self.name, self.num_rows, self.fingerprint = info["name"], int(info["num_rows"]), info["fingerprint"]
            self.parts = list(info["parts"])
            self.retrievers = tuple(info["retrievers"])
        except (KeyError, TypeError, ValueError):
            raise FrontError(f"{front.address}/info is not a served corpus's description: is {front.address} the "
                             "address `gaia-lite serve` printed?") from None
        self.replicas = info.get("replicas")

    @classmethod
    def open(cls, address: str, *, timeout: float = TIMEOUT_S) -> ServedCorpus:
        """The corpus served at ``address`` (``http://HOST:PORT/NAME``)."""
        front = _Front(address, timeout)
        return cls(front, front.call("info"))

    @property
    def address(self) -> str:
        """Where the front serves this corpus."""
        return self.front.address

    def __len__(self) -> int:
        return self.num_rows

    def __repr__(self) -> str:
        return f"ServedCorpus({self.address!r}: {self.num_rows:,} documents in {len(self.parts)} parts)"

    def get_many(self, doc_ids: Sequence[str]) -> list[dict[str, Any] | None]:
        """The rows of ``doc_ids``, in that order: None for an id no part holds (where a part did not answer,
        :func:`_settle`'s rule applies)."""
        if not doc_ids:
            return []
        answer = self.front.call("documents", {"ids": list(doc_ids)})
        _settle(answer.get("parts") or {})
        return answer["documents"]

    def get(self, doc_id: str) -> dict[str, Any]:
        """The row of ``doc_id``; ``KeyError`` for an id the corpus does not hold, as :meth:`Corpus.get`."""
        row = self.get_many([doc_id])[0]
        if row is None:
            raise KeyError(doc_id)
        return row

    def __contains__(self, doc_id: str) -> bool:
        return self.get_many([doc_id])[0] is not None


class ServedSearcher:
    """BM25, dense or hybrid search (``config.kind``) of a corpus served by ``gaia-lite serve``: the Searcher
    contract of :mod:`gaia_lite.types`, answered by the front at ``corpus`` (an address or a
    :class:`ServedCorpus`).

    The indexes are the front's: ``config`` chooses the retriever and the fusion settings, and its index
    settings (BM25 fields and analyzer, k1, b; the dense model and index type), where set, must be the front's.
    ``config`` (None: the front's own settings) becomes :attr:`config`, the settings as served. For a hybrid
    searcher, :attr:`bm25` and :attr:`dense` are its sides, as a :class:`~gaia_lite.hybrid.HybridSearcher`'s are.
    """

    step_times = None

    def __init__(self, corpus: ServedCorpus | str, config: RetrieverConfig | None = None, **settings):
        self.corpus = corpus if isinstance(corpus, ServedCorpus) else ServedCorpus.open(corpus)
        self.retrievers = self.corpus.retrievers
        served = from_dict(RetrieverConfig, self.corpus.info.get("config") or {}, f"{self.corpus.address}/info")
        config = configure(RetrieverConfig, config, settings) if config is not None or settings else None
        self.config = _as_served(config, served, self.corpus)
        self.fusion = self.config.fusion

    @property
    def bm25(self) -> ServedSearcher:
        """BM25 alone over the same front."""
        return self._side("bm25")

    @property
    def dense(self) -> ServedSearcher:
        """Dense search alone over the same front."""
        return self._side("dense")

    def _side(self, kind: str) -> ServedSearcher:
        return ServedSearcher(self.corpus, replace(self.config, kind=kind))

    def search_report(self, query: str, k: int = DEFAULT_K, fusion_config: FusionConfig | None = None, *,
                      only=None, phrases: Sequence[str] = (), with_documents: bool = False, **settings) -> Answer:
        """The front's answer to a search: the top ``k`` hits however many parts answered, which parts did, and
        with ``with_documents`` each hit's corpus row. ``fusion_config`` (or its fields as keyword arguments)
        replaces the fusion settings for this search; ``only`` (ids) and ``phrases`` restrict it without changing
        any score."""
        check_k(k)
        f = configure(FusionConfig, fusion_config or self.fusion, settings)
        body = {"query": query, "k": k, "retriever": self.config.kind, "fusion": to_dict(f),
                "only": None if only is None else list(only), "phrases": list(phrases),
                "with_documents": with_documents}
        answer = self.corpus.front.call("search", body)
        try:
            records = answer["hits"]
            documents = [r.pop("document", None) for r in records]
            hits = [_hit(r) for r in records]
        except (KeyError, TypeError, AttributeError):
            raise FrontError(f"{self.corpus.address}/search answered without hits: is {self.corpus.address} the "
                             "address `gaia-lite serve` printed?") from None
        return Answer(hits, answer.get("parts") or {}, documents if with_documents else None)

    def search(self, query: str, k: int = DEFAULT_K, fusion_config: FusionConfig | None = None, *, only=None,
               phrases: Sequence[str] = (), explain_terms: bool = False, **settings) -> list:
        """The top ``k`` hits for ``query`` (:class:`~gaia_lite.types.Hit`, or for hybrid search
        :class:`~gaia_lite.types.HybridHit`); a partial answer is never returned silently (see the module
        docstring)."""
        if explain_terms:
            raise ConfigError("the served front does not split BM25 scores by term: drop --explain-terms, or search "
                              "the corpus where its parts are (`gaia-lite search NAME ... --explain-terms`)")
        check_k(k)
        if not query.strip() or (only is not None and not only):
            return []
        answer = self.search_report(query, k, fusion_config, only=only, phrases=phrases, **settings)
        _settle(answer.parts)
        return answer.hits

    def search_batch(self, queries: Mapping[str, str], k: int = DEFAULT_K, fusion_config: FusionConfig | None = None
                     ) -> Run:
        """``{query_id: {doc_id: score}}``, one search per query."""
        check_k(k)
        return {qid: {h.doc_id: h.score for h in self.search(text, k, fusion_config)} for qid, text in queries.items()}

    def route(self, only=None, phrases=()) -> str:
        """``"lucene"``: the front's parts score BM25 in Lucene with the corpus's statistics, as
        :class:`~gaia_lite.parts.searcher.PartedBM25Searcher` does."""
        return "lucene"

    def count(self, query: str = "", *, only=None, phrases: Sequence[str] = ()) -> int:
        """How many documents hold a term of ``query`` (every document where it is empty), within ``only`` and
        holding each of ``phrases``, as :meth:`~gaia_lite.sparse.BM25Searcher.count` counts."""
        if only is not None and not only:
            return 0
        answer = self.corpus.front.call("count", {"query": query, "phrases": list(phrases),
                                                  "only": None if only is None else list(only)})
        _settle(answer.get("parts") or {})
        return int(answer["count"])

    def matching(self, phrases: Sequence[str], *, only=None) -> list[str]:
        """The ids of the documents holding every one of ``phrases`` (within ``only``), as
        :meth:`~gaia_lite.sparse.BM25Searcher.matching` finds them, in rank order rather than corpus order: the
        front counts them, then a BM25 search for the phrases' own words, kept to them, returns them all (a
        document holding a phrase holds its words). This is how dense and hybrid search keep to phrases here,
        since the front takes ``phrases`` for BM25 only."""
        phrases = [p for p in phrases if p.strip()]
        if not phrases:
            raise ConfigError("matching needs at least one phrase: give the words that must occur together")
        n = self.count("", only=only, phrases=phrases)
        if n == 0:
            return []
        answer = self.corpus.front.call("search", {"query": " ".join(phrases), "k": n, "retriever": "bm25",
                                                   "only": None if only is None else list(only), "phrases": phrases})
        _settle(answer.get("parts") or {})
        return [record["doc_id"] for record in answer["hits"]]

    def close(self) -> None:
        """Nothing to release: every call is its own HTTP request."""

    def __enter__(self) -> ServedSearcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _as_served(config: RetrieverConfig | None, served: RetrieverConfig, corpus: ServedCorpus) -> RetrieverConfig:
    """The served settings with ``config``'s retriever and fusion; an index setting of ``config`` that is not the
    front's is refused, since the front searches the indexes it opened."""
    if config is None:
        return served if served.kind in corpus.retrievers else replace(served, kind=corpus.retrievers[0])
    if config.kind not in corpus.retrievers:
        raise ConfigError(f"the front at {corpus.address} serves {', '.join(corpus.retrievers)}, not "
                          f"{config.kind}: pick one of those with --retriever, or serve the corpus with its "
                          f"{'dense' if config.kind != 'bm25' else 'sparse'} index")
    differ = []
    if config.sparse != SparseConfig():  # a default left alone means "what is served"
        differ += [f"{name}={getattr(config.sparse, name)!r} (served: {getattr(served.sparse, name)!r})"
                   for name in ("fields", "language", "stemmer", "keep_stopwords", "k1", "b")
                   if getattr(config.sparse, name) != getattr(served.sparse, name)]
    differ += [f"{name}={getattr(config.dense, name)!r} (served: {getattr(served.dense, name)!r})"
               for name in ("model", "index_type") if getattr(config.dense, name) is not None
               and _short(getattr(config.dense, name)) != _short(getattr(served.dense, name))]
    if differ:
        raise ConfigError(f"the front at {corpus.address} searches other indexes: {'; '.join(differ)}: drop those "
                          "settings, or serve the corpus with them")
    return replace(served, kind=config.kind, fusion=config.fusion)


def _short(name) -> str:
    """A model id or folder by its last component (an id and the folder it resolved to compare equal)."""
    return str(name or "").rstrip("/").rsplit("/", 1)[-1].lower()
