"""Self-describing artifact folders: a metadata file in each, atomic builds, content fingerprints.

Every folder gaia_lite builds (a corpus, a Lucene index, later a dense index) holds ``gaia_lite.json``:
kind, format version, gaia_lite version, source, row count, a fingerprint of the documents in row order,
parameters, and the command that built it. Builds write to a temporary sibling folder that is renamed into
place only once complete, so a failed or interrupted build leaves the previous good artifact intact.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import glob
import hashlib
import json
import os
import re
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import ArtifactError, ArtifactMismatchError, MissingArtifactError

META_FILE = "gaia_lite.json"
FORMAT_VERSION = 1


def package_version() -> str:
    """The installed gaia_lite's version, as artifacts and Hub manifests record it."""
    from . import __version__

    return __version__


@dataclass(frozen=True)
class ArtifactMeta:
    """What an artifact folder says about itself (stored as ``gaia_lite.json``)."""

    kind: str  # "corpus", "sparse", ...
    num_rows: int
    fingerprint: str  # fingerprint of the corpus documents this artifact holds or was built from
    source: str
    params: dict[str, Any] = field(default_factory=dict)
    command: str = ""
    format_version: int = FORMAT_VERSION
    gaia_lite_version: str = field(default_factory=package_version)
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))

    def write(self, folder: str | os.PathLike) -> None:
        """Write this metadata into ``folder``."""
        Path(folder, META_FILE).write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def read(cls, folder: str | os.PathLike, kind: str | None = None, build_hint: str = "gaia-lite corpus|index ..."
             ) -> ArtifactMeta:
        """Read and check the metadata of ``folder``, an artifact of ``kind`` (any kind where None);
        ``build_hint`` is the command that builds it."""
        path = Path(folder, META_FILE)
        if not Path(folder).is_dir():
            raise MissingArtifactError(f"no {kind or 'artifact'} at {folder}: build it with `{build_hint}`")
        if not path.is_file():
            raise MissingArtifactError(
                f"{folder} has no {META_FILE}, so it was not built by gaia_lite (or the build did not finish): "
                f"rebuild it with `{build_hint}`"
            )
        try:
            data = json.loads(path.read_text())
            meta = cls(**data)
        except (ValueError, TypeError) as e:
            raise ArtifactError(f"{path} is unreadable ({e}): rebuild with `{build_hint}`") from None
        if kind is not None and meta.kind != kind:
            raise ArtifactError(f"{folder} holds a {meta.kind!r} artifact, not a {kind!r} one")
        if meta.format_version > FORMAT_VERSION:
            raise ArtifactError(
                f"{folder} has format version {meta.format_version}, newer than this gaia_lite reads "
                f"({FORMAT_VERSION}): upgrade gaia_lite or rebuild with `{build_hint}`"
            )
        return meta


def check_same_documents(artifact: str, meta: ArtifactMeta, corpus_meta: ArtifactMeta, rebuild: str) -> None:
    """Raise :class:`ArtifactMismatchError` unless ``meta`` was built from the corpus described by ``corpus_meta``."""
    if meta.num_rows != corpus_meta.num_rows or meta.fingerprint != corpus_meta.fingerprint:
        raise ArtifactMismatchError(
            f"{artifact} was built from {meta.num_rows} documents with fingerprint {meta.fingerprint[:12]}, "
            f"but the corpus now holds {corpus_meta.num_rows} documents with fingerprint "
            f"{corpus_meta.fingerprint[:12]}: rebuild it with `{rebuild}`"
        )


def has_analysis(corpus, name: str, kind: str) -> bool:
    """Whether the corpus folder holds an analysis of ``kind`` in ``name/`` (reading only its metadata); raises
    :class:`ArtifactMismatchError` where it was made from other documents, naming the command that remakes it."""
    folder = Path(corpus.folder) / name
    try:
        meta = ArtifactMeta.read(folder, kind, f"gaia-lite {kind} {corpus.folder}")
    except MissingArtifactError:
        return False
    check_same_documents(f"{kind} {folder}", meta, corpus.meta, meta.command)
    return True


