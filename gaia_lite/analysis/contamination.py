"""Benchmark contamination: which items of a benchmark occur in a corpus, and where.

Definition (as GPT-3's and lm-evaluation-harness's decontamination, on gaia_lite's own normalisation): the
texts of items and documents are normalised and split into words (:mod:`gaia_lite.analysis.text`); an item is
*flagged* when at least one of its n-grams (``n`` = 13 by default) occurs in a document, and an item of fewer
than n words is matched whole. Titles and texts are matched separately, so no n-gram spans the two.

Per item the analysis reports: whether it is flagged, how many documents contain at least one of its n-grams,
the *overlap* (the fraction of its n-grams found anywhere in the corpus), the documents with the most of its
n-grams (:attr:`~ContaminationConfig.top_documents` of them) and the longest span of words it shares with a
document, with the span's character offsets in that document. Over the benchmark: the contamination rate, the
distribution of overlaps, and the documents that contain the most items.

How: one streaming pass over the corpus Dataset, in shards run by the same executors as the index builds
(this process, local processes, or a Ray cluster), each shard matched with numpy against a table of the
benchmark's n-grams (:mod:`gaia_lite.analysis.ngrams`). Exact phrase queries against the Lucene index were the
other way: they would match Lucene's analysed terms (stemmed, without stopwords), not these words, and need
one query per distinct n-gram; a pass over the text is exact under this definition and costs the same for
any benchmark size. A run killed part-way resumes from its finished shards.
"""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import ContaminationConfig, configure
from ..corpus import Corpus
from ..executors import ShardJob, run_sharded
from ..shards import BuildProgress, Shard, shard_batches
from .benchmark import Benchmark
from .ngrams import Matches, NgramTable
from .text import NORMALIZATION, word_spans, words

#: Documents listed in the summary as containing the most items.
MOST_MATCHED = 10
#: Edges of the overlap histogram's bins, beside "0" (items not flagged) and "1" (every n-gram found).
OVERLAP_EDGES = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Overlap:
    """Where a benchmark item's words occur in one document: how many of the item's n-grams the document has
    (``ngrams``), and the longest span of words they share: its length in ``words``, the ``field`` of the
    document it is in (``text`` or ``title``), its character offsets there (``start``, ``end``) and the span as
    the document has it."""

    doc_id: str
    ngrams: int
    words: int
    field: str
    start: int
    end: int
    span: str


@dataclass(frozen=True)
class ItemResult:
    """The contamination of one benchmark item (one row of a result set). ``ngrams``: how many n-grams the item
    has; ``matched_ngrams``: how many of them occur in the corpus (``overlap`` is their fraction);
    ``documents``: how many documents contain at least one; ``longest``: the longest shared span in any
    document; ``top_documents``: the documents with the most of its n-grams, most first."""

    item_id: str
    text: str
    words: int
    ngrams: int
    flagged: bool
    documents: int
    matched_ngrams: int
    overlap: float
    longest: Overlap | None
    top_documents: list[Overlap] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """The item as plain JSON-ready values (what ``--json`` prints and the result set stores)."""
        return asdict(self)


