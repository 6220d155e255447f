"""Dense search: encode the query, search FAISS, map FAISS positions to corpus ids through the docid sidecar."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..config import DEFAULT_K, DenseConfig, EncoderConfig, check_k
from ..corpus import Corpus, index_meta
from ..errors import ArtifactMismatchError
from ..timing import StepTimes, step
from ..types import Hits, Run
from .encoder import Encoder
from .index import EMBEDDINGS_DIR, model_slug

#: A product-quantized index is asked for this many times k hits, which are then re-scored exactly.
REFINE = 4


class QueryVectors:
    """Searching text, one query or a batch, from what a dense searcher provides (``encode_query``, ``encoder``
    and ``search_vector``): shared by :class:`DenseSearcher` and the dense searcher over a corpus's parts."""

    def search(self, query: str, k: int = DEFAULT_K, *, only=None) -> Hits:
        """The top ``k`` documents for ``query``, best first; ``only`` as in :meth:`search_vector`."""
        check_k(k)
        if not query.strip() or (only is not None and not only):
            return Hits()
        return self.search_vector(self.encode_query(query), k, only=only)

    def search_batch(self, queries: Mapping[str, str], k: int = DEFAULT_K) -> Run:
        """Search every ``{query_id: text}`` (encoded together) and return ``{query_id: {doc_id: score}}``."""
        import numpy as np

        check_k(k)
        items = [(qid, text) for qid, text in queries.items()]
        vectors = self.encoder.encode_queries([text for _, text in items]) if items else np.zeros((0, 1))
        run: Run = {}
        for (qid, text), vector in zip(items, vectors):
            run[qid] = {h.doc_id: h.score for h in self.search_vector(vector, k)} if text.strip() else {}
        return run


class DenseSearcher(QueryVectors):
    """Inner-product search over a dense index built by :func:`~gaia_lite.dense.build_dense_index`.

    On load it checks that the index, its docid sidecar and its embeddings hold exactly the corpus ids in
    corpus order. Queries are encoded with the settings stored in the index (model, pooling, normalisation,
    length, prefixes, and the precision unless ``config`` sets ``dtype``) and the run-time settings of
    ``config`` (batch size, device). Open one with
    :func:`gaia_lite.retriever.open_searcher`, or directly over an index folder.
    """

    #: The steps a search records in an attached :class:`~gaia_lite.timing.StepTimes` (``step_times``):
    #: encoding the query, FAISS's search, making the Hit list.
    STEPS = ("encode", "faiss_search", "hits")
    step_times: StepTimes | None = None
    #: The settings it was opened with, where :func:`~gaia_lite.retriever.open_searcher` opened it.
    config = None

    def __init__(self, index_dir: str | os.PathLike, corpus: Corpus | None = None, config: DenseConfig | None = None,
                 *, encoder: Encoder | None = None, faiss_threads: int | None = 1):
        """``encoder``: an encoder already loaded, used instead of one made from the stored settings (its model
        must be the index's); False opens no encoder, for a searcher given query vectors only. ``faiss_threads``: FAISS's OpenMP threads during a search (None: FAISS's
        default). One by default: a single query is too small to split, and FAISS's idle threads then spin
        against torch's (BENCHMARKS.md). The setting is made around each search call and restored after, in the
        calling thread only, so it never changes torch's threads or another thread's."""
        import datasets
        import faiss

        self.faiss_threads = faiss_threads
        self.index_dir = Path(index_dir)
        self.meta, self.corpus = index_meta(self.index_dir, "dense", corpus)
        config = config or DenseConfig()
        self.index = faiss.read_index(str(self.index_dir / "index"))
        if hasattr(self.index, "hnsw"):
            self.index.hnsw.efSearch = config.ef_search
        self._ivf = faiss.try_extract_index_ivf(self.index)
        if self._ivf is not None:
            self._ivf.nprobe = config.ivf_probe
        self.docids = (self.index_dir / "docid").read_text(encoding="utf-8").splitlines()
        embeddings = datasets.load_from_disk(str(self.index_dir / EMBEDDINGS_DIR))
        self._check_alignment(embeddings)
        #: The exact vectors, row for row: documents only BM25 retrieved are scored from them, and the hits of
        #: a product-quantized index re-scored.
        self.embeddings = _stored_vectors(self.index, embeddings)
        stored = self.meta.params["encoder"]
        if encoder is False:  # searches vectors only (a served part: the front encodes the query)
            encoder = None
        elif encoder is None:
            encoder = Encoder(query_encoder_config(self.index_dir, self.meta, config))
        elif model_slug(encoder.config.model) != model_slug(stored["model"]) or encoder.dim != stored["dim"]:
            raise ArtifactMismatchError(
                f"{self.index_dir} was built with {stored['model']} ({stored['dim']} dims), "
                f"not {encoder.config.model} ({encoder.dim} dims)")
        self.encoder = encoder
        self._row = {doc_id: i for i, doc_id in enumerate(self.docids)}

    def _check_alignment(self, embeddings) -> None:
        rebuild = self.meta.command
        ids = self.corpus.ids
        problems = []
        if self.index.ntotal != len(ids):
            problems.append(f"FAISS holds {self.index.ntotal} vectors for {len(ids)} corpus documents")
        if self.docids != ids:
            first = next((i for i, (a, b) in enumerate(zip(self.docids, ids)) if a != b), min(len(ids), len(self.docids)))
            problems.append(f"the docid sidecar differs from the corpus ids (first at position {first})")
        if len(embeddings) != len(ids) or embeddings.data.column("id").to_pylist() != ids:
            problems.append("the embeddings' ids differ from the corpus ids")
        if problems:
            raise ArtifactMismatchError(f"{self.index_dir}: " + "; ".join(problems) + f": rebuild with `{rebuild}`")

    def encode_query(self, query: str):
        """The query's vector."""
        with step(self.step_times, "encode"):
            return self.encoder.encode_queries([query])[0]

    def search_vector(self, vector, k: int = DEFAULT_K, *, only=None) -> Hits:
        """The top ``k`` documents for a query vector, best first (ties by doc id); ``only`` (doc ids) restricts
        the search to those documents (FAISS skips the others, so the top ``k`` among them is exact for a flat
        index)."""
        import faiss
        import numpy as np

        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        params = None
        if only is None:
            k = min(k, self.index.ntotal)
        else:
            rows = np.fromiter((self._row[d] for d in only if d in self._row), dtype=np.int64)
            if not len(rows):
                return Hits()
            selector = faiss.IDSelectorBatch(rows)
            if hasattr(self.index, "hnsw"):
                params = faiss.SearchParametersHNSW(sel=selector, efSearch=self.index.hnsw.efSearch)
            elif self._ivf is not None:
                params = faiss.SearchParametersIVF(sel=selector, nprobe=self._ivf.nprobe)
            else:
                params = faiss.SearchParameters(sel=selector)
            k = min(k, len(rows))
        wanted = k
        if self._quantized:  # codes give approximate scores: take more, then re-score exactly and keep k
            k = min(k * REFINE, self.index.ntotal if only is None else len(rows))
        threads = faiss.omp_get_max_threads()
        if self.faiss_threads is not None:
            faiss.omp_set_num_threads(self.faiss_threads)
        try:
            with step(self.step_times, "faiss_search"):
                scores, positions = self.index.search(query, k, params=params)
        finally:
            faiss.omp_set_num_threads(threads)
        with step(self.step_times, "hits"):
            # Python ints and floats first: indexing with and converting NumPy scalars one at a time is slow.
            rows = positions[0].tolist()
            if self._quantized:
                found = [p for p in rows if p >= 0]
                exact = (self.embeddings[found] @ query[0]).tolist() if found else []
                pairs = [(self.docids[p], s) for p, s in zip(found, exact)]
            else:
                pairs = [(self.docids[p], s) for p, s in zip(rows, scores[0].tolist()) if p >= 0]
            pairs.sort(key=lambda x: (-x[1], x[0]))
            return Hits.of(pairs[:wanted])

    @property
    def _quantized(self) -> bool:
        """Whether the index holds compressed codes (IVF-PQ) rather than the vectors themselves."""
        import faiss

        return self._ivf is not None and not isinstance(self._ivf, faiss.IndexIVFFlat)

    def score_documents(self, vector, doc_ids: Iterable[str]) -> dict[str, float]:
        """Exact inner products of a query vector with the stored vectors of ``doc_ids``."""
        import numpy as np

        ids = list(doc_ids)
        if not ids:
            return {}
        rows = [self._row[d] for d in ids]
        scores = self.embeddings[rows] @ np.asarray(vector, dtype=np.float32)
        return dict(zip(ids, scores.tolist()))


