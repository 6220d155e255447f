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

import json
import os
import re
import shlex
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..artifacts import ArtifactMeta, Fingerprint, atomic_build, datasets_progress
from ..config import DEFAULT_MODEL, DenseConfig, configure, to_dict
from ..corpus import Corpus, PartedCorpus
from ..corpus.parts import build_each_part
from ..errors import ArtifactError, ConfigError
from ..executors import LocalExecutor, ShardJob, run_sharded
from ..registry import INDEX_TYPES
from ..shards import SHARD_FIELDS, BuildProgress, Shard
from .encoder import Encoder, resolve_model

EMBEDDINGS_DIR = "embeddings"
PART_FILE = "embeddings.arrow"  # a shard's (id, embedding) table in the workdir
# Texts per Encoder.encode_documents call in a build: enough batches to keep every core busy with one batch each
# (see encode_documents); bench-dense compares encoders on calls of this size.
ENCODE_CALL_TEXTS = 1024


def model_slug(model: str) -> str:
    """A folder-safe short name for a model id or path (``sentence-transformers/all-MiniLM-L6-v2`` → ``all-minilm-l6-v2``)."""
    return re.sub(r"[^a-z0-9.-]+", "-", Path(model.rstrip("/")).name.lower()).strip("-") or "model"


def dense_dir(corpus_folder: str | os.PathLike, model: str | None = None, index_type: str | None = None) -> Path:
    """Where a dense index lives: ``indexes/<name>/dense-<model>``, with ``-hnsw``, ``-ivf`` or ``-ivfpq`` added
    for an approximate index; the default model and a flat index where not given."""
    slug = model_slug(model or DEFAULT_MODEL)
    return Path(corpus_folder) / (f"dense-{slug}" + (f"-{index_type}" if index_type not in (None, "flat") else ""))


def document_texts(batch: dict) -> list[str]:
    """The text encoded for each document of a Dataset batch: title + " " + text where there is a title."""
    titles = batch.get("title") or [""] * len(batch["text"])
    return [f"{title} {text}" if title else text for title, text in zip(titles, batch["text"])]


def build_dense_index(corpus: Corpus | str | os.PathLike, config: DenseConfig | None = None, *,
                      encoder: Encoder | None = None, out: str | os.PathLike | None = None,
                      shard_size: int | None = None, executor=None, workdir: str | os.PathLike | None = None,
                      progress: bool = True, log: Callable[[str], None] | None = print,
                      tracker: BuildProgress | None = None, **settings) -> Path:
    """Encode ``corpus`` and build its FAISS index; returns the index folder (default ``indexes/<name>/dense-<model>``).

    ``config`` (or its fields as keyword arguments: ``model=``, ``index_type="hnsw"``, ``dtype=``...) says how to
    encode and index; ``encoder``, an :class:`~gaia_lite.dense.Encoder` already loaded, replaces its encoder
    settings (in this process only). ``index_type`` ``flat`` (the default) is exact inner product, ``hnsw`` an
    HNSW graph for large corpora.

    The corpus is encoded in shards of ``shard_size`` rows (automatic where None) by ``executor`` (default: in
    this process; :class:`~gaia_lite.executors.RayExecutor` for a pool of actors on a cluster, each loading the
    model once) into ``workdir`` (default beside the index); the vectors are then put together in corpus order
    and indexed. A build interrupted at any point reuses its finished shards when run again (``log`` says how
    many; ``tracker`` follows the progress from another thread). The index is put in place atomically: until it
    is complete, the previous one stays.
    """
    config = configure(DenseConfig, config, settings)
    if not isinstance(corpus, Corpus):
        corpus = Corpus.load(corpus, verify=False)
    if isinstance(corpus, PartedCorpus):
        return build_each_part(build_dense_index, corpus, config=config, encoder=encoder, out=out,
                               shard_size=shard_size, executor=executor, workdir=workdir, progress=progress,
                               log=log, tracker=tracker)
    executor = executor or LocalExecutor()
    encoder_config = encoder.config if encoder is not None else config.encoder_config()
    model = encoder_config.model or DEFAULT_MODEL
    index_type = config.index_type or "flat"
    out = Path(out) if out else dense_dir(corpus.folder, model, index_type)
    in_process = isinstance(executor, LocalExecutor) and executor.workers == 1
    if encoder is None and in_process:  # loaded now: a model that cannot be found is said before any work starts
        encoder = Encoder(encoder_config)
    elif encoder is None:
        resolve_model(model)  # the same check; the workers load it
    job = DenseShardJob(str(corpus.folder), encoder_config, config, str(out), encoder=encoder, progress=progress,
                        shard_progress=progress and in_process)
    return run_sharded(job, corpus, out, what=f"Encoding {corpus.name}", shard_size=shard_size, executor=executor,
                       workdir=workdir, progress=progress, log=log, tracker=tracker)


