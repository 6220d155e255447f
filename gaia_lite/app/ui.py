"""The Gradio 6 layout and events of the explorer, over an :class:`~.explorer.Explorer`.

This module imports Gradio; ``gaia_lite.app`` imports it only when an app is built.

Handlers here only translate between widgets and the explorer; the work and every safety rule live in
:mod:`.explorer` and :mod:`.search` (bounds), :mod:`.render` (escaping, redaction) and :mod:`.views` (HTML). The
page speaks the configuration's vocabulary: a fusion control is a :class:`~gaia_lite.config.FusionConfig` field,
named and explained as the field is, its choices read from :mod:`gaia_lite.registry` when the page is built, and
shown only for the methods whose registry entry reads it. The widgets' initial values are the explorer's settings
(:meth:`~.explorer.Explorer.retriever_config`, :class:`~.search.View`), never literals of their own. Errors reach
the user as one short line: a gaia_lite error's own message, anything else a generic one with the details in the
server log, never a traceback: on the page once, in a notice, leaving the outputs as they were (:func:`_on_page`);
from a named endpoint as its error (:func:`_safe`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from dataclasses import dataclass

from ..config import FusionConfig
from ..errors import ConfigError, GaiaLiteError, require
from ..registry import FUSION_METHODS
from . import api, views
from .explorer import Explorer
from .exports import EXPORT_FORMATS, EXPORT_MAX_AGE_S, Exports
from .render import escape
from .search import MAX_K, MAX_QUERY_CHARS, View

__all__ = ["EXPORT_MAX_AGE_S", "Exports", "URL_NAMES", "build_demo", "fusion_fields"]

gr = require("gradio", "the explorer app", "gradio==6.31.0")

log = logging.getLogger("gaia_lite.app")

#: A control's name in the URL, where it is not the setting's own (links already shared use these); every other
#: setting goes by its field name (``rrf_k``, ``k``...).
URL_NAMES = {"query": "q", "kind": "retriever", "method": "fusion", "bm25_weight": "w", "normalization": "norm",
             "page": "pg", "hide_duplicates": "dups"}
#: Fusion settings shown as a slider: (lowest, highest, step). The others are a choice (a field with choices), a
#: checkbox (a flag) or a number box.
_SLIDERS = {"bm25_weight": (0, 1, 0.05)}

# Runs in the browser before each search: puts the search in the address bar (and, inside a Hugging Face
# Space, in the Space page's address bar), so that the URL reopens the same search. The page number is
# `pg`: Gradio itself reads `?page=` (multipage apps) and fails on other values. Of the fusion settings, the
# URL holds those the chosen method reads.
_URL_JS = """
(...args) => {
  const [keys, filters, reads] = %s;
  const v = {};
  keys.forEach((key, i) => { v[key] = args[i]; });
  const u = new URLSearchParams();
  if (v.q) u.set("q", v.q);
  u.set("retriever", v.retriever); u.set("fusion", v.fusion);
  (reads[v.fusion] || []).forEach((key) => { if (v[key] !== null && v[key] !== undefined) u.set(key, v[key]); });
  u.set("k", v.k); u.set("pg", v.pg); if (!v.redact) u.set("redact", "0"); if (v.dups) u.set("dups", "hide");
  const chosen = {};
  filters.forEach((n, i) => { const f = args[keys.length + i]; if (f && f.length) chosen[n] = f; });
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


def _message(fn, error: Exception) -> str:
    """The one short line a user sees for ``error`` raised by handler ``fn``: a gaia_lite error's own message
    (bounded), anything else a generic line with the details in the server log."""
    if isinstance(error, gr.Error):
        return str(error.message)
    if isinstance(error, GaiaLiteError):
        message = str(error)
        return escape(message if len(message) <= 300 else message[:297] + "...")  # the toast renders HTML
    log.exception("explorer handler %s failed", fn.__name__, exc_info=error)
    return "Something went wrong; the server log has the details."


def _safe(fn):
    """For a named API endpoint: turn every failure of ``fn`` into a ``gr.Error`` with a short message, which
    gradio_client raises as an ``AppError``."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            raise gr.Error(_message(fn, e), print_exception=False) from None

    return wrapper


def _notice(message: str) -> None:
    """Show ``message`` on the page as Gradio shows a raised ``gr.Error``'s: a red notice titled "Error".
    Gradio's public notices are info, warning and success (a notice's title is its kind in Gradio 6); its queue
    sends this fourth kind as well, and so can an event that does not fail."""
    from gradio.helpers import log_message

    log_message(message, title="Error", level="error")  # type: ignore[arg-type]


def _on_page(fn):
    """For a page event: a failure of ``fn`` shows its message once (:func:`_notice`) and leaves every output as
    it was. A raised ``gr.Error`` would also mark each of the event's outputs with a large red "Error" box."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            _notice(_message(fn, e))
            return gr.skip()  # one skip leaves every output of the event unchanged

    return wrapper


