"""The words side of the audit: a word index per shard, n-gram statistics, and exact counts of any phrase.

Words are those of :func:`gaia_lite.analysis.text.words` (a document's title words, then its text words); an
n-gram never spans two documents.

**The word index** (``<corpus>/audit/words/``, one folder per shard, ``00000``, ``00001``..., and
``index.json`` listing them with each shard's first row): numpy ``.npy`` files, read memory-mapped, so that a
phrase count reads only the postings of the phrase's rarest word and the token positions it checks:

- ``tokens.npy`` (int32): every word of the shard as a word id, documents in row order, ``-1`` after each
  document (so a phrase can never match across two documents);
- ``doc_starts.npy`` (int64, documents + 1): where each document's first word is in ``tokens``;
- ``vocab_hashes.npy`` (uint64, sorted): xxHash3-64 of each word's UTF-8; a word's id is its place here, so a
  word is found by ``np.searchsorted`` without a dictionary of the vocabulary;
- ``vocab_bytes.npy`` (uint8) and ``offsets.npy`` (int64, 2 x (vocabulary + 1)): the words themselves (row 0 of
  ``offsets``: each word's UTF-8 bytes in ``vocab_bytes``), compared with the query word, so that a hash
  collision can never make a false count; row 1: each word's postings in ``postings.npy``;
- ``postings.npy`` (uint32, int64 past 2^32 words): per word, its positions in ``tokens``, ascending;
- ``shard.json``: its documents, words and vocabulary.

This is infini-gram's idea (count any string exactly from an index, never a list of all n-grams) with
per-word position lists instead of a suffix array: a shard's index is built in one sort, and a phrase costs
one gather per other word over the rarest word's postings (on 100,000 random documents of 4.9M words in 4
shards: "return the", 29,345 occurrences of a word seen 270,000 times, in 4 ms once the files are cached).

**N-gram statistics** (made per shard by :class:`WordsPartWriter`, merged by :func:`combine_words`). N-grams
are hashed (a 64-bit polynomial over the words' xxHash3, as :func:`gaia_lite.analysis.ngrams.window_hashes`)
and counted exactly per shard (one sort). Per shard it keeps, for each n of ``AuditConfig.ngrams``, every
distinct n-gram hash with its count (sorted by hash, in the shard's working folder only); for n = 1..5, a
HyperLogLog sketch (Apache DataSketches, lg_k = 14) of the distinct n-grams and the S = 65,536 smallest hashes
with their counts. The driver merges the sketches (distinct n-grams with 95% bounds) and the samples (each of
the global S smallest hashes is among the S smallest of every shard holding it, so their counts are exact sums:
the share of n-grams seen once among them, times the distinct estimate, estimates the n-grams seen once; where
no shard had more than S, both are exact). **The most common n-grams are exact whatever the sharding**: the
driver sums the shards' hash lists one hash range at a time (a merge by hash, as a map-reduce shuffle would),
keeps every n-gram at least as common as the k-th, finds their words, and recounts them word by word over the
word index, so a hash collision can never inflate a count (two n-grams sharing a 64-bit hash, about once in
2^64 pairs, could hide one of them). Ties at the k-th count are broken by text; where more than
:data:`TIE_LIMIT` n-grams tie there (n-grams seen once or twice, typically), the tied ones of the smallest
hashes are compared and the summary says the table is not complete (``complete``, ``tied``).

Memory: a shard's writer holds its words (4 bytes each) and a dictionary of its vocabulary while documents
come in, and peaks at about 130 bytes per word of the shard while it finishes (measured on a shard of 1.24M
words: the n-gram hashes and their sort). Its lists of distinct n-grams take 12 bytes per distinct n-gram on
disk. The driver's merge of those lists holds at most :data:`RANGE_ENTRIES` entries at once (about 100 MB and a
sort's copy); the exact recount reads one shard at a time and peaks at about 110 bytes per word of the largest
shard (its window hashes and the windows matching a candidate), plus the candidates (the top k and its ties).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import AuditConfig
from ..errors import InputError
from .text import NORMALIZATION

#: n-gram sizes whose distinct n-grams (and n-grams seen once) are always estimated.
DISTINCT_SIZES = (1, 2, 3, 4, 5)
#: HyperLogLog precision: 2^14 registers, a relative standard error of about 0.8%.
HLL_LG_K = 14
#: Smallest distinct n-gram hashes kept per shard for the n-grams seen once.
SAMPLE = 65_536
#: Word index format, recorded in ``index.json``.
FORMAT = 1
#: Files of one shard's word index, as :func:`combine_words` links them into the audit.
INDEX_FILES = ("tokens.npy", "doc_starts.npy", "vocab_hashes.npy", "vocab_bytes.npy", "offsets.npy",
               "postings.npy", "shard.json")
INDEX_FILE = "index.json"
STATS_FILE = "ngram_stats.npz"  # a shard's n-gram statistics: in the part only, merged into the audit's tables
COUNTS_PREFIX = "ngram_counts"  # a shard's distinct n-grams (hash, count) for the top tables: in the part only
#: Distinct n-grams (summed over the shards' lists) the driver holds at once while it finds the global top: it
#: reads the shards' lists one hash range at a time, about 12 bytes each (plus a sort's copy).
RANGE_ENTRIES = 1 << 23
#: N-grams tied at the top's last count whose texts are compared to break the tie (by text, as the table ranks);
#: where more are tied (typically at count 1 or 2), those of the smallest hashes are compared and the table
#: says it is not complete.
TIE_LIMIT = 100_000
NGRAMS_FILE = "ngrams.parquet"
EXAMPLES = 3
#: z of the singleton share's Wilson interval; with the HyperLogLog's 3-sigma bounds the product covers >= 95%.
_SHARE_Z = 2.0
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # the polynomial of ngrams.window_hashes
_BITMAP = (1 << 20) - 1
_BLOCK = 1 << 20


def _utf8(word: str) -> bytes:
    return word.encode("utf-8", "surrogatepass")


def _word_hashes(word_list: Sequence[str]) -> np.ndarray:
    """The 64-bit hash of each word (xxHash3 of its UTF-8)."""
    import xxhash

    h = xxhash.xxh3_64_intdigest
    return np.fromiter((h(_utf8(w)) for w in word_list), np.uint64, count=len(word_list))


class WordsPartWriter:
    """A shard's word index and n-gram statistics, written into ``folder`` by :meth:`finish` from the documents
    given to :meth:`add` (each a list of normalised words, in row order). Memory grows with the shard only."""

    def __init__(self, folder: Path, config: AuditConfig):
        from array import array

        self.folder, self.config = Path(folder), config
        self._vocab: dict[str, int] = {}
        self._tokens = array("i")  # word ids in first-seen order, -1 after each document
        self._documents = 0

    def add(self, doc_words: list[list[str]]) -> None:
        """Add the next documents of the shard (in row order)."""
        vocab, tokens = self._vocab, self._tokens
        setdefault = vocab.setdefault
        for doc in doc_words:
            tokens.extend([setdefault(w, len(vocab)) for w in doc])
            tokens.append(-1)
        self._documents += len(doc_words)

    def finish(self) -> dict[str, int]:
        """Write the word index and the n-gram statistics; returns ``{"words", "vocabulary"}`` of the shard."""
        self.folder.mkdir(parents=True, exist_ok=True)
        word_list = list(self._vocab)  # in id order
        self._vocab = {}
        first_seen = np.frombuffer(self._tokens, np.int32)
        hashes = _word_hashes(word_list)
        # Word ids in hash order: a word's id is its place in the sorted hashes.
        order = np.argsort(hashes, kind="stable")
        new_id = np.empty(len(word_list) + 1, np.int32)
        new_id[order] = np.arange(len(word_list), dtype=np.int32)
        new_id[-1] = -1  # the separator (-1) indexes the last entry
        tokens = new_id[first_seen]
        del first_seen
        self._tokens = None
        word_list = [word_list[i] for i in order]
        hashes = hashes[order]
        index = _write_index(self.folder, tokens, hashes, word_list, self._documents)
        _write_stats(self.folder / STATS_FILE, tokens, hashes, word_list, index["doc_starts"], self.config)
        return {"words": int(index["words"]), "vocabulary": len(word_list)}


def _write_index(folder: Path, tokens: np.ndarray, hashes: np.ndarray, word_list: list[str], documents: int
                 ) -> dict[str, Any]:
    separators = np.flatnonzero(tokens < 0)  # one after each document
    doc_starts = np.concatenate([[0], separators + 1]).astype(np.int64)
    encoded = [_utf8(w) for w in word_list]
    byte_offsets = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum([len(b) for b in encoded], out=byte_offsets[1:])
    # Positions grouped by word: a stable sort keeps each word's positions ascending; separators sort first.
    position_type = np.uint32 if len(tokens) < 2 ** 32 else np.int64
    order = np.argsort(tokens, kind="stable").astype(position_type)
    postings = order[documents:]
    del order
    posting_offsets = np.zeros(len(word_list) + 1, np.int64)
    np.cumsum(np.bincount(tokens[tokens >= 0], minlength=len(word_list)), out=posting_offsets[1:])
    np.save(folder / "tokens.npy", tokens)
    np.save(folder / "doc_starts.npy", doc_starts)
    np.save(folder / "vocab_hashes.npy", hashes)
    np.save(folder / "vocab_bytes.npy", np.frombuffer(b"".join(encoded), np.uint8))
    np.save(folder / "offsets.npy", np.stack([byte_offsets, posting_offsets]))
    np.save(folder / "postings.npy", postings)
    record = {"format": FORMAT, "documents": documents, "words": len(tokens) - documents,
              "vocabulary": len(word_list)}
    (folder / "shard.json").write_text(json.dumps(record) + "\n", encoding="utf-8")
    return {**record, "doc_starts": doc_starts}


def _window_hashes(tokens: np.ndarray, hashes: np.ndarray, sizes: Sequence[int]):
    """For each n of ``sizes`` (ascending): n, the start of every window of n words inside one document, and
    its hash. Built incrementally (n from n-1), so all sizes cost max(sizes) passes."""
    word_hash = np.append(hashes, np.uint64(0))[tokens]  # a separator (-1) takes the appended 0
    separators = np.zeros(len(tokens) + 1, np.int32 if len(tokens) < 2 ** 31 else np.int64)
    np.cumsum(tokens < 0, out=separators[1:])
    h = word_hash
    for n in range(1, max(sizes) + 1):
        if n > 1:
            h = h[:-1] * _MULTIPLIER + word_hash[n - 1:]  # unsigned arithmetic wraps around, as the hash wants
        if n in sizes:
            # Windows with no separator inside; 4-byte positions where they fit (most of a shard's memory here).
            starts = np.flatnonzero(separators[n:] == separators[:-n]).astype(
                np.int32 if len(tokens) < 2 ** 31 else np.int64)
            yield n, starts, h[starts]


def _write_stats(path: Path, tokens: np.ndarray, hashes: np.ndarray, word_list: list[str], doc_starts: np.ndarray,
                 config: AuditConfig) -> None:
    import datasketches

    top_sizes = set(config.ngram_sizes)
    arrays: dict[str, np.ndarray] = {}
    for n, starts, h in _window_hashes(tokens, hashes, sorted(top_sizes | set(DISTINCT_SIZES))):
        unique, counts = _counted(h)
        if n in DISTINCT_SIZES:
            sketch = datasketches.hll_sketch(HLL_LG_K)
            update = sketch.update
            for value in unique.view(np.int64).tolist():
                update(value)
            arrays[f"hll{n}"] = np.frombuffer(sketch.serialize_compact(), np.uint8)
            arrays[f"distinct{n}"] = np.array(len(unique), np.int64)
            # ``unique`` is sorted: its first S are the shard's S smallest hashes.
            arrays[f"sample{n}_hash"], arrays[f"sample{n}_count"] = unique[:SAMPLE], counts[:SAMPLE]
        if n in top_sizes:
            # Every distinct n-gram of the shard with its count, sorted by hash: the driver sums them over the
            # shards one hash range at a time to find the exact global top (see _global_top).
            np.save(path.parent / f"{COUNTS_PREFIX}{n}_hash.npy", unique)
            np.save(path.parent / f"{COUNTS_PREFIX}{n}_count.npy", counts.astype(np.uint32))
        del starts, h, unique, counts  # before the generator makes the next n's: one n's arrays at a time
    np.savez(path, **arrays)


def _counted(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``values`` (sorted) and how often each occurs: ``np.unique(values, return_counts=True)``
    by one plain sort (``np.unique`` hashes first on numpy 2, twice as slow here)."""
    ordered = np.sort(values)
    first = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]])) if len(ordered) else \
        np.zeros(0, np.int64)
    return ordered[first], np.diff(np.append(first, len(ordered)))


