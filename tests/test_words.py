"""The audit's words side against brute force: the most common n-grams equal collections.Counter's (counts,
documents, examples, ties broken by text) on 100,000 documents in shards, sharded runs equal one shard, distinct
n-grams and n-grams seen once lie within their stated bounds, and the completeness flag never claims too much."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from gaia_lite.analysis.words import (INDEX_FILES, SAMPLE, ShardIndex, WordsPartWriter,
                                      combine_words)
from gaia_lite.config import AuditConfig


def write_parts(docs: list[list[str]], shards: int, config: AuditConfig, folder: Path, batch: int = 997) -> list[Path]:
    """The word parts of ``docs`` cut into ``shards`` contiguous shards, each written in batches."""
    size = -(-len(docs) // shards)
    parts = []
    for i, start in enumerate(range(0, len(docs), size)):
        writer = WordsPartWriter(folder / f"part{i}" / "words", config)
        shard = docs[start:start + size]
        for b in range(0, len(shard), batch):
            writer.add(shard[b:b + batch])
        record = writer.finish()
        assert record == {"words": sum(map(len, shard)), "vocabulary": len({w for d in shard for w in d})}
        parts.append(folder / f"part{i}" / "words")
    return parts


def combined(docs, shards, config, folder: Path) -> tuple[dict, list[dict]]:
    out = folder / "out"
    out.mkdir(parents=True)
    summary = combine_words(write_parts(docs, shards, config, folder), out, config, ids_of(docs))
    return summary, pq.read_table(out / "ngrams.parquet").to_pylist()


def ids_of(docs) -> list[str]:
    return [f"doc{i}" for i in range(len(docs))]


def brute_force(docs, n: int) -> tuple[Counter, dict[str, list[str]]]:
    """Every n-gram's occurrences and the documents holding it (in order), by counting windows in Python."""
    counts: Counter = Counter()
    holders: dict[str, list[str]] = {}
    for doc_id, doc in zip(ids_of(docs), docs):
        grams = [" ".join(doc[i:i + n]) for i in range(len(doc) - n + 1)]
        counts.update(grams)
        for g in dict.fromkeys(grams):
            holders.setdefault(g, []).append(doc_id)
    return counts, holders


def expected_top(docs, n: int, top: int) -> list[dict]:
    """The ``top`` most common n-grams by collections.Counter, ranked by count, then text."""
    grams, held = [], []
    for doc in docs:
        windows = list(zip(*[doc[i:] for i in range(n)]))
        grams += windows
        held += set(windows)
    counts, documents = Counter(grams), Counter(held)
    least = sorted(counts.values(), reverse=True)[:top][-1]  # only n-grams this common can rank
    ranked = sorted(((" ".join(g), g) for g, c in counts.items() if c >= least),
                    key=lambda t: (-counts[t[1]], t[0]))[:top]
    examples: dict[tuple, list[str]] = {g: [] for _, g in ranked}
    for doc_id, doc in zip(ids_of(docs), docs):
        for g in set(zip(*[doc[i:] for i in range(n)])).intersection(examples):
            if len(examples[g]) < 3:
                examples[g].append(doc_id)
        if all(len(e) == 3 for e in examples.values()):
            break
    return [{"n": n, "rank": rank, "ngram": text, "count": counts[g], "documents": documents[g],
             "examples": examples[g]} for rank, (text, g) in enumerate(ranked, 1)]


def templated_corpus(documents: int, seed: int) -> list[list[str]]:
    """Short documents of Zipf-distributed words, a quarter of them carrying one of 40 boilerplate sentences of 12
    words (as web text repeats navigation and licence lines), some empty."""
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(3000)])
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 1.1
    templates = [list(rng.choice(vocab[:400], 12)) for _ in range(40)]
    lengths = rng.integers(0, 8, documents)
    flat = rng.choice(vocab, lengths.sum(), p=weights / weights.sum()).tolist()
    docs, at = [], 0
    for k, length in enumerate(lengths.tolist()):
        doc = flat[at:at + length]
        at += length
        if k % 4 == 0:
            cut = int(rng.integers(0, len(doc) + 1))
            doc = doc[:cut] + templates[int(rng.integers(0, 40)) if k % 3 else k % 5] + doc[cut:]
        docs.append(doc)
    return docs


