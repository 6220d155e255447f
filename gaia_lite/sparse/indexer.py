"""Build a Lucene index with Anserini's ``SimpleIndexer`` from a corpus Dataset, streaming it in batches.

Documents are indexed as Anserini's ``JsonCollection`` documents, docid = the corpus id:
- ``flat``: one field, ``contents`` = title + " " + text (as Anserini's ``BeirFlatCollection``);
- ``multifield``: ``contents`` = text and a separate ``title`` field (as ``BeirMultifieldCollection``).
Positions, document vectors and the raw document are stored, as in Anserini's regressions.

Besides Lucene's files the folder holds ``gaia_lite.json`` and ``rows.npy``: for each Lucene docid, the
corpus row of that document, so that a hit maps to its Dataset row without a lookup per hit.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

from ..artifacts import ArtifactMeta, atomic_build
from ..config import SparseConfig, configure
from ..corpus import Corpus
from ..errors import ArtifactMismatchError
from ..java import jclass, start_jvm

ROWS_FILE = "rows.npy"


def sparse_dir(corpus_folder: str | os.PathLike, config: SparseConfig | None = None) -> Path:
    """Where a corpus's sparse index with these settings lives: ``indexes/<name>/<config.index_name()>``."""
    return Path(corpus_folder) / (config or SparseConfig()).index_name()


def build_sparse_index(
    corpus: Corpus | str | os.PathLike,
    config: SparseConfig | None = None,
    *,
    threads: int = 2,
    out: str | os.PathLike | None = None,
    batch_size: int = 1000,
    progress: bool = True,
    **settings,
) -> Path:
    """Index ``corpus`` with Lucene and return the index folder (default ``indexes/<name>/sparse-<fields>``).

    ``config`` (or its fields as keyword arguments: ``fields="multifield"``, ``stemmer=``, ``keep_stopwords=``,
    ``language=``) sets the fields and the analyzer, by default Anserini's default English analyzer (Porter
    stemming, Lucene's English stopwords). The build is atomic: on failure the previous index at that folder is
    left as it was.
    """
    import numpy as np

    config = configure(SparseConfig, config, settings)
    if not isinstance(corpus, Corpus):
        corpus = Corpus.load(corpus, verify=False)
    out = Path(out) if out else sparse_dir(corpus.folder, config)
    start_jvm()
    command = index_command(corpus.folder, config, out)

    with atomic_build(out) as tmp:
        args = [
            "-index", str(tmp), "-input", "", "-collection", "JsonCollection", "-threads", str(threads),
            "-storePositions", "-storeDocvectors", "-storeRaw", "-language", config.language,
            "-stemmer", config.stemmer,
        ]
        if config.keep_stopwords:
            args.append("-keepStopwords")
        if config.fields == "multifield":
            args += ["-fields", "title"]
        _add_documents(jclass("io.anserini.index.SimpleIndexer")(args), corpus, config.fields, batch_size, progress)
        rows = lucene_rows(tmp, corpus)
        np.save(tmp / ROWS_FILE, rows)
        ArtifactMeta(
            kind="sparse",
            num_rows=len(corpus),
            fingerprint=corpus.meta.fingerprint,
            source=str(corpus.folder),
            params={"fields": config.fields, "analyzer": config.analyzer(), "indexed": int(len(rows)),
                    "anserini_args": args[8:]},
            command=command,
        ).write(tmp)
    return out


def _add_documents(indexer, corpus: Corpus, fields: str, batch_size: int, progress: bool) -> int:
    """Feed every document of ``corpus`` to Anserini's ``indexer`` in batches of JSON documents, then close it
    (on failure too); returns how many documents it added."""
    from tqdm.auto import tqdm

    added = 0
    try:
        columns = ["id", "text"] + (["title"] if corpus.has_title else [])
        with tqdm(total=len(corpus), desc=f"Indexing {corpus.name} (Lucene)", unit=" docs", disable=not progress) as bar:
            for batch in corpus.dataset.select_columns(columns).iter(batch_size=batch_size):
                docs = _json_documents(batch, fields)
                added += indexer.addRawDocuments(docs)
                bar.update(len(docs))
    finally:
        # close(True) merges the index into one segment, which searches faster (BENCHMARKS.md).
        indexer.close(True)
    return added


def _json_documents(batch: dict, fields: str) -> list[str]:
    titles = batch.get("title") or [""] * len(batch["id"])
    docs = []
    for doc_id, text, title in zip(batch["id"], batch["text"], titles):
        if fields == "flat":
            doc = {"id": doc_id, "contents": f"{title} {text}" if title else text}
        else:
            doc = {"id": doc_id, "contents": text, "title": title}
        docs.append(json.dumps(doc, ensure_ascii=False))
    return docs


def lucene_rows(index: Path, corpus: Corpus):
    """For each Lucene docid of the index folder ``index``, the corpus row of the document it holds."""
    import numpy as np

    reader = jclass("org.apache.lucene.index.DirectoryReader").open(
        jclass("org.apache.lucene.store.FSDirectory").open(jclass("java.nio.file.Paths").get(str(index)))
    )
    try:
        stored = reader.storedFields()
        n = reader.maxDoc()
        rows = np.empty(n, dtype=np.int64)
        for lucene_docid in range(n):
            doc_id = stored.document(lucene_docid).get("id")
            try:
                rows[lucene_docid] = corpus.row_of(doc_id)
            except KeyError:
                raise ArtifactMismatchError(f"Lucene document {doc_id!r} is not in corpus {corpus.name}") from None
    finally:
        reader.close()
    return rows


def index_command(corpus_folder: Path, config: SparseConfig, out: Path | None = None) -> str:
    """The ``gaia-lite index sparse`` command that builds this index (stored in its metadata, and named by
    errors about a missing index)."""
    default = SparseConfig()
    args = ["gaia-lite", "index", "sparse", str(corpus_folder), "--fields", config.fields]
    if config.stemmer != default.stemmer:
        args += ["--stemmer", config.stemmer]
    if config.keep_stopwords:
        args.append("--keep-stopwords")
    if config.language != default.language:
        args += ["--language", config.language]
    if out is not None and Path(out) != sparse_dir(corpus_folder, config):
        args += ["--out", str(out)]
    return shlex.join(args)