@dataclass
class ContaminationReport:
    """A contamination run: one :class:`ItemResult` per benchmark item, in benchmark order, and what was run."""

    items: list[ItemResult]
    corpus: str
    fingerprint: str
    num_documents: int
    benchmark: str
    fields: tuple[str, ...]
    config: ContaminationConfig
    most_matched: list[tuple[str, int]]  # (doc id, items it contains), most first
    seconds: float = 0.0
    nodes: list[str] = field(default_factory=list)  # the machines (or Ray nodes) that ran the shards

    @property
    def flagged(self) -> list[ItemResult]:
        """The flagged items, in benchmark order."""
        return [r for r in self.items if r.flagged]

    @property
    def rate(self) -> float:
        """The share of items flagged."""
        return len(self.flagged) / len(self.items) if self.items else 0.0

    def overlap_histogram(self) -> list[tuple[str, int]]:
        """How many items fall in each overlap bin: ``0`` (not flagged), ``(0, 0.1]`` ... ``(0.75, 1)``, and
        ``1`` (every n-gram found)."""
        values = np.array([r.overlap for r in self.items])
        out = [("0", int((values == 0).sum()))]
        for low, high in zip(OVERLAP_EDGES, OVERLAP_EDGES[1:]):
            inside = (values > low) & ((values <= high) if high < 1 else (values < 1))
            out.append((f"({low:g}, {high:g}{']' if high < 1 else ')'}", int(inside.sum())))
        return out + [("1", int((values == 1).sum()))]

    def definition(self) -> str:
        """The definition of a flagged item, with this run's parameters, in one paragraph."""
        n = self.config.ngram
        return (f"An item is flagged when at least one of its {n}-word n-grams occurs in a document of the corpus "
                f"(an item of fewer than {n} words must occur whole). Text normalisation: {NORMALIZATION}. "
                "Titles and texts are matched separately. Overlap is the fraction of an item's n-grams found in "
                "the corpus.")

    def summary(self) -> dict[str, Any]:
        """What the run found, in numbers (no per-item rows)."""
        return {
            "corpus": self.corpus, "fingerprint": self.fingerprint, "documents": self.num_documents,
            "benchmark": self.benchmark, "fields": list(self.fields), "items": len(self.items),
            "flagged": len(self.flagged), "rate": round(self.rate, 6), "ngram": self.config.ngram,
            "normalization": NORMALIZATION, "definition": self.definition(),
            "overlap_histogram": dict(self.overlap_histogram()),
            "most_matched_documents": [{"doc_id": d, "items": n} for d, n in self.most_matched],
            "seconds": round(self.seconds, 3), "nodes": self.nodes,
        }

    def to_dict(self) -> dict[str, Any]:
        """The summary and every item's record."""
        return {"summary": self.summary(), "items": [r.record() for r in self.items]}

    def to_dataset(self):
        """The result set as a ``datasets.Dataset``, one row per item (the columns of :class:`ItemResult`, the
        spans as structs); the run's summary is in the Dataset's description."""
        import datasets

        span = {"doc_id": datasets.Value("string"), "ngrams": datasets.Value("int64"),
                "words": datasets.Value("int64"), "field": datasets.Value("string"),
                "start": datasets.Value("int64"), "end": datasets.Value("int64"), "span": datasets.Value("string")}
        features = datasets.Features({
            "item_id": datasets.Value("string"), "text": datasets.Value("string"), "words": datasets.Value("int64"),
            "ngrams": datasets.Value("int64"), "flagged": datasets.Value("bool"),
            "documents": datasets.Value("int64"), "matched_ngrams": datasets.Value("int64"),
            "overlap": datasets.Value("float64"), "longest": span, "top_documents": datasets.List(span),
        })
        info = datasets.DatasetInfo(description=json.dumps(self.summary(), ensure_ascii=False), features=features)
        return datasets.Dataset.from_list([r.record() for r in self.items], features=features, info=info)

    def card(self) -> str:
        """A dataset card (README.md) for the result set: what was compared, the definition and parameters,
        and the figures."""
        s = self.summary()
        lines = ["---", "tags:", "- gaia-lite", "- contamination", "---", "",
                 f"# Contamination of `{self.corpus}` by `{self.benchmark}`", "",
                 f"{s['flagged']:,} of {s['items']:,} benchmark items ({100 * self.rate:.2f}%) are flagged in "
                 f"{self.num_documents:,} documents (corpus fingerprint `{self.fingerprint}`).", "",
                 "## Definition", "", self.definition(), "",
                 "## Parameters", "", f"- n-gram: {self.config.ngram} words",
                 f"- benchmark fields: {', '.join(self.fields)}", f"- top documents kept per item: "
                 f"{self.config.top_documents}", "", "## Overlap", "", "| overlap | items |", "|---|---:|"]
        lines += [f"| {label} | {count:,} |" for label, count in self.overlap_histogram()]
        lines += ["", "One row per benchmark item: `flagged`, `documents` (documents with a matching n-gram), "
                  "`overlap`, `longest` (the longest shared span: document, field, character offsets, text) and "
                  "`top_documents`.", "", "Made with `gaia-lite contamination`.", ""]
        return "\n".join(lines)


