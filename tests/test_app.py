"""The explorer's handlers and HTML, without a browser: search modes, phrases, filters, paging, documents,
overview, exports, bounds, and untrusted text (hostile HTML, personal data, huge documents)."""

from __future__ import annotations

import csv
import io
import json
import os
from html.parser import HTMLParser

import pytest

from gaia_lite.app import views
from gaia_lite.app.explorer import Explorer
from gaia_lite.app.search import MAX_QUERY_CHARS, View, parse_query
from gaia_lite.config import DenseConfig, FusionConfig, RetrieverConfig
from gaia_lite.errors import ConfigError, InputError, MissingArtifactError
from gaia_lite.retriever import open_searcher

from .conftest import TINY_DOCS, write_jsonl

HOSTILE = [
    {"_id": "x1", "title": "<script>window.__xss=1</script>Scripts",
     "text": "A search engine page with <script>window.__xss=2</script> inside and <b>bold</b> markup.",
     "source": "forum", "year": 2021},
    {"_id": "x2", "title": "Images",
     "text": 'An image search engine <img src=x onerror="window.__xss=3"> and a "><svg onload=alert(1)> payload.',
     "source": "forum", "year": 2022},
    {"_id": "x3", "title": "Contact",
     "text": "Write to jane.doe@example.com or call +1 (555) 123-4567; the search engine server is 192.168.10.20. "
             "Key: hf_abcdefghijklmnopqrstuvwxyzABCDEFGH.",
     "source": "mail", "year": 2021},
    {"_id": "x4", "title": "Huge", "text": "search engine " + "lorem ipsum dolor " * 150_000,
     "source": "wiki", "year": 2020},
    {"_id": "x5", "title": "Empty", "text": "", "source": "wiki", "year": 2020},
    *[{**d, "source": "wiki", "year": 2019} for d in TINY_DOCS],
]
SECRETS = ["jane.doe@example.com", "555) 123-4567", "192.168.10.20", "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH"]


@pytest.fixture(scope="session")
def hostile_corpus(tmp_path_factory, encoder):
    """Hostile HTML, personal data, a 2.7 MB document, an empty one, and metadata to filter on."""
    from gaia_lite.corpus import build_corpus
    from gaia_lite.dense import build_dense_index
    from gaia_lite.sparse import build_sparse_index

    src = write_jsonl(tmp_path_factory.mktemp("hostile_src") / "hostile.jsonl", HOSTILE)
    corpus, _ = build_corpus(str(src), "hostile", root=tmp_path_factory.mktemp("hostile_root"), progress=False)
    build_sparse_index(corpus, progress=False)
    build_dense_index(corpus, encoder=encoder, progress=False)
    return corpus


@pytest.fixture(scope="session")
def explorer(hostile_corpus, encoder):
    return Explorer(hostile_corpus, encoder=encoder)


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(name for name, _ in attrs)

    def handle_data(self, data):
        self.text.append(data)


def _parse(html: str) -> _Tags:
    p = _Tags()
    p.feed(html)
    return p


SAFE_TAGS = {"div", "b", "table", "thead", "tbody", "tr", "th", "td", "button", "span", "mark", "br", "p", "h3", "h4",
             "ol", "li", "small", "code", "ul"}
SAFE_ATTRS = {"class", "id", "title", "data-doc-id"}


def _assert_safe(html: str):
    p = _parse(html)
    assert set(p.tags) <= SAFE_TAGS, set(p.tags) - SAFE_TAGS
    assert set(p.attrs) <= SAFE_ATTRS, set(p.attrs) - SAFE_ATTRS
    return "".join(p.text)


# --- search ----------------------------------------------------------------------------------------------------

