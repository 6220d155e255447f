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
from ..corpus import Corpus
from ..errors import ArtifactMismatchError, InputError
from ..java import jclass, start_jvm

SPARSE_FIELDS = ("flat", "multifield")
STEMMERS = ("porter", "krovetz", "none")
ROWS_FILE = "rows.npy"


def sparse_dir(corpus_folder: Path, fields: str = "flat", stemmer: str = "porter", keep_stopwords: bool = False,
               language: str = "en") -> Path:
    """Where a sparse index of a corpus lives: ``indexes/<name>/sparse-<fields>``, plus any non-default analyzer
    setting (``sparse-flat-krovetz-stopwords``), so that indexes with different analyzers sit side by side."""
    name = f"sparse-{fields}"
    if language != "en":
        name += f"-{language}"
    if stemmer != "porter":
        name += f"-{stemmer}"
    if keep_stopwords:
        name += "-stopwords"
    return Path(corpus_folder) / name


def analyzer_params(stemmer: str = "porter", keep_stopwords: bool = False, language: str = "en") -> dict:
    """The analyzer settings stored with an index and reapplied to queries."""
    if stemmer not in STEMMERS:
        raise InputError(f"stemmer={stemmer!r}: choose one of {STEMMERS}")
    return {"language": language, "stemmer": stemmer, "keep_stopwords": keep_stopwords}


def build_sparse_index(
    corpus: Corpus | str | os.PathLike,
    *,
    fields: str = "flat",
    stemmer: str = "porter",
    keep_stopwords: bool = False,
    language: str = "en",
    threads: int = 2,
    out: str | os.PathLike | None = None,
    batch_size: int = 1000,
    progress: bool = True,
) -> Path:
    """Index ``corpus`` with Lucene and return the index folder (default ``indexes/<name>/sparse-<fields>``).

    The analyzer defaults to Anserini's default English analyzer (Porter stemming, Lucene's English stopwords).
    The build is atomic: on failure the previous index at that folder is left as it was.
    """
    import numpy as np
    from tqdm.auto import tqdm

    if fields not in SPARSE_FIELDS:
        raise InputError(f"fields={fields!r}: choose one of {SPARSE_FIELDS}")
    analyzer = analyzer_params(stemmer, keep_stopwords, language)
    if not isinstance(corpus, Corpus):
        corpus = Corpus.load(corpus, verify=False)
    out = Path(out) if out else sparse_dir(corpus.folder, fields, stemmer, keep_stopwords, language)
    start_jvm()
    command = _index_command(corpus, fields, analyzer, out)

    with atomic_build(out) as tmp:
        args = [
            "-index", str(tmp), "-input", "", "-collection", "JsonCollection", "-threads", str(threads),
            "-storePositions", "-storeDocvectors", "-storeRaw", "-language", language, "-stemmer", stemmer,
        ]
        if keep_stopwords:
            args.append("-keepStopwords")
        if fields == "multifield":
            args += ["-fields", "title"]
        indexer = jclass("io.anserini.index.SimpleIndexer")(args)
        added = 0
        try:
            columns = ["id", "text"] + (["title"] if corpus.has_title else [])
            with tqdm(total=len(corpus), desc=f"Indexing {corpus.name} (Lucene)", unit=" docs", disable=not progress) as bar:
                for batch in corpus.dataset.select_columns(columns).iter(batch_size=batch_size):
                    docs = _json_documents(batch, fields)
                    added += indexer.addRawDocuments(docs)
                    bar.update(len(docs))
        finally:
            # close(True) merges the index into one segment: searches get 8-26% faster (BENCHMARKS.md).
            indexer.close(True)
        rows = _lucene_rows(tmp, corpus)
        np.save(tmp / ROWS_FILE, rows)
        ArtifactMeta(
            kind="sparse",
            num_rows=len(corpus),
            fingerprint=corpus.meta.fingerprint,
            source=str(corpus.folder),
            params={"fields": fields, "analyzer": analyzer, "indexed": int(len(rows)), "anserini_args": args[8:]},
            command=command,
        ).write(tmp)
    return out


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


def _lucene_rows(index: Path, corpus: Corpus):
    """For each Lucene docid, the corpus row of the document it holds."""
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


def _index_command(corpus: Corpus, fields: str, analyzer: dict, out: Path) -> str:
    args = ["gaia-lite", "index", "sparse", str(corpus.folder), "--fields", fields]
    if analyzer["stemmer"] != "porter":
        args += ["--stemmer", analyzer["stemmer"]]
    if analyzer["keep_stopwords"]:
        args.append("--keep-stopwords")
    if analyzer["language"] != "en":
        args += ["--language", analyzer["language"]]
    if out != sparse_dir(corpus.folder, fields, **analyzer):
        args += ["--out", str(out)]
    return shlex.join(args)