def fusion_fields() -> tuple[str, ...]:
    """The fusion settings the page has a control for: ``method``, then each FusionConfig field that a registered
    method reads (its registry entry's ``settings``), in the config's order. Read when a page is built, so that
    a method registered at run time is offered, with its controls."""
    read = {name for method in FUSION_METHODS.entries() for name in method.settings}
    return ("method", *(f.name for f in dataclasses.fields(FusionConfig) if f.name in read))


def _shown(name: str, method: str, hybrid: bool) -> bool:
    """Whether fusion control ``name`` shows: where hybrid search is served, the method's choice and the settings
    the chosen ``method`` reads."""
    reads = FUSION_METHODS[method].settings if method in FUSION_METHODS else ()
    return hybrid and (name == "method" or name in reads)


def _fusion_control(name: str, value, visible: bool):
    """The control of FusionConfig field ``name``: labelled with the field's name and help, its choices (a
    registry) read now."""
    field = {f.name: f for f in dataclasses.fields(FusionConfig)}[name]
    common = {"value": value, "label": name, "info": field.metadata.get("help") or None, "visible": visible,
              "elem_id": f"gl-{name}"}
    if field.metadata.get("choices") is not None:
        return gr.Radio(list(field.metadata["choices"]), **common)
    if isinstance(value, bool):
        return gr.Checkbox(**common)
    if name in _SLIDERS:
        low, high, step = _SLIDERS[name]
        return gr.Slider(low, high, step=step, **common)
    return gr.Number(precision=0 if isinstance(value, int) else None, minimum=0, **common)


@dataclass
class _Page:
    """The widgets of the page, as the event handlers need them."""

    query: object
    retriever: object
    fusion: dict  # FusionConfig field -> its control (fusion_fields())
    k: object
    page: object
    redact: object
    hide: object
    filters: dict  # metadata column -> its dropdown
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
    audit: _AuditWidgets | None  # where an audit is stored
    count: _Count

    @property
    def controls(self) -> list:
        """The inputs of a search, in the order of :attr:`names`: the filters come last."""
        return [self.query, self.retriever, *self.fusion.values(), self.k, self.page, self.redact, self.hide,
                *self.filters.values()]

    @property
    def names(self) -> list:
        """What each control of :attr:`controls` holds: the query, the RetrieverConfig's ``kind``, the FusionConfig
        fields, the :class:`~.search.View`'s, then each filter."""
        return ["query", "kind", *self.fusion, "k", "page", "redact", "hide_duplicates",
                *(("filter", name) for name in self.filters)]

    @property
    def retrieval(self) -> tuple[str, ...]:
        """The names of the controls that are retrieval settings (:meth:`~.explorer.Explorer.search`'s keywords)."""
        return ("kind", *self.fusion)

    def view(self, v: dict, **changes) -> View:
        """The view the controls' values ``v`` (by :attr:`names`) ask for, with ``changes``."""
        return View.make(**{"k": v["k"], "page": v["page"] or 1, "redact": bool(v["redact"]),
                            "hide_duplicates": bool(v["hide_duplicates"]),
                            "filters": {name: v["filter", name] for name in self.filters}, **changes})


def build_demo(explorer: Explorer, *, title: str | None = None):
    """The explorer as a ``gr.Blocks`` app (not launched). Named API endpoints: ``/search``, ``/compare``,
    ``/document``, ``/overview``, ``/status``, ``/contamination``, ``/audit``, ``/count``."""
    exports = Exports()
    with gr.Blocks(title=title or f"gaia_lite · {explorer.corpus.name}",
                   delete_cache=(EXPORT_MAX_AGE_S, EXPORT_MAX_AGE_S)) as demo:
        page = _layout(explorer)
        _wire_search(explorer, page)
        _wire_documents(explorer, page)
        _wire_overview_and_export(explorer, page, exports)
        _wire_contamination(explorer, page, exports)
        _wire_count(explorer, page)
        _wire_fusion_controls(explorer, page)

        @_on_page
        def restore(request: gr.Request):
            return _restore(explorer, page, request)

        demo.load(restore, None, [*page.controls, page.results, page.doc_id, page.document, page.tabs], **_PRIVATE)
        _add_api(explorer)
    demo.exports = exports  # so that whoever serves the app can remove its exports early (exit does anyway)
    return demo


