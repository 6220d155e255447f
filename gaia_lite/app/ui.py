"""The Gradio 6 layout and events of the explorer, over an :class:`~.explorer.Explorer`.

This module imports Gradio; ``gaia_lite.app`` imports it only when an app is built.

Handlers here only translate between widgets and the explorer; the work and every safety rule live in
:mod:`.explorer` (bounds), :mod:`.render` (escaping, redaction) and :mod:`.views` (HTML). The widgets' initial
values are the explorer's settings (:meth:`~.explorer.Explorer.settings`), never literals of their own. Errors
reach the user as one short line: a gaia_lite error's own message, anything else a generic one with the details
in the server log, never a traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import GaiaLiteError, require
from . import views
from .explorer import EXPORT_FORMATS, FUSIONS, MAX_K, MAX_QUERY_CHARS, NORMALIZATIONS, Explorer, Settings
from .render import escape

gr = require("gradio", "the explorer app", "gradio==6.31.0")

log = logging.getLogger("gaia_lite.app")

# Runs in the browser before each search: puts the search in the address bar (and, inside a Hugging Face
# Space, in the Space page's address bar), so that the URL reopens the same search. The page number is
# `pg`: Gradio itself reads `?page=` (multipage apps) and fails on other values.
_URL_JS = """
(...args) => {
  const names = %s;
  const [q, retriever, fusion, weight, normalization, k, page, redact, ...rest] = args;
  const filters = rest.slice(0, names.length), hide = rest[names.length];
  const u = new URLSearchParams();
  if (q) u.set("q", q);
  u.set("retriever", retriever); u.set("fusion", fusion); u.set("w", weight); u.set("norm", normalization);
  u.set("k", k); u.set("pg", page); if (!redact) u.set("redact", "0"); if (hide) u.set("dups", "hide");
  const chosen = {};
  names.forEach((n, i) => { if (filters[i] && filters[i].length) chosen[n] = filters[i]; });
  if (Object.keys(chosen).length) u.set("filters", JSON.stringify(chosen));
  const qs = "?" + u.toString();
  try { window.history.replaceState(null, "", qs); } catch (e) {}
  try { if (window.parent !== window) window.parent.postMessage({queryString: qs}, "https://huggingface.co"); } catch (e) {}
  return args;
}
"""

# After a document opens: its id joins the search in the URL, so the link reopens both.
_DOC_URL_JS = """
(docId) => {
  const u = new URLSearchParams(window.location.search);
  if (docId) u.set("doc", docId); else u.delete("doc");
  const qs = "?" + u.toString();
  try { window.history.replaceState(null, "", qs); } catch (e) {}
  try { if (window.parent !== window) window.parent.postMessage({queryString: qs}, "https://huggingface.co"); } catch (e) {}
  return [docId];
}
"""

# Clicking an id in a results, comparison or contamination table opens that document (a contamination match
# also says which span of it to mark).
_OPEN_JS = """
element.addEventListener('click', (event) => {
  const target = event.target.closest('[data-doc-id]');
  if (target) trigger('click', {doc_id: target.getAttribute('data-doc-id'), field: target.getAttribute('data-field'),
                                start: target.getAttribute('data-start'), end: target.getAttribute('data-end')});
});
"""

_PRIVATE = {"api_visibility": "private"}  # UI events; scripts use the named endpoints of _add_api
#: How often a page asks how far a background dense build is.
BUILD_POLL_SECONDS = 2
#: Exported files older than this (seconds) are removed while the app runs: a download follows its export at
#: once, and a Space runs for weeks.
EXPORT_MAX_AGE_S = 3600


class Exports:
    """The files an app exports: one temporary folder per app, each export in a folder of its own. Exports
    older than ``max_age`` seconds are removed whenever a new one is made, and the whole folder when the process
    exits (or :meth:`close` is called). Gradio's own copies of them are aged out by ``gr.Blocks(delete_cache=)``."""

    def __init__(self, max_age: float = EXPORT_MAX_AGE_S):
        import atexit

        self.folder = Path(tempfile.mkdtemp(prefix="gaia_lite_export_"))
        self.max_age = max_age
        atexit.register(self.close)

    def new(self, name: str) -> Path:
        """A path for a new export file called ``name`` (older exports pruned first)."""
        self.prune()
        return Path(tempfile.mkdtemp(dir=self.folder)) / name

    def prune(self) -> None:
        """Remove the exports older than ``max_age``."""
        import shutil
        import time

        now = time.time()
        for path in list(self.folder.glob("*")):
            try:
                if now - path.stat().st_mtime > self.max_age:
                    shutil.rmtree(path, ignore_errors=True)
            except FileNotFoundError:  # pruned by a concurrent export
                pass

    def close(self) -> None:
        """Remove every export and the folder."""
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)


