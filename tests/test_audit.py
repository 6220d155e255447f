"""The audit end to end: its figures against brute force over the corpus's texts, sharded and two-process runs
identical to one pass, a killed audit resumes from its finished shards, bad input is one line that writes
nothing, and the audit travels with a pushed corpus. (A 3-node Ray run is in test_sharded_builds.py, beside the
other analyses on Ray; the words side and the documents side have their own tests.)"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pyarrow.parquet as pq
import pytest

from gaia_lite.analysis import find_audit, load_audit
from gaia_lite.analysis.audit import AUDIT_DIR, TABLES
from gaia_lite.analysis.pii import find_pii
from gaia_lite.analysis.text import words
from gaia_lite.cli import main
from gaia_lite.corpus import build_corpus
from gaia_lite.errors import ConfigError, InputError
from gaia_lite.executors import LocalExecutor

from .conftest import write_jsonl

VOCAB = [f"{a}{b}{c}" for a in "bdgklmnprst" for b in "aeiou" for c in "nrs"]  # 165 words
BOILERPLATE = "click here to subscribe to our newsletter for more"
OTHER_LANGUAGES = [
    "Der schnelle braune Fuchs springt über den faulen Hund und läuft in den Wald zurück.",
    "Le renard brun rapide saute par-dessus le chien paresseux et retourne dans la forêt.",
    "El rápido zorro marrón salta sobre el perro perezoso y vuelve corriendo al bosque.",
]
OFFENSIVE = "you are a stupid idiot and a worthless piece of shit"
DOMAINS = ["https://www.example.com/a", "http://news.bbc.co.uk/story/1", "https://blog.example.com/x?y=1",
           "https://en.wikipedia.org/wiki/Fox"]


def _docs(n: int = 240, seed: int = 5) -> list[dict]:
    """Random English-like documents with planted boilerplate, personal data, other languages, offensive text,
    empty and very short documents, and metadata: a URL, a date, a source and a number."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        text = " ".join(rng.choice(VOCAB) for _ in range(rng.randint(5, 90)))
        if i % 4 == 0:
            text += " " + BOILERPLATE
        if i % 11 == 0:
            text += f" write to person{i}@example.org or call +44 20 7946 {1000 + i}"
        if i % 17 == 0:
            text += f" server at 192.168.{i % 250}.{i % 200 + 1}"
        if i % 13 == 0:
            text = OTHER_LANGUAGES[i % 3]
        if i % 29 == 0:
            text = OFFENSIVE + " " + text
        if i % 37 == 5:
            text = ""
        docs.append({"_id": f"d{i:03d}", "title": "" if i % 3 else f"Title {i}", "text": text,
                     "url": DOMAINS[i % 4], "date": f"20{20 + i % 4}-{1 + i % 12:02d}-0{1 + i % 9}",
                     "source": ["web", "books", "code"][i % 3], "score": (i * 7) % 100 / 10})
    return docs


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """A corpus of :func:`_docs` and its audit in one pass."""
    base = tmp_path_factory.mktemp("audit")
    docs = _docs()
    corpus, _ = build_corpus(str(write_jsonl(base / "d.jsonl", docs)), "aud", root=base, progress=False)
    report = find_audit(corpus, ngrams="1,2,3,5", top=20, progress=False, log=None)
    return corpus, docs, report


def _tables(folder) -> dict:
    return {name: pq.read_table(folder / f"{name}.parquet").to_pylist() for name in TABLES}


def _stable(summary: dict) -> dict:
    """The summary without what says how the run went (time, shards, nodes)."""
    return {k: v for k, v in summary.items() if k not in ("seconds", "shards", "nodes")}


def _doc_words(doc: dict) -> list[str]:
    return words(doc.get("title") or "") + words(doc["text"])


