"""Corpora the benchmarks build or reuse, and the build timings kept beside them.

- The default corpus, ``builtin:docstrings``: built under a benchmark's root, or reused from there where it was
  built with the same document limit.
- Replicated corpora (bench_bm25's scifact-x, bench_scale's and bench_analysis's corpus of a million documents):
  copy 0 is the corpus as is; in copy r >= 1 (ids ``<id>-r<r>``) all the title words of the corpus are shuffled
  together and dealt back into titles of the original lengths, and the same for the text words. Shuffling within
  a document would change nothing for a bag-of-words model (every copy would tie with the original), so the
  words move between documents: each copy keeps the corpus's vocabulary, term frequencies and document lengths,
  but its documents are new mixtures.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
from array import array
from itertools import accumulate
from pathlib import Path

from _common import log, timed, tree_bytes, utc_now

#: bench_scale's timings file under its root (bench_analysis reuses that root's corpora, and so its timings).
SCALE_TIMINGS = "scale-timings.json"


class Timings:
    """Build timings kept in a JSON file beside the artifacts under a root, so that a later run that reuses an
    artifact reports how long it took to build, and when (``measured``; ``reused`` marks a recalled one)."""

    def __init__(self, root: Path, name: str):
        self.path = Path(root) / name

    def remember(self, key: str, value: dict) -> dict:
        data = json.loads(self.path.read_text()) if self.path.is_file() else {}
        data[key] = value | {"measured": utc_now()}
        self.path.write_text(json.dumps(data, indent=1))
        return data[key]

    def recalled(self, key: str) -> dict | None:
        value = json.loads(self.path.read_text()).get(key) if self.path.is_file() else None
        return None if value is None else value | {"reused": True}


# --- the default corpus ----------------------------------------------------------------------------------------


def reusable_docstrings(root: Path, limit: int | None):
    """The docstrings corpus under ``root`` where it was built of the same first ``limit`` documents, else None."""
    from gaia_lite.corpus import Corpus
    from gaia_lite.errors import MissingArtifactError

    with contextlib.suppress(MissingArtifactError):
        corpus = Corpus.load(root / "docstrings", verify=False)
        if corpus.meta.params.get("limit") == limit:
            return corpus
    return None


def build_docstrings(root: Path, limit: int | None, tag: str):
    """Build ``builtin:docstrings`` (its first ``limit`` documents) under ``root``, logged as ``[tag]``."""
    from gaia_lite.corpus import Source, build_corpus

    log(f"[{tag}] building builtin:docstrings{f' (first {limit:,})' if limit else ''} (reads every installed "
        "package's .py files; about 2 min in full)")
    return build_corpus(Source("builtin:docstrings"), "docstrings", root=root, progress=False, limit=limit)[0]


def docstrings_corpus(root: Path, limit: int | None, reuse: bool):
    """The default corpus (its first ``limit`` documents), built under ``root`` or reused (with ``reuse``), and its
    build timing (bench_scale's timings file)."""
    timings = Timings(root, SCALE_TIMINGS)
    corpus = reusable_docstrings(root, limit) if reuse else None
    if corpus is not None:
        return corpus, timings.recalled("docstrings corpus") or {"reused": True}
    corpus, seconds, others = timed(lambda: build_docstrings(root, limit, "corpus"), tree=True)
    return corpus, timings.remember("docstrings corpus", {"docs": len(corpus), "seconds": seconds,
                                                          "others": others, "limit": limit})


# --- replicated corpora ----------------------------------------------------------------------------------------


def deal(words: list[str], ends: list[int]):
    """``words`` dealt into documents ending at ``ends`` (cumulative lengths), each joined by spaces."""
    start = 0
    for end in ends:
        yield " ".join(words[start:end])
        start = end


def replicate_scifact(scifact: Path, out: Path, min_docs: int, seed: int) -> dict:
    """bench_bm25's scifact-x: SciFact's corpus (BEIR JSONL) repeated until it holds >= ``min_docs`` documents,
    written as BEIR-style JSONL, the whole corpus in memory, shuffled by ``random.Random(seed)``."""
    docs = [json.loads(line) for line in open(scifact / "corpus.jsonl", encoding="utf-8")]
    copies = math.ceil(min_docs / len(docs))
    rng = random.Random(seed)
    titles = [d.get("title", "").split() for d in docs]
    texts = [d.get("text", "").split() for d in docs]
    title_pool = [w for t in titles for w in t]
    text_pool = [w for t in texts for w in t]
    title_ends, text_ends = list(accumulate(map(len, titles))), list(accumulate(map(len, texts)))
    with open(out, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"_id": d["_id"], "title": d.get("title", ""), "text": d.get("text", "")}) + "\n")
        for r in range(1, copies):
            rng.shuffle(title_pool)
            rng.shuffle(text_pool)
            for d, title, text in zip(docs, deal(title_pool, title_ends), deal(text_pool, text_ends)):
                f.write(json.dumps({"_id": f"{d['_id']}-r{r}", "title": title, "text": text}) + "\n")
    return {"copies": copies, "docs": copies * len(docs), "seed": seed}