def _safe(fn):
    """Turn every failure of ``fn`` into a short message for the user."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except GaiaLiteError as e:
            message = str(e)
            raise gr.Error(escape(message if len(message) <= 300 else message[:297] + "..."), print_exception=False) \
                from None
        except Exception:
            log.exception("explorer handler %s failed", fn.__name__)
            raise gr.Error("Something went wrong; the server log has the details.", print_exception=False) from None

    return wrapper


@dataclass
class _Page:
    """The widgets of the page, as the event handlers need them."""

    query: object
    retriever: object
    fusion: object
    weight: object
    normalization: object
    k: object
    page: object
    redact: object
    filters: list
    filter_names: list[str]
    hide: object
    search_btn: object
    prev_btn: object
    next_btn: object
    tabs: object
    results: object
    compare_tab: object
    compare_btn: object
    compared: object
    doc_id: object
    open_btn: object
    document: object
    overview_tab: object
    overview_html: object
    lengths: object
    top_terms: object
    fmt: object
    export_btn: object
    exported: object
    status: object
    contamination: object


    @property
    def controls(self) -> list:
        """The inputs of a search, in the order the handlers and ``_URL_JS`` take them: the filters, then the
        hide-near-duplicates box, come last."""
        return [self.query, self.retriever, self.fusion, self.weight, self.normalization, self.k, self.page,
                self.redact, *self.filters, self.hide]

    def settings(self, retriever, fusion, weight, normalization, k, page, redact, rest) -> Settings:
        """Settings from the controls' values (``rest``: the filters' values, then the hide box's)."""
        rest = list(rest)
        filters = {name: values for name, values in zip(self.filter_names, rest) if values}
        hide = bool(rest[len(self.filter_names)]) if len(rest) > len(self.filter_names) else False
        return Settings.make(retriever=retriever, fusion=fusion, bm25_weight=weight, normalization=normalization,
                             k=k, page=page or 1, redact=bool(redact), filters=filters, hide_duplicates=hide)


def build_demo(explorer: Explorer, *, title: str | None = None):
    """The explorer as a ``gr.Blocks`` app (not launched). Named API endpoints: ``/search``, ``/compare``,
    ``/document``, ``/overview``, ``/status``, ``/contamination``."""
    exports = Exports()
    with gr.Blocks(title=title or f"gaia_lite · {explorer.corpus.name}",
                   delete_cache=(EXPORT_MAX_AGE_S, EXPORT_MAX_AGE_S)) as demo:
        page = _layout(explorer)
        _wire_search(explorer, page)
        _wire_documents(explorer, page)
        _wire_overview_and_export(explorer, page, exports)
        _wire_contamination(explorer, page, exports)
        if explorer.dense_status()["state"] == "building":
            _wire_dense_build(explorer, page)

        @_safe
        def restore(request: gr.Request):
            return _restore(explorer, page, request)

        demo.load(restore, None, [*page.controls, page.results, page.doc_id, page.document, page.tabs], **_PRIVATE)
        _add_api(explorer)
    demo.exports = exports  # so that whoever serves the app can remove its exports early (exit does anyway)
    return demo


