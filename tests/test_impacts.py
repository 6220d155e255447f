"""The impact matrix (gaia_lite/sparse/impacts.py) scores as Lucene does: its float32 arithmetic equals Lucene's own
BM25 scorer, and a search scored from it gives Lucene's hits (ids, order, scores) bit for bit, flat and multifield,
with default and other k1/b, repeated query terms, ties and any k."""

from __future__ import annotations

import json
import math
import random
import shutil

import numpy as np
import pytest

from gaia_lite.corpus import build_corpus
from gaia_lite.errors import ArtifactMismatchError
from gaia_lite.sparse import BM25Searcher, build_sparse_index
from gaia_lite.sparse.impacts import IMPACTS_DIR, avg_length, idf, length_table, norm_cache

from .conftest import write_jsonl

WORDS = [f"w{i}" for i in range(300)] + ["protein", "cells", "cell", "the", "and", "of", "binding", "gene"]


def _zipf_words(rng: random.Random, n: int) -> list[str]:
    return [WORDS[min(int(rng.paretovariate(1.1)) - 1, len(WORDS) - 1)] for _ in range(n)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """1,500 random documents with Zipf-like words, titles, exact duplicates (score ties) and ids whose sort order
    is not their row order ("d10" < "d9")."""
    rng = random.Random(7)
    docs = []
    for i in rng.sample(range(5000), 1500):
        words = _zipf_words(rng, rng.randint(1, 60))
        docs.append({"_id": f"d{i}", "title": " ".join(_zipf_words(rng, rng.randint(0, 5))), "text": " ".join(words)})
    for j in range(40):  # the same text under other ids: ties broken by id
        docs.append({"_id": f"t{rng.randint(0, 10**6)}x{j}", "title": "", "text": "protein binding cells"})
    tmp = tmp_path_factory.mktemp("impacts")
    corpus, _ = build_corpus(str(write_jsonl(tmp / "c.jsonl", docs)), "imp", root=tmp, progress=False)
    build_sparse_index(corpus, fields="flat", progress=False)
    build_sparse_index(corpus, fields="multifield", progress=False)
    return corpus


def _queries(n: int = 120) -> list[str]:
    rng = random.Random(11)
    out = ["protein binding cells", "the and of", "cell cell cells protein", "nothing-here zzz", "w1 w1 w1 w2",
           "PROTEIN, binding!"]
    out += [" ".join(_zipf_words(rng, rng.randint(1, 8))) for _ in range(n)]
    return out


def test_the_float32_arithmetic_equals_lucene_s_own_scorer():
    """idf, the norm cache and the impact formula against Lucene's BM25Similarity scorer: every encoded norm,
    random frequencies, boosts, statistics and k1/b."""
    from gaia_lite.java import jclass, start_jvm

    start_jvm()
    similarity = jclass("org.apache.lucene.search.similarities.BM25Similarity")
    collection, term = (jclass("org.apache.lucene.search.CollectionStatistics"),
                        jclass("org.apache.lucene.search.TermStatistics"))
    bytes_ref = jclass("org.apache.lucene.util.BytesRef")
    lengths, rng, f32 = length_table(), random.Random(3), np.float32
    for _ in range(40):
        k1, b = rng.choice([(0.9, 0.4), (1.2, 0.75), (rng.uniform(0.1, 3), rng.uniform(0, 1))])
        docs = rng.randint(10, 10**7)
        stats = {"doc_count": docs, "sum_total_term_freq": docs * rng.randint(1, 500) + rng.randint(0, 999)}
        df, boost = rng.randint(1, docs), rng.choice([1, 2, 3, 7])
        scorer = similarity(float(k1), float(b)).scorer(
            float(boost), collection("f", docs, docs, stats["sum_total_term_freq"], stats["sum_total_term_freq"]),
            term(bytes_ref(b"t"), df, df))
        freqs = np.array([rng.randint(1, 300) for _ in range(256)], dtype=np.float32)
        w = f32(f32(boost) * idf(df, docs))
        ours = w - w / (f32(1) + freqs * norm_cache(k1, b, avg_length(stats), lengths))
        lucene = np.array([scorer.score(float(freqs[n]), n) for n in range(256)], dtype=np.float32)
        assert np.array_equal(ours, lucene), (k1, b, docs, df, boost)


@pytest.mark.parametrize("fields", ["flat", "multifield"])
@pytest.mark.parametrize("k1, b", [(0.9, 0.4), (1.2, 0.75)])
def test_a_search_from_the_matrix_equals_lucene_s_hit_for_hit(corpus, fields, k1, b):
    index = corpus.folder / f"sparse-{fields}"
    with BM25Searcher(index, corpus, k1=k1, b=b) as fast, BM25Searcher(index, corpus, k1=k1, b=b,
                                                                       impacts=False) as lucene:
        assert (fast.route(), lucene.route()) == ("impacts", "lucene")
        for query in _queries():
            for k in (1, 10, 1000):
                assert fast.search(query, k) == lucene.search(query, k), (query, k)
        rng = random.Random(5)
        for query in _queries(20):
            ids = rng.sample(corpus.ids, 30) + ["no-such-id"]
            assert fast.score_documents(query, ids) == lucene.score_documents(query, ids), query
            assert fast.count(query) == lucene.count(query), query


def test_tied_documents_come_in_id_order_whatever_k(corpus):
    with BM25Searcher(corpus.folder / "sparse-flat", corpus) as s:
        hits = s.search("protein binding cells", 1000)
        tied = [h.doc_id for h in hits if h.doc_id.startswith("t")]
        assert len(tied) == 40 and tied == sorted(tied)
        first = next(i for i, h in enumerate(hits) if h.doc_id.startswith("t"))
        assert s.search("protein binding cells", first + 7) == hits[:first + 7]


def test_restricted_searches_and_corpus_statistics_go_to_lucene(corpus):
    with BM25Searcher(corpus.folder / "sparse-flat", corpus) as s:
        assert s.route() == "impacts"
        assert s.route(only=corpus.ids[:5]) == s.route(phrases=["protein binding"]) == "lucene"
        assert s.with_stats(s.local_stats("protein")).route() == "lucene"
        assert s.route() == "impacts"  # the view did not change the searcher it came from


def test_threads_keep_their_own_accumulators(corpus):
    """On several threads a batch is scored in slices (64 queries each) while the next is analyzed: 200 queries make
    three whole slices and a short one, and the run keeps the queries' order."""
    queries = {str(i): q for i, q in enumerate(_queries(200))}
    with BM25Searcher(corpus.folder / "sparse-multifield", corpus) as s:
        one_by_one = {qid: {h.doc_id: h.score for h in s.search(q, 50)} for qid, q in queries.items()}
        for threads in (1, 2, 4):
            run = s.search_batch(queries, k=50, threads=threads)
            assert run == one_by_one and list(run) == list(queries)
            assert all(list(run[qid]) == list(one_by_one[qid]) for qid in queries)  # hits in rank order


def test_an_index_without_a_matrix_is_searched_in_lucene(corpus, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(corpus.folder / "sparse-flat", old)
    shutil.rmtree(old / IMPACTS_DIR)  # as indexes built before impact matrices
    with BM25Searcher(old, corpus) as s, BM25Searcher(corpus.folder / "sparse-flat", corpus) as fast:
        assert s.route() == "lucene"
        assert all(s.search(q, 100) == fast.search(q, 100) for q in _queries(30))


@pytest.mark.parametrize("change", [{"num_rows": -1}, {"fingerprint": "sha256:0000"}])
def test_a_matrix_of_other_documents_is_refused_with_the_command_that_rebuilds(corpus, tmp_path, change):
    copy = tmp_path / "copy"
    shutil.copytree(corpus.folder / "sparse-flat", copy)
    meta = copy / IMPACTS_DIR / "gaia_lite.json"
    data = json.loads(meta.read_text())
    assert data["fingerprint"] == corpus.meta.fingerprint and data["source"] == str(corpus.folder / "sparse-flat")
    changed = {k: (data[k] + v if isinstance(v, int) else v) for k, v in change.items()}
    meta.write_text(json.dumps({**data, **changed}))
    with pytest.raises(ArtifactMismatchError, match="gaia-lite index sparse"):
        BM25Searcher(copy, corpus)


def test_the_matrix_holds_every_posting_once(corpus):
    """Postings per term equal Lucene's document frequencies; the stored impacts are positive and finite."""
    folder = corpus.folder / "sparse-flat" / IMPACTS_DIR / "contents"
    starts, docs = np.load(folder / "starts.npy"), np.load(folder / "docs.npy")
    impacts = np.load(folder / "impacts.npy")
    terms = (folder / "terms.txt").read_text(encoding="utf-8").split("\n")[:-1]
    assert len(starts) == len(terms) + 1 and starts[-1] == len(docs) == len(impacts)
    assert np.all(impacts > 0) and np.all(np.isfinite(impacts))
    assert terms == sorted(terms, key=lambda t: t.encode("utf-8"))
    with BM25Searcher(corpus.folder / "sparse-flat", corpus, impacts=False) as s:
        for t in ("protein", "cell", "w0", "w7"):
            i = terms.index(t)
            assert starts[i + 1] - starts[i] == s.count(t)
    assert not math.isnan(float(impacts.sum()))
