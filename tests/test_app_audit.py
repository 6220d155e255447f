"""The explorer's Overview of a corpus's audit (plots, tables, downloads), the Count box beside search, the
``/audit`` and ``/count`` endpoints, and two things users met on the page: a single listed benchmark is chosen
already, and an error shows once, as its message. Through the Python handlers, the built page, the API and a
real browser."""

from __future__ import annotations

import pytest

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from gaia_lite.analysis import count_phrase, find_audit
from gaia_lite.analysis.text import words
from gaia_lite.app import views
from gaia_lite.app.explorer import Explorer
from gaia_lite.corpus import Source, build_corpus
from gaia_lite.errors import InputError, MissingArtifactError
from gaia_lite.sparse import build_sparse_index

from .conftest import serving, write_jsonl
from .test_app_server import _chromium

BOILERPLATE = "click here to subscribe to our newsletter"
SOURCES = ["web", "books", "code"]


def _docs() -> list[dict]:
    """Thirty documents of varied length, with a planted phrase, personal data, offensive text and metadata (a
    URL, a date, a source)."""
    fillers = ["rivers carry water to the sea", "a search engine ranks pages", "bread rises in a warm oven",
               "the committee met on tuesday"]
    docs = []
    for i in range(30):
        text = " ".join(fillers[(i + k) % 4] for k in range(1 + i % 5))
        if i % 3 == 0:
            text += " " + BOILERPLATE
        if i % 7 == 0:
            text += f" mail person{i}@example.org today"
        if i == 4:
            text = "you are a stupid idiot and a worthless piece of shit " + text
        docs.append({"_id": f"d{i:02d}", "title": f"Doc {i}", "text": text, "source": SOURCES[i % 3],
                     "url": ["https://www.example.com/a", "http://news.bbc.co.uk/x"][i % 2],
                     "date": f"202{i % 3}-0{1 + i % 4}-15"})
    return docs


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """A small corpus with its BM25 index and a real audit (n = 1, 2, 3), and one listed benchmark."""
    base = tmp_path_factory.mktemp("app_audit")
    corpus, _ = build_corpus(str(write_jsonl(base / "d.jsonl", _docs())), "audited", root=base / "root",
                             progress=False)
    build_sparse_index(corpus, progress=False)
    report = find_audit(corpus, ngrams="1,2,3", top=15, url_column="url", date_column="date", progress=False,
                        log=None)
    bench = write_jsonl(base / "bench.jsonl", [{"id": "q1", "question": BOILERPLATE},
                                               {"id": "q2", "question": "nothing of the kind is in there at all"}])
    return corpus, report, bench


@pytest.fixture(scope="module")
def app(audited):
    corpus, _, bench = audited
    return Explorer(corpus, benchmarks={"bench": Source(str(bench))})


def _component(demo, kind, label: str):
    """The one component of class ``kind`` labelled ``label`` in ``demo``."""
    found = [b for b in demo.blocks.values() if isinstance(b, kind) and getattr(b, "label", None) == label]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("names, chosen", [(["bench"], "bench"), (["bench", "other"], None), ([], None)])
def test_a_single_listed_benchmark_is_chosen_already(tiny_corpus, tmp_path, names, chosen):
    import gradio as gr

    from gaia_lite.app.ui import build_demo

    bench = write_jsonl(tmp_path / "b.jsonl", [{"id": "q1", "question": "a question"}])
    demo = build_demo(Explorer(tiny_corpus, benchmarks={n: Source(str(bench)) for n in names}))
    assert _component(demo, gr.Dropdown, "Listed benchmark").value == chosen


