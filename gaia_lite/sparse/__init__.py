"""The sparse side: a Pyserini (Lucene) BM25 index over a corpus, keyed by the corpus ids."""

from .indexer import build_sparse_index, sparse_dir
from .searcher import BM25Searcher

__all__ = ["BM25Searcher", "build_sparse_index", "sparse_dir"]
