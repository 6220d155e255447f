"""Overlap of two corpora: every count equals a brute-force reference (Python sets of n-gram tuples) on random
corpora with planted shared passages; sharded, partitioned, two-process and Ray runs equal one pass; a killed run
resumes from both sides' finished shards; bad input is one line, exit 2, nothing written."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from gaia_lite.analysis import find_overlap
from gaia_lite.analysis.overlap import OVERLAP_DIR, OverlapSideJob
from gaia_lite.analysis.text import words
from gaia_lite.artifacts import ArtifactMeta
from gaia_lite.cli import main
from gaia_lite.corpus import build_corpus
from gaia_lite.errors import ConfigError, MissingArtifactError
from gaia_lite.executors import LocalExecutor

from .conftest import serve_cluster, write_jsonl

# Syllable words, and a few that normalisation makes equal (case, ß, a ligature) or keeps whole (accents).
VOCAB = [f"{a}{b}" for a in "bdkmst" for b in "aeiou"] + ["Straße", "STRASSE", "ﬁne", "fine", "Ünïcode", "naïve"]
SEPARATORS = [" ", " ", " ", ", ", " -- ", "! ", "\n"]


def _text(rng: random.Random, n: int) -> str:
    out = []
    for _ in range(n):
        w = rng.choice(VOCAB)
        out.append(w.upper() if rng.random() < 0.1 else w)
        out.append(rng.choice(SEPARATORS))
    return "".join(out).strip()


def _corpora(rng: random.Random):
    """A (with titles) and B (without), random documents of 0 to 60 words, with 12 passages of 25 words planted
    in documents of both (some in several)."""
    passages = [_text(rng, 25) for _ in range(12)]
    a = [{"_id": f"a{i}", "title": _text(rng, rng.randint(0, 4)), "text": _text(rng, rng.randint(0, 60))}
         for i in range(150)]
    b = [{"_id": f"b{i}", "text": _text(rng, rng.randint(0, 60))} for i in range(120)]
    for passage in passages:
        for docs in (a, b):
            for doc in rng.sample(docs, rng.randint(1, 3)):
                doc["text"] = f"{doc['text']} {passage} {_text(rng, rng.randint(0, 5))}"
    a[0]["title"], a[0]["text"] = "", ""  # a document without words
    b[1]["text"] = "only three words"
    return a, b


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    base = tmp_path_factory.mktemp("overlap")
    a_docs, b_docs = _corpora(random.Random(22))
    a, _ = build_corpus(str(write_jsonl(base / "a.jsonl", a_docs)), "alpha", root=base, progress=False)
    b, _ = build_corpus(str(write_jsonl(base / "b.jsonl", b_docs)), "beta", root=base, progress=False)
    return a, b, a_docs, b_docs


def _reference(docs, n):
    """Per document, in order: its words and its set of n-gram tuples."""
    out = []
    for d in docs:
        w = words(d.get("title") or "") + words(d["text"])
        out.append((w, {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}))
    return out


def _stable(report) -> dict:
    out = report.to_dict()
    for key in ("seconds", "nodes", "partitions", "hash_collisions_expected"):
        out.pop(key)
    return out


def _documents(a) -> list[dict]:
    return pq.read_table(a.folder / OVERLAP_DIR / "beta" / "shared_documents.parquet").to_pylist()


@pytest.mark.parametrize("n, partitions", [(1, None), (3, None), (3, 5), (13, None), (13, 3)])
def test_counts_equal_a_brute_force_reference(pair, n, partitions):
    a, b, a_docs, b_docs = pair
    report = find_overlap(a, b, ngram=n, examples=6, partitions=partitions, progress=False, log=None)
    ref_a, ref_b = _reference(a_docs, n), _reference(b_docs, n)
    all_a = set().union(*(s for _, s in ref_a))
    all_b = set().union(*(s for _, s in ref_b))
    shared = all_a & all_b
    assert report.shared == len(shared) > 0
    if n == 13:
        assert len(shared) >= 12 * 13  # the planted passages at least
    for side, ref, distinct in ((report.a, ref_a, all_a), (report.b, ref_b, all_b)):
        with_ngrams = [s for w, s in ref if len(w) >= n]
        overlapping = sum(bool(s & shared) for s in with_ngrams)
        assert side.distinct == len(distinct)
        assert side.ngrams == sum(len(w) - n + 1 for w, _ in ref if len(w) >= n)
        assert side.short == len(ref) - len(with_ngrams) and side.empty == sum(not w for w, _ in ref)
        assert side.overlapping == overlapping
        assert side.ngram_rate == pytest.approx(len(shared) / len(distinct), abs=1e-6)
        assert side.document_rate == pytest.approx(overlapping / len(with_ngrams), abs=1e-6)
    # Per document: the distinct shared n-grams it holds, only documents that overlap, each side in row order.
    expected = [{"side": side, "id": d["_id"], "shared_ngrams": len(s & shared)}
                for side, docs, ref in (("a", a_docs, ref_a), ("b", b_docs, ref_b))
                for d, (_, s) in zip(docs, ref) if s & shared]
    assert _documents(a) == expected
    # Examples: shared n-grams, each with the first document of each side holding it and how many do.
    assert len(report.examples) == min(6, len(shared))
    assert len({e["ngram"] for e in report.examples}) == len(report.examples)
    for e in report.examples:
        gram = tuple(e["ngram"].split(" "))
        assert len(gram) == n and gram in shared
        for side, docs, ref in (("a", a_docs, ref_a), ("b", b_docs, ref_b)):
            holders = [d["_id"] for d, (_, s) in zip(docs, ref) if gram in s]
            assert e[f"{side}_id"] == holders[0] and e[f"{side}_documents"] == len(holders)


def test_the_stored_artifact_describes_both_corpora(pair):
    a, b, _, _ = pair
    report = find_overlap(a, b, progress=False, log=None)
    folder = a.folder / OVERLAP_DIR / "beta"
    meta = ArtifactMeta.read(folder, "overlap")
    assert (meta.num_rows, meta.fingerprint) == (len(a), a.meta.fingerprint)
    assert meta.params["other"] == {"corpus": "beta", "folder": str(b.folder), "fingerprint": b.meta.fingerprint,
                                    "num_rows": len(b)}
    assert meta.params["ngram"] == 13 and meta.command.startswith("gaia-lite overlap ")
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary == json.loads(json.dumps(report.to_dict()))
    assert report.hash_collisions_expected < 1e-9
    assert not [p for p in (a.folder / OVERLAP_DIR).iterdir() if p.name.startswith(".")]  # no workdir left
    assert "overlap" not in a.artifacts()  # its own folder of results, not an index of the corpus


def test_sharded_partitioned_and_two_process_runs_equal_one_pass(pair):
    a, b, _, _ = pair
    plain = find_overlap(a, b, ngram=5, progress=False, log=None)
    rows = _documents(a)
    for options in ({"shard_size": 1, "partitions": 2}, {"shard_size": 17, "partitions": 8},
                    {"shard_size": 40, "partitions": 3, "executor": LocalExecutor(2)}):
        again = find_overlap(a, b, ngram=5, progress=False, log=None, **options)
        assert _stable(again) == _stable(plain), options
        assert _documents(a) == rows, options


def test_a_corpus_overlaps_itself_entirely(pair):
    a, _, _, _ = pair
    report = find_overlap(a, a, ngram=4, progress=False, log=None)
    assert report.shared == report.a.distinct == report.b.distinct
    assert report.a.overlapping == report.a.with_ngrams and report.a.document_rate == 1.0
    assert all(e["a_id"] == e["b_id"] for e in report.examples)
    assert (a.folder / OVERLAP_DIR / "alpha" / "summary.json").is_file()


def test_a_killed_run_resumes_from_both_sides_finished_shards(pair, monkeypatch):
    a, b, _, _ = pair
    plain = find_overlap(a, b, ngram=5, progress=False, log=None)
    stored = _tree(a.folder / OVERLAP_DIR / "beta")
    real_run = OverlapSideJob.run

    def dies_in_the_second_corpus(self, shard):
        if Path(self.corpus_folder).name == "beta" and shard.index == 5:
            raise KeyboardInterrupt  # as Ctrl+C would, once A is done and B is part-way
        return real_run(self, shard)

    monkeypatch.setattr(OverlapSideJob, "run", dies_in_the_second_corpus)
    with pytest.raises(KeyboardInterrupt):
        find_overlap(a, b, ngram=5, shard_size=10, progress=False, log=None)
    assert _tree(a.folder / OVERLAP_DIR / "beta") == stored  # the previous results stay as they were
    monkeypatch.setattr(OverlapSideJob, "run", real_run)
    lines: list[str] = []
    resumed = find_overlap(a, b, ngram=5, shard_size=10, progress=False, log=lines.append)
    assert len(lines) == 2, lines
    assert lines[0].startswith("15 of 15 shards reused from an interrupted build")
    assert lines[1].startswith("5 of 12 shards reused from an interrupted build")
    assert _stable(resumed) == _stable(plain)
    assert not [p for p in (a.folder / OVERLAP_DIR).iterdir() if p.name.startswith(".")]


def test_the_cli_prints_the_rates_and_json_equals_the_api(pair, capsys):
    a, b, _, _ = pair
    api = find_overlap(a, b, progress=False, log=None)
    assert main(["overlap", str(a.folder), str(b.folder), "--json", "--no-progress"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in cli.items() if k != "seconds"} == \
        {k: v for k, v in json.loads(json.dumps(api.to_dict())).items() if k != "seconds"}
    assert main(["overlap", str(a.folder), str(b.folder), "--ngram", "3", "--examples", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "share" in out and "distinct 3-grams" in out and "examples:" in out
    assert f"stored -> {a.folder / OVERLAP_DIR / 'beta'}" in out


def _tree(folder):
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.mark.parametrize("args, message", [
    (["{b}-missing"], "the second corpus"),
    (["{b}", "--ngram", "0"], "ngram must be positive"),
    (["{b}", "--ngram", "51"], "ngram must be from 1 to 50"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(pair, capsys, args, message):
    a, b, _, _ = pair
    before = _tree(a.folder)
    try:
        status = main(["overlap", str(a.folder), *[x.format(b=b.folder) for x in args], "--no-progress"])
    except SystemExit as e:
        status = e.code
    err = capsys.readouterr().err
    assert status == 2 and message in err and err.count("\n") == 1, err
    if "missing" in args[0]:
        assert "gaia-lite corpus" in err  # what to do
    assert _tree(a.folder) == before


def test_the_api_refuses_bad_settings_and_missing_corpora(pair, tmp_path):
    a, _, _, _ = pair
    with pytest.raises(ConfigError, match="ngram"):
        find_overlap(a, a, ngram=51, progress=False)
    with pytest.raises(ConfigError, match="unknown"):
        find_overlap(a, a, shingle=3, progress=False)
    with pytest.raises(MissingArtifactError, match="gaia-lite corpus"):
        find_overlap(a, tmp_path / "nothing-here", progress=False)


def test_a_three_node_ray_cluster_equals_one_pass(pair, tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed: pip install gaia-lite[ray]")
    from gaia_lite.executors import RayExecutor

    a, b, _, _ = pair
    plain = find_overlap(a, b, ngram=5, progress=False, log=None)
    rows = _documents(a)
    with serve_cluster(2) as cluster:  # a head and two workers
        spread = find_overlap(a, b, ngram=5, shard_size=20, partitions=4, executor=RayExecutor(cluster.address),
                              workdir=tmp_path / "shared", progress=False, log=None)
    assert _stable(spread) == _stable(plain)
    assert _documents(a) == rows
    assert len(spread.nodes) > 1, spread.nodes
    assert not list((tmp_path / "shared").iterdir())