def _stored_vectors(index, embeddings):
    """The exact vectors, row for row, without a second copy in memory: a flat or HNSW-flat index's own
    storage (a read-only numpy view), else the embeddings Dataset's memory-mapped Arrow column (an IVF index's
    lists hold the vectors in list order, or only as codes)."""
    import faiss
    import numpy as np

    flat = faiss.downcast_index(index.storage) if hasattr(index, "storage") else index
    if not isinstance(flat, faiss.IndexFlat):
        return _MappedVectors(embeddings.data.column("embedding"))
    view = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
    view.flags.writeable = False
    return np.asarray(view, dtype=np.float32)


class _MappedVectors:
    """Rows of a memory-mapped Arrow column of fixed-size float32 lists, gathered by row number on demand (the
    pages of the rows read come into memory; the rest stay on disk)."""

    def __init__(self, column):
        import numpy as np

        self._chunks = [c.values.to_numpy(zero_copy_only=True).reshape(len(c), -1) for c in column.chunks if len(c)]
        self._starts = np.cumsum([0] + [len(c) for c in self._chunks])

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, rows):
        import numpy as np

        rows = np.asarray(rows, dtype=np.int64)
        chunk = np.searchsorted(self._starts, rows, side="right") - 1
        out = np.empty((len(rows), self._chunks[0].shape[1]), dtype=np.float32)
        for c in np.unique(chunk):
            mask = chunk == c
            out[mask] = self._chunks[c][rows[mask] - self._starts[c]]
        return out


def query_encoder_config(index_dir: Path, meta, config: DenseConfig) -> EncoderConfig:
    """How to encode queries for the dense index at ``index_dir`` (with metadata ``meta``): what shapes the vectors (model,
    pooling, normalisation, length, prefixes) as the index was built, the rest (batch size, device, and dtype
    where set) as ``config`` says. A setting of ``config`` that contradicts the index is an error, not silently replaced."""
    stored = meta.params["encoder"]
    fixed = ("pooling", "normalize", "max_length", "query_prefix", "document_prefix")
    clash = [f"{name}={getattr(config, name)!r} (built with {stored[name]!r})" for name in fixed
             if getattr(config, name) is not None and getattr(config, name) != stored[name]]
    if config.model is not None and model_slug(config.model) != model_slug(stored["model"]):
        clash.insert(0, f"model={config.model!r} (built with {stored['model']!r})")
    if clash:
        raise ArtifactMismatchError(
            f"the dense index {index_dir} was not built with {', '.join(clash)}: drop those settings to "
            f"search it as built, or build an index with them (`{meta.command}` rebuilds this one)")
    return EncoderConfig(model=stored["model"], batch_size=config.batch_size, device=config.device,
                         dtype=config.dtype or stored.get("dtype", "auto"), **{name: stored[name] for name in fixed})
