"""Hub sharing: push layout, pull verification, round trips, the calls that would be made, result sets.

No test reaches the Hub. ``FakeHub`` stands in at the boundary: it replaces ``huggingface_hub.HfApi`` with
a class offering the methods gaia_lite calls, which keeps each repo as a folder and records every call.
Everything on gaia_lite's side (staging, checksums, card, verification, rebuilding) runs for real.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from gaia_lite.errors import (
    ArtifactMismatchError,
    HubError,
    InputError,
    MissingArtifactError,
)

SECRET = "hf_test_TOKEN_never_shown_0123456789"
QUERIES = ["programming language", "search engine library", "java", "running races", "machine learning tools"]


class FakeHub:
    """The Hub's side of the boundary: repos as folders ``<root>/<repo_id>/<revision>``, every call recorded."""

    def __init__(self, root: Path):
        self.root = root
        self.calls: list[tuple[str, dict]] = []
        self.private: dict[str, bool] = {}

    def folder(self, repo_id: str, revision: str | None) -> Path:
        return self.root / repo_id / (revision or "main")

    def named(self, name: str) -> list[dict]:
        return [kwargs for call, kwargs in self.calls if call == name]

    def api_class(self):
        hub = self

        class FakeHfApi:
            def __init__(self, endpoint=None, token=None, **kwargs):
                hub.calls.append(("HfApi", {"token": token}))

            def create_repo(self, repo_id, *, repo_type=None, private=None, exist_ok=False, **kwargs):
                hub.calls.append(("create_repo", {"repo_id": repo_id, "repo_type": repo_type, "private": private,
                                                  "exist_ok": exist_ok}))
                hub.folder(repo_id, None).mkdir(parents=True, exist_ok=True)
                hub.private.setdefault(repo_id, private)
                return f"https://huggingface.co/datasets/{repo_id}"

            def create_branch(self, repo_id, *, branch, repo_type=None, exist_ok=False, **kwargs):
                hub.calls.append(("create_branch", {"repo_id": repo_id, "branch": branch, "repo_type": repo_type}))
                if not hub.folder(repo_id, branch).exists():
                    shutil.copytree(hub.folder(repo_id, None), hub.folder(repo_id, branch))

            def list_repo_files(self, repo_id, *, repo_type=None, revision=None, **kwargs):
                hub.calls.append(("list_repo_files", {"repo_id": repo_id, "repo_type": repo_type,
                                                      "revision": revision}))
                folder = hub.folder(repo_id, revision)
                return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())

            def create_commit(self, repo_id, operations, *, commit_message, repo_type=None, revision=None, **kwargs):
                from huggingface_hub import CommitOperationAdd, CommitOperationDelete

                operations = list(operations)
                adds = [op for op in operations if isinstance(op, CommitOperationAdd)]
                deletes = [op.path_in_repo for op in operations if isinstance(op, CommitOperationDelete)]
                hub.calls.append(("create_commit", {"repo_id": repo_id, "repo_type": repo_type, "revision": revision,
                                                    "adds": sorted(op.path_in_repo for op in adds),
                                                    "deletes": sorted(deletes), "message": commit_message}))
                folder = hub.folder(repo_id, revision)
                for op in adds:
                    dest = folder / op.path_in_repo
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(op.path_or_fileobj, dest)
                for path in deletes:
                    (folder / path).unlink()
                return SimpleNamespace(oid="c0ffee" * 6 + "0000", commit_url=f"https://huggingface.co/{repo_id}")

            def snapshot_download(self, repo_id, *, repo_type=None, revision=None, local_dir=None, **kwargs):
                import httpx
                from huggingface_hub.errors import (
                    RepositoryNotFoundError,
                    RevisionNotFoundError,
                )

                hub.calls.append(("snapshot_download", {"repo_id": repo_id, "repo_type": repo_type,
                                                        "revision": revision}))
                response = httpx.Response(404, request=httpx.Request("GET", f"https://huggingface.co/{repo_id}"))
                if repo_type != "dataset" or not hub.folder(repo_id, None).is_dir():
                    raise RepositoryNotFoundError("404 Client Error: Repository Not Found", response=response)
                if not hub.folder(repo_id, revision).is_dir():
                    raise RevisionNotFoundError("404 Client Error: Revision Not Found", response=response)
                shutil.copytree(hub.folder(repo_id, revision), local_dir, dirs_exist_ok=True)
                return str(local_dir)

        return FakeHfApi


