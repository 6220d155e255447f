"""Results tables: one way to show records as markdown and to save a table as ``.md`` and ``.json``.

Used by ``gaia-lite eval --table``, ``gaia-lite tune --table`` and the Hub dataset card.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def markdown_table(records: Sequence[dict[str, Any]]) -> str:
    """Records (dicts; every key a column, in first-seen order) as a markdown table."""
    import pandas as pd

    columns = list(dict.fromkeys(key for record in records for key in record))
    table = pd.DataFrame(list(records), columns=columns).astype(object)
    return table.where(table.notna(), "").to_markdown(index=False)  # a value a record lacks shows blank


def write_table(records: Sequence[dict[str, Any]], path: str | os.PathLike) -> tuple[Path, Path]:
    """Write records as ``<path>.md`` (markdown) and ``<path>.json`` (a JSON list of records)."""
    import json

    base = Path(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    md, js = base.with_name(base.name + ".md"), base.with_name(base.name + ".json")
    md.write_text(markdown_table(records) + "\n", encoding="utf-8")
    js.write_text(json.dumps(list(records), indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return md, js
