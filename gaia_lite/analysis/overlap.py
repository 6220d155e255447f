"""Overlap of two corpora: the n-grams and documents they share (contamination generalised from benchmark items to
a whole corpus).

Definition: a document's words are its title's words then its text's words, as :mod:`gaia_lite.analysis.text`
normalises them (the words :mod:`~gaia_lite.analysis.duplicates` compares); its n-grams are its windows of exactly
``n`` consecutive words (13 by default, as contamination's); n-grams never span two documents, and a document of
fewer than ``n`` words has none (each side reports how many such documents it has). An n-gram is *shared* when a
document of each corpus holds it; a document *overlaps* when it holds at least one shared n-gram. Reported each
way: the distinct n-grams of each corpus and the shared ones, the shared share of each corpus's distinct n-grams,
the documents that overlap and their share of the documents with n-grams, and examples (a shared n-gram with the
first document of each corpus holding it).

How: each corpus is read once, in shards on the executors of the index builds (this process, local processes, a
Ray cluster; :func:`~gaia_lite.executors.run_sharded`, once per corpus, so each side resumes on its own). A shard
turns each document's n-grams into 64-bit hashes (xxHash3 of each distinct word, then a polynomial over the window
and a final mix, vectorised with numpy) and writes its distinct ``(hash, row)`` pairs split by hash into
``partitions`` files. The join then reads one partition of both corpora at a time (equal n-grams have equal hashes,
so they are in the same partition): its memory is one partition's pairs, not the corpus's, plus a 4-byte counter
per document of each corpus.

Counts compare hashes, so two different n-grams with the same 64-bit hash would count as one: with ``D`` distinct
n-grams over both corpora, the expected number of such collisions is about ``D**2 / 2**65`` (0.03 for a billion
distinct n-grams, 3e-8 for a million), which the report states as ``hash_collisions_expected``. Examples are
checked word by word in both documents, so a collision never shows a false example.

Results go to ``<A>/overlap/<B's name>/`` (made atomically): ``summary.json`` (the report),
``shared_documents.parquet`` (``side`` "a" or "b", ``id``, ``shared_ngrams``: the distinct shared n-grams the
document holds; only documents that overlap, each side in row order) and ``gaia_lite.json`` (kind ``overlap``,
A's fingerprint; its params name B's folder and fingerprint).
"""

from __future__ import annotations

import heapq
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..artifacts import ArtifactMeta, atomic_build
from ..config import OverlapConfig, configure
from ..corpus import Corpus
from ..errors import InputError
from ..executors import ShardJob, run_sharded
from ..shards import BuildProgress, Shard, shard_batches
from .text import NORMALIZATION, words

OVERLAP_DIR = "overlap"
SUMMARY_FILE = "summary.json"
DOCUMENTS_FILE = "shared_documents.parquet"
#: One (n-gram hash, row) pair as the shards write it and the join reads it.
PAIR = np.dtype([("hash", "<u8"), ("row", "<i8")])
#: Pairs of one corpus a partition aims to hold: the join holds two sides of about 50 bytes a pair (~200 MB).
PARTITION_PAIRS = 2_000_000
MAX_PARTITIONS = 4096
#: Bytes of stored corpus per word, to estimate the pairs before reading (English prose: 5 to 7).
BYTES_PER_WORD = 6
#: A shard writes its pairs to the partition files whenever it holds this many (its memory bound).
FLUSH_PAIRS = 1_000_000
#: Words whose hashes a shard keeps (a cache: past it, the cache starts again).
WORD_CACHE = 2_000_000
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd, so each step of the polynomial is a bijection


