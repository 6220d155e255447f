"""The numba kernels of :mod:`gaia_lite.sparse.impacts`: score queries from the impact matrix, keep the top k.

All arithmetic on scores is float32 as in Lucene's ``BM25Similarity``; a document's impacts, of every field, are
summed in double and rounded to float once, as Lucene sums a disjunction (it flattens the per-field clauses of a
multifield query into one). The kernels release the GIL, so threads score queries in parallel. Compiled on first
import and cached on disk.

A query is a run of ``(field, term, boost)`` entries, ``q_start[q]`` to ``q_start[q + 1]``; the fields' arrays come
as tuples, one entry per field.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_ONE = np.float32(1.0)


@njit(nogil=True, cache=True)
def _sift_down(heap, i, size):
    """Restore the min-heap ``heap[:size]`` below position ``i``."""
    key = heap[i]
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and heap[child + 1] < heap[child]:
            child += 1
        if heap[child] >= key:
            break
        heap[i] = heap[child]
        i = child
    heap[i] = key


@njit(nogil=True, cache=True)
def _accumulate(starts, docs, freqs, impacts, norms, caches, idfs, stored, q_field, q_term, q_boost, lo, hi,
                acc, mark, touched):
    """Add the impacts of entries ``lo`` to ``hi`` into ``acc``; returns how many documents they touched (listed in
    ``touched``). A term of boost 1 uses the stored impacts where they are for this k1 and b; any other boost is
    scored from the posting's frequency and norm, with the weight ``boost * idf`` in float32 as Lucene makes it."""
    one = _ONE
    n = 0
    for j in range(lo, hi):
        f = q_field[j]
        t = q_term[j]
        f_starts, f_docs = starts[f], docs[f]
        # Branch-free marking (a document's first posting lists it; a mark test per posting mispredicts half the
        # time, which doubled the kernel's time on SciFact); ``touched`` has room for one write past the last.
        if stored[f] and q_boost[j] == 1:
            f_impacts = impacts[f]
            for p in range(f_starts[t], f_starts[t + 1]):
                d = f_docs[p]
                touched[n] = d
                n += 1 - mark[d]
                mark[d] = 1
                acc[d] += f_impacts[p]
        else:
            w = np.float32(q_boost[j]) * idfs[f][t]
            f_freqs, f_norms, f_cache = freqs[f], norms[f], caches[f]
            for p in range(f_starts[t], f_starts[t + 1]):
                d = f_docs[p]
                touched[n] = d
                n += 1 - mark[d]
                mark[d] = 1
                acc[d] += w - w / (one + np.float32(f_freqs[p]) * f_cache[f_norms[d]])
    return n


@njit(nogil=True, cache=True)
def top_k(starts, docs, freqs, impacts, norms, caches, idfs, stored, q_start, q_field, q_term, q_boost, order, by_rank,
          k, acc, mark, touched, out_docs, out_scores, out_n):
    """Score each query and write its best ``k`` (docids, float32 scores; best first, ties by id rank ``order``,
    whose inverse is ``by_rank``) into row ``q`` of ``out_docs`` / ``out_scores``, their number into ``out_n[q]``.
    ``acc``, ``mark``, ``touched``: the caller's zeroed scratch (one per thread), zeroed again on return.

    A document is ranked by one int64 key, its float32 score's bits (scores are positive, so their bits sort as
    they do) above its id rank's complement: the best k are the k largest keys, kept in a min-heap of keys."""
    bits = np.empty(1, dtype=np.float32)
    as_int = bits.view(np.uint32)
    heap = np.empty(k, dtype=np.int64)
    for q in range(q_start.shape[0] - 1):
        n = _accumulate(starts, docs, freqs, impacts, norms, caches, idfs, stored, q_field, q_term, q_boost,
                        q_start[q], q_start[q + 1], acc, mark, touched)
        size = min(k, n)
        m = 0
        floor = np.float32(-1.0)  # the heap's lowest score once it is full: most documents fall below it
        for i in range(n):
            d = touched[i]
            s = np.float32(acc[d])
            acc[d] = 0.0
            mark[d] = 0
            if s < floor:
                continue
            bits[0] = s
            key = (np.int64(as_int[0]) << 32) | (0xFFFFFFFF - np.int64(order[d]))
            if m < size:
                j = m  # sift up
                m += 1
                while j > 0 and heap[(j - 1) // 2] > key:
                    heap[j] = heap[(j - 1) // 2]
                    j = (j - 1) // 2
                heap[j] = key
            elif key > heap[0]:
                heap[0] = key
                _sift_down(heap, 0, m)
            else:
                continue
            if m == size:
                as_int[0] = np.uint32(heap[0] >> 32)
                floor = bits[0]
        # Move the smallest key to the end until the heap is empty: the row ends up best first.
        end = m
        while end > 1:
            end -= 1
            heap[0], heap[end] = heap[end], heap[0]
            _sift_down(heap, 0, end)
        for i in range(m):
            out_docs[q, i] = by_rank[0xFFFFFFFF - (heap[i] & 0xFFFFFFFF)]
            as_int[0] = np.uint32(heap[i] >> 32)
            out_scores[q, i] = bits[0]
        out_n[q] = m


@njit(nogil=True, cache=True)
def scores_of(starts, docs, freqs, impacts, norms, caches, idfs, stored, q_field, q_term, q_boost, acc, mark, touched,
              docids):
    """The float32 score of each of ``docids`` for the one query given (0 where it holds no term)."""
    n = _accumulate(starts, docs, freqs, impacts, norms, caches, idfs, stored, q_field, q_term, q_boost, 0,
                    q_field.shape[0], acc, mark, touched)
    out = np.empty(docids.shape[0], dtype=np.float32)
    for i in range(docids.shape[0]):
        d = docids[i]
        out[i] = np.float32(acc[d]) if mark[d] else np.float32(0.0)
    for i in range(n):
        d = touched[i]
        acc[d] = 0.0
        mark[d] = 0
    return out


@njit(nogil=True, cache=True)
def count(starts, docs, freqs, impacts, norms, caches, idfs, stored, q_field, q_term, q_boost, acc, mark, touched):
    """How many documents hold at least one of the query's terms."""
    n = _accumulate(starts, docs, freqs, impacts, norms, caches, idfs, stored, q_field, q_term, q_boost, 0,
                    q_field.shape[0], acc, mark, touched)
    for i in range(n):
        d = touched[i]
        acc[d] = 0.0
        mark[d] = 0
    return n
