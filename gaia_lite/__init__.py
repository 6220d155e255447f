"""gaia_lite: BM25 + dense hybrid retrieval over Hugging Face datasets.

A Pyserini (Lucene) index and a Hugging Face ``Dataset`` share document ids. Importing this package is cheap:
the JVM, torch, faiss and gradio load only when a function that needs them runs.
"""

from .lazy import lazy_exports

__version__ = "0.1.0"

_all, __getattr__ = lazy_exports("gaia_lite", {
    "gaia_lite.corpus": ("Corpus", "Source", "build_corpus"),
    "gaia_lite.sparse": ("build_sparse_index", "BM25Searcher"),
    "gaia_lite.dense": ("build_dense_index", "DenseSearcher"),
    "gaia_lite.hybrid": ("HybridSearcher",),
    "gaia_lite.retriever": ("open_corpus", "open_searcher"),
    "gaia_lite.config": ("RetrieverConfig", "SparseConfig", "DenseConfig", "FusionConfig", "ExperimentConfig"),
    "gaia_lite.types": ("Hit", "Hits", "HybridHit"),
    "gaia_lite.evaluate": ("evaluate_run",),
})
__all__ = ["__version__", *_all]
