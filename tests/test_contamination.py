"""Benchmark contamination: hand-built cases whose answer is known exactly, a brute-force reference on random
corpora, sharded and multi-process runs equal to one pass, the CLI, result sets, and bad input."""

from __future__ import annotations

import json
import random

import pytest

from gaia_lite.analysis import find_contamination, read_benchmark
from gaia_lite.analysis.text import word_spans, words
from gaia_lite.cli import main
from gaia_lite.corpus import build_corpus
from gaia_lite.errors import ConfigError, InputError

from .conftest import SCIFACT, needs_scifact, write_jsonl

# Item texts of 20+ words, so a 13-gram test has room.
PLANTED = ("the mitochondria of the cell produce most of the chemical energy needed to power biochemical "
           "reactions in every living organism we know")
CUT = ("a long benchmark question about rivers where only the middle thirteen words of it appear in one document "
       "of the corpus and nothing else matches at all")
PARAPHRASE = ("cells get most of their chemical power for biochemical reactions from small organelles called "
              "mitochondria in all known organisms")
FILLER = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore"


def _thirteen_of(text: str, start: int) -> str:
    return " ".join(text.split()[start:start + 13])


DOCS = [
    {"_id": "verbatim", "title": "Biology", "text": f"{FILLER}. {PLANTED}. {FILLER}."},
    {"_id": "shouting", "title": "Caps",
     "text": PLANTED.upper().replace(" of ", ", OF; ").replace("energy", "ENERGY!")},
    {"_id": "cut", "title": "Rivers", "text": f"{FILLER} {_thirteen_of(CUT, 5)} {FILLER}"},
    {"_id": "twelve", "title": "Almost", "text": f"{FILLER} {' '.join(CUT.split()[5:17])} {FILLER}"},
    {"_id": "short", "title": "Short", "text": "He said: Yes, Minister! and left."},
    {"_id": "unrelated", "title": "Finance", "text": "Markets fell sharply on Monday as investors sold bonds."},
]
ITEMS = [
    {"id": "planted", "question": PLANTED},
    {"id": "cut", "question": CUT},
    {"id": "paraphrased", "question": PARAPHRASE},
    {"id": "short", "question": "yes minister"},
    {"id": "short-absent", "question": "no minister"},
]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    base = tmp_path_factory.mktemp("contamination")
    corpus, _ = build_corpus(str(write_jsonl(base / "docs.jsonl", DOCS)), "planted", root=base / "root",
                             progress=False)
    bench = write_jsonl(base / "bench.jsonl", ITEMS)
    return corpus, bench


def _by_id(report):
    return {r.item_id: r for r in report.items}


def test_hand_built_cases_give_the_known_answers(planted):
    corpus, bench = planted
    report = find_contamination(corpus, read_benchmark(str(bench), "question"), progress=False, log=None)
    items = _by_id(report)
    planted_item = items["planted"]
    assert planted_item.flagged and planted_item.overlap == 1.0
    # The verbatim copy and the one in capitals with other punctuation: both hold every n-gram.
    assert planted_item.documents == 2
    assert [o.doc_id for o in planted_item.top_documents] == ["verbatim", "shouting"]
    assert planted_item.longest.doc_id == "verbatim" and planted_item.longest.words == len(PLANTED.split())
    text = DOCS[0]["text"]
    start = text.index(PLANTED)
    assert (planted_item.longest.start, planted_item.longest.end) == (start, start + len(PLANTED))
    assert planted_item.longest.span == PLANTED
    shouting = planted_item.top_documents[1]
    assert shouting.span == DOCS[1]["text"]  # the whole document, as stored, punctuation and all
    # Only a 13-word span of the cut item is in the corpus: exactly one of its n-grams.
    cut = items["cut"]
    assert cut.flagged and cut.documents == 1 and cut.matched_ngrams == 1
    assert cut.ngrams == len(CUT.split()) - 12 and cut.overlap == round(1 / cut.ngrams, 6)
    assert cut.longest.doc_id == "cut" and cut.longest.words == 13 and cut.longest.span == _thirteen_of(CUT, 5)
    assert [o.doc_id for o in cut.top_documents] == ["cut"]  # "twelve" shares 12 words: below n
    assert not items["paraphrased"].flagged and items["paraphrased"].documents == 0
    # An item shorter than n is matched whole: "yes minister" is in a document, "no minister" is not.
    assert items["short"].flagged and items["short"].ngrams == 1 and items["short"].longest.span == "Yes, Minister"
    assert not items["short-absent"].flagged
    assert report.rate == pytest.approx(3 / 5)
    assert report.most_matched == [("verbatim", 1), ("shouting", 1), ("cut", 1), ("short", 1)]  # ties: row order