def _distinct_values(values: np.ndarray) -> np.ndarray:
    return _counted(values)[0]


def _windows_of(chosen: np.ndarray, h: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The windows (hashes ``h``, positions ``starts``) whose hash is one of ``chosen`` (sorted): which of
    ``chosen`` (int64), and where."""
    found, entry = _find_sorted(chosen, h)
    return entry.astype(np.int64), starts[found]


def _find_sorted(table: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which of the hashes ``h`` are in the sorted ``table`` (their indices), and where each first is in it. A
    bitmap of the table's low 20 bits rules out most misses first, for a fraction of a binary search's cost; ``h``
    is read in blocks, so the work arrays stay small beside the answer."""
    if not len(table) or not len(h):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    bits = np.zeros(_BITMAP + 1, bool)
    bits[table & np.uint64(_BITMAP)] = True
    index_type = np.int32 if len(h) < 2 ** 31 else np.int64
    found, entries = [], []
    for at in range(0, len(h), _BLOCK):
        block = h[at:at + _BLOCK]
        maybe = np.flatnonzero(bits[block & np.uint64(_BITMAP)])
        entry = np.minimum(np.searchsorted(table, block[maybe]), len(table) - 1)
        hit = table[entry] == block[maybe]
        found.append((maybe[hit] + at).astype(index_type))
        entries.append(entry[hit].astype(np.int32 if len(table) < 2 ** 31 else np.int64))
    return np.concatenate(found), np.concatenate(entries)


# --- the driver ---------------------------------------------------------------------------------------------

def combine_words(parts: list[Path], out: Path, config: AuditConfig, ids: Sequence[str]) -> dict[str, Any]:
    """Merge the shards' word parts (``parts``, in shard order) into the audit folder ``out``: their word
    indexes go to ``out/words/<shard>/`` (hard links where the file system allows, else copies: the parts stay
    whole, so a build that fails here can resume), the most common n-grams, recounted exactly, to
    ``out/ngrams.parquet``. ``ids`` are the corpus's document ids in row order (the examples). Returns the
    summary's ``words``, ``distinct``, ``singletons`` and ``ngrams``."""
    parts = [Path(p) for p in parts]
    words_dir = Path(out) / "words"
    words_dir.mkdir(parents=True, exist_ok=True)
    shards, first_row = [], 0
    for i, part in enumerate(parts):
        record = json.loads((part / "shard.json").read_text(encoding="utf-8"))
        name = f"{i:05d}"
        (words_dir / name).mkdir()
        for file in INDEX_FILES:
            _link_or_copy(part / file, words_dir / name / file)
        shards.append({"name": name, "first_row": first_row, **{k: record[k] for k in ("documents", "words",
                                                                                       "vocabulary")}})
        first_row += record["documents"]
    if first_row != len(ids):
        raise InputError(f"the word parts hold {first_row} documents but the corpus has {len(ids)}: "
                         "the parts are not this corpus's; run the audit again")
    (words_dir / INDEX_FILE).write_text(json.dumps({"format": FORMAT, "normalization": NORMALIZATION,
                                                    "shards": shards}, indent=1) + "\n", encoding="utf-8")
    stats = [dict(np.load(part / STATS_FILE)) for part in parts]
    distinct, singletons = {}, {}
    for n in DISTINCT_SIZES:
        distinct[str(n)], singletons[str(n)] = _distinct(n, stats)
    sizes = list(config.ngram_sizes)
    table, complete, tied = _top_ngrams(parts, words_dir, shards, sizes, config.top, ids)
    _write_ngrams(Path(out) / NGRAMS_FILE, table)
    return {"words": sum(s["words"] for s in shards), "distinct": distinct, "singletons": singletons,
            "ngrams": {"sizes": sizes, "top": config.top, "exact": True, "complete": complete, "tied": tied,
                       "method": TOP_METHOD}}


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _distinct(n: int, stats: list[dict[str, np.ndarray]]) -> tuple[dict, dict]:
    """The distinct n-grams and the n-grams seen once, each an estimate with 95% bounds (exact where every shard
    kept all its hashes)."""
    import datasketches

    hashes = np.concatenate([s[f"sample{n}_hash"] for s in stats])
    counts = np.concatenate([s[f"sample{n}_count"] for s in stats])
    order = np.argsort(hashes, kind="stable")
    hashes, counts = hashes[order], counts[order]
    first = np.flatnonzero(np.concatenate([[True], hashes[1:] != hashes[:-1]])) if len(hashes) else order[:0]
    unique = hashes[first]
    totals = np.add.reduceat(counts, first) if len(first) else counts[:0]  # each hash's count, summed over shards
    if all(int(s[f"distinct{n}"]) <= SAMPLE for s in stats):
        # Every shard kept every hash: the merged sample is all the n-grams (64-bit hash collisions aside).
        d, once = len(unique), int((totals == 1).sum())
        method = "exact: every shard's distinct n-gram hashes (64-bit) merged"
        return _estimate(d, d, d, method), _estimate(once, once, once, method)
    union = datasketches.hll_union(HLL_LG_K)
    for s in stats:
        union.update(datasketches.hll_sketch.deserialize(s[f"hll{n}"].tobytes()))
    sketch = union.get_result()
    d = sketch.get_estimate()
    distinct = _estimate(d, sketch.get_lower_bound(2), sketch.get_upper_bound(2),
                         f"HyperLogLog (Apache DataSketches, lg_k={HLL_LG_K}, shards' sketches merged); bounds at "
                         "2 standard deviations (95.4%)")
    # The S smallest hashes of all n-grams are a uniform sample of them, their counts exact sums over the shards.
    share = (totals[:SAMPLE] == 1).sum() / SAMPLE
    low, high = _wilson(share, SAMPLE, _SHARE_Z)
    once = _estimate(share * d, low * sketch.get_lower_bound(3), high * sketch.get_upper_bound(3),
                     f"share of n-grams seen once among the {SAMPLE:,} smallest n-gram hashes (a uniform sample of "
                     "the distinct n-grams, counts exact) times the HyperLogLog distinct estimate; bounds: the "
                     f"share's Wilson interval (z={_SHARE_Z:g}, 95.4%) times the distinct bounds at 3 standard "
                     "deviations (99.7%), together at least 95%")
    return distinct, once


def _estimate(estimate: float, lower: float, upper: float, method: str) -> dict[str, Any]:
    return {"estimate": int(round(estimate)), "lower": int(math.floor(lower)), "upper": int(math.ceil(upper)),
            "confidence": 0.95, "method": method}


def _wilson(p: float, n: int, z: float) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``p`` seen in ``n`` draws."""
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class _Recount:
    """The candidates of one n and their exact counts, documents and first documents (rows)."""

    ngrams: list[str]
    count: np.ndarray
    documents: np.ndarray
    examples: list[list[int]] = field(default_factory=list)


TOP_METHOD = ("every shard's distinct n-grams counted exactly (64-bit hashes), summed over the shards one hash "
              "range at a time; the n-grams at or above the top's last count recounted word by word over the word "
              "index; ranked by count, then text")


def _top_ngrams(parts: list[Path], words_dir: Path, shards: list[dict], sizes: list[int], top: int,
                ids: Sequence[str]) -> tuple[list[dict], dict[str, bool], dict[str, int]]:
    """The ``top`` most common n-grams of each n, exactly: the table's rows, whether each n's top is complete
    (False only where more than :data:`TIE_LIMIT` n-grams tie at its last count) and how many tie there."""
    rows, complete, tied = [], {}, {}
    indexes = [ShardIndex(words_dir / shard["name"], shard["first_row"]) for shard in shards]
    for n in sizes:
        hashes, cut, ties = _global_top(parts, n, top)
        r = _Recount(_texts_of(hashes, indexes, n), np.zeros(len(hashes), np.int64), np.zeros(len(hashes), np.int64),
                     [[] for _ in hashes])
        for index in indexes:
            _recount_shard(index, {n: r})
        order = sorted((i for i in range(len(r.ngrams)) if r.count[i] > 0), key=lambda i: (-r.count[i], r.ngrams[i]))
        complete[str(n)], tied[str(n)] = not cut, ties
        for rank, i in enumerate(order[:top], 1):
            rows.append({"n": n, "rank": rank, "ngram": r.ngrams[i], "count": int(r.count[i]),
                         "documents": int(r.documents[i]), "examples": [ids[row] for row in r.examples[i]]})
    return rows, complete, tied


def _global_top(parts: list[Path], n: int, top: int) -> tuple[np.ndarray, bool, int]:
    """The hashes of the n-grams that can rank in the top ``top``: every n-gram at least as common as the
    ``top``-th, counts summed exactly over the shards' lists (each sorted by hash), one hash range at a time so
    that memory stays within :data:`RANGE_ENTRIES`. Returns them (sorted), whether ties at the last count were
    cut to :data:`TIE_LIMIT`, and how many n-grams tie there."""
    lists = [(np.load(p / f"{COUNTS_PREFIX}{n}_hash.npy", mmap_mode="r"),
              np.load(p / f"{COUNTS_PREFIX}{n}_count.npy", mmap_mode="r")) for p in parts]
    ranges = max(1, math.ceil(sum(len(h) for h, _ in lists) / RANGE_ENTRIES))
    edges = [np.uint64((k << 64) // ranges) for k in range(ranges)]
    best_hash, best_count = np.zeros(0, np.uint64), np.zeros(0, np.int64)
    tied, cut = 0, False
    for k in range(ranges):
        pieces = []
        for h, c in lists:
            lo = int(np.searchsorted(h, edges[k], "left"))
            hi = int(np.searchsorted(h, edges[k + 1], "left")) if k + 1 < ranges else len(h)
            pieces.append((np.asarray(h[lo:hi]), np.asarray(c[lo:hi], np.int64)))
        h = np.concatenate([x for x, _ in pieces] + [best_hash])
        c = np.concatenate([x for _, x in pieces] + [best_count])
        del pieces
        order = np.argsort(h, kind="stable")
        h, c = h[order], c[order]
        first = np.flatnonzero(np.concatenate([[True], h[1:] != h[:-1]])) if len(h) else order[:0]
        h, c = h[first], np.add.reduceat(c, first) if len(first) else c[:0]
        del order, first
        if len(c) > top:
            last = np.partition(c, len(c) - top)[len(c) - top]  # the top-th largest count so far
            above, at = np.flatnonzero(c > last), np.flatnonzero(c == last)
            tied = len(at)
            if len(at) > TIE_LIMIT:  # keep the smallest hashes among the tied (h is sorted): a fair sample
                at, cut = at[:TIE_LIMIT], True
            else:
                cut = False
            keep = np.sort(np.concatenate([above, at]))
            h, c = h[keep], c[keep]
        else:
            tied = int((c == c.min()).sum()) if len(c) else 0
        best_hash, best_count = h, c
    return best_hash, cut, tied


def _texts_of(hashes: np.ndarray, indexes: list[ShardIndex], n: int) -> list[str]:
    """The words of the n-gram of each hash (sorted ``hashes``), from its first occurrence in the shards."""
    texts: list[str | None] = [None] * len(hashes)
    missing = len(hashes)
    for index in indexes:
        if not missing:
            break
        tokens = np.asarray(index.tokens)
        for _, starts, h in _window_hashes(tokens, np.asarray(index.vocab_hashes), [n]):
            found, entry = _find_sorted(hashes, h)
            entry, first = np.unique(entry, return_index=True)
            for e, window in zip(entry.tolist(), starts[found[first]].tolist()):
                if texts[e] is None:
                    texts[e] = " ".join(index.word(int(t)) for t in tokens[window:window + n])
                    missing -= 1
    return [t or "" for t in texts]


def _recount_shard(index: ShardIndex, recounts: dict[int, _Recount]) -> None:
    """Add one shard's exact counts of every candidate: windows are matched by hash, then word by word."""
    all_words = sorted({w for r in recounts.values() for g in r.ngrams for w in g.split(" ")})
    word_id = dict(zip(all_words, index.lookup(all_words).tolist()))
    hashes = np.asarray(index.vocab_hashes)
    for n, starts, h in _window_hashes(np.asarray(index.tokens), hashes, sorted(recounts)):
        _recount_windows(index, recounts[n], n, starts, h, word_id)
        del starts, h  # before the generator makes the next n's: one n's arrays at a time


def _recount_windows(index: ShardIndex, r: _Recount, n: int, starts: np.ndarray, h: np.ndarray,
                     word_id: dict[str, int]) -> None:
    """Add the exact counts of ``r``'s candidates among a shard's n-word windows (``starts``, hashes ``h``)."""
    grams = [g.split(" ") for g in r.ngrams]
    cand_ids = np.array([[word_id[w] for w in g] for g in grams], np.int64).reshape(len(grams), n)
    present = np.flatnonzero((cand_ids >= 0).all(axis=1))  # a word the shard lacks: no occurrence here
    if not len(present):
        return
    hashes, tokens = np.asarray(index.vocab_hashes), np.asarray(index.tokens)
    cand_hash = _ngram_hash(np.append(hashes, np.uint64(0))[cand_ids[present]])
    order = np.argsort(cand_hash, kind="stable")
    table, table_cand = cand_hash[order], present[order]
    found, lo = _find_sorted(table, h)
    many = np.searchsorted(table, h[found], "right") - lo
    # One row per (window, candidate with its hash): equal hashes of different candidates both get checked.
    window = np.repeat(starts[found], many).astype(np.int64)
    entry = np.repeat(lo - np.concatenate([[0], np.cumsum(many)[:-1]]), many) + np.arange(many.sum())
    cand = table_cand[entry]
    same = np.ones(len(window), bool)
    for k in range(n):
        same &= tokens[window + k] == cand_ids[cand, k]
    window, cand = window[same], cand[same]
    r.count += np.bincount(cand, minlength=len(r.ngrams))
    docs = np.searchsorted(np.asarray(index.doc_starts), window, "right") - 1
    width = len(index.doc_starts)
    pairs = _distinct_values(cand * width + docs)  # sorted: by candidate, then document (row order)
    pair_cand, pair_doc = pairs // width, pairs % width
    r.documents += np.bincount(pair_cand, minlength=len(r.ngrams))
    group_start = np.searchsorted(pair_cand, pair_cand, "left")
    first = np.flatnonzero(np.arange(len(pairs)) - group_start < EXAMPLES)
    for c, d in zip(pair_cand[first].tolist(), pair_doc[first].tolist()):
        if len(r.examples[c]) < EXAMPLES:
            r.examples[c].append(index.first_row + d)


def _ngram_hash(word_hashes: np.ndarray) -> np.ndarray:
    """The hash of each row of word hashes, as :func:`_window_hashes` computes it for a window."""
    h = np.zeros(len(word_hashes), np.uint64)
    for k in range(word_hashes.shape[1]):
        h = h * _MULTIPLIER + word_hashes[:, k]
    return h


def _write_ngrams(path: Path, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("n", pa.int32()), ("rank", pa.int32()), ("ngram", pa.string()), ("count", pa.int64()),
                        ("documents", pa.int64()), ("examples", pa.list_(pa.string()))])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


