"""Restricting a search: exact phrases, document-id filters and counts, on BM25, dense and hybrid alike.

The app's phrase search, metadata filters and paging rest on these; each check compares against a search
without the restriction, so a restriction that drops, adds or rescores a document fails.
"""

from __future__ import annotations

import pytest

from gaia_lite.config import SparseConfig
from gaia_lite.errors import InputError
from gaia_lite.retriever import open_searcher


def test_only_keeps_bm25_scores_and_order(tiny_searcher):
    full = tiny_searcher.search("search engine software", k=8)
    only = [h.doc_id for h in full][1::2]
    restricted = tiny_searcher.search("search engine software", k=8, only=only)
    assert [(h.doc_id, h.score) for h in restricted] == [(h.doc_id, h.score) for h in full if h.doc_id in only]
    assert [h.rank for h in restricted] == list(range(1, len(restricted) + 1))


def test_only_empty_or_unknown_ids_find_nothing(tiny_searcher):
    assert tiny_searcher.search("search engine", k=5, only=[]) == []
    assert tiny_searcher.search("search engine", k=5, only=["no-such-id"]) == []
    assert tiny_searcher.count("search engine", only=[]) == 0


def test_phrase_matches_words_in_order_only(tiny_searcher):
    # d3 says "search engine software", d7 "search engine is a software system": both hold "search engine".
    assert tiny_searcher.matching(["search engine"]) == ["d3", "d4", "d7"]
    assert tiny_searcher.matching(["engine search"]) == []
    # Stemmed like the index: "programming languages" matches "programming language".
    assert tiny_searcher.matching(["programming languages"]) == ["d1", "d2"]
    assert tiny_searcher.matching(["search engine", "software system"]) == ["d7"]


def test_phrase_restricts_bm25_without_rescoring(tiny_searcher):
    full = {h.doc_id: h.score for h in tiny_searcher.search("search engine software", k=8)}
    hits = tiny_searcher.search("search engine software", k=8, phrases=["software system"])
    assert [h.doc_id for h in hits] == ["d7"]
    assert hits[0].score == full["d7"]


def test_count_is_the_number_of_matching_documents(tiny_searcher):
    assert tiny_searcher.count() == 8
    assert tiny_searcher.count(phrases=["search engine"]) == 3
    assert tiny_searcher.count(phrases=["search engine"], only=["d3", "d1"]) == 1
    # Documents holding any query term: "java" is in d2 and d3.
    assert tiny_searcher.count("java") == 2
    assert tiny_searcher.count("java", only=["d2", "d5"]) == 1


@pytest.mark.parametrize("phrase", ["to be or not to be", "!!!", "   "])
def test_phrase_without_indexed_words_is_a_clear_error(tiny_searcher, phrase):
    with pytest.raises(InputError, match="no indexed words"):
        tiny_searcher.matching([phrase])


def test_multifield_phrase_matches_title_too(tiny_corpus):
    with open_searcher(tiny_corpus, sparse=SparseConfig(fields="multifield")) as s:
        # "Okapi BM25" is d4's title and also in its text; "Hugging Face" likewise for d5.
        assert s.matching(["okapi bm25"]) == ["d4"]
        assert s.matching(["hugging face"]) == ["d5"]


@pytest.fixture(scope="module")
def dense(tiny_corpus, tiny_dense, encoder):
    from gaia_lite.dense import DenseSearcher

    return DenseSearcher(tiny_dense, tiny_corpus, encoder=encoder)


def test_dense_only_is_the_exact_top_k_among_the_allowed(dense):
    full = dense.search("a library for search", k=8)
    only = [h.doc_id for h in full][::3]
    restricted = dense.search("a library for search", k=8, only=only)
    assert [h.doc_id for h in restricted] == [h.doc_id for h in full if h.doc_id in only]
    assert [h.score for h in restricted] == pytest.approx([h.score for h in full if h.doc_id in only], abs=1e-6)
    assert dense.search("a library for search", k=2, only=only) == restricted[:2]
    assert dense.search("a library for search", k=3, only=["nope"]) == []


@pytest.mark.parametrize("method", ["rrf", "weighted"])
def test_hybrid_only_restricts_both_sides(tiny_searcher, dense, method):
    from gaia_lite.hybrid import FusionConfig, HybridSearcher

    hybrid = HybridSearcher(tiny_searcher, dense, FusionConfig(method=method, depth=8))
    only = ["d1", "d3", "d4", "d7"]
    hits = hybrid.search("search engine library", k=8, only=only)
    assert {h.doc_id for h in hits} <= set(only)
    for h in hits:
        if h.bm25_rank is not None:
            assert h.bm25_rank == [x.doc_id for x in tiny_searcher.search("search engine library", 8, only=only)
                                   ].index(h.doc_id) + 1
        if h.dense_rank is not None:
            assert h.dense_rank == [x.doc_id for x in dense.search("search engine library", 8, only=only)
                                    ].index(h.doc_id) + 1