class DenseShardJob(ShardJob):
    """Encode each shard of a corpus into an (id, embedding) table, then put the tables together in corpus order
    and index them with FAISS at ``out`` (a :class:`~gaia_lite.executors.ShardJob`): the encoder is loaded once
    per worker, then serves every shard the worker gets."""

    kind = "dense"
    stateful = True
    wants_gpu = True

    def __init__(self, corpus_folder: str, encoder_config, config: DenseConfig, out: str, *,
                 encoder: Encoder | None = None, progress: bool = False, shard_progress: bool = False):
        self.corpus_folder, self.encoder_config, self.config, self.out = corpus_folder, encoder_config, config, out
        self.progress, self.shard_progress = progress, shard_progress
        self._encoder = encoder  # an encoder already loaded in this process; never sent to another

    def settings(self) -> dict:
        """The encoder's settings: another model, prefix or precision makes other vectors."""
        return {"encoder": to_dict(self.encoder_config)}

    def setup(self) -> None:
        """Load the encoder (once per worker)."""
        if self._encoder is None:
            self._encoder = Encoder(self.encoder_config)

    def make_part(self, shard: Shard, folder: Path) -> dict:
        """Encode the shard's rows (title + text) into ``folder``; returns the fingerprint of its rows and the
        encoder's resolved settings."""
        import datasets

        corpus = Corpus.load(self.corpus_folder, verify=False)
        encoder, fingerprint = self._encoder, Fingerprint()
        columns = corpus.text_columns
        features = datasets.Features({
            "id": datasets.Value("string"),
            "embedding": datasets.Sequence(datasets.Value("float32"), length=encoder.dim),
        })

        def encode(batch):
            for doc_id, text, title in zip(batch["id"], batch["text"], batch.get("title") or [""] * len(batch["id"])):
                fingerprint.update(doc_id, text, title)
            vectors = encoder.encode_documents(document_texts(batch), progress=False, total=len(corpus))
            return {"id": batch["id"], "embedding": vectors}

        rows = corpus.dataset.select(range(shard.start, shard.stop)).select_columns(columns)
        with datasets_progress(self.shard_progress):
            rows.map(encode, batched=True, batch_size=ENCODE_CALL_TEXTS, remove_columns=columns, features=features,
                     cache_file_name=str(folder / PART_FILE), desc=f"Encoding shard {shard.name}",
                     new_fingerprint=f"gaia-lite-{shard.name}")
        return {"fingerprint": fingerprint.hexdigest(), "encoder": encoder.describe()}

    def combine(self, corpus: Corpus, parts: list[Path], records: list[dict]) -> Path:
        """Put the shards' vectors together in corpus order and index them; returns the index folder."""
        import faiss

        described = _one_encoder(records)
        out, index_type = Path(self.out), self.config.index_type or "flat"
        with atomic_build(out) as tmp:
            embeddings = _gather(parts, tmp, self.progress)
            index, faiss_params = _faiss_index(embeddings, described["dim"], index_type, self.config)
            faiss.write_index(index, str(tmp / "index"))
            with open(tmp / "docid", "w", encoding="utf-8") as f:
                for doc_id in corpus.ids:
                    f.write(doc_id + "\n")
            meta = _metadata(corpus, described, self.config, index_type, faiss_params, out)
            meta.params["shards"] = [{k: r[k] for k in SHARD_FIELDS} for r in records]
            meta.write(tmp)
        return out


def _one_encoder(records: list[dict]) -> dict:
    """The encoder settings every shard was encoded with (they must agree: one index, one vector space)."""
    seen = {json.dumps(r["encoder"], sort_keys=True) for r in records}
    if len(seen) > 1:
        raise ArtifactError(f"the shards were encoded with different settings ({sorted(seen)}), for example workers "
                            "with and without bfloat16 hardware under dtype auto: pass --dtype float32 (or "
                            "bfloat16) and build again")
    return records[0]["encoder"]


def _gather(parts: list[Path], folder: Path, progress: bool):
    """The shards' (id, embedding) tables ``parts``, in shard order, saved as the index's embeddings Dataset."""
    import datasets

    tables = [datasets.Dataset.from_file(str(part / PART_FILE)) for part in parts]
    with datasets_progress(progress):
        datasets.concatenate_datasets(tables).save_to_disk(str(folder / EMBEDDINGS_DIR))
    del tables
    return datasets.load_from_disk(str(folder / EMBEDDINGS_DIR))


#: Vectors an IVF index trains its lists on, at most (FAISS wants 39 or more a list; more adds little).
IVF_TRAINING = 200_000


