"""Share a built corpus through the Hugging Face Hub: push it, pull it back verified, export result sets.

One dataset repo holds one corpus, written in one commit::

    README.md                                dataset card: YAML (configs, dataset_info) + what, how, rebuild
    gaia_lite.json                           manifest: name, row count, fingerprint, every artifact's metadata,
                                             sha256 and size of every file below
    data/train-00000-of-00001.parquet        config "default": the canonical Dataset (id, title, text, metadata)
    embeddings-<model>/train-00000-of-00001.parquet
                                             config "embeddings-<model>": (id, embedding), one per dense index
    indexes/sparse-flat/...                  the Lucene index folder as built (+ its gaia_lite.json, rows.npy)
    indexes/dense-<model>/{index,docid,gaia_lite.json}
                                             the FAISS index and docid sidecar (Pyserini's layout)

The parquet shards and the card's YAML are written as ``Dataset.push_to_hub`` writes them (same shard names,
same sharding rule, same ``configs``/``dataset_info`` metadata), so ``load_dataset(repo_id)`` and
``load_dataset(repo_id, "embeddings-<model>")`` work as on any Hub dataset. They are staged locally and uploaded
with the index folders and the manifest in a single commit, rather than by ``push_to_hub``'s own commits:
readers never see a half-pushed repo, the manifest can checksum the exact bytes uploaded, and ``--dry-run``
writes exactly the folder that would be uploaded. Embeddings are a config of their own, not a column: the
documents stay light for those who only read the text, several models can sit side by side, and each
config's rows line up with the corpus ids (the pull checks that they do).

A pull downloads the repo (or reads a local folder of that layout), checks every file against the manifest,
rebuilds ``indexes/<name>/dataset`` with ``save_to_disk`` and recomputes its content fingerprint, checks every
index against it, and only then moves the artifacts into place: a failed pull leaves the previous local copy
as it was.

Corpus specs: anywhere a corpus name or folder is accepted, ``hf://<owner>/<repo>[@<revision>]`` names a
Hub repo. It is pulled once into ``indexes/<repo>/`` and reused afterwards (no network) while the local copy
still says it came from that repo and revision. The ``hf://`` prefix cannot be mistaken for a local corpus:
a corpus name holds no ``:`` or ``/``, and no local path starts with ``hf:``.

Tokens come from huggingface_hub's usual places (``$HF_TOKEN``, then ``hf auth login``'s token file) unless
passed; they are handed to ``HfApi`` and never printed, logged or written anywhere.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .artifacts import (
    FORMAT_VERSION,
    META_FILE,
    ArtifactMeta,
    atomic_build,
    check_same_documents,
    datasets_progress,
    link_or_copy,
    package_version,
    swap_in,
)
from .config import corpus_dir, indexes_root
from .errors import (
    ArtifactError,
    ArtifactMismatchError,
    HubError,
    InputError,
    MissingArtifactError,
)

__all__ = ["HUB_PREFIX", "PushReport", "RepoSpec", "export_results", "is_hub_spec", "parse_spec", "pull_corpus",
           "push_corpus", "resolve_corpus", "results_dataset"]

#: Prefix that marks a corpus spec as a Hub repo: ``hf://owner/repo[@revision]``.
HUB_PREFIX = "hf://"
MANIFEST = META_FILE  # gaia_lite.json, at the repo root
MANIFEST_KIND = "hub-corpus"
#: Written beside a pulled corpus's artifacts: where it came from, so that a later resolve can reuse it.
PULL_RECORD = "hub.json"
CARD = "README.md"
DATA_DIR = "data"
INDEXES_DIR = "indexes"
SPLIT = "train"
EMBEDDINGS_PREFIX = "embeddings-"
REPO_TYPE = "dataset"
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")
# What a push owns in a repo: files there that the new push does not write are deleted in the same commit.
_OWNED = re.compile(rf"^({DATA_DIR}/|{EMBEDDINGS_PREFIX}[^/]+/|{INDEXES_DIR}/|results/)")


# --- specs --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RepoSpec:
    """A Hub dataset repo and an optional revision (branch, tag or commit)."""

    repo_id: str
    revision: str | None = None

    @property
    def name(self) -> str:
        """The repo's name without its owner: the default local corpus name."""
        return self.repo_id.split("/", 1)[1]

    def __str__(self) -> str:
        return HUB_PREFIX + self.repo_id + (f"@{self.revision}" if self.revision else "")


