"""The benchmark scripts against gaia_lite as it is: each script's measuring functions (and, where cheap, its whole
run) on the tiny fixtures, the helpers they share, and a check that the scripts use gaia_lite's public API only.

The scripts and their helper modules (``_*.py``) live in ``benchmarks/`` (not a package) and are imported from their
files. Nothing here asserts a speed: only that every measurement runs, returns what the report code reads, and
agrees with the searchers.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import socket
import sys
from pathlib import Path

import pytest

from .conftest import TINY_DOCS, write_jsonl

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SOURCES = sorted(p.name for p in BENCHMARKS.glob("*.py"))  # the scripts and their helper modules
BENCH_SCRIPTS = ("bench_bm25", "bench_dense", "bench_app", "bench_scale", "bench_analysis", "bench_audit")
# Tiny BEIR queries over TINY_DOCS; "t4" matches a single document, so weighted fusion has documents to fill.
QUERIES = {"t1": "python programming language", "t2": "open source search engine library",
           "t3": "ranking function relevance of documents", "t4": "rock band london"}
QRELS = {"t1": "d1", "t2": "d3", "t3": "d4", "t4": "d8"}


def load_script(name: str):
    """``benchmarks/<name>.py`` as a module, a script or a helper module (imported once, as the scripts import
    their helpers: ``benchmarks/`` on sys.path meanwhile; sys.path as it was before)."""
    if name in sys.modules:
        return sys.modules[name]
    path = list(sys.path)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        sys.path[:] = path
    return module


@pytest.fixture(scope="module")
def bench_bm25():
    return load_script("bench_bm25")


@pytest.fixture(scope="module")
def bench_dense():
    return load_script("bench_dense")


@pytest.fixture(scope="module")
def bench_app():
    return load_script("bench_app")


@pytest.fixture(scope="module")
def bench_scale():
    return load_script("bench_scale")


@pytest.fixture(scope="module")
def bench_analysis():
    return load_script("bench_analysis")


@pytest.fixture(scope="module")
def bench_audit():
    return load_script("bench_audit")


@pytest.fixture(scope="module")
def helpers(bench_bm25, bench_dense, bench_scale):
    """The helper modules the scripts loaded, by name without the leading ``_`` (``helpers.dense_search``)."""
    import types

    return types.SimpleNamespace(**{name[1:]: load_script(name) for name in (
        "_common", "_queries", "_corpora", "_bm25_systems", "_bm25_impacts", "_dense_encode", "_dense_search",
        "_dense_memory", "_scale_build", "_scale_ann", "_scale_report")})


@pytest.fixture(scope="module")
def tiny_beir(tmp_path_factory) -> Path:
    """TINY_DOCS as a BEIR folder with a few test queries and their qrels."""
    folder = tmp_path_factory.mktemp("tiny_beir")
    write_jsonl(folder / "corpus.jsonl", TINY_DOCS)
    write_jsonl(folder / "queries.jsonl", [{"_id": q, "text": t} for q, t in QUERIES.items()])
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d in QRELS.items()))
    return folder


@pytest.fixture(scope="module")
def tiny_lucene(tiny_corpus):
    """gaia_lite's BM25 over the tiny corpus's flat index with every search in Lucene (``impacts=False``)."""
    from gaia_lite.sparse import BM25Searcher, sparse_dir

    with BM25Searcher(sparse_dir(tiny_corpus.folder), tiny_corpus, impacts=False) as s:
        yield s


@pytest.fixture(scope="module")
def tiny_hybrid(tiny_corpus, tiny_dense, encoder):
    from gaia_lite.config import FusionConfig
    from gaia_lite.retriever import open_searcher

    h = open_searcher(tiny_corpus, kind="hybrid", encoder=encoder,
                      fusion=FusionConfig(method="weighted", normalization="zscore", bm25_weight=0.4))
    yield h
    h.bm25.close()


# --- the public API only ---------------------------------------------------------------------------------------


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(source: str, filename: str = "<source>") -> list[str]:
    """Where ``source`` imports a ``_`` name from gaia_lite or reads a ``_`` attribute (dunders aside) of anything."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "gaia_lite":
            names = node.module.split(".") + [a.name for a in node.names]
            found += [f"{where}: from {node.module} import {n}" for n in names if _private(n)]
        elif isinstance(node, ast.Import):
            found += [f"{where}: import {a.name}" for a in node.names
                      if a.name.split(".")[0] == "gaia_lite" and any(map(_private, a.name.split(".")))]
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            found.append(f"{where}: .{node.attr}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
              and _private(node.args[1].value)):
            found.append(f"{where}: {node.func.id}(..., {node.args[1].value!r})")
    return sorted(found, key=lambda f: int(f.split(":")[1]) if f.split(":")[1].isdigit() else 0)


def test_the_check_finds_private_uses():
    source = ("from gaia_lite.sparse.searcher import _loads\nfrom gaia_lite.sparse.indexer import lucene_rows\n"
              "import gaia_lite._x\nq = searcher._generator.buildQuery(s.__class__)\ngetattr(s, '_rows')\n")
    assert private_uses(source) == ["<source>:1: from gaia_lite.sparse.searcher import _loads",
                                    "<source>:3: import gaia_lite._x", "<source>:4: ._generator",
                                    "<source>:5: getattr(..., '_rows')"]


