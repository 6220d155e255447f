"""A corpus kept in parts served on a real multi-node Ray cluster (``gaia-lite serve``) answers through HTTP
exactly as it does in this process and as one index over the same documents does, keeps answering right while
replicas are killed and a node is removed, names a part that no replica serves instead of answering partially
in silence, and refuses parts built differently or not where the corpus says, each in one error line."""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
import signal
import threading
import time
import urllib.error
import urllib.request

import pytest

from gaia_lite.cli import main
from gaia_lite.config import DenseConfig, RetrieverConfig
from gaia_lite.corpus import Corpus, build_corpus
from gaia_lite.retriever import open_searcher

from .conftest import free_port, serve_cluster, write_jsonl

pytest.importorskip("ray.serve", reason="Ray Serve is not installed: pip install gaia-lite[ray]")

WORDS = ("protein cell gene expression cancer tumor immune response virus infection brain neuron signal pathway "
         "receptor binding drug therapy patient clinical trial risk mutation dna rna sequence model mouse human "
         "blood heart lung liver kidney bone muscle growth factor insulin glucose metabolism").split()
QUERIES = ["gene expression in cancer", "immune response to virus infection", "insulin glucose metabolism",
           "clinical trial of drug therapy in patients", "brain neuron signal", "heart"]
KINDS = ("bm25", "dense", "hybrid")
N_DOCS = 300  # two parts of 150: a k of 200 is larger than a part


def _docs() -> list[dict]:
    """Documents of Zipf-distributed words, some repeated verbatim (tied scores across the part boundary)."""
    rng = random.Random(7)
    weights = [1 / (i + 1) for i in range(len(WORDS))]
    docs: list[dict] = []
    for i in range(N_DOCS):
        if i % 9 == 8:
            twin = docs[rng.randrange(len(docs))]
            docs.append({"_id": f"doc{i:04d}", "title": twin["title"], "text": twin["text"]})
            continue
        docs.append({"_id": f"doc{i:04d}", "title": " ".join(rng.choices(WORDS, k=3)),
                     "text": " ".join(rng.choices(WORDS, weights, k=rng.randint(5, 50)))})
    return docs


def _request(url: str, body: dict | None = None, timeout: float = 120) -> tuple[int, dict]:
    """(status, JSON body) of a GET (no body) or a POST of ``body`` as JSON."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _pairs(hits) -> list[tuple[str, float]]:
    return [(h["doc_id"], h["score"]) if isinstance(h, dict) else (h.doc_id, h.score) for h in hits]


def _same(got, want) -> bool:
    """The same ids in the same order, scores equal to 1e-5."""
    return [d for d, _ in got] == [d for d, _ in want] and all(abs(a - b) <= 1e-5 for (_, a), (_, b) in
                                                               zip(got, want))


@pytest.fixture(scope="module")
def corpora(tmp_path_factory, encoder):
    """The same documents as one part and as two parts, each with a flat Lucene index and a flat dense index."""
    from gaia_lite.dense import build_dense_index
    from gaia_lite.sparse import build_sparse_index

    root = tmp_path_factory.mktemp("serve")
    source = write_jsonl(root / "docs.jsonl", _docs())
    out = {}
    for name, parts in (("one", None), ("two", 2)):
        corpus, _ = build_corpus(str(source), name, root=root, parts=parts, progress=False)
        build_sparse_index(corpus, progress=False, log=None)
        build_dense_index(corpus, encoder=encoder, progress=False, log=None)
        out[name] = Corpus.load(corpus.folder)
    return out


@pytest.fixture(scope="module")
def cluster():
    """A real Ray cluster on this machine: a head and two worker nodes, one CPU each; Serve shut down after."""
    with serve_cluster(workers=2) as cluster:
        yield cluster


@functools.cache
def _port() -> int:
    """The port of the test cluster's HTTP proxy (one per cluster: Serve keeps the one it started with)."""
    return free_port()


def _serve(cluster, folder, *flags) -> list[str]:
    """The ``gaia-lite serve`` arguments that deploy ``folder`` on the test cluster (replicas take no CPU)."""
    return ["serve", str(folder), "--ray", cluster.address, "--port", str(_port()), "--proxy-location",
            "head-only", "--cpus-per-replica", "0", *flags]