@dataclass
class OverlapSide:
    """One corpus of an overlap run: its ``documents``, those of fewer than ``n`` words (``short``: they have no
    n-grams; ``empty`` of them have no words at all), ``ngrams`` (occurrences), ``distinct`` n-grams, the
    ``shared`` share of them (``ngram_rate`` = shared / distinct), and the documents holding a shared n-gram
    (``overlapping``; ``document_rate`` = overlapping / documents with n-grams)."""

    corpus: str
    folder: str
    fingerprint: str
    documents: int
    short: int
    empty: int
    ngrams: int
    distinct: int
    overlapping: int
    ngram_rate: float
    document_rate: float

    @property
    def with_ngrams(self) -> int:
        """Documents of at least ``n`` words."""
        return self.documents - self.short


@dataclass
class OverlapReport:
    """What an overlap run found: ``shared`` distinct n-grams, each side (:class:`OverlapSide`), ``examples``
    (``{"ngram", "a_id", "b_id", "a_documents", "b_documents"}``: a shared n-gram, the first document of each
    corpus holding it, and how many documents of each hold it), where the results are stored (``folder``)."""

    a: OverlapSide
    b: OverlapSide
    shared: int
    config: OverlapConfig
    partitions: int
    examples: list[dict[str, Any]]
    folder: str
    seconds: float = 0.0
    nodes: list[str] = field(default_factory=list)  # the machines (or Ray nodes) that ran the shards

    @property
    def hash_collisions_expected(self) -> float:
        """The expected number of pairs of different n-grams sharing a 64-bit hash (see the module docstring)."""
        distinct = self.a.distinct + self.b.distinct - self.shared
        return distinct * (distinct - 1) / 2 ** 65

    def definition(self) -> str:
        """How overlap is defined in this run, in one paragraph."""
        n = self.config.ngram
        return (f"An n-gram is {n} consecutive words of one document (title then text; {NORMALIZATION}); a document "
                f"of fewer than {n} words has none. An n-gram is shared when a document of each corpus holds it; a "
                "document overlaps when it holds a shared n-gram. N-grams are compared by 64-bit hashes (expected "
                f"collisions: {self.hash_collisions_expected:.2g}); examples are checked word by word.")

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values (what ``summary.json`` holds and ``--json`` prints)."""
        out = asdict(self)
        out["config"] = asdict(self.config)
        for side in ("a", "b"):
            out[side]["with_ngrams"] = getattr(self, side).with_ngrams
        out["hash_collisions_expected"] = self.hash_collisions_expected
        out["normalization"] = NORMALIZATION
        out["definition"] = self.definition()
        return out


def overlap_dir(a: Corpus, b: Corpus) -> Path:
    """Where the overlap of ``a`` with ``b`` is stored: ``<a>/overlap/<b's name>``."""
    return a.folder / OVERLAP_DIR / b.name


def find_overlap(a: Corpus | str, b: Corpus | str, config: OverlapConfig | None = None, *,
                 shard_size: int | None = None, executor=None, workdir=None, progress: bool = True,
                 log: Callable[[str], None] | None = print, tracker: BuildProgress | None = None,
                 partitions: int | None = None, **settings) -> OverlapReport:
    """The n-grams and documents that corpora ``a`` and ``b`` share, stored in ``<a>/overlap/<b's name>/``
    (replacing an earlier run's, atomically; see the module docstring for the definition).

    ``config`` (or its fields as keyword arguments: ``ngram``, ``examples``) sets the definition. Each corpus is
    read in shards of ``shard_size`` rows on ``executor`` (:func:`~gaia_lite.executors.run_sharded`; ``workdir``
    for storage every node of a cluster reads); a run killed part-way reuses each side's finished shards, and
    ``log`` says how many. ``partitions`` (default: from the corpus sizes, so that one fits comfortably in memory)
    splits the n-grams for the join. ``a`` and ``b`` may be the same corpus (then everything overlaps)."""
    config = configure(OverlapConfig, config, settings)
    a, b = _local(a, "first"), _local(b, "second")
    if partitions is None:
        partitions = choose_partitions(a, b)
    elif isinstance(partitions, bool) or not isinstance(partitions, int) or not 1 <= partitions <= MAX_PARTITIONS:
        raise InputError(f"partitions must be a whole number from 1 to {MAX_PARTITIONS}, got {partitions!r}")
    out = overlap_dir(a, b)
    started = time.perf_counter()
    # Absolute folders: a worker (another process, a Ray node) reopens the corpus from its own working directory.
    side_a = OverlapSideJob(str(a.folder.resolve()), config.ngram, partitions)
    side_b = OverlapSideJob(str(b.folder.resolve()), config.ngram, partitions)
    options = dict(shard_size=shard_size, executor=executor, workdir=workdir, progress=progress, log=log,
                   tracker=tracker)

    def after_a(_, a_parts: list[Path], a_records: list[dict]) -> OverlapReport:
        # B's side runs while A's finished parts are still in their workdir: a run killed now keeps both.
        def after_b(_, b_parts: list[Path], b_records: list[dict]) -> OverlapReport:
            return _join(a, b, config, partitions, (a_parts, a_records), (b_parts, b_records), out, started)

        side_b._then = after_b
        # Each side's workdir is named apart from the other's (same folder, two live claims would clash).
        return run_sharded(side_b, b, out.with_name(f"{out.name}.b"), what=f"Overlap: {b.name}'s {config.ngram}-grams",
                           **options)

    side_a._then = after_a
    return run_sharded(side_a, a, out.with_name(f"{out.name}.a"), what=f"Overlap: {a.name}'s {config.ngram}-grams",
                       **options)


