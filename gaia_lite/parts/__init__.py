"""Search a corpus kept as parts (:mod:`gaia_lite.corpus.parts`) with the answers of one index over it.

The searchers here fan each call out to the parts and merge what comes back; they reach a part through one small
interface whose calls take and return plain data, so the same searchers run over parts opened in this process
(:class:`LocalPart`) and over parts served on a Ray Serve cluster (:mod:`gaia_lite.serve`).
"""

from .searcher import (LocalPart, PartedBM25Searcher, PartedDenseSearcher, Parts, PartsReport, check_compatible,
                       parts_report, settle)

__all__ = ["LocalPart", "PartedBM25Searcher", "PartedDenseSearcher", "Parts", "PartsReport", "check_compatible",
           "parts_report", "settle"]
