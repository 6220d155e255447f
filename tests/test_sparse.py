"""The Lucene side: docids equal the corpus ids, results equal Pyserini's, odd queries never raise."""

from __future__ import annotations

import json
import shutil

import pytest

from gaia_lite.artifacts import META_FILE
from gaia_lite.config import SparseConfig
from gaia_lite.corpus import build_corpus
from gaia_lite.evaluate import anserini_scores
from gaia_lite.errors import ArtifactMismatchError, MissingArtifactError
from gaia_lite.retriever import open_searcher
from gaia_lite.sparse import BM25Searcher, build_sparse_index, sparse_dir
from gaia_lite.types import Hit

from .conftest import TINY_DOCS, write_jsonl

QUERIES = ["search engine software", "programming language", "python", "ranking function relevance", "run",
           "who", "machine learning transformers"]


def _pyserini(index_dir, fields="flat"):
    from gaia_lite.java import start_jvm

    start_jvm()
    from pyserini.search.lucene import LuceneSearcher

    return LuceneSearcher(str(index_dir))


def test_index_holds_exactly_the_corpus_ids(tiny_corpus):
    from pyserini.index.lucene import LuceneIndexReader

    reader = LuceneIndexReader(str(sparse_dir(tiny_corpus.folder)))
    stored = sorted(reader.convert_internal_docid_to_collection_docid(i) for i in range(reader.stats()["documents"]))
    assert stored == sorted(d["_id"] for d in TINY_DOCS)


def test_index_metadata_describes_the_build(tiny_corpus):
    meta = json.loads((sparse_dir(tiny_corpus.folder) / META_FILE).read_text())
    assert meta["kind"] == "sparse"
    assert meta["num_rows"] == len(TINY_DOCS)
    assert meta["fingerprint"] == tiny_corpus.meta.fingerprint
    assert meta["params"]["fields"] == "flat"
    assert meta["params"]["analyzer"] == {"language": "en", "stemmer": "porter", "keep_stopwords": False}
    assert meta["command"].startswith("gaia-lite index sparse ")


@pytest.mark.parametrize("query", QUERIES)
def test_hits_equal_pyserini_lucene_searcher(tiny_searcher, tiny_corpus, query):
    ours = tiny_searcher.search(query, k=5)
    theirs = _pyserini(sparse_dir(tiny_corpus.folder)).search(query, k=5)
    # Same documents in the same order; Pyserini reports Anserini's tie-adjusted scores, we the exact ones.
    assert [h.doc_id for h in ours] == [h.docid for h in theirs]
    assert anserini_scores(h.score for h in ours) == [h.score for h in theirs]
    assert [h.rank for h in ours] == list(range(1, len(ours) + 1))


def test_multifield_hits_equal_pyserini_search_fields(tiny_corpus):
    with open_searcher(tiny_corpus, sparse=SparseConfig(fields="multifield")) as s:
        ours = s.search("apache java library", k=5)
    theirs = _pyserini(sparse_dir(tiny_corpus.folder, SparseConfig(fields="multifield"))).search(
        "apache java library", k=5, fields={"contents": 1.0, "title": 1.0})
    assert [h.doc_id for h in ours] == [h.docid for h in theirs]
    assert anserini_scores(h.score for h in ours) == [h.score for h in theirs]


def test_hit_maps_to_the_dataset_row_by_id(tiny_searcher):
    hit = tiny_searcher.search("okapi ranking function", k=1)[0]
    assert isinstance(hit, Hit) and hit.doc_id == "d4"
    assert tiny_searcher.doc(hit.doc_id)["title"] == "Okapi BM25"


def test_ties_break_by_doc_id_as_anserini_does(tmp_path):
    docs = [{"_id": i, "text": "same words here"} for i in ("z9", "a1", "m5", "b2")] + [
        {"_id": "x", "text": "other text entirely"}]
    corpus, _ = build_corpus(str(write_jsonl(tmp_path / "t.jsonl", docs)), "ties", root=tmp_path, progress=False)
    build_sparse_index(corpus, progress=False)
    with open_searcher(corpus) as s:
        hits = s.search("same words", k=3)
    assert [h.doc_id for h in hits] == ["a1", "b2", "m5"]
    assert len({h.score for h in hits}) == 1


def test_a_tie_group_far_larger_than_the_margin_is_taken_whole(tmp_path):
    """40 documents tie; the top 20 are the 20 smallest ids: in Lucene over several rounds of growing searches, and
    from the impact matrix in one."""
    import random

    ids = [f"d{i:03d}" for i in random.Random(2).sample(range(1000), 40)]
    docs = [{"_id": i, "text": "same words here"} for i in ids] + [{"_id": "x", "text": "other text entirely"}]
    corpus, _ = build_corpus(str(write_jsonl(tmp_path / "t.jsonl", docs)), "ties40", root=tmp_path, progress=False)
    index = build_sparse_index(corpus, progress=False)
    with BM25Searcher(index, corpus, impacts=False) as s:
        from gaia_lite.timing import StepTimes

        s.step_times = StepTimes()
        hits = s.search("same words", k=20)
        assert s.step_times.counts["lucene_rounds"] == [4]  # 21, 24, 36, then 84 (all 40)
    assert [h.doc_id for h in hits] == sorted(ids)[:20]
    with open_searcher(corpus) as s:
        assert s.route() == "impacts" and s.search("same words", k=20) == hits