def is_hub_spec(spec: Any) -> bool:
    """Whether ``spec`` is a ``hf://`` corpus spec."""
    return isinstance(spec, str) and spec.startswith(HUB_PREFIX)


def parse_spec(spec: str, revision: str | None = None) -> RepoSpec:
    """Parse ``hf://owner/repo[@revision]`` (or ``owner/repo[@revision]``); ``revision`` overrides the spec's."""
    text = spec.removeprefix(HUB_PREFIX)
    repo_id, _, rev = text.partition("@")
    if not _REPO_ID.fullmatch(repo_id):
        raise InputError(f"{spec!r} is not a Hub dataset repo: write it as owner/name or hf://owner/name[@revision]")
    return RepoSpec(repo_id, revision or rev or None)


# --- push ---------------------------------------------------------------------------------------------------

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
    from .corpus import Corpus

    spec = parse_spec(repo_id, revision)
    corpus = corpus if isinstance(corpus, Corpus) else Corpus.load(corpus, root=root, verify=True)
    if dry_run_dir is not None:
        target = Path(dry_run_dir)
        if target.exists() and any(target.iterdir()) and not (target / MANIFEST).is_file():
            raise InputError(f"{target} exists and is not an earlier dry run: pass an empty or new folder")
        with atomic_build(target) as tmp:
            manifest = _stage(corpus, tmp, spec, private, results, progress, link=False)
        files = sorted(manifest["files"]) + [CARD, MANIFEST]
        size = sum((target / f).stat().st_size for f in files)
        return PushReport(spec.repo_id, spec.revision, private, files, size, list(manifest["artifacts"]),
                          folder=target)

    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    token = _token(token, required=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{corpus.name}.push-", dir=corpus.folder.parent))
    try:
        manifest = _stage(corpus, staging, spec, private, results, progress, link=True)
        files = sorted(manifest["files"]) + [CARD, MANIFEST]
        with _hub_errors(spec, token, "push to"):
            api = HfApi(token=token)
            api.create_repo(spec.repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True)
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
    return PushReport(spec.repo_id, spec.revision, private, files, size, list(manifest["artifacts"]),
                      url=f"https://huggingface.co/datasets/{spec.repo_id}", commit=getattr(info, "oid", None),
                      deleted=stale)


def _artifacts(corpus) -> dict[str, ArtifactMeta]:
    """The corpus's index folders, each checked against the corpus: a stale index is never published."""
    found = {}
    for folder in sorted(p for p in corpus.folder.iterdir() if p.is_dir() and (p / MANIFEST).is_file()):
        if folder.name == "dataset" or folder.name.startswith("."):
            continue
        data = json.loads((folder / MANIFEST).read_text())
        if data.get("kind") not in ("sparse", "dense"):
            continue
        meta = ArtifactMeta.read(folder, data["kind"], f"gaia-lite index {data['kind']} {corpus.folder}")
        check_same_documents(f"{meta.kind} index {folder}", meta, corpus.meta, meta.command)
        found[folder.name] = meta
    return found


def _stage(corpus, out: Path, spec: RepoSpec, private: bool, results, progress: bool, link: bool) -> dict:
    """Write the repo's files for ``corpus`` into the empty folder ``out``; returns the manifest. ``link``
    hard-links the index files instead of copying them (only into a temporary folder nobody edits)."""
    import datasets

    artifacts = _artifacts(corpus)
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
        src = corpus.folder / name
        for path in sorted(p for p in src.rglob("*") if p.is_file()):
            rel = path.relative_to(src)
            if meta.kind == "dense" and rel.parts[0] == "embeddings":
                continue  # they travel as the embeddings-<model> config
            if rel.name == "write.lock":
                continue  # Lucene's writer lock: empty, and no reader needs it
            dest = out / INDEXES_DIR / name / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            (link_or_copy if link else shutil.copy2)(path, dest)
    tables = []
    for path in results:
        path = Path(path)
        try:
            records = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise InputError(f"results table {path}: {e}; pass the .json that `gaia-lite eval --table` writes") from None
        records = records if isinstance(records, list) else [records]
        dest = out / "results" / path.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
        tables.append((path.name, records))
    files = {
        str(p.relative_to(out)): {"sha256": _sha256(p), "size": p.stat().st_size}
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
    (out / CARD).write_text(_card(corpus, spec, private, manifest, tables), encoding="utf-8")
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


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


def _card(corpus, spec: RepoSpec, private: bool, manifest: dict, tables) -> str:
    """The dataset card: the YAML ``push_to_hub`` would write for these configs, then the description."""
    from datasets import Features
    from datasets.info import DatasetInfo, DatasetInfosDict
    from datasets.splits import SplitDict, SplitInfo
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCardData

    data = DatasetCardData(pretty_name=f"{corpus.name} (gaia_lite corpus)", tags=["gaia-lite", "retrieval"],
                           task_categories=["text-retrieval"])
    infos, configs = {}, {}
    for name, c in manifest["configs"].items():
        size = sum(manifest["files"][s]["size"] for s in c["shards"])
        info = DatasetInfo(config_name=name, features=Features.from_dict(c["features"]), splits=SplitDict(),
                           download_size=size, dataset_size=c["num_bytes"])
        info.splits.add(SplitInfo(name=SPLIT, num_bytes=c["num_bytes"], num_examples=c["num_rows"]))
        info.size_in_bytes = size + c["num_bytes"]
        infos[name] = info
        configs[name] = {"data_files": [{"split": SPLIT, "path": f"{c['data_dir']}/{SPLIT}-*"}]}
    DatasetInfosDict(infos).to_dataset_card_data(data)
    MetadataConfigs(configs).to_dataset_card_data(data)

    meta = corpus.meta
    lines = [
        f"# {corpus.name}",
        "",
        (f"A corpus built and shared with gaia_lite: {len(corpus):,} documents with unique string ids, the "
         "search indexes built over them, and a manifest (`gaia_lite.json`) with the sha256 of every file, "
         "which `gaia-lite pull` checks before anything is used."),
        "",
        "| | |",
        "|---|---|",
        f"| documents | {len(corpus):,} |",
        f"| columns | {', '.join(f'`{c}`' for c in corpus.dataset.column_names)} |",
        f"| fingerprint | `{meta.fingerprint}` (SHA-256 of id, title and text in row order) |",
        f"| source | `{meta.source}` |",
        f"| built | {meta.created} with gaia_lite {meta.gaia_lite_version} |",
        f"| pushed | {manifest['created']} with gaia_lite {manifest['gaia_lite_version']} |",
        "",
        "## Indexes",
        "",
    ]
    if manifest["artifacts"]:
        lines += ["| folder | kind | parameters |", "|---|---|---|"]
        for name, m in manifest["artifacts"].items():
            lines.append(f"| `{INDEXES_DIR}/{name}` | {_kind_text(m)} | {_params_text(name, m)} |")
    else:
        lines.append("None: only the documents were pushed.")
    lines += [
        "",
        "## Use it",
        "",
        "```bash",
        (f"gaia-lite pull {spec.repo_id}{f' --revision {spec.revision}' if spec.revision else ''}"
         f"    # → indexes/{spec.name}/, verified"),
        f"gaia-lite search {spec} \"your query\"" + (
            " --retriever hybrid" if any(m["kind"] == "dense" for m in manifest["artifacts"].values()) else ""),
        "```",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f"docs = load_dataset({spec.repo_id!r}, split={SPLIT!r})",
    ]
    for name in manifest["configs"]:
        if name != "default":
            lines.append(f"vectors = load_dataset({spec.repo_id!r}, {name!r}, split={SPLIT!r})  # id, embedding")
    lines += ["```", "", "## Rebuild it", "", "```bash", _portable(meta.command, meta.source, corpus.name)]
    for name, m in manifest["artifacts"].items():
        lines.append(_portable(m["command"], m["source"], corpus.name))
    lines += ["```", ""]
    if tables:
        lines += ["## Evaluation", ""]
        for file_name, records in tables:
            lines += [f"From `results/{file_name}`:", "", *_markdown_table(records), ""]
    lines += [
        "## Layout",
        "",
        "```",
        "gaia_lite.json            manifest: name, rows, fingerprint, artifact metadata, sha256 + size of every file",
        f"{DATA_DIR}/                     config `default`: the documents (parquet)",
        *[f"{n}/  config `{n}`: (id, embedding) of `{INDEXES_DIR}/{c['artifact']}`"
          for n, c in manifest["configs"].items() if n != "default"],
        f"{INDEXES_DIR}/<folder>/         index folders as built, each with its own gaia_lite.json",
        "```",
        "",
    ]
    return f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines)


def _kind_text(m: dict) -> str:
    if m["kind"] == "sparse":
        return "Lucene BM25 (Anserini)"
    return f"FAISS {m['params'].get('index_type', 'flat')}, dense"


def _params_text(name: str, m: dict) -> str:
    p = m["params"]
    if m["kind"] == "sparse":
        a = p.get("analyzer", {})
        return (f"fields={p.get('fields')}, language={a.get('language')}, stemmer={a.get('stemmer')}, "
                f"stopwords {'kept' if a.get('keep_stopwords') else 'removed'}")
    e = p.get("encoder", {})
    return (f"model `{e.get('model')}`, {e.get('dim')} dims, {e.get('pooling')} pooling, "
            f"{'normalised' if e.get('normalize') else 'not normalised'}, embeddings in config "
            f"`{EMBEDDINGS_PREFIX}{name.removeprefix('dense-')}`")


def _markdown_table(records: list) -> list[str]:
    columns = list(dict.fromkeys(k for r in records if isinstance(r, dict) for k in r))
    rows = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in records:
        if isinstance(r, dict):
            rows.append("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |")
    return rows


def _portable(command: str, old: str, new: str) -> str:
    """``command`` with the argument ``old`` (a local corpus folder) replaced by ``new``."""
    if not command:
        return command
    try:
        parts = shlex.split(command)
    except ValueError:
        return command
    return shlex.join(new if part == old else part for part in parts)


# --- pull ---------------------------------------------------------------------------------------------------

def pull_corpus(
    repo_id_or_path: str | os.PathLike,
    *,
    revision: str | None = None,
    name: str | None = None,
    root: str | os.PathLike | None = None,
    token: str | None = None,
    force: bool = False,
    progress: bool = True,
):
    """Fetch a pushed corpus into ``indexes/<name>/`` and return it, verified.

    ``repo_id_or_path`` is a Hub dataset repo (``owner/name``, ``hf://owner/name[@revision]``) or a local folder
    with the repo's layout (a dry run, a clone, a snapshot). ``name`` defaults to the repo's name (for a
    folder, to the corpus's own). Every file is checked against the manifest, the Dataset's content
    fingerprint is recomputed and every index is checked against it before anything replaces the local copy.
    A folder holding a different corpus that was not pulled from the same place is refused unless ``force``.
    """
    from .corpus import Corpus

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
                   verify: bool = False):
    """The local corpus for ``hf://owner/repo[@revision]``: pulled into ``indexes/<repo>/`` the first time,
    reused afterwards (without the network) while that folder says it was pulled from the same repo and
    revision and its data still matches what was pulled."""
    from .corpus import Corpus

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

    token = _token(token, required=False)
    with _hub_errors(spec, token, "pull from"):
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
            hint = " (a Git LFS pointer: run `git lfs pull`)" if _is_lfs_pointer(path) else ""
            wrong.append(f"{rel}: {size} bytes, expected {expected['size']}{hint}")
        elif _sha256(path) != expected["sha256"]:
            wrong.append(f"{rel}: sha256 {_sha256(path)[:12]}, expected {expected['sha256'][:12]}")
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
    import datasets

    from .corpus import Corpus

    corpus_meta = ArtifactMeta(**manifest["corpus"])
    if (corpus_meta.num_rows, corpus_meta.fingerprint) != (manifest["num_rows"], manifest["fingerprint"]):
        raise ArtifactMismatchError(f"{where}: the manifest's corpus metadata disagrees with its own row count or "
                                    "fingerprint: push the corpus again")
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
    corpus_meta.write(out / "dataset")
    corpus = Corpus.load(out, verify=True)  # recomputes the content fingerprint
    ids = corpus.ids
    for name, m in manifest["artifacts"].items():
        src = repo / INDEXES_DIR / name
        dest = out / name
        for path in sorted(p for p in src.rglob("*") if p.is_file()):
            rel = path.relative_to(src)
            if rel.parts[0] == ".cache":
                continue
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (link_or_copy if link else shutil.copy2)(path, dest / rel)
        meta = ArtifactMeta.read(dest, m["kind"], f"gaia-lite pull {where}")
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
        else:
            docids = (dest / "docid").read_text(encoding="utf-8").splitlines()
            vectors = datasets.load_from_disk(str(dest / "embeddings")).data.column("id").to_pylist()
            if docids != ids or vectors != ids:
                raise ArtifactMismatchError(f"{where}: {name}'s docid sidecar or embeddings are not in corpus order: "
                                            "push it again")
        # The index now lives beside the pulled corpus: point its metadata there.
        data = asdict(meta) | {"source": str(final), "command": _portable(meta.command, meta.source, str(final))}
        (dest / MANIFEST).unlink()  # may be a hard link into the download: replace, never write through
        ArtifactMeta(**data).write(dest)


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


