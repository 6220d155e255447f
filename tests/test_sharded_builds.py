"""Sharded, resumable builds: a sharded build (in this process, on local worker processes, on a real Ray cluster
of three nodes started here) gives the same artifact as a plain one, and so do the analyses run on Ray; a build killed mid-way reuses its finished
shards; a killed build's scratch folders are cleaned up by the next build."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from gaia_lite.artifacts import ArtifactMeta, Fingerprint, scratch_path
from gaia_lite.cli import TERMINATED_STATUS, main
from gaia_lite.corpus import build_corpus
from gaia_lite.dense import build_dense_index
from gaia_lite.executors import LocalExecutor
from gaia_lite.shards import Shard, plan_shards
from gaia_lite.sparse import BM25Searcher, build_sparse_index

from .conftest import write_jsonl


@pytest.fixture(scope="module")
def beir(tmp_path_factory):
    """A small BEIR folder of real text: 300 docstrings of the installed packages, and 40 queries made of the
    first sentences of 40 of them (judged relevant to their own document)."""
    import datasets

    base = tmp_path_factory.mktemp("sharded")
    corpus, _ = build_corpus("builtin:docstrings", "src", root=base / "src", limit=300, progress=False)
    rows = datasets.load_from_disk(str(corpus.folder / "dataset")).to_list()
    folder = base / "beir"
    (folder / "qrels").mkdir(parents=True)
    write_jsonl(folder / "corpus.jsonl", [{"_id": r["id"], "title": r["title"], "text": r["text"]} for r in rows])
    picked = rows[::7][:40]
    write_jsonl(folder / "queries.jsonl", [{"_id": f"q{i}", "text": r["text"].split(".")[0][:200]}
                                           for i, r in enumerate(picked)])
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"q{i}\t{r['id']}\t1\n" for i, r in enumerate(picked)))
    return folder


@pytest.fixture(scope="module")
def corpus(beir, tmp_path_factory):
    corpus, _ = build_corpus(str(beir), "docs", root=tmp_path_factory.mktemp("root"), progress=False)
    return corpus


@pytest.fixture(scope="module")
def queries(beir):
    from gaia_lite.evaluate import load_queries

    return load_queries(beir / "queries.jsonl")


@pytest.fixture(scope="module")
def plain_sparse(corpus):
    return build_sparse_index(corpus, out=corpus.folder / "plain-sparse", progress=False)


@pytest.fixture(scope="module")
def plain_dense(corpus, encoder):
    return build_dense_index(corpus, encoder=encoder, out=corpus.folder / "plain-dense", progress=False)


def _assert_same_sparse(a: Path, b: Path, corpus, queries) -> None:
    meta_a, meta_b = ArtifactMeta.read(a, "sparse"), ArtifactMeta.read(b, "sparse")
    assert (meta_a.fingerprint, meta_a.num_rows) == (meta_b.fingerprint, meta_b.num_rows) == \
        (corpus.meta.fingerprint, len(corpus))
    with BM25Searcher(a, corpus) as sa, BM25Searcher(b, corpus) as sb, BM25Searcher(b, corpus, impacts=False) as lb:
        assert sa.num_docs == sb.num_docs == len(corpus)
        assert sa.route() == sb.route() == "impacts" and lb.route() == "lucene"
        run_a, run_b = sa.search_batch(queries, k=1000), sb.search_batch(queries, k=1000)
        assert lb.search_batch(queries, k=1000) == run_b  # the impact matrix scores as Lucene does
    assert run_a == run_b  # the same ids, in the same order, with exactly the same scores
    assert sum(len(hits) for hits in run_a.values()) > 1000
    _assert_same_impacts(a, b)


def _assert_same_impacts(a: Path, b: Path) -> None:
    """The two indexes' impact matrices hold the same postings, norms and impacts per corpus row (Lucene numbers
    the documents of a sharded build in another order, so the arrays themselves are a permutation apart)."""
    rows_a, rows_b = np.load(a / "rows.npy"), np.load(b / "rows.npy")
    assert sorted(rows_a.tolist()) == sorted(rows_b.tolist())
    for field in [p.name for p in (a / "impacts").iterdir() if p.is_dir()]:
        fa, fb = a / "impacts" / field, b / "impacts" / field
        assert (fa / "terms.txt").read_bytes() == (fb / "terms.txt").read_bytes()
        starts = np.load(fa / "starts.npy")
        assert np.array_equal(starts, np.load(fb / "starts.npy"))
        term = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
        for rows, f in ((rows_a, fa), (rows_b, fb)):
            norms = np.empty(len(rows), dtype=np.uint8)
            norms[rows] = np.load(f / "norms.npy")
            postings = np.rec.fromarrays([term, rows[np.load(f / "docs.npy")], np.load(f / "freqs.npy"),
                                          np.load(f / "impacts.npy")])
            postings.sort()
            if f is fa:
                expected = (norms, postings)
            else:
                assert np.array_equal(norms, expected[0]) and np.array_equal(postings, expected[1])
    order_a, order_b = np.empty_like(rows_a), np.empty_like(rows_b)
    order_a[rows_a], order_b[rows_b] = np.load(a / "impacts" / "order.npy"), np.load(b / "impacts" / "order.npy")
    assert np.array_equal(order_a, order_b)  # each document's place in id order


def _assert_shards_recorded(index: Path, corpus, shard_size: int) -> list[dict]:
    """The metadata records each shard's rows and their fingerprint, and they cover the corpus in order."""
    recorded = ArtifactMeta.read(index).params["shards"]
    assert [(s["start"], s["stop"]) for s in recorded] == \
        [(s.start, s.stop) for s in plan_shards(len(corpus), shard_size)]
    for s in recorded:
        fp = Fingerprint()
        for row in corpus.dataset.select(range(s["start"], s["stop"])):
            fp.update(row["id"], row["text"], row.get("title", ""))
        assert s["fingerprint"] == fp.hexdigest()
    return recorded


