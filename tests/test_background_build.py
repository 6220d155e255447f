"""The explorer opens on BM25 and builds the dense index in the background: its progress on the page and in
``/status``, dense and hybrid search turned on when it completes without a restart, and an app killed mid-build
resuming from its finished shards at the next start."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gaia_lite.app import Explorer, View, views
from gaia_lite.config import FusionConfig
from gaia_lite.corpus import Corpus, build_corpus
from gaia_lite.errors import ConfigError
from gaia_lite.retriever import open_searcher
from gaia_lite.sparse import build_sparse_index

from .conftest import free_port
from .test_app_server import browser  # noqa: F401 - the shared headless Chromium


def test_the_explorer_serves_bm25_then_hybrid_without_a_restart(tiny_corpus, encoder, tmp_path):
    copy = tmp_path / "tiny"
    shutil.copytree(tiny_corpus.folder, copy, ignore=shutil.ignore_patterns("dense-*", ".*"))
    e = Explorer(Corpus.load(copy), encoder=encoder, build_dense=True)
    seen_after = []
    e.dense_build.then(lambda: seen_after.append(e.dense_status()["state"]))  # how launch sets torch's threads
    assert e.retrievers == ("bm25",) or e.dense_status()["state"] == "ready"  # a tiny corpus may be done at once
    assert e.search("search engine", kind="bm25").rows
    if e.retrievers == ("bm25",):
        with pytest.raises(ConfigError, match="being built"):
            e.search("search engine", kind="hybrid")
    assert e.dense_build.join(timeout=120)
    assert e.dense_status() == {"state": "ready"} and e.retrievers == ("bm25", "dense", "hybrid")
    e.dense_build.then(lambda: seen_after.append("at once"))  # the build has ended: runs now
    assert seen_after == ["ready", "at once"]
    assert views.build_status(e.dense_status()) == ""
    got = [(r.hit.doc_id, r.hit.score) for r in e.search("open source search library", View(k=5)).rows]
    expected = open_searcher(e.corpus, kind="hybrid", encoder=encoder).search("open source search library", 5)
    assert got == [(h.doc_id, h.score) for h in expected]
    assert not [p for p in copy.iterdir() if p.name.startswith(".")]  # the build's workdir is gone


def test_a_failed_background_build_is_said_and_bm25_keeps_serving(tiny_corpus, tmp_path):
    from gaia_lite.config import DenseConfig, RetrieverConfig

    copy = tmp_path / "tiny"
    shutil.copytree(tiny_corpus.folder, copy, ignore=shutil.ignore_patterns("dense-*", ".*"))
    e = Explorer(Corpus.load(copy), RetrieverConfig(dense=DenseConfig(model=str(tmp_path / "no-model"))),
                 build_dense=True)
    assert e.dense_build.join(timeout=60)
    status = e.dense_status()
    assert status["state"] == "failed" and "no-model" in status["error"]
    assert "failed" in views.build_status(status) and e.retrievers == ("bm25",)
    assert e.search("search engine").rows


def _start_app(folder, port: int) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    return subprocess.Popen([sys.executable, "-m", "gaia_lite", "app", str(folder), "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _client(port: int, app: subprocess.Popen, timeout: float = 120):
    from gradio_client import Client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert app.poll() is None, app.stdout.read()
        try:
            return Client(f"http://127.0.0.1:{port}/", verbose=False)
        except Exception:  # not listening yet
            time.sleep(0.5)
    raise AssertionError("the app did not start")


def _wait_for(client, predicate, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.predict(api_name="/status")
        if predicate(status):
            return status
        time.sleep(0.5)
    raise AssertionError(f"timed out; last status {status}")


def test_an_app_killed_mid_build_resumes_and_turns_hybrid_on(tmp_path, encoder, browser):  # noqa: F811
    """2,500 docstrings: three shards of 1,000. The first app is killed once one shard is done; the second
    reuses it, finishes, and serves hybrid search from the same page it opened on BM25."""
    corpus, _ = build_corpus("builtin:docstrings", "d", root=tmp_path / "root", limit=2500, progress=False)
    build_sparse_index(corpus, progress=False)
    port = free_port()
    app = _start_app(corpus.folder, port)
    try:
        client = _client(port, app)
        status = _wait_for(client, lambda s: s["dense"].get("shards_done", 0) >= 1)
        assert status["retrievers"] == ["bm25"] and status["dense"]["state"] == "building"
        assert client.predict("read a file", "bm25", api_name="/search")["hits"]  # BM25 serves meanwhile
    finally:
        app.send_signal(signal.SIGKILL)  # killed mid-build
        app.wait()
    assert not (corpus.folder / "dense-all-minilm-l6-v2").exists()

    port = free_port()
    app = _start_app(corpus.folder, port)
    try:
        client = _client(port, app)
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/", wait_until="networkidle")
        building = _wait_for(client, lambda s: s["dense"]["state"] != "building" or s["dense"]["shards"] > 0)
        if building["dense"]["state"] == "building":
            assert building["dense"]["reused"] >= 1  # the finished shard of the killed app
            page.wait_for_selector("#gl-build", timeout=30_000)
            assert "Building the dense index" in page.locator("#gl-build").inner_text()
        _wait_for(client, lambda s: s["dense"]["state"] == "ready")
        # The page turns hybrid on by itself: no reload.
        page.wait_for_selector("#gl-retriever input[value='hybrid']", state="attached", timeout=30_000)
        page.close()
        answer = client.predict("read a file", "hybrid", api_name="/search")
        assert answer["hits"] and answer["fusion_config"]["method"] == FusionConfig().method  # the default
    finally:
        app.terminate()
        app.wait(timeout=30)
    meta = json.loads((corpus.folder / "dense-all-minilm-l6-v2" / "gaia_lite.json").read_text())
    assert [(s["start"], s["stop"]) for s in meta["params"]["shards"]] == [(0, 1000), (1000, 2000), (2000, 2500)]
    # Every shard's vectors are right, whichever app made them: 100 documents of each, encoded here in float32,
    # against the index's (the app encodes in its own precision, bfloat16 where the CPU computes it). Unit vectors:
    # the row-wise dot product is their cosine.
    import datasets

    from gaia_lite.dense.index import document_texts

    stored = datasets.load_from_disk(str(corpus.folder / "dense-all-minilm-l6-v2" / "embeddings"))
    for start in (0, 1000, 2000):
        rows = corpus.dataset[start:start + 100]
        here = encoder.encode_documents(document_texts(rows), progress=False)
        there = np.asarray(stored[start:start + 100]["embedding"], dtype=np.float32)
        assert stored[start:start + 100]["id"] == rows["id"]
        assert (here * there).sum(axis=1).min() > 0.999
