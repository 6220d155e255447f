"""bench_audit's peer: the audit's figures computed the plain way, with ``collections.Counter``, sets and the very
regular expressions and models the audit uses, so that the two compare the counting, not the tokenisation or the
detectors.

- The documents pass (one pass over the documents): each document's words (``gaia_lite.analysis.text.words``, the
  title's then the text's), characters and tokens (the dense model's tokenizer, ``encode_batch`` per batch of
  documents, title and text apart, no special tokens: as the audit counts them), personal data
  (``gaia_lite.analysis.pii.find_pii`` on the title and on the text); documents and occurrences per type.
- The n-gram passes, one per n (the audit's sizes and n = 1..5 for the distinct n-grams): every n-gram of every
  document (never across two documents), its occurrences and the documents holding it. Exact counts of all
  n-grams of one n at once do not fit in memory for every n together (on the docstrings, 136k documents, the
  5-grams alone take 1.9 GB as Counters of tuples), so the peer reads and splits the documents again for each n
  (cheap: ``words`` runs at about 4.5M words/s) and adds up the times. Two ways of counting, the same answers:

  - ``counter``: ``Counter`` of n-gram tuples for the occurrences, and one of each document's ``set`` of them for
    the documents;
  - ``hashed``: for a corpus whose n-grams do not fit as Counters even one n at a time (a million documents hold
    about 70M distinct 5-grams: ~15 GB as tuples, ~7 GB as a Counter of hashes), each n-gram's 64-bit Python
    ``hash`` of its tuple appended to an ``array``, and each document's distinct hashes to a second one, counted
    after the pass by sorting (``numpy.unique``). Exact but for hash collisions (expected below 1e-3 pairs among
    70M n-grams of one n); the top n-grams are then known by hash, and their text is looked up by hashing the
    audit's top n-grams in the same process.
- The languages and offensive pass (only for the full audit): each document's language with the audit's
  detector (``gaia_lite.analysis.languages.LanguageDetector``, on title + newline + text) and its offensive score
  with alt-profanity-check (``predict_prob`` a batch at a time), documents at or above the audit's threshold.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from time import perf_counter as perf

TOP = 100
BATCH = 1000


def documents(corpus, batch_size: int = BATCH):
    """(titles, texts) of ``corpus`` a batch at a time, None as ""."""
    fields = ["title", "text"] if corpus.has_title else ["text"]
    for batch in corpus.dataset.select_columns(fields).iter(batch_size=batch_size):
        texts = [t or "" for t in batch["text"]]
        titles = [t or "" for t in batch["title"]] if corpus.has_title else [""] * len(texts)
        yield titles, texts


def documents_pass(corpus, tokenizer_name: str | None) -> dict:
    """Words, characters, tokens and personal data of every document, and the seconds of each step."""
    import numpy as np

    from gaia_lite.analysis.pii import REDACTION_KINDS, find_pii
    from gaia_lite.analysis.text import words

    tok = None
    if tokenizer_name:
        from transformers import AutoTokenizer

        from gaia_lite.dense.encoder import resolve_model

        tok = AutoTokenizer.from_pretrained(str(resolve_model(tokenizer_name))).backend_tokenizer
        tok.no_truncation()
        tok.no_padding()
    steps = Counter()
    n_words, n_chars, n_tokens = [], [], []
    pii_docs, pii_occ = Counter(), Counter()
    for titles, texts in documents(corpus):
        t = perf()
        for title, text in zip(titles, texts):
            n_words.append(len(words(title)) + len(words(text)))
            n_chars.append(len(title) + len(text))
        steps["words and characters"] += perf() - t
        t = perf()
        if tok is not None:
            text_tokens = [len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)]
            title_tokens = ([len(e.ids) for e in tok.encode_batch(titles, add_special_tokens=False)]
                            if corpus.has_title else [0] * len(texts))
            n_tokens += [a + b for a, b in zip(title_tokens, text_tokens)]
        steps["tokens"] += perf() - t
        t = perf()
        for title, text in zip(titles, texts):
            kinds = Counter(s.kind for field in (title, text) if field for s in find_pii(field))
            pii_occ.update(kinds)
            pii_docs.update(kinds.keys())
        steps["personal data"] += perf() - t
    w = np.asarray(n_words, dtype=np.int64)
    lengths = {}
    for measure, values in (("chars", n_chars), ("words", n_words), ("tokens", n_tokens)):
        if values:
            v = np.asarray(values, dtype=np.int64)
            lengths[measure] = {"min": int(v.min()), "max": int(v.max()),
                                **{f"p{q}": int(np.percentile(v, q, method="inverted_cdf")) for q in (50, 90, 99)}}
    return {"documents": len(n_words), "words": int(w.sum()), "characters": int(sum(n_chars)),
            "tokens": int(sum(n_tokens)) if tok is not None else None, "empty": int((w == 0).sum()),
            "short_below_50": int(((w > 0) & (w < 50)).sum()), "lengths": lengths,
            "personal_data": {k: {"documents": pii_docs[k], "occurrences": pii_occ[k]} for k in REDACTION_KINDS},
            "steps": {k: round(v, 3) for k, v in steps.items()}}


def doc_words(corpus):
    """Each document's words, title's then text's."""
    from gaia_lite.analysis.text import words

    for titles, texts in documents(corpus):
        for title, text in zip(titles, texts):
            yield words(title) + words(text)