def test_a_page_error_is_one_notice_and_leaves_the_outputs_as_they_were(caplog, monkeypatch):
    """On the page, an error is its message once (a raised gr.Error would also put a red "Error" box on each
    output); from an API endpoint it stays an error, for the client to raise. (The browser test sees the page.)"""
    import gradio as gr

    from gaia_lite.app import ui
    from gaia_lite.errors import InputError

    def fails(what):
        if what == "input":
            raise InputError("choose <one> benchmark")
        raise RuntimeError("a secret detail")

    shown = []
    monkeypatch.setattr(ui, "_notice", shown.append)
    assert ui._on_page(fails)("input") == gr.skip()
    assert ui._on_page(fails)("bug") == gr.skip()
    assert shown == ["choose &lt;one&gt; benchmark", "Something went wrong; the server log has the details."]
    assert "a secret detail" in caplog.text  # the details go to the server log, never to the page
    with pytest.raises(gr.Error) as raised:
        ui._safe(fails)("input")
    assert raised.value.message == "choose &lt;one&gt; benchmark"


# --- the views, in plain Python ---------------------------------------------------------------------------------

def test_the_views_hold_the_audits_numbers(app, audited):
    corpus, report, _ = audited
    s, folder, docs = report.summary, report.folder, _docs()
    assert app.audit.stored and app.audit_summary() == json.loads((folder / "summary.json").read_text())
    stored = pq.read_table(folder / "lengths.parquet").to_pylist()
    for measure in ("chars", "words", "tokens"):
        frame = app.audit.lengths(measure)
        assert frame["documents"].sum() == len(docs)
        rows = sorted((r["low"], r["high"], r["documents"]) for r in stored if r["measure"] == measure)
        assert list(zip(frame["low"], frame["high"], frame["documents"])) == rows
    # Lengths in words, by brute force: each document in the one bin that holds its word count.
    lengths, per_bin = app.audit.lengths("words"), Counter()
    for d in docs:
        n = len(words(d["title"])) + len(words(d["text"]))
        (at,) = [i for i, (lo, hi) in enumerate(zip(lengths["low"], lengths["high"])) if lo <= n < hi]
        per_bin[at] += 1
    assert [per_bin[i] for i in range(len(lengths))] == lengths["documents"].tolist()
    # The most common n-grams: exact counts, equal to Counter's over the documents' words.
    for n in (1, 2, 3):
        frame = app.audit.ngrams(n)
        counts = Counter()
        for d in docs:
            w = words(d["title"]) + words(d["text"])
            counts.update(" ".join(w[i:i + n]) for i in range(len(w) - n + 1))
        assert [counts[g] for g in frame["ngram"]] == list(frame["count"])
        assert list(frame["count"]) == sorted(counts.values(), reverse=True)[:len(frame)]
    with pytest.raises(InputError, match="n = 1, 2, 3"):
        app.audit.ngrams(5)
    personal = app.audit.personal_data().set_index("type")
    assert personal.loc["email", "documents"] == s["personal_data"]["types"]["email"]["documents"] == 5
    languages = app.audit.languages()
    assert languages["documents"].tolist() == sorted(languages["documents"], reverse=True)
    assert dict(zip(languages["language"], languages["documents"])) == {
        r["language"]: r["documents"] for r in pq.read_table(folder / "languages.parquet").to_pylist()}
    assert app.audit.metadata_columns() == {"url": "domain", "date": "month", "source": "category"}
    months = app.audit.metadata("date")
    assert months["value"].tolist() == sorted(months["value"])  # a timeline, in time order
    assert dict(zip(months["value"], months["documents"])) == dict(Counter(d["date"][:7] for d in docs))
    assert dict(zip(*app.audit.metadata("source").to_dict("list").values())) == {"web": 10, "books": 10, "code": 10}
    assert app.audit.metadata("url")["value"].tolist() == ["bbc.co.uk", "example.com"]  # 15 each: ties by name


