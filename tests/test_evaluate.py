"""Metrics with hand-computed values, trec_eval -c semantics, tie order, run files, BEIR readers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gaia_lite.errors import InputError
from gaia_lite.evaluate import (anserini_scores, evaluate_run, load_qrels, load_queries, read_trec_run,
                                remove_query_ids, write_trec_run)

QRELS = {"q1": {"a": 1, "b": 1}, "q2": {"c": 2}, "q3": {"d": 1}}
RUN = {"q1": {"a": 3.0, "x": 2.0, "b": 1.0}, "q2": {"y": 5.0, "c": 4.0}}


def test_ndcg_and_recall_by_hand_with_missing_query_counting_zero():
    m = evaluate_run(RUN, QRELS, ["nDCG@10", "R@2", "P@1"])
    ndcg_q1 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    ndcg_q2 = (2 / math.log2(3)) / 2  # trec_eval's gain is the relevance grade itself
    assert m["nDCG@10"] == pytest.approx((ndcg_q1 + ndcg_q2 + 0) / 3)
    assert m["R@2"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert m["P@1"] == pytest.approx((1 + 0 + 0) / 3)


def test_queries_not_in_qrels_are_ignored():
    assert evaluate_run(dict(RUN, q9={"a": 1.0}), QRELS) == evaluate_run(RUN, QRELS)


def test_exact_ties_are_ordered_by_doc_id_ascending():
    # trec_eval alone would rank "b" first (doc id descending); Anserini's order puts "a" first.
    assert evaluate_run({"q": {"b": 1.0, "a": 1.0}}, {"q": {"a": 1}}, ["P@1"]) == {"P@1": 1.0}


def test_unknown_metric_is_a_clear_error():
    with pytest.raises(InputError, match="unknown metric"):
        evaluate_run(RUN, QRELS, ["nDCG@ten"])


def test_remove_query_ids_drops_only_the_query_itself():
    assert remove_query_ids({"1": {"1": 3.0, "2": 2.0}, "5": {"1": 1.0}}) == {"1": {"2": 2.0}, "5": {"1": 1.0}}


def test_anserini_score_adjustment_matches_its_documented_example():
    got = anserini_scores([23.439316, 22.087432, 22.087432, 21.602508])
    f = np.float32
    assert got == [float(f(23.4393)), float(f(22.0874)), float(f(f(22.0874) - f(1e-6))), float(f(21.6025))]


def test_anserini_rounds_in_double_precision():
    # float32(7.12555) is 7.12554979...: rounded in double it is 7.1255 (as Pyserini reports); float32
    # arithmetic would give 7.1256.
    assert anserini_scores([7.12555]) == [float(np.float32(7.1255))]


def test_trec_run_file_round_trip_keeps_order_and_metrics(tmp_path):
    run = {"q1": {"b": 2.0, "a": 2.0, "c": 1.0}, "q2": {"c": 4.0}}
    path = write_trec_run(run, tmp_path / "runs" / "r.trec", tag="t")
    lines = path.read_text().splitlines()
    assert [line.split()[2] for line in lines] == ["a", "b", "c", "c"]
    assert [line.split()[3] for line in lines] == ["1", "2", "3", "1"]
    assert all(line.split()[5] == "t" for line in lines)
    back = read_trec_run(path)
    assert sorted(back["q1"], key=lambda d: -back["q1"][d]) == ["a", "b", "c"]  # ties broken in the file itself
    qrels = {"q1": {"a": 1, "c": 1}, "q2": {"c": 1}}
    assert evaluate_run(back, qrels, ["nDCG@10", "P@1"]) == evaluate_run(run, qrels, ["nDCG@10", "P@1"])


def test_beir_and_trec_qrels_and_queries(tmp_path):
    (tmp_path / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\tdA\t1\n1\tdB\t0\n2\tdC\t2\n")
    (tmp_path / "qrels.txt").write_text("1 0 dA 1\n2 0 dC 2\n")
    assert load_qrels(tmp_path / "test.tsv") == {"1": {"dA": 1, "dB": 0}, "2": {"dC": 2}}
    assert load_qrels(tmp_path / "qrels.txt") == {"1": {"dA": 1}, "2": {"dC": 2}}
    (tmp_path / "queries.jsonl").write_text('{"_id": "1", "text": "first"}\n{"_id": 2, "text": "second"}\n')
    (tmp_path / "topics.tsv").write_text("1\tfirst\n2\tsecond\n")
    assert load_queries(tmp_path / "queries.jsonl") == {"1": "first", "2": "second"}
    assert load_queries(tmp_path / "topics.tsv") == {"1": "first", "2": "second"}


@pytest.mark.parametrize("content, message", [
    ("query-id\tcorpus-id\tscore\n1\tdA\n", r"q.tsv:2: expected 3 \(BEIR\) or 4 \(TREC\) columns"),
    ("query-id\tcorpus-id\tscore\n1\tdA\thigh\n", "not an integer"),
    ("query-id\tcorpus-id\tscore\n", "no judgments"),
])
def test_bad_qrels_are_clear_errors(tmp_path, content, message):
    (tmp_path / "q.tsv").write_text(content)
    with pytest.raises(InputError, match=message):
        load_qrels(tmp_path / "q.tsv")


def test_bad_run_file_names_the_line(tmp_path):
    (tmp_path / "r.trec").write_text("q1 Q0 a 1 2.0 t\nq1 Q0 b 2\n")
    with pytest.raises(InputError, match=r"r.trec:2"):
        read_trec_run(tmp_path / "r.trec")
