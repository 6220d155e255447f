"""A corpus kept as parts searches as one: BM25 over the parts (with the corpus's statistics gathered from every
part), dense and hybrid give the ids and scores of one index over the same documents; the Java class doing it
is its source's; bad parts are one-line errors."""

from __future__ import annotations

import json
import random
import shutil
import zipfile
from pathlib import Path

import pytest

from gaia_lite.cli import main
from gaia_lite.config import DenseConfig, RetrieverConfig, SparseConfig
from gaia_lite.corpus import Corpus, PartedCorpus, build_corpus
from gaia_lite.errors import ConfigError, GaiaLiteError
from gaia_lite.parts import check_compatible, parts_report
from gaia_lite.retriever import open_part, open_searcher

from .conftest import write_jsonl

WORDS = ("protein cell gene expression cancer tumor immune response virus infection brain neuron signal pathway "
         "receptor binding drug therapy patient clinical trial risk mutation dna rna sequence model mouse human "
         "blood heart lung liver kidney bone muscle growth factor insulin glucose metabolism obesity diet").split()
QUERIES = ["gene expression in cancer", "immune response to virus infection", "insulin glucose metabolism",
           "clinical trial of drug therapy in patients", "brain neuron signal", "heart", "dna rna sequence mouse",
           "bone muscle growth factor receptor binding pathway"]


def _docs(n: int = 420, seed: int = 3) -> list[dict]:
    """Documents of Zipf-distributed words, some repeated verbatim (tied scores that cross part boundaries)."""
    rng = random.Random(seed)
    weights = [1 / (i + 1) for i in range(len(WORDS))]
    docs = []
    for i in range(n):
        if i % 9 == 8:
            twin = docs[rng.randrange(len(docs))]
            docs.append({"_id": f"doc{i:04d}", "title": twin["title"], "text": twin["text"]})
            continue
        text = " ".join(rng.choices(WORDS, weights, k=rng.randint(5, 60)))
        docs.append({"_id": f"doc{i:04d}", "title": " ".join(rng.choices(WORDS, k=3)), "text": text})
    return docs


@pytest.fixture(scope="module")
def corpora(tmp_path_factory, encoder):
    """The same documents as one part and as 3 parts, each with flat and multifield Lucene indexes and a flat
    dense index (float32)."""
    from gaia_lite.dense import build_dense_index
    from gaia_lite.sparse import build_sparse_index

    root = tmp_path_factory.mktemp("parts")
    source = write_jsonl(root / "docs.jsonl", _docs())
    out = {}
    for name, parts in (("one", None), ("three", 3)):
        corpus, _ = build_corpus(str(source), name, root=root, parts=parts, progress=False)
        for fields in ("flat", "multifield"):
            build_sparse_index(corpus, fields=fields, progress=False, log=None)
        build_dense_index(corpus, encoder=encoder, progress=False, log=None)
        out[name] = Corpus.load(corpus.folder)
    return out


def _open(corpus, kind="bm25", fields="flat", encoder=None):
    config = RetrieverConfig(kind=kind, sparse=SparseConfig(fields=fields), dense=DenseConfig(dtype="float32"))
    return open_searcher(corpus, config, encoder=encoder)


def _pairs(hits):
    return [(h.doc_id, h.score) for h in hits]


def test_the_parts_are_the_corpus_rows_in_order_with_the_same_fingerprint(corpora):
    one, three = corpora["one"], corpora["three"]
    assert isinstance(three, PartedCorpus) and not isinstance(one, PartedCorpus)
    assert [len(p) for p in three.parts] == [140, 140, 140]
    assert three.ids == one.ids and len(three) == len(one)
    assert three.meta.fingerprint == one.meta.fingerprint == three.compute_fingerprint()
    assert three.get("doc0300") == one.get("doc0300")
    assert three.get_many(["doc0419", "doc0000"]) == one.get_many(["doc0419", "doc0000"])
    assert not (three.folder / "dataset").exists()
    assert {"sparse-flat", "sparse-multifield", "dense-all-minilm-l6-v2"} <= set(three.artifacts())


@pytest.mark.parametrize("fields", ["flat", "multifield"])
@pytest.mark.parametrize("k", [10, 100, 420])
def test_bm25_over_parts_gives_the_ids_and_scores_of_one_index(corpora, fields, k):
    one, three = _open(corpora["one"], fields=fields), _open(corpora["three"], fields=fields)
    for query in QUERIES:
        assert _pairs(three.search(query, k)) == _pairs(one.search(query, k)), query
    only = corpora["one"].ids[::7]
    assert _pairs(three.search(QUERIES[0], k, only=only)) == _pairs(one.search(QUERIES[0], k, only=only))
    assert _pairs(three.search("cancer", k, phrases=["gene expression"])) == \
        _pairs(one.search("cancer", k, phrases=["gene expression"]))


