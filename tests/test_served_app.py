"""A corpus served by ``gaia-lite serve`` on a real Ray cluster, given by its address to ``gaia-lite search``, the
explorer (its API through gradio_client, its page in a headless Chromium) and ``gaia-lite space build``: the same
hits as the same search in this process, which parts answered, what needs the corpus here said instead of failing,
and a part that stops answering named, never silently left out. Also the explorer over the same corpus kept in
parts on this machine: search, documents, filters, hidden duplicates and contamination.

The served tests need Ray Serve (``pip install gaia-lite[ray]``); the browser test Debian's chromium, as in
``test_app_server.py``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import signal
import time

import pytest

from gaia_lite.app import Explorer, View, views
from gaia_lite.cli import main
from gaia_lite.config import DenseConfig, FusionConfig, RetrieverConfig
from gaia_lite.corpus import Corpus, build_corpus
from gaia_lite.errors import ConfigError, PartsMissingError
from gaia_lite.retriever import open_searcher

from .conftest import free_port, serve_cluster, serving, write_jsonl
from .test_app_server import _chromium

WORDS = ("protein cell gene expression cancer tumor immune response virus infection brain neuron signal pathway "
         "receptor binding drug therapy patient clinical trial risk mutation dna rna sequence model mouse human "
         "blood heart lung liver kidney bone muscle growth factor insulin glucose metabolism").split()
QUERIES = ["gene expression in cancer", '"immune response" virus', "insulin glucose metabolism"]
KINDS = ("bm25", "dense", "hybrid")
N_DOCS = 240  # two parts of 120


def _docs() -> list[dict]:
    """Documents of Zipf-distributed words with a metadata column, every ninth a copy of an earlier one (exact
    duplicates, some across the part boundary)."""
    rng = random.Random(11)
    weights = [1 / (i + 1) for i in range(len(WORDS))]
    docs: list[dict] = []
    for i in range(N_DOCS):
        source = ("journal", "preprint", "thesis")[i % 3]
        if i % 9 == 8:
            twin = docs[rng.randrange(len(docs))]
            docs.append({"_id": f"doc{i:04d}", "title": twin["title"], "text": twin["text"], "source": source})
            continue
        docs.append({"_id": f"doc{i:04d}", "title": " ".join(rng.choices(WORDS, k=3)),
                     "text": " ".join(rng.choices(WORDS, weights, k=rng.randint(8, 40))), "source": source})
    return docs


@pytest.fixture(scope="module")
def parted(tmp_path_factory, encoder):
    """The documents kept in two parts, each with a flat Lucene index and a flat dense index."""
    from gaia_lite.dense import build_dense_index
    from gaia_lite.sparse import build_sparse_index

    root = tmp_path_factory.mktemp("served_app")
    source = write_jsonl(root / "docs.jsonl", _docs())
    corpus, _ = build_corpus(str(source), "papers", root=root / "indexes", parts=2, progress=False)
    build_sparse_index(corpus, progress=False, log=None)
    build_dense_index(corpus, encoder=encoder, progress=False, log=None)
    return Corpus.load(corpus.folder)


@pytest.fixture(scope="module")
def local(parted, encoder):
    """The explorer over the parts on this machine: the in-process answers the served ones must equal."""
    return Explorer(parted, encoder=encoder)


def _hits(hits) -> list[tuple]:
    """(id, rank, score) of hits or hit records, scores to 1e-5 (the front encodes queries in another process)."""
    return [(h["doc_id"], h["rank"], pytest.approx(h["score"], abs=1e-5)) if isinstance(h, dict)
            else (h.doc_id, h.rank, pytest.approx(h.score, abs=1e-5)) for h in hits]


# --- a corpus kept in parts on this machine -----------------------------------------------------------------------

def test_the_explorer_over_local_parts_searches_as_the_parted_searcher(local):
    reference = local.hybrid
    assert type(reference.bm25).__name__ == "PartedBM25Searcher"  # open_searcher's, over the two parts
    for kind, searcher in (("bm25", reference.bm25), ("dense", reference.dense), ("hybrid", reference)):
        res = local.search("gene expression in cancer", View(k=5, page=2), kind=kind)
        assert _hits(r.hit for r in res.rows) == _hits(searcher.search("gene expression in cancer", 10)[5:])
        assert res.parts == {"parts": 2, "answered": ["part-000", "part-001"], "missing": {}, "complete": True}
        assert res.to_dict()["parts"] == res.parts
    # A phrase keeps every retriever to the documents holding it, across both parts.
    res = local.search('"immune response" virus', View(k=20), kind="hybrid")
    holding = set(reference.bm25.matching(["immune response"]))
    assert res.pool == len(holding) >= 2 and {r.hit.doc_id for r in res.rows} <= holding
    assert {h < "doc0120" for h in holding} == {True, False}  # found in both parts


def test_the_explorer_over_local_parts_filters_reads_and_checks(local, parted, tmp_path):
    assert local.filter_choices() == {"source": ["journal", "preprint", "thesis"]}
    res = local.search("cancer", View.make(k=50, filters={"source": ["thesis"]}), kind="hybrid")
    assert res.rows and all(parted.get(r.hit.doc_id)["source"] == "thesis" for r in res.rows)
    assert res.pool == sum(1 for d in _docs() if d["source"] == "thesis")
    doc = local.document("doc0200")  # in the second part
    assert doc.metadata == {"source": _docs()[200]["source"]} and doc.words == len(_docs()[200]["text"].split())
    # A benchmark holding two documents' texts: both flagged, in either part.
    items = write_jsonl(tmp_path / "bench.jsonl", [{"id": "q1", "text": _docs()[5]["text"]},
                                                    {"id": "q2", "text": _docs()[230]["text"]},
                                                    {"id": "q3", "text": "words found in no document at all"}])
    report = local.contamination(upload=str(items))
    assert [r.item_id for r in report.flagged] == ["q1", "q2"]


def test_near_duplicates_hide_across_parts(parted, encoder):
    from gaia_lite.analysis import find_duplicates

    find_duplicates(parted, progress=False, log=None)
    explorer = Explorer(parted, encoder=encoder)
    assert explorer.has_duplicates
    shown = explorer.search("insulin glucose", View(k=100), kind="bm25")
    hidden = explorer.search("insulin glucose", View(k=100, hide_duplicates=True), kind="bm25")
    texts = [(parted.get(r.hit.doc_id)["title"], parted.get(r.hit.doc_id)["text"]) for r in shown.rows]
    assert len(shown.rows) == shown.matches < 100  # every match is on the page
    seen, best = set(), []  # the best-ranked document of each text
    for row, text in zip(shown.rows, texts):
        if text not in seen:
            seen.add(text)
            best.append(row.hit.doc_id)
    assert [r.hit.doc_id for r in hidden.rows] == best and len(best) < len(shown.rows)
    assert any("near duplicate" in note for note in hidden.notes)


# --- the same corpus served on a Ray cluster ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster():
    """A real Ray cluster on this machine: a head and a worker node, one CPU each; Serve shut down after."""
    pytest.importorskip("ray.serve", reason="Ray Serve is not installed: pip install gaia-lite[ray]")
    with serve_cluster(workers=1) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def served(cluster, parted, tmp_path_factory):
    """A copy of the parted corpus (the last test takes a part of it away) served as hybrid, one replica a part:
    its folder and address."""
    from gaia_lite.serve import deploy

    folder = tmp_path_factory.mktemp("served") / parted.name
    shutil.copytree(parted.folder, folder)
    config = RetrieverConfig(kind="hybrid", dense=DenseConfig(dtype="float32"))
    app = deploy(folder, config, address=cluster.address, replicas=1, port=free_port(), proxy_location="head-only",
                 cpus_per_replica=0, part_timeout_s=3, log=None)
    assert app.url.endswith(f"/{parted.name}")
    return folder, app.url


@pytest.fixture(scope="module")
def address(served):
    return served[1]


def _cli(args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(args)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("kind, flags", [("bm25", []), ("dense", []), ("hybrid", []),
                                         ("hybrid", ["--fusion", "rrf", "--bm25-weight", "0.3"])])
def test_cli_search_of_the_address_equals_the_search_in_process(address, parted, local, kind, flags):
    query = "immune response to virus infection"
    status, out, err = _cli(["search", address, query, "--retriever", kind, "-k", "7", "--json", *flags])
    assert status == 0 and err.strip().splitlines()[-1] == "2 of 2 parts answered", err
    fusion = FusionConfig(method="rrf", bm25_weight=0.3) if flags else FusionConfig()
    expected = local.hybrid.search(query, 7, fusion) if kind == "hybrid" else getattr(local, kind).search(query, 7)
    records = json.loads(out)
    assert _hits(records) == _hits(expected)
    assert [(r["title"], r["text"]) for r in records] == [(parted.get(h.doc_id)["title"], parted.get(h.doc_id)["text"])
                                                         for h in expected]
    if kind == "hybrid":
        assert [(r["bm25_rank"], r["dense_rank"], r["found_by"]) for r in records] == \
               [(h.bm25_rank, h.dense_rank, list(h.found_by)) for h in expected]


def test_cli_prints_the_lines_of_the_search_in_process(address, parted):
    here = _cli(["search", str(parted.folder), "gene expression", "-k", "5"])
    there = _cli(["search", address, "gene expression", "-k", "5"])
    assert there[:2] == here[:2] and here[1].count("doc0") == 5


def test_cli_errors_over_an_address_are_one_line(address):
    for args, message in (
            ([address.rsplit("/", 1)[0] + "/nothing", "gene"], "serves no corpus named 'nothing'"),
            (["http://127.0.0.1:9/papers", "gene"], "is `gaia-lite serve` running"),
            ([address, "gene", "--explain-terms"], "needs the corpus on this machine"),
            ([address, "gene", "--fields", "multifield"], "searches other indexes: fields='multifield'")):
        status, out, err = _cli(["search", *args])
        assert status == 2 and out == "" and err.count("\n") == 1 and message in err, err


@pytest.fixture(scope="module")
def app(address):
    """The explorer over the address, served by Gradio on this machine: its URL."""
    with serving(address) as url:
        yield url


@pytest.fixture(scope="module")
def client(app):
    from gradio_client import Client

    return Client(app, verbose=False)


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("kind", KINDS)
def test_explorer_api_through_the_front_equals_the_explorer_here(client, local, query, kind):
    answer = client.predict(query, kind, "weighted", 0.4, 5, 2, True, None, "zscore", api_name="/search")
    expected = local.search(query, View(k=5, page=2), kind=kind, bm25_weight=0.4).to_dict()
    assert answer["parts"] == expected["parts"] == {"parts": 2, "answered": ["part-000", "part-001"],
                                                    "missing": {}, "complete": True}
    assert _hits(answer["hits"]) == _hits(expected["hits"]) and answer["hits"]
    assert [(h["title"], h["snippet"]) for h in answer["hits"]] == [(h["title"], h["snippet"]) for h in expected["hits"]]
    assert (answer["matches"], answer["pool"], answer["pages"]) == (expected["matches"], expected["pool"],
                                                                    expected["pages"])


def test_explorer_api_documents_compare_and_status_through_the_front(client, local, address):
    from gaia_lite.app.api import endpoints

    here = {fn.__name__: fn for fn in endpoints(local)}
    document, compare = here["document"], here["compare"]
    assert client.predict("doc0230", True, api_name="/document") == document("doc0230")
    there = client.predict("cancer tumor", 4, "rrf", 0.5, True, "minmax", api_name="/compare")
    here = compare("cancer tumor", 4, "rrf", 0.5, True, "minmax")
    assert {side: [h["doc_id"] for h in hits] for side, hits in there["lists"].items()} == \
           {side: [h["doc_id"] for h in hits] for side, hits in here["lists"].items()}
    assert client.predict(api_name="/status") == {"retrievers": list(KINDS), "dense": {"state": "ready"},
                                                  "served": address}
    with pytest.raises(Exception, match="needs the whole corpus on this machine"):
        client.predict(api_name="/overview")
    with pytest.raises(Exception, match="needs the whole corpus on this machine"):
        client.predict(api_name="/audit")
    with pytest.raises(Exception, match="needs the whole corpus on this machine"):
        client.predict("cancer tumor", api_name="/count")


def test_the_served_explorer_says_what_needs_the_corpus_here(address):
    explorer = Explorer(address)
    assert explorer.served == address and explorer.filter_choices() == {} and not explorer.has_duplicates
    for attempt in (explorer.overview, lambda: explorer.contamination(hub="owner/bench"),
                    lambda: explorer.search("cancer", View.make(filters={"source": ["thesis"]}))):
        with pytest.raises(ConfigError, match=f"needs the whole corpus on this machine.*served at {address}"):
            attempt()
    res = explorer.search("cancer", View(hide_duplicates=True))
    assert res.rows and "near duplicates are not hidden: the duplicate analysis needs the corpus on this machine" \
        in res.notes
    html = views.results_table(res)
    assert 'id="gl-parts">2 of 2 parts answered' in html and "gl-parts-missing" not in html


def test_browser_shows_the_parts_and_what_is_unavailable(app, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(app, wait_until="networkidle")
    assert "served at http://127.0.0.1:" in page.locator("#gl-corpus").inner_text()
    page.locator("#gl-query textarea, #gl-query input").first.fill("gene expression")
    page.locator("#gl-search").click()
    page.wait_for_selector("#gl-results-table tbody tr", timeout=60_000)
    assert page.locator("#gl-parts").inner_text() == "2 of 2 parts answered"
    page.locator("#gl-results-table button.gl-open").first.click()  # the document, from the front
    page.wait_for_selector("#gl-document", timeout=30_000)
    assert "doc0" in page.locator("#gl-document").inner_text()
    page.get_by_role("tab", name="Overview").click()
    page.wait_for_selector("#gl-overview-unavailable", timeout=10_000)
    assert "needs the whole corpus on this machine" in page.locator("#gl-overview-unavailable").inner_text()
    page.get_by_role("tab", name="Contamination").click()
    assert page.locator("#gl-contamination-unavailable").is_visible()
    page.get_by_role("tab", name="Count").click()
    assert "needs the whole corpus on this machine" in page.locator("#gl-count-unavailable").inner_text()
    assert not errors, errors
    page.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
        yield b
        b.close()


def test_a_space_over_the_address_carries_no_index(address, parted, tmp_path):
    from gaia_lite.app.space import build_space

    space = build_space(address, out=tmp_path / "space")
    assert not (space / "indexes").exists()
    assert json.dumps(address) in (space / "app.py").read_text()
    readme = (space / "README.md").read_text()
    assert parted.meta.fingerprint in readme and f"{len(parted):,} documents" in readme and address in readme


def test_a_part_that_stops_answering_is_named_never_left_out_in_silence(served, client, parted):
    """Last: part-001's folder moved away and its replica killed, so that Serve cannot restart it."""
    from gaia_lite.serve.app import replica_processes

    folder, address = served
    shutil.move(folder / "parts" / "part-001", folder.parent / "away")
    for replica in replica_processes(parted.name, "part-001"):
        os.kill(replica["pid"], signal.SIGKILL)
    time.sleep(1)
    # Each call waits the part timeout for part-001: these search with the dense side only (one call, then one
    # for the documents).
    status, out, err = _cli(["search", address, "gene expression", "-k", "5", "--retriever", "dense"])
    assert status == 3 and out.count("doc0") == 5 and all(line.split()[2] < "doc0120" for line in
                                                             out.splitlines() if line.split()[0].isdigit())
    assert "partial answer, 1 of 2 parts answered; missing part-001" in err, err
    with pytest.raises(PartsMissingError, match="1 of 2 parts did not answer \\(part-001: "):
        open_searcher(address).count("gene expression")
    answer = client.predict("gene expression", "dense", api_name="/search")
    assert answer["parts"]["complete"] is False and list(answer["parts"]["missing"]) == ["part-001"]
    assert answer["hits"] and all(h["doc_id"] < "doc0120" for h in answer["hits"])
    html = views.results_table(Explorer(address).search("gene expression", kind="dense"))
    assert 'id="gl-parts-missing"><b>Partial answer: 1 of 2 parts answered.</b> Missing: <b>part-001</b>' in html
