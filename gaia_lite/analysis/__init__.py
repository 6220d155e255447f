"""What is in a corpus: an audit, benchmark contamination and duplicates.

- :func:`find_audit` audits a corpus at WIMBD's depth (lengths, most common n-grams with exact counts, distinct
  n-grams, personal data, languages, offensive language, metadata) into its ``audit/`` folder, returning an
  :class:`~gaia_lite.analysis.audit.AuditReport`; :func:`load_audit` reads it back, and :func:`count_phrase`
  counts any phrase exactly from its word index;
- :func:`find_contamination` checks a benchmark's items against a corpus (n-gram overlap, where and how much),
  returning a :class:`~gaia_lite.analysis.contamination.ContaminationReport`;
- :func:`find_duplicates` finds exact and near-duplicate documents, returning a
  :class:`~gaia_lite.analysis.duplicates.DuplicatesReport` and storing the clusters beside the corpus;
- :func:`find_overlap` finds the n-grams and documents two corpora share, returning an
  :class:`~gaia_lite.analysis.overlap.OverlapReport` and storing it in the first corpus's ``overlap/`` folder;
- :func:`read_benchmark` reads a benchmark's items from any source a corpus can be built from.

They share one text normalisation (:mod:`gaia_lite.analysis.text`) and run in shards on the same executors as
the index builds.
"""

from __future__ import annotations

from ..lazy import lazy_exports

__all__, __getattr__ = lazy_exports("gaia_lite.analysis", {
    "gaia_lite.analysis.contamination": ("find_contamination", "ContaminationReport", "ItemResult", "Overlap"),
    "gaia_lite.analysis.duplicates": ("find_duplicates", "DuplicatesReport", "load_duplicates"),
    "gaia_lite.analysis.benchmark": ("read_benchmark", "Benchmark"),
    "gaia_lite.analysis.audit": ("find_audit", "AuditReport", "load_audit", "count_phrase", "PhraseCount"),
    "gaia_lite.analysis.overlap": ("find_overlap", "OverlapReport"),
})
