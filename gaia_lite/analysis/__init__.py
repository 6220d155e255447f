"""What is in a corpus: benchmark contamination and duplicates.

- :func:`find_contamination` checks a benchmark's items against a corpus (n-gram overlap, where and how much),
  returning a :class:`~gaia_lite.analysis.contamination.ContaminationReport`;
- :func:`find_duplicates` finds exact and near-duplicate documents, returning a
  :class:`~gaia_lite.analysis.duplicates.DuplicatesReport` and storing the clusters beside the corpus;
- :func:`read_benchmark` reads a benchmark's items from any source a corpus can be built from.

Both analyses share one text normalisation (:mod:`gaia_lite.analysis.text`) and run in shards on the same
executors as the index builds.
"""

from __future__ import annotations

_LAZY = {
    "find_contamination": ("gaia_lite.analysis.contamination", "find_contamination"),
    "ContaminationReport": ("gaia_lite.analysis.contamination", "ContaminationReport"),
    "ItemResult": ("gaia_lite.analysis.contamination", "ItemResult"),
    "Overlap": ("gaia_lite.analysis.contamination", "Overlap"),
    "find_duplicates": ("gaia_lite.analysis.duplicates", "find_duplicates"),
    "DuplicatesReport": ("gaia_lite.analysis.duplicates", "DuplicatesReport"),
    "load_duplicates": ("gaia_lite.analysis.duplicates", "load_duplicates"),
    "read_benchmark": ("gaia_lite.analysis.benchmark", "read_benchmark"),
    "Benchmark": ("gaia_lite.analysis.benchmark", "Benchmark"),
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'gaia_lite.analysis' has no attribute {name!r}")