# --- result sets --------------------------------------------------------------------------------------------

def results_dataset(corpus, results: Mapping[str, Sequence], *, settings: Mapping[str, Any] | None = None):
    """A result set as a ``Dataset``: one row per hit of each ``{query: hits}``.

    Columns: ``query``, ``rank``, ``doc_id``, ``score``; for hybrid hits also ``bm25_score``, ``bm25_rank``,
    ``dense_score``, ``dense_rank``, ``found_by``; ``document``, the hit's corpus row (every column, looked up
    by id); and ``settings``, a JSON string of ``settings`` plus the corpus's name, row count and fingerprint,
    so the result set says exactly what produced it.
    """
    import datasets

    from .corpus import Corpus

    corpus = corpus if isinstance(corpus, Corpus) else Corpus.load(corpus, verify=False)
    described = {"corpus": corpus.name, "num_rows": len(corpus), "fingerprint": corpus.meta.fingerprint,
                 **dict(settings or {})}
    settings_json = json.dumps(described, ensure_ascii=False, sort_keys=True, default=str)
    hybrid = any(hasattr(h, "found_by") for hits in results.values() for h in hits)
    rows = []
    for query, hits in results.items():
        for h in hits:
            row = {"query": query, "rank": int(h.rank), "doc_id": h.doc_id, "score": float(h.score)}
            if hybrid:
                row |= {"bm25_score": h.bm25_score, "bm25_rank": h.bm25_rank, "dense_score": h.dense_score,
                        "dense_rank": h.dense_rank, "found_by": list(h.found_by)}
            row["document"] = corpus.get(h.doc_id)
            row["settings"] = settings_json
            rows.append(row)
    columns = {
        "query": datasets.Value("string"), "rank": datasets.Value("int32"), "doc_id": datasets.Value("string"),
        "score": datasets.Value("float64"),
    }
    if hybrid:
        columns |= {"bm25_score": datasets.Value("float64"), "bm25_rank": datasets.Value("int32"),
                    "dense_score": datasets.Value("float64"), "dense_rank": datasets.Value("int32"),
                    "found_by": datasets.List(datasets.Value("string"))}
    columns["document"] = dict(corpus.dataset.features)
    columns["settings"] = datasets.Value("string")
    features = datasets.Features(columns)
    if not rows:
        return datasets.Dataset.from_dict({k: [] for k in columns}, features=features)
    return datasets.Dataset.from_list(rows, features=features)


