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


def test_module_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "gaia_lite", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("gaia-lite ")


def test_demo_builds_the_default_corpus_and_prints_hits(tmp_path, capsys):
    argv = ["demo", "dataset", "--limit", "400", "--root", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "built corpus 'docstrings': 400 docstrings" in out
    assert "BM25 top 10 for 'dataset'" in out
    assert main(argv) == 0  # second run reuses what is built
    assert "using corpus 'docstrings': 400 documents" in capsys.readouterr().out
