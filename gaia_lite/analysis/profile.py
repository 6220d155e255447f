"""The documents side of the corpus audit: lengths, tokens, personal data, languages, offensive language and
metadata, per document and summed over the corpus (:mod:`gaia_lite.analysis.audit` runs it shard by shard).

A document is its title and its text together: its characters are both fields' characters, its tokens both
fields' tokens (the dense model's tokenizer, no special tokens), its words as :mod:`gaia_lite.analysis.text`
counts them; personal data is found in each field (:func:`gaia_lite.analysis.pii.find_pii`); the language and
the offensive-language score are of the title, a newline and the text.

Each shard's :class:`Profiler` writes the shard's per-document rows (``documents.parquet``) and its aggregates
(``profile.json``), whose size does not grow with the shard, except the exact length counts below;
:func:`combine_profiles` merges the shards' aggregates and writes the audit's tables. What is exact:

- every count of documents, words, characters, tokens, personal data, languages and offensive documents, and
  the length histograms (fixed bins: :data:`LENGTH_EDGES`, four per doubling);
- the length quantiles (p50, p90, p99): kept as exact counts of each distinct length, whose number is bounded by
  the longest document, not by the number of documents (a KLL sketch's merge is randomised, so sharded and
  one-pass runs would differ; these do not). A quantile ``q`` is the smallest length at least a share ``q`` of
  the documents do not exceed (numpy's ``inverted_cdf``);
- metadata counts while a column has at most :data:`VALUE_CAP` distinct values (categories, domains) in every
  shard; past that a shard keeps its :data:`VALUE_CAP` most frequent values and counts the rest as ``(other)``,
  and the summary says ``capped``. Numeric columns are counted in 1-2-5 bins (:data:`NUMBER_EDGES`: ..., 0.5, 1,
  2, 5, 10, ... and their negatives), dates by month.

Sharded and one-pass runs give identical results: every aggregate is a sum, a min or max, or the first examples
in row order.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..config import AuditConfig
from ..errors import InputError
from .pii import PLACEHOLDER, REDACTION_KINDS, Span, find_pii

PROFILE_FILE = "profile.json"
DOCUMENTS_FILE = "documents.parquet"
#: A document at or above this score counts as offensive (alt-profanity-check's own decision threshold).
OFFENSIVE_THRESHOLD = 0.5
OFFENSIVE_MODEL = "alt-profanity-check"
#: Examples kept per type of personal data, and of offensive documents (the first in row order).
EXAMPLES = 5
#: Characters shown on each side of a match in an example.
CONTEXT = 80
#: Distinct values of a metadata column counted per shard (the rest count as "(other)").
VALUE_CAP = 1000
OTHER = "(other)"
#: Languages listed in the summary.
TOP_LANGUAGES = 20
#: Non-null values read to decide whether a URL or date column can be read.
SAMPLE = 1000
TEXT_COLUMNS = ("id", "title", "text")
DATE_NAMES = ("date", "timestamp", "created_at")
MEASURES = ("chars", "words", "tokens")
#: Bin edges of the length histograms: 0, 1, then four per doubling (rounded, deduplicated) up to 2**40.
LENGTH_EDGES = np.unique(np.concatenate([[0], np.round(2 ** (np.arange(0, 161) / 4)).astype(np.int64)]))
#: Bin edges of numeric columns: the 1-2-5 series from 1e-6 to 1e18, its negatives, 0, and +-inf at the ends.
_POSITIVE = np.array([m * 10.0 ** e for e in range(-6, 19) for m in (1, 2, 5)])
NUMBER_EDGES = np.concatenate([[-np.inf], -_POSITIVE[::-1], [0.0], _POSITIVE, [np.inf]])
PII_COLUMNS = tuple(f"pii_{kind}" for kind in REDACTION_KINDS)


# --- which metadata columns, and of which kind --------------------------------------------------------------

def metadata_columns(corpus, config: AuditConfig) -> dict[str, str]:
    """The metadata columns to profile, ``{column: kind}`` with kind in ``category``, ``number``, ``url``,
    ``date``: ``config``'s ``columns``, ``url_column`` and ``date_column`` where given, else found by name and type
    (a column named ``url`` holds URLs, ``date``, ``timestamp`` or ``created_at`` dates, as does a column of
    timestamps; other string and boolean columns are categories, numeric ones numbers; lists and records are
    left out). Raises :class:`~gaia_lite.errors.InputError` for a named column the corpus lacks, or a URL or date
    column that cannot be read (most of its first :data:`SAMPLE` values are not URLs, or not dates); a column
    found by its name that cannot be read is counted as categories instead."""
    import pyarrow as pa

    schema = corpus.dataset.data.schema
    available = [c for c in schema.names if c not in TEXT_COLUMNS]
    for flag, names in (("--columns", config.column_list or ()), ("--url-column", [config.url_column]),
                        ("--date-column", [config.date_column])):
        for name in names:
            if name is not None and name not in available:
                raise InputError(f"corpus {corpus.name} has no metadata column {name!r} (its metadata columns: "
                                 f"{', '.join(available) or 'none'}): name one of them with {flag}")
    named = config.column_list if config.column_list is not None else available
    named = list(dict.fromkeys([*named, *(c for c in (config.url_column, config.date_column) if c)]))
    columns: dict[str, str] = {}
    for name in named:
        kind = _kind(name, schema.field(name).type, config, pa)
        if kind is None:
            continue
        if kind in ("url", "date"):
            asked = name in (config.url_column, config.date_column)
            readable, sample = _readable(corpus, name, kind)
            if not readable:
                if asked:
                    what = "URLs" if kind == "url" else "dates"
                    raise InputError(f"column {name!r} of corpus {corpus.name} cannot be read as {what} ({sample}); "
                                     f"name another column with --{kind}-column")
                kind = "category"
        columns[name] = kind
    return columns


def _kind(name: str, type_, config: AuditConfig, pa) -> str | None:
    if name == config.url_column or (config.url_column is None and name == "url"):
        return "url"
    named_date = name in DATE_NAMES or pa.types.is_temporal(type_)
    if name == config.date_column or (config.date_column is None and named_date):
        return "date"
    if pa.types.is_string(type_) or pa.types.is_large_string(type_) or pa.types.is_boolean(type_):
        return "category"
    if pa.types.is_integer(type_) or pa.types.is_floating(type_):
        return "number"
    return None


def _readable(corpus, name: str, kind: str) -> tuple[bool, str]:
    """Whether at least half of the column's first :data:`SAMPLE` non-null values read as ``kind``, and a note."""
    values = []
    for batch in corpus.dataset.data.column(name).chunks:
        values += [v for v in batch.to_pylist() if v is not None and v != ""][:SAMPLE - len(values)]
        if len(values) >= SAMPLE:
            break
    if not values:
        return True, "no values"
    read = _domain if kind == "url" else _month
    bad = [v for v in values if read(v, _psl() if kind == "url" else None) is None]
    note = f"{len(bad)} of its first {len(values)} values unreadable, such as {str(bad[0])[:40]!r}" if bad else ""
    return len(bad) * 2 <= len(values), note


