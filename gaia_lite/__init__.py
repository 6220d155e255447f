"""gaia_lite: BM25 + dense hybrid retrieval over Hugging Face datasets.

A Pyserini (Lucene) index and a Hugging Face ``Dataset`` share document ids. Importing this package is cheap:
the JVM, torch, faiss and gradio load only when a function that needs them runs.
"""

__version__ = "0.1.0"

_LAZY = {
    "Corpus": ("gaia_lite.corpus", "Corpus"),
    "Source": ("gaia_lite.corpus", "Source"),
    "build_corpus": ("gaia_lite.corpus", "build_corpus"),
    "build_sparse_index": ("gaia_lite.sparse", "build_sparse_index"),
    "build_dense_index": ("gaia_lite.dense", "build_dense_index"),
    "BM25Searcher": ("gaia_lite.sparse", "BM25Searcher"),
    "DenseSearcher": ("gaia_lite.dense", "DenseSearcher"),
    "HybridSearcher": ("gaia_lite.hybrid", "HybridSearcher"),
    "open_corpus": ("gaia_lite.retriever", "open_corpus"),
    "open_searcher": ("gaia_lite.retriever", "open_searcher"),
    "RetrieverConfig": ("gaia_lite.config", "RetrieverConfig"),
    "SparseConfig": ("gaia_lite.config", "SparseConfig"),
    "DenseConfig": ("gaia_lite.config", "DenseConfig"),
    "FusionConfig": ("gaia_lite.config", "FusionConfig"),
    "ExperimentConfig": ("gaia_lite.config", "ExperimentConfig"),
    "Hit": ("gaia_lite.types", "Hit"),
    "HybridHit": ("gaia_lite.types", "HybridHit"),
    "evaluate_run": ("gaia_lite.evaluate", "evaluate_run"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'gaia_lite' has no attribute {name!r}")
