"""Corpus-wide BM25 statistics for a corpus kept as parts, as Elasticsearch's DFS phase gathers them.

Lucene's ``IndexSearcher`` scores with the term and collection statistics of its own index, so a part searched
alone scores with the part's idf and average length, not the corpus's. A search over parts therefore asks each
part for the statistics the query's scoring reads (:meth:`~gaia_lite.sparse.BM25Searcher.local_stats`), sums
them here (:func:`sum_stats`), and scores every part with the sums
(:meth:`~gaia_lite.sparse.BM25Searcher.with_stats`): each document gets the score one index over all the parts
would give it.

The Java side is one class, ``io.gaialite.GlobalStatsSearcher`` (``java/io/gaialite/``, built into the package's
jar by :mod:`gaia_lite.sparse.jar`), an ``IndexSearcher`` that takes its statistics from the sums.
"""

from __future__ import annotations

from collections.abc import Iterable


def sum_stats(parts: Iterable[str]) -> str:
    """The corpus-wide statistics: each part's lines (as ``GlobalStatsSearcher.localStats`` writes them) summed
    field by field and term by term, in a stable order."""
    fields: dict[str, list[int]] = {}
    terms: dict[tuple[str, str], list[int]] = {}
    for text in parts:
        for line in text.splitlines():
            kind, *cols = line.split("\t")
            key, values = ((cols[0], cols[1:]) if kind == "F" else ((cols[0], cols[1]), cols[2:]))
            table = fields if kind == "F" else terms
            totals = table.setdefault(key, [0] * len(values))
            for i, value in enumerate(values):
                totals[i] += int(value)
    lines = ["F\t" + "\t".join([field, *map(str, v)]) for field, v in sorted(fields.items())]
    lines += ["T\t" + "\t".join([field, term, *map(str, v)]) for (field, term), v in sorted(terms.items())]
    return "".join(line + "\n" for line in lines)
