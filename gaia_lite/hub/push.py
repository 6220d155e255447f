"""Push a built corpus, its indexes and results tables to a Hub dataset repo, in one commit."""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..artifacts import (
    FORMAT_VERSION,
    ArtifactMeta,
    atomic_build,
    check_same_documents,
    datasets_progress,
    link_or_copy,
    package_version,
)
from ..corpus import Corpus
from ..errors import InputError
from . import client
from .card import dataset_card
from .layout import CARD, DATA_DIR, EMBEDDINGS_PREFIX, INDEXES_DIR, MANIFEST, MANIFEST_KIND, REPO_TYPE, SPLIT
from .specs import RepoSpec, parse_spec

# What a push owns in a repo: files there that the new push does not write are deleted in the same commit.
_OWNED = re.compile(rf"^({DATA_DIR}/|{EMBEDDINGS_PREFIX}[^/]+/|{INDEXES_DIR}/|results/)")


@dataclass
class PushReport:
    """What a push uploaded (or, for a dry run, wrote): the repo, the files, and where they went."""

    repo_id: str
    revision: str | None
    private: bool
    files: list[str]
    num_bytes: int
    artifacts: list[str]
    url: str | None = None  # None for a dry run
    commit: str | None = None
    folder: Path | None = None  # the dry run's folder
    deleted: list[str] = field(default_factory=list)


def push_corpus(
    corpus,
    repo_id: str,
    *,
    private: bool = True,
    revision: str | None = None,
    token: str | None = None,
    dry_run_dir: str | os.PathLike | None = None,
    results: Sequence[str | os.PathLike] = (),
    root: str | os.PathLike | None = None,
    progress: bool = True,
) -> PushReport:
    """Put a built corpus and its indexes on the Hub as dataset repo ``repo_id``, in one commit.

    The corpus is verified (fingerprint recomputed) and every index checked against it before anything is
    written. ``private`` applies when the repo is created. ``results`` are results tables (JSON records, as
    ``gaia-lite eval --table`` writes) shown in the card and uploaded under ``results/``. With ``dry_run_dir``
    nothing is uploaded: that folder receives exactly what would be.
    """
    spec = parse_spec(repo_id, revision)
    corpus = corpus if isinstance(corpus, Corpus) else Corpus.load(corpus, root=root, verify=True)
    push = _Push(corpus, spec, private, results, progress)
    if dry_run_dir is not None:
        return push.dry_run(Path(dry_run_dir))
    return push.upload(token)


@dataclass(frozen=True)
class _Push:
    """One push of ``corpus`` to ``spec``: written into a folder (a dry run) or uploaded in one commit."""

    corpus: Corpus
    spec: RepoSpec
    private: bool
    results: Sequence[str | os.PathLike]
    progress: bool

    def write(self, out: Path, link: bool) -> tuple[dict, list[str]]:
        """Write the repo's files into ``out`` (see :func:`_stage`); returns the manifest and the files to upload."""
        manifest = _stage(self.corpus, out, self.spec, self.results, self.progress, link=link)
        return manifest, sorted(manifest["files"]) + [CARD, MANIFEST]

    def report(self, files: list[str], size: int, manifest: dict, **where) -> PushReport:
        return PushReport(self.spec.repo_id, self.spec.revision, self.private, files, size,
                          list(manifest["artifacts"]), **where)

    def dry_run(self, target: Path) -> PushReport:
        """Write into ``target`` exactly what would be uploaded (``target`` must be empty, new or an earlier dry run)."""
        if target.exists() and any(target.iterdir()) and not (target / MANIFEST).is_file():
            raise InputError(f"{target} exists and is not an earlier dry run: pass an empty or new folder")
        with atomic_build(target) as tmp:
            manifest, files = self.write(tmp, link=False)
        size = sum((target / f).stat().st_size for f in files)
        return self.report(files, size, manifest, folder=target)

    def upload(self, token: str | None) -> PushReport:
        """Stage the files in a temporary folder beside the corpus and upload them in one commit, deleting the
        files of an earlier push that this one does not write."""
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

        spec, corpus = self.spec, self.corpus
        token = client.token(token, required=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{corpus.name}.push-", dir=corpus.folder.parent))
        try:
            manifest, files = self.write(staging, link=True)
            with client.hub_errors(spec, token, "push to"):
                api = HfApi(token=token)
                api.create_repo(spec.repo_id, repo_type=REPO_TYPE, private=self.private, exist_ok=True)
                if spec.revision and spec.revision != "main":
                    api.create_branch(spec.repo_id, branch=spec.revision, repo_type=REPO_TYPE, exist_ok=True)
                remote = api.list_repo_files(spec.repo_id, repo_type=REPO_TYPE, revision=spec.revision)
                stale = sorted(f for f in remote if _OWNED.match(f) and f not in manifest["files"])
                operations = [CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(staging / f)) for f in files]
                operations += [CommitOperationDelete(path_in_repo=f) for f in stale]
                info = api.create_commit(
                    spec.repo_id, operations, repo_type=REPO_TYPE, revision=spec.revision,
                    commit_message=f"gaia_lite: corpus {corpus.name} ({len(corpus):,} documents, "
                                   f"{corpus.meta.fingerprint[:19]})",
                )
            size = sum((staging / f).stat().st_size for f in files)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self.report(files, size, manifest, url=f"https://huggingface.co/datasets/{spec.repo_id}",
                            commit=getattr(info, "oid", None), deleted=stale)