def test_the_figures_equal_brute_force_over_the_texts(audited):
    corpus, docs, report = audited
    s = report.summary
    all_words = [_doc_words(d) for d in docs]
    assert s["documents"] == len(docs)
    assert s["text"]["words"] == sum(map(len, all_words))
    assert s["text"]["empty"] == sum(not w for w in all_words)
    assert s["text"]["short"] == sum(0 < len(w) < 50 for w in all_words)  # empty ones are counted apart
    # The most common n-grams: the same n-grams, counts and order (ties by text) as collections.Counter.
    table = pq.read_table(corpus.folder / AUDIT_DIR / "ngrams.parquet").to_pylist()
    for n in (1, 2, 3, 5):
        counts = Counter(tuple(w[i:i + n]) for w in all_words for i in range(len(w) - n + 1))
        expected = sorted(counts.items(), key=lambda kv: (-kv[1], " ".join(kv[0])))[:20]
        got = [(tuple(r["ngram"].split(" ")), r["count"]) for r in table if r["n"] == n]
        assert got == expected, n
    top5 = [r for r in table if r["n"] == 5 and r["rank"] == 1][0]
    assert top5["ngram"] in BOILERPLATE and top5["documents"] == sum(1 for d in docs if BOILERPLATE in d["text"])
    # Distinct n-grams: the exact number lies within the stated bounds.
    for n in range(1, 6):
        exact = len({tuple(w[i:i + n]) for w in all_words for i in range(len(w) - n + 1)})
        d = s["distinct"][str(n)]
        assert d["lower"] <= exact <= d["upper"], (n, exact, d)
    # Personal data: documents and occurrences per type as the explorer's detector finds them.
    for kind in ("email", "phone", "ip"):
        found = [sum(span.kind == kind for span in find_pii((d.get("title") or "") + "\n" + d["text"]))
                 for d in docs]
        assert s["personal_data"]["types"][kind] == {"documents": sum(x > 0 for x in found),
                                                     "occurrences": sum(found)}, kind
    # Metadata: the source's distribution and the URLs' registered domains.
    metadata = pq.read_table(corpus.folder / AUDIT_DIR / "metadata.parquet").to_pylist()
    sources = {r["value"]: r["documents"] for r in metadata if r["column"] == "source"}
    assert sources == Counter(d["source"] for d in docs)
    domains = {r["value"]: r["documents"] for r in metadata if r["column"] == "url"}
    assert domains == {"example.com": 120, "bbc.co.uk": 60, "wikipedia.org": 60}
    months = {r["value"]: r["documents"] for r in metadata if r["column"] == "date"}
    assert months == Counter(d["date"][:7] for d in docs)
    # Languages: the planted German, French and Spanish documents are found.
    languages = {r["language"]: r["documents"] for r in pq.read_table(corpus.folder / AUDIT_DIR / "languages.parquet")
                 .to_pylist()}
    for code in ("de", "fr", "es"):
        assert languages.get(code, 0) >= 5, languages
    # Offensive language: the planted documents score high, and their examples are stored.
    scores = dict(zip(*pq.read_table(corpus.folder / AUDIT_DIR / "documents.parquet", columns=["id", "offensive"])
                      .to_pydict().values()))
    planted = [d["_id"] for d in docs if d["text"].startswith(OFFENSIVE)]
    assert all(scores[i] >= s["offensive"]["threshold"] for i in planted)
    assert s["offensive"]["documents"] >= len(planted)
    # The per-document table is in corpus order.
    assert pq.read_table(corpus.folder / AUDIT_DIR / "documents.parquet", columns=["id"]).column("id").to_pylist() \
        == corpus.ids


def test_sharded_and_two_process_audits_equal_one_pass_and_leave_the_corpus_alone(audited):
    corpus, _, plain = audited
    first = _tables(corpus.folder / AUDIT_DIR)
    for options in ({"shard_size": 37}, {"shard_size": 50, "executor": LocalExecutor(2)}):
        again = find_audit(corpus, ngrams="1,2,3,5", top=20, progress=False, log=None, **options)
        assert _stable(again.summary) == _stable(plain.summary), options
        assert _tables(corpus.folder / AUDIT_DIR) == first, options
    assert not [p for p in corpus.folder.iterdir() if p.name.startswith(".")]  # no workdir or scratch left
    assert load_audit(corpus).summary["text"] == plain.summary["text"]