def _layout(explorer: Explorer) -> _Page:
    corpus = explorer.corpus
    defaults = explorer.settings()
    hybrid = "hybrid" in explorer.retrievers
    choices = explorer.filter_choices()
    gr.HTML(f"<h2>gaia_lite explorer · {escape(corpus.name)}</h2>"
            f"<div class='gl-note'>{len(corpus):,} documents · quote words for an exact phrase "
            "(&quot;like this&quot;)</div>", js_on_load=None)
    status = gr.HTML(views.build_status(explorer.dense_status()), js_on_load=None)
    with gr.Row():
        query = gr.Textbox(label="Query", placeholder='words, or "an exact phrase"', max_length=MAX_QUERY_CHARS,
                           scale=5, elem_id="gl-query", submit_btn=False)
        search_btn = gr.Button("Search", variant="primary", scale=1, elem_id="gl-search")
    with gr.Row():
        retriever = gr.Radio(list(explorer.retrievers), value=defaults.retriever, label="Retriever",
                             elem_id="gl-retriever")
        fusion = gr.Radio(list(FUSIONS), value=defaults.fusion, label="Fusion", visible=hybrid)
        weight = gr.Slider(0, 1, value=defaults.bm25_weight, step=0.05, label="BM25 weight (dense gets the rest)",
                           visible=hybrid)
        normalization = gr.Radio(list(NORMALIZATIONS), value=defaults.normalization,
                                 label="Normalization (weighted)", visible=hybrid)
        k = gr.Slider(1, MAX_K, value=defaults.k, step=1, label="Results per page (k)")
        redact = gr.Checkbox(value=defaults.redact, label="Redact personal data", elem_id="gl-redact")
        hide = gr.Checkbox(value=defaults.hide_duplicates, label="Hide near duplicates", elem_id="gl-hide-dups",
                           visible=explorer.has_duplicates)
    with gr.Accordion("Filters", open=False, visible=bool(choices)):
        filters = [gr.Dropdown(values, multiselect=True, label=name, value=[]) for name, values in choices.items()]
    with gr.Row():
        prev_btn = gr.Button("← Previous page", size="sm")
        page = gr.Number(value=1, precision=0, minimum=1, label="Page", elem_id="gl-page")
        next_btn = gr.Button("Next page →", size="sm")
    with gr.Tabs() as tabs:
        with gr.Tab("Results", id="results"):
            results = gr.HTML("<p>Type a query and press Search.</p>", elem_id="gl-results", js_on_load=_OPEN_JS)
        with gr.Tab("Compare", id="compare", visible=hybrid) as compare_tab:
            compare_btn = gr.Button("Compare BM25, dense and hybrid", size="sm")
            compared = gr.HTML("", elem_id="gl-compare-panel", js_on_load=_OPEN_JS)
        with gr.Tab("Document", id="document"):
            with gr.Row():
                doc_id = gr.Textbox(label="Document id", scale=4, elem_id="gl-doc-id", max_length=1000)
                open_btn = gr.Button("Open", scale=1, elem_id="gl-open")
            document = gr.HTML("", elem_id="gl-document-panel", js_on_load=None)
        with gr.Tab("Overview", id="overview") as overview_tab:
            overview_html = gr.HTML("", js_on_load=None)
            lengths = gr.BarPlot(x="words", y="documents", title="Document lengths (words)", sort=None)
            top_terms = gr.Dataframe(headers=["word", "count"], label="Most frequent words", interactive=False)
        with gr.Tab("Export", id="export"):
            fmt = gr.Radio(list(EXPORT_FORMATS), value=EXPORT_FORMATS[0], label="Format (TREC: run lines)")
            export_btn = gr.Button("Export the current results")
            exported = gr.File(label="Download", interactive=False)
        with gr.Tab("Contamination", id="contamination"):
            contamination = _contamination_widgets(explorer)
    return _Page(query, retriever, fusion, weight, normalization, k, page, redact, filters, list(choices), hide,
                 search_btn, prev_btn, next_btn, tabs, results, compare_tab, compare_btn, compared, doc_id, open_btn,
                 document, overview_tab, overview_html, lengths, top_terms, fmt, export_btn, exported, status,
                 contamination)


@dataclass
class _Contamination:
    """The Contamination tab's widgets."""

    benchmark: object
    upload: object
    hub: object
    fields: object
    split: object
    ngram: object
    run_btn: object
    report: object
    exported: object