def _vectors(index: Path) -> tuple[list[str], np.ndarray]:
    import datasets

    embeddings = datasets.load_from_disk(str(index / "embeddings"))
    return embeddings["id"], np.asarray(embeddings["embedding"], dtype=np.float32)


def _assert_same_dense(a: Path, b: Path, corpus) -> None:
    ids_a, vectors_a = _vectors(a)
    ids_b, vectors_b = _vectors(b)
    assert ids_a == ids_b == corpus.ids
    assert np.abs(vectors_a - vectors_b).max() < 1e-5  # batches may be composed differently
    assert (a / "docid").read_text() == (b / "docid").read_text()
    assert ArtifactMeta.read(a).fingerprint == ArtifactMeta.read(b).fingerprint == corpus.meta.fingerprint


# --- plans ---------------------------------------------------------------------------------------------------

def test_plans_cover_every_row_once_in_order():
    assert plan_shards(10, 4) == [Shard(0, 0, 4), Shard(1, 4, 8), Shard(2, 8, 10)]
    assert plan_shards(5) == [Shard(0, 0, 5)]  # small corpora are one shard
    auto = plan_shards(2_000_000, workers=8)
    assert auto[0].start == 0 and auto[-1].stop == 2_000_000 and len(auto) == 32
    assert all(a.stop == b.start for a, b in zip(auto, auto[1:]))
    # A job whose memory grows with its shard (the audit) keeps automatic shards small, however large the corpus.
    from gaia_lite.analysis.audit import AuditJob

    capped = plan_shards(2_000_000, workers=1, largest=AuditJob.max_auto_shard)
    assert len(capped) == 80 and {len(s) for s in capped} == {25_000}
    with pytest.raises(ValueError, match="shard_size must be positive"):
        plan_shards(10, 0)


# --- local ---------------------------------------------------------------------------------------------------

