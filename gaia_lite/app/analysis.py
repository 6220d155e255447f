"""The explorer's analyses of its corpus: the stored duplicate analysis (hiding near duplicates from results, its
numbers in the overview) and contamination checks of a benchmark (the Contamination tab).

Plain Python, no Gradio. A benchmark comes from the list the app was started with, an uploaded file or a Hub
dataset name, never a path typed on the page.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

from ..corpus import Corpus
from ..errors import InputError
from ..types import HybridHit

#: A benchmark checked from the page has at most this many items (a run reads the whole corpus).
MAX_BENCHMARK_ITEMS = 20_000
#: Flagged items listed on the page at most (the export has every item).
MAX_CONTAMINATION_ROWS = 200


class Duplicates:
    """The duplicate analysis stored beside a corpus (``gaia-lite duplicates``): found at start, its clusters read
    on first use (at a million documents that takes about a second, which the start need not pay). ``corpus``
    None: none is stored."""

    def __init__(self, corpus: Corpus | None):
        self.corpus = corpus
        #: Whether an analysis of the corpus's current documents is stored (never for ``corpus`` None: a served
        #: corpus, whose analyses are not on this machine).
        self.stored = corpus is not None and self._usable()
        self._analysis = None
        self._lock = threading.Lock()

    def _usable(self) -> bool:
        from ..analysis.duplicates import check_duplicates
        from ..errors import ArtifactError

        try:
            return check_duplicates(self.corpus)
        except ArtifactError as e:  # stale (the corpus was rebuilt): say so, and serve without it
            logging.getLogger("gaia_lite.app").warning("duplicate analysis not used: %s", e)
            return False

    @property
    def analysis(self):
        """The stored analysis (:func:`~gaia_lite.analysis.load_duplicates`), read on first use; None where there
        is none."""
        if not self.stored:
            return None
        with self._lock:
            if self._analysis is None:
                from ..analysis import load_duplicates

                self._analysis = load_duplicates(self.corpus)
            return self._analysis

    def collapse(self, hits: list[HybridHit]) -> tuple[list[HybridHit], int]:
        """``hits`` without the near duplicates of a better-ranked hit, and how many were left out."""
        seen, kept = set(), []
        cluster = self.analysis.near_cluster
        for h in hits:
            row = self.corpus.row_of(h.doc_id)
            key = int(cluster[row]) if cluster[row] >= 0 else -1 - row  # a document in no cluster is its own
            if key not in seen:
                seen.add(key)
                kept.append(h)
        return kept, len(hits) - len(kept)

    def summary(self) -> dict | None:
        """The analysis in numbers, for the overview (None where there is none)."""
        if self.analysis is None:
            return None
        r = self.analysis.report
        return {kind: {k: r[kind][k] for k in ("clusters", "documents", "duplicates", "rate", "largest")}
                for kind in ("exact", "near")} | {"settings": r["config"], "definition": r["definition"]}


class Contamination:
    """Contamination checks of benchmarks against one corpus; ``benchmarks`` (``{name: Source}``) are the sources
    a page may check by name."""

    def __init__(self, corpus: Corpus, benchmarks: dict | None = None):
        self.corpus = corpus
        self.benchmarks = dict(benchmarks or {})

    def check(self, *, benchmark: str | None = None, upload: str | None = None, hub: str | None = None,
              fields: str = "", split: str = "", ngram: int | None = None, progress=None):
        """Check one benchmark: a listed one by name, an uploaded file (JSON Lines or parquet), or a Hub dataset
        (``owner/name``); ``fields`` is a comma-separated list (default: the usual text fields). Returns a
        :class:`~gaia_lite.analysis.contamination.ContaminationReport`."""
        from ..analysis import find_contamination, read_benchmark
        from ..config import ContaminationConfig

        items = read_benchmark(self._source(benchmark, upload, hub),
                               [f.strip() for f in fields.split(",") if f.strip()] or None,
                               split=(split or "").strip() or None)
        if len(items) > MAX_BENCHMARK_ITEMS:
            raise InputError(f"the benchmark has {len(items):,} items; the page checks at most "
                             f"{MAX_BENCHMARK_ITEMS:,}: run `gaia-lite contamination` for more")
        config = ContaminationConfig(ngram=int(ngram)) if ngram else ContaminationConfig()
        return find_contamination(self.corpus, items, config, progress=False, log=None, tracker=progress)

    def _source(self, benchmark: str | None, upload: str | None, hub: str | None):
        """The one benchmark source given, checked: never a path on the server but an uploaded file."""
        from ..corpus import Source

        if len([x for x in (benchmark, upload, hub) if x]) != 1:
            raise InputError("choose one benchmark: a listed one, an uploaded file, or a Hub dataset (owner/name)")
        if benchmark:
            if benchmark not in self.benchmarks:
                raise InputError(f"unknown benchmark {benchmark!r}; listed: {', '.join(self.benchmarks) or 'none'}")
            return self.benchmarks[benchmark]
        if upload:
            name = str(upload).lower()
            if not name.endswith((".jsonl", ".json", ".ndjson", ".jsonl.gz", ".parquet")):
                raise InputError("upload a JSON Lines (.jsonl) or parquet (.parquet) file")
            return Source(str(upload), format="parquet" if name.endswith(".parquet") else "jsonl")
        hub = hub.strip()
        if Path(hub).exists() or not re.fullmatch(r"[\w-][\w.-]*/[\w.-]+", hub) or ".." in hub:
            raise InputError(f"{hub[:80]!r} is not a Hub dataset name (owner/name); files are uploaded")
        return Source(hub, format="hub")


class Audit:
    """The audit stored beside a corpus (``gaia-lite audit``), as the Overview shows it: found at start (its
    metadata only), its summary and tables read on first use, each table once. ``corpus`` None: none is stored (a
    served corpus, whose audit is not on this machine). Each view is a small ``pandas.DataFrame`` in the order the
    page plots it, its numbers those of the stored tables."""

    def __init__(self, corpus: Corpus | None):
        self.corpus = corpus
        #: Why a stored audit is not used (it was made from other documents), or None.
        self.problem: str | None = None
        #: Whether an audit of the corpus's current documents is stored.
        self.stored = corpus is not None and self._usable()
        self._stored = None
        self._tables: dict = {}
        self._lock = threading.Lock()

    def _usable(self) -> bool:
        from ..analysis.audit import check_audit
        from ..errors import ArtifactError

        try:
            return check_audit(self.corpus)
        except ArtifactError as e:  # stale (the corpus was rebuilt): say so, and serve without it
            logging.getLogger("gaia_lite.app").warning("audit not used: %s", e)
            self.problem = str(e)
            return False

    def require(self) -> None:
        """Raise :class:`~gaia_lite.errors.MissingArtifactError`, saying to run ``gaia-lite audit NAME`` (and why a
        stored audit is not used), where no audit of the corpus's current documents is stored."""
        if not self.stored:
            from ..errors import MissingArtifactError

            if self.corpus is None:
                raise MissingArtifactError("no audit is stored for this corpus")
            why = f" ({self.problem})" if self.problem else ""
            raise MissingArtifactError(f"corpus {self.corpus.name!r} has no audit of its current documents{why}: run "
                                       f"`gaia-lite audit {self.corpus.name}`")

    def _audit(self):
        self.require()
        with self._lock:
            if self._stored is None:
                from ..analysis.audit import load_audit

                self._stored = load_audit(self.corpus)
            return self._stored

    @property
    def summary(self) -> dict:
        """The audit's summary (``summary.json``)."""
        return self._audit().summary

    def table(self, name: str):
        """The audit's table ``name`` as a ``pyarrow.Table`` (read once; ``documents``, one row per document, is
        read each time it is asked for, and never kept)."""
        audit = self._audit()
        if name == "documents":
            return audit.table(name)
        with self._lock:
            if name not in self._tables:
                self._tables[name] = audit.table(name)
            return self._tables[name]

    def _frame(self, name: str):
        return self.table(name).to_pandas()

    def lengths(self, measure: str = "words"):
        """Documents per length bin of ``measure`` (``chars``, ``words`` or ``tokens``): columns ``length`` (the
        bin, ``low–high`` inclusive), ``documents``, ``low``, ``high`` (exclusive), shortest first."""
        from ..errors import InputError

        if measure not in ("chars", "words", "tokens"):
            raise InputError(f"unknown length measure {measure!r}; valid: chars, words, tokens")
        d = self._frame("lengths")
        d = d[d["measure"] == measure].sort_values("low").reset_index(drop=True)
        d["length"] = [str(lo) if hi - lo == 1 else f"{lo}–{hi - 1}" for lo, hi in zip(d["low"], d["high"])]
        return d[["length", "documents", "low", "high"]]

    def ngram_sizes(self) -> list[int]:
        """The n of the n-grams counted."""
        return [int(n) for n in self.summary["ngrams"]["sizes"]]

    def ngrams(self, n: int):
        """The most common n-grams of size ``n``, most common first: ``rank``, ``ngram``, ``count`` (exact
        occurrences), ``documents`` and ``examples`` (ids of documents holding it, joined by spaces)."""
        from ..errors import InputError

        if int(n) not in self.ngram_sizes():
            raise InputError(f"the audit counted n-grams of n = {', '.join(map(str, self.ngram_sizes()))}, not {n}: "
                             f"run `gaia-lite audit {self.corpus.name} --ngrams ...` for others")
        d = self._frame("ngrams")
        d = d[d["n"] == int(n)].sort_values("rank").reset_index(drop=True)
        d["examples"] = [" ".join(ids) for ids in d["examples"]]
        return d[["rank", "ngram", "count", "documents", "examples"]]

    def personal_data(self):
        """Documents and occurrences of each type of personal data (email, phone, IP address, key)."""
        return self._frame("personal_data")[["type", "documents", "occurrences"]]

    def languages(self, top: int | None = None):
        """Documents, share and words per language, most documents first (``top`` of them; None: all)."""
        d = self._frame("languages").sort_values(["documents", "language"], ascending=[False, True])
        d = d.reset_index(drop=True)
        return d if top is None else d.head(top)

    def metadata_columns(self) -> dict[str, str]:
        """The metadata columns profiled, each with the kind of its values (``category``, ``number``, ``domain``,
        ``month``), in the table's order."""
        d = self._frame("metadata")
        return dict(zip(d["column"], d["kind"]))

    def metadata(self, column: str):
        """Documents per value of metadata ``column``: categories and domains most common first, numeric bins and
        months in their order (a month's is its timeline)."""
        from ..errors import InputError

        kinds = self.metadata_columns()
        if column not in kinds:
            raise InputError(f"the audit profiled no column {column!r}; profiled: {', '.join(kinds) or 'none'}")
        d = self._frame("metadata")
        d = d[d["column"] == column].reset_index(drop=True)  # the table keeps numeric bins in order
        if kinds[column] == "month":
            d = d.sort_values("value").reset_index(drop=True)
        elif kinds[column] != "number":
            d = d.sort_values(["documents", "value"], ascending=[False, True]).reset_index(drop=True)
        return d[["value", "documents"]]

    def examples(self, name: str) -> list[dict]:
        """The rows of an examples table (``personal_data_examples``, already redacted, or ``offensive_examples``,
        not redacted: the page shows it when asked, redacted as the page's setting says)."""
        if name not in ("personal_data_examples", "offensive_examples"):
            raise KeyError(name)
        return self.table(name).to_pylist()
