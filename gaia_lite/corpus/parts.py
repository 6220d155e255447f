"""A corpus kept as parts: contiguous runs of its rows, each a complete corpus folder of its own.

A corpus too large for one index (Lucene holds at most 2,147,483,519 documents; a flat FAISS index holds every
vector in memory) is split into P parts at build time (``gaia-lite corpus ... --parts P``). Each part is a
corpus folder like any other (its Dataset, and later its Lucene and dense indexes, with its own ids and
fingerprints), so each can be built, copied and served on its own machine. The corpus folder then holds
``parts/gaia_lite.json`` instead of ``dataset/``: the parts in row order, where each lives (a path relative to
``parts/``, or absolute), their row counts and fingerprints, and the fingerprint of the whole corpus, the same
one the corpus would have in one part.

:class:`PartedCorpus` opens such a corpus where every part is on this machine's disk; its Dataset is the
parts' Datasets concatenated (memory-mapped, no copy), so documents, filters and analyses read it as they read
any corpus.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path
from typing import Any

from ..artifacts import META_FILE, ArtifactMeta, Fingerprint, atomic_build, datasets_progress
from ..errors import ArtifactError, InputError, MissingArtifactError

PARTS_DIR = "parts"
#: Above this many documents a corpus is kept in parts of at most this size unless ``--parts`` says otherwise:
#: 50M documents is a Lucene index of about 25 GB with positions and stored text and a flat FAISS index of
#: 77 GB at 384 dimensions, what one machine of 128 GB serves (README, "Serving at scale").
AUTO_PART_SIZE = 50_000_000


def part_name(i: int) -> str:
    """The folder name of part ``i`` (0-based): ``part-000``."""
    return f"part-{i:03d}"


def parts_for(num_rows: int, parts: int | None) -> int:
    """How many parts a corpus of ``num_rows`` documents is kept in: ``parts`` where given, else one per
    :data:`AUTO_PART_SIZE` documents."""
    if parts is None:
        return max(1, math.ceil(num_rows / AUTO_PART_SIZE))
    if parts < 1:
        raise InputError(f"parts={parts}: a corpus is kept in at least 1 part")
    if parts > num_rows:
        raise InputError(f"parts={parts}: the corpus holds only {num_rows} documents; use at most that many parts")
    return parts


def split_corpus(corpus, parts: int, *, progress: bool = True):
    """Keep the built one-part ``corpus`` as ``parts`` parts of contiguous rows (sizes differing by at most one),
    each a corpus folder under ``<corpus>/parts/``, and remove the one-part Dataset; return the
    :class:`PartedCorpus`. Atomic: the parts are written to a temporary folder first, and until they are in place
    the one-part corpus stays as it was."""
    from . import DATASET_DIR, Corpus

    n = len(corpus)
    bounds = [n * i // parts for i in range(parts + 1)]
    entries = []
    with atomic_build(corpus.folder / PARTS_DIR) as tmp:
        for i in range(parts):
            name, rows = part_name(i), range(bounds[i], bounds[i + 1])
            data = corpus.dataset.select(rows)
            fingerprint = Fingerprint()
            for batch in data.select_columns(corpus.text_columns).iter(batch_size=10_000):
                titles = batch["title"] if corpus.has_title else [""] * len(batch["id"])
                for doc_id, text, title in zip(batch["id"], batch["text"], titles):
                    fingerprint.update(doc_id, text, title)
            with datasets_progress(progress):
                data.save_to_disk(str(tmp / name / DATASET_DIR))
            meta = corpus.meta
            ArtifactMeta(kind="corpus", num_rows=len(rows), fingerprint=fingerprint.hexdigest(),
                         source=f"{meta.source} (rows {rows.start}..{rows.stop - 1}, {name} of {parts})",
                         params=meta.params | {"part": i, "first_row": rows.start},
                         command=meta.command).write(tmp / name / DATASET_DIR)
            entries.append({"name": name, "path": name, "num_rows": len(rows), "fingerprint": fingerprint.hexdigest()})
        ArtifactMeta(kind="parts", num_rows=n, fingerprint=corpus.meta.fingerprint, source=corpus.meta.source,
                     params=corpus.meta.params | {"parts": entries}, command=corpus.meta.command).write(tmp)
    shutil.rmtree(corpus.folder / DATASET_DIR)
    return Corpus.load(corpus.folder, verify=False)


def is_parted(folder: Path) -> bool:
    """Whether the corpus folder ``folder`` keeps its documents in parts."""
    return (folder / PARTS_DIR / META_FILE).is_file()


def read_parts(folder: Path) -> ArtifactMeta:
    """The parts metadata of the corpus at ``folder``."""
    return ArtifactMeta.read(folder / PARTS_DIR, "parts", f"gaia-lite corpus <source> --name {folder.name} --parts P")


def part_folders(folder: Path, meta: ArtifactMeta) -> list[Path]:
    """Where each part of the corpus at ``folder`` lives, in row order (relative paths are under ``parts/``)."""
    return [(folder / PARTS_DIR / entry["path"]).resolve() if not os.path.isabs(entry["path"])
            else Path(entry["path"]) for entry in meta.params["parts"]]


def open_parts(folder: Path, meta: ArtifactMeta, verify: bool = False) -> list:
    """Each part of the corpus at ``folder`` as a :class:`~gaia_lite.corpus.Corpus`, checked against the parts
    metadata: a part that is not there, or holds other documents, is a one-line error naming it."""
    from . import Corpus

    parts = []
    for entry, path in zip(meta.params["parts"], part_folders(folder, meta)):
        if not path.is_dir():
            raise MissingArtifactError(f"part {entry['name']} of corpus {folder.name} is not at {path}: mount or "
                                       f"copy it there, or correct its path in {folder / PARTS_DIR / META_FILE}")
        part = Corpus.load(path, verify=verify)
        check_part(part, entry, f"corpus {folder.name}")
        parts.append(part)
    return parts


def check_part(part, entry: dict[str, Any], corpus: str = "its corpus") -> None:
    """Raise :class:`ArtifactError` unless the corpus ``part`` holds the documents ``entry`` (its line of the parts
    metadata of ``corpus``) lists: the same row count and fingerprint."""
    if (part.meta.num_rows, part.meta.fingerprint) != (entry["num_rows"], entry["fingerprint"]):
        raise ArtifactError(
            f"part {entry['name']} at {part.folder} holds {part.meta.num_rows} documents with fingerprint "
            f"{part.meta.fingerprint[:19]}, not the {entry['num_rows']} with {entry['fingerprint'][:19]} that "
            f"{corpus} lists: put the right part there")


def concatenated(parts: list) -> Any:
    """The parts' Datasets as one, in row order, memory-mapped (no copy)."""
    import datasets

    return parts[0].dataset if len(parts) == 1 else datasets.concatenate_datasets([p.dataset for p in parts])


def build_each_part(build, corpus, *, out=None, workdir=None, log=print, **options) -> Path:
    """Run the index build ``build`` (``build_sparse_index``, ``build_dense_index``) on each part of ``corpus`` in
    turn, each part's index in the part's own folder (its shards on the executor ``options`` name), with no merge
    across parts; return the corpus's ``parts/`` folder. Parts already built are kept, as a resumed build keeps
    its finished shards."""
    if out is not None or workdir is not None:
        raise InputError(f"{corpus.name} is kept in {len(corpus.parts)} parts, each indexed in its own folder: "
                         "drop --out and --workdir")
    for i, part in enumerate(corpus.parts, start=1):
        if log:
            log(f"part {i} of {len(corpus.parts)}: {part.folder}")
        build(part, log=log, **options)
    return corpus.folder / PARTS_DIR
