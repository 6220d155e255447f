"""Passage segmentation, passage corpora, and best-passage aggregation back to documents."""

from __future__ import annotations

import pytest

from gaia_lite.corpus import Corpus, build_corpus
from gaia_lite.errors import ConfigError
from gaia_lite.passages import (aggregate_run, best_passages, build_passage_corpus, document_id, passage_id,
                                segment)
from gaia_lite.types import Hit

from .conftest import write_jsonl


def _words(text, p):
    return text[p.char_start:p.char_end].split()


def test_windows_overlap_by_window_minus_stride_and_cover_every_word():
    text = " ".join(f"w{i}" for i in range(10))
    passages = segment(text, window=4, stride=3)
    assert [_words(text, p) for p in passages] == [["w0", "w1", "w2", "w3"], ["w3", "w4", "w5", "w6"],
                                                   ["w6", "w7", "w8", "w9"]]
    assert [p.index for p in passages] == [0, 1, 2]


def test_no_window_is_only_overlap_and_short_or_empty_texts_are_one_passage():
    text = " ".join(f"w{i}" for i in range(7))
    assert [_words(text, p) for p in segment(text, 4, 3)] == [["w0", "w1", "w2", "w3"], ["w3", "w4", "w5", "w6"]]
    assert [(p.char_start, p.char_end) for p in segment("  two words ", 4, 3)] == [(2, 11)]
    assert [(p.char_start, p.char_end) for p in segment("", 4, 3)] == [(0, 0)]


def test_offsets_keep_the_original_spacing():
    text = "Alpha  beta\n\ngamma\tdelta epsilon"
    p = segment(text, 3, 2)
    assert text[p[0].char_start:p[0].char_end] == "Alpha  beta\n\ngamma"
    assert text[p[1].char_start:p[1].char_end] == "gamma\tdelta epsilon"


@pytest.mark.parametrize("window, stride", [(0, 1), (4, 0), (4, 5)])
def test_bad_window_or_stride(window, stride):
    with pytest.raises(ConfigError, match="window"):
        segment("a b c", window, stride)


def test_passage_ids_derive_from_document_ids():
    assert passage_id("doc#1", 3) == "doc#1#p3"
    assert document_id("doc#1#p3") == "doc#1"
    assert document_id("plain") == "plain" and document_id("x#pz") == "x#pz"


def test_passage_corpus_rows_point_back_into_their_documents(tmp_path):
    docs = [{"_id": "long", "title": "T", "text": " ".join(f"w{i}" for i in range(9))},
            {"_id": "short", "title": "S", "text": "just three words"}]
    corpus, _ = build_corpus(str(write_jsonl(tmp_path / "c.jsonl", docs)), "c", root=tmp_path, progress=False)
    passages, report = build_passage_corpus(corpus, window=4, stride=3, progress=False)
    assert passages.folder == corpus.folder / "passages-w4-s3" and report.rows == 4
    assert passages.ids == ["long#p0", "long#p1", "long#p2", "short#p0"]
    for row in passages.dataset:
        source = corpus.get(row["doc_id"])
        assert source["text"][row["char_start"]:row["char_end"]] == row["text"]
        assert row["title"] == source["title"]
    assert passages.meta.command == f"gaia-lite passages {corpus.folder} --window 4 --stride 3"
    assert Corpus.load(passages.folder).meta.source.startswith("passages:")


def test_best_passage_per_document():
    hits = [Hit("a#p2", 9.0, 1), Hit("b#p0", 8.0, 2), Hit("a#p0", 7.0, 3), Hit("c#p1", 6.0, 4)]
    assert [(d, h.doc_id) for d, h in best_passages(hits)] == [("a", "a#p2"), ("b", "b#p0"), ("c", "c#p1")]
    assert [d for d, _ in best_passages(hits, k=2)] == ["a", "b"]
    assert aggregate_run({"q": {"a#p0": 7.0, "a#p2": 9.0, "b#p0": 8.0}}) == {"q": {"a": 9.0, "b": 8.0}}


def test_a_passage_experiment_is_evaluated_per_document(tmp_path):
    from gaia_lite.experiments import ExperimentConfig, run_experiment

    from .test_experiments import _beir_folder

    folder = _beir_folder(tmp_path)
    config = ExperimentConfig(name="p", k=10, passages={"window": 8, "stride": 6}, expected={"R@100": 1.0})
    result = run_experiment(config, folder, root=tmp_path / "i", runs_dir=tmp_path / "runs", progress=False,
                            log=lambda line: None)
    assert result.ok
    doc_ids = {line.split()[2] for line in result.run_path.read_text().splitlines()}
    assert doc_ids and not any("#p" in d for d in doc_ids)  # documents, not passages
    assert (tmp_path / "i" / "tinybeir" / "passages-w8-s6" / "sparse-flat").is_dir()