def _contamination_widgets(explorer: Explorer) -> _Contamination:
    from ..config import ContaminationConfig

    gr.HTML('<div class="gl-note">Which items of a benchmark occur in this corpus? An item is flagged when one of '
            "its n-grams (words, case and punctuation ignored) is in a document; an item shorter than n must occur "
            "whole. Choose a listed benchmark, upload a JSON Lines or parquet file, or name a Hub dataset.</div>",
            js_on_load=None)
    with gr.Row():
        benchmark = gr.Dropdown(list(explorer.benchmarks), value=None, label="Listed benchmark",
                                visible=bool(explorer.benchmarks))
        upload = gr.File(label="or upload (.jsonl, .parquet)", file_types=[".jsonl", ".json", ".parquet"],
                         type="filepath")
        hub = gr.Textbox(label="or a Hub dataset (owner/name)", max_length=200)
    with gr.Row():
        fields = gr.Textbox(label="Text field(s), comma-separated (default: text, question, query...)", max_length=500)
        split = gr.Textbox(label="Split (Hub: default train; BEIR: a qrels split)", max_length=100)
        ngram = gr.Number(value=ContaminationConfig().ngram, precision=0, minimum=1, maximum=100, label="n (words)")
        run_btn = gr.Button("Check", variant="primary", elem_id="gl-contamination-run")
    report = gr.HTML("", elem_id="gl-contamination-panel", js_on_load=_OPEN_JS)
    exported = gr.File(label="Every item (JSON Lines, CSV)", file_count="multiple", interactive=False,
                       elem_id="gl-contamination-files")
    return _Contamination(benchmark, upload, hub, fields, split, ngram, run_btn, report, exported)


def _wire_search(explorer: Explorer, p: _Page) -> None:
    url_js = _URL_JS % json.dumps(p.filter_names).replace("<", "\\u003c")

    @_safe
    def run_search(q, r, f, w, n, k, page, red, *fv):
        res = explorer.search(q, p.settings(r, f, w, n, k, page, red, fv))
        return views.results_table(res), res.settings.page

    def at_page(move):
        def go(q, r, f, w, n, k, page, red, *fv):
            return run_search(q, r, f, w, n, k, move(int(page or 1)), red, *fv)
        return go

    outputs = [p.results, p.page]
    for trigger in (p.search_btn.click, p.query.submit):
        trigger(at_page(lambda _: 1), p.controls, outputs, js=url_js, **_PRIVATE)
    p.prev_btn.click(at_page(lambda page: max(1, page - 1)), p.controls, outputs, js=url_js, **_PRIVATE)
    p.next_btn.click(at_page(lambda page: page + 1), p.controls, outputs, js=url_js, **_PRIVATE)

    @_safe
    def run_compare(q, r, f, w, n, k, page, red, *fv):
        return views.comparison(explorer.compare(q, p.settings(r, f, w, n, k, 1, red, fv)))

    p.compare_btn.click(run_compare, p.controls, p.compared, **_PRIVATE)
    p.compare_tab.select(run_compare, p.controls, p.compared, **_PRIVATE)


def _wire_documents(explorer: Explorer, p: _Page) -> None:
    @_safe
    def open_document(i, q, red, span=None):
        return views.document(explorer.document(i, query=q or "", redact=bool(red), span=span))

    for opened in (p.open_btn.click(open_document, [p.doc_id, p.query, p.redact], p.document, **_PRIVATE),
                   p.doc_id.submit(open_document, [p.doc_id, p.query, p.redact], p.document, **_PRIVATE)):
        opened.success(None, [p.doc_id], None, js=_DOC_URL_JS, **_PRIVATE)

    def open_clicked(q, red, evt: gr.EventData):
        try:
            i = evt.doc_id
        except (AttributeError, TypeError):  # a click without an id (the event carries no data)
            i = None
        if not isinstance(i, str) or not i:
            return gr.skip(), gr.skip(), gr.skip()
        span = tuple(getattr(evt, k, None) for k in ("field", "start", "end"))
        return i, open_document(i, q, red, span if span[0] else None), gr.Tabs(selected="document")

    for panel in (p.results, p.compared, p.contamination.report):
        panel.click(open_clicked, [p.query, p.redact], [p.doc_id, p.document, p.tabs], **_PRIVATE) \
            .success(None, [p.doc_id], None, js=_DOC_URL_JS, **_PRIVATE)