def _local(corpus: Corpus | str, which: str) -> Corpus:
    """``corpus`` opened from this machine's disk (an overlap reads every document)."""
    if isinstance(corpus, Corpus):
        return corpus
    from ..retriever import open_corpus

    opened = open_corpus(corpus)
    if not isinstance(opened, Corpus):
        raise InputError(f"the {which} corpus {corpus!r} is served, not on this disk: pull or build it here first "
                         "(`gaia-lite pull` or `gaia-lite corpus`)")
    return opened


def choose_partitions(a: Corpus, b: Corpus) -> int:
    """Partitions of the join, a power of two: the larger corpus's estimated n-grams (its stored bytes over
    :data:`BYTES_PER_WORD`) over :data:`PARTITION_PAIRS`, at most :data:`MAX_PARTITIONS`."""
    estimate = max(a.dataset.data.nbytes, b.dataset.data.nbytes) / BYTES_PER_WORD
    wanted = max(1, math.ceil(estimate / PARTITION_PAIRS))
    return min(MAX_PARTITIONS, 1 << (wanted - 1).bit_length())


def _command(a: Corpus, b: Corpus, config: OverlapConfig) -> str:
    default = OverlapConfig()
    flags = "".join(f" --{k} {v}" for k, v in asdict(config).items() if getattr(default, k) != v)
    return f"gaia-lite overlap {a.folder} {b.folder}{flags}"


# --- hashing -------------------------------------------------------------------------------------------------