class Fingerprint:
    """Incremental SHA-256 over documents in row order: each row's id, title and text, length-prefixed."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def update(self, doc_id: str, text: str, title: str = "") -> None:
        """Add one row."""
        for part in (doc_id, title, text):
            b = part.encode("utf-8", "surrogatepass")
            self._h.update(len(b).to_bytes(8, "little"))
            self._h.update(b)

    def hexdigest(self) -> str:
        """The fingerprint so far, as ``sha256:<hex>``."""
        return "sha256:" + self._h.hexdigest()


def is_artifact(folder: Path) -> bool:
    """Whether ``folder`` holds something gaia_lite built (its metadata file)."""
    return (folder / META_FILE).is_file()


@contextlib.contextmanager
def atomic_build(final: str | os.PathLike, *, replaces: Callable[[Path], bool] = is_artifact) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``final``; on success it replaces ``final``, on failure it is removed.

    The previous artifact at ``final`` stays untouched until the new one is complete, and is only then swapped
    out by two renames. Only a missing or empty ``final``, or one that ``replaces`` recognises as an earlier
    build, is ever replaced: a file or a folder of the user's is refused before anything is written.
    """
    final = Path(final)
    if final.exists() and not (final.is_dir() and (replaces(final) or not any(final.iterdir()))):
        raise ArtifactError(f"{final} exists and is not something gaia_lite built, so it was left as it is: "
                            "choose another output folder, or remove it first")
    created = []  # parent folders this build creates, deepest first: removed again if it fails
    parent = final.parent
    while not parent.exists():
        created.append(parent)
        parent = parent.parent
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(final)
    tmp = scratch_path(final, "building")
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in created:
            try:
                folder.rmdir()
            except OSError:
                break
        raise
    swap_in(tmp, final)


def swap_in(new: Path, final: Path) -> None:
    """Put the complete folder ``new`` at ``final`` by two renames, then remove the folder it replaced: ``final``
    is never half-written, and is missing only between the two renames."""
    old = scratch_path(final, "old")
    if final.exists():
        final.rename(old)
    new.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def scratch_path(final: Path, role: str) -> Path:
    """A hidden sibling of ``final`` for one build's scratch work: ``.<name>.<role>-<host>-<pid>-<random>``. The
    host and process in the name let a later build tell a dead build's leftovers from a running one's."""
    host = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:20] or "host"
    return final.parent / f".{final.name}.{role}-{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def remove_stale(final: Path) -> list[Path]:
    """Remove the scratch folders of ``final`` (see :func:`scratch_path`) that a killed build left behind: those
    of this host whose process is gone. Returns what was removed."""
    host = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:20] or "host"
    pattern = re.compile(rf"\.{re.escape(final.name)}\.[a-z]+-(?:(\w+)-(\d+)-)?[0-9a-f]{{8}}")
    removed = []
    for path in final.parent.glob(f".{glob.escape(final.name)}.*"):
        m = pattern.fullmatch(path.name)
        if m is None or (m.group(1) is not None and (m.group(1) != host or _alive(int(m.group(2))))):
            continue  # not ours, another host's, or a build still running
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def link_or_copy(src, dst):
    """Hard-link ``src`` to ``dst`` where the file system allows (indexes can be large), else copy it; returns
    ``dst`` (so it also serves as ``shutil.copytree``'s ``copy_function``)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


@contextlib.contextmanager
def datasets_progress(enabled: bool) -> Iterator[None]:
    """Show or hide the ``datasets`` library's progress bars for the duration of the block."""
    import datasets
    from datasets.utils.logging import is_progress_bar_enabled

    was = is_progress_bar_enabled()
    (datasets.enable_progress_bars if enabled else datasets.disable_progress_bars)()
    try:
        yield
    finally:
        (datasets.enable_progress_bars if was else datasets.disable_progress_bars)()