def test_top_ngrams_equal_counter_on_100000_documents(tmp_path):
    docs = templated_corpus(100_000, seed=1)
    config = AuditConfig(ngrams="1,2,3,5,10", top=25)
    summary, rows = combined(docs, 4, config, tmp_path)
    assert summary["words"] == sum(map(len, docs))
    assert summary["ngrams"]["complete"] == {str(n): True for n in (1, 2, 3, 5, 10)}
    assert summary["ngrams"]["exact"] is True and summary["ngrams"]["sizes"] == [1, 2, 3, 5, 10]
    for n in (1, 2, 3, 5, 10):
        assert [r for r in rows if r["n"] == n] == expected_top(docs, n, 25), n


def test_hand_counted_ngrams(tmp_path):
    # "a a a" holds "a a" twice (overlapping); no n-gram spans two documents ("b a" is never counted).
    docs = [["a", "a", "a", "b"], [], ["a", "b"], ["c"]]
    summary, rows = combined(docs, 2, AuditConfig(ngrams="1,2", top=3), tmp_path)
    assert [(r["n"], r["ngram"], r["count"], r["documents"], r["examples"]) for r in rows] == [
        (1, "a", 4, 2, ["doc0", "doc2"]), (1, "b", 2, 2, ["doc0", "doc2"]), (1, "c", 1, 1, ["doc3"]),
        (2, "a a", 2, 1, ["doc0"]), (2, "a b", 2, 2, ["doc0", "doc2"])]
    assert summary["words"] == 7
    assert summary["distinct"]["2"]["estimate"] == 2 and summary["singletons"]["1"]["estimate"] == 1
    assert summary["distinct"]["3"] == {"estimate": 2, "lower": 2, "upper": 2, "confidence": 0.95,
                                        "method": summary["distinct"]["3"]["method"]}
    assert summary["ngrams"]["complete"] == {"1": True, "2": True} and summary["ngrams"]["tied"] == {"1": 1, "2": 2}


def test_sharded_equals_one_shard(tmp_path):
    docs = templated_corpus(6000, seed=2)
    config = AuditConfig(ngrams="1,2,4,10", top=30)
    one, _ = combined(docs, 1, config, tmp_path / "one")
    many, _ = combined(docs, 7, config, tmp_path / "many")
    assert one["ngrams"]["complete"] == many["ngrams"]["complete"] == {"1": True, "2": True, "4": True, "10": True}
    assert pq.read_table(tmp_path / "one" / "out" / "ngrams.parquet").equals(
        pq.read_table(tmp_path / "many" / "out" / "ngrams.parquet"))
    # Both exact at this size (every shard kept all its hashes): the same distinct and once-seen counts.
    assert one["distinct"] == many["distinct"] and one["singletons"] == many["singletons"]


def test_distinct_and_singletons_within_their_bounds(tmp_path):
    # Uniform words from 20,000: more than S distinct n-grams per shard for n >= 2, so the sketches estimate.
    rng = np.random.default_rng(3)
    vocab = np.array([f"v{i}" for i in range(20_000)])
    flat = rng.choice(vocab, 300_000).tolist()
    docs = [flat[i:i + 30] for i in range(0, len(flat), 30)]
    docs += docs[:2000]  # repeated documents: n-grams seen twice
    summary, _ = combined(docs, 3, AuditConfig(ngrams="2", top=10), tmp_path)
    for n in range(1, 6):
        counts, _ = brute_force(docs, n)
        distinct, once = len(counts), sum(1 for c in counts.values() if c == 1)
        d, s = summary["distinct"][str(n)], summary["singletons"][str(n)]
        assert d["lower"] <= distinct <= d["upper"], (n, distinct, d)
        assert s["lower"] <= once <= s["upper"], (n, once, s)
        assert d["confidence"] == s["confidence"] == 0.95
        if n == 1:  # 20,000 words: every shard kept them all, so both are exact
            assert d["estimate"] == distinct and s["estimate"] == once and d["method"].startswith("exact")
        else:
            assert distinct > SAMPLE and "HyperLogLog" in d["method"] and "Wilson" in s["method"]
            assert abs(d["estimate"] - distinct) < 0.03 * distinct and abs(s["estimate"] - once) < 0.05 * once
            assert d["upper"] - d["lower"] < 0.05 * distinct


