"""Exact n-gram matching of benchmark items against documents, vectorised with numpy.

An :class:`NgramTable` holds every n-gram of every benchmark item (an item of fewer than n words is one
n-gram of its own length). :meth:`NgramTable.scan` takes a batch of document texts and returns every place
where an item n-gram occurs in one of them, as arrays. Words are numbered by the benchmark's own vocabulary;
a document word outside it can be part of no match, so it only breaks windows. Windows are compared by a
64-bit polynomial hash first and then word by word, so a hash collision can never make a false match.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .text import words

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd, so the hash is a bijection of each step's input


def window_hashes(ids: np.ndarray, m: int) -> np.ndarray:
    """The hash of each window of ``m`` consecutive word ids of ``ids`` (``len(ids) - m + 1`` of them)."""
    count = len(ids) - m + 1
    if count <= 0:
        return np.zeros(0, np.uint64)
    values = (ids + 1).astype(np.uint64)  # unsigned arithmetic wraps around, as the hash wants
    h = np.zeros(count, np.uint64)
    for k in range(m):
        h = h * _MULTIPLIER + values[k:k + count]
    return h


@dataclass
class Matches:
    """Where item n-grams occur in a batch of texts: parallel arrays, one entry per occurrence. ``item`` and
    ``pos`` say which item and which of its n-grams (its first word's position); ``text`` and ``start`` which
    text of the batch and the first word's position in it."""

    item: np.ndarray
    pos: np.ndarray
    text: np.ndarray
    start: np.ndarray

    def __len__(self) -> int:
        return len(self.item)


class NgramTable:
    """Every n-gram of the benchmark items ``items`` (lists of normalised words, none empty), ready to scan
    documents with."""

    def __init__(self, items: list[list[str]], n: int):
        self.n = n
        self.vocab: dict[str, int] = {}
        ids = [np.array([self.vocab.setdefault(w, len(self.vocab)) for w in item], np.int64) for item in items]
        self.item_ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        lengths = np.array([len(x) for x in ids], np.int64)
        self.item_offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        #: Per item: its words, the length of its n-grams (n, or its word count where shorter), how many it has.
        self.words = lengths
        self.lengths = np.minimum(lengths, n)
        self.windows = lengths - self.lengths + 1
        self.window_offsets = np.concatenate([[0], np.cumsum(self.windows)[:-1]]).astype(np.int64)
        # One sorted lookup table per n-gram length: hash → (item, position).
        self.tables: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for m in np.unique(self.lengths):
            m = int(m)
            members = np.flatnonzero(self.lengths == m)
            hashes = [window_hashes(ids[i], m) for i in members]
            h = np.concatenate(hashes)
            item = np.repeat(members, [len(x) for x in hashes])
            pos = np.concatenate([np.arange(len(x)) for x in hashes])
            order = np.argsort(h, kind="stable")
            self.tables[m] = (h[order], item[order], pos[order])

    def __len__(self) -> int:
        return len(self.lengths)

    def encode(self, text: str) -> np.ndarray:
        """The word ids of ``text`` (-1 for a word no item has)."""
        get = self.vocab.get
        return np.fromiter((get(w, -1) for w in words(text)), np.int64)

    def scan(self, texts: list[str]) -> Matches:
        """Every occurrence of an item n-gram in ``texts``."""
        encoded = [self.encode(t) for t in texts]
        # One array for the batch, a -1 between texts so that no window spans two of them.
        sizes = np.array([len(x) + 1 for x in encoded], np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        ids = np.concatenate([np.append(x, -1) for x in encoded]) if encoded else np.zeros(0, np.int64)
        unknown = np.concatenate([[0], np.cumsum(ids < 0)])
        found = []
        for m, (table, table_item, table_pos) in self.tables.items():
            count = len(ids) - m + 1
            if count <= 0:
                continue
            candidates = np.flatnonzero(unknown[m:m + count] == unknown[:count])  # windows of known words only
            if not len(candidates):
                continue
            h = window_hashes(ids, m)[candidates]
            lo = np.searchsorted(table, h, "left")
            hi = np.searchsorted(table, h, "right")
            hit = hi > lo
            if not hit.any():
                continue
            window, lo, counts = candidates[hit], lo[hit], (hi - lo)[hit]
            # One row per (window, table entry) with that hash.
            window = np.repeat(window, counts)
            entry = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(counts.sum())
            item, pos = table_item[entry], table_pos[entry]
            offsets = np.arange(m)
            same = (ids[window[:, None] + offsets] ==
                    self.item_ids[(self.item_offsets[item] + pos)[:, None] + offsets]).all(axis=1)
            window, item, pos = window[same], item[same], pos[same]
            text = np.searchsorted(starts, window, "right") - 1
            found.append(Matches(item, pos, text, window - starts[text]))
        if not found:
            empty = np.zeros(0, np.int64)
            return Matches(empty, empty, empty, empty)
        return Matches(*(np.concatenate([getattr(f, k) for f in found]) for k in ("item", "pos", "text", "start")))