@pytest.fixture(scope="module")
def served(cluster, corpora):
    """The two-part corpus served as hybrid (so bm25, dense and hybrid), two replicas a part; its URL."""
    import contextlib
    import io

    args = _serve(cluster, corpora["two"].folder, "--replicas", "2", "--retriever", "hybrid", "--dtype", "float32",
                  "--part-timeout", "10")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(args) == 0
    url, err = out.getvalue().strip(), err.getvalue()
    print(err)
    assert url.startswith("http://127.0.0.1:") and url.endswith("/two"), out.getvalue()
    assert "part-000: 2 replica(s) on node(s)" in err and "serving two on" in err, err
    return url


@pytest.fixture(scope="module")
def local(corpora):
    """The in-process searchers over the two parts and over the one part: {corpus: {kind: searcher}}."""
    out = {}
    for name in ("one", "two"):
        hybrid = open_searcher(corpora[name], RetrieverConfig(kind="hybrid", dense=DenseConfig(dtype="float32")))
        out[name] = {"bm25": hybrid.bm25, "dense": hybrid.dense, "hybrid": hybrid}
    return out


@pytest.fixture(scope="module")
def expected(local):
    """Each (query, kind) answer at k=10 in this process over the parts, as (id, score) pairs."""
    return {(q, kind): _pairs(local["two"][kind].search(q, 10)) for q in QUERIES for kind in KINDS}


def _search(url: str, query: str, kind: str, k: int = 10, **more) -> tuple[int, dict]:
    return _request(f"{url}/search", {"query": query, "k": k, "retriever": kind, **more})


# --- answers ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("k", [10, 200])
def test_served_answers_equal_the_in_process_and_the_one_index_answers(served, local, k):
    for kind in KINDS:
        for query in QUERIES:
            status, body = _search(served, query, kind, k)
            assert status == 200 and body["parts"] == {"parts": 2, "answered": ["part-000", "part-001"],
                                                       "missing": {}, "complete": True}, body
            got = _pairs(body["hits"])
            assert got, (kind, query)
            assert _same(got, _pairs(local["two"][kind].search(query, k))), (kind, query)
            assert _same(got, _pairs(local["one"][kind].search(query, k))), (kind, query)
    hybrid = _search(served, QUERIES[0], "hybrid", k)[1]["hits"][0]
    assert set(hybrid) >= {"bm25_score", "dense_score", "contributions", "found_by"}


def test_filters_counts_documents_and_fusion_settings_equal_the_in_process_answers(served, local, corpora):
    two, one = local["two"], corpora["one"]
    only = one.ids[::7]
    status, body = _search(served, QUERIES[0], "bm25", 50, only=only, phrases=["gene expression"])
    assert status == 200
    assert _same(_pairs(body["hits"]), _pairs(two["bm25"].search(QUERIES[0], 50, only=only,
                                                                   phrases=["gene expression"])))
    rrf = _search(served, QUERIES[1], "hybrid", 20, fusion={"method": "rrf"})[1]
    assert _same(_pairs(rrf["hits"]), _pairs(two["hybrid"].search(QUERIES[1], 20, method="rrf")))
    dense = _search(served, QUERIES[2], "dense", 30, only=only)[1]
    assert _same(_pairs(dense["hits"]), _pairs(two["dense"].search(QUERIES[2], 30, only=only)))
    status, body = _request(f"{served}/count", {"query": QUERIES[3], "phrases": ["clinical trial"]})
    assert status == 200 and body["parts"]["complete"]
    assert body["count"] == two["bm25"].count(QUERIES[3], phrases=["clinical trial"]) == \
        local["one"]["bm25"].count(QUERIES[3], phrases=["clinical trial"]) > 0
    ids = ["doc0299", "nope", "doc0000", "doc0150"]
    status, body = _request(f"{served}/documents", {"ids": ids})
    assert status == 200 and body["documents"] == [one.get("doc0299"), None, one.get("doc0000"), one.get("doc0150")]
    hits = _search(served, QUERIES[4], "hybrid", 5, with_documents=True)[1]["hits"]
    assert [h["document"] for h in hits] == one.get_many([h["doc_id"] for h in hits])


def test_info_names_the_corpus_its_parts_and_the_resolved_settings(served, corpora, local):
    status, info = _request(f"{served}/info")
    two = corpora["two"]
    assert status == 200
    assert (info["name"], info["num_rows"], info["fingerprint"]) == ("two", N_DOCS, two.meta.fingerprint)
    assert [p["name"] for p in info["parts"]] == ["part-000", "part-001"]
    assert [p["fingerprint"] for p in info["parts"]] == [p.meta.fingerprint for p in two.parts]
    assert info["retrievers"] == ["bm25", "dense", "hybrid"] and info["replicas"] == 2
    assert info["config"] == local["two"]["hybrid"].config.to_dict()


