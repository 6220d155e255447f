"""Build a dense index: encode the corpus, keep the vectors aligned to its ids, and index them with FAISS.

Layout of ``indexes/<name>/dense-<model>/``:
- ``embeddings/``: a Dataset with columns ``id`` and ``embedding``, row for row the corpus order, so the
  vectors travel with the ids (to the Hub too);
- ``index`` and ``docid``: the FAISS index and one id per line in FAISS order, Pyserini's FAISS layout;
- ``gaia_lite.json``: encoder settings (model, pooling, normalisation, dimension, prefixes), FAISS settings,
  the corpus fingerprint and the command that rebuilds.
Documents are encoded as title + " " + text (as BEIR and MTEB do), cut at the model's maximum length.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from ..artifacts import ArtifactMeta, atomic_build, datasets_progress
from ..config import DEFAULT_MODEL, DenseConfig, configure
from ..corpus import Corpus
from .encoder import Encoder

EMBEDDINGS_DIR = "embeddings"


def model_slug(model: str) -> str:
    """A folder-safe short name for a model id or path (``sentence-transformers/all-MiniLM-L6-v2`` → ``all-minilm-l6-v2``)."""
    return re.sub(r"[^a-z0-9.-]+", "-", Path(model.rstrip("/")).name.lower()).strip("-") or "model"


def dense_dir(corpus_folder: str | os.PathLike, model: str | None = None, index_type: str | None = None) -> Path:
    """Where a dense index lives: ``indexes/<name>/dense-<model>`` (``-hnsw`` added for HNSW); the default model
    and a flat index where not given."""
    slug = model_slug(model or DEFAULT_MODEL)
    return Path(corpus_folder) / (f"dense-{slug}" + ("-hnsw" if index_type == "hnsw" else ""))


def document_texts(batch: dict) -> list[str]:
    """The text encoded for each document of a Dataset batch: title + " " + text where there is a title."""
    titles = batch.get("title") or [""] * len(batch["text"])
    return [f"{title} {text}" if title else text for title, text in zip(titles, batch["text"])]


def build_dense_index(
    corpus: Corpus | str | os.PathLike,
    config: DenseConfig | None = None,
    *,
    encoder: Encoder | None = None,
    out: str | os.PathLike | None = None,
    progress: bool = True,
    **settings,
) -> Path:
    """Encode ``corpus`` and build its FAISS index; returns the index folder (default ``indexes/<name>/dense-<model>``).

    ``config`` (or its fields as keyword arguments: ``model=``, ``index_type="hnsw"``, ``dtype=``...) says how to
    encode and index; ``encoder``, an :class:`~gaia_lite.dense.Encoder` already loaded, replaces its encoder
    settings. ``index_type`` ``flat`` (the default) is exact inner product, ``hnsw`` an HNSW graph for large
    corpora. The build is atomic: on failure or interruption the previous index at that folder is left as it was.
    """
    import faiss

    config = configure(DenseConfig, config, settings)
    if not isinstance(corpus, Corpus):
        corpus = Corpus.load(corpus, verify=False)
    if encoder is None:
        encoder = Encoder(config.encoder_config())
    index_type = config.index_type or "flat"
    out = Path(out) if out else dense_dir(corpus.folder, encoder.config.model, index_type)

    with atomic_build(out) as tmp:
        embeddings = _encode_corpus(corpus, encoder, tmp, progress)
        faiss.write_index(_faiss_index(embeddings, encoder.dim, index_type, config), str(tmp / "index"))
        with open(tmp / "docid", "w", encoding="utf-8") as f:
            for doc_id in corpus.ids:
                f.write(doc_id + "\n")
        _metadata(corpus, encoder, config, index_type, out).write(tmp)
    return out


def _encode_corpus(corpus: Corpus, encoder: Encoder, folder: Path, progress: bool):
    """Encode every document of ``corpus`` into the embeddings Dataset (``id``, ``embedding``) under the build
    folder ``folder``; returns it as loaded back from disk."""
    import datasets

    columns = ["id", "text"] + (["title"] if corpus.has_title else [])
    features = datasets.Features({
        "id": datasets.Value("string"),
        "embedding": datasets.Sequence(datasets.Value("float32"), length=encoder.dim),
    })
    with datasets_progress(progress):
        embedded = corpus.dataset.select_columns(columns).map(
            lambda batch: {"id": batch["id"],
                           "embedding": encoder.encode_documents(document_texts(batch), progress=False)},
            batched=True, batch_size=1024, remove_columns=columns, features=features,
            cache_file_name=str(folder / "_map.arrow"), desc=f"Encoding {corpus.name}",
        )
    embedded.save_to_disk(str(folder / EMBEDDINGS_DIR))
    del embedded
    (folder / "_map.arrow").unlink(missing_ok=True)
    return datasets.load_from_disk(str(folder / EMBEDDINGS_DIR))


def _faiss_index(embeddings, dim: int, index_type: str, config: DenseConfig):
    """A FAISS index of ``index_type`` (``flat`` or ``hnsw``) holding the vectors of ``embeddings`` in row order."""
    import faiss
    import numpy as np

    if index_type == "flat":
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = config.hnsw_ef_construction
    for batch in embeddings.with_format("numpy").iter(batch_size=10_000):
        index.add(np.ascontiguousarray(batch["embedding"], dtype=np.float32))
    return index


def _metadata(corpus: Corpus, encoder: Encoder, config: DenseConfig, index_type: str, out: Path) -> ArtifactMeta:
    """The index's ``gaia_lite.json``: encoder and FAISS settings, the corpus fingerprint, the rebuild command."""
    params = {"encoder": encoder.describe(), "index_type": index_type, "text": "title + ' ' + text"}
    if index_type == "hnsw":
        params["hnsw"] = {"m": config.hnsw_m, "ef_construction": config.hnsw_ef_construction}
    return ArtifactMeta(
        kind="dense",
        num_rows=len(corpus),
        fingerprint=corpus.meta.fingerprint,
        source=str(corpus.folder),
        params=params,
        command=index_command(corpus.folder, encoder, index_type, out),
    )


def index_command(corpus_folder: Path, encoder: Encoder | DenseConfig, index_type: str = "flat",
                  out: Path | None = None) -> str:
    """The ``gaia-lite index dense`` command that builds this index (stored in its metadata, and named by errors
    about a missing index)."""
    c = encoder.config if isinstance(encoder, Encoder) else encoder
    args = ["gaia-lite", "index", "dense", str(corpus_folder)]
    if c.model and model_slug(c.model) != model_slug(DEFAULT_MODEL):
        args += ["--model", c.model]
    for flag, value in (("--query-prefix", c.query_prefix), ("--document-prefix", c.document_prefix),
                        ("--index-type", None if index_type == "flat" else index_type)):
        if value:
            args += [flag, value]
    if out is not None and Path(out) != dense_dir(corpus_folder, c.model, index_type):
        args += ["--out", str(out)]
    return shlex.join(args)