def test_sharded_sparse_build_equals_the_plain_one(corpus, queries, plain_sparse):
    sharded = build_sparse_index(corpus, out=corpus.folder / "sharded-sparse", shard_size=37, progress=False)
    _assert_same_sparse(plain_sparse, sharded, corpus, queries)
    assert len(_assert_shards_recorded(sharded, corpus, 37)) == 9
    assert not [p for p in corpus.folder.iterdir() if p.name.startswith(".")]  # the workdir is gone


def test_sparse_build_on_local_worker_processes_equals_the_plain_one(corpus, queries, plain_sparse):
    sharded = build_sparse_index(corpus, out=corpus.folder / "pool-sparse", shard_size=100,
                                 executor=LocalExecutor(workers=2), progress=False)
    _assert_same_sparse(plain_sparse, sharded, corpus, queries)
    assert len({s["node"] for s in ArtifactMeta.read(sharded).params["shards"]}) == 1  # this machine


def test_sharded_dense_build_equals_the_plain_one(corpus, encoder, plain_dense):
    sharded = build_dense_index(corpus, encoder=encoder, out=corpus.folder / "sharded-dense", shard_size=64,
                                progress=False)
    _assert_same_dense(plain_dense, sharded, corpus)
    assert len(_assert_shards_recorded(sharded, corpus, 64)) == 5


def test_the_cli_builds_in_shards(corpus, queries, plain_sparse, capsys):
    out = corpus.folder / "cli-sparse"
    assert main(["index", "sparse", str(corpus.folder), "--shard-size", "120", "--out", str(out),
                 "--no-progress"]) == 0
    assert "built sparse index (flat)" in capsys.readouterr().out
    _assert_same_sparse(plain_sparse, out, corpus, queries)


# --- resuming --------------------------------------------------------------------------------------------------

def test_a_killed_build_resumes_from_its_finished_shards(corpus, queries, plain_sparse, tmp_path):
    out = corpus.folder / "resumed-sparse"
    work = corpus.folder / f".{out.name}.work"
    argv = ["-m", "gaia_lite", "index", "sparse", str(corpus.folder), "--shard-size", "10", "--threads", "1",
            "--out", str(out), "--no-progress"]
    driver = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(work.glob("done/*.json")) and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.02)
    driver.send_signal(signal.SIGKILL)  # the driver dies at once, mid-build
    driver.wait()
    finished = len(list(work.glob("done/*.json")))
    assert 1 <= finished < 30, finished  # killed after some shards and before the last
    assert not out.exists()

    log: list[str] = []
    build_sparse_index(corpus, out=out, shard_size=10, threads=1, progress=False, log=log.append)
    assert any(f"{finished} of 30 shards reused" in line for line in log), log
    _assert_same_sparse(plain_sparse, out, corpus, queries)
    assert not work.exists()


def test_a_terminated_rebuild_cleans_up_keeps_the_previous_index_and_resumes(corpus, queries, plain_sparse):
    """SIGTERM (``kill``, a scheduler's time limit) stops a CLI build as Ctrl+C does: one line, exit 143, no
    traceback, no scratch left, the previous index untouched, the finished shards kept for the next run."""
    out = corpus.folder / "terminated-sparse"
    work = corpus.folder / f".{out.name}.work"
    build_sparse_index(corpus, out=out, shard_size=100, progress=False)
    before = {p.relative_to(out): p.stat().st_mtime_ns for p in out.rglob("*")}
    argv = ["-m", "gaia_lite", "index", "sparse", str(corpus.folder), "--shard-size", "10", "--threads", "1",
            "--out", str(out), "--no-progress"]
    driver = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(work.glob("done/*.json")) and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.02)
    driver.send_signal(signal.SIGTERM)
    _, err = driver.communicate(timeout=60)
    assert driver.returncode == TERMINATED_STATUS == 128 + signal.SIGTERM, err
    assert err.strip().splitlines()[-1] == "terminated; nothing half-built was kept" and "Traceback" not in err
    finished = len(list(work.glob("done/*.json")))
    assert 1 <= finished < 30, finished
    assert not [p for p in (work / "parts").iterdir() if p.name.startswith(".")]  # the shard it was making
    assert not [p for p in corpus.folder.iterdir() if p.name.startswith(f".{out.name}.") and p != work]
    assert {p.relative_to(out): p.stat().st_mtime_ns for p in out.rglob("*")} == before

    log: list[str] = []
    build_sparse_index(corpus, out=out, shard_size=10, threads=1, progress=False, log=log.append)
    assert any(f"{finished} of 30 shards reused" in line for line in log), log
    _assert_same_sparse(plain_sparse, out, corpus, queries)