def ngram_pass_counter(corpus, n: int, lookup: list[str]) -> dict:
    """One n with Counters of tuples: distinct, singletons, the top counts, and the count and documents of each
    n-gram in ``lookup`` (the audit's top n-grams of this n)."""
    counts, docs = Counter(), Counter()
    for w in doc_words(corpus):
        grams = list(zip(*(w[i:] for i in range(n))))
        counts.update(grams)
        docs.update(set(grams))
    top = counts.most_common(TOP)
    return {"distinct": len(counts), "singletons": sum(1 for c in counts.values() if c == 1),
            "top": [[" ".join(g), c, docs[g]] for g, c in top],
            "top_counts": [c for _, c in top],
            "lookup": {s: [counts.get(tuple(s.split(" ")), 0), docs.get(tuple(s.split(" ")), 0)] for s in lookup}}


def ngram_pass_hashed(corpus, n: int, lookup: list[str]) -> dict:
    """One n with the hashes of the n-grams in arrays, counted by sorting (see the module docstring)."""
    import numpy as np

    occurrences, held = array("q"), array("q")
    for w in doc_words(corpus):
        hashes = [hash(g) for g in zip(*(w[i:] for i in range(n)))]
        occurrences.extend(hashes)
        held.extend(set(hashes))
    keys, counts = np.unique(np.frombuffer(occurrences, dtype=np.int64), return_counts=True)
    del occurrences
    dkeys, dcounts = np.unique(np.frombuffer(held, dtype=np.int64), return_counts=True)
    del held

    def find(table, values, h):
        i = int(np.searchsorted(table, h))
        return int(values[i]) if i < len(table) and table[i] == h else 0

    best = np.argpartition(counts, -TOP)[-TOP:] if len(counts) > TOP else np.arange(len(counts))
    order = best[np.argsort(-counts[best], kind="stable")]
    top_hashes = {int(keys[i]): int(counts[i]) for i in order}
    named = {hash(tuple(s.split(" "))): s for s in lookup}
    return {"distinct": int(len(keys)), "singletons": int((counts == 1).sum()),
            "top": [[named.get(h), c, find(dkeys, dcounts, h)] for h, c in top_hashes.items()],
            "top_counts": [int(counts[i]) for i in order],
            "lookup": {s: [find(keys, counts, h), find(dkeys, dcounts, h)] for h, s in named.items()}}


def peer_core(corpus, tokenizer_name: str | None, sizes: tuple[int, ...], audit_ngrams: dict, counting: str) -> dict:
    """The documents pass and one n-gram pass per n, each timed (``seconds`` = their sum)."""
    t = perf()
    out = {"documents_pass": documents_pass(corpus, tokenizer_name)}
    out["documents_pass"]["seconds"] = perf() - t
    one = ngram_pass_counter if counting == "counter" else ngram_pass_hashed
    out["ngrams"] = {}
    for n in sizes:
        t = perf()
        out["ngrams"][str(n)] = one(corpus, n, [r[0] for r in audit_ngrams.get(str(n), [])])
        out["ngrams"][str(n)]["seconds"] = perf() - t
    out["seconds"] = out["documents_pass"]["seconds"] + sum(p["seconds"] for p in out["ngrams"].values())
    out["counting"] = counting
    return out


def peer_models(corpus) -> dict:
    """The languages and offensive-language pass: languages (documents each) and offensive documents."""
    from profanity_check import predict_prob

    from gaia_lite.analysis.languages import LanguageDetector

    steps = Counter()
    t = perf()
    detector = LanguageDetector()
    steps["load"] = perf() - t
    languages, offensive = Counter(), 0
    for titles, texts in documents(corpus):
        whole = [f"{a}\n{b}" if a else b for a, b in zip(titles, texts)]
        t = perf()
        for text in whole:
            code, _ = detector.detect(text)
            if code:
                languages[code] += 1
        steps["languages"] += perf() - t
        t = perf()
        offensive += int(sum(1 for s in predict_prob(whole) if s >= 0.5))
        steps["offensive"] += perf() - t
    return {"languages": dict(languages), "offensive": offensive, "steps": {k: round(v, 3) for k, v in steps.items()}}


def top_of(rows: list[dict]) -> dict[str, list]:
    """The audit's ``ngrams`` table rows as ``{n: [[ngram, count, documents], ...]}`` in rank order."""
    out: dict[str, list] = {}
    for r in sorted(rows, key=lambda r: (r["n"], r["rank"])):
        out.setdefault(str(r["n"]), []).append([r["ngram"], r["count"], r["documents"]])
    return out


def compare_ngrams(audit_top: dict[str, list], peer: dict) -> dict:
    """Per n: whether the audit's top n-grams are the peer's (each audit n-gram's count and documents equal the
    peer's exact ones, and the audit's counts are the peer's ``TOP`` largest: identical up to the order of ties),
    with the n-grams that differ."""
    out = {}
    for n, rows in audit_top.items():
        p = peer["ngrams"].get(n)
        if p is None:
            continue
        wrong = [[s, c, d, *p["lookup"].get(s, [None, None])] for s, c, d in rows
                 if p["lookup"].get(s) != [c, d]]
        same_counts = sorted((c for _, c, _ in rows), reverse=True) == p["top_counts"][:len(rows)] \
            and len(rows) == min(TOP, p["distinct"])
        out[n] = {"identical": not wrong and same_counts, "rows": len(rows), "wrong": wrong[:10],
                  "same_top_counts": same_counts}
    return out


def within(estimate: dict, exact: int) -> bool:
    """Whether ``exact`` lies in the estimate's stated bounds."""
    return estimate["lower"] <= exact <= estimate["upper"]


def read_json(path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)
