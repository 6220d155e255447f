"""The audit: what is in a corpus, at the depth of WIMBD (*What's In My Big Data?*, Elazar et al., 2024).

One sharded, resumable job over the corpus (:class:`AuditJob`, on the same executors as the index builds)
computes, per shard, two things from each document's normalised words (:mod:`gaia_lite.analysis.text`):

- the **words side** (:mod:`gaia_lite.analysis.words`): a word index (every word's positions, which
  ``gaia-lite count`` reads) and n-gram statistics: the most common n-grams with exact counts, distinct n-grams
  (HyperLogLog sketches) and n-grams seen once;
- the **documents side** (:mod:`gaia_lite.analysis.profile`): lengths in characters, words and the dense
  model's tokens, personal data by type, language, offensive language, and the metadata columns (categories,
  numbers, a URL column's registered domains, a date column's timeline).

The driver then merges the shards' bounded summaries and writes ``<corpus>/audit/`` atomically:
``summary.json`` (the report), Parquet tables (``documents``, ``lengths``, ``ngrams``, ``personal_data``,
``personal_data_examples``, ``languages``, ``offensive_examples``, ``metadata``) and ``words/``. The corpus and
its fingerprint are not changed; the stored duplicate analysis and corpus overlaps are linked in the summary.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..artifacts import ArtifactMeta, atomic_build, has_analysis
from ..config import DEFAULT_MODEL, MAX_NGRAM, AuditConfig, configure
from ..corpus import Corpus
from ..errors import InputError, MissingArtifactError
from ..executors import ShardJob, run_sharded
from ..shards import BuildProgress, Shard, shard_batches
from .text import NORMALIZATION, words

AUDIT_DIR = "audit"
SUMMARY_FILE = "summary.json"
WORDS_DIR = "words"
#: Most common n-grams of each n repeated in the summary (the table has ``top``).
SUMMARY_TOP = 10
#: The audit's tables, by name (each ``<name>.parquet`` in the audit folder).
TABLES = ("documents", "lengths", "ngrams", "personal_data", "personal_data_examples", "languages",
          "offensive_examples", "metadata")


@dataclass
class AuditReport:
    """What an audit found: the summary stored as ``summary.json`` (see the module docstring) and the folder
    holding it and the tables."""

    summary: dict[str, Any]
    folder: Path

    def to_dict(self) -> dict[str, Any]:
        """The summary, JSON-ready."""
        return self.summary


def find_audit(corpus: Corpus | str, config: AuditConfig | None = None, *, shard_size: int | None = None,
               executor=None, workdir=None, progress: bool = True, log: Callable[[str], None] | None = print,
               tracker: BuildProgress | None = None, **settings) -> AuditReport:
    """Audit ``corpus`` and store the result in its ``audit/`` folder (replacing an earlier audit atomically).

    ``config`` (or its fields as keyword arguments: ``ngrams="1,2,3"``, ``top``, ``languages``...) says what is
    computed. The metadata columns are checked before anything is written (a missing or unreadable column is an
    :class:`~gaia_lite.errors.InputError`). Sharding, executors and resuming work as in
    :func:`~gaia_lite.analysis.find_duplicates`."""
    from .profile import metadata_columns

    config = configure(AuditConfig, config, settings)
    corpus = corpus if isinstance(corpus, Corpus) else Corpus.load(corpus, verify=False)
    columns = metadata_columns(corpus, config)
    job = AuditJob(str(corpus.folder), config, columns, tokenizer_of(corpus))
    return run_sharded(job, corpus, corpus.folder / AUDIT_DIR, what=f"Audit of {corpus.name}",
                       shard_size=shard_size, executor=executor, workdir=workdir, progress=progress, log=log,
                       tracker=tracker)


def tokenizer_of(corpus: Corpus) -> str:
    """The model whose tokenizer counts tokens: the corpus's dense index's, else the default dense model."""
    for meta in corpus.artifacts("dense").values():
        model = meta.params.get("encoder", {}).get("model")
        if model:
            return model
    return DEFAULT_MODEL


def audit_command(corpus: Corpus, config: AuditConfig) -> str:
    """The command that makes this audit again."""
    default = AuditConfig()
    flags = ""
    for k, v in asdict(config).items():
        if getattr(default, k) == v:
            continue
        flag = k.replace("_", "-")
        flags += (f" --{flag}" if v else f" --no-{flag}") if isinstance(v, bool) else f" --{flag} {v}"
    return f"gaia-lite audit {corpus.folder}{flags}"


class AuditJob(ShardJob):
    """Audit each shard of the corpus (its word index and n-gram statistics, its documents' profile), then merge
    the shards into ``<corpus>/audit/`` (a :class:`~gaia_lite.executors.ShardJob`). Stateful: a worker loads the
    language detector, the offensive-language model and the tokenizer once."""

    kind = "audit"
    stateful = True
    #: A shard's memory grows with its words (about 130 bytes a word while its n-grams are counted), so automatic
    #: shards stay at 25,000 documents however large the corpus: the audit's memory does not grow with it.
    max_auto_shard = 25_000

    def __init__(self, corpus_folder: str, config: AuditConfig, columns: dict[str, str], tokenizer: str,
                 batch_size: int = 1000):
        self.corpus_folder, self.config, self.columns, self.tokenizer = corpus_folder, config, columns, tokenizer
        self.batch_size = batch_size
        self._started = time.perf_counter()  # the report's seconds count from here

    def settings(self) -> dict:
        """What decides the parts: the audit's settings, the metadata columns and the tokenizer."""
        return {**asdict(self.config), "columns": self.columns, "tokenizer": self.tokenizer}

    def setup(self) -> None:
        """Load the detectors and the tokenizer once for this worker."""
        from .profile import Profiler

        Profiler(self.config, self.columns, self.tokenizer).load()

    def make_part(self, shard: Shard, folder: Path) -> dict:
        """The shard's word index and n-gram statistics (``words/``) and its documents' profile."""
        from .profile import Profiler
        from .words import WordsPartWriter

        corpus = Corpus.load(self.corpus_folder, verify=False)
        text_columns = ["title", "text"] if corpus.has_title else ["text"]
        wanted = ["id", *text_columns, *(c for c in self.columns if c not in text_columns)]
        writer = WordsPartWriter(folder / WORDS_DIR, self.config)
        profiler = Profiler(self.config, self.columns, self.tokenizer)
        for batch in shard_batches(corpus, shard, wanted, self.batch_size):
            doc_words = [[w for c in text_columns for w in words(batch[c][k] or "")] for k in range(len(batch["id"]))]
            writer.add(doc_words)
            profiler.add(batch["id"], batch, doc_words)
        return {**writer.finish(), **profiler.finish(folder)}

    def combine(self, corpus: Corpus, parts: list[Path], records: list[dict]) -> AuditReport:
        """Merge the shards into the audit folder and return the report."""
        from .profile import combine_profiles
        from .words import combine_words

        final = corpus.folder / AUDIT_DIR
        with atomic_build(final) as tmp:
            words_side = combine_words([p / WORDS_DIR for p in parts], tmp, self.config, corpus.ids)
            documents_side = combine_profiles(parts, tmp, self.config)
            words_side["ngrams"]["examples"] = _top_ngrams(tmp / "ngrams.parquet", SUMMARY_TOP)
            summary = {
                "corpus": corpus.name, "fingerprint": corpus.meta.fingerprint, "documents": len(corpus),
                "shards": len(parts), "nodes": sorted({r["node"] for r in records}),
                "config": asdict(self.config), "columns": self.columns, "tokenizer": self.tokenizer,
                "normalization": NORMALIZATION, **documents_side, **words_side, **linked_analyses(corpus),
            }
            summary["seconds"] = round(time.perf_counter() - self._started, 3)
            (tmp / SUMMARY_FILE).write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            ArtifactMeta(kind="audit", num_rows=len(corpus), fingerprint=corpus.meta.fingerprint,
                         source=str(corpus.folder), params=self.settings(),
                         command=audit_command(corpus, self.config)).write(tmp)
        return AuditReport(summary, final)


def _top_ngrams(path: Path, k: int) -> dict[str, list[dict]]:
    """The ``k`` most common n-grams of each n, from the stored table, for the summary."""
    import pyarrow.parquet as pq

    rows = pq.read_table(path, columns=["n", "rank", "ngram", "count", "documents"]).to_pylist()
    out: dict[str, list[dict]] = {}
    for row in rows:
        if row["rank"] <= k:
            out.setdefault(str(row["n"]), []).append({key: row[key] for key in ("ngram", "count", "documents")})
    return out


def linked_analyses(corpus: Corpus) -> dict[str, Any]:
    """The corpus's other stored analyses, summarised and linked: its duplicate analysis (``duplicates``) and its
    overlaps with other corpora (``overlap``, from ``gaia-lite overlap``), each None where there is none.
    Benchmark contamination is not stored beside a corpus (``gaia-lite contamination --output`` saves it)."""
    from .duplicates import DUPLICATES_DIR, SUMMARY_FILE as DUPLICATES_SUMMARY, check_duplicates

    duplicates = None
    try:
        if check_duplicates(corpus):
            report = json.loads((corpus.folder / DUPLICATES_DIR / DUPLICATES_SUMMARY).read_text(encoding="utf-8"))
            duplicates = {"path": DUPLICATES_DIR, "definition": report["definition"],
                          **{kind: {k: report[kind][k] for k in ("clusters", "documents", "duplicates", "rate")}
                             for kind in ("exact", "near")}}
    except Exception as e:  # a stale or unreadable analysis is reported, never fatal to the audit
        duplicates = {"path": DUPLICATES_DIR, "error": str(e)}
    overlaps = []
    for path in sorted((corpus.folder / "overlap").glob(f"*/{SUMMARY_FILE}")):
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        overlaps.append({"path": str(path.parent.relative_to(corpus.folder)), "summary": report})
    return {"duplicates": duplicates, "overlap": overlaps or None,
            "contamination": None}


@dataclass(frozen=True)
class StoredAudit:
    """A corpus's stored audit: its summary and folder; :meth:`table` reads one of its tables."""

    summary: dict[str, Any]
    folder: Path

    def table(self, name: str):
        """The audit's table ``name`` (one of :data:`TABLES`) as a ``pyarrow.Table``."""
        import pyarrow.parquet as pq

        if name not in TABLES:
            raise KeyError(f"no audit table {name!r}; tables: {', '.join(TABLES)}")
        return pq.read_table(self.folder / f"{name}.parquet")


def check_audit(corpus: Corpus) -> bool:
    """Whether ``corpus`` has a stored audit (reading only its metadata); raises
    :class:`~gaia_lite.errors.ArtifactMismatchError` where it was made from other documents."""
    return has_analysis(corpus, AUDIT_DIR, "audit")


def load_audit(corpus: Corpus) -> StoredAudit:
    """The audit stored beside ``corpus`` by :func:`find_audit`, checked against the corpus's current documents."""
    folder = corpus.folder / AUDIT_DIR
    if not check_audit(corpus):
        raise MissingArtifactError(f"no audit at {folder}: run `gaia-lite audit {corpus.folder}`")
    return StoredAudit(json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8")), folder)


@dataclass
class PhraseCount:
    """The exact count of a phrase in a corpus: ``occurrences`` (overlapping ones included), ``documents``
    holding it, the first ``len(ids)`` of them in row order with their occurrences (``per_document``), the
    normalised ``words`` the phrase was counted as, and the ``seconds`` the count took."""

    phrase: str
    words: list[str]
    occurrences: int
    documents: int
    ids: list[str]
    per_document: list[int]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The count as JSON-ready values."""
        return {**asdict(self), "normalization": NORMALIZATION}


def count_phrase(corpus, phrase: str, *, limit: int = 100) -> PhraseCount:
    """Count ``phrase`` exactly in ``corpus`` (its occurrences and the documents holding it) with the word index
    of the corpus's audit (``gaia-lite audit``). The phrase is normalised as the audit's words are
    (:mod:`gaia_lite.analysis.text`), so ``"Return the"`` counts ``return the``; a phrase never spans two
    documents. ``limit`` documents are listed, in row order."""
    from .words import INDEX_FILE, count_in_index

    started = time.perf_counter()
    phrase_words = words(phrase)
    if not phrase_words:
        raise InputError(f"the phrase {phrase!r} has no words: words are runs of letters and digits "
                         "(punctuation and symbols separate them); give at least one")
    if len(phrase_words) > MAX_NGRAM:
        raise InputError(f"the phrase has {len(phrase_words)} words; count phrases of at most {MAX_NGRAM} words")
    if getattr(corpus, "folder", None) is None:
        raise InputError(f"{corpus!r} is not a corpus on this machine: phrases are counted with the word index of "
                         "a local corpus's audit; count on the machine that holds it")
    folder = corpus.folder / AUDIT_DIR / WORDS_DIR
    if not check_audit(corpus) or not (folder / INDEX_FILE).is_file():
        raise MissingArtifactError(f"no word index at {folder}: run `gaia-lite audit {corpus.folder}`")
    occurrences, documents, rows, per_document = count_in_index(folder, phrase_words, limit)
    return PhraseCount(phrase, phrase_words, occurrences, documents, _ids_of(corpus, rows), per_document,
                       round(time.perf_counter() - started, 6))


def _ids_of(corpus, rows: list[int]) -> list[str]:
    """The ids of ``rows``: read from the id column alone (listing every id of a large corpus takes longer than
    the count)."""
    table = getattr(getattr(corpus, "dataset", None), "data", None)
    if not rows:
        return []
    if table is None or getattr(corpus.dataset, "_indices", None) is not None:
        ids = corpus.ids
        return [ids[r] for r in rows]
    return table.column("id").take(rows).to_pylist()