@pytest.mark.parametrize("body, status, message", [
    ({"query": "gene", "k": 0}, 400, "k must be positive"),
    ({"query": "gene", "retriever": "splade"}, 400, "retriever 'splade' is not served"),
    ({"query": "gene", "retriever": "hybrid", "fusion": {"methd": "rrf"}}, 400, "unknown FusionConfig setting"),
    ({"query": "gene", "retriever": "dense", "phrases": ["gene"]}, 400, "phrases filter the bm25 retriever"),
    ({"query": "gene", "kk": 3}, 400, "unknown field(s) ['kk']"),
    ({"k": 3}, 400, "needs query"),
    ({"query": 3}, 400, "query must be a string"),
])
def test_a_bad_request_is_a_400_with_one_line_that_says_what_to_do(served, body, status, message):
    got, answer = _request(f"{served}/search", body)
    assert (got, set(answer)) == (status, {"error"}) and message in answer["error"] and "\n" not in answer["error"]


def test_an_unknown_endpoint_is_a_404_and_a_body_not_json_a_400(served):
    status, answer = _request(f"{served}/searhc", {"query": "x"})
    assert status == 404 and "POST search, documents, count" in answer["error"]
    request = urllib.request.Request(f"{served}/count", b"query=x", {"Content-Type": "text/plain"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, timeout=60)
    assert e.value.code == 400 and "the request body is not JSON" in json.loads(e.value.read())["error"]


# --- failures -----------------------------------------------------------------------------------------------

class Stream(threading.Thread):
    """Queries sent one after another through the front, each answer checked against the in-process one."""

    def __init__(self, url: str, expected: dict, n: int, start: int = 0):
        super().__init__(daemon=True)
        self.url, self.expected, self.n, self.first = url, expected, n, start
        self.done, self.errors, self.wrong = 0, [], []

    def run(self):
        plan = list(self.expected)
        for i in range(self.first, self.first + self.n):
            query, kind = plan[i % len(plan)]
            try:
                status, body = _search(self.url, query, kind)
            except Exception as e:  # noqa: BLE001 - counted and shown by the test
                status, body = 0, {"error": repr(e)}
            if status != 200 or not body["parts"]["complete"]:
                self.errors.append((i, status, body.get("error") or body["parts"]))
            elif not _same(_pairs(body["hits"]), self.expected[query, kind]):
                self.wrong.append((i, query, kind))
            self.done += 1


class Streams:
    """Several :class:`Stream` at once (so replicas also answer calls side by side), counted together."""

    def __init__(self, url: str, expected: dict, n: int, streams: int = 2):
        self.streams = [Stream(url, expected, n // streams, i * 7) for i in range(streams)]
        for stream in self.streams:
            stream.start()

    @property
    def done(self) -> int:
        return sum(s.done for s in self.streams)

    def wait_for(self, done: int) -> int:
        """Block until ``done`` queries are answered (or the streams end); how many are."""
        while self.done < done and any(s.is_alive() for s in self.streams):
            time.sleep(0.01)
        return self.done

    def join(self) -> tuple[list, list]:
        """Wait for the end; the errors and the wrong answers of all streams."""
        for stream in self.streams:
            stream.join()
        return [e for s in self.streams for e in s.errors], [w for s in self.streams for w in s.wrong]


def _replicas(deployment: str, app: str = "two") -> list[dict]:
    from gaia_lite.serve.app import replica_processes

    return replica_processes(app, deployment)


def _wait_replicas(deployment: str, n: int, gone: set[int], app: str = "two") -> list[dict]:
    """Wait (up to 3 minutes) until ``n`` replicas of ``deployment`` run, none of them a process of ``gone``."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        running = _replicas(deployment, app)
        if len(running) == n and not {r["pid"] for r in running} & gone:
            return running
        time.sleep(0.5)
    return _replicas(deployment, app)


def test_queries_stay_right_while_replicas_are_killed(served, expected):
    streams = Streams(served, expected, 240)
    killed = []
    for deployment, at in (("part-000", 60), ("part-001", 140)):
        victim = _replicas(deployment)[0]
        streams.wait_for(at)
        os.kill(victim["pid"], signal.SIGKILL)
        killed.append((deployment, victim["pid"], streams.done))
    errors, wrong = streams.join()
    print(f"\nkill test: {streams.done} queries (2 clients), {len(errors)} errors, {len(wrong)} wrong answers; "
          + "; ".join(f"a {d} replica (pid {pid}) SIGKILLed at query {at}" for d, pid, at in killed))
    assert streams.done == 240 and errors == [] and wrong == []
    assert all(at < 240 for _, _, at in killed)  # killed mid-stream
    for deployment, pid, _ in killed:  # Serve replaced them
        assert len(_wait_replicas(deployment, 2, {pid})) == 2


def test_queries_stay_right_when_a_node_goes_away(served, expected, cluster):
    from gaia_lite.serve.app import replica_nodes

    nodes = replica_nodes("two")
    hosting = {node for deployment, where in nodes.items() if deployment != "front" for node in where}
    candidates = [w for w in cluster.worker_nodes if w.node_id in hosting and w.node_id not in nodes["front"]]
    assert candidates, nodes  # a worker holding part replicas and not the front (whose HTTP calls would be cut)
    worker = candidates[0]
    lost = {d: where.count(worker.node_id) for d, where in nodes.items() if worker.node_id in where}
    streams = Streams(served, expected, 150)
    streams.wait_for(40)
    cluster.remove_node(worker, allow_graceful=False)  # its raylet and worker processes die at once
    removed_at = streams.done
    errors, wrong = streams.join()
    print(f"\nnode test: {streams.done} queries (2 clients), {len(errors)} errors, {len(wrong)} wrong answers; "
          f"node {worker.node_id[:8]} with replicas {lost} removed at query {removed_at}")
    try:
        assert streams.done == 150 and errors == [] and wrong == [] and removed_at < 150
        for deployment in lost:
            assert len(_wait_replicas(deployment, 2, set())) == 2  # restarted on the nodes left
    finally:
        cluster.add_node(num_cpus=1)  # the cluster's shape back for what follows
        cluster.wait_for_nodes()


def test_a_part_without_a_live_replica_is_named_never_silently_left_out(cluster, corpora, capsys, tmp_path):
    """Its folder moved away and its replica killed, so that Serve cannot restart it: answers come from the other
    part, status 200, with the missing part named; the corpus served alone for this test."""
    folder = tmp_path / "lost"
    shutil.copytree(corpora["two"].folder, folder)
    assert main(_serve(cluster, folder, "--retriever", "bm25", "--part-timeout", "3")) == 0
    url = capsys.readouterr().out.strip()
    try:
        assert _search(url, QUERIES[0], "bm25")[1]["parts"]["complete"]
        shutil.move(folder / "parts" / "part-001", tmp_path / "away")
        for replica in _replicas("part-001", "lost"):
            os.kill(replica["pid"], signal.SIGKILL)
        status, body = _search(url, QUERIES[0], "bm25", 50)
        assert status == 200 and body["parts"]["complete"] is False
        assert list(body["parts"]["missing"]) == ["part-001"] and body["parts"]["answered"] == ["part-000"]
        assert "no replica answered within 3 s" in body["parts"]["missing"]["part-001"]
        assert body["hits"] and all(h["doc_id"] < "doc0150" for h in body["hits"])  # part-000's rows only
        status, body = _request(f"{url}/count", {"query": QUERIES[0]})
        assert status == 200 and not body["parts"]["complete"] and list(body["parts"]["missing"]) == ["part-001"]
    finally:
        assert main(["serve", str(folder), "--ray", cluster.address, "--stop"]) == 0
    from ray import serve

    assert "lost" not in serve.status().applications
    assert main(["serve", str(folder), "--ray", cluster.address, "--stop"]) == 2
    assert "lost is not served" in capsys.readouterr().err


# --- refusals -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mixed(corpora, tmp_path_factory):
    """The two-part corpus with part-001's indexes rebuilt otherwise: its Lucene index with the krovetz stemmer
    (part-000's is porter), its dense index with a document prefix (part-000's has none)."""
    from gaia_lite.dense import build_dense_index
    from gaia_lite.sparse import build_sparse_index, sparse_dir

    folder = tmp_path_factory.mktemp("mixed") / "mixed"
    shutil.copytree(corpora["two"].folder, folder)
    part = Corpus.load(folder).parts[1]
    build_sparse_index(part, stemmer="krovetz", out=sparse_dir(part.folder), progress=False, log=None)
    build_dense_index(part, document_prefix="passage: ", dtype="float32", progress=False, log=None)
    return folder


@pytest.mark.parametrize("kind, differ", [
    ("bm25", "'stemmer': 'porter', 'keep_stopwords': False} in part-000 but {'language': 'en', 'stemmer': 'krovetz'"),
    ("dense", "document_prefix='' in part-000 but 'passage: ' in part-001"),
])
def test_parts_built_with_other_settings_are_refused_before_deploying_naming_both(mixed, capsys, kind, differ):
    # No cluster at this address: the refusal comes before any connection.
    assert main(["serve", str(mixed), "--ray", "127.0.0.1:9", "--retriever", kind]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("error: ") and differ in err, err
    assert "rebuild part-001 with the settings of the others" in err


class _Handle:
    """A deployment handle's calling shape (``handle.call.remote(...).result()``) over a replica made in this
    process, for the front's startup checks without a cluster."""

    class _Method:
        def __init__(self, fn):
            self.fn = fn

        def remote(self, *args):
            return _Handle._Done(self.fn(*args))

    class _Done:
        def __init__(self, value):
            self.value = value

        def result(self, timeout_s=None):
            return self.value

    def __init__(self, replica):
        self.call, self.metas = self._Method(replica.call), self._Method(replica.metas)


def test_the_front_refuses_parts_built_with_other_settings_naming_both(mixed):
    """Parts not on the deploying machine are checked by the front once their replicas run: the same refusal,
    the one line the deploying command shows."""
    from gaia_lite.errors import ConfigError
    from gaia_lite.serve.app import served_parts, startup_error
    from gaia_lite.serve.front import Front
    from gaia_lite.serve.part import PartReplica

    config = RetrieverConfig(kind="dense")
    _, meta, entries = served_parts(mixed)
    lines = [{key: e[key] for key in ("name", "num_rows", "fingerprint")} for e in entries]
    handles = [_Handle(PartReplica(e["name"], e["path"], line, config)) for e, line in zip(entries, lines)]
    with pytest.raises(RuntimeError) as raised:
        Front("mixed", meta, lines, handles, config, 5.0, 1, 5.0)
    error = startup_error(str(raised.value))
    assert isinstance(error, ConfigError) and "\n" not in str(error)
    assert "the front of mixed: " in str(error) and "document_prefix='' in part-000 but 'passage: ' in part-001" in \
        str(error)


def test_a_corpus_in_one_part_is_served_as_one_part_its_own_folder(corpora):
    from gaia_lite.serve.app import check_here, served_parts

    one = corpora["one"]
    folder, meta, entries = served_parts(one.folder / "dataset")
    assert (folder, meta.num_rows, meta.fingerprint) == (one.folder, N_DOCS, one.meta.fingerprint)
    assert entries == [{"name": "part-000", "path": str(one.folder), "num_rows": N_DOCS,
                        "fingerprint": one.meta.fingerprint, "inside": True}]
    check_here(folder, entries, RetrieverConfig(kind="hybrid"), log=None)  # its indexes are there


def test_an_unreachable_part_is_one_error_line_and_exit_2(cluster, corpora, capsys, tmp_path):
    from ray import serve

    gone = tmp_path / "gone"  # a part inside the corpus folder, missing: refused before anything is deployed
    shutil.copytree(corpora["two"].folder, gone)
    shutil.rmtree(gone / "parts" / "part-001")
    assert main(_serve(cluster, gone, "--retriever", "bm25")) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "part part-001 of corpus gone is not at" in err, err
    far = tmp_path / "far"  # a part listed elsewhere that no node holds: its replica cannot start
    shutil.copytree(corpora["two"].folder, far)
    listing = far / "parts" / "gaia_lite.json"
    meta = json.loads(listing.read_text())
    meta["params"]["parts"][1]["path"] = str(tmp_path / "nowhere" / "part-001")
    listing.write_text(json.dumps(meta))
    assert main(_serve(cluster, far, "--retriever", "bm25")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "is not on this machine" in err[0]
    assert err[-1].startswith("error: part part-001 on ") and f"not at {tmp_path / 'nowhere'}" in err[-1], err
    assert "far" not in serve.status().applications
