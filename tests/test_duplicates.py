"""Duplicates: exact clusters equal a brute-force grouping, near-duplicate clusters agree with pairwise Jaccard
within the LSH's stated error, shards give the same clusters, the corpus is left as it was, and bad settings."""

from __future__ import annotations

import json
import math
import random
import shutil

import pyarrow.parquet as pq
import pytest

from gaia_lite.analysis import find_duplicates, load_duplicates
from gaia_lite.analysis.duplicates import link_probability, lsh_bands, shingles
from gaia_lite.analysis.text import words
from gaia_lite.cli import main
from gaia_lite.config import DuplicatesConfig
from gaia_lite.corpus import Corpus, build_corpus
from gaia_lite.errors import ArtifactMismatchError, ConfigError

from .conftest import write_jsonl

VOCAB = [f"{a}{b}" for a in "bcdfghklmnprst" for b in "aeiou"]  # 70 words


def _text(rng, n):
    return " ".join(rng.choice(VOCAB) for _ in range(n))


def _edit(rng, text, changes):
    w = text.split()
    for i in rng.sample(range(len(w)), changes):
        w[i] = "edited" + str(rng.randint(0, 10**6))
    return " ".join(w)


@pytest.fixture(scope="module")
def dup_corpus(tmp_path_factory):
    """Random documents, and beside them exact copies (other case and punctuation) and edited copies at several
    distances, and two documents without words."""
    rng = random.Random(7)
    docs = []
    for i in range(60):
        base = _text(rng, rng.randint(40, 120))
        docs.append({"_id": f"b{i}", "text": base})
        kind = i % 6
        if kind == 0:
            docs.append({"_id": f"b{i}-copy", "text": base.upper().replace(" ", ", ")})
        elif kind == 1:
            docs.append({"_id": f"b{i}-copy1", "text": f"  {base}!"})
            docs.append({"_id": f"b{i}-copy2", "text": base.title()})
        else:  # 1, 3, 8 and 20 words changed: Jaccard from about 0.95 down to about 0.4
            docs.append({"_id": f"b{i}-edit", "text": _edit(rng, base, (1, 3, 8, 20)[kind - 2])})
    docs += [{"_id": "empty1", "text": " -- "}, {"_id": "empty2", "text": ""}]
    rng.shuffle(docs)
    base = tmp_path_factory.mktemp("dups")
    corpus, _ = build_corpus(str(write_jsonl(base / "d.jsonl", docs)), "dups", root=base, progress=False)
    return corpus, docs


def _clusters(path) -> dict[str, tuple[str, str]]:
    table = pq.read_table(path / "duplicates" / "clusters.parquet").to_pylist()
    return {r["id"]: (r["exact_cluster"], r["near_cluster"]) for r in table}


def test_exact_clusters_equal_a_brute_force_grouping(dup_corpus):
    corpus, docs = dup_corpus
    report = find_duplicates(corpus, progress=False, log=None)
    clusters = _clusters(corpus.folder)
    groups: dict[tuple, list[str]] = {}
    for d in [corpus.dataset[i] for i in range(len(corpus))]:  # row order
        w = tuple(words(d["text"]))
        if w:
            groups.setdefault(w, []).append(d["id"])
    expected = {doc_id: members[0] for members in groups.values() for doc_id in members}
    assert {k: v[0] for k, v in clusters.items() if v[0]} == expected
    assert clusters["empty1"] == ("", "") and clusters["empty2"] == ("", "")
    multi = [m for m in groups.values() if len(m) > 1]
    assert report.exact["clusters"] == len(multi) == 20
    assert report.exact["duplicates"] == sum(len(m) - 1 for m in multi) == 30
    assert report.empty == 2 and report.exact["rate"] == pytest.approx(30 / (len(docs) - 2), abs=1e-6)


def test_near_clusters_agree_with_pairwise_jaccard_within_the_lsh_error(dup_corpus):
    corpus, docs = dup_corpus
    config = DuplicatesConfig()
    find_duplicates(corpus, config, progress=False, log=None)
    near = {k: v[1] for k, v in _clusters(corpus.folder).items()}
    b, r = lsh_bands(config)
    sets = {d["_id"]: set(shingles(words(d["text"]), config.shingle)) for d in docs if words(d["text"])}
    ids = sorted(sets)
    disagreements, expected_errors, variance, similar_pairs = 0, 0.0, 0.0, 0
    for i, a in enumerate(ids):
        for c in ids[i + 1:]:
            jaccard = len(sets[a] & sets[c]) / len(sets[a] | sets[c])
            linked = near[a] == near[c]
            truth = jaccard >= config.threshold
            similar_pairs += truth
            # The chance that LSH gets this pair wrong, as its banding states it.
            p = link_probability(jaccard, b, r)
            wrong = 1 - p if truth else p
            expected_errors += wrong
            variance += wrong * (1 - wrong)
            disagreements += linked != truth
            if jaccard == 1.0:
                assert linked  # identical shingle sets always share every band
    assert similar_pairs >= 30
    assert disagreements <= expected_errors + 3 * math.sqrt(variance) + 1, (disagreements, expected_errors)


