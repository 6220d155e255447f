"""Every vocabulary of settings, each in one registry: fusion methods, score normalizations, retriever kinds and
dense index types.

Nothing else in gaia_lite lists these names. The configuration validates against them, and the CLI's choices
and help, the explorer's controls, the tuning grid and the README's tables are read from them. Adding a fusion
method is one function and one :class:`FusionMethod` entry (README, "Extending gaia_lite", runs an example).

An entry names its implementation as ``"module:attribute"`` where that lives in a layer above this one (fusion
functions are in :mod:`gaia_lite.fusion`), so that the configuration can check names without importing the
code that runs them; an entry added from outside may give the function itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .errors import ConfigError


@dataclass(frozen=True)
class Entry:
    """One name of a vocabulary, with the one line that describes it (CLI help, the app, the README)."""

    name: str
    summary: str


E = TypeVar("E", bound=Entry)


class Registry(Generic[E]):
    """The entries of one vocabulary, in the order they were added (the first is listed first everywhere)."""

    def __init__(self, what: str, entries: tuple[E, ...] = (), *, unknown: str = ""):
        self.what = what
        self._unknown = unknown  # said of a name that is not registered, before the valid ones
        self._entries: dict[str, E] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: E) -> E:
        """Add ``entry``; a name already taken is a :class:`ConfigError`."""
        if entry.name in self._entries:
            raise ConfigError(f"{self.what} {entry.name!r} is already registered")
        self._entries[entry.name] = entry
        return entry

    def remove(self, name: str) -> E:
        """Take the entry named ``name`` out again (an extension that is unloaded)."""
        return self._entries.pop(self[name].name)

    def __getitem__(self, name: str) -> E:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise ConfigError(f"unknown {self.what} {name!r}{self._unknown}; valid: {', '.join(self._entries)}"
                              ) from None

    def check(self, name: str) -> str:
        """``name``, where it is registered; else a :class:`ConfigError` listing the valid names."""
        return self[name].name

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> tuple[str, ...]:
        """Every name, in order."""
        return tuple(self._entries)

    def entries(self) -> tuple[E, ...]:
        """Every entry, in order."""
        return tuple(self._entries.values())

    def table(self) -> str:
        """The vocabulary as a markdown table (name, what it is), as the README shows it."""
        return "\n".join([f"| {self.what} | what it is |", "|---|---|",
                          *(f"| `{e.name}` | {e.summary} |" for e in self._entries.values())])


@dataclass(frozen=True)
class Implemented(Entry):
    """An entry with a function behind it: the function itself, or ``"module:attribute"``, imported on first use
    (so that naming it does not import it)."""

    function: str | Callable[..., Any] = ""

    def implementation(self) -> Callable[..., Any]:
        """The function itself."""
        if callable(self.function):
            return self.function
        module, _, attribute = self.function.partition(":")
        return getattr(importlib.import_module(module), attribute)


# --- score normalizations ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Normalization(Implemented):
    """A score normalization: ``function({doc_id: score}) -> {doc_id: normalized score}``."""

    def __call__(self, scores: Mapping[str, float]) -> dict[str, float]:
        """``scores`` normalized."""
        return self.implementation()(scores)


NORMALIZATIONS: Registry[Normalization] = Registry("normalization", (
    Normalization("minmax", "min-max: (s - min) / (max - min), onto [0, 1]", "gaia_lite.fusion:minmax"),
    Normalization("zscore", "z-score: (s - mean) / standard deviation", "gaia_lite.fusion:zscore"),
    Normalization("none", "the scores as they are", "gaia_lite.fusion:identity"),
))


# --- fusion methods ----------------------------------------------------------------------------------------

def _equal_shares(c) -> dict[str, float]:
    return {"bm25": c.bm25_weight, "dense": 1 - c.bm25_weight}


@dataclass(frozen=True)
class FusionMethod(Implemented):
    """A fusion method. ``function(sides, **params)`` returns a :class:`gaia_lite.fusion.Terms` (each side's
    contribution to each document); ``params(config)`` turns a :class:`~gaia_lite.config.FusionConfig` into
    those keyword arguments and ``weights(config)`` gives the factor each side is multiplied by.

    ``settings``: the ``FusionConfig`` fields the method reads (the explorer shows their controls only for
    it). ``refuses``: fields that would mislead with this method, each with why and what to do instead (it
    completes "<field> does not apply to <method> fusion, "); a config that sets one away from its default is
    refused, from YAML, the API, the CLI and the app alike. ``fill_missing`` (a one-sided document's real
    score on the other side) applies where it is among ``settings``. ``grid``: the settings
    ``gaia-lite tune`` tries by default.
    """

    params: Callable[[Any], dict] = lambda c: {"weights": c.side_weights()}
    weights: Callable[[Any], dict[str, float]] = _equal_shares
    settings: tuple[str, ...] = ("bm25_weight",)
    refuses: Mapping[str, str] = field(default_factory=dict)
    grid: tuple[Mapping[str, Any], ...] = tuple({"bm25_weight": w / 10} for w in range(11))



FUSION_METHODS: Registry[FusionMethod] = Registry("fusion method", (
    FusionMethod(
        "rrf", "reciprocal rank fusion, w/(k + rank); weights 2w and 2(1 - w), so 0.5 is RRF's usual 1 and 1",
        "gaia_lite.fusion:rrf_terms",
        params=lambda c: {"k": c.rrf_k, "weights": c.side_weights()},
        weights=lambda c: {"bm25": 2 * c.bm25_weight, "dense": 2 * (1 - c.bm25_weight)},
        settings=("bm25_weight", "rrf_k"),
        grid=tuple({"rrf_k": k} for k in (1, 5, 10, 20, 40, 60, 100)),
    ),
    FusionMethod(
        "weighted", "weighted sum of normalized scores (CombSUM); BM25 weight w, dense 1 - w",
        "gaia_lite.fusion:weighted_terms",
        # Filled sides are complete: a document still missing would be a bug, hence "error".
        params=lambda c: {"weights": c.side_weights(), "normalization": c.normalization,
                          "missing": "error" if c.fills else c.missing},
        settings=("bm25_weight", "normalization", "missing", "fill_missing"),
        grid=tuple({"bm25_weight": w / 10, "normalization": n} for n in ("minmax", "zscore") for w in range(11)),
    ),
    FusionMethod(
        "pyserini", "Pyserini's HybridSearcher: alpha x BM25 + dense (or BM25 + alpha x dense)",
        "gaia_lite.fusion:pyserini_terms",
        params=lambda c: {"alpha": c.alpha, "normalization": c.pyserini_normalization,
                          "weight_on_dense": c.weight_on_dense},
        weights=lambda c: {"bm25": 1.0, "dense": c.alpha} if c.weight_on_dense else {"bm25": c.alpha, "dense": 1.0},
        settings=("alpha", "weight_on_dense", "pyserini_normalization", "fill_missing"),
        refuses={"bm25_weight": "which weighs BM25 with alpha: set alpha instead, or use weighted or rrf fusion"},
        grid=tuple({"alpha": a} for a in (0.01, 0.05, 0.1, 0.2, 0.5, 1.0)),
    ),
))

#: What weighted fusion gives a document one side did not retrieve, when its real score is not filled in.
MISSING_RULES: Registry[Entry] = Registry("missing-document rule", (
    Entry("zero", "0 from that side after normalization (CombSUM; under z-scores, the side's mean)"),
    Entry("min", "the side's lowest normalized score (Pyserini's HybridSearcher)"),
))


# --- retrievers and dense indexes --------------------------------------------------------------------------

@dataclass(frozen=True)
class RetrieverKind(Entry):
    """A retriever: which indexes it searches."""

    sparse: bool = False
    dense: bool = False


RETRIEVERS: Registry[RetrieverKind] = Registry("retriever", (
    RetrieverKind("bm25", "BM25 over the Lucene index", sparse=True),
    RetrieverKind("dense", "inner product over the FAISS index of embeddings", dense=True),
    RetrieverKind("hybrid", "both, fused per query", sparse=True, dense=True),
), unknown=": not available")


@dataclass(frozen=True)
class IndexType(Implemented):
    """A FAISS index type. ``function(dim, num_vectors, dense_config)`` makes an empty index and returns it with
    the settings it was made with (recorded in the index's metadata). ``exact``: whether its hits are exactly a
    flat scan's. ``settings``: the :class:`~gaia_lite.config.DenseConfig` fields that shape it or its search."""

    exact: bool = False
    settings: tuple[str, ...] = ()


INDEX_TYPES: Registry[IndexType] = Registry("index_type", (
    IndexType("flat", "exact inner product", "gaia_lite.dense.index:flat_index", exact=True),
    IndexType("hnsw", "approximate: a graph (HNSW)", "gaia_lite.dense.index:hnsw_index",
              settings=("hnsw_m", "hnsw_ef_construction", "ef_search")),
    IndexType("ivf", "approximate: inverted lists of full vectors", "gaia_lite.dense.index:ivf_index",
              settings=("ivf_lists", "ivf_probe")),
    IndexType("ivfpq", "approximate: inverted lists of product-quantized codes, re-scored exactly",
              "gaia_lite.dense.index:ivfpq_index", settings=("ivf_lists", "ivf_probe", "pq_m")),
))
