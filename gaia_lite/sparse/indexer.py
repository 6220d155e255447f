"""Build a Lucene index with Anserini's ``SimpleIndexer`` from a corpus Dataset, streaming it in batches.

Documents are indexed as Anserini's ``JsonCollection`` documents, docid = the corpus id:
- ``flat``: one field, ``contents`` = title + " " + text (as Anserini's ``BeirFlatCollection``);
- ``multifield``: ``contents`` = text and a separate ``title`` field (as ``BeirMultifieldCollection``).
Positions, document vectors and the raw document are stored, as in Anserini's regressions.

Besides Lucene's files the folder holds ``gaia_lite.json``, ``rows.npy`` (for each Lucene docid, the corpus row of
that document, so that a hit maps to its Dataset row without a lookup per hit) and ``impacts/``, the impact matrix
plain searches are scored from (:mod:`gaia_lite.sparse.impacts`).
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from pathlib import Path

from ..artifacts import ArtifactMeta, Fingerprint, atomic_build
from ..config import SparseConfig, configure
from ..corpus import Corpus, PartedCorpus
from ..corpus.parts import build_each_part
from ..errors import ArtifactMismatchError
from ..java import jclass, lucene_directory, open_index_reader, start_jvm
from ..executors import ShardJob, run_sharded
from ..shards import SHARD_FIELDS, BuildProgress, Shard, shard_batches
from .impacts import write_impacts

ROWS_FILE = "rows.npy"


def sparse_dir(corpus_folder: str | os.PathLike, config: SparseConfig | None = None) -> Path:
    """Where a corpus's sparse index with these settings lives: ``indexes/<name>/<config.index_name()>``."""
    return Path(corpus_folder) / (config or SparseConfig()).index_name()


def build_sparse_index(corpus: Corpus | str | os.PathLike, config: SparseConfig | None = None, *, threads: int = 2,
                       out: str | os.PathLike | None = None, batch_size: int = 1000, shard_size: int | None = None,
                       executor=None, workdir: str | os.PathLike | None = None, progress: bool = True,
                       log: Callable[[str], None] | None = print, tracker: BuildProgress | None = None,
                       **settings) -> Path:
    """Index ``corpus`` with Lucene and return the index folder (default ``indexes/<name>/sparse-<fields>``).

    ``config`` (or its fields as keyword arguments: ``fields="multifield"``, ``stemmer=``, ``keep_stopwords=``,
    ``language=``) sets the fields and the analyzer, by default Anserini's default English analyzer (Porter
    stemming, Lucene's English stopwords).

    The corpus is indexed in shards of ``shard_size`` rows (automatic where None; see
    :func:`gaia_lite.shards.plan_shards`), each an index of its own built by ``executor`` (default: in this
    process; :class:`~gaia_lite.executors.RayExecutor` for a cluster) into ``workdir`` (default beside the
    index), then merged with Lucene's ``addIndexes`` into one segment: the same index, documents and scores as
    one unsharded build. A build interrupted at any point reuses its finished shards when run again (``log``
    says how many; ``tracker`` follows the progress from another thread). The index is put in place
    atomically: until it is complete, the previous one stays.
    """
    config = configure(SparseConfig, config, settings)
    if not isinstance(corpus, Corpus):
        corpus = Corpus.load(corpus, verify=False)
    if isinstance(corpus, PartedCorpus):
        return build_each_part(build_sparse_index, corpus, config=config, threads=threads, out=out,
                               batch_size=batch_size, shard_size=shard_size, executor=executor, workdir=workdir,
                               progress=progress, log=log, tracker=tracker)
    out = Path(out) if out else sparse_dir(corpus.folder, config)
    job = SparseShardJob(str(corpus.folder), config, str(out), threads, batch_size)
    return run_sharded(job, corpus, out, what=f"Indexing {corpus.name} (Lucene)", shard_size=shard_size,
                       executor=executor, workdir=workdir, progress=progress, log=log, tracker=tracker)