def _wire_overview_and_export(explorer: Explorer, p: _Page, exports: Exports) -> None:
    import pandas as pd

    @_safe
    def show_overview():
        o = explorer.overview()
        bars = pd.DataFrame({"words": o["length_bins"], "documents": o["length_counts"]})
        terms = pd.DataFrame(o["top_terms"], columns=["word", "count"])
        # Bins are labels; the plot keeps their order (shortest first) rather than sorting them as text.
        return views.overview(o, explorer.corpus.name), gr.BarPlot(value=bars, sort=o["length_bins"]), terms

    p.overview_tab.select(show_overview, None, [p.overview_html, p.lengths, p.top_terms], **_PRIVATE)

    @_safe
    def run_export(f, q, r, fu, w, n, k, page, red, *fv):
        res = explorer.search(q, p.settings(r, fu, w, n, k, page, red, fv))
        path = exports.new(f"gaia_lite-{explorer.corpus.name}-results.{'txt' if f == 'trec' else f}")
        path.write_text(explorer.export(res, f), encoding="utf-8")
        return str(path)

    p.export_btn.click(run_export, [p.fmt, *p.controls], p.exported, **_PRIVATE)


def _wire_contamination(explorer: Explorer, p: _Page, exports: Exports) -> None:
    c = p.contamination

    # The exports are written with the table: keeping the report for a later export would need a gr.State,
    # and a page with state holds a connection to the server open for as long as it is open.
    @_safe
    def run(benchmark, upload, hub, fields, split, ngram, red):
        report = explorer.contamination(benchmark=benchmark or None, upload=upload or None, hub=hub or None,
                                        fields=fields or "", split=split or "", ngram=ngram)
        files = []
        for fmt in ("jsonl", "csv"):
            path = exports.new(f"gaia_lite-{explorer.corpus.name}-contamination.{fmt}")
            path.write_text(explorer.contamination_export(report, fmt, redact=bool(red)), encoding="utf-8")
            files.append(str(path))
        return views.contamination(report, redact=bool(red)), files

    c.run_btn.click(run, [c.benchmark, c.upload, c.hub, c.fields, c.split, c.ngram, p.redact],
                    [c.report, c.exported], concurrency_limit=1, **_PRIVATE)  # it reads the whole corpus: one at a time


def _wire_dense_build(explorer: Explorer, p: _Page) -> None:
    """While the dense index is built in the background: its progress every few seconds, then dense and hybrid
    search turned on in the page, without a restart."""
    timer = gr.Timer(BUILD_POLL_SECONDS)

    def poll():
        status = explorer.dense_status()
        if status["state"] == "building":
            return views.build_status(status), *[gr.skip()] * 5, gr.skip()
        if status["state"] == "failed":
            return views.build_status(status), *[gr.skip()] * 5, gr.Timer(active=False)
        return ("", gr.Radio(choices=list(explorer.retrievers)), *[gr.update(visible=True)] * 4,
                gr.Timer(active=False))

    timer.tick(poll, None, [p.status, p.retriever, p.fusion, p.weight, p.normalization, p.compare_tab, timer],
               **_PRIVATE)