@pytest.fixture()
def hub(tmp_path, monkeypatch):
    """The fake Hub, with a token in $HF_TOKEN as a logged-in user has."""
    import huggingface_hub

    fake = FakeHub(tmp_path / "hub")
    monkeypatch.setattr(huggingface_hub, "HfApi", fake.api_class())
    monkeypatch.setenv("HF_TOKEN", SECRET)
    return fake


@pytest.fixture(scope="module")
def full_corpus(tiny_corpus, tiny_dense):
    """The tiny corpus with its flat and multifield Lucene indexes and its dense index."""
    return tiny_corpus


@pytest.fixture(scope="module")
def staged(full_corpus, tmp_path_factory):
    """The folder a push of the tiny corpus would upload (a dry run)."""
    from gaia_lite.hub import push_corpus

    folder = tmp_path_factory.mktemp("dry") / "repo"
    push_corpus(full_corpus, "alice/tiny", dry_run_dir=folder, progress=False)
    return folder


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def _copy(staged: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "repo-copy"
    shutil.copytree(staged, dest)
    return dest


def _flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _rewrite_manifest(repo: Path, change) -> None:
    """Apply ``change`` to the manifest, then refresh the checksums of all files (an edit that checksums miss)."""
    path = repo / "gaia_lite.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    for rel in manifest["files"]:
        p = repo / rel
        manifest["files"][rel] = {"sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "size": p.stat().st_size}
    path.write_text(json.dumps(manifest))


# --- layout -------------------------------------------------------------------------------------------------

def test_dry_run_writes_the_repo_layout_with_a_checksum_for_every_file(staged, full_corpus):
    # Other test modules may add indexes (an HNSW one, say) to the shared tiny corpus: every one is pushed.
    indexes = sorted(p.name for p in full_corpus.folder.iterdir() if (p / "gaia_lite.json").is_file()
                     and p.name != "dataset")
    assert {"sparse-flat", "sparse-multifield", "dense-all-minilm-l6-v2"} <= set(indexes)
    expected = {"README.md", "gaia_lite.json", "data/train-00000-of-00001.parquet"}
    for name in indexes:
        if name.startswith("sparse-"):
            folder = full_corpus.folder / name  # Lucene's files, and the impact matrix's under impacts/
            expected |= {f"indexes/{name}/{p.relative_to(folder).as_posix()}" for p in folder.rglob("*")
                         if p.is_file() and p.name != "write.lock"}
        else:
            expected |= {f"indexes/{name}/{f}" for f in ("index", "docid", "gaia_lite.json")}
            expected.add(f"embeddings-{name.removeprefix('dense-')}/train-00000-of-00001.parquet")
    assert _files(staged) == expected
    manifest = json.loads((staged / "gaia_lite.json").read_text())
    assert set(manifest["files"]) == expected - {"README.md", "gaia_lite.json"}
    for rel, entry in manifest["files"].items():
        data = (staged / rel).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    assert (manifest["name"], manifest["num_rows"], manifest["fingerprint"]) == (
        "tiny", 8, full_corpus.meta.fingerprint)
    assert sorted(manifest["artifacts"]) == indexes


def test_the_staged_repo_loads_with_load_dataset_as_a_hub_repo_would(staged, full_corpus):
    import datasets
    import numpy as np

    docs = datasets.load_dataset(str(staged), split="train")
    assert docs.column_names == full_corpus.dataset.column_names
    assert docs.to_list() == full_corpus.dataset.to_list()
    vectors = datasets.load_dataset(str(staged), "embeddings-all-minilm-l6-v2", split="train")
    stored = datasets.load_from_disk(str(full_corpus.folder / "dense-all-minilm-l6-v2" / "embeddings"))
    assert vectors["id"] == full_corpus.ids
    np.testing.assert_array_equal(np.array(vectors["embedding"]), np.array(stored["embedding"]))


def test_card_says_what_it_holds_and_how_to_rebuild_it(staged, full_corpus):
    card = (staged / "README.md").read_text()
    assert card.startswith("---\n")
    assert "config_name: embeddings-all-minilm-l6-v2" in card and "num_examples: 8" in card
    assert full_corpus.meta.fingerprint in card
    assert "| documents | 8 |" in card
    assert "sentence-transformers/all-MiniLM-L6-v2" in card and "384 dims" in card
    assert "gaia-lite index sparse tiny --fields multifield" in card  # the pusher's folder replaced by the name
    assert "gaia-lite index dense tiny" in card
    assert str(full_corpus.folder) not in card
    assert "gaia-lite pull alice/tiny" in card


def test_dry_run_refuses_to_overwrite_an_unrelated_folder(full_corpus, tmp_path):
    from gaia_lite.hub import push_corpus

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not an earlier dry run"):
        push_corpus(full_corpus, "alice/tiny", dry_run_dir=tmp_path / "mine", progress=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


# --- push through the boundary ------------------------------------------------------------------------------

def test_push_makes_one_private_dataset_commit_with_exactly_the_staged_files(hub, full_corpus, staged):
    from gaia_lite.hub import push_corpus

    report = push_corpus(full_corpus, "alice/tiny", progress=False)
    assert hub.named("HfApi")[0] == {"token": SECRET}  # the token from $HF_TOKEN reached the client
    assert hub.named("create_repo") == [{"repo_id": "alice/tiny", "repo_type": "dataset", "private": True,
                                         "exist_ok": True}]
    assert hub.named("create_branch") == []
    [commit] = hub.named("create_commit")
    assert (commit["repo_id"], commit["repo_type"], commit["revision"]) == ("alice/tiny", "dataset", None)
    assert commit["adds"] == sorted(_files(staged)) and commit["deletes"] == []
    uploaded = hub.folder("alice/tiny", None)
    for rel in json.loads((staged / "gaia_lite.json").read_text())["files"]:
        assert (uploaded / rel).read_bytes() == (staged / rel).read_bytes(), rel
    assert report.private and report.url == "https://huggingface.co/datasets/alice/tiny"
    assert report.commit.startswith("c0ffee")


def test_push_to_a_branch_and_public_and_a_second_push_removes_stale_files(hub, full_corpus):
    from gaia_lite.hub import push_corpus

    push_corpus(full_corpus, "alice/tiny", revision="v1", private=False, progress=False)
    assert hub.named("create_repo")[0]["private"] is False
    assert hub.named("create_branch") == [{"repo_id": "alice/tiny", "branch": "v1", "repo_type": "dataset"}]
    assert hub.named("create_commit")[0]["revision"] == "v1"
    stale = hub.folder("alice/tiny", "v1") / "indexes" / "sparse-old" / "x"
    stale.parent.mkdir(parents=True)
    stale.write_text("from an earlier push")
    (hub.folder("alice/tiny", "v1") / "NOTES.md").write_text("the owner's own file")
    push_corpus(full_corpus, "alice/tiny", revision="v1", progress=False)
    assert hub.named("create_commit")[1]["deletes"] == ["indexes/sparse-old/x"]
    assert (hub.folder("alice/tiny", "v1") / "NOTES.md").is_file()


def test_push_without_a_token_says_how_to_log_in(hub, full_corpus, monkeypatch):
    from gaia_lite.hub import push_corpus

    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(HubError, match="hf auth login"):
        push_corpus(full_corpus, "alice/tiny", progress=False)
    assert hub.named("create_commit") == []


def test_the_token_is_never_shown(hub, full_corpus, tmp_path, capsys, caplog):
    from gaia_lite.cli import main

    caplog.set_level(logging.DEBUG)
    dry = tmp_path / "dry"
    root = tmp_path / "pulled"
    assert main(["push", str(full_corpus.folder), "alice/tiny", "--no-progress"]) == 0
    assert main(["push", str(full_corpus.folder), "alice/tiny", "--dry-run", str(dry), "--no-progress"]) == 0
    assert main(["pull", "alice/tiny", "--root", str(root), "--no-progress"]) == 0
    assert main(["pull", "alice/nothing-here", "--root", str(root), "--no-progress"]) == 2
    out, err = capsys.readouterr()
    assert "pushed" in out and "pulled" in out and "no such dataset repo" in err
    assert all(call["token"] == SECRET for call in hub.named("HfApi"))
    shown = [out, err, *(r.getMessage() for r in caplog.records)]
    for folder in (dry, hub.root, root):
        shown += [p.read_bytes().decode("latin-1") for p in folder.rglob("*") if p.is_file()]
    assert not [text for text in shown if SECRET in text]


# --- pull -----------------------------------------------------------------------------------------------------

def _results(searcher, queries=QUERIES, k=5):
    return {q: [(h.doc_id, h.score, h.rank) for h in searcher.search(q, k)] for q in queries}


def test_pull_from_the_hub_gives_searchers_equal_to_the_original(hub, full_corpus, encoder, tmp_path):
    from gaia_lite.config import SparseConfig
    from gaia_lite.corpus import Corpus
    from gaia_lite.hub import pull_corpus, push_corpus
    from gaia_lite.retriever import open_searcher
    from gaia_lite.sparse import BM25Searcher

    push_corpus(full_corpus, "alice/tiny", progress=False)
    pulled = pull_corpus("alice/tiny", root=tmp_path / "elsewhere", progress=False)
    assert hub.named("snapshot_download") == [{"repo_id": "alice/tiny", "repo_type": "dataset", "revision": None}]
    assert pulled.folder == tmp_path / "elsewhere" / "tiny"
    assert Corpus.load(pulled.folder, verify=True).meta.fingerprint == full_corpus.meta.fingerprint
    assert pulled.dataset.to_list() == full_corpus.dataset.to_list()
    for fields in ("flat", "multifield"):
        sparse = SparseConfig(fields=fields)
        with open_searcher(full_corpus, sparse=sparse) as a, open_searcher(pulled, sparse=sparse) as b:
            assert _results(a) == _results(b)
    original = open_searcher(full_corpus, kind="hybrid", encoder=encoder)
    copy = open_searcher(pulled, kind="hybrid", encoder=encoder)
    assert [[(h.doc_id, h.score, h.found_by) for h in original.search(q, 5)] for q in QUERIES] == \
        [[(h.doc_id, h.score, h.found_by) for h in copy.search(q, 5)] for q in QUERIES]
    # The pulled indexes point at the pulled corpus, and a searcher opened from the index folder alone finds it.
    meta = json.loads((pulled.folder / "sparse-flat" / "gaia_lite.json").read_text())
    assert meta["source"] == str(pulled.folder) and str(full_corpus.folder) not in meta["command"]
    with BM25Searcher(pulled.folder / "sparse-flat") as alone:
        assert alone.corpus.folder == pulled.folder


def test_a_local_folder_in_place_of_a_repo_id(staged, full_corpus, tmp_path):
    from gaia_lite.hub import pull_corpus
    from gaia_lite.retriever import open_searcher

    pulled = pull_corpus(staged, root=tmp_path, progress=False)
    assert pulled.folder == tmp_path / "tiny"  # a folder's corpus keeps its own name
    assert json.loads((pulled.folder / "hub.json").read_text())["path"] == str(staged.resolve())
    with open_searcher(full_corpus) as a, open_searcher(pulled) as b:
        assert _results(a) == _results(b)


def test_revision_is_passed_through_on_pull(hub, full_corpus, tmp_path):
    from gaia_lite.hub import pull_corpus, push_corpus
    from gaia_lite.retriever import open_corpus

    push_corpus(full_corpus, "alice/tiny", revision="v1", progress=False)
    pull_corpus("hf://alice/tiny@v1", root=tmp_path, progress=False)
    pull_corpus("alice/tiny", revision="v1", root=tmp_path, name="again", progress=False)
    corpus = open_corpus("hf://alice/tiny@v1", root=tmp_path)  # already pulled: reused
    assert corpus.folder == tmp_path / "tiny"
    assert [c["revision"] for c in hub.named("snapshot_download")] == ["v1", "v1"]
    with pytest.raises(HubError, match="no revision 'v2'"):
        pull_corpus("alice/tiny", revision="v2", root=tmp_path, progress=False)


def test_a_spec_is_pulled_once_then_reused_by_the_cli_and_the_experiments(hub, full_corpus, tmp_path, capsys):
    from gaia_lite.cli import main
    from gaia_lite.experiments import ExperimentConfig, run_experiment
    from gaia_lite.hub import push_corpus

    push_corpus(full_corpus, "alice/tiny", progress=False)
    root = tmp_path / "root"
    assert main(["search", "hf://alice/tiny", "lucene search library", "-k", "3", "--root", str(root),
                 "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["doc_id"] == "d3"
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    (beir / "corpus.jsonl").write_text("")  # the collection's documents come from the repo
    (beir / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "lucene search library"}) + "\n")
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td3\t1\n")
    config = ExperimentConfig(name="tiny-from-hub", corpus="hf://alice/tiny", k=5, metrics=("nDCG@10",))
    result = run_experiment(config, beir, root=root, runs_dir=tmp_path / "runs", progress=False, log=lambda _: None)
    assert result.metrics["nDCG@10"] == pytest.approx(1.0)
    assert len(hub.named("snapshot_download")) == 1  # pulled by `search`, reused by the experiment


# --- refusals -----------------------------------------------------------------------------------------------

def test_a_flipped_byte_in_a_lucene_file_is_refused_and_the_good_copy_kept(staged, tmp_path):
    from gaia_lite.corpus import Corpus
    from gaia_lite.hub import pull_corpus

    good = pull_corpus(staged, root=tmp_path, progress=False)
    before = {p: p.read_bytes() for p in good.folder.rglob("*") if p.is_file()}
    repo = _copy(staged, tmp_path)
    lucene = max((p for p in (repo / "indexes" / "sparse-flat").iterdir()
                  if p.is_file() and p.suffix not in (".json", ".npy")), key=lambda p: p.stat().st_size)
    _flip_byte(lucene)
    with pytest.raises(ArtifactMismatchError, match=f"indexes/sparse-flat/{lucene.name}: sha256"):
        pull_corpus(repo, root=tmp_path, progress=False)
    assert {p: p.read_bytes() for p in good.folder.rglob("*") if p.is_file()} == before
    Corpus.load(good.folder, verify=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pull-")]


def test_a_flipped_byte_in_the_parquet_is_refused(staged, tmp_path):
    from gaia_lite.hub import pull_corpus

    repo = _copy(staged, tmp_path)
    _flip_byte(repo / "data" / "train-00000-of-00001.parquet")
    with pytest.raises(ArtifactMismatchError, match="data/train-00000-of-00001.parquet: sha256"):
        pull_corpus(repo, root=tmp_path, progress=False)
    assert not (tmp_path / "tiny").exists()


def test_a_truncated_file_is_refused_by_size(staged, tmp_path):
    from gaia_lite.hub import pull_corpus

    repo = _copy(staged, tmp_path)
    docid = repo / "indexes" / "dense-all-minilm-l6-v2" / "docid"
    docid.write_text("d1\n")
    with pytest.raises(ArtifactMismatchError, match="docid: 3 bytes, expected"):
        pull_corpus(repo, root=tmp_path, progress=False)


def test_a_missing_file_is_refused(staged, tmp_path):
    from gaia_lite.hub import pull_corpus

    repo = _copy(staged, tmp_path)
    (repo / "indexes" / "sparse-flat" / "rows.npy").unlink()
    with pytest.raises(MissingArtifactError, match="lacks 1 of the .* indexes/sparse-flat/rows.npy"):
        pull_corpus(repo, root=tmp_path, progress=False)


def test_a_folder_that_was_never_pushed_is_refused(tmp_path):
    from gaia_lite.hub import pull_corpus

    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingArtifactError, match="gaia-lite push"):
        pull_corpus(tmp_path / "empty", root=tmp_path, progress=False)


def test_a_row_count_that_disagrees_with_the_data_is_refused(staged, tmp_path):
    from gaia_lite.hub import pull_corpus

    repo = _copy(staged, tmp_path)

    def claim_nine(m):
        m["num_rows"] = m["corpus"]["num_rows"] = 9
        for c in m["configs"].values():
            c["num_rows"] = 9

    _rewrite_manifest(repo, claim_nine)
    with pytest.raises(ArtifactMismatchError, match="config 'default' holds 8 rows, but the manifest says 9"):
        pull_corpus(repo, root=tmp_path, progress=False)


def test_changed_text_is_refused_by_the_content_fingerprint(staged, tmp_path):
    import pyarrow.parquet as pq

    from gaia_lite.hub import pull_corpus

    repo = _copy(staged, tmp_path)
    path = repo / "data" / "train-00000-of-00001.parquet"
    table = pq.read_table(path)
    texts = table.column("text").to_pylist()
    texts[0] = texts[0].replace("Python", "Cobra")
    pq.write_table(table.set_column(table.schema.get_field_index("text"), "text", [texts]), path)
    _rewrite_manifest(repo, lambda m: None)
    with pytest.raises(ArtifactMismatchError, match="content fingerprint"):
        pull_corpus(repo, root=tmp_path, progress=False)


def test_an_index_of_other_documents_is_refused(staged, tmp_path):
    from gaia_lite.hub import pull_corpus

    repo = _copy(staged, tmp_path)
    meta_path = repo / "indexes" / "sparse-multifield" / "gaia_lite.json"
    meta = json.loads(meta_path.read_text())
    meta["fingerprint"] = "sha256:" + "0" * 64
    meta_path.write_text(json.dumps(meta))
    _rewrite_manifest(repo, lambda m: None)
    with pytest.raises(ArtifactMismatchError, match="index sparse-multifield was built from 8 documents with fingerprint sha256:000000000000"):
        pull_corpus(repo, root=tmp_path, progress=False)


def test_a_different_local_corpus_is_not_replaced_without_force(staged, tiny_jsonl, tmp_path):
    from gaia_lite.corpus import Corpus, build_corpus
    from gaia_lite.hub import pull_corpus

    mine, _ = build_corpus(str(tiny_jsonl), "tiny", root=tmp_path, limit=3, progress=False)
    with pytest.raises(ArtifactMismatchError, match="holds another corpus .* --name NAME, or pass --force"):
        pull_corpus(staged, root=tmp_path, progress=False)
    assert len(Corpus.load(mine.folder)) == 3
    assert len(pull_corpus(staged, root=tmp_path, force=True, progress=False)) == 8


def test_specs_that_are_not_repo_ids_are_refused():
    from gaia_lite.hub import parse_spec

    assert parse_spec("hf://alice/tiny@refs/pr/1") == parse_spec("alice/tiny", "refs/pr/1")
    with pytest.raises(InputError, match="owner/name"):
        parse_spec("hf://tiny")


# --- result sets --------------------------------------------------------------------------------------------

def test_results_dataset_holds_hits_scores_source_rows_and_settings(full_corpus, encoder, tmp_path):
    import datasets

    from gaia_lite.hub import export_results, results_dataset
    from gaia_lite.retriever import open_searcher

    with open_searcher(full_corpus) as searcher:
        hits = {q: searcher.search(q, 3) for q in QUERIES[:2]}
    ds = results_dataset(full_corpus, hits, settings={"retriever": "bm25", "k": 3})
    assert ds["query"] == [q for q in QUERIES[:2] for _ in hits[q]]
    assert ds["doc_id"] == [h.doc_id for q in QUERIES[:2] for h in hits[q]]
    assert ds["score"] == [h.score for q in QUERIES[:2] for h in hits[q]]
    assert ds["rank"] == [h.rank for q in QUERIES[:2] for h in hits[q]]
    assert ds["document"] == [full_corpus.get(h.doc_id) for q in QUERIES[:2] for h in hits[q]]
    settings = json.loads(ds[0]["settings"])
    assert settings == {"retriever": "bm25", "k": 3, "corpus": "tiny", "num_rows": 8,
                        "fingerprint": full_corpus.meta.fingerprint}

    folder = export_results(ds, out=tmp_path / "bm25")
    assert datasets.load_from_disk(folder).to_list() == ds.to_list()
    parquet = export_results(ds, out=tmp_path / "bm25.parquet")
    assert datasets.Dataset.from_parquet(parquet, cache_dir=str(tmp_path / "c")).to_list() == ds.to_list()

    hybrid = open_searcher(full_corpus, kind="hybrid", encoder=encoder).search("search engine library", 4)
    hds = results_dataset(full_corpus, {"search engine library": hybrid})
    assert hds["found_by"] == [list(h.found_by) for h in hybrid]
    assert hds["bm25_rank"] == [h.bm25_rank for h in hybrid] and hds["dense_score"] == [h.dense_score for h in hybrid]


def test_export_results_needs_one_destination_and_a_token_to_push(full_corpus, monkeypatch):
    from gaia_lite.hub import export_results, results_dataset

    ds = results_dataset(full_corpus, {"nothing": []})
    assert len(ds) == 0 and "document" in ds.column_names
    with pytest.raises(InputError, match="exactly one"):
        export_results(ds)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(HubError, match="hf auth login"):
        export_results(ds, repo_id="alice/results")


def test_importing_the_hub_module_stays_cheap():
    code = ("import sys, gaia_lite.hub; "
            "print(sorted(m for m in ('datasets', 'huggingface_hub', 'torch', 'jnius') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_search_exports_the_result_set_from_the_cli(tmp_path, tiny_jsonl, capsys):
    import datasets

    from gaia_lite.cli import main

    root = str(tmp_path / "root")
    assert main(["corpus", str(tiny_jsonl), "--name", "w", "--root", root, "--no-progress"]) == 0
    assert main(["index", "sparse", "w", "--root", root, "--no-progress"]) == 0
    out = tmp_path / "results.parquet"
    assert main(["search", "w", "search engine", "-k", "3", "--root", root, "--export", str(out)]) == 0
    assert f"-> {out}" in capsys.readouterr().err
    ds = datasets.Dataset.from_parquet(str(out))
    assert ds["rank"] == [1, 2, 3] and ds["query"] == ["search engine"] * 3
    assert json.loads(ds["settings"][0])["retriever"] == "bm25"
    assert ds["document"][0]["id"] == ds["doc_id"][0]


def test_an_unreachable_hub_is_a_clear_error_without_the_token(hub, full_corpus, monkeypatch, capsys):
    import huggingface_hub

    from gaia_lite.cli import main

    # An HTTP client error as httpx2.ConnectError reports itself: module "httpx2", not an OSError.
    error = type("ConnectError", (Exception,), {"__module__": "httpx2"})

    class Offline(huggingface_hub.HfApi):
        def create_repo(self, *args, **kwargs):
            raise error(f"[Errno -2] Name or service not known (token {SECRET})")

    monkeypatch.setattr(huggingface_hub, "HfApi", Offline)
    assert main(["push", str(full_corpus.folder), "alice/tiny", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "the Hub cannot be reached" in err and "--dry-run" in err and "Traceback" not in err
    assert SECRET not in err