def _layout(explorer: Explorer) -> _Page:
    corpus = explorer.corpus
    config, view = explorer.retriever_config(), View()
    hybrid = "hybrid" in explorer.retrievers
    choices = explorer.filter_choices()
    served = (f" · served at {escape(explorer.served)} in {len(corpus.parts)} parts" if explorer.served else "")
    gr.HTML(f"<h2>gaia_lite explorer · {escape(corpus.name)}</h2>"
            f"<div class='gl-note' id='gl-corpus'>{len(corpus):,} documents{served} · quote words for an exact phrase "
            "(&quot;like this&quot;)</div>", js_on_load=None)
    status = gr.HTML(views.build_status(explorer.dense_status()), js_on_load=None)
    with gr.Row():
        query = gr.Textbox(label="Query", placeholder='words, or "an exact phrase"', max_length=MAX_QUERY_CHARS,
                           scale=5, elem_id="gl-query", submit_btn=False)
        search_btn = gr.Button("Search", variant="primary", scale=1, elem_id="gl-search")
    with gr.Row():
        retriever = gr.Radio(list(explorer.retrievers), value=config.kind, label="Retriever", elem_id="gl-retriever")
        k = gr.Slider(1, MAX_K, value=view.k, step=1, label="Results per page (k)")
        redact = gr.Checkbox(value=view.redact, label="Redact personal data", elem_id="gl-redact")
        hide = gr.Checkbox(value=view.hide_duplicates, label="Hide near duplicates", elem_id="gl-hide-dups",
                           visible=explorer.has_duplicates)
    with gr.Row():
        f = config.fusion
        fusion = {name: _fusion_control(name, getattr(f, name), _shown(name, f.method, hybrid))
                  for name in fusion_fields()}
    with gr.Accordion("Filters", open=False, visible=bool(choices) or bool(explorer.served)):
        if explorer.served:
            gr.HTML(views.note(str(explorer.local_only("Filtering on metadata")), "gl-filters-unavailable"),
                    js_on_load=None)
        filters = {name: gr.Dropdown(values, multiselect=True, label=name, value=[])
                   for name, values in choices.items()}
    with gr.Row():
        prev_btn = gr.Button("← Previous page", size="sm")
        page = gr.Number(value=view.page, precision=0, minimum=1, label="Page", elem_id="gl-page")
        next_btn = gr.Button("Next page →", size="sm")
    with gr.Tabs() as tabs:
        with gr.Tab("Results", id="results"):
            results = gr.HTML("<p>Type a query and press Search.</p>", elem_id="gl-results", js_on_load=_OPEN_JS)
        with gr.Tab("Count", id="count"):
            count = _count_widgets(explorer)
        with gr.Tab("Compare", id="compare", visible=hybrid) as compare_tab:
            compare_btn = gr.Button("Compare BM25, dense and hybrid", size="sm")
            compared = gr.HTML("", elem_id="gl-compare-panel", js_on_load=_OPEN_JS)
        with gr.Tab("Document", id="document"):
            with gr.Row():
                doc_id = gr.Textbox(label="Document id", scale=4, elem_id="gl-doc-id", max_length=1000)
                open_btn = gr.Button("Open", scale=1, elem_id="gl-open")
            document = gr.HTML("", elem_id="gl-document-panel", js_on_load=None)
        with gr.Tab("Overview", id="overview") as overview_tab:
            # A served corpus's overview would read all of it: the tab says so instead.
            unavailable = explorer.local_only("The overview (document lengths, frequent words, duplicates)")
            overview_html = gr.HTML(views.note(str(unavailable), "gl-overview-unavailable") if explorer.served else "",
                                    elem_id="gl-overview", js_on_load=None)
            audit = _audit_widgets(explorer) if explorer.audit.stored else None
            # Without an audit, a quick overview computed from the corpus.
            computed = not explorer.served and audit is None
            lengths = gr.BarPlot(x="words", y="documents", title="Document lengths (words)", sort=None,
                                 visible=computed)
            top_terms = gr.Dataframe(headers=["word", "count"], label="Most frequent words", interactive=False,
                                     visible=computed)
        with gr.Tab("Export", id="export"):
            fmt = gr.Radio(list(EXPORT_FORMATS), value=EXPORT_FORMATS[0], label="Format (TREC: run lines)")
            export_btn = gr.Button("Export the current results")
            exported = gr.File(label="Download", interactive=False)
        with gr.Tab("Contamination", id="contamination"):
            contamination = _contamination_widgets(explorer)
    return _Page(query, retriever, fusion, k, page, redact, hide, filters, search_btn, prev_btn, next_btn, tabs,
                 results, compare_tab, compare_btn, compared, doc_id, open_btn, document, overview_tab,
                 overview_html, lengths, top_terms, fmt, export_btn, exported, status, contamination, audit, count)


