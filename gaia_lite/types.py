"""Shared vocabulary: a search hit and a run, spelled as ir_measures / ranx / pytrec_eval spell them."""

from __future__ import annotations

from typing import NamedTuple

#: ``{query_id: {doc_id: score}}``, the run format that ranx, ir_measures and pytrec_eval all accept.
Run = dict[str, dict[str, float]]

#: ``{query_id: {doc_id: relevance}}``.
Qrels = dict[str, dict[str, int]]


class Hit(NamedTuple):
    """One retrieved document: its corpus id (never a row number), score, and 1-based rank.

    A NamedTuple: searches create hundreds per query, and a tuple is several times cheaper than a dataclass.
    """

    doc_id: str
    score: float
    rank: int


def hits_to_run(results: dict[str, list[Hit]]) -> Run:
    """Turn ``{query_id: [Hit, ...]}`` into a :data:`Run`."""
    return {qid: {h.doc_id: h.score for h in hits} for qid, hits in results.items()}
