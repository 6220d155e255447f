"""The explorer's analyses: near duplicates hidden from results, duplicates in the overview, the Contamination
tab (listed, uploaded and Hub benchmarks; spans marked in documents; redaction; exports), through the Python
handlers, the app's API and a real browser."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gaia_lite.analysis import find_contamination, find_duplicates, read_benchmark
from gaia_lite.app import views
from gaia_lite.app.explorer import Explorer
from gaia_lite.app.search import View
from gaia_lite.corpus import Source, build_corpus
from gaia_lite.errors import InputError
from gaia_lite.sparse import build_sparse_index

from .conftest import free_port, write_jsonl
from .test_app_server import _chromium  # noqa: F401 - the browser comes from there

BASE = ("open source search engine library written in java with an inverted index and positional postings "
        "that ranks documents by relevance to every query typed")
DOCS = [
    {"_id": "a1", "title": "Lucene", "text": BASE},
    {"_id": "a2", "title": "Lucene again", "text": BASE.replace("typed", "given")},  # a near duplicate of a1
    {"_id": "a3", "title": "LUCENE", "text": BASE.upper() + "!"},  # an exact duplicate of a1 (title aside)
    {"_id": "b1", "title": "Search", "text": "a search engine answers queries over a large collection of pages"},
    {"_id": "c1", "title": "Contact", "text": "write to jane.doe@example.com about the search engine index today"},
    {"_id": "d1", "title": "Running", "text": "running is a method of terrestrial locomotion on foot"},
]
BENCH = [
    {"id": "q1", "question": "which open source search engine library written in java with an inverted index and "
                             "positional postings"},
    {"id": "q2", "question": "write to jane.doe@example.com about the search engine index"},
    {"id": "q3", "question": "a question found nowhere in the corpus at all whatsoever"},
]


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    base = tmp_path_factory.mktemp("analysed")
    corpus, _ = build_corpus(str(write_jsonl(base / "docs.jsonl", DOCS)), "analysed", root=base / "root",
                             progress=False)
    build_sparse_index(corpus, progress=False)
    report = find_duplicates(corpus, shingle=3, progress=False, log=None)
    bench = write_jsonl(base / "bench.jsonl", BENCH)
    return corpus, report, bench


@pytest.fixture(scope="module")
def app(analysed):
    corpus, _, bench = analysed
    return Explorer(corpus, benchmarks={"bench": Source(str(bench))})


def test_hiding_near_duplicates_keeps_the_best_ranked_of_each_cluster(app):
    query = "open source search engine library java inverted index"
    shown = [r.hit.doc_id for r in app.search(query, View(k=6), kind="bm25").rows]
    assert {"a1", "a2", "a3"} <= set(shown)
    hidden = app.search(query, View(k=6, hide_duplicates=True), kind="bm25")
    kept = [r.hit.doc_id for r in hidden.rows]
    cluster = [d for d in shown if d in ("a1", "a2", "a3")]
    assert kept == [d for d in shown if d not in cluster[1:]]  # the first of the cluster stays, in its place
    assert "2 near duplicates of better-ranked results hidden" in hidden.notes


def test_without_an_analysis_nothing_is_hidden_and_the_page_says_why(tmp_path):
    corpus, _ = build_corpus(str(write_jsonl(tmp_path / "d.jsonl", DOCS)), "plain", root=tmp_path, progress=False)
    build_sparse_index(corpus, progress=False)
    e = Explorer(corpus)
    res = e.search("search engine", View(k=6, hide_duplicates=True), kind="bm25")
    plain = e.search("search engine", View(k=6), kind="bm25")
    assert [r.hit for r in res.rows] == [r.hit for r in plain.rows] and len(res.rows) == 5
    assert any("gaia-lite duplicates" in n for n in res.notes)
    assert e.overview()["duplicates"] is None
    assert "not analysed" in views.overview(e.overview(), "plain")


def test_the_overview_shows_the_stored_duplicates(app, analysed):
    _, report, _ = analysed
    d = app.overview()["duplicates"]
    assert d["exact"]["duplicates"] == report.exact["duplicates"] == 1
    assert d["near"]["clusters"] == report.near["clusters"] and d["near"]["documents"] >= 3
    html = views.overview(app.overview(), "analysed")
    assert "exact duplicates: <b>1</b>" in html and "a1 (" in html


def test_the_contamination_tab_equals_the_python_api(app, analysed):
    corpus, _, bench = analysed
    api = find_contamination(corpus, read_benchmark(str(bench), "question"), progress=False, log=None)
    for report in (app.contamination(benchmark="bench", fields="question"),
                   app.contamination(upload=str(bench), fields=" question , ")):
        assert report.items == api.items and report.rate == pytest.approx(2 / 3)


def test_benchmark_choices_are_bounded_and_never_a_server_path(app, analysed, monkeypatch):
    from gaia_lite.app import analysis as module

    _, _, bench = analysed
    for hub in ("/etc/passwd", "../secrets/x", str(bench), "indexes"):
        with pytest.raises(InputError, match="not a Hub dataset name"):
            app.contamination(hub=hub)
    with pytest.raises(InputError, match="choose one benchmark"):
        app.contamination(benchmark="bench", hub="owner/name")
    with pytest.raises(InputError, match="unknown benchmark 'other'"):
        app.contamination(benchmark="other")
    with pytest.raises(InputError, match="upload a JSON Lines"):
        app.contamination(upload="/etc/passwd")
    monkeypatch.setattr(module, "MAX_BENCHMARK_ITEMS", 2)
    with pytest.raises(InputError, match="at most 2"):
        app.contamination(benchmark="bench", fields="question")


def test_spans_are_marked_in_documents_with_personal_data_redacted(app):
    report = app.contamination(benchmark="bench", fields="question")
    q2 = next(r for r in report.items if r.item_id == "q2")
    o = q2.longest
    assert o.doc_id == "c1" and "jane.doe@example.com" in o.span
    html = views.contamination(report)
    assert "jane.doe@example.com" not in html and "[EMAIL]" in html
    assert f'data-doc-id="c1" data-field="text" data-start="{o.start}" data-end="{o.end}"' in html
    doc = app.document("c1", span=(o.field, o.start, o.end))
    assert '<mark class="gl-span" id="gl-span">' in doc.html and "jane.doe@example.com" not in doc.html
    assert "about the search engine index</mark>" in doc.html
    assert "jane.doe@example.com" in views.contamination(report, redact=False)
    # A span in the title is shown above the text; a bad span is ignored, never an error.
    title_doc = app.document("a1", span=("title", 0, 6))
    assert "in the title" in title_doc.html and '<mark class="gl-span" id="gl-span">Lucene</mark>' in title_doc.html
    assert "gl-span" not in app.document("a1", span=("text", "x", None)).html


def test_contamination_exports_hold_every_item_redacted(app):
    report = app.contamination(benchmark="bench", fields="question")
    lines = [json.loads(x) for x in app.contamination_export(report, "jsonl").splitlines()]
    assert [x["item_id"] for x in lines] == ["q1", "q2", "q3"] and [x["flagged"] for x in lines] == [True, True, False]
    assert "jane.doe@example.com" not in json.dumps(lines)
    csv_text = app.contamination_export(report, "csv")
    assert csv_text.splitlines()[0].startswith("item_id,flagged,overlap") and "[EMAIL]" in csv_text
    assert "jane.doe@example.com" in app.contamination_export(report, "jsonl", redact=False)


# --- the app's API and a real browser ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(app):
    from gaia_lite.app import launch

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    port = free_port()
    demo = launch(app, host="127.0.0.1", port=port, block=False, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_the_api_checks_contamination_and_hides_duplicates(server, analysed):
    from gradio_client import Client

    corpus, _, bench = analysed
    client = Client(server, verbose=False)
    answer = client.predict("bench", None, "question", "", None, api_name="/contamination")
    expected = find_contamination(corpus, read_benchmark(str(bench), "question"), progress=False, log=None).to_dict()
    for d in (answer, expected):
        d["summary"].pop("seconds")
    assert answer == expected
    hits = client.predict("open source search engine library java inverted index", "bm25", "rrf", 0.5, 6, 1, True,
                          None, "minmax", True, api_name="/search")["hits"]
    assert len({h["doc_id"] for h in hits} & {"a1", "a2", "a3"}) == 1


def test_browser_contamination_tab_opens_the_document_at_the_shared_span(server):
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server, wait_until="networkidle")
        page.get_by_role("tab", name="Contamination").click()
        page.get_by_label("Listed benchmark").click()
        page.get_by_role("option", name="bench").click()
        page.get_by_label("Text field(s), comma-separated (default: text, question, query...)").fill("question")
        page.locator("#gl-contamination-run").click()
        page.wait_for_selector("#gl-contamination table", timeout=60_000)
        assert "2 of 3" in page.locator("#gl-contamination").inner_text()
        assert "jane.doe@example.com" not in page.content()
        files = page.locator("#gl-contamination-files a[download]")
        files.first.wait_for(timeout=30_000)
        assert files.count() == 2  # every item, as JSON Lines and CSV
        page.locator('#gl-contamination button.gl-open[data-doc-id="c1"]').click()
        page.wait_for_selector("#gl-document #gl-span", timeout=30_000)
        assert page.locator("#gl-span").inner_text().endswith("about the search engine index")
        assert "[EMAIL]" in page.locator("#gl-span").inner_text()
        assert not errors, errors
        browser.close()


# --- exports stay bounded -------------------------------------------------------------------------------------

def test_exports_are_aged_out_while_running_and_removed_at_exit(app, tmp_path):
    import subprocess
    import sys
    import time

    from gaia_lite.app.ui import EXPORT_MAX_AGE_S, build_demo

    demo = build_demo(app)
    exports = demo.exports
    assert exports.folder.is_dir() and exports.folder.name.startswith("gaia_lite_export_")
    first = exports.new("a.csv")
    first.write_text("x")
    exports.max_age = 0.05
    time.sleep(0.1)
    second = exports.new("b.csv")  # making a new export prunes the old one
    second.write_text("y")
    assert not first.exists() and second.exists()
    exports.close()
    assert not exports.folder.exists()
    # A process that exports and exits leaves no folder behind.
    script = ("from gaia_lite.app.ui import Exports\n"
              "e = Exports()\n"
              "e.new('r.jsonl').write_text('{}')\n"
              "print(e.folder)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip()
    assert out.endswith(Path(out).name) and Path(out).name.startswith("gaia_lite_export_")
    assert not Path(out).exists()
    assert demo.delete_cache == (EXPORT_MAX_AGE_S, EXPORT_MAX_AGE_S)  # Gradio ages out its own copies too