def test_a_killed_audit_resumes_from_its_finished_shards(audited, tmp_path):
    corpus, _, plain = audited
    work = corpus.folder / f".{AUDIT_DIR}.work"
    argv = [sys.executable, "-m", "gaia_lite", "audit", str(corpus.folder), "--ngrams", "1,2,3,5", "--top", "20",
            "--shard-size", "8", "--no-progress"]
    driver = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while len(list(work.glob("done/*.json"))) < 2 and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.02)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    finished = len(list(work.glob("done/*.json")))
    assert 1 <= finished < 30, finished
    log: list[str] = []
    again = find_audit(corpus, ngrams="1,2,3,5", top=20, shard_size=8, progress=False, log=log.append)
    assert any(f"{finished} of 30 shards reused" in line for line in log), log
    assert _stable(again.summary) == _stable(plain.summary)
    assert not work.exists()


def test_the_cli_prints_the_figures_and_its_json_equals_the_api(audited, capsys):
    corpus, _, plain = audited
    assert main(["audit", str(corpus.folder), "--ngrams", "1,2,3,5", "--top", "20", "--json", "--no-progress"]) == 0
    assert _stable(json.loads(capsys.readouterr().out)) == _stable(plain.summary)
    assert main(["audit", str(corpus.folder), "--ngrams", "1,2,3,5", "--top", "20", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"{len(corpus):,} documents of 'aud'" in out and "stored ->" in out and "most common 5-grams" in out


@pytest.mark.parametrize("args, message", [
    (["--ngrams", "0"], "n-gram sizes from 1 to 50"),
    (["--ngrams", "2,51"], "n-gram sizes from 1 to 50"),
    (["--columns", "nope"], "nope"),
    (["--url-column", "source"], "source"),
    (["--date-column", "source"], "source"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(audited, capsys, args, message):
    corpus, _, _ = audited
    before = {p: p.stat().st_mtime_ns for p in (corpus.folder / AUDIT_DIR).rglob("*")}
    try:
        status = main(["audit", str(corpus.folder), "--no-progress", *args])
    except SystemExit as e:
        status = e.code
    err = capsys.readouterr().err
    assert status == 2 and message in err and err.count("\n") == 1, err
    assert {p: p.stat().st_mtime_ns for p in (corpus.folder / AUDIT_DIR).rglob("*")} == before
    assert not [p for p in corpus.folder.iterdir() if p.name.startswith(".")]


def test_the_api_refuses_bad_settings_and_columns(audited):
    corpus, _, _ = audited
    with pytest.raises(ConfigError, match="unknown"):
        find_audit(corpus, ngram=3, progress=False)
    with pytest.raises(InputError, match="nope"):
        find_audit(corpus, columns="nope", progress=False)


def test_the_audit_travels_with_a_pushed_corpus(audited, tmp_path, monkeypatch):
    import huggingface_hub

    from gaia_lite.hub import pull_corpus, push_corpus

    from .test_hub import SECRET, FakeHub

    corpus, _, plain = audited
    fake = FakeHub(tmp_path / "hub")
    monkeypatch.setattr(huggingface_hub, "HfApi", fake.api_class())
    monkeypatch.setenv("HF_TOKEN", SECRET)
    report = push_corpus(corpus, "me/aud", progress=False)
    assert "indexes/audit/ngrams.parquet" in report.files
    card = (fake.folder("me/aud", None) / "README.md").read_text()
    assert "What is in it (`gaia-lite audit`)" in card and f"{plain.summary['text']['words']:,}" in card
    pulled = pull_corpus("me/aud", root=tmp_path / "elsewhere", progress=False)
    assert load_audit(pulled).summary == load_audit(corpus).summary
    assert _tables(pulled.folder / AUDIT_DIR) == _tables(corpus.folder / AUDIT_DIR)