def replicate(corpus, path: Path, min_docs: int, seed: int) -> dict:
    """Write ``corpus`` (id, title, text) repeated until it holds >= ``min_docs`` documents, as BEIR-style JSONL,
    streaming (bench_scale's): only the words are held in memory (as numbers into a vocabulary), and only once;
    shuffled by ``numpy.random.default_rng(seed)``."""
    import numpy as np

    code: dict[str, int] = {}
    ids: list[str] = []
    shapes = {"title": array("i"), "text": array("i")}
    pools = {"title": array("i"), "text": array("i")}
    with open(path, "w", encoding="utf-8") as f:
        for batch in corpus.dataset.select_columns(corpus.text_columns).iter(batch_size=10_000):
            titles = batch.get("title") or [""] * len(batch["id"])
            for doc_id, title, text in zip(batch["id"], titles, batch["text"]):
                f.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
                ids.append(doc_id)
                for field, value in (("title", title), ("text", text)):
                    words = value.split()
                    shapes[field].append(len(words))
                    pools[field].extend(code.setdefault(w, len(code)) for w in words)
        vocab = sorted(code, key=code.__getitem__)
        del code
        pools = {k: np.frombuffer(v, dtype=np.int32).copy() for k, v in pools.items()}
        ends = {k: np.cumsum(np.frombuffer(v, dtype=np.int32)).tolist() for k, v in shapes.items()}
        rng = np.random.default_rng(seed)
        copies = max(1, math.ceil(min_docs / len(ids)))
        for r in range(1, copies):
            for pool in pools.values():
                rng.shuffle(pool)
            titles, texts = (deal([vocab[i] for i in pools[k].tolist()], ends[k]) for k in ("title", "text"))
            for doc_id, title, text in zip(ids, titles, texts):
                f.write(json.dumps({"_id": f"{doc_id}-r{r}", "title": title, "text": text}) + "\n")
    return {"source_docs": len(ids), "copies": copies, "docs": copies * len(ids), "seed": seed,
            "vocabulary": len(vocab), "words": {k: int(v.size) for k, v in pools.items()}}


def million_corpus(source, root: Path, million: int, seed: int, reuse: bool) -> tuple:
    """The corpus of >= ``million`` documents replicated from ``source`` (``docstrings-x``), saved with
    ``build_corpus`` under ``root``; with ``reuse``, the one built there alike before. Its build figures (the JSONL
    written, the corpus built; bench_scale's timings file) come with it."""
    from gaia_lite.corpus import Corpus, build_corpus
    from gaia_lite.errors import MissingArtifactError

    timings = Timings(root, SCALE_TIMINGS)
    name, key = "docstrings-x", f"replicated corpus {million} {seed} {source.meta.fingerprint}"
    if reuse and (timing := timings.recalled(key)):
        with contextlib.suppress(MissingArtifactError):
            return Corpus.load(root / name, verify=False), timing
    path = root / f"{name}.jsonl"
    log(f"[million] writing >= {million:,} documents from {len(source):,} ({path})")
    replication, replicate_s, others_r = timed(lambda: replicate(source, path, million, seed), tree=True)
    log(f"[million] build_corpus of {replication['docs']:,} documents")
    corpus, corpus_s, others_c = timed(lambda: build_corpus(str(path), name, root=root, progress=False)[0], tree=True)
    jsonl_mib = path.stat().st_size / 2**20
    path.unlink()
    return corpus, timings.remember(key, {"replication": replication, "replicate_s": replicate_s,
                                          "build_corpus_s": corpus_s, "jsonl_mib": jsonl_mib,
                                          "others": max(others_r, others_c),
                                          "dataset_mib": tree_bytes(corpus.folder / "dataset") / 2**20})
