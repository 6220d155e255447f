"""The embedded default corpus: docstrings of the installed Python packages.

Every machine that has gaia_lite installed also has real English-ish technical text on disk: the
docstrings of its installed distributions. :func:`iter_docstrings` turns them into corpus records
without any network access and without importing anything: each ``.py`` file a distribution lists
in its ``RECORD`` is read and parsed with :func:`ast.parse`, never imported or executed.

One record per non-empty docstring (module, class, function, async function, at any nesting depth)::

    {"id": "json.decoder:JSONDecoder.decode", "title": "JSONDecoder.decode", "text": "...",
     "package": "...", "version": "...", "module": "json.decoder", "object": "JSONDecoder.decode",
     "kind": "function"}

This module imports only the standard library and tqdm, so importing it is cheap.
"""

from __future__ import annotations

import ast
import os
import re
import stat
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

__all__ = ["MAX_FILE_BYTES", "DocstringStats", "iter_docstrings"]

#: Files larger than this (in bytes) are not read: they are generated tables, not documentation.
MAX_FILE_BYTES = 2 * 1024 * 1024

_KINDS = {ast.ClassDef: "class", ast.FunctionDef: "function", ast.AsyncFunctionDef: "function"}
_DEFS = tuple(_KINDS)
#: Statement fields that hold nested statements (where a ``def`` or ``class`` can appear).
_BLOCK_FIELDS = ("body", "handlers", "cases", "orelse", "finalbody")  # in source order
#: Compound statements other than def/class (``TryStar`` is new in 3.11).
_COMPOUND = tuple(
    getattr(ast, n)
    for n in ("If", "For", "AsyncFor", "While", "With", "AsyncWith", "Try", "TryStar", "Match")
    if hasattr(ast, n)
)


@dataclass
class DocstringStats:
    """Counters filled in by :func:`iter_docstrings` while it runs (pass one as ``stats=``).

    ``files_failed`` counts files that could not be read, decoded or parsed (their paths are in
    ``failed_paths``); ``files_ignored`` counts listed ``.py`` files that were not looked at because
    they are missing, not regular files, larger than :data:`MAX_FILE_BYTES`, outside the
    distribution's root (e.g. ``../../bin/script.py``) or have whitespace in their path (not a module
    name; corpus ids must hold no whitespace). The counts are final once the iteration
    ends; after an early stop (``limit``, ``break``) they cover only the files visited so far.
    """

    distributions: int = 0
    files_total: int = 0
    files_parsed: int = 0
    files_failed: int = 0
    files_ignored: int = 0
    records: int = 0
    failed_paths: list[str] = field(default_factory=list)

    @property
    def files_skipped(self) -> int:
        """Files listed but not turned into records: failed plus ignored."""
        return self.files_failed + self.files_ignored


def _normalize(name: str) -> str:
    """PEP 503 normalized distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _version_key(version: str) -> tuple:
    """A natural-order key (``1.10`` after ``1.9``); total and deterministic for any string."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.findall(r"\d+|[^\d]+", version))


def _module_name(parts: Sequence[str]) -> str:
    """``("pkg", "sub", "__init__.py")`` -> ``pkg.sub``; ``("pkg", "mod.py")`` -> ``pkg.mod``."""
    *dirs, filename = parts
    stem = filename[: -len(".py")]
    if stem == "__init__" and dirs:
        return ".".join(dirs)
    return ".".join([*dirs, stem])


def _collect_files(site_dirs: Sequence[str | os.PathLike] | None, stats: DocstringStats):
    """``[(name, version, module, path), ...]`` for every listed ``.py`` file, in corpus order."""
    from importlib import metadata

    if site_dirs is None:
        dists = metadata.distributions()
    else:
        dists = metadata.distributions(path=[os.fspath(p) for p in site_dirs])
    keyed = []
    for dist in dists:
        try:
            name = dist.metadata["Name"]
            version = dist.version
        except Exception:  # a broken METADATA file must not stop the corpus
            continue
        if not name:
            continue
        version = version or ""
        keyed.append(((_normalize(name), _version_key(version), version), name, version, dist))
    # Stable sort: equal keys keep the order of `distributions()`, i.e. of the search path.
    keyed.sort(key=lambda item: item[0])

    out = []
    seen: set[str] = set()
    for (norm, _, _), name, version, dist in keyed:
        if norm in seen:
            continue
        seen.add(norm)
        stats.distributions += 1
        try:
            files = dist.files or []
        except Exception:
            files = []
        for rel in sorted((f for f in files if f.name.endswith(".py")), key=lambda f: f.as_posix()):
            parts = rel.parts
            # Not a module path: outside the root, or holding whitespace (ids must hold none).
            posix = rel.as_posix()
            if rel.is_absolute() or ".." in parts or not parts[-1][:-3] or any(c.isspace() for c in posix):
                stats.files_ignored += 1
                continue
            out.append((name, version, _module_name(parts), os.fspath(dist.locate_file(rel))))
    stats.files_total = len(out) + stats.files_ignored
    return out


def _read_tree(path: str, stats: DocstringStats) -> ast.Module | None:
    try:
        st = os.stat(path)
    except OSError:
        stats.files_ignored += 1
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE_BYTES:
        stats.files_ignored += 1
        return None
    try:
        with open(path, "rb") as fh:
            source = fh.read()
        with warnings.catch_warnings():  # invalid escapes etc. in third-party code are not our business
            warnings.simplefilter("ignore")
            tree = ast.parse(source, filename=path)
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        # ValueError covers UnicodeDecodeError and "source code string cannot contain null bytes".
        stats.files_failed += 1
        stats.failed_paths.append(path)
        return None
    stats.files_parsed += 1
    return tree


