"""Result sets as Hugging Face ``Dataset``s: one row per hit, saved locally or pushed to a Hub dataset repo."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..corpus import Corpus
from ..errors import InputError
from ..types import HybridHit, hit_record
from . import client
from .specs import parse_spec

#: The hit fields a hybrid result set adds as columns; the rest of a hybrid hit explains the fusion.
_HYBRID_COLUMNS = ("bm25_score", "bm25_rank", "dense_score", "dense_rank", "found_by")


def results_dataset(corpus, results: Mapping[str, Sequence], *, settings: Mapping[str, Any] | None = None):
    """A result set as a ``Dataset``: one row per hit of each ``{query: hits}``.

    Columns: ``query``, ``rank``, ``doc_id``, ``score``; for hybrid hits also ``bm25_score``, ``bm25_rank``,
    ``dense_score``, ``dense_rank``, ``found_by``; ``document``, the hit's corpus row (every column, looked up
    by id); and ``settings``, a JSON string of ``settings`` plus the corpus's name, row count and fingerprint,
    so the result set says exactly what produced it.
    """
    import datasets

    corpus = corpus if isinstance(corpus, Corpus) else Corpus.load(corpus, verify=False)
    described = {"corpus": corpus.name, "num_rows": len(corpus), "fingerprint": corpus.meta.fingerprint,
                 **dict(settings or {})}
    settings_json = json.dumps(described, ensure_ascii=False, sort_keys=True, default=str)
    hybrid = any(isinstance(h, HybridHit) for hits in results.values() for h in hits)
    rows = []
    for query, hits in results.items():
        for h in hits:
            record = hit_record(h)
            row = {"query": query, "rank": int(record["rank"]), "doc_id": record["doc_id"],
                   "score": float(record["score"])}
            if hybrid:
                row |= {name: record.get(name) for name in _HYBRID_COLUMNS}
            row["document"] = corpus.get(row["doc_id"])
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


def check_output(out: str | os.PathLike) -> Path:
    """``out`` as a path a result set may be saved to, refusing a folder that holds files other than an earlier
    saved Dataset (call it before long work, so that nothing is computed for nothing)."""
    path = Path(out)
    if path.is_dir() and any(path.iterdir()) and not (path / "dataset_info.json").is_file():
        raise InputError(f"{path} is a folder holding other files: save the result set to a new folder, or to a "
                         ".parquet or .jsonl file")
    return path


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
        path = check_output(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".parquet":
            dataset.to_parquet(str(path))
        elif path.suffix in (".jsonl", ".json"):
            dataset.to_json(str(path), lines=path.suffix == ".jsonl", force_ascii=False)
        else:
            dataset.save_to_disk(str(path))
        return str(path)
    spec = parse_spec(repo_id, revision)
    token = client.token(token, required=True)
    with client.hub_errors(spec, token, "push results to"):
        dataset.push_to_hub(spec.repo_id, private=private, revision=spec.revision, token=token,
                            commit_message="gaia_lite: result set")
    return f"https://huggingface.co/datasets/{spec.repo_id}"


def export_analysis(dataset, card: str, *, out: str | os.PathLike | None = None, repo_id: str | None = None,
                    private: bool = True, revision: str | None = None, token: str | None = None) -> str:
    """Save an analysis result set (a ``Dataset`` and its card, as
    :meth:`~gaia_lite.analysis.contamination.ContaminationReport.to_dataset` and ``card`` make them) to ``out``
    (``.parquet``, ``.jsonl``, else a ``save_to_disk`` folder with the card as its ``README.md``), or push both to
    the Hub dataset repo ``repo_id`` in one commit (``data/train.parquet`` and ``README.md``, which the Hub's
    viewer reads). Returns where it went."""
    if (out is None) == (repo_id is None):
        raise InputError("export_analysis: give exactly one of out= (a local path) or repo_id= (a Hub repo)")
    if out is not None:
        where = export_results(dataset, out=out)
        if Path(where).is_dir():
            (Path(where) / "README.md").write_text(card, encoding="utf-8")
        return where
    import tempfile

    from huggingface_hub import CommitOperationAdd, HfApi

    spec = parse_spec(repo_id, revision)
    token = client.token(token, required=True)
    with tempfile.TemporaryDirectory(prefix="gaia_lite_analysis_") as staging:
        files = {"data/train.parquet": Path(staging, "train.parquet"), "README.md": Path(staging, "README.md")}
        dataset.to_parquet(str(files["data/train.parquet"]))
        files["README.md"].write_text(card, encoding="utf-8")
        with client.hub_errors(spec, token, "push the analysis to"):
            api = HfApi(token=token)
            api.create_repo(spec.repo_id, repo_type="dataset", private=private, exist_ok=True)
            if spec.revision and spec.revision != "main":
                api.create_branch(spec.repo_id, branch=spec.revision, repo_type="dataset", exist_ok=True)
            api.create_commit(spec.repo_id, [CommitOperationAdd(path_in_repo=k, path_or_fileobj=str(v))
                                             for k, v in files.items()],
                              repo_type="dataset", revision=spec.revision, commit_message="gaia_lite: analysis")
    return f"https://huggingface.co/datasets/{spec.repo_id}"