def _restore(explorer: Explorer, p: _Page, request: gr.Request):
    """Reopen the search (and document) that the URL names; values it cannot use fall back to the defaults."""
    params = dict(request.query_params) if request is not None else {}
    defaults = explorer.settings()
    try:
        chosen = json.loads(params.get("filters") or "{}")
        chosen = chosen if isinstance(chosen, dict) else {}
    except ValueError:
        chosen = {}
    choices = explorer.filter_choices()
    fv = [[v for v in (chosen.get(name) or []) if v in choices[name]] for name in p.filter_names]

    def pick(key, valid, default):
        value = params.get(key, default)
        return value if value in valid else default

    hide = params.get("dups") == "hide" and explorer.has_duplicates
    try:
        s = p.settings(pick("retriever", explorer.retrievers, defaults.retriever),
                       pick("fusion", FUSIONS, defaults.fusion), params.get("w", defaults.bm25_weight),
                       pick("norm", NORMALIZATIONS, defaults.normalization), params.get("k", defaults.k),
                       params.get("pg", 1), params.get("redact", "1") != "0", [*fv, hide])
    except GaiaLiteError:
        s = defaults
    q = params.get("q", "")
    out_results = views.results_table(explorer.search(q, s)) if q else gr.skip()
    out_doc, out_doc_id, out_tab = gr.skip(), gr.skip(), gr.skip()
    if params.get("doc"):
        out_doc_id = params["doc"][:1000]
        try:
            out_doc = views.document(explorer.document(out_doc_id, query=q, redact=s.redact))
        except GaiaLiteError as e:  # a stale or edited link still reopens its search
            out_doc = f'<p class="gl-note" id="gl-document-error">{escape(str(e))}</p>'
        out_tab = gr.Tabs(selected="document")
    s = explorer.settings(s)
    return (q[:MAX_QUERY_CHARS], s.retriever, s.fusion, s.bm25_weight, s.normalization, s.k, s.page, s.redact, *fv,
            s.hide_duplicates, out_results, out_doc_id, out_doc, out_tab)


def _add_api(explorer: Explorer) -> None:
    """Named API endpoints for gradio_client: JSON in, JSON out; parameters left out take the explorer's
    settings."""
    d = explorer.settings()

    def search(query: str, retriever: str | None = None, fusion: str = d.fusion, bm25_weight: float = d.bm25_weight,
               k: int = d.k, page: int = 1, redact: bool = True, filters: dict | None = None,
               normalization: str = d.normalization, hide_duplicates: bool = False) -> dict:
        """Search the corpus (by default with the richest retriever served: hybrid where a dense index is built);
        the hits carry each side's scores and ranks."""
        return explorer.search(query, Settings.make(
            retriever=retriever, fusion=fusion, bm25_weight=bm25_weight, k=k, page=page, redact=redact,
            filters=filters if isinstance(filters, dict) else None, normalization=normalization,
            hide_duplicates=bool(hide_duplicates))).to_dict()

    def compare(query: str, k: int = d.k, fusion: str = d.fusion, bm25_weight: float = d.bm25_weight,
                redact: bool = True) -> dict:
        """BM25, dense and hybrid top k side by side, with their overlap."""
        c = explorer.compare(query, Settings.make(k=k, fusion=fusion, bm25_weight=bm25_weight, redact=redact))
        return {"query": c.query, "overlap": c.overlap, "only": c.only,
                "lists": {side: [r.record() for r in rows] for side, rows in c.lists.items()}}

    def document(doc_id: str, redact: bool = True) -> dict:
        """A document by id: title, text (bounded, redacted unless asked not to) and metadata."""
        view = explorer.document(doc_id, redact=redact, html=False)
        return {"id": view.doc_id, "title": view.title, "text": view.text, "characters": view.characters,
                "words": view.words, "metadata": view.metadata}

    def overview() -> dict:
        """Document count, length distribution and most frequent words."""
        return explorer.overview()

    def status() -> dict:
        """The retrievers served now, and the dense index's state (``ready``, ``building`` with its progress,
        ``failed``, ``none``)."""
        return {"retrievers": list(explorer.retrievers), "dense": explorer.dense_status()}

    def contamination(benchmark: str | None = None, hub: str | None = None, fields: str = "", split: str = "",
                      ngram: int | None = None) -> dict:
        """Check a listed benchmark (by name) or a Hub dataset (owner/name) for contamination of the corpus: the
        summary and every item (the shape of ``gaia-lite contamination --json``)."""
        return explorer.contamination(benchmark=benchmark, hub=hub, fields=fields or "", split=split or "",
                                      ngram=ngram).to_dict()

    for fn in (search, compare, document, overview, status, contamination):
        # A contamination check reads the whole corpus: one at a time. The rest share the queue's default limit
        # with the page's own events, so that API callers cannot crowd out the cores (unlimited, 8 clients on
        # 2 cores ran 8 searches at once, each slower than it would run alone).
        gr.api(_safe(fn), api_name=fn.__name__, concurrency_limit=1 if fn is contamination else "default")
