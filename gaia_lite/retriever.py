"""From settings to a searcher, one way for every caller: the CLI, experiments, the explorer, the Space and the
benchmarks all open corpora and searchers here.

- :func:`open_corpus` opens a corpus by name, folder, or ``hf://owner/repo[@revision]`` (the one place a Hub
  spec is resolved);
- :func:`find_dense_index` decides which dense index a :class:`~gaia_lite.config.DenseConfig` means when
  several are built;
- :func:`open_searcher` opens the BM25, dense or hybrid searcher a :class:`~gaia_lite.config.RetrieverConfig`
  describes, building what is missing if asked to, and records the settings it resolved (model, index type,
  prefixes...) as ``searcher.config``, ready to be written back as YAML.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .config import DEFAULT_MODEL, DenseConfig, RetrieverConfig, configure
from .corpus import Corpus, PartedCorpus
from .errors import ConfigError, MissingArtifactError
from .hub.specs import is_hub_spec

if TYPE_CHECKING:
    from .shards import BuildProgress

__all__ = ["as_built", "find_dense_index", "open_corpus", "open_part", "open_searcher"]


def open_corpus(spec: Corpus | str | os.PathLike, *, root: str | os.PathLike | None = None,
                verify: bool = False) -> Corpus:
    """The corpus ``spec`` names: a name under the indexes root, a folder, ``hf://owner/repo[@revision]``, a
    corpus pushed to the Hub, pulled (verified) the first time and reused after, or ``http://HOST:PORT/NAME``, a
    corpus served by ``gaia-lite serve`` (a :class:`~gaia_lite.serve.client.ServedCorpus`). ``verify``
    recomputes the content fingerprint."""
    from .serve.client import ServedCorpus, is_address

    if isinstance(spec, Corpus | ServedCorpus):
        return spec
    if is_address(spec):
        return ServedCorpus.open(spec)
    if is_hub_spec(spec):
        from .hub.pull import resolve_corpus

        return resolve_corpus(str(spec), root=root, verify=verify)
    return Corpus.load(spec, root=root, verify=verify)


def find_dense_index(corpus: Corpus, dense: DenseConfig | None = None) -> Path:
    """The folder of the dense index that ``dense`` means among those built for ``corpus``.

    The index's metadata must match the settings given (``model``, ``index_type``; None matches any). Of
    several matches, the one of the default model (all-MiniLM-L6-v2) and a flat index is taken where it is
    built; otherwise the choice is the user's, and the error lists what is built. No match is a
    :class:`MissingArtifactError` that names the command building one.
    """
    from .dense.index import dense_dir, index_command, model_slug

    dense = dense or DenseConfig()
    built = corpus.artifacts("dense")
    matches = [name for name, meta in built.items()
               if (dense.model is None or model_slug(meta.params["encoder"]["model"]) == model_slug(dense.model))
               and (dense.index_type is None or meta.params.get("index_type", "flat") == dense.index_type)]
    if len(matches) > 1:
        preferred = dense_dir(corpus.folder, dense.model or DEFAULT_MODEL, dense.index_type or "flat").name
        if preferred not in matches:
            listed = "; ".join(f"{name} ({_describe(built[name])})" for name in matches)
            raise ConfigError(f"{len(matches)} dense indexes are built in {corpus.folder}: {listed}: choose one "
                              "with --model (and --index-type), or dense.model in a config")
        matches = [preferred]
    if not matches:
        wanted = (f" for model {dense.model}" if dense.model else "") + \
                 (f" of type {dense.index_type}" if dense.index_type else "")
        others = f" (built: {', '.join(f'{n} ({_describe(m)})' for n, m in built.items())})" if built else ""
        raise MissingArtifactError(f"no dense index{wanted} in {corpus.folder}{others}: build it with "
                                   f"`{index_command(corpus.folder, dense, dense.index_type or 'flat')}`")
    return corpus.folder / matches[0]


def open_searcher(
    corpus: Corpus | str | os.PathLike,
    config: RetrieverConfig | None = None,
    *,
    build: bool = False,
    encoder=None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    tracker: BuildProgress | None = None,
    shard_size: int | None = None,
    **settings,
):
    """The searcher ``config`` describes over ``corpus``: a :class:`~gaia_lite.sparse.BM25Searcher`, a
    :class:`~gaia_lite.dense.DenseSearcher` or a :class:`~gaia_lite.hybrid.HybridSearcher`; over a served corpus's
    address, a :class:`~gaia_lite.serve.client.ServedSearcher`.

    ``config`` fields may also come as keyword arguments (``open_searcher(corpus, kind="hybrid")``). A missing
    index is an error that says how to build it, or with ``build`` is built first (with progress where
    ``progress``; ``log`` receives the build's lines and one for each index built). A build is cut into shards of
    ``shard_size`` documents (None: automatic), and an interrupted one resumes from its finished shards;
    ``tracker`` follows its progress from another thread (the explorer's page does, while it serves BM25).
    ``encoder`` is an already loaded :class:`~gaia_lite.dense.Encoder` to use for the dense side. The returned
    searcher's ``config`` holds the settings resolved from what is built (the dense index's model, type, pooling
    and prefixes).
    """
    from .hybrid import HybridSearcher
    from .serve.client import ServedCorpus, ServedSearcher

    config = configure(RetrieverConfig, config, settings)
    corpus = open_corpus(corpus)
    if isinstance(corpus, ServedCorpus):  # the front searches its own indexes: nothing is opened or built here
        return ServedSearcher(corpus, config)
    options = dict(build=build, progress=progress, log=log, tracker=tracker, shard_size=shard_size)
    if isinstance(corpus, PartedCorpus):
        bm25, dense = _open_parts(corpus, config, encoder, options)
    else:
        bm25, dense = _open_sides(corpus, config, encoder, **options)
    if dense is not None:
        config = replace(config, dense=as_built(dense, config.dense))
    searcher = HybridSearcher(bm25, dense, config.fusion) if config.kind == "hybrid" else (bm25 or dense)
    searcher.config = config
    return searcher


def _open_sides(corpus: Corpus, config: RetrieverConfig, encoder, *, build: bool, progress: bool, log, tracker,
                shard_size):
    """The BM25 and dense searchers ``config`` uses over the one-part ``corpus`` (None for a side not used),
    building what is missing where ``build``."""
    from .dense import DenseSearcher, build_dense_index
    from .sparse import BM25Searcher, build_sparse_index, sparse_dir
    from .sparse.indexer import index_command

    bm25 = dense = None
    if config.uses_sparse:
        index = sparse_dir(corpus.folder, config.sparse)
        if not index.is_dir():
            if not build:
                raise MissingArtifactError(f"no sparse index at {index}: build it with "
                                           f"`{index_command(corpus.folder, config.sparse)}`")
            build_sparse_index(corpus, config.sparse, progress=progress, log=log, tracker=tracker,
                               shard_size=shard_size)
            log(f"built sparse index: {index}")
        bm25 = BM25Searcher(index, corpus, config.sparse)
    if config.uses_dense:
        try:
            index = find_dense_index(corpus, config.dense)
        except MissingArtifactError:
            if not build:
                raise
            index = build_dense_index(corpus, config.dense, encoder=encoder, progress=progress, log=log,
                                      tracker=tracker, shard_size=shard_size)
            log(f"built dense index: {index}")
        dense = DenseSearcher(index, corpus, config.dense, encoder=encoder)
    return bm25, dense


def open_part(part: Corpus | str | os.PathLike, config: RetrieverConfig | None = None, *, name: str | None = None,
              encoder=None, build: bool = False, progress: bool = True, log: Callable[[str], None] = print,
              tracker: BuildProgress | None = None, shard_size: int | None = None):
    """One part of a corpus kept in parts (a one-part corpus folder) opened for ``config``'s sides, as a
    :class:`~gaia_lite.parts.LocalPart` named ``name`` (default: the folder's name). ``encoder=False`` opens the
    dense side without a query encoder (a served part searches the vectors its front encodes)."""
    from .parts import LocalPart

    config = config or RetrieverConfig()
    part = open_corpus(part)
    bm25, dense = _open_sides(part, config, encoder, build=build, progress=progress, log=log, tracker=tracker,
                              shard_size=shard_size)
    return LocalPart(name or part.name, part, bm25, dense)


def _open_parts(corpus: PartedCorpus, config: RetrieverConfig, encoder, options: dict):
    """The BM25 and dense searchers over every part of ``corpus``: each part opened as a one-part corpus (the
    query encoder loaded once and shared), checked to be built alike, then searched together
    (:mod:`gaia_lite.parts`)."""
    from .parts import PartedBM25Searcher, PartedDenseSearcher, Parts, check_compatible

    local = []
    for entry, part in zip(corpus.meta.params["parts"], corpus.parts):
        local.append(open_part(part, config, name=entry["name"], encoder=encoder, **options))
        if encoder is None and local[-1].dense is not None:
            encoder = local[-1].dense.encoder
    parts = Parts(local)
    check_compatible(parts.info())
    first = local[0]
    bm25 = (PartedBM25Searcher(parts, corpus, first.bm25.fields, first.bm25.meta) if first.bm25 is not None
            else None)
    dense = PartedDenseSearcher(parts, corpus, encoder, first.dense.meta) if first.dense is not None else None
    return bm25, dense


def as_built(dense, config: DenseConfig) -> DenseConfig:
    """``config`` with what the opened dense index fixed: its model, type, encoder settings and, unless the
    config chose one, its precision."""
    params = dense.meta.params
    stored = params["encoder"]
    fixed = {name: stored[name] for name in ("model", "pooling", "normalize", "max_length", "query_prefix",
                                             "document_prefix")}
    hnsw, ivf = params.get("hnsw", {}), params.get("ivf", {})
    return replace(config, index_type=params.get("index_type", "flat"), dtype=config.dtype or stored.get("dtype"),
                   hnsw_m=hnsw.get("m", config.hnsw_m),
                   hnsw_ef_construction=hnsw.get("ef_construction", config.hnsw_ef_construction),
                   ivf_lists=ivf.get("lists", config.ivf_lists), pq_m=ivf.get("pq", {}).get("m", config.pq_m), **fixed)


def _describe(meta) -> str:
    return f"{meta.params['encoder']['model']}, {meta.params.get('index_type', 'flat')}"
