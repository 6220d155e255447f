"""Evaluation with trec_eval semantics: BEIR/TREC file readers, TREC run files, and metrics via ir_measures.

Metrics are averaged over every query in the qrels, a query with no hits counting 0 (``trec_eval -c``, as in
Anserini's regressions). Metric names are ir_measures' (``nDCG@10``, ``R@100``, ``P@10``, ``AP``, ``RR``…).

Rank order is score descending, then doc id ascending, everywhere: in searchers, in evaluation and in run
files. trec_eval alone would break exact score ties by doc id *descending*; Anserini avoids that by writing
tie-adjusted scores (its ``ScoreTiesAdjusterReranker``), and so do :func:`write_trec_run` and
:func:`evaluate_run`, so that our metrics, our run files and Anserini's agree.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .config import DEFAULT_METRICS
from .corpus.sources import iter_jsonl
from .errors import InputError
from .types import Hit, Qrels, Run, anserini_scores, ranked

__all__ = ["DEFAULT_METRICS", "anserini_scores", "evaluate_run", "load_qrels", "load_queries", "query_id", "ranked",
           "read_trec_run", "remove_query_ids", "trec_lines", "write_trec_run"]


def load_queries(path: str | os.PathLike) -> dict[str, str]:
    """Queries from a BEIR ``queries.jsonl`` (``_id``, ``text``) or a TSV of ``id<TAB>text``."""
    path = Path(path)
    queries: dict[str, str] = {}
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        for where, record in iter_jsonl(path):
            if "_id" not in record or "text" not in record:
                raise InputError(f"{where}: a query needs '_id' and 'text'")
            queries[str(record["_id"])] = record["text"]
    else:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if line.strip():
                    qid, sep, text = line.rstrip("\n").partition("\t")
                    if not sep:
                        raise InputError(f"{path}:{lineno}: expected 'query_id<TAB>text'")
                    queries[qid] = text
    return queries


def load_qrels(path: str | os.PathLike) -> Qrels:
    """Relevance judgments from a BEIR qrels TSV (``query-id corpus-id score``, with header) or a TREC qrels
    file (``qid iter docid rel``)."""
    qrels: Qrels = {}
    with open(path, encoding="utf-8") as f:
        for lineno, row in enumerate(csv.reader(f, delimiter="\t") if str(path).endswith(".tsv") else
                                     (line.split() for line in f), 1):
            if not row or (lineno == 1 and row[0] in ("query-id", "query_id", "qid")):
                continue
            if len(row) == 3:
                qid, docid, rel = row
            elif len(row) == 4:
                qid, _, docid, rel = row
            else:
                raise InputError(f"{path}:{lineno}: expected 3 (BEIR) or 4 (TREC) columns, got {len(row)}")
            try:
                qrels.setdefault(qid, {})[docid] = int(rel)
            except ValueError:
                raise InputError(f"{path}:{lineno}: relevance {rel!r} is not an integer") from None
    if not qrels:
        raise InputError(f"{path}: no judgments")
    return qrels


def remove_query_ids(run: Run) -> Run:
    """BEIR's rule (Anserini's ``-removeQuery``): drop a hit whose doc id equals its query id.

    Right for BEIR collections where a query can be a document of the corpus; on collections whose query and
    document ids are unrelated numbers it removes real documents, so it is opt-in.
    """
    return {qid: {d: s for d, s in hits.items() if d != qid} for qid, hits in run.items()}


def trec_lines(results: Mapping[str, Sequence[Hit]], tag: str = "gaia_lite") -> str:
    """Ranked hits per query, ``{query_id: [hit, ...]}``, as TREC run lines (``qid Q0 docid rank score tag``).

    Each hit keeps its own rank; scores are written as Anserini writes them (:func:`anserini_scores`, 6
    decimals), so ``trec_eval`` on the lines gives the same figures as :func:`evaluate_run` and they compare
    with Anserini's runs. Queries come in sorted order.
    """
    lines = []
    for qid in sorted(results):
        hits = results[qid]
        for hit, score in zip(hits, anserini_scores(h.score for h in hits)):
            lines.append(f"{qid} Q0 {hit.doc_id} {hit.rank} {score:.6f} {tag}\n")
    return "".join(lines)


def write_trec_run(run: Run, path: str | os.PathLike, tag: str = "gaia_lite") -> Path:
    """Write ``run`` as a TREC run file (:func:`trec_lines`, ranks in :func:`ranked` order), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    results = {qid: [Hit(d, s, rank) for rank, (d, s) in enumerate(ranked(hits), 1)] for qid, hits in run.items()}
    tmp.write_text(trec_lines(results, tag), encoding="utf-8")
    tmp.replace(path)
    return path


def query_id(query: str) -> str:
    """An id for a query typed by hand (the explorer's, the CLI's), for a TREC run: its first words joined by
    ``_`` and a hash of the whole text, so that it holds no whitespace and two queries never share it."""
    words = "_".join(re.findall(r"\w+", query.lower()))[:40].strip("_") or "query"
    return f"{words}-{hashlib.sha1(query.encode('utf-8')).hexdigest()[:8]}"


def read_trec_run(path: str | os.PathLike) -> Run:
    """Read a TREC run file into a :data:`~gaia_lite.types.Run`."""
    run: Run = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 6:
                raise InputError(f"{path}:{lineno}: expected 6 fields 'qid Q0 docid rank score tag'")
            run.setdefault(parts[0], {})[parts[2]] = float(parts[4])
    return run


def evaluate_run(run: Run, qrels: Qrels, metrics: Iterable[str] = DEFAULT_METRICS) -> dict[str, float]:
    """Mean of each metric over all queries in ``qrels`` (missing queries count 0, as ``trec_eval -c``)."""
    import ir_measures

    names = list(metrics)
    try:
        measures = [ir_measures.parse_measure(m) for m in names]
    except (ValueError, NameError, SyntaxError, TypeError) as e:
        raise InputError(f"unknown metric in {names} ({e}); use ir_measures names such as nDCG@10, R@100") from None
    totals = {str(m): 0.0 for m in measures}
    # Scores are replaced by rank positions so that ties are broken by doc id ascending (see module doc).
    run = {
        qid: {doc_id: float(len(hits) - i) for i, (doc_id, _) in enumerate(ranked(hits))}
        for qid, hits in run.items()
        if qid in qrels
    }
    for metric in ir_measures.iter_calc(measures, qrels, run):
        totals[str(metric.measure)] += metric.value
    return {name: totals[str(m)] / len(qrels) for name, m in zip(names, measures)}