def export_results(
    dataset,
    *,
    out: str | os.PathLike | None = None,
    repo_id: str | None = None,
    private: bool = True,
    revision: str | None = None,
    token: str | None = None,
) -> str:
    """Save a result set (from :func:`results_dataset`) to ``out`` (``.parquet``, ``.jsonl``, else a
    ``save_to_disk`` folder) or push it to the Hub dataset repo ``repo_id`` with ``Dataset.push_to_hub``.
    Returns where it went."""
    if (out is None) == (repo_id is None):
        raise InputError("export_results: give exactly one of out= (a local path) or repo_id= (a Hub repo)")
    if out is not None:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".parquet":
            dataset.to_parquet(str(path))
        elif path.suffix in (".jsonl", ".json"):
            dataset.to_json(str(path), lines=path.suffix == ".jsonl", force_ascii=False)
        else:
            dataset.save_to_disk(str(path))
        return str(path)
    spec = parse_spec(repo_id, revision)
    token = _token(token, required=True)
    with _hub_errors(spec, token, "push results to"):
        dataset.push_to_hub(spec.repo_id, private=private, revision=spec.revision, token=token,
                            commit_message="gaia_lite: result set")
    return f"https://huggingface.co/datasets/{spec.repo_id}"


# --- helpers ------------------------------------------------------------------------------------------------