@dataclass
class _AuditWidgets:
    """The Overview's widgets over a stored audit: a plot and a table per part, and one download."""

    measure: object
    lengths: object
    n: object
    ngrams_plot: object
    ngrams: object
    personal_plot: object
    personal: object
    personal_examples: object
    languages_plot: object
    languages: object
    offensive: object
    show_offensive: object
    offensive_examples: object
    column: object
    metadata_plot: object
    metadata: object
    table: object
    fmt: object
    download_btn: object
    downloaded: object

    @property
    def shown(self) -> list:
        """What the Overview fills when it opens, in the order :func:`_wire_overview_and_export` returns them."""
        return [self.lengths, self.ngrams_plot, self.ngrams, self.personal_plot, self.personal, self.personal_examples,
                self.languages_plot, self.languages, self.offensive, self.metadata_plot, self.metadata]


#: N-grams, languages and metadata values plotted at most (the tables have every row).
PLOT_BARS = 20


def _audit_widgets(explorer: Explorer) -> _AuditWidgets:
    """The audit's parts, each shown if the audit computed it. The choices (n, metadata columns) come from its
    summary, read now; the plots and tables are filled when the tab opens."""
    from ..analysis.audit import TABLES
    from .exports import TABLE_FORMATS

    s = explorer.audit.summary
    sizes = [int(n) for n in s["ngrams"]["sizes"]]
    columns = list(s.get("metadata") or {})

    def bars(x, y, title, elem_id, **kwargs):
        # From zero: Gradio starts the axis at the smallest bar, which then does not show.
        return gr.BarPlot(x=x, y=y, title=title, sort=None, elem_id=elem_id, x_label_angle=-40, y_lim=[0, None],
                          **kwargs)

    gr.Markdown("#### Document lengths")
    measure = gr.Radio(["chars", "words", "tokens"], value="words", label="Length in", elem_id="gl-audit-measure")
    lengths = bars("length", "documents", "Documents by length", "gl-audit-lengths-plot")
    gr.Markdown("#### Most common n-grams (exact counts)")
    n = gr.Radio(sizes, value=sizes[0], label="n (words)", elem_id="gl-audit-n")
    ngrams_plot = bars("ngram", "count", f"The {PLOT_BARS} most common", "gl-audit-ngrams-plot")
    ngrams = gr.Dataframe(label="Most common n-grams", interactive=False, elem_id="gl-audit-ngrams", max_height=400)
    personal_on = bool(s["personal_data"]["enabled"])
    with gr.Column(visible=personal_on):
        gr.Markdown("#### Personal data")
        personal_plot = bars("type", "documents", "Documents holding each type", "gl-audit-personal-plot")
        personal = gr.Dataframe(label="Personal data by type", interactive=False, elem_id="gl-audit-personal")
        with gr.Accordion("Examples (redacted)", open=False):
            personal_examples = gr.HTML("", elem_id="gl-audit-personal-examples", js_on_load=_OPEN_JS)
    with gr.Column(visible=bool(s["languages"]["enabled"])):
        gr.Markdown("#### Languages")
        languages_plot = bars("language", "documents", f"Documents per language (the {PLOT_BARS} most common)",
                              "gl-audit-languages-plot")
        languages = gr.Dataframe(label="Languages", interactive=False, elem_id="gl-audit-languages", max_height=400)
    with gr.Column(visible=bool(s["offensive"]["enabled"])):
        gr.Markdown("#### Offensive language")
        offensive = gr.HTML("", elem_id="gl-audit-offensive-summary", js_on_load=None)
        # The examples are offensive text: shown only when asked for.
        show_offensive = gr.Button("Show examples", size="sm", elem_id="gl-audit-show-offensive")
        offensive_examples = gr.HTML("", elem_id="gl-audit-offensive-examples", js_on_load=_OPEN_JS)
    with gr.Column(visible=bool(columns)):
        gr.Markdown("#### Metadata")
        column = gr.Dropdown(columns, value=columns[0] if columns else None, label="Column",
                             elem_id="gl-audit-column")
        metadata_plot = bars("value", "documents", "Documents per value", "gl-audit-metadata-plot")
        metadata = gr.Dataframe(label="Values", interactive=False, elem_id="gl-audit-metadata", max_height=400)
    gr.Markdown("#### Download a table")
    with gr.Row():
        table = gr.Dropdown(list(TABLES), value="ngrams", label="Table", elem_id="gl-audit-table")
        fmt = gr.Radio(list(TABLE_FORMATS), value=TABLE_FORMATS[0], label="Format", elem_id="gl-audit-format")
        download_btn = gr.Button("Download", elem_id="gl-audit-download")
    downloaded = gr.File(label="Table", interactive=False, elem_id="gl-audit-file")
    return _AuditWidgets(measure, lengths, n, ngrams_plot, ngrams, personal_plot, personal, personal_examples,
                         languages_plot, languages, offensive, show_offensive, offensive_examples, column,
                         metadata_plot, metadata, table, fmt, download_btn, downloaded)