def ivf_lists(num_vectors: int, config: DenseConfig) -> int:
    """The number of IVF lists: ``config.ivf_lists``, else 4·√n (FAISS's usual rule), never more than n / 39
    (FAISS wants 39 training vectors a list)."""
    import math

    wanted = config.ivf_lists or round(4 * math.sqrt(num_vectors))
    return max(1, min(wanted, num_vectors // 39 or 1))


def pq_bits(num_vectors: int) -> int:
    """Bits of each product-quantizer code: 8 (256 centroids a subspace), fewer where the corpus is too small to
    train 256 centroids (39 vectors each)."""
    import math

    return max(1, min(8, int(math.log2(max(2, min(num_vectors, IVF_TRAINING) // 39)))))


def empty_faiss_index(index_type: str, dim: int, num_vectors: int, config: DenseConfig | None = None):
    """An empty FAISS index of ``index_type`` (a name in :data:`~gaia_lite.registry.INDEX_TYPES`) for
    ``num_vectors`` vectors of ``dim`` dimensions, with ``config``'s parameters. An IVF index still needs
    training: :func:`training_rows` says on which vectors."""
    return _empty_index(index_type, dim, num_vectors, config or DenseConfig())[0]


def _empty_index(index_type: str, dim: int, num_vectors: int, config: DenseConfig) -> tuple[Any, dict]:
    return INDEX_TYPES[index_type].implementation()(dim, num_vectors, config)


def flat_index(dim: int, num_vectors: int, config: DenseConfig) -> tuple[Any, dict]:
    """Exact inner product over every vector."""
    import faiss

    return faiss.IndexFlatIP(dim), {}


def hnsw_index(dim: int, num_vectors: int, config: DenseConfig) -> tuple[Any, dict]:
    """An HNSW graph over inner product: ``hnsw_m`` links a node, built with a beam of ``hnsw_ef_construction``."""
    import faiss

    index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = config.hnsw_ef_construction
    return index, {"hnsw": {"m": config.hnsw_m, "ef_construction": config.hnsw_ef_construction}}


def ivf_index(dim: int, num_vectors: int, config: DenseConfig) -> tuple[Any, dict]:
    """Inverted lists of full vectors over inner product: :func:`ivf_lists` lists."""
    return _ivf(dim, num_vectors, config, pq=None)


def ivfpq_index(dim: int, num_vectors: int, config: DenseConfig) -> tuple[Any, dict]:
    """Inverted lists of product-quantized codes: ``pq_m`` codes of :func:`pq_bits` bits a vector, the hits
    re-scored exactly from the stored vectors."""
    if dim % config.pq_m:
        raise ConfigError(f"pq_m={config.pq_m} must divide the model's {dim} dimensions")
    return _ivf(dim, num_vectors, config, pq=(config.pq_m, pq_bits(num_vectors)))


def _ivf(dim: int, num_vectors: int, config: DenseConfig, pq: tuple[int, int] | None) -> tuple[Any, dict]:
    import faiss

    lists = ivf_lists(num_vectors, config)
    quantizer = faiss.IndexFlatIP(dim)
    if pq is None:
        index = faiss.IndexIVFFlat(quantizer, dim, lists, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFPQ(quantizer, dim, lists, *pq, faiss.METRIC_INNER_PRODUCT)
    index.own_fields = True
    quantizer.this.disown()  # the index owns its quantizer now
    params = {"lists": lists, "training_vectors": min(num_vectors, IVF_TRAINING)}
    if pq is not None:
        params["pq"] = {"m": pq[0], "bits": pq[1], "refine": "exact re-scoring"}
    return index, {"ivf": params}


def training_rows(num_vectors: int) -> range:
    """The rows an IVF index is trained on: at most :data:`IVF_TRAINING`, evenly spaced."""
    return range(0, num_vectors, max(1, num_vectors // IVF_TRAINING))


def _faiss_index(embeddings, dim: int, index_type: str, config: DenseConfig) -> tuple[Any, dict]:
    """A FAISS index of ``index_type`` holding the vectors of ``embeddings`` in row order, and the settings it
    was made with; an IVF index is first trained on an evenly spaced sample of them."""
    import numpy as np

    index, params = _empty_index(index_type, dim, len(embeddings), config)
    if not index.is_trained:
        index.train(np.asarray(embeddings.select(training_rows(len(embeddings)))["embedding"], dtype=np.float32))
    for batch in embeddings.with_format("numpy").iter(batch_size=10_000):
        index.add(np.ascontiguousarray(batch["embedding"], dtype=np.float32))
    return index, params


def _metadata(corpus: Corpus, encoder: dict, config: DenseConfig, index_type: str, faiss_params: dict, out: Path
              ) -> ArtifactMeta:
    """The index's ``gaia_lite.json``: encoder and FAISS settings, the corpus fingerprint, the rebuild command."""
    params = {"encoder": encoder, "index_type": index_type, "text": "title + ' ' + text", **faiss_params}
    return ArtifactMeta(
        kind="dense",
        num_rows=len(corpus),
        fingerprint=corpus.meta.fingerprint,
        source=str(corpus.folder),
        params=params,
        command=index_command(corpus.folder, replace(config, **{k: encoder[k] for k in (
            "model", "query_prefix", "document_prefix")}), index_type, out),
    )


def index_command(corpus_folder: Path, c: DenseConfig, index_type: str = "flat", out: Path | None = None) -> str:
    """The ``gaia-lite index dense`` command that builds this index (stored in its metadata, and named by errors
    about a missing index)."""
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
