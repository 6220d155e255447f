"""gaia-lite count: exact phrase counts from the audit's word index equal a brute-force count over the texts
(random phrases, absent words, phrases across document borders, one word, Unicode forms), the documents are
listed in corpus order, and bad input is one line with exit status 2."""

from __future__ import annotations

import json
import random

import pytest

from gaia_lite.analysis import find_audit
from gaia_lite.analysis.text import words
from gaia_lite.analysis.audit import count_phrase
from gaia_lite.artifacts import ArtifactMeta
from gaia_lite.cli import main
from gaia_lite.corpus import build_corpus
from gaia_lite.errors import ArtifactMismatchError, InputError, MissingArtifactError

from .conftest import write_jsonl

VOCAB = ["the", "return", "value", "of", "a", "list", "Straße", "ﬁne", "İstanbul", "日本語", "naïve", "x2"]


def _docs(n: int = 300, seed: int = 11) -> list[dict]:
    """Random documents with titles over a small vocabulary (so phrases repeat, overlapping ones too) in mixed
    case and punctuation; one document ends in "omega" and the next starts with "alpha", words found nowhere
    else, so "omega alpha" spans a document border only; some titles and texts empty."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        text = " ".join(rng.choice(VOCAB) for _ in range(rng.randint(0, 40)))
        text = "".join(c.upper() if rng.random() < 0.1 else c for c in text).replace(" a ", ", a. ")
        title = "" if i % 3 else f"Title {rng.choice(VOCAB)} {i % 7}"
        docs.append({"_id": f"doc-{i:03d}", "title": title, "text": text})
    docs[100]["text"] += " omega"
    docs[101]["title"], docs[101]["text"] = "", "alpha " + docs[101]["text"]
    return docs


def _doc_words(doc: dict) -> list[str]:
    return words(doc["title"]) + words(doc["text"])


def brute_force(docs: list[dict], phrase: str) -> dict[str, int]:
    """Occurrences of ``phrase`` per document holding it, in corpus order, by comparing every window."""
    wanted = words(phrase)
    found = {}
    for doc in docs:
        w = _doc_words(doc)
        count = sum(w[i:i + len(wanted)] == wanted for i in range(len(w) - len(wanted) + 1))
        if count:
            found[doc["_id"]] = count
    return found


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """A corpus of :func:`_docs` with its audit, in shards of 70 documents."""
    base = tmp_path_factory.mktemp("count")
    docs = _docs()
    corpus, _ = build_corpus(str(write_jsonl(base / "d.jsonl", docs)), "counted", root=base, progress=False)
    find_audit(corpus, ngrams="2", top=5, languages=False, offensive=False, personal_data=False, shard_size=70,
               progress=False, log=None)
    return corpus, docs


def _phrases(docs: list[dict], k: int, seed: int) -> list[str]:
    """Phrases cut from the documents (1 to 5 words, in other case and punctuation) and phrases with a word no
    document has."""
    rng = random.Random(seed)
    out = []
    while len(out) < k:
        w = _doc_words(rng.choice(docs))
        if not w:
            continue
        size = rng.randint(1, 5)
        start = rng.randrange(len(w))
        phrase = w[start:start + size]
        if rng.random() < 0.2:
            phrase.insert(rng.randrange(len(phrase) + 1), "absentword")
        out.append("  ".join(x.upper() if rng.random() < 0.5 else x for x in phrase) + rng.choice(["", ".", "!?"]))
    return out


def test_random_phrases_equal_a_brute_force_count(audited):
    corpus, docs = audited
    for phrase in _phrases(docs, 60, seed=1) + ["the", "a a", "the the the", "x2", "title"]:
        expected = brute_force(docs, phrase)
        got = count_phrase(corpus, phrase, limit=1000)
        assert (got.occurrences, got.documents) == (sum(expected.values()), len(expected)), phrase
        assert dict(zip(got.ids, got.per_document)) == expected and got.ids == list(expected), phrase
        assert got.words == words(phrase) and got.phrase == phrase


def test_absent_words_and_document_borders_count_nothing(audited):
    corpus, docs = audited
    assert _doc_words(docs[100])[-1] == "omega" and _doc_words(docs[101])[0] == "alpha"
    for phrase in ("omega alpha", "absentword", "the absentword", "omega", "alpha"):
        got = count_phrase(corpus, phrase)
        expected = brute_force(docs, phrase)
        assert (got.occurrences, got.documents, got.ids) == (sum(expected.values()), len(expected), list(expected))
    assert count_phrase(corpus, "omega alpha").occurrences == 0
    assert count_phrase(corpus, "omega").ids == ["doc-100"] and count_phrase(corpus, "alpha").ids == ["doc-101"]


def test_unicode_forms_count_as_the_audit_reads_them(audited):
    corpus, docs = audited
    # NFKC ("ﬁ" is "fi") and case folding ("ß" is "ss", "İ" is "i̇"): each spelling finds the same words.
    spellings = [("STRASSE FINE", "straße ﬁne"), ("İSTANBUL 日本語", "i̇stanbul 日本語"), ("NAÏVE", "naïve")]
    for a, b in spellings:
        first, second = count_phrase(corpus, a), count_phrase(corpus, b)
        assert first.words == second.words and first.occurrences == second.occurrences > 0
        assert first.occurrences == sum(brute_force(docs, a).values())
    assert count_phrase(corpus, "Straße ﬁne").words == ["strasse", "fine"]


def test_the_first_documents_are_listed_in_corpus_order(audited):
    corpus, docs = audited
    expected = brute_force(docs, "the value")
    got = count_phrase(corpus, "the value", limit=4)
    assert got.ids == list(expected)[:4] and got.per_document == list(expected.values())[:4]
    assert got.documents == len(expected) > 4 and got.seconds > 0
    assert got.to_dict()["ids"] == got.ids and "NFKC" in got.to_dict()["normalization"]


def test_a_phrase_without_words_or_too_long_is_refused(audited):
    corpus, _ = audited
    with pytest.raises(InputError, match="has no words"):
        count_phrase(corpus, " ?! -- ")
    with pytest.raises(InputError, match="at most 50 words"):
        count_phrase(corpus, "the " * 51)


def test_a_corpus_without_its_audit_says_how_to_make_one(tmp_path, capsys):
    corpus, _ = build_corpus(str(write_jsonl(tmp_path / "d.jsonl", _docs()[:5])), "plain", root=tmp_path,
                             progress=False)
    with pytest.raises(MissingArtifactError, match="run `gaia-lite audit"):
        count_phrase(corpus, "the")
    assert main(["count", str(corpus.folder), "the"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "gaia-lite audit" in err
    # An audit of other documents is refused too, naming the command that makes it again.
    (corpus.folder / "audit").mkdir()
    ArtifactMeta(kind="audit", num_rows=len(corpus), fingerprint="sha256:" + "0" * 64, source=str(corpus.folder),
                 command=f"gaia-lite audit {corpus.folder}").write(corpus.folder / "audit")
    with pytest.raises(ArtifactMismatchError, match="gaia-lite audit"):
        count_phrase(corpus, "the")


def test_the_cli_prints_the_count_and_its_json_equals_the_api(audited, capsys):
    corpus, docs = audited
    expected = brute_force(docs, "return the")
    assert main(["count", str(corpus.folder), "Return, THE", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{sum(expected.values()):,} occurrences in {len(expected):,} of {len(docs):,} documents")
    assert "counted as: 'return the'" in out
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    assert listed == list(expected)[:3]
    assert main(["count", str(corpus.folder), "Return, THE", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    api = count_phrase(corpus, "Return, THE", limit=10).to_dict()
    assert {k: v for k, v in result.items() if k != "seconds"} == {k: v for k, v in api.items() if k != "seconds"}


def test_the_cli_refuses_a_phrase_without_words_in_one_line(audited, capsys):
    corpus, _ = audited
    assert main(["count", str(corpus.folder), "!!!"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no words" in err
