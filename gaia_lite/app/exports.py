"""What the explorer exports: a page of results (CSV, JSON Lines, TREC run lines), a contamination check's items
(JSON Lines, CSV), as text, an audit's tables (CSV, Parquet) as files, and :class:`Exports`, the temporary folder
the app writes them to.

Records have the shapes the API answers with (:meth:`.search.Results.to_dict`, the report's ``record()``);
personal data is redacted as on the page. No Gradio here.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from ..errors import ConfigError
from ..evaluate import query_id, trec_lines
from . import render

EXPORT_FORMATS = ("csv", "jsonl", "trec")
#: The formats an audit's table is downloaded in.
TABLE_FORMATS = ("csv", "parquet")
#: Exported files older than this (seconds) are removed while the app runs: a download follows its export at
#: once, and a Space runs for weeks.
EXPORT_MAX_AGE_S = 3600
_RESULT_COLUMNS = ["rank", "doc_id", "score", "bm25_score", "bm25_rank", "dense_score", "dense_rank", "found_by",
                   "title", "snippet"]
_CONTAMINATION_COLUMNS = ["item_id", "flagged", "overlap", "documents", "matched_ngrams", "ngrams", "words",
                          "doc_id", "field", "start", "end", "span", "text"]


def results_export(results, fmt: str) -> str:
    """``results`` (a :class:`~.search.Results`) as CSV, JSON Lines (one hit per line, with the query and
    settings) or TREC run lines (the query's id from :func:`~gaia_lite.evaluate.query_id`)."""
    _check(fmt, EXPORT_FORMATS)
    if fmt == "trec":
        return trec_lines({query_id(results.query): [r.hit for r in results.rows]},
                          tag=f"gaia_lite-{results.config.kind}")
    answer = results.to_dict()
    if fmt == "jsonl":
        return _jsonl({"query": results.query, "settings": answer["settings"], **r} for r in answer["hits"])
    return _csv(({**r, "found_by": "+".join(r["found_by"])} for r in answer["hits"]), _RESULT_COLUMNS)


def contamination_export(report, fmt: str, *, redact: bool = True) -> str:
    """Every item of a contamination ``report`` as JSON Lines (its records) or CSV (one row per item, the longest
    span flattened), personal data in texts and spans redacted unless ``redact`` is False."""
    _check(fmt, ("jsonl", "csv"))

    def clean(text):
        return render.redact_text(text)[0] if redact and text else text

    records = []
    for r in report.items:
        record = r.record()
        record["text"] = clean(record["text"])
        for o in ([record["longest"]] if record["longest"] else []) + record["top_documents"]:
            o["span"] = clean(o["span"])
        records.append(record)
    if fmt == "jsonl":
        return _jsonl(records)
    return _csv(({**r, **(r["longest"] or {}), "words": r["words"]} for r in records), _CONTAMINATION_COLUMNS)


def write_table(table, path: Path) -> Path:
    """Write ``table`` (a ``pyarrow.Table``, an audit's) to ``path`` as its suffix says: ``.parquet`` as it is
    stored, ``.csv`` with each list cell (an n-gram's example ids) as a JSON array, since CSV has no lists."""
    import pyarrow as pa

    fmt = path.suffix.lstrip(".")
    _check(fmt, TABLE_FORMATS)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
        return path
    import pyarrow.csv as pcsv

    for i, field in enumerate(table.schema):
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            cells = [None if v is None else json.dumps(v, ensure_ascii=False) for v in table.column(i).to_pylist()]
            table = table.set_column(i, field.name, pa.array(cells, pa.string()))
    pcsv.write_csv(table, path)
    return path


def _check(fmt: str, valid: tuple[str, ...]) -> None:
    if fmt not in valid:
        raise ConfigError(f"unknown export format {fmt!r}; valid: {', '.join(valid)}")


def _jsonl(records) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def _csv(rows, columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


class Exports:
    """The files an app exports: one temporary folder per app, each export in a folder of its own. Exports
    older than ``max_age`` seconds are removed whenever a new one is made, and the whole folder when the process
    exits (or :meth:`close` is called). Gradio's own copies of them are aged out by ``gr.Blocks(delete_cache=)``."""

    def __init__(self, max_age: float = EXPORT_MAX_AGE_S):
        self._folder: Path | None = None
        self.max_age = max_age

    @property
    def folder(self) -> Path:
        """The app's export folder, made on the first export: an app that exports nothing (or is killed before
        its exit handler runs) leaves no folder behind."""
        if self._folder is None:
            import atexit

            self._folder = Path(tempfile.mkdtemp(prefix="gaia_lite_export_"))
            atexit.register(self.close)
        return self._folder

    def new(self, name: str) -> Path:
        """A path for a new export file called ``name`` (older exports pruned first)."""
        self.prune()
        return Path(tempfile.mkdtemp(dir=self.folder)) / name

    def prune(self) -> None:
        """Remove the exports older than ``max_age``."""
        import shutil
        import time

        now = time.time()
        for path in list(self.folder.glob("*")):
            try:
                if now - path.stat().st_mtime > self.max_age:
                    shutil.rmtree(path, ignore_errors=True)
            except FileNotFoundError:  # pruned by a concurrent export
                pass

    def close(self) -> None:
        """Remove every export and the folder."""
        import shutil

        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