def _walk(body: list[ast.stmt], prefix: str) -> Iterator[tuple[str, str, str]]:
    """Pre-order, source-order ``(qualname, kind, text)`` for every def/class docstring under ``body``.

    Only statement blocks are visited (a ``def`` or ``class`` is always a statement); ``if`` / ``try``
    / ``with`` / ``match`` ... do not add to the qualname, a ``def`` or ``class`` does.
    """
    for node in body:
        if isinstance(node, _DEFS):
            qualname = f"{prefix}{node.name}"
            text = ast.get_docstring(node, clean=True)
            if text and text.strip():
                yield qualname, _KINDS[type(node)], text
            yield from _walk(node.body, qualname + ".")
        elif isinstance(node, _COMPOUND):
            for name in _BLOCK_FIELDS:
                block = getattr(node, name, None)
                if not block:
                    continue
                if isinstance(block[0], ast.stmt):
                    yield from _walk(block, prefix)
                else:  # ExceptHandler / match_case: the statements are one level down
                    for child in block:
                        yield from _walk(child.body, prefix)


def iter_docstrings(
    limit: int | None = None,
    *,
    site_dirs: Sequence[str | os.PathLike] | None = None,
    progress: bool = True,
    stats: DocstringStats | None = None,
) -> Iterator[dict[str, str]]:
    """Yield one record per non-empty docstring of the installed Python distributions.

    Distributions come from ``importlib.metadata.distributions(path=site_dirs)`` (``sys.path`` when
    ``site_dirs`` is None), sorted by normalized name then version (natural order), keeping only the
    first of each name. For each, the ``.py`` files its ``RECORD`` lists are taken in path order; files
    that are missing, not regular, larger than :data:`MAX_FILE_BYTES` (2 MiB), outside the
    distribution's root or with whitespace in their path are ignored, and files that cannot be read,
    decoded or parsed are skipped (counted in ``stats``, never raised). Nothing is imported or
    executed: files are parsed with :func:`ast.parse`.

    Within a file, the module docstring comes first, then class / function / async function
    docstrings at any depth in pre-order source order. Docstrings that are empty once cleaned are
    left out. The order is deterministic for a given set of installed distributions.

    Record keys (all ``str``):

    - ``id``: ``"{module}"`` for a module docstring, else ``"{module}:{object}"``. Ids are unique over
      the whole iteration: the second occurrence of an id (the same name defined twice in one file,
      e.g. under ``if``/``else``, or the same module shipped by two distributions) becomes
      ``"{id}#2"``, the third ``"{id}#3"``, and so on, in order of appearance.
    - ``title``: ``object``, or the module name for a module docstring.
    - ``text``: the docstring cleaned by :func:`inspect.cleandoc`.
    - ``package`` / ``version``: the distribution's name (as in its metadata) and version.
    - ``module``: the dotted module name from the file's path under the distribution's root
      (``pkg/sub/__init__.py`` -> ``pkg.sub``, ``pkg/sub/mod.py`` -> ``pkg.sub.mod``).
    - ``object``: the dotted nesting of the definition (``Outer.method``, ``func.inner``); ``""`` for
      a module docstring.
    - ``kind``: ``"module"``, ``"class"`` or ``"function"`` (async functions included).

    Args:
        limit: stop after this many records (None: all of them).
        site_dirs: folders to look for ``*.dist-info`` / ``*.egg-info`` in, instead of ``sys.path``.
        progress: show a tqdm bar over files on stderr.
        stats: a :class:`DocstringStats` to fill in with counts (files parsed, failed, ignored,
            records). The generator also returns it (``StopIteration.value``) when it finishes.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be None or >= 0, got {limit}")
    stats = stats if stats is not None else DocstringStats()
    if limit == 0:
        return stats
    files = _collect_files(site_dirs, stats)
    bar = tqdm(
        total=len(files), desc="Reading docstrings", unit="file", disable=not progress, file=sys.stderr
    )
    try:
        for record in _records(files, stats, bar):
            yield record
            stats.records += 1
            if limit is not None and stats.records >= limit:
                return stats
    finally:
        bar.close()
    return stats


def _records(files: Sequence[tuple[str, str, str, str]], stats: DocstringStats, bar) -> Iterator[dict[str, str]]:
    """The records of ``files`` (from :func:`_collect_files`) in corpus order, ids made unique; ``bar`` counts
    the files visited."""
    unique = _UniqueIds()
    for name, version, module, path in files:
        bar.update(1)
        tree = _read_tree(path, stats)
        if tree is None:
            continue
        text = ast.get_docstring(tree, clean=True)
        found = [("", "module", text)] if text and text.strip() else []
        found.extend(_walk(tree.body, ""))
        for qualname, kind, text in found:
            base = f"{module}:{qualname}" if qualname else module
            yield {
                "id": unique(base),
                "title": qualname or module,
                "text": text,
                "package": name,
                "version": version,
                "module": module,
                "object": qualname,
                "kind": kind,
            }


class _UniqueIds:
    """Makes ids unique in order of appearance: the second ``x`` becomes ``x#2``, the third ``x#3`` (skipping any
    already given)."""

    def __init__(self) -> None:
        self._emitted: set[str] = set()
        self._counts: dict[str, int] = {}

    def __call__(self, base: str) -> str:
        if base not in self._emitted:
            self._emitted.add(base)
            return base
        n = self._counts.get(base, 1)
        while True:
            n += 1
            candidate = f"{base}#{n}"
            if candidate not in self._emitted:
                break
        self._counts[base] = n
        self._emitted.add(candidate)
        return candidate
