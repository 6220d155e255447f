"""The gaia-lite CLI, called in-process through main(argv)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gaia_lite.cli import COMMANDS, main

from .conftest import TINY_DOCS


@pytest.mark.parametrize("argv", [[], *[[c] for c in COMMANDS], ["index", "sparse"]])
def test_help_for_every_command(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0
    assert "usage: gaia-lite" in capsys.readouterr().out


def test_corpus_index_search_round_trip(tmp_path, tiny_jsonl, capsys):
    root = str(tmp_path)
    assert main(["corpus", str(tiny_jsonl), "--name", "wiki", "--root", root, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"built corpus 'wiki': {len(TINY_DOCS)} documents" in out and str(tmp_path / "wiki" / "dataset") in out
    assert main(["index", "sparse", "wiki", "--root", root, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "built sparse index (flat)" in out and str(tmp_path / "wiki" / "sparse-flat") in out
    assert main(["search", "wiki", "open source search library", "-k", "3", "--json", "--root", root]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert hits[0]["doc_id"] == "d3" and hits[0]["title"] == "Apache Lucene"
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]
    assert main(["search", "wiki", "open source search library", "-k", "2", "--root", root]) == 0
    text = capsys.readouterr().out
    assert "d3" in text and "Apache Lucene" in text


def test_errors_are_one_line_with_exit_status_2(tmp_path, capsys):
    assert main(["search", "never-built", "x", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "gaia-lite corpus" in err  # says how to build it


def test_bad_source_reports_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"_id": "a", "text": "fine"}\n{"_id": "b", "text": \n')
    assert main(["corpus", str(bad), "--root", str(tmp_path), "--no-progress"]) == 2
    assert f"{bad}:2: malformed JSON" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("module", ["gaia_lite", "gaia_lite.cli"])
def test_module_entry_point_runs(module):
    out = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("gaia-lite ")


def test_demo_builds_the_default_corpus_and_prints_hits(tmp_path, capsys):
    argv = ["demo", "dataset", "--limit", "400", "--root", str(tmp_path), "--no-progress", "--no-app"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "built corpus 'docstrings': 400 docstrings" in out
    assert "BM25 top 10 for 'dataset'" in out
    assert "built dense index" in out
    assert (tmp_path / "docstrings" / "dense-all-minilm-l6-v2" / "gaia_lite.json").is_file()
    assert main(argv) == 0  # second run reuses what is built
    out = capsys.readouterr().out
    assert "using corpus 'docstrings': 400 documents" in out and "built" not in out


def test_dense_and_hybrid_search_from_the_cli(tmp_path, tiny_jsonl, capsys):
    root = str(tmp_path)
    assert main(["corpus", str(tiny_jsonl), "--name", "w", "--root", root, "--no-progress"]) == 0
    assert main(["search", "w", "lucene", "--retriever", "hybrid", "--root", root]) == 2
    assert "gaia-lite index sparse" in capsys.readouterr().err  # says what to build
    assert main(["index", "sparse", "w", "--root", root, "--no-progress"]) == 0
    assert main(["search", "w", "lucene", "--retriever", "dense", "--root", root]) == 2
    assert "gaia-lite index dense" in capsys.readouterr().err
    assert main(["index", "dense", "w", "--root", root, "--no-progress", "--dtype", "float32"]) == 0
    assert "built dense index (flat, 384 dims, float32)" in capsys.readouterr().out
    assert main(["search", "w", "the Apache Software Foundation search library", "--retriever", "dense", "-k", "2",
                 "--json", "--root", root]) == 0
    assert json.loads(capsys.readouterr().out)[0]["doc_id"] == "d3"
    assert main(["search", "w", "open source java search library", "--retriever", "hybrid", "--fusion", "weighted",
                 "--bm25-weight", "0.4", "--depth", "3", "--fill-missing", "--explain-terms", "-k", "4", "--json",
                 "--root", root]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["doc_id"] == "d3" and hits[0]["weights"] == {"bm25": 0.4, "dense": pytest.approx(0.6)}
    for h in hits:
        assert h["score"] == pytest.approx(sum(h["contributions"].values()))
        assert set(h["found_by"]) | set(h["filled"]) == {"bm25", "dense"}
    assert hits[0]["term_scores"] and hits[0]["title"] == "Apache Lucene"


def test_tune_reports_every_setting_on_the_training_split(tmp_path, capsys):
    from .test_experiments import _beir_folder

    folder = _beir_folder(tmp_path)
    (folder / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td4\t1\nq3\td5\t1\n")
    config = tmp_path / "h.yaml"
    config.write_text("name: h\nk: 10\nretriever:\n  kind: hybrid\n  dense:\n    dtype: float32\n  fusion:\n    method: rrf\n"
                      "    depth: 5\n")
    table = tmp_path / "out" / "tune"
    assert main(["tune", str(folder), "--config", str(config), "--root", str(tmp_path / "idx"), "--no-progress",
                 "--table", str(table)]) == 0
    rows = json.loads(table.with_name("tune.json").read_text())
    assert [r["rrf_k"] for r in rows] == sorted([1, 5, 10, 20, 40, 60, 100], key=lambda k: [
        -r["nDCG@10"] for r in rows if r["rrf_k"] == k][0])
    assert all(0 <= r["nDCG@10"] <= 1 for r in rows)
    assert "fusion settings on split 'train'" in capsys.readouterr().out