def _token(token: str | None, *, required: bool) -> str | None:
    """``token``, else the one huggingface_hub finds ($HF_TOKEN, the login file); never shown anywhere."""
    if token is None:
        from huggingface_hub import get_token

        token = get_token()
    if required and not token:
        raise HubError("no Hugging Face token found: run `hf auth login` (a token with write access) or set "
                       "HF_TOKEN, or use --dry-run DIR to write the folder without uploading")
    return token


class _hub_errors:
    """Turn the Hub client's errors into :class:`HubError` that says what to do; the token is scrubbed."""

    def __init__(self, spec: RepoSpec, token: str | None, action: str):
        self.spec, self.token, self.action = spec, token, action

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if error is None or isinstance(error, (HubError, KeyboardInterrupt)) or not isinstance(error, Exception):
            return False
        from huggingface_hub.errors import (
            GatedRepoError,
            HfHubHTTPError,
            OfflineModeIsEnabled,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        where = f"{self.action} {self.spec.repo_id}" + (f"@{self.spec.revision}" if self.spec.revision else "")
        if isinstance(error, OfflineModeIsEnabled):
            message = f"cannot {where}: HF_HUB_OFFLINE is set; unset it where the Hub is reachable, or use a local folder"
        elif isinstance(error, GatedRepoError):
            message = f"cannot {where}: the repo is gated; accept its conditions on the Hub first"
        elif isinstance(error, RepositoryNotFoundError):
            message = (f"cannot {where}: no such dataset repo, or no access to it; check the name, and for a private "
                       "repo log in with `hf auth login` or set HF_TOKEN")
        elif isinstance(error, RevisionNotFoundError):
            message = f"cannot {where}: no revision {self.spec.revision!r} in that repo"
        elif type(error).__module__.split(".")[0].rstrip("2") in ("httpx", "httpcore", "requests", "urllib3"):
            # The HTTP client's own errors (no DNS, refused, timed out) are not OSErrors.
            message = (f"cannot {where}: the Hub cannot be reached ({type(error).__name__}: {error}); check the "
                       "network or proxy settings, or push with --dry-run DIR and upload that folder later")
        elif isinstance(error, (HfHubHTTPError, OSError, ValueError)):
            message = f"cannot {where} ({type(error).__name__}: {error}); check the repo id, your token's access, and the network"
        else:
            return False
        if self.token:
            message = message.replace(self.token, "***")
        raise HubError(message) from None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _is_lfs_pointer(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(40).startswith(b"version https://git-lfs")
    except OSError:
        return False
