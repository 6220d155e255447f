"""Benchmark items for contamination analysis, read from any source a corpus can be built from.

A benchmark is a list of items, each an id and a text. The text is one field of a record, or several joined
by a space (a question and its choices); a list value (the choices) is joined the same way. A BEIR folder
gives its queries (``queries.jsonl``), those of one split's qrels where a split is named.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..corpus.sources import Source, iter_jsonl
from ..errors import InputError
from .text import words

#: Fields read when none is named: the first of these a record has.
TEXT_FIELDS = ("text", "question", "query", "prompt", "input", "sentence", "claim")
#: Fields that give an item its id: the first of these a record has (else its 0-based row number).
ID_FIELDS = ("_id", "id", "qid", "query_id", "question_id", "idx", "task_id")


@dataclass(frozen=True)
class Benchmark:
    """A benchmark's items: ``ids[i]`` and ``texts[i]``, in source order; ``source`` and ``fields`` say where they
    came from."""

    ids: tuple[str, ...]
    texts: tuple[str, ...]
    source: str
    fields: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ids)

    def fingerprint(self) -> str:
        """A SHA-256 of the items (ids and texts, in order): two runs over the same items share it."""
        h = hashlib.sha256()
        for part in (*self.ids, "\0", *self.texts):
            data = part.encode("utf-8", "surrogatepass")
            h.update(len(data).to_bytes(8, "little") + data)
        return "sha256:" + h.hexdigest()


def read_benchmark(source: Source | str, fields: Sequence[str] | str | None = None, *, id_field: str | None = None,
                   split: str | None = None) -> Benchmark:
    """Read a benchmark's items from ``source`` (a :class:`~gaia_lite.corpus.Source` or a location), joining the
    text of ``fields`` (default: the first of :data:`TEXT_FIELDS` the records have). ``split``: of a BEIR folder,
    the queries with judgments in ``qrels/<split>.tsv`` (default: every query); of a Hub dataset or a saved
    DatasetDict, that split (default: the source's); other sources have no splits.

    Raises :class:`~gaia_lite.errors.InputError` for an unknown field, an empty benchmark, duplicate ids or an
    item with no words."""
    source = source if isinstance(source, Source) else Source(str(source))
    fields = [fields] if isinstance(fields, str) else list(fields or [])
    beir_split = split if source.resolved_format() == "beir" else None
    if split and source.resolved_format() in ("hub", "disk"):
        source = replace(source, split=split)
    records = _records(source, beir_split)
    ids, texts, chosen = [], [], None
    seen: set[str] = set()
    for row, (where, record) in enumerate(records):
        if chosen is None:
            chosen = _check_fields(record, fields, where)
            id_key = id_field or next((f for f in ID_FIELDS if f in record), None)
            if id_field and id_field not in record:
                raise InputError(f"{where}: no id field {id_field!r}; the records have {sorted(record)}")
        item_id = str(record.get(id_key, "")) if id_key else str(row)
        if not item_id.strip():
            raise InputError(f"{where}: empty item id (field {id_key!r}); every item needs one")
        if item_id in seen:
            raise InputError(f"{where}: item id {item_id!r} occurs twice; ids must be unique (pass --id-field)")
        seen.add(item_id)
        missing = [f for f in chosen if f not in record]
        if missing:
            raise InputError(f"{where}: no field {missing[0]!r} in this record; it has {sorted(record)}")
        text = " ".join(_text(record[f]) for f in chosen).strip()
        if not words(text):
            raise InputError(f"{where}: item {item_id!r} has no words in {', '.join(chosen)}: remove it from the "
                             "benchmark or choose other fields (--field)")
        ids.append(item_id)
        texts.append(text)
    if not ids:
        raise InputError(f"{source.describe()}: the benchmark has no items")
    return Benchmark(tuple(ids), tuple(texts), source.describe() + (f" split={beir_split}" if beir_split else ""),
                     tuple(chosen))


def _records(source: Source, beir_split: str | None) -> Iterable[tuple[str, dict[str, Any]]]:
    if source.resolved_format() != "beir":
        return source.records()
    folder = Path(source.location)
    queries = folder / "queries.jsonl"
    if not queries.is_file():
        raise InputError(f"{folder} is a BEIR folder without queries.jsonl: the benchmark items are its queries")
    if beir_split is None:
        return iter_jsonl(queries)
    qrels = folder / "qrels" / f"{beir_split}.tsv"
    if not qrels.is_file():
        have = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise InputError(f"{folder} has no qrels/{beir_split}.tsv; its splits: {', '.join(have) or 'none'}")
    from ..evaluate import load_qrels

    judged = set(load_qrels(qrels))
    return ((w, r) for w, r in iter_jsonl(queries) if str(r.get("_id")) in judged)


def _check_fields(record: dict[str, Any], fields: list[str], where: str) -> list[str]:
    if not fields:
        found = next((f for f in TEXT_FIELDS if f in record), None)
        if found is None:
            raise InputError(f"{where}: none of the usual text fields ({', '.join(TEXT_FIELDS)}) is in the records; "
                             f"they have {sorted(record)}: name one with --field")
        return [found]
    unknown = [f for f in fields if f not in record]
    if unknown:
        raise InputError(f"unknown field {unknown[0]!r}: the benchmark's records have {sorted(record)}")
    return fields


def _text(value: Any) -> str:
    """A field's value as text: lists (answer choices) joined by spaces, numbers as written, None as nothing."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return " ".join(_text(v) for v in value.values())
    return str(value)