@dataclass
class _Count:
    """The Count tab's widgets."""

    phrase: object
    limit: object
    run_btn: object
    counted: object


def _count_widgets(explorer: Explorer) -> _Count:
    from .explorer import COUNT_LIMIT

    if explorer.served:
        gr.HTML(views.note(str(explorer.local_only("Counting a phrase")), "gl-count-unavailable"), js_on_load=None)
    elif not explorer.audit.stored:
        gr.HTML(views.note(f"Counting a phrase reads the word index of the corpus's audit: run `gaia-lite audit "
                           f"{explorer.corpus.name}`", "gl-count-no-audit"), js_on_load=None)
    else:
        gr.HTML(views.note("Every occurrence of a phrase, counted exactly, with the documents holding it. Words are "
                           "normalised as the audit's (case and punctuation ignored)."), js_on_load=None)
    with gr.Row(visible=not explorer.served):
        phrase = gr.Textbox(label="Count a phrase", placeholder="any phrase", max_length=MAX_QUERY_CHARS, scale=5,
                            elem_id="gl-count-phrase", submit_btn=False)
        limit = gr.Number(value=COUNT_LIMIT, precision=0, minimum=1, maximum=COUNT_LIMIT, label="Documents listed",
                          scale=1)
        run_btn = gr.Button("Count", variant="primary", scale=1, elem_id="gl-count-run")
    counted = gr.HTML("", elem_id="gl-count-panel", js_on_load=_OPEN_JS)
    return _Count(phrase, limit, run_btn, counted)


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

    if explorer.served:  # the controls stay hidden: a check reads the whole corpus
        gr.HTML(views.note(str(explorer.local_only("Checking a benchmark for contamination")),
                           "gl-contamination-unavailable"), js_on_load=None)
    else:
        gr.HTML('<div class="gl-note">Which items of a benchmark occur in this corpus? An item is flagged when one of '
                "its n-grams (words, case and punctuation ignored) is in a document; an item shorter than n must "
                "occur whole. Choose a listed benchmark, upload a JSON Lines or parquet file, or name a Hub "
                "dataset.</div>", js_on_load=None)
    with gr.Row(visible=not explorer.served):
        # A single listed benchmark is chosen already: with nothing chosen, "Check" would fail at once.
        listed = list(explorer.benchmarks)
        benchmark = gr.Dropdown(listed, value=listed[0] if len(listed) == 1 else None, label="Listed benchmark",
                                visible=bool(listed), elem_id="gl-benchmark")
        upload = gr.File(label="or upload (.jsonl, .parquet)", file_types=[".jsonl", ".json", ".parquet"],
                         type="filepath")
        hub = gr.Textbox(label="or a Hub dataset (owner/name)", max_length=200)
    with gr.Row(visible=not explorer.served):
        fields = gr.Textbox(label="Text field(s), comma-separated (default: text, question, query...)", max_length=500)
        split = gr.Textbox(label="Split (Hub: default train; BEIR: a qrels split)", max_length=100)
        ngram = gr.Number(value=ContaminationConfig().ngram, precision=0, minimum=1, maximum=100, label="n (words)")
        run_btn = gr.Button("Check", variant="primary", elem_id="gl-contamination-run")
    report = gr.HTML("", elem_id="gl-contamination-panel", js_on_load=_OPEN_JS)
    exported = gr.File(label="Every item (JSON Lines, CSV)", file_count="multiple", interactive=False,
                       elem_id="gl-contamination-files", visible=not explorer.served)
    return _Contamination(benchmark, upload, hub, fields, split, ngram, run_btn, report, exported)


