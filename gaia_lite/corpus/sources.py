"""Readers for every corpus source: each yields ``(where, record)`` pairs, streaming, in source order.

``where`` locates the record for error messages (``corpus.jsonl:17`` or ``row 17``). Readers never hold the
whole corpus in memory.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError

FORMATS = ("jsonl", "beir", "parquet", "disk", "hub", "builtin")
BUILTIN_PREFIX = "builtin:"
BUILTINS = ("docstrings",)


@dataclass(frozen=True)
class Source:
    """Where a corpus comes from and how to read it.

    ``location`` is a path (JSONL file, BEIR folder, parquet file or folder, a ``save_to_disk`` folder), a Hub
    dataset name (``owner/name``), or ``builtin:docstrings``. ``config``, ``split`` and ``revision`` apply to
    Hub datasets (``split`` also to a saved ``DatasetDict``).
    """

    location: str
    format: str = "auto"
    config: str | None = None
    split: str = "train"
    revision: str | None = None

    def resolved_format(self) -> str:
        """The format, detected from the location where ``format`` is ``auto``."""
        if self.format != "auto":
            if self.format not in FORMATS:
                raise InputError(f"unknown source format {self.format!r}; choose one of {', '.join(FORMATS)}")
            return self.format
        return detect_format(self.location)

    def records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield ``(where, record)`` for every record, streaming, in source order."""
        fmt = self.resolved_format()
        if fmt == "jsonl":
            yield from iter_jsonl(Path(self.location))
        elif fmt == "beir":
            folder = Path(self.location)
            path = folder / "corpus.jsonl"
            yield from iter_jsonl(path if path.is_file() else folder / "corpus.jsonl.gz")
        elif fmt == "parquet":
            yield from _iter_parquet(Path(self.location))
        elif fmt == "disk":
            yield from _iter_dataset(_load_from_disk(self))
        elif fmt == "hub":
            yield from _iter_hub(self)
        elif fmt == "builtin":
            yield from _iter_builtin(self.location[len(BUILTIN_PREFIX):])

    def describe(self) -> str:
        """A one-line description for metadata and cards."""
        parts = [f"{self.resolved_format()}:{self.location}"]
        for key in ("config", "revision"):
            if getattr(self, key):
                parts.append(f"{key}={getattr(self, key)}")
        if self.resolved_format() in ("hub", "disk"):
            parts.append(f"split={self.split}")
        return " ".join(parts)