def find_contamination(corpus: Corpus | str, benchmark: Benchmark, config: ContaminationConfig | None = None, *,
                  shard_size: int | None = None, executor=None, workdir=None, progress: bool = True,
                  log: Callable[[str], None] | None = print, tracker: BuildProgress | None = None,
                  **settings) -> ContaminationReport:
    """Check every item of ``benchmark`` (see :func:`~gaia_lite.analysis.read_benchmark`) against ``corpus``.

    ``config`` (or its fields as keyword arguments: ``ngram=13``, ``top_documents=5``) sets the definition's
    parameters. The corpus is read in shards of ``shard_size`` rows, run by ``executor`` (default: in this
    process) with their partial results in ``workdir`` (default: a hidden folder in the corpus folder, removed
    at the end); an interrupted run resumes from its finished shards."""
    config = configure(ContaminationConfig, config, settings)
    corpus = corpus if isinstance(corpus, Corpus) else Corpus.load(corpus, verify=False)
    started = time.perf_counter()
    job = ContaminationJob(str(corpus.folder), benchmark, config)
    report = run_sharded(job, corpus, what=f"Contamination of {corpus.name}", shard_size=shard_size,
                         executor=executor, workdir=workdir, progress=progress, log=log, tracker=tracker)
    report.seconds = time.perf_counter() - started
    return report


class ContaminationJob(ShardJob):
    """Match each shard of the corpus against the benchmark's n-grams and store its partial result; then merge
    the partial results into the report (a :class:`~gaia_lite.executors.ShardJob`)."""

    kind = "contamination"

    def __init__(self, corpus_folder: str, benchmark: Benchmark, config: ContaminationConfig, batch_size: int = 2000):
        self.corpus_folder, self.config, self.batch_size = corpus_folder, config, batch_size
        self.items = tuple(tuple(words(t)) for t in benchmark.texts)
        self.benchmark_fingerprint = benchmark.fingerprint()
        self._benchmark = benchmark  # for the report, on the driver
        self._table: NgramTable | None = None

    def settings(self) -> dict:
        """The benchmark and the definition's parameters."""
        return {"benchmark": self.benchmark_fingerprint, "ngram": self.config.ngram,
                "top_documents": self.config.top_documents}

    def table(self) -> NgramTable:
        """The benchmark's n-gram table (built once per process)."""
        if self._table is None:
            self._table = NgramTable([list(i) for i in self.items], self.config.ngram)
        return self._table

    def setup(self) -> None:
        """Build the n-gram table."""
        self.table()

    def make_part(self, shard: Shard, folder: Path) -> dict:
        """Scan the shard's rows and save what they match into ``folder``; returns how many (item, document)
        pairs match."""
        corpus = Corpus.load(self.corpus_folder, verify=False)
        table = self.table()
        partial = _Partial.empty(table, self.config.top_documents)
        fields = ["title", "text"] if corpus.has_title else ["text"]
        row = shard.start
        for batch in shard_batches(corpus, shard, fields, self.batch_size):
            size = len(batch["text"])
            texts = [batch[f][i] or "" for i in range(size) for f in fields]
            rows = np.repeat(np.arange(row, row + size), len(fields))
            field_of = np.tile(np.arange(len(fields)), size)
            partial.add(table, table.scan(texts), rows, field_of, fields)
            row += size
        partial.save(folder)
        return {"matches": partial.pairs}

    def combine(self, corpus: Corpus, parts: list[Path], records: list[dict]) -> ContaminationReport:
        """Merge the shards' partial results into the report."""
        merged = _Partial.empty(self.table(), self.config.top_documents)
        for part in parts:
            merged.merge(_Partial.load(part))
        report = _report(merged, self.table(), corpus, self._benchmark, self.config)
        report.nodes = sorted({r["node"] for r in records})
        return report