def test_hybrid_results_equal_the_hybrid_searcher(explorer, hostile_corpus, encoder):
    reference = open_searcher(hostile_corpus, kind="hybrid", encoder=encoder)
    for fusion, w, norm in [("rrf", 0.5, "minmax"), ("weighted", 0.3, "zscore"), ("weighted", 0.8, "minmax")]:
        expected = reference.search("open source search library", 5,
                                    FusionConfig(method=fusion, bm25_weight=w, normalization=norm, depth=100))
        got = explorer.search("open source search library", View(k=5), kind="hybrid", method=fusion, bm25_weight=w,
                              normalization=norm).rows
        assert [(r.hit.doc_id, r.hit.score, r.hit.bm25_rank, r.hit.dense_rank, r.hit.found_by) for r in got] == \
            [(h.doc_id, h.score, h.bm25_rank, h.dense_rank, h.found_by) for h in expected]


def test_bm25_and_dense_modes_equal_their_searchers(explorer):
    rows = explorer.search("search engine", View(k=4), kind="bm25").rows
    assert [(r.hit.doc_id, r.hit.score) for r in rows] == [(h.doc_id, h.score) for h in explorer.bm25.search("search engine", 4)]
    rows = explorer.search("search engine", View(k=4), kind="dense").rows
    assert [r.hit.doc_id for r in rows] == [h.doc_id for h in explorer.dense.search("search engine", 4)]