def _indexes(corpus: Corpus) -> dict[str, ArtifactMeta]:
    """The corpus's sparse and dense indexes, its duplicate analysis and its audit, each checked against the
    corpus: a stale one is never published."""
    found = {name: meta for name, meta in corpus.artifacts().items()
             if meta.kind in ("sparse", "dense", "duplicates", "audit")}
    for name, meta in found.items():
        check_same_documents(f"{meta.kind} index {corpus.folder / name}", meta, corpus.meta, meta.command)
    return found


def _stage(corpus: Corpus, out: Path, spec: RepoSpec, results, progress: bool, link: bool) -> dict:
    """Write the repo's files for ``corpus`` into the empty folder ``out``; returns the manifest. ``link``
    hard-links the index files instead of copying them (only into a temporary folder nobody edits)."""
    import datasets

    artifacts = _indexes(corpus)
    configs: dict[str, dict] = {}
    with datasets_progress(progress):
        configs["default"] = _write_config(corpus.dataset, out, DATA_DIR) | {"artifact": "dataset"}
        for name, meta in artifacts.items():
            if meta.kind != "dense":
                continue
            embeddings = datasets.load_from_disk(str(corpus.folder / name / "embeddings"))
            config = EMBEDDINGS_PREFIX + name.removeprefix("dense-")
            configs[config] = _write_config(embeddings, out, config) | {"artifact": name}
    for name, meta in artifacts.items():
        _copy_index(corpus.folder / name, out / INDEXES_DIR / name, meta.kind, link)
    tables = [_copy_results_table(Path(path), out) for path in results]
    files = {
        str(p.relative_to(out)): {"sha256": client.sha256(p), "size": p.stat().st_size}
        for p in sorted(out.rglob("*")) if p.is_file()
    }
    manifest = {
        "kind": MANIFEST_KIND,
        "format_version": FORMAT_VERSION,
        "gaia_lite_version": package_version(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "name": corpus.name,
        "num_rows": len(corpus),
        "fingerprint": corpus.meta.fingerprint,
        "corpus": asdict(corpus.meta),
        "configs": configs,
        "artifacts": {name: asdict(meta) for name, meta in artifacts.items()},
        "files": files,
    }
    (out / CARD).write_text(dataset_card(corpus, spec, manifest, tables), encoding="utf-8")
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def _copy_index(src: Path, dest: Path, kind: str, link: bool) -> None:
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = path.relative_to(src)
        if kind == "dense" and rel.parts[0] == "embeddings":
            continue  # they travel as the embeddings-<model> config
        if rel.name == "write.lock":
            continue  # Lucene's writer lock: empty, and no reader needs it
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (link_or_copy if link else shutil.copy2)(path, dest / rel)


def _copy_results_table(path: Path, out: Path) -> tuple[str, list]:
    """Copy a results table under ``results/``; returns its file name and records, for the card."""
    try:
        records = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"results table {path}: {e}; pass the .json that `gaia-lite eval --table` writes") from None
    records = records if isinstance(records, list) else [records]
    dest = out / "results" / path.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, dest)
    return path.name, records


def _write_config(ds, out: Path, data_dir: str) -> dict:
    """Write ``ds`` as parquet shards named and counted as ``Dataset.push_to_hub`` names and counts them."""
    from datasets import config
    from datasets.utils.py_utils import convert_file_size_to_int

    nbytes = ds.data.nbytes
    num_shards = int(nbytes / convert_file_size_to_int(config.MAX_SHARD_SIZE)) + 1
    (out / data_dir).mkdir(parents=True)
    shards = []
    for index in range(num_shards):
        path = f"{data_dir}/{SPLIT}-{index:05d}-of-{num_shards:05d}.parquet"
        ds.shard(num_shards=num_shards, index=index, contiguous=True).to_parquet(str(out / path))
        shards.append(path)
    return {"data_dir": data_dir, "num_rows": len(ds), "num_bytes": nbytes, "shards": shards,
            "features": ds.features.to_dict()}
