"""The dense side: a transformers encoder, a FAISS index keyed by the corpus ids, and its searcher."""

from .encoder import DEFAULT_MODEL, Encoder, EncoderConfig, resolve_model
from .index import build_dense_index, dense_dir
from .searcher import DenseSearcher

__all__ = ["DEFAULT_MODEL", "DenseSearcher", "Encoder", "EncoderConfig", "build_dense_index", "dense_dir",
           "resolve_model"]