class SparseShardJob(ShardJob):
    """Index each shard of a corpus with Anserini's ``SimpleIndexer``, then merge the shards' indexes into the
    index at ``out`` (a :class:`~gaia_lite.executors.ShardJob`)."""

    kind = "sparse"
    stateful = False  # a worker's setup is the JVM start, reused by later tasks in the same process anyway

    def __init__(self, corpus_folder: str, config: SparseConfig, out: str, threads: int = 2, batch_size: int = 1000):
        self.corpus_folder, self.config, self.out = corpus_folder, config, out
        self.threads, self.batch_size = threads, batch_size

    def anserini_args(self, index: str) -> list[str]:
        """``SimpleIndexer``'s arguments for an index at ``index``: positions, document vectors and raw documents
        stored, as Anserini's regressions index."""
        c = self.config
        args = ["-index", index, "-input", "", "-collection", "JsonCollection", "-threads", str(self.threads),
                "-storePositions", "-storeDocvectors", "-storeRaw", "-language", c.language, "-stemmer", c.stemmer]
        if c.keep_stopwords:
            args.append("-keepStopwords")
        if c.fields == "multifield":
            args += ["-fields", "title"]
        return args

    def settings(self) -> dict:
        """The indexer's arguments: other fields or another analyzer make other shards."""
        return {"args": self.anserini_args("")}

    def setup(self) -> None:
        """Start this worker's JVM."""
        start_jvm()

    def make_part(self, shard: Shard, folder: Path) -> dict:
        """Index the shard's rows into ``folder``; returns the fingerprint of its rows."""
        corpus = Corpus.load(self.corpus_folder, verify=False)
        fingerprint = Fingerprint()
        indexer = jclass("io.anserini.index.SimpleIndexer")(self.anserini_args(str(folder)))
        try:
            for batch in shard_batches(corpus, shard, corpus.text_columns, self.batch_size):
                indexer.addRawDocuments(_json_documents(batch, self.config.fields, fingerprint))
        finally:
            # close(True) merges the shard into one segment; the merged index is one segment too.
            indexer.close(True)
        return {"fingerprint": fingerprint.hexdigest()}

    def combine(self, corpus: Corpus, parts: list[Path], records: list[dict]) -> Path:
        """Merge the shards' indexes into the index, with its row map and metadata; returns its folder."""
        import numpy as np

        start_jvm()
        out = Path(self.out)
        with atomic_build(out) as tmp:
            _merge(parts, tmp)
            rows = lucene_rows(tmp, corpus)
            np.save(tmp / ROWS_FILE, rows)
            write_impacts(tmp, self.config.fields, corpus.ids, rows.tolist(), fingerprint=corpus.meta.fingerprint,
                          source=str(out))
            ArtifactMeta(
                kind="sparse",
                num_rows=len(corpus),
                fingerprint=corpus.meta.fingerprint,
                source=str(corpus.folder),
                params={"fields": self.config.fields, "analyzer": self.config.analyzer(), "indexed": int(len(rows)),
                        "anserini_args": self.anserini_args("")[6:],
                        "shards": [{k: r[k] for k in SHARD_FIELDS} for r in records]},
                command=index_command(corpus.folder, self.config, out),
            ).write(tmp)
        return out


def _merge(parts: list[Path], out: Path) -> None:
    """Merge the shard indexes ``parts``, in order, into one single-segment index at ``out``. Lucene's
    ``addIndexes`` copies the shards' segments (nothing is analyzed again) and keeps their documents in order;
    the statistics BM25 uses (document count, lengths, term frequencies) are then those of the whole corpus."""
    config = jclass("org.apache.lucene.index.IndexWriterConfig")(
        jclass("org.apache.lucene.analysis.core.WhitespaceAnalyzer")())
    writer = jclass("org.apache.lucene.index.IndexWriter")(lucene_directory(out), config)
    try:
        from jnius import cast

        writer.addIndexes(*[cast("org.apache.lucene.store.Directory", lucene_directory(p)) for p in parts])
        writer.forceMerge(1)
    finally:
        writer.close()


def _json_documents(batch: dict, fields: str, fingerprint: Fingerprint) -> list[str]:
    """A batch of rows as Anserini JSON documents (``flat``: title + text in ``contents``; ``multifield``: text in
    ``contents`` and a ``title`` field), adding each row to ``fingerprint``."""
    titles = batch.get("title") or [""] * len(batch["id"])
    docs = []
    for doc_id, text, title in zip(batch["id"], batch["text"], titles):
        fingerprint.update(doc_id, text, title)
        if fields == "flat":
            doc = {"id": doc_id, "contents": f"{title} {text}" if title else text}
        else:
            doc = {"id": doc_id, "contents": text, "title": title}
        docs.append(json.dumps(doc, ensure_ascii=False))
    return docs


def lucene_rows(index: Path, corpus: Corpus):
    """For each Lucene docid of the index folder ``index``, the corpus row of the document it holds."""
    import numpy as np

    reader = open_index_reader(index)
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