# --- reading the index: counting phrases --------------------------------------------------------------------

class ShardIndex:
    """One shard's word index, memory-mapped (nothing is read until used); ``first_row`` is the corpus row of
    its first document."""

    def __init__(self, folder: Path, first_row: int):
        self.folder, self.first_row = folder, first_row
        self.vocab_hashes = self._open("vocab_hashes.npy")

    def _open(self, name: str) -> np.ndarray:
        return _memory_map(self.folder / name)

    def __getattr__(self, name: str) -> np.ndarray:
        # Opened on first use: a phrase with a word the shard lacks opens nothing more than the hashes.
        if name in ("tokens", "doc_starts", "vocab_bytes", "offsets", "postings"):
            value = self._open(f"{name}.npy")
            setattr(self, name, value)
            return value
        raise AttributeError(name)

    def word(self, word_id: int) -> str:
        """The word of ``word_id`` in this shard."""
        start, stop = self.offsets[0, word_id], self.offsets[0, word_id + 1]
        return self.vocab_bytes[start:stop].tobytes().decode("utf-8", "surrogatepass")

    def lookup(self, word_list: Sequence[str]) -> np.ndarray:
        """The id of each word in this shard (-1 where the shard does not hold it): found by its hash, then
        compared byte for byte, so a hash collision never returns another word."""
        ids = np.full(len(word_list), -1, np.int64)
        if not len(word_list):
            return ids
        wanted = _word_hashes(word_list)
        lo = np.searchsorted(self.vocab_hashes, wanted, "left")
        hi = np.searchsorted(self.vocab_hashes, wanted, "right")
        for i in np.flatnonzero(hi > lo).tolist():
            encoded = _utf8(word_list[i])
            for candidate in range(int(lo[i]), int(hi[i])):
                start, stop = self.offsets[0, candidate], self.offsets[0, candidate + 1]
                if self.vocab_bytes[start:stop].tobytes() == encoded:
                    ids[i] = candidate
                    break
        return ids

    def find(self, word_ids: np.ndarray) -> np.ndarray:
        """The positions in ``tokens`` where the words ``word_ids`` (all held by the shard) occur in a row."""
        counts = self.offsets[1, word_ids + 1] - self.offsets[1, word_ids]
        rarest = int(np.argmin(counts))
        r = int(word_ids[rarest])
        starts = np.asarray(self.postings[self.offsets[1, r]:self.offsets[1, r + 1]]).astype(np.int64) - rarest
        starts = starts[(starts >= 0) & (starts + len(word_ids) <= len(self.tokens))]
        for k, w in enumerate(word_ids.tolist()):
            if k != rarest and len(starts):
                starts = starts[self.tokens[starts + k] == w]  # separators (-1) never equal a word
        return starts


