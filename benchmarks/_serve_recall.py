"""Approximate dense indexes over parts: recall against exact search, each part holding an index of its own.

A corpus in parts with an approximate index type (HNSW, IVF, IVF-PQ) gets one index a part; the merged top k of
the parts is then approximate in two ways, each part's own and the merge's. This measures recall@k of the merged
answer against exact search over all vectors, beside the recall of one index of the same type over all of
them, with gaia_lite's own FAISS factory (``empty_faiss_index``) and search settings (``DenseConfig``'s
``ef_search``, ``ivf_probe``; IVF-PQ hits re-scored exactly, as ``DenseSearcher`` does), over the vectors the
parts store (no second encoding).
"""

from __future__ import annotations

import numpy as np

TYPES = ("hnsw", "ivf", "ivfpq")


def _index(index_type: str, vectors: np.ndarray, config):
    from gaia_lite.dense.index import empty_faiss_index, training_rows

    index = empty_faiss_index(index_type, vectors.shape[1], len(vectors), config)
    if not index.is_trained:
        index.train(vectors[np.asarray(training_rows(len(vectors)))])
    index.add(vectors)
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = config.ef_search
    import faiss

    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        ivf.nprobe = config.ivf_probe
    return index


def _top(index, vectors: np.ndarray, ids: list[str], queries: np.ndarray, k: int, exact_rescore: bool):
    """Each query's top ``k`` ``(id, score)`` of ``index``; IVF-PQ asks 4k and re-scores from ``vectors``."""
    wanted = min(k * 4 if exact_rescore else k, len(ids))
    _, rows = index.search(queries, wanted)
    out = []
    for q, found in zip(queries, rows):
        found = [r for r in found.tolist() if r >= 0]
        scores = (vectors[found] @ q).tolist()
        out.append(sorted(zip((ids[r] for r in found), scores), key=lambda p: (-p[1], p[0]))[:k])
    return out


def approximate_recall(parted_searcher, queries: list[str], ks=(10, 100), types=TYPES) -> dict:
    """Recall@k, per index type, of the merged parts and of one index, against exact search; ``parted_searcher``
    is a dense searcher over a corpus in parts (``open_searcher(parted, kind="dense")``)."""
    from gaia_lite.config import DenseConfig

    config = DenseConfig()
    parts = parted_searcher.parts.parts
    q = np.asarray(parted_searcher.encoder.encode_queries(queries), dtype=np.float32)
    vectors = [np.ascontiguousarray(p.dense.embeddings, dtype=np.float32) for p in parts]
    ids = [p.dense.docids for p in parts]
    every, every_ids = np.concatenate(vectors), [d for part in ids for d in part]
    kmax = max(ks)
    exact = [[h.doc_id for h in parted_searcher.search_vector(v, kmax)] for v in q]
    out: dict = {"queries": len(queries), "parts": len(parts), "settings": {
        "ef_search": config.ef_search, "ivf_probe": config.ivf_probe, "hnsw_m": config.hnsw_m}}
    for index_type in types:
        rescore = index_type == "ivfpq"
        per_part = [_top(_index(index_type, v, config), v, i, q, kmax, rescore) for v, i in zip(vectors, ids)]
        merged = [sorted((pair for part in answers for pair in part), key=lambda p: (-p[1], p[0]))[:kmax]
                  for answers in zip(*per_part)]
        one = _top(_index(index_type, every, config), every, every_ids, q, kmax, rescore)
        out[index_type] = {
            f"recall@{k}": {
                "parts": float(np.mean([len({d for d, _ in m[:k]} & set(e[:k])) / k for m, e in zip(merged, exact)])),
                "one_index": float(np.mean([len({d for d, _ in o[:k]} & set(e[:k])) / k for o, e in zip(one, exact)])),
            } for k in ks}
    return out
