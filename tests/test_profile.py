"""Tests for gaia_lite.analysis.profile (the audit's documents side) and gaia_lite.analysis.languages: every count
against a brute-force reference on random corpora, sharded runs identical to one pass, the language detector's
accuracy on the labelled sample, and bad metadata columns. Real libraries throughout."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from gaia_lite.analysis.languages import LanguageDetector
from gaia_lite.analysis.pii import REDACTION_KINDS, find_pii
from gaia_lite.analysis.profile import (
    LENGTH_EDGES,
    NUMBER_EDGES,
    Profiler,
    combine_profiles,
    metadata_columns,
    number_bin,
)
from gaia_lite.analysis.text import words
from gaia_lite.config import AuditConfig
from gaia_lite.corpus import build_corpus
from gaia_lite.errors import InputError

from .conftest import write_jsonl

SAMPLE = Path(__file__).parent / "data" / "languages" / "sample.jsonl"
TABLE_NAMES = ("documents", "lengths", "personal_data", "personal_data_examples", "languages",
               "offensive_examples", "metadata")
PII_PIECES = ["write to jane.doe@example.org", "from 192.168.4.20", "call (212) 717-3298", "or +44 20 7946 0958",
              "token ghp_" + "a1B2c3D4" * 5, "password = 'x9!k2j3h4g5'", "a@b.io and c.d@e.co.uk"]
OFFENSIVE = ["you are a fucking idiot", "what a piece of shit"]
HOSTS = ["news.bbc.co.uk", "www.example.com", "a.b.github.io", "shop.example.co.jp", "10.0.0.1", "localhost"]


def random_docs(n: int, seed: int) -> list[dict]:
    """Documents mixing languages of the sample, personal data, offensive text, empty ones, and metadata."""
    rng = random.Random(seed)
    sentences = [json.loads(line)["text"] for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    docs = []
    for i in range(n):
        parts = rng.sample(sentences, rng.randint(0, 3))
        if rng.random() < 0.3:
            parts.insert(rng.randint(0, len(parts)), rng.choice(PII_PIECES))
        if rng.random() < 0.1:
            parts.append(rng.choice(OFFENSIVE))
        doc = {"_id": f"d{i}", "title": rng.choice(["", "A title", rng.choice(sentences)[:30],
                                                      rng.choice(PII_PIECES)]),
               "text": " ".join(parts),
               "source": rng.choice(["web", "books", "code", None]),
               "flag": rng.choice([True, False]),
               "score": rng.choice([None, 0, -3, 0.5, 7, 12.5, 150, 1e6 + rng.random()]),
               "url": rng.choice([None, ""] + [f"https://{h}/p/{rng.randint(0, 9)}" for h in HOSTS]),
               "date": rng.choice([None, "2021-03-04", "2021-03-30T10:00:00Z", "2020-12-01 08:00", "2022-01"])}
        docs.append(doc)
    return docs


def make_corpus(tmp_path: Path, docs: list[dict], name: str = "c"):
    corpus, _ = build_corpus(str(write_jsonl(tmp_path / f"{name}.jsonl", docs)), name, root=tmp_path, progress=False)
    return corpus


def run_profile(corpus, config: AuditConfig, folder: Path, shards: int, tokenizer: str | None = None,
                batch: int = 37) -> dict:
    """Profile ``corpus`` in ``shards`` consecutive shards (each its own Profiler), then combine into ``folder/out``."""
    columns = metadata_columns(corpus, config)
    data = corpus.dataset
    bounds = np.linspace(0, len(data), shards + 1).astype(int)
    parts = []
    for s in range(shards):
        part = folder / f"part{s}"
        profiler = Profiler(config, columns, tokenizer)
        for start in range(bounds[s], bounds[s + 1], batch):
            rows = data[start:min(start + batch, bounds[s + 1])]
            doc_words = [[w for c in ("title", "text") for w in words(rows[c][k] or "")] for k in range(len(rows["id"]))]
            profiler.add(rows["id"], rows, doc_words)
        assert profiler.finish(part) == {"profiled": int(bounds[s + 1] - bounds[s])}
        parts.append(part)
    out = folder / "out"
    out.mkdir()
    summary = combine_profiles(parts, out, config)
    return {"summary": summary, "tables": {n: pq.read_table(out / f"{n}.parquet").to_pylist() for n in TABLE_NAMES}}


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """A random corpus of 400 documents, profiled in one pass and in 4 shards."""
    tmp = tmp_path_factory.mktemp("profile")
    docs = random_docs(400, seed=7)
    corpus = make_corpus(tmp, docs)
    (tmp / "one").mkdir()
    (tmp / "four").mkdir()
    config = AuditConfig()
    return docs, corpus, run_profile(corpus, config, tmp / "one", 1), run_profile(corpus, config, tmp / "four", 4)


def test_sharded_is_one_pass_exactly(audited):
    _, _, one, four = audited
    assert four["summary"] == one["summary"]
    for name in TABLE_NAMES:
        assert four["tables"][name] == one["tables"][name], name


def test_metadata_columns_found_by_name_and_type(audited):
    _, corpus, _, _ = audited
    assert metadata_columns(corpus, AuditConfig()) == {"source": "category", "flag": "category", "score": "number",
                                                       "url": "url", "date": "date"}
    assert metadata_columns(corpus, AuditConfig(columns="source,score")) == {"source": "category", "score": "number"}


def test_documents_against_brute_force(audited):
    docs, _, one, _ = audited
    rows = one["tables"]["documents"]
    detector = LanguageDetector()
    from profanity_check import predict_prob

    assert [r["id"] for r in rows] == [d["_id"] for d in docs]
    for d, r in zip(docs, rows):
        title, text = d["title"], d["text"]
        assert r["chars"] == len(title) + len(text)
        assert r["words"] == len(words(title)) + len(words(text))
        whole = f"{title}\n{text}" if title else text
        assert (r["language"], r["language_score"]) == pytest.approx(detector.detect(whole))
        assert r["offensive"] == pytest.approx(float(predict_prob([whole])[0]))
        kinds = Counter(s.kind for s in find_pii(title) + find_pii(text))
        assert {k: r[f"pii_{k}"] for k in REDACTION_KINDS} == {k: kinds[k] for k in REDACTION_KINDS}
        assert r["tokens"] == 0  # no tokenizer named


def test_counts_against_brute_force(audited):
    docs, _, one, _ = audited
    summary, tables, rows = one["summary"], one["tables"], one["tables"]["documents"]
    # Personal data: documents and occurrences per type, as find_pii counts them document by document.
    per_doc = [Counter(s.kind for s in find_pii(d["title"]) + find_pii(d["text"])) for d in docs]
    expected = {k: {"documents": sum(c[k] > 0 for c in per_doc), "occurrences": sum(c[k] for c in per_doc)}
                for k in REDACTION_KINDS}
    assert summary["personal_data"] == {"enabled": True, "types": expected}
    assert all(expected[k]["documents"] > 0 for k in REDACTION_KINDS)
    assert {r["type"]: (r["documents"], r["occurrences"]) for r in tables["personal_data"]} == {
        k: (v["documents"], v["occurrences"]) for k, v in expected.items()}
    # Examples are redacted: none shows the personal data it is an example of.
    for e in tables["personal_data_examples"]:
        assert find_pii(e["text"]) == [], e
    assert Counter(e["type"] for e in tables["personal_data_examples"]) == {k: 5 for k in REDACTION_KINDS}
    # Languages: the detector per document.
    detector = LanguageDetector()
    languages = Counter(detector.detect(f"{d['title']}\n{d['text']}" if d["title"] else d["text"])[0] for d in docs)
    languages.pop("", None)
    assert {r["language"]: r["documents"] for r in tables["languages"]} == languages
    assert summary["languages"]["documents_identified"] == sum(languages.values())
    # Lengths: exact totals, quantiles and histograms.
    text = summary["text"]
    assert text["documents"] == len(docs)
    assert text["empty"] == sum(r["words"] == 0 for r in rows)
    assert text["short"] == sum(0 < r["words"] < 50 for r in rows)
    assert text["characters"] == sum(len(d["title"]) + len(d["text"]) for d in docs)
    for measure in ("chars", "words"):
        values = np.array([r[measure] for r in rows])
        stats = summary["lengths"][measure]
        assert (stats["min"], stats["max"], stats["mean"]) == (values.min(), values.max(), pytest.approx(values.mean()))
        for q in (50, 90, 99):
            assert stats[f"p{q}"] == np.quantile(values, q / 100, method="inverted_cdf")
        counts, _ = np.histogram(values, bins=LENGTH_EDGES)
        # np.histogram's last bin is closed; no length comes near 2**40.
        got = {(r["low"], r["high"]): r["documents"] for r in tables["lengths"] if r["measure"] == measure}
        nonzero = {(int(LENGTH_EDGES[i]), int(LENGTH_EDGES[i + 1])): int(c) for i, c in enumerate(counts) if c}
        assert {k: v for k, v in got.items() if v} == nonzero
        assert sum(got.values()) == len(docs)
    # Offensive documents at the threshold.
    assert summary["offensive"]["documents"] == sum(r["offensive"] >= 0.5 for r in rows) > 0
    assert [e["id"] for e in tables["offensive_examples"]] == [r["id"] for r in rows if r["offensive"] >= 0.5][:5]


def test_metadata_against_brute_force(audited):
    docs, _, one, _ = audited
    from publicsuffixlist import PublicSuffixList

    meta = Counter((r["column"], r["kind"], r["value"]) for r in one["tables"]["metadata"] for _ in range(r["documents"]))
    table = lambda column: {v: n for (c, _, v), n in meta.items() if c == column}  # noqa: E731
    assert table("source") == Counter(d["source"] for d in docs if d["source"] is not None)
    assert table("flag") == Counter(str(d["flag"]).lower() for d in docs)
    psl = PublicSuffixList()
    from urllib.parse import urlsplit

    hosts = [urlsplit(d["url"]).hostname for d in docs if d["url"]]
    assert table("url") == Counter(h if h[0].isdigit() else psl.privatesuffix(h) or h for h in hosts)
    assert {"bbc.co.uk", "example.com", "b.github.io", "example.co.jp", "10.0.0.1", "localhost"} == set(table("url"))
    months = {"2021-03-04": "2021-03", "2021-03-30T10:00:00Z": "2021-03", "2020-12-01 08:00": "2020-12",
              "2022-01": "2022-01"}
    assert table("date") == Counter(months[d["date"]] for d in docs if d["date"])
    scores = np.array([d["score"] for d in docs if d["score"] is not None], dtype=float)
    finite = np.where(np.isinf(NUMBER_EDGES), np.sign(NUMBER_EDGES) * 1e300, NUMBER_EDGES)
    counts, _ = np.histogram(scores, bins=finite)
    assert table("score") == {number_bin(i): int(c) for i, c in enumerate(counts) if c}
    summary = one["summary"]["metadata"]
    assert summary["score"]["missing"] == sum(d["score"] is None for d in docs)
    assert summary["url"]["missing"] == sum(not d["url"] for d in docs)
    assert summary["source"]["distinct"] == 3 and not summary["source"]["capped"]
    assert summary["date"]["first"] == "2020-12" and summary["date"]["last"] == "2022-01"


def test_switched_off(tmp_path):
    corpus = make_corpus(tmp_path, random_docs(60, seed=3))
    config = AuditConfig(languages=False, offensive=False, personal_data=False, columns="")
    out = run_profile(corpus, config, tmp_path, 2)
    rows = out["tables"]["documents"]
    assert all(r["language"] == "" and r["language_score"] == 0 and math.isnan(r["offensive"]) for r in rows)
    assert all(r[f"pii_{k}"] == 0 for r in rows for k in REDACTION_KINDS)
    s = out["summary"]
    assert not (s["languages"]["enabled"] or s["offensive"]["enabled"] or s["personal_data"]["enabled"])
    assert s["offensive"]["documents"] == 0 and out["tables"]["languages"] == [] and s["metadata"] == {}


def test_tokens_are_the_dense_models(tmp_path):
    from transformers import AutoTokenizer

    from gaia_lite.config import DEFAULT_MODEL
    from gaia_lite.dense.encoder import resolve_model

    docs = random_docs(40, seed=5)
    docs[0]["text"] = "word " * 2000  # longer than the model's window: every token counts
    corpus = make_corpus(tmp_path, docs)
    out = run_profile(corpus, AuditConfig(languages=False, offensive=False), tmp_path, 2, tokenizer=DEFAULT_MODEL)
    tok = AutoTokenizer.from_pretrained(str(resolve_model(DEFAULT_MODEL)))
    count = lambda t: len(tok(t, add_special_tokens=False)["input_ids"])  # noqa: E731
    assert [r["tokens"] for r in out["tables"]["documents"]] == [count(d["title"]) + count(d["text"]) for d in docs]
    assert out["tables"]["documents"][0]["tokens"] >= 2000
    assert out["summary"]["text"]["tokenizer"] == DEFAULT_MODEL


def test_language_accuracy_on_the_labelled_sample():
    """The floors are what the detector measured (0.934 overall, 0.879 under 50 characters), less a margin."""
    sample = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    detector = LanguageDetector()
    right = [detector.detect(r["text"])[0] == r["language"] for r in sample]
    short = [ok for ok, r in zip(right, sample) if len(r["text"]) < 50]
    assert sum(right) / len(right) >= 0.92
    assert sum(short) / len(short) >= 0.86
    assert detector.detect("") == ("", 0.0) and detector.detect("1234 ... !!") == ("", 0.0)
    assert detector.detect("Monsieur le Président de la Chambre d\x92Agriculture,")[0] == "fr"  # CLD2 rejects U+0092


@pytest.mark.parametrize("settings, words_expected", [
    ({"columns": "source,nope"}, ["'nope'", "--columns", "source"]),
    ({"url_column": "missing"}, ["'missing'", "--url-column"]),
    ({"url_column": "source"}, ["'source'", "URLs", "--url-column"]),
    ({"date_column": "source"}, ["'source'", "dates", "--date-column"]),
])
def test_bad_columns_are_one_line_errors(tmp_path, settings, words_expected):
    corpus = make_corpus(tmp_path, random_docs(30, seed=1))
    with pytest.raises(InputError) as e:
        metadata_columns(corpus, AuditConfig(**settings))
    message = str(e.value)
    assert "\n" not in message and all(w in message for w in words_expected), message


def test_a_column_named_url_that_holds_no_urls_is_counted_as_categories(tmp_path):
    docs = [{"_id": f"d{i}", "text": "x", "url": "not a link", "date": "someday"} for i in range(5)]
    assert metadata_columns(make_corpus(tmp_path, docs), AuditConfig()) == {"url": "category", "date": "category"}