# A document's standing for an item, sortable (smaller is better). Ties are broken by row, field and word
# wherever the shards were cut, so every run gives the same answer.
#   among the top documents: (-ngrams, -words, row, field, first word)
#   for the longest span:    (-words, row, field, first word, -ngrams)


class _Partial:
    """What a part of the corpus says about every item: documents with a match, which of its n-grams were
    found, its best documents, its longest span, and the documents holding the most items."""

    def __init__(self, docs, found, top, longest, most, keep: int, pairs: int = 0):
        self.docs, self.found, self.top, self.longest = docs, found, top, longest
        self.most, self.keep, self.pairs = most, keep, pairs

    @classmethod
    def empty(cls, table: NgramTable, keep: int) -> _Partial:
        return cls(np.zeros(len(table), np.int64), np.zeros(int(table.windows.sum()), bool), {}, {}, [], keep)

    def add(self, table: NgramTable, m: Matches, rows: np.ndarray, field_of: np.ndarray,
            fields: Sequence[str]) -> None:
        """Fold in the matches of one batch of texts: text ``t`` is field ``fields[field_of[t]]`` of row
        ``rows[t]``."""
        if not len(m):
            return
        self.found[table.window_offsets[m.item] + m.pos] = True
        row = rows[m.text]
        # Distinct n-grams of each item per document.
        o = np.lexsort((m.pos, row, m.item))
        item_s, row_s, pos_s = m.item[o], row[o], m.pos[o]
        pair_start = _changes(item_s, row_s)
        new = pair_start | _changes(pos_s)
        ngrams = np.bincount(np.cumsum(pair_start) - 1, weights=new).astype(np.int64)
        pair_item, pair_row = item_s[pair_start], row_s[pair_start]
        # Longest shared span per (item, document): a run of matches on one diagonal of one text.
        diag = m.start - m.pos
        o = np.lexsort((m.pos, diag, m.text, m.item))
        item_r, text_r, pos_r, start_r = m.item[o], m.text[o], m.pos[o], m.start[o]
        brk = _changes(item_r, text_r, diag[o])
        brk[1:] |= pos_r[1:] != pos_r[:-1] + 1
        run_words = np.bincount(np.cumsum(brk) - 1) + table.lengths[item_r[brk]] - 1
        run_item, run_text, run_start = item_r[brk], text_r[brk], start_r[brk]
        run_row = rows[run_text]
        # The best run of each (item, row): most words, then the earlier field, then the earlier word.
        o = np.lexsort((run_start, field_of[run_text], -run_words, run_row, run_item))
        best = o[_changes(run_item[o], run_row[o])]  # in (item, row) order, as the pairs are
        pair_words, pair_field, pair_word = run_words[best], field_of[run_text[best]], run_start[best]
        self.pairs += len(pair_item)
        self.docs += np.bincount(pair_item, minlength=len(self.docs))

        def entry(k: int) -> tuple:
            return -int(ngrams[k]), -int(pair_words[k]), int(pair_row[k]), fields[pair_field[k]], int(pair_word[k])

        for k in _first_per_group(pair_item, (pair_row, -pair_words, -ngrams), self.keep):
            self.top.setdefault(int(pair_item[k]), []).append(entry(k))
        for item in np.unique(pair_item).tolist():
            self.top[item] = sorted(self.top[item])[:self.keep]
        for k in _first_per_group(pair_item, (pair_row, -pair_words), 1):
            e = entry(k)
            candidate = (e[1], e[2], e[3], e[4], e[0])
            item = int(pair_item[k])
            self.longest[item] = min(self.longest.get(item, candidate), candidate)
        rows_u, items_per_row = np.unique(pair_row, return_counts=True)
        o = np.lexsort((rows_u, -items_per_row))[:MOST_MATCHED]
        self.most = heapq.nsmallest(MOST_MATCHED, self.most + [(-int(items_per_row[k]), int(rows_u[k])) for k in o])

    def merge(self, other: _Partial) -> None:
        """Fold in the partial result of another part of the corpus."""
        self.docs += other.docs
        self.found |= other.found
        self.pairs += other.pairs
        for item, entries in other.top.items():
            self.top[item] = sorted(self.top.get(item, []) + entries)[:self.keep]
        for item, candidate in other.longest.items():
            self.longest[item] = min(self.longest.get(item, candidate), candidate)
        self.most = heapq.nsmallest(MOST_MATCHED, self.most + other.most)

    def save(self, folder: Path) -> None:
        """Write this partial result into ``folder`` (a shard's part)."""
        data = {"docs": self.docs.tolist(), "found": np.flatnonzero(self.found).tolist(), "size": len(self.found),
                "pairs": self.pairs, "keep": self.keep, "top": {str(k): v for k, v in self.top.items()},
                "longest": {str(k): v for k, v in self.longest.items()}, "most": self.most}
        (folder / "partial.json").write_text(json.dumps(data), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> _Partial:
        """Read a partial result written by :meth:`save`."""
        data = json.loads((folder / "partial.json").read_text(encoding="utf-8"))
        found = np.zeros(data["size"], bool)
        found[data["found"]] = True
        top = {int(k): [tuple(e) for e in v] for k, v in data["top"].items()}
        longest = {int(k): tuple(v) for k, v in data["longest"].items()}
        return cls(np.array(data["docs"], np.int64), found, top, longest, [tuple(e) for e in data["most"]],
                   data["keep"], data["pairs"])


def _changes(*columns: np.ndarray) -> np.ndarray:
    """True where any of the (sorted) ``columns`` differs from the entry before; True for the first entry."""
    out = np.zeros(len(columns[0]), bool)
    if len(out):
        out[0] = True
    for c in columns:
        out[1:] |= c[1:] != c[:-1]
    return out


def _first_per_group(group: np.ndarray, keys: tuple[np.ndarray, ...], count: int) -> np.ndarray:
    """Indices of the first ``count`` entries of each ``group`` value, ordered by ``keys`` (last key first, as
    ``np.lexsort``)."""
    o = np.lexsort((*keys, group))
    starts = np.flatnonzero(_changes(group[o]))
    rank = np.arange(len(o)) - np.repeat(starts, np.diff(np.append(starts, len(o))))
    return o[rank < count]


def _report(partial: _Partial, table: NgramTable, corpus: Corpus, benchmark: Benchmark,
            config: ContaminationConfig) -> ContaminationReport:
    ids = corpus.ids
    spans: dict[tuple[int, str], tuple[str, list]] = {}

    def overlap(ngrams: int, length: int, row: int, fld: str, first: int) -> Overlap:
        if (row, fld) not in spans:
            text = corpus.dataset[row][fld] or ""
            spans[row, fld] = text, word_spans(text)
        text, text_spans = spans[row, fld]
        start, end = text_spans[first][1], text_spans[first + length - 1][2]
        return Overlap(ids[row], ngrams, length, fld, start, end, text[start:end])

    items = []
    for i, (item_id, text) in enumerate(zip(benchmark.ids, benchmark.texts)):
        windows, offset = int(table.windows[i]), int(table.window_offsets[i])
        matched = int(partial.found[offset:offset + windows].sum())
        top = [overlap(-e[0], -e[1], e[2], e[3], e[4]) for e in partial.top.get(i, [])]
        e = partial.longest.get(i)
        longest = overlap(-e[4], -e[0], e[1], e[2], e[3]) if e else None
        items.append(ItemResult(item_id, text, int(table.words[i]), windows, matched > 0, int(partial.docs[i]),
                                matched, round(matched / windows, 6), longest, top))
    most = [(ids[row], -count) for count, row in partial.most]
    return ContaminationReport(items, corpus.name, corpus.meta.fingerprint, len(corpus), benchmark.source,
                               benchmark.fields, config, most)