def test_counts_phrases_scores_and_explanations_over_parts_equal_one_index(corpora):
    one, three = open_searcher(corpora["one"]), open_searcher(corpora["three"])
    query, ids = QUERIES[3], corpora["one"].ids[100:300:9] + ["not-a-doc"]
    assert three.count(query) == one.count(query)
    assert three.count("", phrases=["immune response"]) == one.count("", phrases=["immune response"]) > 0
    assert three.matching(["gene expression"]) == one.matching(["gene expression"])
    assert three.score_documents(query, ids) == one.score_documents(query, ids)
    assert three.explain_terms(query, ids[:5]) == one.explain_terms(query, ids[:5])
    assert three.query_terms(query) == one.query_terms(query)


def test_local_statistics_would_not_give_the_one_index_answer(corpora):
    """Why the statistics are gathered: each part scoring with its own idf and average length ranks otherwise."""
    one = open_searcher(corpora["one"])
    three = open_searcher(corpora["three"])
    k, differ = 50, 0
    for query in QUERIES:
        local = sorted(((h.doc_id, h.score) for part in three.parts.parts for h in part.bm25.search(query, k)),
                       key=lambda p: (-p[1], p[0]))[:k]
        differ += local != _pairs(one.search(query, k))
    assert differ == len(QUERIES)


def _same_up_to_encoding_drift(a, b, tol=1e-5):
    """The same hits, scores to ``tol``: each part's vectors come from other batches than the one index's, which
    moves a vector by ~1e-7 (as a sharded build does), so documents tied that closely may change places."""
    assert [h.score for h in b] == pytest.approx([h.score for h in a], abs=tol)
    score_a = {h.doc_id: h.score for h in a}
    for x, y in zip(a, b):
        if x.doc_id != y.doc_id:
            assert y.doc_id not in score_a or abs(score_a[y.doc_id] - x.score) <= tol


@pytest.mark.parametrize("kind", ["dense", "hybrid"])
@pytest.mark.parametrize("k", [10, 420])
def test_dense_and_hybrid_over_parts_equal_one_index(corpora, encoder, kind, k):
    one, three = _open(corpora["one"], kind, encoder=encoder), _open(corpora["three"], kind, encoder=encoder)
    for query in QUERIES:
        _same_up_to_encoding_drift(one.search(query, k), three.search(query, k))
    assert three.search_batch({"q": QUERIES[0]}, k).keys() == {"q"}


def test_dense_search_over_parts_is_exact_search_over_their_vectors(corpora, encoder):
    """Over the very vectors the parts hold, one flat index and the parts give identical ids and scores."""
    import faiss
    import numpy as np

    three = _open(corpora["three"], "dense", encoder=encoder)
    parts = three.parts.parts
    vectors = np.concatenate([p.dense.embeddings for p in parts])
    ids = [d for p in parts for d in p.dense.docids]
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    for query in QUERIES:
        vector = three.encode_query(query)
        scores, rows = flat.search(vector.reshape(1, -1), len(ids))
        expected = sorted(((ids[r], s) for r, s in zip(rows[0].tolist(), scores[0].tolist())),
                          key=lambda p: (-p[1], p[0]))
        for k in (10, 200, 420):
            assert _pairs(three.search_vector(vector, k)) == expected[:k]


def test_a_report_names_every_part_that_answered(corpora):
    three = open_searcher(corpora["three"])
    with parts_report() as report:
        three.search(QUERIES[0])
    assert report.record() == {"parts": 3, "answered": ["part-000", "part-001", "part-002"], "missing": {},
                               "complete": True}


def test_the_cli_searches_parts_as_one_index(corpora, capsys):
    outs = []
    for name in ("one", "three"):
        assert main(["search", str(corpora[name].folder), QUERIES[1], "-k", "30", "--json"]) == 0
        outs.append([(h["doc_id"], h["score"]) for h in json.loads(capsys.readouterr().out)])
    assert outs[0] == outs[1] and len(outs[0]) == 30


def test_parts_built_with_other_analyzers_are_refused_naming_both(corpora, tmp_path):
    from gaia_lite.sparse import build_sparse_index, sparse_dir

    folder = tmp_path / "three"
    shutil.copytree(corpora["three"].folder, folder)
    corpus = Corpus.load(folder)
    part = corpus.parts[1]
    build_sparse_index(part, stemmer="krovetz", out=sparse_dir(part.folder), progress=False, log=None)
    with pytest.raises(GaiaLiteError, match=r"part-001.*'krovetz'.*not.*'porter'"):
        open_searcher(folder)
    # Parts each opened as built (a served part opens its own index) are compared before their scores mix.
    build_sparse_index(part, stemmer="krovetz", progress=False, log=None)
    infos = [open_part(p, RetrieverConfig(sparse=SparseConfig(stemmer=stemmer))).info()
             for p, stemmer in zip(corpus.parts, ("porter", "krovetz"))]
    with pytest.raises(ConfigError, match=r"stemmer.*'porter' in part-000 but 'krovetz' in part-001"):
        check_compatible(infos)