def _wire_search(explorer: Explorer, p: _Page) -> None:
    """Search, paging, comparing and exporting: each handler reads the controls' values by :attr:`_Page.names`
    and hands the retrieval settings to the explorer as they are, to be made into one RetrieverConfig there."""
    reads = {m.name: [URL_NAMES.get(n, n) for n in m.settings] for m in FUSION_METHODS.entries()}
    keys = [URL_NAMES.get(name, name) for name in p.names[:len(p.names) - len(p.filters)]]
    url_js = _URL_JS % json.dumps([keys, list(p.filters), reads]).replace("<", "\\u003c")

    def searching(move):
        @_on_page
        def run_search(*values):
            v = dict(zip(p.names, values))
            res = explorer.search(v["query"], p.view(v, page=move(int(v["page"] or 1))),
                                  **{name: v[name] for name in p.retrieval})
            return views.results_table(res), res.view.page
        return run_search

    outputs = [p.results, p.page]
    for trigger in (p.search_btn.click, p.query.submit):
        trigger(searching(lambda _: 1), p.controls, outputs, js=url_js, **_PRIVATE)
    p.prev_btn.click(searching(lambda page: max(1, page - 1)), p.controls, outputs, js=url_js, **_PRIVATE)
    p.next_btn.click(searching(lambda page: page + 1), p.controls, outputs, js=url_js, **_PRIVATE)

    @_on_page
    def run_compare(*values):
        v = dict(zip(p.names, values))
        compared = explorer.compare(v["query"], p.view(v, page=1), **{name: v[name] for name in p.fusion})
        return views.comparison(compared)

    p.compare_btn.click(run_compare, p.controls, p.compared, **_PRIVATE)
    p.compare_tab.select(run_compare, p.controls, p.compared, **_PRIVATE)


def _wire_documents(explorer: Explorer, p: _Page) -> None:
    @_on_page
    def open_document(i, q, red, span=None):
        return views.document(explorer.document(i, query=q or "", redact=bool(red), span=span))

    p.open_btn.click(open_document, [p.doc_id, p.query, p.redact], p.document, **_PRIVATE)
    p.doc_id.submit(open_document, [p.doc_id, p.query, p.redact], p.document, **_PRIVATE)
    # The URL names the document shown: it follows the panel, which an id that fails to open leaves unchanged.
    p.document.change(None, [p.doc_id], None, js=_DOC_URL_JS, **_PRIVATE)

    def open_clicked(q, red, evt: gr.EventData):
        try:
            i = evt.doc_id
        except (AttributeError, TypeError):  # a click without an id (the event carries no data)
            i = None
        if not isinstance(i, str) or not i:
            return gr.skip(), gr.skip(), gr.skip()
        span = tuple(getattr(evt, k, None) for k in ("field", "start", "end"))
        return i, open_document(i, q, red, span if span[0] else None), gr.Tabs(selected="document")

    audit = [p.audit.personal_examples, p.audit.offensive_examples] if p.audit else []
    for panel in (p.results, p.compared, p.contamination.report, p.count.counted, *audit):
        panel.click(open_clicked, [p.query, p.redact], [p.doc_id, p.document, p.tabs], **_PRIVATE)


def _wire_overview_and_export(explorer: Explorer, p: _Page, exports: Exports) -> None:
    import pandas as pd

    def show_overview():
        o = explorer.overview()
        bars = pd.DataFrame({"words": o["length_bins"], "documents": o["length_counts"]})
        terms = pd.DataFrame(o["top_terms"], columns=["word", "count"])
        # Bins are labels; the plot keeps their order (shortest first) rather than sorting them as text.
        return views.overview(o, explorer.corpus.name), gr.BarPlot(value=bars, sort=o["length_bins"]), terms

    if p.audit is not None:
        _wire_audit(explorer, p, exports)
    elif not explorer.served:
        @_on_page
        def show_computed():
            html, bars, terms = show_overview()
            return views.no_audit(explorer.corpus.name, explorer.audit.problem) + html, bars, terms

        p.overview_tab.select(show_computed, None, [p.overview_html, p.lengths, p.top_terms], **_PRIVATE)

    @_on_page
    def run_export(fmt, *values):
        v = dict(zip(p.names, values))
        res = explorer.search(v["query"], p.view(v), **{name: v[name] for name in p.retrieval})
        path = exports.new(f"gaia_lite-{explorer.corpus.name}-results.{'txt' if fmt == 'trec' else fmt}")
        path.write_text(explorer.export(res, fmt), encoding="utf-8")
        return str(path)

    p.export_btn.click(run_export, [p.fmt, *p.controls], p.exported, **_PRIVATE)


