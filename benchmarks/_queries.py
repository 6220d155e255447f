"""Queries for the benchmarks: the first sentences of a corpus's documents (a docstring's first sentence reads like
a search for it), drawn with a seed, and SciFact's test queries with their qrels."""

from __future__ import annotations

import random
import re
from pathlib import Path

_SENTENCE_END = re.compile(r"(?<=[.!?])\s|\n\s*\n")


def first_sentence(text: str) -> str:
    """The first sentence of a docstring, whitespace folded (used as a query)."""
    return " ".join(_SENTENCE_END.split(text.strip(), maxsplit=1)[0].split())


def sentence_candidates(corpus, rows: int | None = None) -> list[str]:
    """The first sentence of each of the corpus's first ``rows`` documents (all where None), in row order."""
    rows = rows or len(corpus)
    candidates: list[str] = []
    for batch in corpus.dataset.select_columns(["text"]).iter(batch_size=10_000):
        candidates.extend(first_sentence(t) for t in batch["text"][:rows - len(candidates)])
        if len(candidates) >= rows:
            break
    return candidates


def sample_queries(candidates: list[str], n: int, seed: int, lo: int = 3, hi: int = 40) -> tuple[dict[str, str], int]:
    """``n`` seeded draws among the candidates of ``lo`` to ``hi`` words, in row order, as ``{"q<row>": text}``;
    and how many candidates were eligible."""
    eligible = [i for i, q in enumerate(candidates) if lo <= len(q.split()) <= hi]
    rows = sorted(random.Random(seed).sample(eligible, min(n, len(eligible))))
    return {f"q{row}": candidates[row] for row in rows}, len(eligible)


def first_sentences(corpus, n: int, seed: int, rows: int | None = None) -> dict[str, str]:
    """``n`` seeded docstring first sentences of 3 to 40 words, of the first ``rows`` documents (all where None):
    ``{"q<row>": sentence}``."""
    return sample_queries(sentence_candidates(corpus, rows), n, seed)[0]


def scifact_topics(scifact: Path, limit: int | None = None) -> tuple[dict[str, str], dict]:
    """SciFact's test queries and qrels (the first ``limit`` queries where given)."""
    from gaia_lite.evaluate import load_qrels, load_queries

    qrels = load_qrels(scifact / "qrels" / "test.tsv")
    queries = load_queries(scifact / "queries.jsonl")
    topics = {qid: queries[qid] for qid in list(qrels)[:limit]}
    return topics, {qid: qrels[qid] for qid in topics}