def test_titles_and_texts_are_matched_separately(tmp_path):
    docs = [{"_id": "a", "title": "alpha beta", "text": "gamma delta"},
            {"_id": "b", "title": "x", "text": "beta gamma"}]
    corpus, _ = build_corpus(str(write_jsonl(tmp_path / "d.jsonl", docs)), "t", root=tmp_path, progress=False)
    bench = write_jsonl(tmp_path / "b.jsonl", [{"id": "q", "text": "beta gamma"}, {"id": "r", "text": "alpha beta"}])
    items = _by_id(find_contamination(corpus, read_benchmark(str(bench)), progress=False, log=None))
    assert [o.doc_id for o in items["q"].top_documents] == ["b"]  # not across a's title and text
    assert items["r"].longest.field == "title" and items["r"].longest.span == "alpha beta"


def test_normalisation_keeps_offsets_into_the_original_text():
    text = "The ﬁne Café’s  NAÏVE—résumé, İstanbul"
    spans = word_spans(text)
    assert [w for w, _, _ in spans] == ["the", "fine", "café", "s", "naïve", "résumé", "i̇stanbul"]
    assert [text[s:e] for _, s, e in spans] == ["The", "ﬁne", "Café", "s", "NAÏVE", "résumé", "İstanbul"]
    decomposed = "Cafe\u0301 au lait"
    assert words(decomposed) == ["café", "au", "lait"] and word_spans(decomposed)[0][1:] == (0, 5)
    assert words("snake_case, x-ray 3.14") == ["snake", "case", "x", "ray", "3", "14"]


# --- a brute-force reference -----------------------------------------------------------------------------------

def _reference(docs, items, n):
    """Per item: flagged, documents, matched n-grams (positions in the item), and the longest shared span (words,
    doc, field, start word), computed by comparing word lists directly."""
    fields = ("title", "text")
    out = {}
    for item in items:
        w = words(item["text"])
        m = min(n, len(w))
        grams = {tuple(w[i:i + m]) for i in range(len(w) - m + 1)}
        found, docs_hit, best = set(), 0, None
        for row, doc in enumerate(docs):
            hit = False
            for f, field in enumerate(fields):
                d = words(doc[field])
                doc_grams = {tuple(d[j:j + m]) for j in range(len(d) - m + 1)}
                common = grams & doc_grams
                found |= common
                hit |= bool(common)
                # Longest common run of words (at least m), by dynamic programming.
                for i in range(len(w)):
                    for j in range(len(d)):
                        k = 0
                        while i + k < len(w) and j + k < len(d) and w[i + k] == d[j + k]:
                            k += 1
                        if k >= m:
                            key = (-k, row, f, j)
                            best = key if best is None or key < best else best
            docs_hit += hit
        positions = sum(tuple(w[i:i + m]) in found for i in range(len(w) - m + 1))  # n-grams count by position
        out[item["id"]] = (bool(found), docs_hit, positions, None if best is None else
                           (-best[0], docs[best[1]]["_id"], fields[best[2]], best[3]))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_the_product_agrees_with_a_brute_force_reference(tmp_path, seed):
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(8)]  # few words: many accidental matches of every length

    def sentence(lo, hi):
        return " ".join(rng.choice(vocab) for _ in range(rng.randint(lo, hi)))

    docs = [{"_id": f"d{i}", "title": sentence(0, 4), "text": sentence(0, 40)} for i in range(25)]
    items = [{"id": f"q{i}", "text": sentence(1, 12)} for i in range(15)]
    for q in items[:4]:  # plant a few items inside documents, with other case and punctuation
        doc = rng.choice(docs)
        doc["text"] += " ... " + q["text"].upper().replace(" ", ", ")
    n = rng.choice([2, 3, 4, 5])
    corpus, _ = build_corpus(str(write_jsonl(tmp_path / "d.jsonl", docs)), "r", root=tmp_path, progress=False)
    bench = read_benchmark(str(write_jsonl(tmp_path / "b.jsonl", items)))
    report = find_contamination(corpus, bench, ngram=n, progress=False, log=None, top_documents=30)
    expected = _reference(docs, items, n)
    for r in report.items:
        flagged, documents, matched, longest = expected[r.item_id]
        assert (r.flagged, r.documents, r.matched_ngrams) == (flagged, documents, matched), r.item_id
        got = None if r.longest is None else (r.longest.words, r.longest.doc_id, r.longest.field,
                                               _word_index(docs, r.longest))
        assert got == longest, r.item_id
        assert len(r.top_documents) == documents  # every matching document is listed when top_documents allows
    # Shards of every size, and two worker processes, give the same answer as one pass.
    from gaia_lite.executors import LocalExecutor

    for options in ({"shard_size": 1}, {"shard_size": 7}, {"shard_size": 5, "executor": LocalExecutor(2)}):
        if "executor" in options and seed:
            continue  # worker processes once is enough
        again = find_contamination(corpus, bench, ngram=n, progress=False, log=None, top_documents=30, **options)
        assert again.items == report.items and again.most_matched == report.most_matched


