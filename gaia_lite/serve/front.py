"""The front of a served corpus: the HTTP ingress deployment, holding the query encoder and running the parted
searchers (:mod:`gaia_lite.parts`) over :class:`~gaia_lite.serve.part.ServedPart` objects.

The HTTP protocol, under the application's route prefix ``/<corpus name>`` (JSON in and out):

- ``GET info``: ``{"name", "num_rows", "fingerprint", "parts": [{"name", "num_rows", "fingerprint"}],
  "retrievers": [the kinds served], "config": the resolved retriever settings
  (:meth:`~gaia_lite.config.RetrieverConfig.to_dict`), "replicas": replicas of each part}``
- ``POST search`` ``{"query", "k": 10, "retriever": the served kind, "fusion": {FusionConfig field: value},
  "only": [ids] | null, "phrases": [str] (bm25 only), "with_documents": false}`` →
  ``{"hits": [hit_record(hit) (+ "document": the row)], "parts": the parts report}``
- ``POST documents`` ``{"ids": [...]}`` → ``{"documents": [the row, or null for an unknown id], "parts": ...}``
- ``POST count`` ``{"query", "phrases": [], "only": null}`` → ``{"count": n, "parts": ...}``

``parts`` is :meth:`~gaia_lite.parts.PartsReport.record`: a part that did not answer leaves the answer partial,
status 200 with ``complete`` false and the part named under ``missing`` with why. An error the request causes
(a bad ``k``, an unknown fusion setting) is status 400 ``{"error": message}``; anything else 500.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from ..config import DEFAULT_K, FusionConfig, RetrieverConfig, check_k, configure
from ..errors import ArtifactError, ConfigError, GaiaLiteError, InputError, PartsMissingError
from ..parts import PartedBM25Searcher, PartedDenseSearcher, Parts, check_compatible, parts_report
from ..parts.searcher import PartUnavailable
from ..types import hit_record
from .part import ServedPart, startup_failure

#: Requests a front replica answers at once, each on a thread of its own (a search waits on the parts).
FRONT_THREADS = 16
REQUIRED = object()
#: The fields each endpoint's JSON body may hold, with their defaults (:data:`REQUIRED`: no default).
REQUESTS: dict[str, dict[str, Any]] = {
    "search": {"query": REQUIRED, "k": DEFAULT_K, "retriever": "", "fusion": {}, "only": None, "phrases": [],
               "with_documents": False},
    "documents": {"ids": REQUIRED},
    "count": {"query": "", "phrases": [], "only": None},
}


class FrontCorpus:
    """What the front knows of the corpus it serves: its name, size and fingerprint (from the parts metadata),
    and its documents, fetched from the parts that hold them."""

    def __init__(self, name: str, meta, parts: Parts):
        self.name, self.meta, self.parts = name, meta, parts

    def __len__(self) -> int:
        return self.meta.num_rows

    def rows(self, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``{doc_id: row}`` of the documents of ``doc_ids`` the corpus holds."""
        ids = list(dict.fromkeys(doc_ids))
        found: dict[str, dict[str, Any]] = {}
        if ids:
            for rows in self.parts.call("documents", ids):
                found.update((row["id"], row) for row in rows)
        return found

    def get_many(self, doc_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The rows of ``doc_ids`` in that order; ``KeyError`` for an id the corpus does not hold."""
        found = self.rows(doc_ids)
        return [found[doc_id] for doc_id in doc_ids]

    def get(self, doc_id: str) -> dict[str, Any]:
        """The row of ``doc_id``; ``KeyError`` where the corpus does not hold it."""
        return self.get_many([doc_id])[0]


class _OneAtATime:
    """An encoder that encodes for one thread at a time: a Hugging Face fast tokenizer called from two threads
    at once raises "Already borrowed"."""

    def __init__(self, encoder):
        self._encoder, self._lock = encoder, threading.Lock()

    def encode_queries(self, texts):
        """The encoder's ``encode_queries``, under the lock."""
        with self._lock:
            return self._encoder.encode_queries(texts)

    def __getattr__(self, name):
        return getattr(self._encoder, name)


class Front:
    """The ingress replica of a served corpus (see the module docstring for its HTTP protocol).

    ``meta`` is the corpus's parts metadata (its size and fingerprint), ``entries`` each part's line of it, in
    row order, ``handles`` the parts' deployment handles in the same order, ``config`` the served retriever's
    settings. Startup waits up to ``start_timeout_s`` for every part to answer, then refuses parts built with
    different settings or holding other documents than the corpus lists.
    """

    def __init__(self, name: str, meta, entries: list[dict[str, Any]], handles: list, config: RetrieverConfig,
                 part_timeout_s: float, replicas: int, start_timeout_s: float):
        # A replica's constructor runs in its event loop, where a handle's blocking result() is refused.
        with ThreadPoolExecutor(1) as starter:
            starter.submit(self._start, name, meta, entries, handles, config, part_timeout_s,
                           start_timeout_s).result()
        self.replicas = replicas
        self._pool = ThreadPoolExecutor(FRONT_THREADS, thread_name_prefix="gaia-lite-front")

    def _start(self, name, meta, entries, handles, config, part_timeout_s, start_timeout_s) -> None:
        try:
            served = [ServedPart(entry["name"], handle, part_timeout_s) for entry, handle in zip(entries, handles)]
            infos = [part.call("info", timeout_s=start_timeout_s) for part in served]
            for entry, info in zip(entries, infos):
                if (info["num_rows"], info["fingerprint"]) != (entry["num_rows"], entry["fingerprint"]):
                    raise ArtifactError(f"part {entry['name']} holds {info['num_rows']} documents with fingerprint "
                                        f"{info['fingerprint'][:19]}, not the {entry['num_rows']} with "
                                        f"{entry['fingerprint'][:19]} that corpus {name} lists: serve the right part")
            check_compatible(infos)
            self._open(name, meta, infos, served[0].metas(timeout_s=start_timeout_s), served, config)
        except PartUnavailable as e:
            raise startup_failure(PartsMissingError({e.part: e.why}, len(entries)), f"the front of {name}") from None
        except GaiaLiteError as e:
            raise startup_failure(e, f"the front of {name}") from None

    def _open(self, name, meta, infos, metas, served, config: RetrieverConfig) -> None:
        """The searchers :func:`~gaia_lite.retriever.open_searcher` composes over a parted corpus, here over the
        served parts; the query encoder is loaded here, once, as the parts' dense index was built."""
        from ..hybrid import HybridSearcher
        from ..retriever import as_built

        self.parts = Parts(served)
        self.corpus = FrontCorpus(name, meta, self.parts)
        self.infos = infos
        bm25 = dense = None
        if config.uses_sparse:
            bm25 = PartedBM25Searcher(self.parts, self.corpus, infos[0]["sparse"]["fields"], metas["sparse"])
        if config.uses_dense:
            from pathlib import Path

            from ..dense import Encoder
            from ..dense.searcher import query_encoder_config

            where = Path(name, "parts", infos[0]["name"], "dense")  # for the message of a clash only
            encoder = _OneAtATime(Encoder(query_encoder_config(where, metas["dense"], config.dense)))
            dense = PartedDenseSearcher(self.parts, self.corpus, encoder, metas["dense"])
            config = replace(config, dense=as_built(dense, config.dense))
        self.config = config
        self.searchers: dict[str, Any] = {"bm25": bm25, "dense": dense}
        if bm25 is not None and dense is not None:
            self.searchers["hybrid"] = HybridSearcher(bm25, dense, config.fusion)
        self.searchers = {kind: s for kind, s in self.searchers.items() if s is not None}

    # --- HTTP -------------------------------------------------------------------------------------------------

    async def __call__(self, request):
        """Answer one HTTP request (see the module docstring)."""
        from starlette.responses import Response

        status, body = 200, None
        try:
            route = _route(request)
            if request.method == "GET" and route == "info":
                body = self.info()
            elif request.method == "POST" and route in REQUESTS:
                try:
                    payload = json.loads(await request.body() or b"{}")
                except ValueError as e:
                    raise InputError(f"the request body is not JSON ({e}): send a JSON object") from None
                fields = _fields(route, payload)
                body = await asyncio.get_running_loop().run_in_executor(self._pool, getattr(self, route), fields)
            else:
                status, body = 404, {"error": f"no endpoint {request.method} /{self.corpus.name}/{route}: use "
                                              f"GET info, or POST {', '.join(REQUESTS)}"}
        except GaiaLiteError as e:
            status, body = 400, {"error": _line(e)}
        except Exception as e:  # noqa: BLE001 - the client gets one line; Serve's log keeps the traceback
            status, body = 500, {"error": f"{type(e).__name__}: {_line(e)}"}
        return Response(json.dumps(body, ensure_ascii=False, default=_plain), status_code=status,
                        media_type="application/json")

    def info(self) -> dict[str, Any]:
        """The corpus served, its parts, the retrievers and settings served, and the replicas of each part."""
        meta = self.corpus.meta
        return {"name": self.corpus.name, "num_rows": meta.num_rows, "fingerprint": meta.fingerprint,
                "parts": [{key: info[key] for key in ("name", "num_rows", "fingerprint")} for info in self.infos],
                "retrievers": list(self.searchers), "config": self.config.to_dict(), "replicas": self.replicas}

    def search(self, request: dict[str, Any]) -> dict[str, Any]:
        """The hits for a search request, with the parts report."""
        kind = request["retriever"] or self.config.kind
        if kind not in self.searchers:
            raise ConfigError(f"retriever {kind!r} is not served here: use one of {', '.join(self.searchers)}")
        k = check_k(request["k"] if request["k"] is not None else "null")  # check_k lets None pass
        fusion = configure(FusionConfig, self.config.fusion, _mapping(request["fusion"], "fusion"))
        only, phrases = _ids(request["only"], "only"), _strings(request["phrases"], "phrases")
        if phrases and kind != "bm25":
            raise ConfigError(f"phrases filter the bm25 retriever only, not {kind}: drop them or search with bm25")
        searcher = self.searchers[kind]
        with parts_report() as report:
            if kind == "hybrid":
                hits = searcher.search(_text(request["query"]), k, fusion, only=only)
            elif kind == "bm25":
                hits = searcher.search(_text(request["query"]), k, only=only, phrases=phrases)
            else:
                hits = searcher.search(_text(request["query"]), k, only=only)
            records = [hit_record(hit) for hit in hits]
            if request["with_documents"] is True:
                rows = self.corpus.rows([hit.doc_id for hit in hits])
                for record in records:
                    record["document"] = rows.get(record["doc_id"])
        return {"hits": records, "parts": report.record()}

    def documents(self, request: dict[str, Any]) -> dict[str, Any]:
        """The rows of the ids asked for, in order (null for an id the corpus does not hold)."""
        ids = _ids(request["ids"], "ids")
        with parts_report() as report:
            rows = self.corpus.rows(ids)
        return {"documents": [rows.get(doc_id) for doc_id in ids], "parts": report.record()}

    def count(self, request: dict[str, Any]) -> dict[str, Any]:
        """How many documents match the query (and hold the phrases, within ``only``), as BM25 counts."""
        if "bm25" not in self.searchers:
            raise ConfigError("counting needs the BM25 side, which is not served here: serve --retriever bm25 or "
                              "hybrid")
        query, only = _text(request["query"]), _ids(request["only"], "only")
        with parts_report() as report:
            n = self.searchers["bm25"].count(query, only=only, phrases=_strings(request["phrases"], "phrases"))
        return {"count": n, "parts": report.record()}


def _route(request) -> str:
    """The endpoint a request asks for: its path after the application's route prefix."""
    path, prefix = request.url.path, request.scope.get("root_path", "")
    if prefix and path.startswith(prefix):
        path = path[len(prefix):]
    return path.strip("/")


def _fields(route: str, payload: Any) -> dict[str, Any]:
    """The request's fields with the endpoint's defaults; unknown or missing ones are errors."""
    wanted = REQUESTS[route]
    if not isinstance(payload, dict):
        raise InputError(f"the {route} request must be a JSON object, not {type(payload).__name__}")
    unknown = sorted(set(payload) - set(wanted))
    if unknown:
        raise InputError(f"unknown field(s) {unknown} in the {route} request; valid: {', '.join(wanted)}")
    missing = [name for name, default in wanted.items() if default is REQUIRED and name not in payload]
    if missing:
        raise InputError(f"the {route} request needs {', '.join(missing)}")
    return wanted | payload


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise InputError(f"query must be a string, not {type(value).__name__}")
    return value


def _strings(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{name} must be a list of strings")
    return value


def _ids(value: Any, name: str) -> list[str] | None:
    return None if value is None else _strings(value, name)


def _mapping(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"{name} must be an object of settings")
    return value


def _line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _plain(value: Any) -> Any:
    """A JSON value for what ``json`` cannot write: numpy scalars and arrays as numbers, the rest as text."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