class NgramHasher:
    """64-bit hashes of documents' n-grams: xxHash3 of each distinct word (kept in a cache), then a polynomial over
    each window of ``n`` word hashes, then splitmix64's finaliser so that every bit (the partition's top bits
    included) depends on every word."""

    def __init__(self, n: int):
        import xxhash

        self.n = n
        self._xxh = xxhash.xxh3_64_intdigest
        self._cache: dict[str, int] = {}

    def _word(self, word: str) -> int:
        h = self._cache.get(word)
        if h is None:
            if len(self._cache) >= WORD_CACHE:
                self._cache.clear()
            h = self._cache[word] = self._xxh(word.encode("utf-8", "surrogatepass"))
        return h

    def hashes(self, docs: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The n-grams of ``docs`` (lists of words): their hashes, the document (index in ``docs``) and the first
        word's position in it, documents in order, positions in order."""
        import pandas as pd

        n = self.n
        lengths = np.fromiter(map(len, docs), np.int64, len(docs))
        flat = [w for doc in docs for w in doc]
        count = len(flat) - n + 1
        if count <= 0:
            empty = np.zeros(0, np.int64)
            return np.zeros(0, np.uint64), empty, empty
        # Each distinct word of the batch is hashed once (pandas' hash table in C), then spread to its places.
        codes, distinct = pd.factorize(np.array(flat, dtype=object))
        values = np.fromiter(map(self._word, distinct), np.uint64, len(distinct))[codes]
        h = np.zeros(count, np.uint64)
        for k in range(n):  # unsigned arithmetic wraps around, as the hash wants
            h = h * _MULTIPLIER + values[k:k + count]
        h = _mix(h)
        doc = np.repeat(np.arange(len(docs)), lengths)
        inside = np.flatnonzero(doc[:count] == doc[n - 1:])  # windows within one document
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        return h[inside], doc[inside], inside - starts[doc[inside]]


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser (a bijection of 64-bit integers), vectorised."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def partition_of(hashes: np.ndarray, partitions: int) -> np.ndarray:
    """The partition of each hash: its top 32 bits scaled to ``partitions`` (so partitions are hash ranges)."""
    return ((hashes >> np.uint64(32)) * np.uint64(partitions)) >> np.uint64(32)


def document_words(batch: dict, k: int, columns: list[str]) -> list[str]:
    """Document ``k`` of a batch's words: its title's, then its text's (as duplicates compares them)."""
    return [w for c in columns for w in words(batch[c][k] or "")]


# --- the shards ----------------------------------------------------------------------------------------------

class OverlapSideJob(ShardJob):
    """One corpus of an overlap run: each shard writes its documents' distinct ``(n-gram hash, row)`` pairs into
    ``partitions`` files by hash (a :class:`~gaia_lite.executors.ShardJob`). Its ``combine`` hands the parts to the
    driver's continuation (the other side's run, then the join), set on the driver only."""

    kind = "overlap"

    def __init__(self, corpus_folder: str, ngram: int, partitions: int, batch_size: int = 1000):
        self.corpus_folder, self.ngram, self.partitions = corpus_folder, ngram, partitions
        self.batch_size = batch_size
        self._then: Callable[..., Any] | None = None

    def settings(self) -> dict:
        """What decides the parts: the n-gram length and the partitions."""
        return {"ngram": self.ngram, "partitions": self.partitions}

    def make_part(self, shard: Shard, folder: Path) -> dict:
        """Write the shard's pairs into ``folder`` (``<partition>.pairs``, raw :data:`PAIR` records); returns its
        counts: documents of fewer than n words (``short``), without words (``empty``), n-gram occurrences."""
        corpus = Corpus.load(self.corpus_folder, verify=False)
        columns = ["title", "text"] if corpus.has_title else ["text"]
        hasher = NgramHasher(self.ngram)
        buffered: list[np.ndarray] = []
        held = short = empty = ngrams = 0
        row = shard.start
        for batch in shard_batches(corpus, shard, columns, self.batch_size):
            docs = [document_words(batch, k, columns) for k in range(len(batch["text"]))]
            short += sum(len(d) < self.ngram for d in docs)
            empty += sum(not d for d in docs)
            h, doc, _ = hasher.hashes(docs)
            ngrams += len(h)
            order = np.lexsort((h, doc))  # by document, then hash: a document's repeated n-grams side by side
            h, doc = h[order], doc[order]
            new = np.ones(len(h), bool)
            new[1:] = (h[1:] != h[:-1]) | (doc[1:] != doc[:-1])
            pairs = np.empty(int(new.sum()), PAIR)
            pairs["hash"], pairs["row"] = h[new], doc[new] + row
            buffered.append(pairs)
            held += len(pairs)
            row += len(docs)
            if held >= FLUSH_PAIRS:
                self._flush(buffered, folder)
                buffered, held = [], 0
        self._flush(buffered, folder)
        return {"short": short, "empty": empty, "ngrams": ngrams}

    def _flush(self, buffered: list[np.ndarray], folder: Path) -> None:
        """Append the held pairs to their partitions' files (only partitions that receive any)."""
        if not buffered:
            return
        pairs = np.concatenate(buffered)
        buffered.clear()
        part = partition_of(pairs["hash"], self.partitions)
        order = np.argsort(part, kind="stable")
        pairs, part = pairs[order], part[order]
        starts = np.flatnonzero(np.r_[True, part[1:] != part[:-1]]) if len(part) else []
        for start, stop in zip(starts, [*starts[1:], len(part)]):
            with open(folder / f"{int(part[start]):05d}.pairs", "ab") as f:
                f.write(pairs[start:stop].tobytes())

    def combine(self, corpus, parts: list[Path], records: list[dict]):
        """Hand the finished parts to the driver's continuation."""
        return self._then(corpus, parts, records)


# --- the join ------------------------------------------------------------------------------------------------

def _read_partition(parts: list[Path], p: int) -> np.ndarray:
    """Partition ``p`` of every shard of one side, as one array of pairs."""
    chunks = [np.fromfile(path, PAIR) for part in parts if (path := part / f"{p:05d}.pairs").exists()]
    return np.concatenate(chunks) if chunks else np.zeros(0, PAIR)


@dataclass
class _Side:
    """One side's view of a partition: its distinct hashes (sorted), each one's first row and documents, and
    every pair's row with the index of its hash among the distinct ones."""

    hashes: np.ndarray
    first_row: np.ndarray
    documents: np.ndarray
    rows: np.ndarray
    index: np.ndarray

    @classmethod
    def of(cls, pairs: np.ndarray) -> _Side:
        """The view of a partition's ``pairs``."""
        order = np.argsort(pairs["hash"])  # rows need no order within a hash: its first is found by a minimum
        h, rows = pairs["hash"][order], pairs["row"][order]
        del pairs, order
        first = np.ones(len(h), bool)
        first[1:] = h[1:] != h[:-1]
        starts = np.flatnonzero(first)
        first_row = np.minimum.reduceat(rows, starts) if len(starts) else rows[:0]
        return cls(h[starts], first_row, np.diff(np.append(starts, len(h))), rows, np.cumsum(first) - 1)

    def count_shared(self, shared: np.ndarray, counts: np.ndarray) -> None:
        """Add to ``counts`` (per row) how many of the shared hashes (indexes ``shared``) each row holds."""
        flag = np.zeros(len(self.hashes), bool)
        flag[shared] = True
        rows, n = np.unique(self.rows[flag[self.index]], return_counts=True)
        counts[rows] += n.astype(counts.dtype)


def _join(a: Corpus, b: Corpus, config: OverlapConfig, partitions: int, side_a, side_b, out: Path,
          started: float) -> OverlapReport:
    """Join the two sides partition by partition, verify the examples, store and return the report."""
    (a_parts, a_records), (b_parts, b_records) = side_a, side_b
    keep = 2 * config.examples + 8  # candidates beyond the examples, in case one fails its word-by-word check
    counts = {"a": np.zeros(len(a), np.int32), "b": np.zeros(len(b), np.int32)}
    distinct = {"a": 0, "b": 0}
    shared_total = 0
    candidates: list[tuple[int, int, int, int, int]] = []  # (-hash, a row, b row, a docs, b docs): a max-heap
    for p in range(partitions):
        sa = _Side.of(_read_partition(a_parts, p))
        sb = _Side.of(_read_partition(b_parts, p))
        distinct["a"] += len(sa.hashes)
        distinct["b"] += len(sb.hashes)
        shared, in_a, in_b = np.intersect1d(sa.hashes, sb.hashes, assume_unique=True, return_indices=True)
        shared_total += len(shared)
        sa.count_shared(in_a, counts["a"])
        sb.count_shared(in_b, counts["b"])
        # The smallest hashes make a uniform sample of the shared n-grams, whatever the sharding.
        for k in range(min(keep, len(shared))):
            i, j = in_a[k], in_b[k]
            item = (-int(shared[k]), int(sa.first_row[i]), int(sb.first_row[j]), int(sa.documents[i]),
                    int(sb.documents[j]))
            if len(candidates) < keep:
                heapq.heappush(candidates, item)
            elif item > candidates[0]:
                heapq.heapreplace(candidates, item)
    examples = _examples(a, b, config, sorted(candidates, reverse=True))
    sides = {}
    for side, corpus, records in (("a", a, a_records), ("b", b, b_records)):
        short = sum(r["short"] for r in records)
        overlapping = int((counts[side] > 0).sum())
        sides[side] = OverlapSide(
            corpus.name, str(corpus.folder), corpus.meta.fingerprint, len(corpus), short,
            sum(r["empty"] for r in records), sum(r["ngrams"] for r in records), distinct[side], overlapping,
            round(shared_total / distinct[side], 6) if distinct[side] else 0.0,
            round(overlapping / (len(corpus) - short), 6) if len(corpus) > short else 0.0)
    report = OverlapReport(sides["a"], sides["b"], shared_total, config, partitions, examples, str(out.absolute()),
                           nodes=sorted({r["node"] for r in a_records + b_records}))
    with atomic_build(out) as tmp:
        _write_documents(tmp / DOCUMENTS_FILE, a, b, counts)
        report.seconds = round(time.perf_counter() - started, 3)
        (tmp / SUMMARY_FILE).write_text(json.dumps(report.to_dict(), indent=1, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
        ArtifactMeta(kind="overlap", num_rows=len(a), fingerprint=a.meta.fingerprint, source=str(a.folder),
                     params={**asdict(config), "partitions": partitions,
                             "other": {"corpus": b.name, "folder": str(b.folder), "fingerprint": b.meta.fingerprint,
                                       "num_rows": len(b)}},
                     command=_command(a, b, config)).write(tmp)
    return report


def _examples(a: Corpus, b: Corpus, config: OverlapConfig, candidates) -> list[dict[str, Any]]:
    """The first ``config.examples`` candidates whose n-gram is found, word for word the same, in both documents."""
    out = []
    for neg_hash, row_a, row_b, docs_a, docs_b in candidates:
        if len(out) == config.examples:
            break
        found = [_ngram_with_hash(corpus, row, -neg_hash, config.ngram) for corpus, row in ((a, row_a), (b, row_b))]
        if found[0] is None or found[0] != found[1]:
            continue  # a hash collision: not the same words
        out.append({"ngram": " ".join(found[0]), "a_id": _id(a, row_a), "b_id": _id(b, row_b),
                    "a_documents": docs_a, "b_documents": docs_b})
    return out


def _id(corpus: Corpus, row: int) -> str:
    return corpus.dataset.data.column("id")[row].as_py()


def _ngram_with_hash(corpus: Corpus, row: int, target: int, n: int) -> list[str] | None:
    """The words of the first n-gram of document ``row`` whose hash is ``target`` (None where none has it)."""
    columns = ["title", "text"] if corpus.has_title else ["text"]
    batch = corpus.dataset.select_columns(columns)[row:row + 1]
    doc = document_words(batch, 0, columns)
    h, _, pos = NgramHasher(n).hashes([doc])
    hit = np.flatnonzero(h == np.uint64(target))
    return doc[int(pos[hit[0]]):int(pos[hit[0]]) + n] if len(hit) else None


def _write_documents(path: Path, a: Corpus, b: Corpus, counts: dict[str, np.ndarray]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("side", pa.string()), ("id", pa.string()), ("shared_ngrams", pa.int64())])
    with pq.ParquetWriter(path, schema) as writer:
        for side, corpus in (("a", a), ("b", b)):
            rows = np.flatnonzero(counts[side])
            ids = corpus.dataset.data.column("id").take(pa.array(rows)) if len(rows) else pa.array([], pa.string())
            writer.write_table(pa.table({"side": pa.array([side] * len(rows), pa.string()), "id": ids,
                                         "shared_ngrams": counts[side][rows].astype(np.int64)}, schema=schema))
