"""A UTF-8 byte-order mark (EF BB BF, as Windows tools write) at the start of a JSON Lines file is accepted;
anywhere else it is what it is: malformed JSON on that line."""

from __future__ import annotations

import gzip
import json

import pytest

from gaia_lite.cli import main
from gaia_lite.corpus import Source, build_corpus
from gaia_lite.corpus.sources import iter_jsonl
from gaia_lite.errors import InputError

from .conftest import TINY_DOCS, write_jsonl
from .test_experiments import _beir_folder

BOM = b"\xef\xbb\xbf"


def _jsonl_bytes(records) -> bytes:
    return b"".join((json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8") for r in records)


def _check_corpus(corpus, report) -> None:
    assert len(corpus) == len(TINY_DOCS) and corpus.ids == [d["_id"] for d in TINY_DOCS]
    assert not report.ids_generated  # the id column was found in the first record, BOM or not
    assert not any("\ufeff" in c for c in corpus.dataset.column_names), corpus.dataset.column_names
    first = corpus.get("d1")
    assert (first["id"], first["title"], first["text"]) == ("d1", TINY_DOCS[0]["title"], TINY_DOCS[0]["text"])
    assert corpus.dataset[0]["id"] == "d1"


@pytest.mark.parametrize("id_key", ["_id", "id"])
def test_bom_at_the_start_of_a_jsonl_file_is_skipped(tmp_path, id_key):
    records = [{id_key: d["_id"], "title": d["title"], "text": d["text"]} for d in TINY_DOCS]
    path = tmp_path / "bom.jsonl"
    path.write_bytes(BOM + _jsonl_bytes(records))
    (where, first), *_ = iter_jsonl(path)
    assert where == f"{path}:1" and list(first) == [id_key, "title", "text"]  # not "\ufeff" + id_key
    corpus, report = build_corpus(str(path), "bom", root=tmp_path / "root", progress=False)
    _check_corpus(corpus, report)
    assert report.columns == ["id", "title", "text"]


def test_bom_at_the_start_of_a_gzipped_jsonl_file_is_skipped(tmp_path):
    path = tmp_path / "bom.jsonl.gz"
    with gzip.open(path, "wb") as f:
        f.write(BOM + _jsonl_bytes(TINY_DOCS))
    corpus, report = build_corpus(str(path), "bomgz", root=tmp_path / "root", progress=False)
    _check_corpus(corpus, report)


def test_bom_then_a_blank_first_line_is_skipped(tmp_path):
    path = tmp_path / "bom-blank.jsonl"
    path.write_bytes(BOM + b"\n" + _jsonl_bytes(TINY_DOCS))
    assert [w for w, _ in iter_jsonl(path)][0] == f"{path}:2"
    corpus, report = build_corpus(str(path), "bomblank", root=tmp_path / "root", progress=False)
    _check_corpus(corpus, report)


def test_the_bom_is_no_part_of_the_fingerprint(tmp_path, tiny_jsonl):
    """The same documents with and without a BOM are the same corpus."""
    path = tmp_path / "bom.jsonl"
    path.write_bytes(BOM + tiny_jsonl.read_bytes())
    with_bom, _ = build_corpus(str(path), "a", root=tmp_path / "root", progress=False)
    without, _ = build_corpus(str(tiny_jsonl), "b", root=tmp_path / "root", progress=False)
    assert with_bom.meta.fingerprint == without.meta.fingerprint


@pytest.mark.parametrize("gz", [False, True])
def test_a_bom_on_a_later_line_is_malformed_json_naming_that_line(tmp_path, gz):
    data = _jsonl_bytes(TINY_DOCS[:1]) + BOM + _jsonl_bytes(TINY_DOCS[1:3])
    path = tmp_path / ("mid.jsonl.gz" if gz else "mid.jsonl")
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    with pytest.raises(InputError, match=rf"^{path}:2: malformed JSON \(Unexpected UTF-8 BOM"):
        build_corpus(Source(str(path)), "mid", root=tmp_path / "root", progress=False)
    assert not (tmp_path / "root" / "mid").exists()


def test_only_one_bom_is_skipped(tmp_path):
    path = tmp_path / "two.jsonl"
    path.write_bytes(BOM + BOM + _jsonl_bytes(TINY_DOCS[:2]))
    with pytest.raises(InputError, match=rf"^{path}:1: malformed JSON"):
        list(iter_jsonl(path))


def test_cli_corpus_and_eval_accept_bom_files(tmp_path, capsys):
    """Through the CLI: a corpus from a BOM file, and a BEIR folder whose corpus and queries start with one."""
    path = write_jsonl(tmp_path / "plain.jsonl", TINY_DOCS)
    path.write_bytes(BOM + path.read_bytes())
    root = str(tmp_path / "root")
    assert main(["corpus", str(path), "--name", "w", "--root", root, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "built corpus 'w': 8 documents" in out and "columns: id, title, text" in out
    assert "no id column" not in out

    folder = _beir_folder(tmp_path)
    for name in ("corpus.jsonl", "queries.jsonl"):
        (folder / name).write_bytes(BOM + (folder / name).read_bytes())
    assert main(["eval", str(folder), "--json", "--root", root, "--runs-dir", str(tmp_path / "runs"),
                 "--no-progress"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["queries"] == 3 and result["metrics"]["R@100"] == 1.0  # q1 (the first query) is found too