def test_a_missing_or_changed_part_is_a_one_line_error(corpora, tmp_path, capsys):
    folder = tmp_path / "three"
    shutil.copytree(corpora["three"].folder, folder)
    shutil.move(folder / "parts" / "part-002", tmp_path / "away")
    assert main(["search", str(folder), "heart"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "part part-002" in err and "is not at" in err
    shutil.copytree(folder / "parts" / "part-001", folder / "parts" / "part-002")
    assert main(["search", str(folder), "heart"]) == 2
    err = capsys.readouterr().err
    assert "part part-002" in err and "holds 140 documents with fingerprint" in err


@pytest.mark.parametrize("args, message", [(["--parts", "0"], "--parts"), (["--parts", "9"], "only 8 documents")])
def test_bad_part_counts_are_one_line_errors_and_write_nothing(tiny_jsonl, tmp_path, capsys, args, message):
    try:
        status = main(["corpus", str(tiny_jsonl), "--name", "t", "--root", str(tmp_path), "--no-progress", *args])
    except SystemExit as e:  # argparse's own errors
        status = e.code
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "t").exists() or not any((tmp_path / "t").iterdir())


def test_a_corpus_rebuilt_in_one_part_drops_its_old_parts(tiny_jsonl, tmp_path):
    build_corpus(str(tiny_jsonl), "t", root=tmp_path, parts=2, progress=False)
    assert isinstance(Corpus.load(tmp_path / "t"), PartedCorpus)
    corpus, _ = build_corpus(str(tiny_jsonl), "t", root=tmp_path, progress=False)
    assert not isinstance(corpus, PartedCorpus) and not (tmp_path / "t" / "parts").exists()


def test_the_shipped_jar_is_its_source_compiled(tmp_path):
    """The jar in the package holds exactly the classes ``javac`` makes from the source beside it."""
    from gaia_lite.sparse.jar import JAR, compile_classes

    classes = compile_classes(tmp_path)
    with zipfile.ZipFile(JAR) as jar:
        shipped = {name: jar.read(name) for name in jar.namelist()}
    assert shipped == {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in classes}


def test_duplicates_and_contamination_over_parts_equal_one_part(corpora, tmp_path):
    """The analyses read a corpus in parts as the rows of all its parts, in order: same clusters, same matches."""
    import pyarrow.parquet as pq

    from gaia_lite.analysis import find_contamination, find_duplicates, read_benchmark

    reports, tables = [], []
    for name in ("one", "three"):
        report = find_duplicates(corpora[name], progress=False, log=None)
        reports.append((report.exact, report.near))
        tables.append(pq.read_table(corpora[name].folder / "duplicates" / "clusters.parquet").to_pylist())
    assert reports[0] == reports[1] and reports[0][0]["duplicates"] > 0
    assert tables[0] == tables[1]
    items = [{"_id": f"q{i}", "text": corpora["one"].get(f"doc{i:04d}")["text"]} for i in (5, 150, 390)]
    benchmark = read_benchmark(str(write_jsonl(tmp_path / "bench.jsonl", items)))
    found = [find_contamination(corpora[name], benchmark, ngram=8, progress=False, log=None).items
             for name in ("one", "three")]
    assert found[0] == found[1] and len(found[0]) == 3


def test_statistics_of_a_partial_answer_are_not_kept(corpora):
    """A part that did not answer (a machine away) leaves its answer partial, named in the report; once it is
    back, the same query gets the one index's scores again, not statistics kept from the partial answer."""
    from gaia_lite.parts.searcher import PartUnavailable

    one, three = open_searcher(corpora["one"]), open_searcher(corpora["three"])
    away = three.parts.parts[2]
    search = away.bm25_stats

    def unreachable(*args):
        raise PartUnavailable(away.name, "its node is unreachable")

    away.bm25_stats = unreachable
    with parts_report() as report:
        partial = three.search(QUERIES[2], 20)
    assert report.missing == {"part-002": "its node is unreachable"} and not report.complete
    assert _pairs(partial) != _pairs(one.search(QUERIES[2], 20))
    with pytest.raises(GaiaLiteError, match="1 of 3 parts did not answer"):
        three.search(QUERIES[2], 20)
    away.bm25_stats = search
    assert _pairs(three.search(QUERIES[2], 20)) == _pairs(one.search(QUERIES[2], 20))