def test_the_summary_and_examples_are_shown_escaped_and_redacted(app, audited):
    _, report, _ = audited
    s = report.summary
    html = views.audit_summary(s)
    assert f"<b id='gl-audit-words'>{s['text']['words']:,}</b>" in html
    assert f"<b id='gl-audit-offensive'>{s['offensive']['documents']:,}</b>" in html
    offensive = app.audit.examples("offensive_examples")
    assert any(r["id"] == "d04" for r in offensive)
    shown = views.examples([{"id": "<x>", "score": 0.9, "text": "mail a@example.org <b>"}], label="score")
    assert "a@example.org" not in shown and "&lt;b&gt;" in shown and 'data-doc-id="&lt;x&gt;"' in shown
    assert "a@example.org" in views.examples([{"id": "x", "score": 0.9, "text": "mail a@example.org"}],
                                             label="score", redact=False)


def test_count_equals_count_phrase_and_needs_an_audit(app, audited, tiny_corpus):
    corpus, _, _ = audited
    for phrase, limit in ((BOILERPLATE, 100), ("Click HERE", 3), ("no such words here", 10)):
        got, expected = app.count(phrase, limit), count_phrase(corpus, phrase, limit=limit)
        assert (got.occurrences, got.documents, got.ids, got.per_document) == (
            expected.occurrences, expected.documents, expected.ids, expected.per_document)
    c = app.count(BOILERPLATE, 3)
    assert c.documents == 10 and c.ids == ["d00", "d03", "d06"]
    html = views.phrase_count(c)
    assert '<b id="gl-count-occurrences">10</b>' in html and "the first 3 of 10 documents" in html
    assert html.count('class="gl-open"') == 3
    plain = Explorer(tiny_corpus)
    with pytest.raises(MissingArtifactError, match="run `gaia-lite audit tiny`"):
        plain.count("python")
    with pytest.raises(MissingArtifactError, match="run `gaia-lite audit tiny`"):
        plain.audit_summary()
    assert "run `gaia-lite audit tiny`" in views.no_audit("tiny")


def test_tables_download_as_stored(app, tmp_path):
    import pyarrow.csv as pcsv

    from gaia_lite.app.exports import write_table

    table = app.audit.table("ngrams")
    assert pq.read_table(write_table(table, tmp_path / "n.parquet")).equals(table)
    back = pcsv.read_csv(write_table(table, tmp_path / "n.csv"))
    assert back.column("ngram").to_pylist() == table.column("ngram").to_pylist()
    assert [json.loads(x) for x in back.column("examples").to_pylist()] == table.column("examples").to_pylist()


def test_linked_duplicates_and_overlap_show_their_numbers(tmp_path):
    """The audit's summary links the stored duplicate analysis and each overlap with another corpus; the Overview
    shows their numbers, as stored."""
    from gaia_lite.analysis import find_duplicates, find_overlap

    docs = _docs()
    a, _ = build_corpus(str(write_jsonl(tmp_path / "a.jsonl", docs + [dict(docs[1], _id="copy")])), "a",
                        root=tmp_path / "root", progress=False)
    b, _ = build_corpus(str(write_jsonl(tmp_path / "b.jsonl", docs[:6])), "b", root=tmp_path / "root",
                        progress=False)
    duplicates = find_duplicates(a, progress=False, log=None)
    overlap = find_overlap(a, b, progress=False, log=None).to_dict()
    s = find_audit(a, ngrams="1", languages=False, offensive=False, personal_data=False, progress=False,
                   log=None).summary
    html = views.audit_summary(s)
    assert s["duplicates"]["exact"]["duplicates"] == duplicates.exact["duplicates"] == 1  # the planted copy
    assert f"exact duplicates: 1 ({100 * duplicates.exact['rate']:.2f}%)" in html
    for side in ("a", "b"):
        x = overlap[side]
        assert (f"{x['corpus']}: <b>{x['overlapping']:,}</b> of {x['with_ngrams']:,} documents "
                f"({100 * x['document_rate']:.2f}%)") in html
    # Every document of b is one of a's: each that has n-grams overlaps.
    assert overlap["b"]["overlapping"] == overlap["b"]["with_ngrams"] > 0 and f"{overlap['shared']:,} shared" in html
    # A summary written by another version is linked, not fatal.
    assert "overlap stored at overlap/b" in views.audit_summary(s | {"overlap": [{"path": "overlap/b"}]})
    stale = views.audit_summary(s | {"duplicates": {"path": "duplicates", "error": "made from <other> documents"}})
    assert "duplicates: not used (made from &lt;other&gt; documents)" in stale