def _word_index(docs, overlap) -> int:
    doc = next(d for d in docs if d["_id"] == overlap.doc_id)
    return [s for _, s, _ in word_spans(doc[overlap.field])].index(overlap.start)


def test_an_interrupted_run_resumes_from_its_finished_shards(planted, monkeypatch):
    from gaia_lite.analysis import contamination as module

    corpus, bench = planted
    benchmark = read_benchmark(str(bench), "question")
    plain = find_contamination(corpus, benchmark, progress=False, log=None)
    real_run = module.ContaminationJob.run

    def dies_on_the_third(self, shard):
        if shard.index == 2:
            raise KeyboardInterrupt
        return real_run(self, shard)

    monkeypatch.setattr(module.ContaminationJob, "run", dies_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        find_contamination(corpus, benchmark, shard_size=1, progress=False, log=None)
    monkeypatch.setattr(module.ContaminationJob, "run", real_run)
    lines = []
    resumed = find_contamination(corpus, benchmark, shard_size=1, progress=False, log=lines.append)
    assert len(lines) == 1 and lines[0].startswith(f"2 of {len(DOCS)} shards reused from an interrupted build")
    assert resumed.items == plain.items
    assert not [p for p in corpus.folder.iterdir() if p.name.startswith(".contamination")]  # no debris left


# --- the CLI, result sets ------------------------------------------------------------------------------------

def test_the_cli_json_equals_the_python_api(planted, capsys):
    corpus, bench = planted
    api = find_contamination(corpus, read_benchmark(str(bench), "question"), progress=False, log=None).to_dict()
    assert main(["contamination", str(corpus.folder), str(bench), "--field", "question", "--json",
                 "--no-progress"]) == 0
    cli = json.loads(capsys.readouterr().out)
    for d in (api, cli):
        d["summary"].pop("seconds")
    assert cli == api


def test_the_cli_table_and_a_saved_result_set_with_its_card(planted, tmp_path, capsys):
    import datasets

    corpus, bench = planted
    out = tmp_path / "result"
    assert main(["contamination", str(corpus.folder), str(bench), "--field", "question", "--ngram", "13",
                 "--output", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr()
    assert printed.out.startswith("3 of 5 items flagged (60.00%)")
    assert "| planted" in printed.out and "verbatim [" in printed.out
    ds = datasets.load_from_disk(str(out))
    assert ds["item_id"] == [i["id"] for i in ITEMS] and ds["flagged"] == [True, True, False, True, False]
    assert ds[0]["longest"]["span"] == PLANTED
    card = (out / "README.md").read_text()
    assert "13-word n-grams" in card and "NFKC" in card and "3 of 5 benchmark items (60.00%)" in card
    parquet = tmp_path / "result.parquet"
    assert main(["contamination", str(corpus.folder), str(bench), "--field", "question", "--output", str(parquet),
                 "--no-progress"]) == 0
    assert datasets.Dataset.from_parquet(str(parquet))["flagged"] == ds["flagged"]


def test_pushing_a_result_set_sends_the_rows_and_the_card_in_one_commit(planted, tmp_path, monkeypatch):
    import huggingface_hub
    import pandas as pd

    from .test_hub import SECRET, FakeHub

    corpus, bench = planted
    fake = FakeHub(tmp_path / "hub")
    monkeypatch.setattr(huggingface_hub, "HfApi", fake.api_class())
    monkeypatch.setenv("HF_TOKEN", SECRET)
    assert main(["contamination", str(corpus.folder), str(bench), "--field", "question", "--push", "me/contam",
                 "--no-progress"]) == 0
    (commit,) = fake.named("create_commit")
    assert commit["adds"] == ["README.md", "data/train.parquet"]
    repo = fake.folder("me/contam", None)
    assert pd.read_parquet(repo / "data" / "train.parquet")["flagged"].tolist() == [True, True, False, True, False]
    assert "## Definition" in (repo / "README.md").read_text()


def test_several_fields_are_joined_and_lists_flattened(tmp_path):
    bench = write_jsonl(tmp_path / "mc.jsonl", [{"qid": 7, "question": "Which?", "choices": ["red", "green"]}])
    b = read_benchmark(str(bench), ["question", "choices"])
    assert b.ids == ("7",) and b.texts == ("Which? red green",) and b.fields == ("question", "choices")


@needs_scifact()
def test_a_beir_folder_gives_its_queries_of_one_split():
    test = read_benchmark(str(SCIFACT), split="test")
    assert len(test) == 300 and test.fields == ("text",)
    assert len(read_benchmark(str(SCIFACT))) > len(test)


# --- bad input: one line, exit 2, nothing written ---------------------------------------------------------------

@pytest.mark.parametrize("records, args, message", [
    ([{"id": "a", "question": "q"}], ["--field", "nope"], "unknown field 'nope'"),
    ([], ["--field", "question"], "no items"),
    ([{"id": "a", "question": "fine words"}, {"id": "b", "question": " ?! — "}], ["--field", "question"],
     "item 'b' has no words"),
    ([{"id": "a", "question": "x"}, {"id": "a", "question": "y"}], ["--field", "question"], "occurs twice"),
    ([{"id": "a", "question": "x"}], ["--ngram", "0"], "ngram must be positive (a whole number), got 0"),
    ([{"id": "a", "question": "x"}], ["--ngram", "-3"], "ngram must be positive (a whole number), got -3"),
    ([{"x": 1}], [], "none of the usual text fields"),
])
def test_bad_benchmarks_and_arguments_are_one_line_errors_and_write_nothing(planted, tmp_path, capsys, records,
                                                                         args, message):
    corpus, _ = planted
    bench = write_jsonl(tmp_path / "bad.jsonl", records)
    out = tmp_path / "out"
    before = sorted(p.name for p in corpus.folder.iterdir())
    try:
        status = main(["contamination", str(corpus.folder), str(bench), "--output", str(out), "--no-progress", *args])
    except SystemExit as e:  # argparse's own errors
        status = e.code
    err = capsys.readouterr().err
    assert status == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists() and sorted(p.name for p in corpus.folder.iterdir()) == before


def test_the_api_refuses_bad_settings(planted):
    corpus, bench = planted
    benchmark = read_benchmark(str(bench), "question")
    with pytest.raises(ConfigError, match="ngram must be positive"):
        find_contamination(corpus, benchmark, ngram=0, progress=False)
    with pytest.raises(ConfigError, match="unknown"):
        find_contamination(corpus, benchmark, window=3, progress=False)
    with pytest.raises(InputError, match="no qrels/dev.tsv"):
        read_benchmark(str(SCIFACT) if SCIFACT.is_dir() else _beir_stub(bench), split="dev")


def _beir_stub(bench):
    folder = bench.parent / "beir"
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    write_jsonl(folder / "corpus.jsonl", [{"_id": "1", "text": "x"}])
    write_jsonl(folder / "queries.jsonl", [{"_id": "1", "text": "x"}])
    return str(folder)


def test_an_output_folder_of_other_files_is_refused_before_any_work(planted, tmp_path, capsys):
    corpus, bench = planted
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert main(["contamination", str(corpus.folder), str(bench), "--field", "question", "--output",
                 str(tmp_path / "mine"), "--no-progress"]) == 2
    assert "holding other files" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]