@pytest.mark.parametrize("source", SOURCES)
def test_benchmarks_use_public_api_only(source):
    assert private_uses((BENCHMARKS / source).read_text(encoding="utf-8"), source) == []


@pytest.mark.parametrize("script", BENCH_SCRIPTS)
def test_every_script_imports_and_parses_its_options(script, capsys):
    """``--help``: the script and its helper modules import, and its command line is built; it exits 0."""
    with pytest.raises(SystemExit) as done:
        load_script(script).main(["--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("usage: ")


# --- the step hook, as the benchmarks read it ------------------------------------------------------------------


@pytest.mark.parametrize("route", ["impacts", "lucene"])
def test_step_split_records_every_step_of_a_bm25_search(route, tiny_searcher, tiny_lucene):
    """Each route records its own steps: the impact matrix's (no Lucene search), or Lucene's (one search)."""
    common = load_script("_common")
    searcher = tiny_searcher if route == "impacts" else tiny_lucene
    assert searcher.route() == route
    steps, counts = ((searcher.IMPACT_STEPS, {}) if route == "impacts"
                     else (searcher.STEPS, {"lucene_rounds": 1}))
    calls = common.step_split(searcher, [lambda: searcher.search("python programming", 3)] * 2)
    assert searcher.step_times is None  # detached after
    for call in calls:
        assert set(call["steps"]) == set(steps)
        assert all(v >= 0 for v in call["steps"].values())
        assert sum(call["steps"].values()) <= call["total"]
        assert call["counts"] == counts
        assert [h.doc_id for h in call["result"]] == [h.doc_id for h in searcher.search("python programming", 3)]


# --- the shared helpers ----------------------------------------------------------------------------------------


def test_markdown_table_and_rotated_orders(helpers):
    common = helpers.common
    assert common.markdown_table(["a", "b", "c"], [[1, "x", 2.5]], "lrl") == (
        "| a | b | c |\n| --- | ---: | --- |\n| 1 | x | 2.5 |")
    assert common.markdown_table(["a", "b"], []) == "| a | b |\n| --- | ---: |"
    names = ["gaia_lite", "bm25s", "pyserini"]
    assert [common.rotated(names, r) for r in range(4)] == [
        names, ["bm25s", "pyserini", "gaia_lite"], ["pyserini", "gaia_lite", "bm25s"], names]


def test_sampled_queries_are_seeded_eligible_and_in_row_order(helpers):
    queries = helpers.queries
    assert queries.first_sentence("  Return the   sum. Then more.\n\nDetails.") == "Return the sum."
    candidates = ["one two three", "too short", "a b c d", "", "x y z"]
    picked, eligible = queries.sample_queries(candidates, 2, seed=5)
    assert eligible == 3 and len(picked) == 2
    assert list(picked) == sorted(picked, key=lambda q: int(q[1:]))
    assert all(candidates[int(q[1:])] == text and len(text.split()) >= 3 for q, text in picked.items())
    assert queries.sample_queries(candidates, 2, seed=5) == (picked, eligible)
    assert queries.sample_queries(candidates, 9, seed=5, lo=1)[0] == {
        "q0": "one two three", "q1": "too short", "q2": "a b c d", "q4": "x y z"}


def test_scifact_topics_keep_the_qrels_order(helpers, tiny_beir):
    topics, qrels = helpers.queries.scifact_topics(tiny_beir, limit=2)
    assert list(topics.items()) == [("t1", QUERIES["t1"]), ("t2", QUERIES["t2"])] and list(qrels) == ["t1", "t2"]
    assert helpers.queries.scifact_topics(tiny_beir)[0] == QUERIES


def test_build_timings_are_remembered_and_recalled(helpers, tmp_path):
    timings = helpers.corpora.Timings(tmp_path, "t.json")
    assert timings.recalled("corpus") is None
    kept = timings.remember("corpus", {"seconds": 2.0})
    assert set(kept) == {"seconds", "measured"} and kept["measured"].endswith(" UTC")
    timings.remember("index", {"seconds": 3.0})
    assert helpers.corpora.Timings(tmp_path, "t.json").recalled("corpus") == kept | {"reused": True}
    assert timings.recalled("other") is None


def test_a_child_process_reports_its_figures_or_fails_loudly(helpers, tmp_path):
    common = helpers.common
    script = tmp_path / "child.py"
    script.write_text("import json, sys\nprint('noise')\n"
                      "if sys.argv[1] == 'ok':\n    print('MARK ' + json.dumps({'n': len(sys.argv)}))\n"
                      "else:\n    sys.exit('it broke')\n")
    result, wall, others = common.run_child(script, "MARK ", "ok", 7)
    assert result == {"n": 3} and wall > 0 and others >= 0
    with pytest.raises(RuntimeError, match=r"child.py fail failed \(1\): it broke"):
        common.run_child(script, "MARK ", "fail")


# --- bench_bm25 ------------------------------------------------------------------------------------------------


def test_bm25_profile_of_each_route(bench_bm25, helpers, tiny_searcher, tiny_lucene):
    """The per-step profile of each route has that route's steps only; Lucene's counts its searches."""
    profiles = [helpers.bm25_systems.profile_gaia(s, QUERIES, k=3, repeat=1, warmup=0) for s in (tiny_searcher,
                                                                                                 tiny_lucene)]
    for p, route, steps in zip(profiles, ("impacts", "lucene"), (tiny_searcher.IMPACT_STEPS, tiny_lucene.STEPS)):
        assert p["route"] == route and p["queries"] == len(QUERIES) and p["other_steps"] == []
        assert list(p["ms_per_query"]) == [*steps, "untimed", "total"]
        assert all(v >= 0 for v in p["ms_per_query"].values())
        assert sum(p["ms_per_query"][s] for s in steps) <= p["ms_per_query"]["total"] * (1 + 1e-9)
        assert sum(p["share"].values()) == pytest.approx(1.0)
        assert 0 < p["hits_per_query"] <= 3
    assert profiles[0]["lucene_rounds_per_query"] == 0 and profiles[1]["lucene_rounds_per_query"] >= 1
    impacts, lucene = bench_bm25.profile_tables([{"corpus": "tiny", "profile": profiles}])
    assert "| corpus | k | analyze | impact_top | hits | untimed | total |" in impacts
    assert ("| corpus | k | build_query | lucene_search | jackson_json | json_parse | map_sort | hits | untimed "
            "| total | Lucene searches/query |") in lucene


class Altered:
    """gaia_lite's impact route with planted differences from Lucene's: t1's last score moved by 2e-5 (over the
    tolerance), t3's first by 1e-7 (under it), t2's first two hits swapped."""

    def __init__(self, searcher):
        self.searcher = searcher

    def route(self):
        return self.searcher.route()

    def search(self, text, k):
        from gaia_lite.types import Hit

        hits = list(self.searcher.search(text, k))
        if text == QUERIES["t1"]:
            hits[-1] = Hit(hits[-1].doc_id, hits[-1].score + 2e-5, hits[-1].rank)
        elif text == QUERIES["t3"]:
            hits[0] = Hit(hits[0].doc_id, hits[0].score + 1e-7, hits[0].rank)
        elif text == QUERIES["t2"]:
            hits[0], hits[1] = hits[1], hits[0]
        return hits

    def search_batch(self, queries, k, threads):
        return {qid: {h.doc_id: h.score for h in self.search(text, k)} for qid, text in queries.items()}


def test_bm25_route_identity_finds_every_difference(helpers, tiny_searcher, tiny_lucene):
    """The identity check passes the two routes as they are, and counts planted differences: ids, or a score by
    more than the tolerance; a smaller score difference is reported, not counted."""
    import types

    systems = helpers.bm25_systems

    def check(impacts, k=5):
        sys_ = types.SimpleNamespace(gaia=impacts, gaia_lucene=tiny_lucene,
                                     gaia_searchers=lambda: {"gaia_lite": impacts, "gaia_lite_lucene": tiny_lucene})
        return systems.compare_routes(sys_, QUERIES, k)

    same = check(tiny_searcher)
    assert same["routes"] == {"gaia_lite": "impacts", "gaia_lite_lucene": "lucene"}
    assert same["identical"] and same["queries"] == len(QUERIES) and same["hits"] > len(QUERIES)
    for mode in ("one_by_one", "batch_t2"):
        assert same[mode] == {"id_lists_differing": 0, "max_abs_score_diff": 0.0, "queries_differing": 0,
                              "examples": []}
    planted = check(Altered(tiny_searcher))
    assert not planted["identical"]
    for mode in ("one_by_one", "batch_t2"):
        r = planted[mode]
        assert (r["id_lists_differing"], r["queries_differing"]) == (1, 2)
        assert r["max_abs_score_diff"] == pytest.approx(2e-5, rel=1e-3)
        assert [e["qid"] for e in r["examples"]] == ["t1", "t2"]


def test_bm25_whole_run_on_a_tiny_beir_folder(bench_bm25, helpers, tiny_beir, tmp_path, capsys):
    """main() end to end (build, the impact matrix's costs, both gaia_lite routes, bm25s and Pyserini, the routes'
    identity, effectiveness, exactness, speed, profile, diagnostics, report) with the smallest settings."""
    out_json = tmp_path / "bm25.json"
    assert bench_bm25.main(["--scifact", str(tiny_beir), "--quick", "--root", str(tmp_path / "root"),
                            "--out", str(out_json), "--ks", "3,100", "--check-k", "5",
                            "--bm25s-backend", "numpy"]) == 0
    out = json.loads(out_json.read_text())
    systems = helpers.bm25_systems
    (r,) = out["corpora"]
    n = len(TINY_DOCS)
    assert r["corpus"] == "scifact" and r["build"]["docs"] == n
    assert r["exactness"]["queries"] == len(QUERIES)
    assert r["exactness"]["doc_id_lists_differing"] == 0
    assert r["exactness"]["scores_differing_after_anserini_rounding"] == 0
    assert r["effectiveness"]["gaia_equals_pyserini"] is True
    assert set(r["effectiveness"]) == {*systems.SYSTEMS, "gaia_equals_pyserini"}
    assert [x["k"] for x in r["identity"]] == [100, 1000]
    for x in r["identity"]:
        assert x["routes"] == {"gaia_lite": "impacts", "gaia_lite_lucene": "lucene"}
        assert x["identical"] and x["queries"] == len(QUERIES) and x["hits"] > len(QUERIES)
        for mode in ("one_by_one", "batch_t2"):
            assert (x[mode]["id_lists_differing"], x[mode]["queries_differing"]) == (0, 0)
            assert x[mode]["max_abs_score_diff"] == 0.0
    assert [(row["k"], row["threads"]) for row in r["search"]] == [(k, t) for k in (3, 100) for t in (None, 1, 2)]
    for row in r["search"]:
        assert all(row[s]["qps"] > 0 for s in systems.SYSTEMS) and len(systems.SYSTEMS) == 4
        assert row["gaia_over_gaia_lucene"] == row["gaia_lite"]["qps"] / row["gaia_lite_lucene"]["qps"]
    assert set(r["target"]) == {"one by one", "batch t=1", "batch t=2"}
    for row in r["search"][3:]:
        t = r["target"][bench_bm25.mode_label(row["threads"])]
        assert t == {"gaia_over_bm25s": row["gaia_over_bm25s"], "met": row["gaia_over_bm25s"] >= 1.0}
    assert [(p["route"], p["k"]) for p in r["profile"]] == [("impacts", 3), ("impacts", 100), ("lucene", 3),
                                                            ("lucene", 100)]
    assert all(p["other_steps"] == [] for p in r["profile"])
    d = r["diagnostics"]
    assert set(d["by_k"]["3"]["gaia_batch_qps_by_threads"]) == set(d["by_k"]["3"]["speedup_over_t1"]) == {"1", "2"}
    assert set(d["us_per_100_results"]) == {"hit_namedtuple", "tuple"}
    m = r["impacts"]  # written again on the built index, then searched in a child process
    assert m["docs"] == m["write"]["docs"] == m["open"]["docs"] == n
    assert m["postings"] > m["terms"] > 0 and m["write"]["fields"] == "flat"
    assert m["write"]["seconds"] > 0 and 0 < m["write"]["rss_before_mib"] <= m["write"]["peak_rss_mib"]
    assert set(m["disk"]["by_file_mib"]) == {"docs.npy", "freqs.npy", "impacts.npy", "norms.npy", "starts.npy",
                                             "terms.txt", "order.npy", "gaia_lite.json"}
    assert 0 < m["disk"]["impacts_mib"] < m["disk"]["index_mib"]
    o = m["open"]
    assert (o["queries"], o["k"]) == (len(QUERIES), 100) and len(QUERIES) < o["hits"] <= n * len(QUERIES)
    assert o["open_s"] > 0 and o["searcher_open_s"] > 0 and o["peak_rss_mib"] >= o["rss_base_mib"] > 0
    printed = capsys.readouterr().out
    target_row = "| scifact | " + " | ".join(f"{t['gaia_over_bm25s']:.2f}: " + ("met" if t["met"] else "**not met**")
                                             for t in r["target"].values()) + " |"
    assert "target at k=100" in printed and target_row in printed
    assert "| scifact | 100 | 4 | search | 0 | 0.0 | 0 |" in printed
    assert "| scifact | 1000 | 4 | search_batch, t=2 | 0 | 0.0 | 0 |" in printed
    assert "impact route (BM25Searcher.IMPACT_STEPS)" in printed and "Lucene route (BM25Searcher.STEPS)" in printed
    assert f"| scifact | {n} | {m['postings']:,} |" in printed


def test_bm25_million_part_on_a_small_replicated_corpus(bench_bm25, helpers, tiny_corpus, tmp_path):
    """--million's measurement on the tiny corpus replicated to 304 documents: the corpus (bench_scale's recipe),
    its Lucene build in bench_scale's child process, and the impact matrix's costs on that index."""
    n = 38 * len(TINY_DOCS)
    m = helpers.bm25_impacts.million_costs(tmp_path, tiny_corpus, 300, seed=1, n_queries=3, k=5)
    assert m["corpus"] == "docstrings-x" and m["corpus_build"]["replication"]["docs"] == n
    assert m["lucene_build"]["docs"] == m["docs"] == m["write"]["docs"] == m["open"]["docs"] == n
    assert m["queries"]["n"] == m["open"]["queries"] == 3 and 0 < m["open"]["hits"] <= 15
    assert m["postings"] > 0 and m["disk"]["impacts_mib"] > 0
    (write, _) = bench_bm25.impact_tables([("docstrings-x (--million)", m)])
    assert f"| docstrings-x (--million) | {n} | {m['postings']:,} |" in write


# --- bench_dense -----------------------------------------------------------------------------------------------


def test_dense_split_is_the_search(helpers, tiny_hybrid):
    from gaia_lite.hybrid import HybridSearcher

    search = helpers.dense_search
    assert set(search.SPLIT_PARTS) == set(HybridSearcher.STEPS)
    texts = [QUERIES["t1"], QUERIES["t4"]]  # t4 matches one document by BM25; the dense side retrieves all 8
    for name, f in search.fusion_settings(tiny_hybrid.fusion).items():
        if name == "weighted, depth 1000":
            continue  # as depth 100 on 8 documents
        hits, parts = search.hybrid_split(tiny_hybrid, texts, 5, f)
        assert tiny_hybrid.step_times is None
        assert hits == [tiny_hybrid.search(q, k=5, fusion_config=f) for q in texts]
        for i in range(len(texts)):
            steps = [parts[s][i] for s in search.SPLIT_PARTS]
            assert all(v >= 0 for v in steps) and sum(steps) <= parts["total"][i]
            assert parts["encode"][i] > 0 and parts["bm25_search"][i] > 0 and parts["fusion"][i] > 0
        if f.fills:
            assert parts["filled_bm25"][1] == len(TINY_DOCS) - 1 and parts["filled_dense"] == [0, 0]
            assert all(v > 0 for v in parts["fill_bm25"])
        else:
            assert parts["filled_bm25"] == parts["fill_bm25"] == [0, 0], name


def test_dense_thread_contention_restores_the_threads(helpers, tiny_hybrid):
    import faiss

    search = helpers.dense_search
    before = (faiss.omp_get_max_threads(), tiny_hybrid.dense.faiss_threads)
    f = search.fusion_settings(tiny_hybrid.fusion)["weighted, depth 100"]
    tc = search.thread_contention(tiny_hybrid, {"t1": QUERIES["t1"]}, f, depth=5)
    assert (faiss.omp_get_max_threads(), tiny_hybrid.dense.faiss_threads) == before
    assert "faiss threads 1" in tc["runs"]
    assert all(v >= 0 for run in tc["runs"].values() for v in run.values())


def test_dense_whole_run_on_a_tiny_corpus(bench_dense, helpers, tiny_beir, tiny_corpus, tiny_dense, encoder,
                                          tmp_path, monkeypatch, capsys):
    """main() end to end without a big corpus, on 2 queries, with two stand-ins for speed: the encoders compared are
    the test encoder under the systems' names (no sentence-transformers loading), and the memory probe runs in this
    process (not a fresh one). The measurements return what the report, the section and the reading read."""
    search, memory = helpers.dense_search, helpers.dense_memory

    def encoders(folder, workdir):
        systems = {name: (lambda t: encoder.encode_documents(t, progress=False))
                   for name in ("sentence-transformers fp32", "gaia_lite fp32", "gaia_lite bf16",
                                helpers.dense_encode.COMPILED)}
        notes = {"auto_dtype": "float32", "compile_s": 0.0, "onnxruntime int8": "not tried in tests"}
        return systems, {"notes": notes, "gaia_fp32": encoder, "gaia_bf16": encoder}

    monkeypatch.setattr(bench_dense, "encoders", encoders)
    monkeypatch.setattr(bench_dense, "run_rss_probe", lambda spec, tmp: memory.probe(
        spec, {memory.BEFORE_LOADING: memory.proc_mib()}))
    out_dir = tmp_path / "out"
    assert bench_dense.main(["--scifact", str(tiny_beir), "--scifact-corpus", str(tiny_corpus.folder), "--quick",
                             "--max-queries", "2", "--encode-docs", "8", "--root", str(tmp_path / "root"),
                             "--out", str(out_dir)]) == 0
    out = json.loads((out_dir / "dense.json").read_text())
    assert out["settings"]["scifact_queries"] == 2
    enc = out["encode"]["samples"]["scifact"]["systems"]
    assert enc["gaia_lite fp32"]["cosine_to_st_fp32_min"] == pytest.approx(1.0, abs=1e-5)
    eff = out["effectiveness"]["metrics"]
    assert len(eff) == 5 and all(0 <= m["nDCG@10"] <= 1 for m in eff.values())
    assert out["effectiveness"]["fp32_index_loaded_without_encoder_uses"]["query_encoder_dtype"] == "float32"
    lat = out["latency"]["scifact"]["settings"]
    assert set(lat) == {"default (weighted z-score 0.5/0.5, depth 1000)", "weighted, depth 100",
                        "weighted, depth 1000", "rrf, depth 100"}
    for row in lat.values():
        assert row["queries"] == 2 and row["p50_ms"] <= row["max_ms"]
        assert set(row["split_ms_mean"]) == {*search.SPLIT_PARTS, "untimed", "total"}
        split = row["split_ms_mean"]
        assert sum(split[s] for s in search.SPLIT_PARTS) <= split["total"] * (1 + 1e-9)
    assert lat["weighted, depth 100"]["filled_per_query_mean"]["bm25"] > 0
    assert lat["rrf, depth 100"]["filled_per_query_mean"] == {"bm25": 0, "dense": 0}
    assert set(out["latency"]["query_encoding_parts"]) == {"fp32", "bf16"}
    fill = out["diagnostics"]["bm25_fill_scifact"]
    assert set(fill["ms_mean"]) == {*search.FILL_STEPS, search.FILL_REST, search.FILL_WHOLE}
    ms = fill["ms_mean"]
    assert sum(ms[s] for s in search.FILL_STEPS) <= ms[search.FILL_WHOLE] * (1 + 1e-9)
    assert fill["ids_per_query_mean"] > 0
    probe = out["memory"]["rss"]["scifact"]
    assert probe["docs"] == len(TINY_DOCS) and set(probe["load_s"]) == {"BM25Searcher", "DenseSearcher"}
    assert probe["held"]["dense_embeddings_is_faiss_storage"] is True
    assert "BM25 filling" in "\n".join(out["reading"])
    assert "## Dense and hybrid" in (out_dir / "dense_section.md").read_text()
    assert "== hybrid latency" in capsys.readouterr().out


# --- bench_app -------------------------------------------------------------------------------------------------


def test_app_prepare_peer_load_and_section(bench_app, tiny_beir, tmp_path, encoder):
    """prepare() builds the corpus and indexes; the peer and the load (2 clients against the app served from this
    process) run every mix; the section reads both."""
    from gaia_lite.app import Explorer, launch

    folder = bench_app.prepare(tiny_beir, tmp_path / "root")
    assert {p.name for p in folder.iterdir()} >= {"dataset", "sparse-flat", "dense-all-minilm-l6-v2"}
    texts = bench_app.queries(tiny_beir)
    peer = bench_app.peer(folder, texts, 8, 1, warmup=1, encoder=encoder)  # k=1: BM25 finds that many for each
    assert peer["searches"] == 8 and peer["all"]["n"] == 8
    assert set(peer["by_mix"]) == {"bm25", "dense", "hybrid-rrf", "hybrid-weighted"}

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = launch(Explorer(folder, encoder=encoder), host="127.0.0.1", port=port, block=False, quiet=True)
    try:
        app = bench_app.load(f"http://127.0.0.1:{port}/", texts, 8, 2, 1, os.getpid())
    finally:
        demo.close()
    assert app["errors"] == 0, app["error_samples"]
    assert app["ok"] == 8 and set(app["by_mix"]) == set(peer["by_mix"])
    text = bench_app.section({"date": "today", "k": 1, "cpus": os.cpu_count(), "documents": len(TINY_DOCS),
                              "corpus": "tiny", "queries": "test", "levels": {"2": app}, "app": app, "peer": peer})
    assert "| app, 2 clients | 8 | 0 |" in text


def test_app_p95_crossing_is_interpolated_between_levels(bench_app):
    def level(rate, p95):
        return {"searches_per_s": rate, "all": {"p95_ms": p95}}

    assert bench_app.crossing({"1": level(10, 100), "2": level(20, 200), "4": level(30, 500)}) == {
        "searches_per_s": pytest.approx(20 + 100 * 10 / 300), "bound": "at"}
    assert bench_app.crossing({"1": level(10, 400)})["bound"] == "below"
    assert bench_app.crossing({"1": level(10, 100), "8": level(25, 250)}) == {"searches_per_s": 25, "bound": "above"}


# --- bench_scale -----------------------------------------------------------------------------------------------


def test_scale_build_throughput_in_process_and_on_local_workers(helpers, tiny_corpus, tmp_path):
    """Lucene and encoding, unsharded and in 4 shards on 2 local processes: each sharded artifact is reported equal
    to the unsharded one, with the figures the table reads."""
    build = helpers.scale_build
    places = build.local_places(len(tiny_corpus))
    sparse = build.throughput("sparse", tiny_corpus, places, tmp_path, queries=QUERIES)
    dense = build.throughput("dense", tiny_corpus, places, tmp_path, dtype="float32")
    for base, pool in (sparse, dense):
        assert (base["place"], base["shards"], base["workers"], base["speedup"]) == ("unsharded, in process", 1, 1, 1.0)
        assert (pool["shards"], pool["workers"], pool["nodes"]) == (4, 2, 1)
        assert pool["efficiency"] == pytest.approx(pool["speedup"] / 2)
        assert "same" not in base and pool["same"]["same"] is True
        for r in (base, pool):
            assert r["docs"] == len(TINY_DOCS) and r["docs_per_s"] == pytest.approx(r["docs"] / r["seconds"])
            assert 0 <= r["shards_s"] <= r["seconds"] and r["combine_s"] >= 0 and r["others"] >= 0
    same = sparse[1]["same"]
    assert same["queries_differing"] == 0 and same["max_score_delta"] == 0 and same["hits"] > len(QUERIES)
    assert dense[1]["same"]["same_ids"] and dense[1]["same"]["max_abs_delta"] <= build.VECTOR_TOLERANCE
    table = helpers.scale_report.build_table({"rows": sparse + dense, "dtype": "float32"})
    assert table.count("(reference)") == 2 and "yes: 0 of 4 queries differ" in table and "NO" not in table


def test_scale_a_different_artifact_is_reported_different(helpers, tiny_corpus, tiny_dense, tmp_path):
    from gaia_lite.dense import build_dense_index
    from gaia_lite.sparse import sparse_dir

    flat, multifield = sparse_dir(tiny_corpus.folder), tiny_corpus.folder / "sparse-multifield"
    assert helpers.scale_build.same_sparse(flat, multifield, tiny_corpus, QUERIES)["same"] is False
    other = build_dense_index(tiny_corpus, dtype="bfloat16", out=tmp_path / "bf16", progress=False, log=None)
    assert helpers.scale_build.same_dense(tiny_dense, other)["same"] is False


def assert_replicated(path: Path, copies: int) -> None:
    """The replication recipe on TINY_DOCS, written to ``path``: copy 0 as is, then ``copies - 1`` copies of the
    same words and lengths, the words moved between documents."""
    from collections import Counter

    n = len(TINY_DOCS)
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(records) == copies * n
    assert records[:n] == [{"_id": d["_id"], "title": d["title"], "text": d["text"]} for d in TINY_DOCS]
    for field in ("title", "text"):
        words = Counter(w for d in TINY_DOCS for w in d[field].split())
        for r in (1, copies - 1):
            copy = records[r * n:(r + 1) * n]
            assert [d["_id"] for d in copy] == [f"{d['_id']}-r{r}" for d in TINY_DOCS]
            assert [len(d[field].split()) for d in copy] == [len(d[field].split()) for d in TINY_DOCS]
            assert Counter(w for d in copy for w in d[field].split()) == words
    assert records[n]["text"] != TINY_DOCS[0]["text"]  # the words moved between documents


def test_bm25_scifact_x_replicates_a_beir_folder(helpers, tiny_beir, tmp_path):
    """bench_bm25's scifact-x: the recipe from a BEIR corpus.jsonl, the same for the same seed."""
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    info = helpers.corpora.replicate_scifact(tiny_beir, first, 300, seed=1)
    assert info == {"copies": 38, "docs": 38 * len(TINY_DOCS), "seed": 1}
    assert_replicated(first, 38)
    helpers.corpora.replicate_scifact(tiny_beir, second, 300, seed=1)
    assert first.read_text() == second.read_text()


def test_scale_replicated_corpus_its_lucene_build_latency_and_explorer(bench_scale, helpers, tiny_corpus, tmp_path):
    """The replication recipe on the tiny corpus (304 documents), streamed from a built corpus; then the million
    part's measurements on it (the Lucene build and the explorer in child processes)."""
    from gaia_lite.corpus import build_corpus

    path = tmp_path / "x.jsonl"
    info = helpers.corpora.replicate(tiny_corpus, path, 300, seed=1)
    n = len(TINY_DOCS)
    assert (info["source_docs"], info["copies"], info["docs"]) == (n, 38, 38 * n)
    assert_replicated(path, 38)

    corpus, _ = build_corpus(str(path), "x", root=tmp_path, progress=False)
    queries = helpers.queries.first_sentences(corpus, 3, seed=1, rows=n)
    assert len(queries) == 3 and all(int(q[1:]) < n for q in queries)
    lucene = bench_scale.run_child("sparse-build", corpus.folder)
    assert (lucene["docs"], lucene["shards"]) == (38 * n, 1)
    assert 0 < lucene["rss_before_mib"] <= lucene["peak_rss_mib"] and lucene["process_wall_s"] > lucene["seconds"]
    latency = bench_scale.bm25_latency(lucene["index"], corpus, queries)
    assert set(latency) == {"10", "100"}
    assert all(r["queries"] == 3 and 0 < r["p50_ms"] <= r["p95_ms"] <= r["max_ms"] for r in latency.values())
    explorer = bench_scale.run_child("explorer", corpus.folder, next(iter(queries.values())))
    assert explorer["retrievers"] == ["bm25"] and explorer["hits"] > 0 and explorer["rss_mib"] > 0
    part = {"docs": len(corpus), "lucene": lucene | {"index_mib": 1.0}, "latency": latency, "explorer": explorer,
            "corpus": {"replication": info, "replicate_s": 0.1, "build_corpus_s": 0.1, "jsonl_mib": 0.1,
                       "dataset_mib": 0.1, "others": 0.0}}
    assert "explorer start" in helpers.scale_report.million_table(part)


def test_scale_ann_sweep_on_random_vectors(helpers, tmp_path):
    """Every index kind and setting on 2,000 random unit vectors: exact search's own recall is 1, every recall is
    in [0, 1], the target is recall and speed-up together; the noisy copies are unit vectors after the originals."""
    import numpy as np

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((2000, 384), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[:40] + 0.05 * rng.standard_normal((40, 384), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    ann = helpers.scale_ann
    sweep = ann.ann_sweep(vectors, queries, tmp_path, max_seconds=0.05, build_threads=1)
    rows = sweep["rows"]
    assert (sweep["vectors"], sweep["dim"], sweep["queries"]) == (2000, 384, 40)
    assert [(r["index"], r["setting"]) for r in rows] == [
        (kind, label) for kind in ("flat", "hnsw", "ivf", "ivfpq") for label, _, _ in ann.settings_of(kind)]
    flat = rows[0]
    assert flat["recall@10"] == flat["recall@10_ids"] == 1.0 and flat["speedup_over_flat"] == 1.0
    assert flat["bytes_per_vector"] == pytest.approx(384 * 4, rel=0.01)
    for r in rows:
        assert 0 <= r["recall@10_ids"] <= r["recall@10"] <= 1 and r["qps"] > 0 and r["timed_queries"] >= 20
        assert r["target_met"] == (r["recall@10"] >= 0.95 and r["speedup_over_flat"] >= 5)
        assert r["bytes"] > 0 and r["build_threads"] == 1
    assert max(r["recall@10"] for r in rows if r["index"] == "hnsw") >= 0.9  # the query's own vector is near
    assert rows[-1]["bytes_per_vector"] < flat["bytes_per_vector"] / 4  # product-quantized codes
    assert [r["gaia_lite_default"] for r in rows if r["index"] == "ivf"] == [False, False, False, True]
    assert "efSearch=128 (default)" in helpers.scale_report.ann_table(sweep)

    big, made = ann.noisy_copies(vectors[:100], 250, 0.025, seed=1)
    assert big.shape == (250, 384) and np.array_equal(big[:100], vectors[:100])
    assert np.allclose(np.linalg.norm(big, axis=1), 1, atol=1e-5)
    assert made["copies"] == 3 and 0.5 < made["cosine_copy_to_original_mean"] < 1


# --- bench_analysis --------------------------------------------------------------------------------------------


def test_analysis_measures_both_analyses_beside_their_peers_and_they_agree(bench_analysis, tmp_path):
    """The whole measurement on a small corpus with exact and near duplicates and a planted benchmark: both
    sides find the same flagged items and document counts, the same exact clusters, and similar near pairs."""
    import random

    from gaia_lite.corpus import build_corpus

    rng = random.Random(3)
    words = [f"w{i}" for i in range(300)]
    docs = []
    for i in range(120):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(20, 60))) + ". More words follow here."
        docs.append({"_id": f"d{i}", "title": "", "text": text})
        if i % 10 == 0:
            docs.append({"_id": f"d{i}-copy", "title": "", "text": text.upper()})
    corpus, _ = build_corpus(str(write_jsonl(tmp_path / "d.jsonl", docs)), "small", root=tmp_path, progress=False)
    bench = tmp_path / "bench.jsonl"
    facts = bench_analysis.make_benchmark(corpus, bench, 10, seed=1)
    assert facts["items"] == 20
    out = bench_analysis.measure(corpus, bench)
    c, d = out["contamination"], out["duplicates"]
    assert c["same_flags"] and c["same_document_counts"] and c["gaia_lite"]["flagged"] >= 10
    assert d["same_exact_clusters"] and d["gaia_lite"]["exact"]["clusters"] == 12
    assert d["near_pairs"]["precision"] == 1.0 and d["near_pairs"]["recall"] == 1.0  # identical texts only
    for side in (c["gaia_lite"], c["peer"], d["gaia_lite"], d["peer"]):
        assert side["seconds"] > 0 and side["peak_rss_mib"] > 0
    report = {"measured": "now", "machine": {"cpu": "x", "cores": 2}, "benchmark": facts, "corpora": {"small": out}}
    assert "| small (132 docs) | contamination |" in bench_analysis.section(report)
    assert bench_analysis.pair_agreement([1, 1, -1, 2, 2], [5, 5, 5, -1, -1]) == {
        "pairs": 2, "peer_pairs": 3, "common_pairs": 1, "precision": 0.5, "recall": 1 / 3}


# --- bench_audit -----------------------------------------------------------------------------------------------


def test_audit_measures_the_audit_beside_its_peer_and_they_agree(bench_audit, tmp_path):
    """The whole measurement on a small corpus with personal data and empty documents: the audit's top n-grams,
    personal data, words, characters, tokens and lengths are the peer's, its estimates hold the exact counts, and
    both ways the peer counts n-grams agree; the memory per part and the phrase counts run and report."""
    import random

    from gaia_lite.corpus import build_corpus

    rng = random.Random(5)
    vocabulary = [f"w{i}" for i in range(40)]
    docs = [{"_id": f"d{i}", "title": "Notes" if i % 3 else "",
             "text": " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 40)))
                     + (" write to ann@example.org" if i % 9 == 0 else "")} for i in range(150)]
    corpus, _ = build_corpus(str(write_jsonl(tmp_path / "d.jsonl", docs)), "small", root=tmp_path, progress=False)
    out = bench_audit.measure(corpus, tmp_path, counting="counter")
    for mode in ("core", "full"):
        agree = out[f"agreement_{mode}"]
        assert agree["all_exact_identical"] and agree["all_estimates_within"], agree
        assert set(agree["ngrams"]) == {"1", "2", "3", "5", "10"}
    assert out["agreement_full"]["languages"] and out["agreement_full"]["offensive"]
    assert out["audit_core"]["personal_data"]["email"] == {"documents": 17, "occurrences": 17}
    hashed = bench_audit.run_child("peer", corpus.folder, "core", "hashed", tmp_path / "audit-top-small.json")
    assert bench_audit.agreement(out["audit_core"], hashed, bench_audit.read_json(
        tmp_path / "audit-top-small.json"))["all_exact_identical"]
    for side in ("audit_core", "audit_full", "peer_core", "peer_models"):
        assert out[side]["seconds"] > 0 and out[side]["peak_rss_mib"] > 0
    small = bench_audit.small_corpus(corpus, tmp_path, 100)
    assert len(small) == 100 and bench_audit.small_corpus(corpus, tmp_path, 100).folder == small.folder
    memory = {"small": bench_audit.memory(small, tmp_path), "big": bench_audit.memory(corpus, tmp_path)}
    for size in memory.values():
        assert set(size["phases"]) == set(bench_audit.PHASES) and size["shards"] == 1
        assert all(p["peak_rss_mib"] >= p["start_rss_mib"] > 0 for p in size["phases"].values())
    count = bench_audit.counts(corpus, ["w1 w2", "write to", "w3"])
    assert all(r["same"] for r in count["phrases"].values())
    assert count["phrases"]["write to"]["documents"] == 17
    split = bench_audit.split(corpus)
    assert split["steps"]["  of which tokens"] > 0 and split["steps"]["merge: combine_words (exact recount)"] > 0
    report = {"measured": "now", "machine": {"cpu": "x", "cores": 2}, "corpora": {"small": out}, "memory": memory,
              "count": count, "split": split}
    text = bench_audit.section(report)
    assert "| small (150 docs) | core |" in text and "| combine_words |" in text and "| `write to` | 17 |" in text
    assert "| setup: loading the models |" in text