def test_another_plan_does_not_reuse_shards(corpus, tmp_path):
    out = tmp_path / "index"
    work = tmp_path / ".index.work"
    build_sparse_index(corpus, out=out, shard_size=50, progress=False)
    work.mkdir()
    (work / "plan.json").write_text(json.dumps({"kind": "sparse", "shards": []}))  # an old, different plan
    (work / "done").mkdir()
    log: list[str] = []
    build_sparse_index(corpus, out=out, shard_size=50, progress=False, log=log.append)
    assert not any("reused" in line for line in log) and not work.exists()


def test_scratch_folders_of_dead_builds_are_removed(corpus, tmp_path):
    out = tmp_path / "index"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(dead.stdout)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        mine = scratch_path(out, "building")
        stale = mine.with_name(mine.name.replace(f"-{os.getpid()}-", f"-{dead_pid}-"))
        running = mine.with_name(mine.name.replace(f"-{os.getpid()}-", f"-{alive.pid}-"))
        legacy = tmp_path / ".index.building-0123abcd"  # the name older versions gave it
        other = tmp_path / ".unrelated.building-0123abcd"
        for folder in (stale, running, legacy, other):
            (folder / "x").mkdir(parents=True)
        build_sparse_index(corpus, out=out, progress=False)
        left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
        assert left == sorted([running.name, other.name])
    finally:
        alive.kill()


# --- Ray -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ray_cluster():
    """A real Ray cluster on this machine: a head and two worker nodes, one CPU each."""
    pytest.importorskip("ray", reason="Ray is not installed: pip install gaia-lite[ray]")
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    yield cluster, workers
    from gaia_lite.executors import RayExecutor

    RayExecutor.disconnect()  # not ray.shutdown(), which would leave this process's JVM without its handlers
    cluster.shutdown()


def test_a_ray_build_equals_the_plain_one_and_runs_on_several_nodes(ray_cluster, corpus, queries, plain_sparse,
                                                                      plain_dense, tmp_path):
    from gaia_lite.executors import RayExecutor

    cluster, _ = ray_cluster
    executor = RayExecutor(cluster.address)
    sparse = build_sparse_index(corpus, out=corpus.folder / "ray-sparse", shard_size=40, executor=executor,
                                workdir=tmp_path / "shared", progress=False)
    _assert_same_sparse(plain_sparse, sparse, corpus, queries)
    nodes = {s["node"] for s in _assert_shards_recorded(sparse, corpus, 40)}
    assert len(nodes) > 1, nodes
    dense = build_dense_index(corpus, out=corpus.folder / "ray-dense", shard_size=100, executor=executor,
                              workdir=tmp_path / "shared", dtype="float32", progress=False)
    _assert_same_dense(plain_dense, dense, corpus)
    assert len({s["node"] for s in ArtifactMeta.read(dense).params["shards"]}) > 1
    assert not list((tmp_path / "shared").iterdir())  # the workdirs are removed once the index is in place
    out = corpus.folder / "ray-cli-sparse"
    assert main(["index", "sparse", str(corpus.folder), "--ray", cluster.address, "--shard-size", "100",
                 "--workdir", str(tmp_path / "shared"), "--out", str(out), "--no-progress"]) == 0
    _assert_same_sparse(plain_sparse, out, corpus, queries)