def test_a_stale_audit_is_logged_and_ignored(audited, tmp_path, caplog):
    """An audit made from other documents (the corpus rebuilt since) is not read: the page says why and what to
    run, counting says so too, and the server log has it."""
    import shutil

    corpus, _, _ = audited
    other, _ = build_corpus(str(write_jsonl(tmp_path / "o.jsonl", _docs()[:10])), "other", root=tmp_path / "root",
                            progress=False)
    build_sparse_index(other, progress=False)
    shutil.copytree(corpus.folder / "audit", other.folder / "audit")
    with caplog.at_level("WARNING", logger="gaia_lite.app"):
        explorer = Explorer(other)
    assert not explorer.audit.stored and explorer.audit.problem
    assert "audit not used" in caplog.text
    with pytest.raises(MissingArtifactError, match="run `gaia-lite audit other`"):
        explorer.count("click here")
    note = views.no_audit("other", explorer.audit.problem)
    assert "the stored audit is not used" in note and "run `gaia-lite audit other`" in note


# --- the API and a real browser ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(app):
    with serving(app) as address:
        yield address


def test_api_audit_and_count(server, audited):
    from gradio_client import Client

    corpus, report, _ = audited
    client = Client(server, verbose=False)
    assert client.predict(api_name="/audit") == json.loads((report.folder / "summary.json").read_text())
    got = client.predict(BOILERPLATE, 5, api_name="/count")
    expected = count_phrase(corpus, BOILERPLATE, limit=5).to_dict()
    assert {k: v for k, v in got.items() if k != "seconds"} == {k: v for k, v in expected.items() if k != "seconds"}
    with pytest.raises(Exception, match="has no words"):  # a phrase without words: its one-line message
        client.predict("!!!", api_name="/count")


def test_browser_without_an_audit_keeps_the_computed_overview(tiny_corpus):
    """A corpus with no audit: the Overview computed from the corpus, under a note saying what to run; the Count
    tab says the same."""
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with serving(Explorer(tiny_corpus)) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        page = browser.new_page()
        page.goto(url, wait_until="networkidle")
        page.get_by_role("tab", name="Overview").click()
        page.wait_for_selector("#gl-no-audit", timeout=60_000)
        assert "run `gaia-lite audit tiny`" in page.locator("#gl-no-audit").inner_text()
        assert "most frequent words" in page.locator("#gl-overview").inner_text()
        assert page.locator("#gl-audit").count() == 0
        page.get_by_role("tab", name="Count").click()
        assert "run `gaia-lite audit tiny`" in page.locator("#gl-count-no-audit").inner_text()
        browser.close()