def test_sharded_runs_give_the_same_clusters_and_leave_the_corpus_alone(dup_corpus, tmp_path):
    from gaia_lite.executors import LocalExecutor

    corpus, _ = dup_corpus
    fingerprint = corpus.meta.fingerprint
    plain = find_duplicates(corpus, progress=False, log=None)
    first = _clusters(corpus.folder)
    for options in ({"shard_size": 1}, {"shard_size": 17}, {"shard_size": 40, "executor": LocalExecutor(2)}):
        again = find_duplicates(corpus, progress=False, log=None, **options)
        assert _clusters(corpus.folder) == first
        assert (again.exact, again.near) == (plain.exact, plain.near)
    reloaded = Corpus.load(corpus.folder)  # verify=True recomputes the fingerprint from the stored rows
    assert reloaded.meta.fingerprint == fingerprint
    assert "duplicates" in reloaded.artifacts("duplicates")
    assert not [p for p in corpus.folder.iterdir() if p.name.startswith(".")]  # no workdir or scratch left


def test_stored_clusters_load_by_row_and_refuse_another_corpus_version(dup_corpus, tmp_path):
    corpus, docs = dup_corpus
    find_duplicates(corpus, progress=False, log=None)
    stored = load_duplicates(corpus)
    row = corpus.row_of("b0-copy")
    assert stored.near_cluster[row] == corpus.row_of("b0") and stored.near_size[row] == 2
    assert stored.report["exact"]["clusters"] == 20
    # Clusters copied beside other documents (a corpus rebuilt from a changed source): refused.
    other, _ = build_corpus(str(write_jsonl(tmp_path / "o.jsonl", docs[:10])), "dups", root=tmp_path, progress=False)
    shutil.copytree(corpus.folder / "duplicates", other.folder / "duplicates")
    with pytest.raises(ArtifactMismatchError, match="gaia-lite duplicates"):
        load_duplicates(other)


def test_the_cli_prints_the_rates_and_json_equals_the_api(dup_corpus, capsys):
    corpus, _ = dup_corpus
    api = find_duplicates(corpus, progress=False, log=None).to_dict()
    assert main(["duplicates", str(corpus.folder), "--json", "--no-progress"]) == 0
    cli = json.loads(capsys.readouterr().out)
    for d in (api, cli):
        d.pop("seconds")
    assert cli == api
    assert main(["duplicates", str(corpus.folder), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "exact duplicates: 30 (" in out and "stored ->" in out


@pytest.mark.parametrize("args, message", [
    (["--threshold", "1.5"], "threshold must be between 0 and 1"),
    (["--threshold", "0"], "threshold must be between 0 and 1"),
    (["--shingle", "0"], "shingle must be positive (a whole number), got 0"),
    (["--num-perm", "1"], "num_perm must be >= 2"),
])
def test_bad_settings_are_one_line_errors_and_write_nothing(dup_corpus, capsys, args, message):
    corpus, _ = dup_corpus
    stored = (corpus.folder / "duplicates" / "clusters.parquet")
    before = stored.stat().st_mtime_ns if stored.exists() else None
    try:
        status = main(["duplicates", str(corpus.folder), "--no-progress", *args])
    except SystemExit as e:
        status = e.code
    err = capsys.readouterr().err
    assert status == 2 and message in err and err.count("\n") == 1
    assert (stored.stat().st_mtime_ns if stored.exists() else None) == before


def test_the_api_refuses_bad_settings(dup_corpus):
    corpus, _ = dup_corpus
    with pytest.raises(ConfigError, match="threshold"):
        find_duplicates(corpus, threshold=True, progress=False)
    with pytest.raises(ConfigError, match="unknown"):
        find_duplicates(corpus, bands=4, progress=False)


def test_the_clusters_travel_with_a_pushed_corpus_and_the_pulled_explorer_hides_duplicates(dup_corpus, tmp_path,
                                                                                           monkeypatch):
    import huggingface_hub

    from gaia_lite.app.explorer import Explorer
    from gaia_lite.app.search import View
    from gaia_lite.hub import pull_corpus, push_corpus
    from gaia_lite.sparse import build_sparse_index

    from .test_hub import SECRET, FakeHub

    corpus, _ = dup_corpus
    find_duplicates(corpus, progress=False, log=None)
    build_sparse_index(corpus, progress=False)
    fake = FakeHub(tmp_path / "hub")
    monkeypatch.setattr(huggingface_hub, "HfApi", fake.api_class())
    monkeypatch.setenv("HF_TOKEN", SECRET)
    report = push_corpus(corpus, "me/dups", progress=False)
    assert "indexes/duplicates/clusters.parquet" in report.files
    assert "MinHash LSH" in (fake.folder("me/dups", None) / "README.md").read_text()
    pulled = pull_corpus("me/dups", root=tmp_path / "elsewhere", progress=False)
    assert _clusters(pulled.folder) == _clusters(corpus.folder)
    explorer = Explorer(pulled)
    assert explorer.overview()["duplicates"]["exact"]["clusters"] == 20
    query = " ".join(corpus.get("b0")["text"].split()[:8])
    hits = [r.hit.doc_id for r in explorer.search(query, View(k=5, hide_duplicates=True), kind="bm25").rows]
    assert len({"b0", "b0-copy"} & set(hits)) == 1