def test_paging_continues_the_ranking(explorer):
    full = explorer.search("search engine software", View(k=6), kind="bm25").rows
    page2 = explorer.search("search engine software", View(k=3, page=2), kind="bm25")
    assert [r.hit.doc_id for r in page2.rows] == [r.hit.doc_id for r in full[3:6]]
    assert [r.hit.rank for r in page2.rows] == [4, 5, 6]
    assert page2.pages == -(-page2.matches // 3)


def test_exact_phrase_counts_and_restricts(explorer):
    res = explorer.search('"search engine" software', View(k=10), kind="bm25")
    holding = explorer.bm25.matching(["search engine"])
    assert res.phrases == ["search engine"] and res.pool == len(holding) >= 5
    assert {r.hit.doc_id for r in res.rows} <= set(holding)
    hybrid = explorer.search('"search engine"', View(k=20), kind="hybrid")
    assert {r.hit.doc_id for r in hybrid.rows} == set(holding)  # dense ranks every holder; nothing else


def test_each_hit_and_the_results_line_say_which_route_scored_bm25(explorer):
    """A plain search is scored from the impact matrix, a phrase search in Lucene; the hits say so, and the line
    above the results."""
    for kind in ("bm25", "hybrid"):
        plain = explorer.search("search engine software", View(k=5), kind=kind)
        phrase = explorer.search('"search engine" software', View(k=5), kind=kind)
        assert {r.hit.bm25_route for r in plain.rows} == {"impacts"}, kind
        assert {r.hit.bm25_route for r in phrase.rows} == {"lucene"}, kind
        assert "BM25 from the impact matrix" in views.summary(plain) and "BM25 in Lucene" in views.summary(phrase)
    dense = explorer.search("search engine software", View(k=5), kind="dense")
    assert {r.hit.bm25_route for r in dense.rows} == {None} and "BM25" not in views.summary(dense)


def test_phrase_with_only_stop_words_is_a_clear_error(explorer):
    with pytest.raises(InputError, match="no indexed words"):
        explorer.search('"to be or not"', kind="bm25")


def test_metadata_filters(explorer):
    assert explorer.filter_choices() == {"source": ["forum", "mail", "wiki"],
                                         "year": ["2019", "2020", "2021", "2022"]}
    res = explorer.search("search engine", View.make(k=20, filters={"source": ["forum"]}), kind="hybrid")
    assert {r.hit.doc_id for r in res.rows} == {"x1", "x2"} and res.pool == 2
    res = explorer.search("search engine", View.make(k=20, filters={"source": ["forum", "mail"], "year": ["2021"]}),
                          kind="bm25")
    assert {r.hit.doc_id for r in res.rows} == {"x1", "x3"}
    with pytest.raises(ConfigError, match="cannot filter on 'text'"):
        explorer.search("x", View.make(filters={"text": ["a"]}))


def test_compare_lists_overlap_and_one_sided(explorer):
    c = explorer.compare("open source search library", View(k=5))
    bm25, dense = ({r.hit.doc_id for r in c.lists[s]} for s in ("bm25", "dense"))
    assert c.overlap["bm25_dense"] == len(bm25 & dense)
    assert set(c.only["bm25"]) == bm25 - dense and set(c.only["dense"]) == dense - bm25
    html = views.comparison(c)
    _assert_safe(html)
    for doc_id in bm25 | dense:
        assert f'data-doc-id="{doc_id}"' in html


@pytest.mark.parametrize("query", ["", "   ", '"', "\x00\x01", "AND OR NOT ( [ * ?", "🙂" * 10, "a" * 50_000])
def test_odd_queries_never_fail(explorer, query):
    res = explorer.search(query, kind="hybrid")
    assert isinstance(res.rows, list)
    if len(query) > MAX_QUERY_CHARS:
        assert len(res.query) == MAX_QUERY_CHARS and "cut" in res.notes[0]
    _assert_safe(views.results_table(res))


@pytest.mark.parametrize("kwargs, message", [
    ({"k": 0}, "k must be between"), ({"k": 101}, "k must be between"), ({"page": 0}, "page must be"),
    ({"page": 10_000}, "page must be"), ({"bm25_weight": 2}, "bm25_weight"), ({"kind": "sql"}, "unknown retriever"),
    ({"method": "max"}, "unknown fusion"), ({"k": "ten"}, "whole number"), ({"bm25_weigth": 0.3}, "bm25_weigth"),
])
def test_bad_settings_are_clear_errors(explorer, kwargs, message):
    """The view (k, page) is checked by View; the retrieval settings by the RetrieverConfig and FusionConfig the
    explorer makes of them."""
    view = {name: value for name, value in kwargs.items() if name in ("k", "page")}
    retrieval = {name: value for name, value in kwargs.items() if name not in view}
    with pytest.raises(ConfigError, match=message):
        explorer.search("x", View.make(**view), **retrieval)


def test_a_search_makes_its_retrieval_settings_once(explorer, monkeypatch):
    """The page's values become one RetrieverConfig with one FusionConfig, each checked once, in its own
    __post_init__, and the search reports them."""
    checked = []
    for cls in (RetrieverConfig, FusionConfig):
        def counted(self, check=cls.__post_init__):
            checked.append(type(self).__name__)
            check(self)
        monkeypatch.setattr(cls, "__post_init__", counted)
    res = explorer.search("open source search library", View(k=5), kind="hybrid", method="rrf", bm25_weight=0.3,
                          normalization="minmax")
    assert sorted(checked) == ["FusionConfig", "RetrieverConfig"]
    assert (res.config.kind, res.config.fusion.method, res.config.fusion.bm25_weight) == ("hybrid", "rrf", 0.3)
    assert res.to_dict()["fusion_config"]["weights"] == pytest.approx({"bm25": 0.6, "dense": 1.4})


def test_a_setting_the_method_does_not_read_is_left_alone(explorer, hostile_corpus, encoder):
    """The page hides the BM25-weight slider for pyserini fusion, which weighs with alpha and refuses a
    bm25_weight of its own: the slider's value never makes it refuse. A setting the method reads is the page's."""
    res = explorer.search("open source search library", View(k=5), kind="hybrid", method="pyserini",
                          bm25_weight=0.3, normalization="minmax", alpha=0.5)
    f = res.config.fusion
    assert (f.method, f.bm25_weight, f.normalization, f.alpha) == ("pyserini", FusionConfig.bm25_weight,
                                                                   explorer.config.fusion.normalization, 0.5)
    expected = open_searcher(hostile_corpus, kind="hybrid", encoder=encoder).search(
        "open source search library", 5, FusionConfig(method="pyserini", alpha=0.5))
    assert [(r.hit.doc_id, r.hit.score) for r in res.rows] == [(h.doc_id, h.score) for h in expected]
    with pytest.raises(ConfigError, match="bm25_weight does not apply to pyserini"):  # the config itself refuses
        FusionConfig(method="pyserini", bm25_weight=0.3)


def test_each_side_retrieves_at_least_the_page_depth(hostile_corpus, encoder):
    """Page depth (page x k: the hits a page needs) and fusion depth (documents each side retrieves) are two
    things: a per-side depth below the page depth is raised to it, so the page still fills, with the hits of a
    search that was deep enough."""
    shallow = Explorer(hostile_corpus, RetrieverConfig(fusion=FusionConfig(bm25_depth=3, dense_depth=2)),
                       encoder=encoder)
    view = View(k=5, page=2)
    assert view.depth == 10
    config = shallow.retriever_config(view)
    assert (config.fusion.side_depth("bm25"), config.fusion.side_depth("dense")) == (10, 10)
    assert shallow.retriever_config(View(k=1)).fusion == shallow.config.fusion  # deep enough: left as it was
    res = shallow.search("open source search library", view, kind="hybrid")
    assert len(res.rows) == 5 and [r.hit.rank for r in res.rows] == [6, 7, 8, 9, 10]
    deep_enough = open_searcher(hostile_corpus, kind="hybrid", encoder=encoder).search(
        "open source search library", 10, FusionConfig(bm25_depth=10, dense_depth=10))
    assert [(r.hit.doc_id, r.hit.score) for r in res.rows] == [(h.doc_id, h.score) for h in deep_enough[5:]]
    assert res.to_dict()["fusion_config"]["bm25_depth"] == 10  # the fusion as it ran


def test_the_fusion_controls_come_from_the_registry_when_the_page_is_built(hostile_corpus, encoder):
    """A fusion method registered at run time is offered; a control shows only for the methods that read its
    setting (the registry entry's settings)."""
    from gaia_lite import registry
    from gaia_lite.app import build_demo

    def controls(explorer):
        blocks = build_demo(explorer).blocks.values()
        return {b.elem_id[3:]: b for b in blocks if (getattr(b, "elem_id", None) or "").startswith("gl-")}

    registry.FUSION_METHODS.add(registry.FusionMethod("late", "a method added at run time", lambda sides: None,
                                                      settings=("bm25_weight", "rrf_k")))
    try:
        page = controls(Explorer(hostile_corpus, RetrieverConfig(fusion=FusionConfig(method="pyserini")),
                                 encoder=encoder))
        assert [value for _, value in page["method"].choices] == ["rrf", "weighted", "pyserini", "late"]
        assert page["method"].value == "pyserini"
        assert not page["bm25_weight"].visible and page["alpha"].visible and not page["normalization"].visible
        assert [value for _, value in page["normalization"].choices] == list(registry.NORMALIZATIONS.names())
    finally:
        registry.FUSION_METHODS.remove("late")
    page = controls(Explorer(hostile_corpus, encoder=encoder))
    assert "late" not in [value for _, value in page["method"].choices]
    shown = {name for name in ("bm25_weight", "normalization", "missing", "fill_missing", "rrf_k", "alpha")
             if page[name].visible}
    assert shown == {"bm25_weight", "normalization", "missing", "fill_missing"}  # what weighted fusion reads


def test_without_a_dense_index_only_bm25_is_offered(tiny_corpus, tmp_path):
    import shutil

    from gaia_lite.corpus import Corpus

    copy = tmp_path / "tiny"
    shutil.copytree(tiny_corpus.folder, copy, ignore=shutil.ignore_patterns("dense-*"))
    e = Explorer(Corpus.load(copy))
    assert e.retrievers == ("bm25",)
    with pytest.raises(ConfigError, match="gaia-lite index dense"):
        e.search("java", kind="hybrid")
    shutil.rmtree(copy / "sparse-flat")
    with pytest.raises(MissingArtifactError, match="gaia-lite index sparse"):
        Explorer(Corpus.load(copy))


# --- untrusted text ----------------------------------------------------------------------------------------

def test_hostile_html_is_shown_as_text(explorer):
    res = explorer.search("search engine page image", View(k=20), kind="hybrid")
    html = views.results_table(res)
    text = _assert_safe(html)
    assert "<script>window.__xss=1</script>" in text  # the title, as text
    assert 'onerror="window.__xss=3"' in text or "onerror=" in text
    for doc_id in ("x1", "x2"):
        doc = views.document(explorer.document(doc_id))
        text = _assert_safe(doc)
        assert "<script>" in text or "<img" in text


def test_personal_data_is_redacted_by_default_and_marked(explorer):
    res = explorer.search("contact server key", kind="bm25")
    assert res.rows and res.rows[0].hit.doc_id == "x3"
    page = views.results_table(res) + views.document(explorer.document("x3"))
    for secret in SECRETS:
        assert secret not in page
        assert secret not in json.dumps(res.to_dict())
        assert secret not in explorer.export(res, "csv") and secret not in explorer.export(res, "jsonl")
    assert 'class="gl-redacted"' in page and "[EMAIL]" in page
    assert res.redactions.get("email") == 1
    # Switched off, the text is shown as stored (still escaped), and the page says so.
    plain = explorer.search("contact server key", View(redact=False), kind="bm25")
    page = views.results_table(plain) + views.document(explorer.document("x3", redact=False))
    assert "jane.doe@example.com" in page and "Redaction is off" in page


def test_huge_documents_are_bounded(explorer):
    view = explorer.document("x4")
    assert view.characters > 2_000_000
    assert len(view.html) < 200_000 and "showing" in view.html
    res = explorer.search("lorem ipsum", kind="bm25")
    assert res.rows[0].hit.doc_id == "x4" and len(res.rows[0].snippet_html) < 5_000


def test_document_ids_are_looked_up_never_opened(explorer):
    for bad in ["../../etc/passwd", "/etc/passwd", "x1/../x2", "", "a" * 5000]:
        with pytest.raises(InputError, match="no document with id") as e:
            explorer.document(bad)
        assert len(str(e.value)) < 300
    assert explorer.document(" x1 ").doc_id == "x1"
    empty = explorer.document("x5")
    assert empty.words == 0


def test_highlight_marks_stemmed_query_words(explorer):
    res = explorer.search("running", View(k=1), kind="bm25")
    assert res.rows[0].hit.doc_id == "d6"
    assert "<mark>Running</mark>" in res.rows[0].snippet_html or "<mark>running</mark>" in res.rows[0].snippet_html
    assert "<mark>run</mark>" in res.rows[0].snippet_html  # "Runners run races": the stem "run" matches


# --- overview and exports ------------------------------------------------------------------------------------

def test_overview_counts(explorer, hostile_corpus):
    o = explorer.overview()
    assert o["documents"] == len(hostile_corpus) == sum(o["length_counts"])
    assert o["empty"] == 1
    words = dict(o["top_terms"])
    assert words["lorem"] == words["ipsum"] == 150_000
    assert "the" not in words
    _assert_safe(views.overview(o, "hostile"))


def test_exports(explorer, tmp_path):
    res = explorer.search("search engine", View(k=5), kind="hybrid")
    rows = list(csv.DictReader(io.StringIO(explorer.export(res, "csv"))))
    assert [r["doc_id"] for r in rows] == [r.hit.doc_id for r in res.rows]
    assert [float(r["score"]) for r in rows] == pytest.approx([r.hit.score for r in res.rows])
    lines = [json.loads(line) for line in explorer.export(res, "jsonl").splitlines()]
    assert [x["doc_id"] for x in lines] == [r.hit.doc_id for r in res.rows]
    assert lines[0]["query"] == "search engine" and lines[0]["settings"]["retriever"] == "hybrid"
    trec = [line.split() for line in explorer.export(res, "trec").splitlines()]
    assert [(t[2], int(t[3])) for t in trec] == [(r.hit.doc_id, r.hit.rank) for r in res.rows]
    assert all(len(t) == 6 and t[1] == "Q0" for t in trec)
    from gaia_lite.evaluate import anserini_scores, query_id, read_trec_run

    # The one TREC writer: the query's own id, and scores as Anserini writes them (rounded, ties nudged apart).
    (tmp_path / "run.trec").write_text(explorer.export(res, "trec"), encoding="utf-8")
    written = anserini_scores(r.hit.score for r in res.rows)
    assert read_trec_run(tmp_path / "run.trec") == {
        query_id("search engine"): {r.hit.doc_id: pytest.approx(s, abs=1e-6) for r, s in zip(res.rows, written)}}
    with pytest.raises(ConfigError, match="unknown export format"):
        explorer.export(res, "xml")


def test_parse_query():
    assert parse_query('heart "attack risk" and "stroke"') == ('heart  attack risk  and  stroke ', ["attack risk", "stroke"])
    assert parse_query('"unclosed') == (" unclosed", [])


def test_a_dense_index_of_another_model_is_found(tiny_corpus, tiny_dense, tmp_path, encoder):
    import shutil

    from gaia_lite.corpus import Corpus

    copy = tmp_path / "tiny"
    shutil.copytree(tiny_corpus.folder, copy)
    (copy / "dense-all-minilm-l6-v2").rename(copy / "dense-some-other-model")
    for extra in copy.glob("dense-*hnsw*"):
        shutil.rmtree(extra)
    e = Explorer(Corpus.load(copy), encoder=encoder)
    assert e.retrievers == ("bm25", "dense", "hybrid") and e.dense.index_dir.name == "dense-some-other-model"
    with pytest.raises(MissingArtifactError, match="--model nope/model"):
        Explorer(Corpus.load(copy), RetrieverConfig(dense=DenseConfig(model="nope/model")))


def test_plain_document_text_is_bounded_outside_personal_data(explorer, monkeypatch):
    import gaia_lite.app.documents as module

    monkeypatch.setattr(module, "DOC_CHARS", 15)  # "Write to jane.d|oe@example.com": the cut falls in the address
    view = explorer.document("x3", html=False)
    assert view.html == "" and view.text.startswith("Write to [EMAIL]")
    assert "jane" not in view.text and "example" not in view.text
    assert "jane.doe@example.com" in explorer.document("x3", html=False, redact=False).text


def test_gradio_summarises_event_timings_only_every_so_many_events(explorer, monkeypatch):
    """Gradio's default rebuilds a pandas summary of every remembered event after each one; the app's queue
    does it every ANALYTICS_EVERY events (the queue reads the setting when it is made)."""
    from gaia_lite.app import ANALYTICS_EVERY, build_demo

    monkeypatch.delenv("GRADIO_ANALYTICS_CACHE_FREQUENCY", raising=False)
    queue = build_demo(explorer)._queue
    assert queue.ANAYLTICS_CACHE_FREQUENCY == ANALYTICS_EVERY > 1  # sic: Gradio's spelling


def test_a_served_corpus_searches_on_one_torch_thread(hostile_corpus):
    """launch() sets torch to one thread for the process when a dense side is served (each search encodes on
    one core, several run side by side). In a process of its own: the setting is the whole process's."""
    import socket
    import subprocess
    import sys

    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: torch's default is already one thread")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = (
        "import sys, torch\n"
        "from gaia_lite.app import launch\n"
        "before = torch.get_num_threads()\n"
        "demo = launch(sys.argv[1], host='127.0.0.1', port=int(sys.argv[2]), block=False, quiet=True)\n"
        "print('threads', before, torch.get_num_threads())\n"
        "demo.close()\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(hostile_corpus.folder), str(port)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    assert done.returncode == 0, done.stderr[-2000:]
    before, after = map(int, done.stdout.split("threads ", 1)[1].split()[:2])
    assert before > 1 and after == 1  # torch's default is a thread a core (two here)