# --- reading values -------------------------------------------------------------------------------------------

_PSL = None


def _psl():
    global _PSL
    if _PSL is None:
        from publicsuffixlist import PublicSuffixList

        _PSL = PublicSuffixList()
    return _PSL


def _domain(value, psl) -> str | None:
    """The registered domain of URL ``value`` (``news.bbc.co.uk`` → ``bbc.co.uk``), the host itself where the
    public-suffix list gives none (``localhost``), and an IP address as it is; None where ``value`` is no URL with a
    host."""
    from urllib.parse import urlsplit

    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        host = urlsplit(text if "//" in text else "//" + text).hostname
    except ValueError:
        return None
    if not host or "." not in host and host != "localhost" or " " in host:
        return None
    if host.replace(".", "").isdigit() or ":" in host:  # an IP address: the list would cut 10.0.0.1 to 0.1
        return host
    return psl.privatesuffix(host) or host


_YEAR_MONTH = re.compile(r"^\s*(\d{4})[-/.](\d{1,2})(?!\d)")


def _month(value, _=None) -> str | None:
    """``YYYY-MM`` of a date, datetime, ISO date string (a ``YYYY-MM...`` prefix is enough) or Unix time in seconds
    (milliseconds above 10**11), in UTC; None where it is none of these."""
    if isinstance(value, datetime):
        value = value.astimezone(timezone.utc) if value.tzinfo else value
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, date):
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        seconds = value / 1000 if abs(value) >= 1e11 else value
        try:
            return _month(datetime.fromtimestamp(seconds, timezone.utc))
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        m = _YEAR_MONTH.match(value)
        if m and 1 <= int(m.group(2)) <= 12:
            return f"{m.group(1)}-{int(m.group(2)):02d}"
        try:
            return _month(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def number_bin(i: int) -> str:
    """The label of bin ``i`` of :data:`NUMBER_EDGES` (``"10–20"``)."""
    return f"{NUMBER_EDGES[i]:g}–{NUMBER_EDGES[i + 1]:g}"


# --- the models, loaded once per process ------------------------------------------------------------------------

_MODELS: dict[str, Any] = {}


def _language_detector():
    if "languages" not in _MODELS:
        from .languages import LanguageDetector

        _MODELS["languages"] = LanguageDetector()
    return _MODELS["languages"]


def _offensive_model():
    if "offensive" not in _MODELS:
        from profanity_check import predict_prob

        _MODELS["offensive"] = predict_prob
    return _MODELS["offensive"]


def _tokenizer(name: str):
    """The fast (Rust) tokenizer of model ``name``, resolved as the dense encoder resolves it, without truncation."""
    key = f"tokenizer:{name}"
    if key not in _MODELS:
        from transformers import AutoTokenizer

        from ..dense.encoder import resolve_model

        backend = AutoTokenizer.from_pretrained(str(resolve_model(name))).backend_tokenizer
        backend.no_truncation()  # a document's tokens, not the model's window
        backend.no_padding()
        _MODELS[key] = backend
    return _MODELS[key]


def count_tokens(tokenizer, texts: list[str]) -> list[int]:
    """The number of tokens of each of ``texts`` (no special tokens)."""
    return [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]


# --- one shard ------------------------------------------------------------------------------------------------

class Profiler:
    """Profiles one shard's documents, batch by batch (:meth:`add`), then writes them (:meth:`finish`).

    ``columns`` are the metadata columns (:func:`metadata_columns`); ``tokenizer`` the model whose tokenizer
    counts tokens (None: tokens are not counted, 0). The language detector, the offensive-language model and
    the tokenizer are loaded once per process, on first use or by :meth:`load`."""

    def __init__(self, config: AuditConfig, columns: dict[str, str], tokenizer: str | None):
        self.config, self.columns, self.tokenizer = config, dict(columns), tokenizer
        self.rows: dict[str, list] = {k: [] for k in ("id", "chars", "words", "tokens", "language",
                                                      "language_score", "offensive", *PII_COLUMNS)}
        self.pii_documents = Counter()
        self.pii_examples: dict[str, list[dict]] = {kind: [] for kind in REDACTION_KINDS}
        self.offensive_examples: list[dict] = []
        self.language_words = Counter()
        self.metadata = {name: {"kind": kind, "counts": Counter(), "missing": 0, "unreadable": 0, "sum": 0.0,
                                "min": None, "max": None} for name, kind in self.columns.items()}

    def load(self) -> None:
        """Load the models this profile needs now (a worker's setup), not on the first batch."""
        if self.config.languages:
            _language_detector()
        if self.config.offensive:
            _offensive_model()
        if self.tokenizer:
            _tokenizer(self.tokenizer)

    def add(self, ids: list[str], batch: dict[str, list], doc_words: list[list[str]]) -> None:
        """Profile a batch: ``ids``, ``batch`` (columns ``text``, ``title`` where the corpus has titles, and the
        metadata columns) and each document's words (title's then text's)."""
        n = len(ids)
        texts = [t or "" for t in batch["text"]]
        titles = [t or "" for t in batch["title"]] if "title" in batch else [""] * n
        whole = [f"{a}\n{b}" if a else b for a, b in zip(titles, texts)]
        rows = self.rows
        rows["id"] += list(ids)
        rows["chars"] += [len(a) + len(b) for a, b in zip(titles, texts)]
        rows["words"] += [len(w) for w in doc_words]
        if self.tokenizer:
            tok = _tokenizer(self.tokenizer)
            text_tokens = count_tokens(tok, texts)
            title_tokens = count_tokens(tok, titles) if "title" in batch else [0] * n
            rows["tokens"] += [a + b for a, b in zip(title_tokens, text_tokens)]
        else:
            rows["tokens"] += [0] * n
        if self.config.languages:
            codes, scores = _language_detector().detect_batch(whole)
            for code, w in zip(codes, doc_words):
                if code:
                    self.language_words[code] += len(w)
        else:
            codes, scores = [""] * n, [0.0] * n
        rows["language"] += codes
        rows["language_score"] += scores
        self._offensive(ids, whole)
        self._pii(ids, titles, texts)
        for name, kind in self.columns.items():
            self._metadata(name, kind, batch[name])

    def _offensive(self, ids, whole):
        if not self.config.offensive:
            self.rows["offensive"] += [math.nan] * len(ids)
            return
        scores = [float(s) for s in _offensive_model()(whole)] if whole else []
        self.rows["offensive"] += scores
        for doc_id, text, score in zip(ids, whole, scores):
            if score >= OFFENSIVE_THRESHOLD and len(self.offensive_examples) < EXAMPLES:
                self.offensive_examples.append({"id": doc_id, "score": score, "text": _cut(text, 300)})

    def _pii(self, ids, titles, texts):
        counts = {kind: [0] * len(ids) for kind in REDACTION_KINDS}
        if self.config.personal_data:
            for k, (doc_id, title, text) in enumerate(zip(ids, titles, texts)):
                for field in (title, text):
                    spans = find_pii(field) if field else ()
                    for s in spans:
                        counts[s.kind][k] += 1
                        examples = self.pii_examples[s.kind]
                        if len(examples) < EXAMPLES and (not examples or examples[-1]["id"] != doc_id):
                            examples.append({"id": doc_id, "text": redacted_window(field, spans, s)})
                for kind in REDACTION_KINDS:
                    self.pii_documents[kind] += counts[kind][k] > 0
        for kind in REDACTION_KINDS:
            self.rows[f"pii_{kind}"] += counts[kind]

    def _metadata(self, name: str, kind: str, values: list) -> None:
        m = self.metadata[name]
        counts = m["counts"]
        if kind == "number":
            present = np.array([v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))],
                               dtype=np.float64)
            m["missing"] += len(values) - len(present)
            if len(present):
                bins = np.searchsorted(NUMBER_EDGES, present, side="right") - 1
                for b, c in zip(*np.unique(bins, return_counts=True)):
                    counts[int(b)] += int(c)
                m["sum"] += float(present.sum())
                lo, hi = float(present.min()), float(present.max())
                m["min"] = lo if m["min"] is None else min(m["min"], lo)
                m["max"] = hi if m["max"] is None else max(m["max"], hi)
            return
        psl = _psl() if kind == "url" else None
        for v in values:
            if v is None or v == "":
                m["missing"] += 1
                continue
            if kind == "category":
                key = str(v).lower() if isinstance(v, bool) else str(v)
            else:
                key = (_domain if kind == "url" else _month)(v, psl)
                if key is None:
                    m["unreadable"] += 1
                    continue
            counts[key] += 1

    def finish(self, folder: Path) -> dict:
        """Write the shard's ``documents.parquet`` and ``profile.json`` into ``folder``; returns ``{"profiled": n}``."""
        import pyarrow.parquet as pq

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(_documents_table(self.rows), folder / DOCUMENTS_FILE)
        rows = self.rows
        lengths = {}
        for measure in MEASURES:
            values, counts = np.unique(np.asarray(rows[measure], dtype=np.int64), return_counts=True)
            lengths[measure] = {"values": values.tolist(), "counts": counts.tolist()}
        languages = Counter(c for c in rows["language"] if c)
        n_words = np.asarray(rows["words"], dtype=np.int64)
        aggregate = {
            "tokenizer": self.tokenizer,
            "documents": len(rows["id"]),
            "empty": int((n_words == 0).sum()),
            "short": int(((n_words > 0) & (n_words < self.config.short_words)).sum()),
            "lengths": lengths,
            "pii": {kind: {"documents": self.pii_documents[kind], "occurrences": int(sum(rows[f"pii_{kind}"])),
                           "examples": self.pii_examples[kind]} for kind in REDACTION_KINDS},
            "languages": {code: [n, self.language_words[code]] for code, n in languages.items()},
            "offensive": {"documents": sum(1 for s in rows["offensive"] if s >= OFFENSIVE_THRESHOLD),
                          "examples": self.offensive_examples},
            "metadata": {name: _capped(m, self.columns[name]) for name, m in self.metadata.items()},
        }
        (folder / PROFILE_FILE).write_text(json.dumps(aggregate, ensure_ascii=False), encoding="utf-8")
        return {"profiled": len(rows["id"])}