def detect_format(location: str) -> str:
    """Guess a source's format from its location."""
    if location.startswith(BUILTIN_PREFIX):
        return "builtin"
    path = Path(location)
    if path.is_dir():
        if (path / "corpus.jsonl").is_file() or (path / "corpus.jsonl.gz").is_file():
            return "beir"
        if (path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file():
            return "disk"
        if any(path.glob("*.parquet")):
            return "parquet"
        raise InputError(
            f"{location}: cannot tell what this folder holds (no corpus.jsonl, saved Dataset or parquet files); "
            "pass --format"
        )
    if path.is_file():
        name = path.name.lower()
        if name.endswith((".jsonl", ".jsonl.gz", ".json", ".ndjson")):
            return "jsonl"
        if name.endswith(".parquet"):
            return "parquet"
        raise InputError(f"{location}: unknown file type; pass --format jsonl or --format parquet")
    if location.lower().endswith((".jsonl", ".jsonl.gz", ".json", ".ndjson", ".parquet")):
        raise InputError(f"{location}: no such file")  # a data file's name, never a Hub dataset's
    if re.fullmatch(r"[\w.-]+(/[\w.-]+)?", location) and not location.startswith("."):
        return "hub"
    raise InputError(f"{location}: no such file or folder")


def iter_source(source: Source) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(where, record)`` for every record of ``source``, streaming."""
    return source.records()


def _open_binary(path: Path):
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def iter_jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``("file:line", record)`` for each non-blank line of a JSON Lines file (optionally gzipped).

    A UTF-8 byte-order mark at the start of the file is skipped. A line that is not valid UTF-8 or not a JSON object raises :class:`InputError` naming the file and line.
    """
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    lineno = 0
    with _open_binary(path) as f:
        try:
            for lineno, raw in enumerate(f, start=1):
                where = f"{path}:{lineno}"
                try:
                    # utf-8-sig on the first line: Windows tools start UTF-8 files with a byte-order mark.
                    line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
                except UnicodeDecodeError as e:
                    raise InputError(
                        f"{where}: invalid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1}); "
                        "re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`"
                    ) from None
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{where}: malformed JSON ({e.msg} at column {e.colno}); fix or remove that line") from None
                if not isinstance(record, dict):
                    raise InputError(f"{where}: expected a JSON object per line, got {type(record).__name__}")
                yield where, record
        except (OSError, EOFError, zlib.error) as e:  # a damaged or truncated .gz file
            raise InputError(
                f"{path}: cannot be read after line {lineno} ({e}); the file is damaged or not what its name says"
            ) from None


def _iter_parquet(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    import pyarrow.parquet as pq

    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    row = 0
    for file in files:
        try:
            pf = pq.ParquetFile(file)
        except Exception as e:  # pyarrow raises several types for a damaged file
            raise InputError(f"{file}: not a readable parquet file ({e})") from None
        for batch in pf.iter_batches(batch_size=1000):
            for record in batch.to_pylist():
                row += 1
                yield f"{file.name} row {row}", record


def _load_from_disk(source: Source):
    import datasets

    try:
        ds = datasets.load_from_disk(source.location)
    except (FileNotFoundError, ValueError) as e:
        raise InputError(f"{source.location}: not a dataset saved with save_to_disk ({e})") from None
    if isinstance(ds, datasets.DatasetDict):
        if source.split not in ds:
            raise InputError(f"{source.location}: no split {source.split!r}; it has {sorted(ds)} (pass --split)")
        ds = ds[source.split]
    return ds


def _iter_dataset(ds) -> Iterator[tuple[str, dict[str, Any]]]:
    row = 0
    for batch in ds.iter(batch_size=1000):
        columns = list(batch)
        for values in zip(*(batch[c] for c in columns)):
            row += 1
            yield f"row {row}", dict(zip(columns, values))


def _iter_hub(source: Source) -> Iterator[tuple[str, dict[str, Any]]]:
    import datasets

    try:
        ds = datasets.load_dataset(
            source.location, source.config, split=source.split, revision=source.revision, streaming=True
        )
    except Exception as e:  # the Hub client raises many types; all mean "could not open it"
        raise InputError(
            f"could not open Hub dataset {source.location!r} (config={source.config}, split={source.split}, "
            f"revision={source.revision}): {e}. Check the name, or download it and pass a local path"
        ) from None
    row = 0
    try:
        for row, record in enumerate(ds, start=1):
            yield f"row {row}", record
    except Exception as e:  # streaming reads fail late: a damaged data file, a lost connection
        raise InputError(
            f"could not read Hub dataset {source.location!r} (split={source.split}) after row {row}: {e}"
        ) from None


def _iter_builtin(name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if name != "docstrings":
        raise InputError(f"unknown built-in corpus {name!r}; built-in corpora: {', '.join(BUILTINS)}")
    from .docstrings import iter_docstrings

    # The corpus builder shows progress in documents; a second bar (files) would ignore its progress setting.
    for row, record in enumerate(iter_docstrings(progress=False), start=1):
        yield f"row {row}", record


def source_name(source: Source) -> str:
    """A default corpus name for a source: its file or folder stem, or the dataset's name."""
    loc = source.location
    if loc.startswith(BUILTIN_PREFIX):
        return loc[len(BUILTIN_PREFIX):]
    name = Path(loc.rstrip("/" + os.sep)).name
    for suffix in (".gz", ".jsonl", ".json", ".ndjson", ".parquet"):
        name = name.removesuffix(suffix)
    return re.sub(r"[^\w.-]", "_", name) or "corpus"