def test_the_analyses_on_ray_equal_the_local_runs_and_use_several_nodes(ray_cluster, corpus, beir, tmp_path):
    """Contamination and duplicates run their shards as Ray tasks, on more than one node, with the same answer
    as one pass in this process."""
    from gaia_lite.analysis import find_contamination, find_duplicates, read_benchmark
    from gaia_lite.executors import RayExecutor

    from gaia_lite.analysis.text import words

    cluster, _ = ray_cluster
    queries = [json.loads(line) for line in (beir / "queries.jsonl").read_text().splitlines()]
    items = write_jsonl(tmp_path / "items.jsonl", [q for q in queries if words(q["text"])])
    bench = read_benchmark(str(items))
    local = find_contamination(corpus, bench, ngram=8, progress=False, log=None)
    assert len(local.flagged) >= 30  # the queries are the documents' first sentences
    ray = find_contamination(corpus, bench, ngram=8, shard_size=30, executor=RayExecutor(cluster.address),
                             workdir=tmp_path / "shared", progress=False, log=None)
    assert ray.items == local.items and ray.most_matched == local.most_matched
    assert len(ray.nodes) > 1, ray.nodes
    plain = find_duplicates(corpus, progress=False, log=None)
    clusters = (corpus.folder / "duplicates" / "clusters.parquet").read_bytes()
    spread = find_duplicates(corpus, shard_size=30, executor=RayExecutor(cluster.address),
                             workdir=tmp_path / "shared", progress=False, log=None)
    assert (spread.exact, spread.near) == (plain.exact, plain.near) and len(spread.nodes) > 1
    assert (corpus.folder / "duplicates" / "clusters.parquet").read_bytes() == clusters
    assert not list((tmp_path / "shared").iterdir())


def test_an_audit_on_ray_equals_one_pass_in_this_process(ray_cluster, corpus, tmp_path):
    """The audit's actors (each loads its detectors once) run on several nodes and give the same tables and
    summary as one pass here."""
    import pyarrow.parquet as pq

    from gaia_lite.analysis import find_audit
    from gaia_lite.analysis.audit import AUDIT_DIR, TABLES
    from gaia_lite.executors import RayExecutor

    def tables():
        return {name: pq.read_table(corpus.folder / AUDIT_DIR / f"{name}.parquet").to_pylist() for name in TABLES}

    def stable(summary):  # without how the run went
        return {k: v for k, v in summary.items() if k not in ("seconds", "shards", "nodes")}

    cluster, _ = ray_cluster
    plain = find_audit(corpus, progress=False, log=None)
    local = tables()
    spread = find_audit(corpus, shard_size=60, executor=RayExecutor(cluster.address), workdir=tmp_path / "shared",
                        progress=False, log=None)
    assert len(spread.summary["nodes"]) > 1, spread.summary["nodes"]
    assert stable(spread.summary) == stable(plain.summary)
    assert tables() == local
    assert not list((tmp_path / "shared").iterdir())


def test_a_ray_build_survives_a_lost_worker_node(ray_cluster, corpus, queries, plain_sparse, tmp_path):
    from gaia_lite.executors import RayExecutor

    cluster, workers = ray_cluster
    out = corpus.folder / "ray-lost-node"
    work = tmp_path / "shared" / f"{corpus.name}.{out.name}"
    errors: list[BaseException] = []

    def build():
        try:
            build_sparse_index(corpus, out=out, shard_size=10, threads=1, executor=RayExecutor(cluster.address),
                               workdir=tmp_path / "shared", progress=False)
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    thread = threading.Thread(target=build)
    thread.start()
    deadline = time.monotonic() + 120
    while len(list(work.glob("done/*.json"))) < 3 and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.02)
    assert thread.is_alive() and len(list(work.glob("done/*.json"))) < 30  # mid-build
    cluster.remove_node(workers[-1], allow_graceful=False)  # its raylet and worker processes die at once
    thread.join(timeout=300)
    assert not errors, errors
    _assert_same_sparse(plain_sparse, out, corpus, queries)