def _capped(m: dict, kind: str) -> dict:
    """A column's shard aggregate with at most :data:`VALUE_CAP` values (the most frequent; ties by value)."""
    counts = m["counts"]
    out = {k: v for k, v in m.items() if k != "counts"}
    if kind == "number":
        out["counts"] = {str(b): c for b, c in sorted(counts.items())}
        return out
    kept = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    out["counts"] = dict(kept[:VALUE_CAP])
    out["other"] = sum(c for _, c in kept[VALUE_CAP:])
    out["distinct"] = len(kept)
    return out


def _documents_table(rows: dict[str, list]):
    import pyarrow as pa

    types = {"id": pa.string(), "chars": pa.int64(), "words": pa.int64(), "tokens": pa.int64(),
             "language": pa.string(), "language_score": pa.float64(), "offensive": pa.float64(),
             **{c: pa.int64() for c in PII_COLUMNS}}
    return pa.table({k: pa.array(rows[k], type=t) for k, t in types.items()})


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width].rstrip() + " …"


def redacted_window(text: str, spans, at: Span, context: int = CONTEXT) -> str:
    """About ``context`` characters of ``text`` on each side of ``at``, every span of ``spans`` (sorted, disjoint:
    :func:`~gaia_lite.analysis.pii.find_pii`) that reaches into the window replaced whole by its placeholder."""
    start, end = max(0, at.start - context), min(len(text), at.end + context)
    pieces, pos = [], start
    for s in spans:
        if s.end <= start or s.start >= end:
            continue
        pieces += [text[pos:max(pos, s.start)], PLACEHOLDER[s.kind]]
        pos = max(pos, s.end)
    pieces.append(text[pos:max(pos, end)])
    return ("… " if start > 0 else "") + "".join(pieces) + (" …" if max(pos, end) < len(text) else "")