def _bars(frame, x: str, limit: int | None = None):
    """A bar plot's update to ``frame`` (its first ``limit`` rows), the bars in the frame's order."""
    frame = frame if limit is None else frame.head(limit)
    return gr.BarPlot(value=frame, sort=[str(v) for v in frame[x]])


def _wire_audit(explorer: Explorer, p: _Page, exports: Exports) -> None:
    """The Overview over the stored audit: every part filled when the tab opens, a part again when its choice
    changes; the offensive examples when asked for; a table written for download in the format chosen."""
    import pandas as pd

    from .exports import write_table

    a, w = explorer.audit, p.audit

    def ngrams(n):
        frame = a.ngrams(int(n))
        return _bars(frame, "ngram", PLOT_BARS), frame

    def metadata(column):
        if column not in a.metadata_columns():  # none, or a column with no value at all: nothing to plot
            return gr.skip(), gr.skip()
        frame = a.metadata(column)
        return _bars(frame, "value", None if a.metadata_columns()[column] in ("month", "number") else PLOT_BARS), frame

    @_on_page
    def show(measure, n, column):
        s = explorer.audit_summary()
        personal = a.personal_data() if s["personal_data"]["enabled"] else pd.DataFrame({"type": [], "documents": []})
        languages = a.languages() if s["languages"]["enabled"] else pd.DataFrame({"language": [], "documents": []})
        examples = a.examples("personal_data_examples") if s["personal_data"]["enabled"] else []
        o = s["offensive"]
        offensive = (f'<p><b>{o["documents"]:,}</b> documents ({100 * o["rate"]:.2f}%) score at least '
                     f'{o["threshold"]} with {escape(o["model"])}.</p>') if o["enabled"] else ""
        return (views.audit_summary(s), _bars(a.lengths(measure), "length"), *ngrams(n), _bars(personal, "type"),
                personal, views.examples(examples, label="type"), _bars(languages, "language", PLOT_BARS), languages,
                offensive, *metadata(column))

    p.overview_tab.select(show, [w.measure, w.n, w.column], [p.overview_html, *w.shown], **_PRIVATE)
    w.measure.change(_on_page(lambda m: _bars(a.lengths(m), "length")), w.measure, w.lengths, **_PRIVATE)
    w.n.change(_on_page(ngrams), w.n, [w.ngrams_plot, w.ngrams], **_PRIVATE)
    w.column.change(_on_page(metadata), w.column, [w.metadata_plot, w.metadata], **_PRIVATE)

    @_on_page
    def show_offensive(red):
        return views.examples(a.examples("offensive_examples"), label="score", redact=bool(red))

    w.show_offensive.click(show_offensive, p.redact, w.offensive_examples, **_PRIVATE)

    @_on_page
    def download(name, fmt):
        path = exports.new(f"gaia_lite-{explorer.corpus.name}-audit-{name}.{fmt}")
        return str(write_table(a.table(name), path))

    w.download_btn.click(download, [w.table, w.fmt], w.downloaded, **_PRIVATE)


def _wire_count(explorer: Explorer, p: _Page) -> None:
    c = p.count

    @_on_page
    def run_count(phrase, limit):  # not `count`: a page event's name would take the /count endpoint's
        return views.phrase_count(explorer.count(phrase or "", limit))

    for trigger in (c.run_btn.click, c.phrase.submit):
        trigger(run_count, [c.phrase, c.limit], c.counted, **_PRIVATE)


def _wire_contamination(explorer: Explorer, p: _Page, exports: Exports) -> None:
    c = p.contamination

    # The exports are written with the table: keeping the report for a later export would need a gr.State,
    # and a page with state holds a connection to the server open for as long as it is open.
    @_on_page
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