@pytest.mark.parametrize("query", [
    '"quoted phrase" search', "title:python", "(engine OR [software TO z])", "wild* ca?d~2 boost^3",
    "AND OR NOT", "-", "- search -", "a && b || !c", "\\ / : ^ ~ * ? { } [ ] ( )", "🙂 émigré 検索",
])
def test_lucene_syntax_is_plain_text_and_never_raises(tiny_searcher, query):
    hits = tiny_searcher.search(query, k=3)
    assert all(isinstance(h, Hit) for h in hits)


def test_syntax_characters_do_not_change_the_ranking(tiny_searcher):
    plain = tiny_searcher.search("search engine", k=5)
    assert tiny_searcher.search('"search" AND engine:', k=5) == plain


def test_queries_without_searchable_terms_return_no_hits(tiny_searcher):
    assert tiny_searcher.search("", 5) == []
    assert tiny_searcher.search("   ", 5) == []
    assert tiny_searcher.search("the of and", 5) == []  # all stopwords


def test_very_long_query_does_not_raise(tiny_searcher):
    query = " ".join(f"term{i}" for i in range(3000)) + " lucene"
    assert [h.doc_id for h in tiny_searcher.search(query, 3)] == ["d3"]


def test_search_batch_returns_a_run_equal_to_single_searches(tiny_searcher):
    queries = {f"q{i}": q for i, q in enumerate(QUERIES)}
    for threads in (1, 2):
        run = tiny_searcher.search_batch(queries, k=4, threads=threads)
        assert set(run) == set(queries)
        for qid, text in queries.items():
            assert run[qid] == {h.doc_id: h.score for h in tiny_searcher.search(text, 4)}


def test_k_must_be_positive(tiny_searcher):
    with pytest.raises(ValueError):
        tiny_searcher.search("python", k=0)


def test_analyzer_options_are_applied_to_index_and_queries(tiny_corpus):
    build_sparse_index(tiny_corpus, stemmer="none", keep_stopwords=True, progress=False)
    with open_searcher(tiny_corpus, sparse=SparseConfig(stemmer="none", keep_stopwords=True)) as s:
        assert s.search("run", 5)[0].doc_id == "d6"  # exact token "run" ("Runners run races")
        assert s.search("running", 5)[0].doc_id == "d6"
        assert "d8" in [h.doc_id for h in s.search("the", 5)]  # a stopword, kept ("The Who")
        assert s.search("runs", 5) == []  # no stemming: "runs" matches nothing
    with open_searcher(tiny_corpus) as porter:
        assert porter.search("runs", 5)[0].doc_id == "d6"  # porter: runs -> run
        assert porter.search("the", 5) == []


def test_stale_index_is_refused_with_the_rebuild_command(tmp_path):
    src = write_jsonl(tmp_path / "s.jsonl", TINY_DOCS)
    corpus, _ = build_corpus(str(src), "stale", root=tmp_path, progress=False)
    build_sparse_index(corpus, progress=False)
    write_jsonl(src, TINY_DOCS[:-1])  # the corpus is rebuilt with one document fewer
    corpus, _ = build_corpus(str(src), "stale", root=tmp_path, progress=False)
    with pytest.raises(ArtifactMismatchError) as e:
        open_searcher(corpus)
    assert "8 documents" in str(e.value) and "7 documents" in str(e.value)
    assert "gaia-lite index sparse" in str(e.value)


def test_missing_index_says_how_to_build_it(tiny_corpus):
    with pytest.raises(MissingArtifactError) as e:
        open_searcher(tiny_corpus, sparse=SparseConfig(stemmer="krovetz"))
    assert "gaia-lite index sparse" in str(e.value)


def test_failed_index_build_keeps_the_previous_index(tmp_path, monkeypatch):
    corpus, _ = build_corpus(str(write_jsonl(tmp_path / "s.jsonl", TINY_DOCS)), "keep", root=tmp_path,
                             progress=False)
    index = build_sparse_index(corpus, progress=False)
    before = sorted(p.name for p in index.iterdir())
    meta_before = (index / META_FILE).read_text()

    import gaia_lite.sparse.indexer as indexer

    def broken(batch, fields, fingerprint):
        raise RuntimeError("disk full")

    monkeypatch.setattr(indexer, "_json_documents", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        build_sparse_index(corpus, progress=False)
    assert sorted(p.name for p in index.iterdir()) == before
    assert (index / META_FILE).read_text() == meta_before
    # What is left is the build's workdir, kept so that a rerun resumes: no finished shard, no half-made one.
    assert [p.name for p in index.parent.iterdir() if p.name.startswith(".")] == [".sparse-flat.work"]
    assert list((index.parent / ".sparse-flat.work" / "parts").iterdir()) == []
    monkeypatch.undo()
    with BM25Searcher(index, corpus) as s:
        assert s.search("lucene", 1)[0].doc_id == "d3"
    build_sparse_index(corpus, progress=False)  # the next build of the same index clears the workdir away
    assert [p.name for p in index.parent.iterdir() if p.name.startswith(".")] == []


def test_index_folder_not_built_by_gaia_lite_is_refused(tmp_path, tiny_corpus):
    foreign = tmp_path / "foreign"
    shutil.copytree(sparse_dir(tiny_corpus.folder), foreign)
    (foreign / META_FILE).unlink()
    with pytest.raises(MissingArtifactError) as e:
        BM25Searcher(foreign, tiny_corpus)
    assert "gaia_lite.json" in str(e.value)