# --- the shards together --------------------------------------------------------------------------------------

def quantile(values: np.ndarray, counts: np.ndarray, q: float) -> int:
    """The smallest of the sorted ``values`` that at least a share ``q`` of the documents (``counts`` each) do not
    exceed (numpy's ``inverted_cdf``)."""
    cumulative = np.cumsum(counts)
    return int(values[np.searchsorted(cumulative, q * cumulative[-1], side="left")])


def combine_profiles(parts: list[Path], out: Path, config: AuditConfig) -> dict[str, Any]:
    """Merge the shards' profiles (in shard order) into ``out``: ``documents.parquet`` (streamed part by part),
    ``lengths``, ``personal_data``, ``personal_data_examples``, ``languages``, ``offensive_examples`` and
    ``metadata`` (Parquet); returns the summary's ``text``, ``lengths``, ``personal_data``, ``languages``,
    ``offensive`` and ``metadata`` sections."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out)
    schema = _documents_table({k: [] for k in ("id", "chars", "words", "tokens", "language", "language_score",
                                               "offensive", *PII_COLUMNS)}).schema
    with pq.ParquetWriter(out / DOCUMENTS_FILE, schema) as writer:
        for part in parts:
            for batch in pq.ParquetFile(Path(part) / DOCUMENTS_FILE).iter_batches(batch_size=65536):
                writer.write_batch(batch)
    aggregates = [json.loads((Path(p) / PROFILE_FILE).read_text(encoding="utf-8")) for p in parts]
    documents = sum(a["documents"] for a in aggregates)
    tokenizer = aggregates[0]["tokenizer"] if aggregates else None

    # Lengths: exact value counts, summed.
    length_summary, length_rows = {}, []
    totals = {}
    for measure in MEASURES:
        merged = Counter()
        for a in aggregates:
            merged.update(dict(zip(a["lengths"][measure]["values"], a["lengths"][measure]["counts"])))
        values = np.array(sorted(merged), dtype=np.int64)
        counts = np.array([merged[v] for v in values], dtype=np.int64)
        totals[measure] = int((values * counts).sum()) if len(values) else 0
        if len(values):
            length_summary[measure] = {"min": int(values[0]), "mean": totals[measure] / documents,
                                       **{f"p{q}": quantile(values, counts, q / 100) for q in (50, 90, 99)},
                                       "max": int(values[-1])}
            hist = histogram(values, counts)
            length_rows += [(measure, int(LENGTH_EDGES[i]), int(LENGTH_EDGES[i + 1]), int(c)) for i, c in hist]
        else:
            length_summary[measure] = {k: None for k in ("min", "mean", "p50", "p90", "p99", "max")}
    _write(out / "lengths.parquet", ["measure", "low", "high", "documents"], length_rows,
           [pa.string(), pa.int64(), pa.int64(), pa.int64()])

    # Personal data.
    pii_types, pii_rows, example_rows = {}, [], []
    for kind in REDACTION_KINDS:
        docs = sum(a["pii"][kind]["documents"] for a in aggregates)
        occurrences = sum(a["pii"][kind]["occurrences"] for a in aggregates)
        pii_types[kind] = {"documents": docs, "occurrences": occurrences}
        pii_rows.append((kind, docs, occurrences))
        examples = [e for a in aggregates for e in a["pii"][kind]["examples"]][:EXAMPLES]
        example_rows += [(kind, e["id"], e["text"]) for e in examples]
    _write(out / "personal_data.parquet", ["type", "documents", "occurrences"], pii_rows,
           [pa.string(), pa.int64(), pa.int64()])
    _write(out / "personal_data_examples.parquet", ["type", "id", "text"], example_rows,
           [pa.string(), pa.string(), pa.string()])

    # Languages.
    languages = Counter()
    language_words = Counter()
    for a in aggregates:
        for code, (n, w) in a["languages"].items():
            languages[code] += n
            language_words[code] += w
    ranked = sorted(languages.items(), key=lambda kv: (-kv[1], kv[0]))
    share = (lambda n: n / documents) if documents else (lambda n: 0.0)
    _write(out / "languages.parquet", ["language", "documents", "share", "words"],
           [(code, n, share(n), language_words[code]) for code, n in ranked],
           [pa.string(), pa.int64(), pa.float64(), pa.int64()])

    # Offensive language.
    offensive_docs = sum(a["offensive"]["documents"] for a in aggregates)
    offensive_examples = [e for a in aggregates for e in a["offensive"]["examples"]][:EXAMPLES]
    _write(out / "offensive_examples.parquet", ["id", "score", "text"],
           [(e["id"], e["score"], e["text"]) for e in offensive_examples], [pa.string(), pa.float64(), pa.string()])

    metadata_summary, metadata_rows = _combine_metadata(aggregates)
    _write(out / "metadata.parquet", ["column", "kind", "value", "documents"], metadata_rows,
           [pa.string(), pa.string(), pa.string(), pa.int64()])

    from importlib.metadata import version

    return {
        "text": {"documents": documents, "empty": sum(a["empty"] for a in aggregates),
                 "short": sum(a["short"] for a in aggregates), "short_words": config.short_words,
                 "words": totals["words"], "characters": totals["chars"],
                 "tokens": totals["tokens"] if tokenizer else None, "tokenizer": tokenizer},
        "lengths": {**length_summary, "quantiles": "exact (inverted_cdf)"},
        "personal_data": {"enabled": config.personal_data, "types": pii_types},
        "languages": {"enabled": config.languages, "detector": _detector_name() if config.languages else None,
                      "documents_identified": sum(languages.values()),
                      "top": [{"language": c, "documents": n, "share": share(n)} for c, n in ranked[:TOP_LANGUAGES]]},
        "offensive": {"enabled": config.offensive,
                      "model": f"{OFFENSIVE_MODEL} {version(OFFENSIVE_MODEL)}" if config.offensive else None,
                      "threshold": OFFENSIVE_THRESHOLD, "documents": offensive_docs,
                      "rate": offensive_docs / documents if documents else 0.0},
        "metadata": metadata_summary,
    }


def _detector_name() -> str:
    from .languages import DETECTOR

    return DETECTOR


def histogram(values: np.ndarray, counts: np.ndarray) -> list[tuple[int, int]]:
    """``(bin, documents)`` of the length histogram on :data:`LENGTH_EDGES`, every bin from the first non-empty to
    the last (empty ones included, so a plot shows the gaps)."""
    bins = np.searchsorted(LENGTH_EDGES, values, side="right") - 1
    per_bin = np.bincount(bins, weights=counts, minlength=len(LENGTH_EDGES)).astype(np.int64)
    return [(i, int(per_bin[i])) for i in range(int(bins.min()), int(bins.max()) + 1)]


def _combine_metadata(aggregates: list[dict]) -> tuple[dict, list[tuple]]:
    summary, rows = {}, []
    names = list(aggregates[0]["metadata"]) if aggregates else []
    for name in names:
        parts = [a["metadata"][name] for a in aggregates]
        kind = _part_kind(parts[0])
        counts = Counter()
        for p in parts:
            counts.update(p["counts"])
        missing = sum(p["missing"] for p in parts)
        if kind == "number":
            ordered = sorted(counts.items(), key=lambda kv: int(kv[0]))
            present = sum(counts.values())
            lows = [p["min"] for p in parts if p["min"] is not None]
            highs = [p["max"] for p in parts if p["max"] is not None]
            summary[name] = {"kind": "number", "missing": missing, "documents": present,
                             "min": min(lows) if lows else None, "max": max(highs) if highs else None,
                             "mean": sum(p["sum"] for p in parts) / present if present else None,
                             "bins": "1-2-5 series"}
            rows += [(name, "number", number_bin(int(b)), c) for b, c in ordered]
            continue
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        other = sum(p["other"] for p in parts)
        capped = other > 0 or len(ranked) > VALUE_CAP
        other += sum(c for _, c in ranked[VALUE_CAP:])
        ranked = ranked[:VALUE_CAP]
        stored = {"category": "category", "url": "domain", "date": "month"}[kind]
        if kind == "date":
            ranked = sorted(ranked)  # a timeline
        rows += [(name, stored, v, c) for v, c in ranked] + ([(name, stored, OTHER, other)] if other else [])
        entry = {"kind": kind, "missing": missing, "distinct": len(counts) if not capped else None,
                 "capped": capped, "other": other,
                 "top": [{"value": v, "documents": c} for v, c in sorted(ranked, key=lambda kv: (-kv[1], kv[0]))[:10]]}
        if kind in ("url", "date"):
            entry["unreadable"] = sum(p["unreadable"] for p in parts)
        if kind == "date" and ranked:
            entry["first"], entry["last"] = ranked[0][0], ranked[-1][0]
        summary[name] = entry
    return summary, rows


def _part_kind(part: dict) -> str:
    return part["kind"]


def _write(path: Path, names: list[str], rows: list[tuple], types: list) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(zip(*rows)) if rows else [[] for _ in names]
    pq.write_table(pa.table({n: pa.array(list(c), type=t) for n, c, t in zip(names, columns, types)}), path)