def _wire_fusion_controls(explorer: Explorer, p: _Page) -> None:
    """Each fusion control shows for the methods that read its setting; while the dense index is built in the
    background, its progress every few seconds, then dense and hybrid search turned on in the page, without a
    restart."""

    def shown(method):
        return [gr.update(visible=_shown(name, method, "hybrid" in explorer.retrievers)) for name in p.fusion]

    p.fusion["method"].change(shown, p.fusion["method"], list(p.fusion.values()), **_PRIVATE)
    if explorer.dense_status()["state"] != "building":
        return
    timer = gr.Timer(BUILD_POLL_SECONDS)
    waiting = [gr.skip()] * (len(p.fusion) + 2)

    def poll(method):
        status = explorer.dense_status()
        if status["state"] == "building":
            return views.build_status(status), *waiting, gr.skip()
        if status["state"] == "failed":
            return views.build_status(status), *waiting, gr.Timer(active=False)
        return ("", gr.Radio(choices=list(explorer.retrievers)), *shown(method), gr.update(visible=True),
                gr.Timer(active=False))

    timer.tick(poll, p.fusion["method"], [p.status, p.retriever, *p.fusion.values(), p.compare_tab, timer],
               **_PRIVATE)


def _from_url(text: str | None, like):
    """A URL parameter's ``text`` as a value of the type of ``like`` (None where absent); text that is not such
    a value stays text, for the config to refuse."""
    if text is None:
        return None
    if isinstance(like, bool):
        return text.lower() in ("1", "true", "on", "yes")
    try:
        return int(float(text)) if isinstance(like, int) else float(text) if isinstance(like, float) else text
    except ValueError:
        return text


def _restore(explorer: Explorer, p: _Page, request: gr.Request):
    """Reopen the search (and document) that the URL names; values it cannot use fall back to the defaults."""
    params = dict(request.query_params) if request is not None else {}
    default = explorer.retriever_config()
    try:
        chosen = json.loads(params.get("filters") or "{}")
        chosen = chosen if isinstance(chosen, dict) else {}
    except ValueError:
        chosen = {}
    choices = explorer.filter_choices()
    filters = {name: [v for v in (chosen.get(name) or []) if v in choices[name]] for name in p.filters}
    kind = params.get("retriever") if params.get("retriever") in explorer.retrievers else default.kind
    fusion = {name: _from_url(params.get(URL_NAMES.get(name, name)), getattr(default.fusion, name))
              for name in p.fusion}
    q = params.get("q", "")

    def attempt(view, **retrieval):
        if not q:
            return view, explorer.retriever_config(view, **retrieval), gr.skip()
        res = explorer.search(q, view, **retrieval)
        return res.view, res.config, views.results_table(res)

    hide = params.get("dups") == "hide" and explorer.has_duplicates
    try:
        view = View.make(k=params.get("k"), page=params.get("pg"), redact=params.get("redact", "1") != "0",
                         filters=filters, hide_duplicates=hide)
        view, config, shown = attempt(view, kind=kind, **fusion)
    except ConfigError:  # a value the URL cannot use: the defaults
        view, config, shown = attempt(View())
    out_doc, out_doc_id, out_tab = gr.skip(), gr.skip(), gr.skip()
    if params.get("doc"):
        out_doc_id = params["doc"][:1000]
        try:
            out_doc = views.document(explorer.document(out_doc_id, query=q, redact=view.redact))
        except GaiaLiteError as e:  # a stale or edited link still reopens its search
            out_doc = f'<p class="gl-note" id="gl-document-error">{escape(str(e))}</p>'
        out_tab = gr.Tabs(selected="document")
    chosen = dict(view.filters)
    return (q[:MAX_QUERY_CHARS], config.kind, *(getattr(config.fusion, name) for name in p.fusion), view.k,
            view.page, view.redact, view.hide_duplicates, *(list(chosen.get(name, ())) for name in p.filters),
            shown, out_doc_id, out_doc, out_tab)


def _add_api(explorer: Explorer) -> None:
    """The named API endpoints (:mod:`.api`), for gradio_client; errors as short messages, as on the page."""
    for fn in api.endpoints(explorer):
        # A contamination check reads the whole corpus: one at a time. The rest share the queue's default limit
        # with the page's own events, so that API callers cannot crowd out the cores (unlimited, 8 clients on
        # 2 cores ran 8 searches at once, each slower than it would run alone).
        limit = 1 if fn.__name__ == "contamination" else "default"
        gr.api(_safe(fn), api_name=fn.__name__, concurrency_limit=limit)
