"""Pull a pushed corpus back, verified, and resolve ``hf://`` specs to local corpora.

A pull downloads the repo (or reads a local folder of that layout), checks every file against the manifest,
rebuilds ``indexes/<name>/dataset`` with ``save_to_disk`` and recomputes its content fingerprint, checks every
index against it, and only then moves the artifacts into place: a failed pull leaves the previous local copy
as it was.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

from ..artifacts import FORMAT_VERSION, ArtifactMeta, datasets_progress, link_or_copy, swap_in
from ..config import corpus_dir, indexes_root
from ..corpus import Corpus
from ..errors import ArtifactError, ArtifactMismatchError, InputError, MissingArtifactError
from . import client
from .card import portable
from .layout import INDEXES_DIR, MANIFEST, MANIFEST_KIND, PULL_RECORD, REPO_TYPE
from .specs import RepoSpec, is_hub_spec, parse_spec


def pull_corpus(
    repo_id_or_path: str | os.PathLike,
    *,
    revision: str | None = None,
    name: str | None = None,
    root: str | os.PathLike | None = None,
    token: str | None = None,
    force: bool = False,
    progress: bool = True,
) -> Corpus:
    """Fetch a pushed corpus into ``indexes/<name>/`` and return it, verified.

    ``repo_id_or_path`` is a Hub dataset repo (``owner/name``, ``hf://owner/name[@revision]``) or a local folder
    with the repo's layout (a dry run, a clone, a snapshot). ``name`` defaults to the repo's name (for a
    folder, to the corpus's own). Every file is checked against the manifest, the Dataset's content
    fingerprint is recomputed and every index is checked against it before anything replaces the local copy.
    A folder holding a different corpus that was not pulled from the same place is refused unless ``force``.
    """
    local = _local_repo(repo_id_or_path)
    spec = None if local else parse_spec(str(repo_id_or_path), revision)
    base = indexes_root(root)
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".pull-", dir=base))
    try:
        if local:
            repo, where, origin = local, str(local), {"path": str(local.resolve())}
        else:
            repo, where = staging / "repo", str(spec)
            origin = {"repo_id": spec.repo_id, "revision": spec.revision}
            _download(spec, repo, token)
        manifest = _read_manifest(repo, where)
        name = name or (spec.name if spec else manifest["name"])
        if "/" in name or name.startswith(".") or not name:
            raise InputError(f"--name {name!r}: give a bare corpus name (no '/', not starting with '.')")
        final = corpus_dir(name, root)
        _check_target(final, manifest, origin, force)
        _verify_files(repo, manifest, where)
        out = staging / name
        _materialize(repo, manifest, out, final, where, progress, link=not local)
        _install(out, final)
        record = {**origin, "name": manifest["name"], "num_rows": manifest["num_rows"],
                  "fingerprint": manifest["fingerprint"], "artifacts": ["dataset", *manifest["artifacts"]],
                  "pulled": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
        (final / PULL_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Corpus.load(final, verify=False)


def resolve_corpus(spec: str, *, root: str | os.PathLike | None = None, token: str | None = None,
                   verify: bool = False) -> Corpus:
    """The local corpus for ``hf://owner/repo[@revision]``: pulled into ``indexes/<repo>/`` the first time,
    reused afterwards (without the network) while that folder says it was pulled from the same repo and
    revision and its data still matches what was pulled."""
    ref = parse_spec(spec)
    folder = corpus_dir(ref.name, root)
    record = _read_record(folder)
    if record and record.get("repo_id") == ref.repo_id and record.get("revision") == ref.revision:
        try:
            corpus = Corpus.load(folder, verify=verify)
        except ArtifactError:
            corpus = None  # damaged since: pull it again
        if corpus is not None and corpus.meta.fingerprint == record.get("fingerprint"):
            return corpus
    return pull_corpus(ref.repo_id, revision=ref.revision, root=root, token=token, progress=False)


def _local_repo(value) -> Path | None:
    """``value`` as a local repo folder, or None where it names a Hub repo."""
    text = os.fspath(value)
    if is_hub_spec(text):
        return None
    path = Path(text)
    if path.is_dir():
        return path
    if text.startswith((".", "/", "~")):
        raise MissingArtifactError(f"{text}: no such folder; give a folder written by `gaia-lite push --dry-run` "
                                   "or a Hub repo id (owner/name)")
    return None


def _download(spec: RepoSpec, dest: Path, token: str | None) -> None:
    from huggingface_hub import HfApi

    token = client.token(token, required=False)
    with client.hub_errors(spec, token, "pull from"):
        HfApi(token=token).snapshot_download(spec.repo_id, repo_type=REPO_TYPE, revision=spec.revision,
                                             local_dir=str(dest))


def _read_manifest(repo: Path, where: str) -> dict:
    path = repo / MANIFEST
    if not path.is_file():
        raise MissingArtifactError(f"{where} has no {MANIFEST}, so it was not pushed by gaia_lite (or the push did "
                                   "not finish): push it with `gaia-lite push <corpus> <repo_id>`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        kind, version = manifest["kind"], manifest["format_version"]
        manifest["name"], manifest["num_rows"], manifest["fingerprint"], manifest["files"]
    except (ValueError, KeyError, TypeError) as e:
        raise ArtifactError(f"{where}: {MANIFEST} is unreadable ({e}): push the corpus again") from None
    if kind != MANIFEST_KIND:
        raise ArtifactError(f"{where}: {MANIFEST} describes a {kind!r}, not a pushed corpus ({MANIFEST_KIND!r})")
    if version > FORMAT_VERSION:
        raise ArtifactError(f"{where} has format version {version}, newer than this gaia_lite reads "
                            f"({FORMAT_VERSION}): upgrade gaia_lite")
    return manifest


def _verify_files(repo: Path, manifest: dict, where: str) -> None:
    """Every file the manifest lists, with its size and sha256; all problems named at once."""
    missing, wrong = [], []
    for rel, expected in manifest["files"].items():
        path = repo / rel
        if not path.is_file():
            missing.append(rel)
            continue
        size = path.stat().st_size
        if size != expected["size"]:
            hint = " (a Git LFS pointer: run `git lfs pull`)" if client.is_lfs_pointer(path) else ""
            wrong.append(f"{rel}: {size} bytes, expected {expected['size']}{hint}")
        elif client.sha256(path) != expected["sha256"]:
            wrong.append(f"{rel}: sha256 {client.sha256(path)[:12]}, expected {expected['sha256'][:12]}")
    if missing:
        raise MissingArtifactError(
            f"{where} lacks {len(missing)} of the {len(manifest['files'])} files its {MANIFEST} lists: "
            f"{', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}; the upload was incomplete: push the "
            "corpus again")
    if wrong:
        raise ArtifactMismatchError(
            f"{where}: {len(wrong)} file(s) differ from what was pushed: {'; '.join(wrong[:5])}"
            f"{' …' if len(wrong) > 5 else ''}. They were damaged or edited after the push: pull again, or push "
            "the corpus again from its source; nothing local was changed")


def _materialize(repo: Path, manifest: dict, out: Path, final: Path, where: str, progress: bool, link: bool) -> None:
    """Build the local artifacts of the pulled corpus in ``out`` and check them against the manifest. ``link``
    hard-links index files from ``repo`` (only for a download, never for a user's folder)."""
    corpus_meta = ArtifactMeta(**manifest["corpus"])
    if (corpus_meta.num_rows, corpus_meta.fingerprint) != (manifest["num_rows"], manifest["fingerprint"]):
        raise ArtifactMismatchError(f"{where}: the manifest's corpus metadata disagrees with its own row count or "
                                    "fingerprint: push the corpus again")
    _save_configs(repo, manifest, out, where, progress)
    corpus_meta.write(out / "dataset")
    corpus = Corpus.load(out, verify=True)  # recomputes the content fingerprint
    for name, m in manifest["artifacts"].items():
        dest = out / name
        _copy_index(repo / INDEXES_DIR / name, dest, link)
        meta = ArtifactMeta.read(dest, m["kind"], f"gaia-lite pull {where}")
        _check_index(name, meta, dest, corpus, where)
        # The index now lives beside the pulled corpus: point its metadata there.
        data = asdict(meta) | {"source": str(final), "command": portable(meta.command, meta.source, str(final))}
        (dest / MANIFEST).unlink()  # may be a hard link into the download: replace, never write through
        ArtifactMeta(**data).write(dest)


def _save_configs(repo: Path, manifest: dict, out: Path, where: str, progress: bool) -> None:
    """Each config's parquet shards as a ``save_to_disk`` folder: the documents as ``dataset``, the embeddings
    in their dense index's folder."""
    import datasets

    cache = out.parent / "cache"
    with datasets_progress(progress):
        for config, c in manifest["configs"].items():
            files = [str(repo / s) for s in c["shards"]]
            ds = datasets.Dataset.from_parquet(files, cache_dir=str(cache), keep_in_memory=False)
            if len(ds) != c["num_rows"] or len(ds) != manifest["num_rows"]:
                raise ArtifactMismatchError(
                    f"{where}: config {config!r} holds {len(ds)} rows, but the manifest says {c['num_rows']} and the "
                    f"corpus has {manifest['num_rows']}: push the corpus again")
            target = out / ("dataset" if c["artifact"] == "dataset" else Path(c["artifact"], "embeddings"))
            ds.save_to_disk(str(target))
            del ds


def _copy_index(src: Path, dest: Path, link: bool) -> None:
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = path.relative_to(src)
        if rel.parts[0] == ".cache":
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (link_or_copy if link else shutil.copy2)(path, dest / rel)


def _check_index(name: str, meta: ArtifactMeta, dest: Path, corpus: Corpus, where: str) -> None:
    """That the index in ``dest`` was built from the pulled corpus, and its row map or docids fit it."""
    import datasets

    if (meta.num_rows, meta.fingerprint) != (corpus.meta.num_rows, corpus.meta.fingerprint):
        raise ArtifactMismatchError(
            f"{where}: index {name} was built from {meta.num_rows} documents with fingerprint "
            f"{meta.fingerprint[:19]}, but the pushed corpus holds {corpus.meta.num_rows} with "
            f"{corpus.meta.fingerprint[:19]}: rebuild the index where the corpus was built (`{meta.command}`) "
            "and push again")
    if meta.kind == "sparse":
        import numpy as np

        rows = np.load(dest / "rows.npy")
        if len(rows) != meta.params.get("indexed") or (len(rows) and int(rows.max()) >= len(corpus)):
            raise ArtifactMismatchError(f"{where}: {name}'s rows.npy does not fit the corpus: push it again")
    elif meta.kind in ("duplicates", "audit"):
        import pyarrow.parquet as pq

        table = "clusters.parquet" if meta.kind == "duplicates" else "documents.parquet"
        if pq.read_table(dest / table, columns=["id"]).column("id").to_pylist() != corpus.ids:
            raise ArtifactMismatchError(f"{where}: {name}'s {table} is not in corpus order: push it again")
    else:
        ids = corpus.ids
        docids = (dest / "docid").read_text(encoding="utf-8").splitlines()
        vectors = datasets.load_from_disk(str(dest / "embeddings")).data.column("id").to_pylist()
        if docids != ids or vectors != ids:
            raise ArtifactMismatchError(f"{where}: {name}'s docid sidecar or embeddings are not in corpus order: "
                                        "push it again")


def _check_target(final: Path, manifest: dict, origin: dict, force: bool) -> None:
    meta_path = final / "dataset" / MANIFEST
    if force or not meta_path.is_file():
        return
    try:
        local = json.loads(meta_path.read_text())
    except ValueError:
        return  # unreadable: not a good copy worth keeping
    record = _read_record(final) or {}
    same_origin = all(record.get(k) == v for k, v in origin.items() if k != "revision")
    if local.get("fingerprint") == manifest["fingerprint"] or same_origin:
        return
    raise ArtifactMismatchError(
        f"{final} holds another corpus ({local.get('num_rows')} documents, fingerprint "
        f"{str(local.get('fingerprint'))[:19]}, from {local.get('source')}), not the pulled one "
        f"({manifest['num_rows']} documents, {manifest['fingerprint'][:19]}): pull into another folder with "
        "--name NAME, or pass --force to replace it")


def _install(out: Path, final: Path) -> None:
    """Move each staged artifact into ``final``, replacing the one there by two renames."""
    final.mkdir(parents=True, exist_ok=True)
    for artifact in sorted(out.iterdir()):
        swap_in(artifact, final / artifact.name)


def _read_record(folder: Path) -> dict | None:
    try:
        return json.loads((folder / PULL_RECORD).read_text())
    except (OSError, ValueError):
        return None