#: Shard indexes opened by earlier counts (the explorer counts phrase after phrase), keyed by the file they map:
#: a new audit replaces the folder, so its files are new inodes and are opened afresh.
_OPENED: dict[tuple, ShardIndex] = {}
_KEEP_OPEN = 256


def _shard_index(folder: Path, first_row: int) -> ShardIndex:
    stat = os.stat(folder / "tokens.npy")
    key = (str(folder), stat.st_dev, stat.st_ino, stat.st_mtime_ns, first_row)
    index = _OPENED.get(key)
    if index is None:
        if len(_OPENED) >= _KEEP_OPEN:
            _OPENED.clear()
        index = _OPENED[key] = ShardIndex(folder, first_row)
    return index


def _memory_map(path: Path) -> np.ndarray:
    """The array of the ``.npy`` file ``path``, memory-mapped read-only: ``np.load(path, mmap_mode="r")`` without
    its ``np.memmap`` (which resolves the path's links and costs 0.1 ms a file, most of a count's time)."""
    import mmap

    from numpy.lib import format as npy

    readers = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}
    with open(path, "rb") as f:
        version = npy.read_magic(f)
        if version not in readers:
            return np.load(path, mmap_mode="r")
        shape, fortran_order, dtype = readers[version](f)
        offset, count = f.tell(), math.prod(shape)
        if fortran_order or not count:
            return np.load(path, mmap_mode="r")
        buffer = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    return np.frombuffer(buffer, dtype, count=count, offset=offset).reshape(shape)


def count_in_index(folder: Path, phrase_words: list[str], limit: int) -> tuple[int, int, list[int], list[int]]:
    """Count the normalised ``phrase_words`` exactly with the word index in ``folder`` (an audit's ``words/``):
    occurrences, documents holding them, and the first ``limit`` of those documents' rows with their
    occurrences."""
    listing = json.loads((folder / INDEX_FILE).read_text(encoding="utf-8"))
    occurrences, documents, rows, per_document = 0, 0, [], []
    for shard in listing["shards"]:
        index = _shard_index(folder / shard["name"], shard["first_row"])
        word_ids = index.lookup(phrase_words)
        if (word_ids < 0).any():
            continue
        starts = index.find(word_ids)
        if not len(starts):
            continue
        docs = np.searchsorted(index.doc_starts, starts, "right") - 1  # starts ascend, so docs do
        new = np.flatnonzero(np.diff(docs, prepend=-1))
        occurrences += len(starts)
        documents += len(new)
        if len(rows) < limit:
            take = new[:limit - len(rows)]
            rows.extend((index.first_row + docs[take]).tolist())
            per_document.extend(np.diff(np.append(new, len(docs)))[:len(take)].tolist())
    return occurrences, documents, rows, per_document