def test_browser_overview_count_contamination_and_one_error(server, audited):
    from playwright.sync_api import sync_playwright

    corpus, report, _ = audited
    s = report.summary
    executable = _chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server, wait_until="networkidle")
        # The Overview: the audit's numbers, and a plot drawn for each part.
        page.get_by_role("tab", name="Overview").click()
        page.wait_for_selector("#gl-audit", timeout=60_000)
        assert page.locator("#gl-audit-words").inner_text() == f"{s['text']['words']:,}"
        for plot in ("lengths", "ngrams", "personal", "languages", "metadata"):
            page.wait_for_selector(f"#gl-audit-{plot}-plot canvas, #gl-audit-{plot}-plot svg", timeout=30_000)
        # Another n: its table (and plot) follow.
        page.locator("#gl-audit-n label", has_text="3").click()
        page.wait_for_function("(g) => document.querySelector('#gl-audit-ngrams').innerText.includes(g)",
                               arg=app_top(corpus, 3), timeout=30_000)
        # A table downloaded from the page equals the stored one.
        page.get_by_label("parquet").check()
        page.locator("#gl-audit-download").click()
        link = page.locator("#gl-audit-file a[download]").first
        link.wait_for(timeout=30_000)
        with page.expect_download() as download:
            link.click()
        stored = pq.read_table(report.folder / "ngrams.parquet")
        assert pq.read_table(Path(download.value.path())).equals(stored)
        # And as CSV (the default format): the same rows, each list of example ids a JSON array.
        page.get_by_label("csv").check()
        page.locator("#gl-audit-download").click()
        page.wait_for_function("() => [...document.querySelectorAll('#gl-audit-file a[download]')]"
                               ".some(a => a.href.endsWith('.csv'))", timeout=30_000)
        with page.expect_download() as download:
            page.locator("#gl-audit-file a[download]").first.click()
        import pyarrow.csv as pcsv

        back = pcsv.read_csv(Path(download.value.path())).to_pylist()
        assert [r | {"examples": json.loads(r["examples"])} for r in back] == stored.to_pylist()
        # Offensive examples only when asked for.
        assert "stupid idiot" not in page.content()
        page.locator("#gl-audit-show-offensive").click()
        page.wait_for_selector("#gl-audit-offensive-examples table", timeout=30_000)
        assert "stupid idiot" in page.locator("#gl-audit-offensive-examples").inner_text()
        # Count: the numbers of count_phrase, and a listed id opens its document.
        expected = count_phrase(corpus, "Click here", limit=100)
        page.get_by_role("tab", name="Count").click()
        page.locator("#gl-count-phrase textarea, #gl-count-phrase input").first.fill("Click here")
        page.locator("#gl-count-run").click()
        page.wait_for_selector("#gl-count-table", timeout=30_000)
        assert page.locator("#gl-count-occurrences").inner_text() == f"{expected.occurrences:,}"
        assert page.locator("#gl-count-documents").inner_text() == f"{expected.documents:,}"
        ids = [b.get_attribute("data-doc-id") for b in page.locator("#gl-count-table button.gl-open").all()]
        assert ids == expected.ids
        page.locator('#gl-count-table button.gl-open[data-doc-id="d03"]').click()
        page.wait_for_selector("#gl-document", timeout=30_000)
        assert "d03" in page.locator("#gl-document").inner_text()
        # An error: its message once, and no "Error" box on the outputs, which keep their value.
        page.get_by_role("tab", name="Count").click()
        page.locator("#gl-count-phrase textarea, #gl-count-phrase input").first.fill("!!!")
        page.locator("#gl-count-run").click()
        toast = page.locator("[data-testid=toast-body]")
        toast.first.wait_for(timeout=30_000)
        assert toast.count() == 1 and "has no words" in toast.inner_text()
        boxes = ("() => [...document.querySelectorAll('.error')]"
                 ".filter(e => !e.closest('[data-testid=toast-body]')).length")
        assert page.evaluate(boxes) == 0  # before the fix, one "Error" box on each output of the event
        assert page.locator("#gl-count-occurrences").inner_text() == f"{expected.occurrences:,}"
        page.locator("[data-testid=toast-close]").click()
        # The one listed benchmark is chosen already: Check works at once.
        page.get_by_role("tab", name="Contamination").click()
        page.get_by_label("Text field(s), comma-separated (default: text, question, query...)").fill("question")
        page.locator("#gl-contamination-run").click()
        page.wait_for_selector("#gl-contamination", timeout=60_000)
        assert "1 of 2" in page.locator("#gl-contamination").inner_text()
        assert page.locator("[data-testid=toast-body]").count() == 0
        assert not errors, errors
        browser.close()


def app_top(corpus, n: int) -> str:
    """The most common n-gram of ``corpus``'s audit, read from its table."""
    rows = pq.read_table(corpus.folder / "audit" / "ngrams.parquet").to_pylist()
    return min((r for r in rows if r["n"] == n), key=lambda r: r["rank"])["ngram"]