def test_a_top_k_of_many_ties_is_exact_whatever_the_sharding(tmp_path, monkeypatch):
    # Uniform random trigrams: almost all seen once or twice, so each shard's own most common ones say little
    # about the corpus's; the merge by hash ranges still finds Counter's top 50, ties broken by text.
    from gaia_lite.analysis import words as words_module

    rng = random.Random(4)
    vocab = [f"u{i}" for i in range(60)]
    docs = [[rng.choice(vocab) for _ in range(rng.randint(0, 20))] for _ in range(20_000)]
    config = AuditConfig(ngrams="1,3", top=50)
    monkeypatch.setattr(words_module, "RANGE_ENTRIES", 5000)  # many hash ranges, each merged on its own
    summary, rows = combined(docs, 4, config, tmp_path / "four")
    assert summary["ngrams"]["complete"] == {"1": True, "3": True}
    for n in (1, 3):
        assert [r for r in rows if r["n"] == n] == expected_top(docs, n, 50), n
    _, one = combined(docs, 1, config, tmp_path / "one")
    assert one == rows


def test_ties_beyond_the_limit_are_said_and_counts_stay_exact(tmp_path, monkeypatch):
    from gaia_lite.analysis import words as words_module

    rng = random.Random(5)
    vocab = [f"u{i}" for i in range(60)]
    docs = [[rng.choice(vocab) for _ in range(rng.randint(0, 20))] for _ in range(20_000)]
    monkeypatch.setattr(words_module, "TIE_LIMIT", 20)
    summary, rows = combined(docs, 3, AuditConfig(ngrams="3", top=50), tmp_path)
    counts, holders = brute_force(docs, 3)
    got = [r for r in rows if r["n"] == 3]
    assert summary["ngrams"]["complete"] == {"3": False} and summary["ngrams"]["tied"]["3"] > 20
    assert len(got) == 50
    for r in got:  # whatever was kept is counted exactly, and nothing more common was left out
        assert (r["count"], r["documents"], r["examples"]) == (counts[r["ngram"]], len(holders[r["ngram"]]),
                                                               holders[r["ngram"]][:3])
    assert [r["count"] for r in got] == sorted(counts.values(), reverse=True)[:50]


def test_the_word_index_files_and_lookups(tmp_path):
    docs = [["straße", "fine", "straße"], [], ["fine"], ["日本", "語"]]
    config = AuditConfig(ngrams="1", top=5)
    out = tmp_path / "out"
    out.mkdir()
    parts = write_parts(docs, 2, config, tmp_path)
    combine_words(parts, out, config, ids_of(docs))
    listing = json.loads((out / "words" / "index.json").read_text())
    assert [(s["name"], s["first_row"], s["documents"], s["words"]) for s in listing["shards"]] == [
        ("00000", 0, 2, 3), ("00001", 2, 2, 3)]
    for shard in listing["shards"]:
        assert sorted(p.name for p in (out / "words" / shard["name"]).iterdir()) == sorted(INDEX_FILES)
    # The parts stay whole (a failed combine can resume from them); the audit's files are links to theirs.
    assert (parts[0] / "tokens.npy").stat().st_ino == (out / "words" / "00000" / "tokens.npy").stat().st_ino
    index = ShardIndex(out / "words" / "00000", 0)
    ids = index.lookup(["straße", "fine", "absent", "STRASSE"])
    assert ids[2] == -1 and ids[3] == -1 and ids[0] != ids[1] >= 0
    assert index.tokens.tolist() == [ids[0], ids[1], ids[0], -1, -1] and index.doc_starts.tolist() == [0, 4, 5]
    assert index.find(ids[:1]).tolist() == [0, 2] and index.find(np.array([ids[1], ids[0]])).tolist() == [1]
    assert index.find(np.array([ids[0], ids[0]])).tolist() == []


def test_combine_refuses_parts_of_another_corpus(tmp_path):
    from gaia_lite.errors import InputError

    docs = [["a"], ["b"]]
    config = AuditConfig(ngrams="1", top=5)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match="2 documents but the corpus has 3"):
        combine_words(write_parts(docs, 1, config, tmp_path), out, config, ["x", "y", "z"])
