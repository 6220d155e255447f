"""The dense side: a real transformers encoder, a FAISS index keyed by the corpus ids, alignment checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from gaia_lite.artifacts import META_FILE
from gaia_lite.corpus import build_corpus
from gaia_lite.dense import DEFAULT_MODEL, DenseSearcher, Encoder, build_dense_index, dense_dir, resolve_model
from gaia_lite.dense.encoder import ModelError
from gaia_lite.config import DenseConfig
from gaia_lite.errors import ArtifactMismatchError, ConfigError
from gaia_lite.retriever import open_searcher

from .conftest import TINY_DOCS, write_jsonl

TEXTS = ["A short sentence.", "Apache Lucene is a search library written in Java. " * 20, "BM25 ranking"]


def test_encoder_equals_sentence_transformers(encoder):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(resolve_model(DEFAULT_MODEL)), device="cpu").encode(TEXTS)
    ours = encoder.encode_documents(TEXTS, progress=False)
    assert ours.dtype == np.float32 and ours.shape == (3, 384)
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_encoder_reads_pooling_normalisation_and_length_from_the_model(encoder):
    d = encoder.describe()
    assert (d["pooling"], d["normalize"], d["max_length"], d["dim"]) == ("mean", True, 256, 384)
    np.testing.assert_allclose(np.linalg.norm(encoder.encode_queries(TEXTS), axis=1), 1.0, atol=1e-6)


def test_overrides_change_the_output(encoder):
    cls = Encoder(dtype="float32", pooling="cls", normalize=False)
    vectors = cls.encode_queries(TEXTS)
    assert not np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert not np.allclose(vectors, encoder.encode_queries(TEXTS), atol=1e-3)


def test_prefixes_apply_to_their_side_only(encoder):
    prefixed = Encoder(dtype="float32", query_prefix="query: ", document_prefix="passage: ")
    np.testing.assert_allclose(prefixed.encode_queries(["x y"]), encoder.encode_queries(["query: x y"]), atol=1e-6)
    np.testing.assert_allclose(prefixed.encode_documents(["x y"], progress=False),
                               encoder.encode_documents(["passage: x y"], progress=False), atol=1e-6)


def test_bfloat16_stays_close_to_float32(encoder):
    bf16 = Encoder(dtype="bfloat16").encode_documents(TEXTS, progress=False)
    cosine = (bf16 * encoder.encode_documents(TEXTS, progress=False)).sum(axis=1)
    assert cosine.min() > 0.999


def test_one_query_at_a_time_goes_through_a_trace_with_the_models_vectors():
    traced = Encoder(dtype="float32")
    one_by_one = np.vstack([traced.encode_queries([t]) for t in TEXTS])  # 3 lengths, one trace
    assert traced.traced
    plain = Encoder(dtype="float32")
    plain._traced = False  # the model itself, as batches always run
    np.testing.assert_array_equal(one_by_one, np.vstack([plain.encode_queries([t]) for t in TEXTS]))
    np.testing.assert_allclose(one_by_one, traced.encode_queries(TEXTS), atol=1e-6)  # a batch: the model


def test_compiled_encoding_gives_the_eager_vectors(encoder):
    compiled = Encoder(dtype="float32", compile=True, batch_size=2)  # batches of 2, then 1: no second compile
    vectors = compiled.encode_documents(TEXTS, progress=False)
    assert compiled.compiled
    np.testing.assert_allclose(vectors, encoder.encode_documents(TEXTS, progress=False), atol=1e-5)
    eager = Encoder(dtype="float32", compile=False, batch_size=2)
    np.testing.assert_array_equal(compiled.encode_queries(TEXTS), eager.encode_queries(TEXTS))  # never compiled
    from torch.profiler import profile

    with profile() as run:  # frozen: the linear layers run as oneDNN kernels that add the bias (no aten addmm)
        compiled.encode_documents(TEXTS[:2], progress=False)  # one batch: run in this thread, which is profiled
    ops = {e.key for e in run.key_averages()}
    assert "mkldnn::_linear_pointwise" in ops and "aten::addmm" not in ops, sorted(ops)


def test_documents_run_a_batch_per_thread_with_the_vectors_of_one_batch_at_a_time(encoder):
    import threading

    import torch

    texts = [f"{t} number {i}" for i in range(7) for t in TEXTS]  # 21 texts: 6 batches of 4
    seen = []
    hook = encoder.model.register_forward_hook(
        lambda *_: seen.append((threading.current_thread().name, torch.get_num_threads())))
    threads = torch.get_num_threads()
    batched = Encoder(dtype=encoder.dtype, batch_size=4)
    try:
        batched.model = encoder.model  # the hooked model
        together = batched.encode_documents(texts, progress=False)
        assert torch.get_num_threads() == threads  # restored
        if threads > 1:  # the batches ran in the encoder's pool
            assert all(n.startswith("gaia-lite-encode") for n, _ in seen), seen
        assert {t for _, t in seen} == {1} and len(seen) == 6
        longest = sorted(range(len(texts)), key=lambda i: -len(texts[i]))[:4]  # the first batch, alone: all threads
        alone = batched.encode_documents([texts[i] for i in longest], progress=False)
        assert seen[-1][1] == threads
        torch.set_num_threads(1)  # one thread: batches one after another, in this thread
        one_by_one = batched.encode_documents(texts, progress=False)
    finally:
        torch.set_num_threads(threads)
        hook.remove()
    np.testing.assert_array_equal(together, one_by_one)
    np.testing.assert_array_equal(together[longest], alone)  # the same bits on one thread as on all of them
    np.testing.assert_allclose(together, encoder.encode_documents(texts, progress=False), atol=1e-6)


def test_compiling_without_a_cxx_compiler_falls_back_with_a_warning(tmp_path):
    code = """if True:
        import numpy as np
        from gaia_lite.dense import Encoder
        texts = ["A short sentence.", "BM25 ranking", "a third", "and a fourth", "five"]
        compiled = Encoder(dtype="float32", compile=True, batch_size=2)  # 3 batches: one failure, no retry
        vectors = compiled.encode_documents(texts, progress=False)
        eager = Encoder(dtype="float32", compile=False, batch_size=2).encode_documents(texts, progress=False)
        print("compiled", compiled.compiled, "equal", bool(np.array_equal(vectors, eager)))
    """
    env = os.environ | {"CXX": str(tmp_path / "no-such-c++"), "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "compiled False equal True" in run.stdout
    assert run.stderr.count("torch.compile failed") == 1 and "encoding without it" in run.stderr


def test_unknown_model_offline_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="not in the Hugging Face cache.*hf download"):
        resolve_model("no-such-owner/no-such-model")


def test_a_local_model_folder_is_used_as_is(tmp_path):
    folder = tmp_path / "my-model"
    shutil.copytree(resolve_model(DEFAULT_MODEL), folder)
    assert resolve_model(str(folder)) == folder


def test_bad_encoder_settings_are_config_errors():
    with pytest.raises(ConfigError, match="pooling"):
        Encoder(pooling="median")
    with pytest.raises(ConfigError, match="dtype"):
        Encoder(dtype="int4")


def test_dense_index_is_keyed_by_the_corpus_ids(tiny_corpus, tiny_dense):
    import datasets

    assert (tiny_dense / "docid").read_text().splitlines() == tiny_corpus.ids
    embeddings = datasets.load_from_disk(str(tiny_dense / "embeddings"))
    assert embeddings["id"][:] == tiny_corpus.ids
    meta = json.loads((tiny_dense / META_FILE).read_text())
    assert meta["kind"] == "dense" and meta["num_rows"] == len(TINY_DOCS)
    assert meta["fingerprint"] == tiny_corpus.meta.fingerprint
    assert meta["params"]["encoder"]["model"] == DEFAULT_MODEL and meta["params"]["index_type"] == "flat"


def test_dense_search_finds_the_paraphrase(tiny_corpus, tiny_dense, encoder):
    s = DenseSearcher(tiny_dense, tiny_corpus, encoder=encoder)
    hits = s.search("the Apache Software Foundation search library", k=3)
    assert hits[0].doc_id == "d3" and [h.rank for h in hits] == [1, 2, 3]
    vector = s.encode_query("the Apache Software Foundation search library")
    stored = s.score_documents(vector, [h.doc_id for h in hits])
    assert all(stored[h.doc_id] == pytest.approx(h.score, abs=1e-5) for h in hits)
    run = s.search_batch({"q": "the Apache Software Foundation search library", "empty": "  "}, k=3)
    assert run["empty"] == {} and list(run["q"]) == [h.doc_id for h in hits]


def test_pyserini_faiss_searcher_reads_our_index_and_agrees(tiny_corpus, tiny_dense, encoder):
    from gaia_lite.java import start_jvm

    start_jvm()
    from pyserini.search.faiss import FaissSearcher

    s = DenseSearcher(tiny_dense, tiny_corpus, encoder=encoder)
    vector = s.encode_query("object-oriented programming")
    theirs = FaissSearcher(str(tiny_dense), None).search(vector.reshape(1, -1), k=4)
    ours = s.search_vector(vector, k=4)
    assert [h.doc_id for h in ours] == [h.docid for h in theirs]
    assert [h.score for h in ours] == pytest.approx([h.score for h in theirs], abs=1e-6)


def test_hnsw_index_finds_what_flat_finds(tiny_corpus, encoder):
    path = build_dense_index(tiny_corpus, encoder=encoder, index_type="hnsw", progress=False)
    assert path == dense_dir(tiny_corpus.folder, DEFAULT_MODEL, "hnsw")
    hnsw = DenseSearcher(path, tiny_corpus, encoder=encoder).search("transformers for language", k=3)
    flat = open_searcher(tiny_corpus, kind="dense", dense=DenseConfig(index_type="flat"), encoder=encoder).search(
        "transformers for language", k=3)
    assert [h.doc_id for h in hnsw] == [h.doc_id for h in flat]


def test_a_reordered_docid_sidecar_is_refused(tmp_path, tiny_corpus, tiny_dense, encoder):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_dense, broken)
    ids = (broken / "docid").read_text().splitlines()
    ids[2], ids[5] = ids[5], ids[2]
    (broken / "docid").write_text("\n".join(ids) + "\n")
    with pytest.raises(ArtifactMismatchError, match=r"first at position 2.*gaia-lite index dense"):
        DenseSearcher(broken, tiny_corpus, encoder=encoder)


def test_an_index_of_an_older_corpus_is_refused(tmp_path, encoder):
    src = write_jsonl(tmp_path / "s.jsonl", TINY_DOCS)
    corpus, _ = build_corpus(str(src), "c", root=tmp_path, progress=False)
    build_dense_index(corpus, encoder=encoder, progress=False)
    write_jsonl(src, [dict(d, text=d["text"] + " Edited.") if d["_id"] == "d2" else d for d in TINY_DOCS])
    corpus, _ = build_corpus(str(src), "c", root=tmp_path, progress=False)
    with pytest.raises(ArtifactMismatchError, match="fingerprint"):
        open_searcher(corpus, kind="dense", encoder=encoder)


def test_failed_dense_build_keeps_the_previous_index(tiny_corpus, tiny_dense, encoder, monkeypatch):
    before = {p.name: p.stat().st_mtime_ns for p in tiny_dense.iterdir()}

    def broken(texts, progress=True, **_):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(encoder, "encode_documents", broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        build_dense_index(tiny_corpus, encoder=encoder, progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in tiny_dense.iterdir()} == before
    # What is left is the build's workdir, kept so that a rerun resumes: no finished shard, no half-made one.
    work = tiny_dense.parent / f".{tiny_dense.name}.work"
    assert [p for p in tiny_dense.parent.iterdir() if p.name.startswith(".")] == [work]
    assert list((work / "parts").iterdir()) == []
    monkeypatch.undo()
    build_dense_index(tiny_corpus, encoder=encoder, progress=False)  # the next build clears the workdir away
    assert not [p for p in tiny_dense.parent.iterdir() if p.name.startswith(".")]


def test_queries_are_encoded_in_the_precision_the_index_was_built_in(tiny_corpus, tiny_dense):
    assert DenseSearcher(tiny_dense, tiny_corpus).encoder.dtype == "float32"  # tiny_dense is float32


@pytest.mark.parametrize("index_type", ["hnsw", "ivf", "ivfpq"])
def test_approximate_indexes_record_their_settings_and_find_what_exact_search_finds(tiny_corpus, tiny_dense, encoder,
                                                                                   index_type, tmp_path):
    from gaia_lite.corpus import Corpus
    from gaia_lite.retriever import open_searcher

    shutil.copytree(tiny_corpus.folder, tmp_path / "tiny", ignore=shutil.ignore_patterns("dense-*", ".*"))
    copy = Corpus.load(tmp_path / "tiny")
    path = build_dense_index(copy, encoder=encoder, index_type=index_type, progress=False)
    assert path == dense_dir(copy.folder, DEFAULT_MODEL, index_type) and path.name.endswith(f"-{index_type}")
    params = json.loads((path / META_FILE).read_text())["params"]
    assert params["index_type"] == index_type
    if index_type != "hnsw":
        assert params["ivf"]["lists"] >= 1 and (index_type == "ivf") == ("pq" not in params["ivf"])
    exact = DenseSearcher(tiny_dense, tiny_corpus, encoder=encoder)
    approx = open_searcher(copy, kind="dense", encoder=encoder)  # the one dense index built there
    assert approx.config.dense.index_type == index_type
    for query in ["open source search library", "rock band", "a language for machine learning"]:
        want = exact.search(query, 3)
        got = approx.search(query, 3)
        assert [h.doc_id for h in got] == [h.doc_id for h in want]
        # Every hit carries its exact inner product, also from compressed codes (re-scored from the vectors).
        assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=1e-5)
    allowed = ["d3", "d7"]
    assert {h.doc_id for h in approx.search("search engine", 5, only=allowed)} <= set(allowed)
    assert approx.score_documents(exact.encode_query("java"), ["d2"]) == \
        pytest.approx(exact.score_documents(exact.encode_query("java"), ["d2"]))
