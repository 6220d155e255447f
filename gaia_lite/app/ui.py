"""The Gradio 6 layout and events of the explorer, over an :class:`~.explorer.Explorer`.

This module imports Gradio; ``gaia_lite.app`` imports it only when an app is built.

Handlers here only translate between widgets and the explorer; the work and every safety rule live in
:mod:`.explorer` (bounds), :mod:`.render` (escaping, redaction) and :mod:`.views` (HTML). Errors reach the
user as one short line: a gaia_lite error's own message, anything else a generic one with the details in
the server log, never a traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from ..errors import GaiaLiteError
from . import views
from .explorer import EXPORT_FORMATS, FUSIONS, MAX_K, MAX_QUERY_CHARS, NORMALIZATIONS, Explorer, Settings
from .render import escape

log = logging.getLogger("gaia_lite.app")

# Runs in the browser before each search: puts the search in the address bar (and, inside a Hugging Face
# Space, in the Space page's address bar), so that the URL reopens the same search. The page number is
# `pg`: Gradio itself reads `?page=` (multipage apps) and fails on other values.
_URL_JS = """
(...args) => {
  const names = %s;
  const [q, retriever, fusion, weight, normalization, k, page, redact, ...filters] = args;
  const u = new URLSearchParams();
  if (q) u.set("q", q);
  u.set("retriever", retriever); u.set("fusion", fusion); u.set("w", weight); u.set("norm", normalization);
  u.set("k", k); u.set("pg", page); if (!redact) u.set("redact", "0");
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

# Clicking an id in a results or comparison table opens that document.
_OPEN_JS = """
element.addEventListener('click', (event) => {
  const target = event.target.closest('[data-doc-id]');
  if (target) trigger('click', {doc_id: target.getAttribute('data-doc-id')});
});
"""


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


def build_demo(explorer: Explorer, *, title: str | None = None):
    """The explorer as a ``gr.Blocks`` app (not launched). Named API endpoints: ``/search``, ``/compare``,
    ``/document``, ``/overview``."""
    corpus = explorer.corpus
    retrievers = list(explorer.retrievers)
    default_retriever = retrievers[-1]
    choices = explorer.filter_choices()
    filter_names = list(choices)
    hybrid_visible = "hybrid" in retrievers
    url_js = _URL_JS % json.dumps(filter_names).replace("<", "\\u003c")
    export_dir = Path(tempfile.mkdtemp(prefix="gaia_lite_export_"))

    def settings_of(retriever, fusion, weight, normalization, k, page, redact, filter_values) -> Settings:
        filters = {name: values for name, values in zip(filter_names, filter_values) if values}
        return Settings.make(retriever=retriever, fusion=fusion, bm25_weight=weight, normalization=normalization,
                             k=k, page=page or 1, redact=bool(redact), filters=filters)

    with gr.Blocks(title=title or f"gaia_lite · {corpus.name}") as demo:
        gr.HTML(f"<h2>gaia_lite explorer · {escape(corpus.name)}</h2>"
                f"<div class='gl-note'>{len(corpus):,} documents · retrievers: {', '.join(retrievers)} · "
                "quote words for an exact phrase (&quot;like this&quot;)</div>", js_on_load=None)
        with gr.Row():
            query = gr.Textbox(label="Query", placeholder='words, or "an exact phrase"', max_length=MAX_QUERY_CHARS,
                               scale=5, elem_id="gl-query", submit_btn=False)
            search_btn = gr.Button("Search", variant="primary", scale=1, elem_id="gl-search")
        with gr.Row():
            retriever = gr.Radio(retrievers, value=default_retriever, label="Retriever", elem_id="gl-retriever")
            fusion = gr.Radio(list(FUSIONS), value="rrf", label="Fusion", visible=hybrid_visible)
            weight = gr.Slider(0, 1, value=0.5, step=0.05, label="BM25 weight (dense gets the rest)",
                               visible=hybrid_visible)
            normalization = gr.Radio(list(NORMALIZATIONS), value="minmax", label="Normalization (weighted)",
                                     visible=hybrid_visible)
            k = gr.Slider(1, MAX_K, value=10, step=1, label="Results per page (k)")
            redact = gr.Checkbox(value=True, label="Redact personal data", elem_id="gl-redact")
        filters = []
        with gr.Accordion("Filters", open=False, visible=bool(choices)):
            for name, values in choices.items():
                filters.append(gr.Dropdown(values, multiselect=True, label=name, value=[]))
        with gr.Row():
            prev_btn = gr.Button("← Previous page", size="sm")
            page = gr.Number(value=1, precision=0, minimum=1, label="Page", elem_id="gl-page")
            next_btn = gr.Button("Next page →", size="sm")
        with gr.Tabs() as tabs:
            with gr.Tab("Results", id="results"):
                results = gr.HTML("<p>Type a query and press Search.</p>", elem_id="gl-results", js_on_load=_OPEN_JS)
            with gr.Tab("Compare", id="compare", visible=hybrid_visible) as compare_tab:
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
                fmt = gr.Radio(list(EXPORT_FORMATS), value="csv", label="Format (TREC: run lines)")
                export_btn = gr.Button("Export the current results")
                exported = gr.File(label="Download", interactive=False)

        controls = [query, retriever, fusion, weight, normalization, k, page, redact, *filters]

        @_safe
        def run_search(q, r, f, w, n, kk, p, red, *fv):
            res = explorer.search(q, settings_of(r, f, w, n, kk, p, red, fv))
            return views.results_table(res), res.settings.page

        def first_page(q, r, f, w, n, kk, _p, red, *fv):
            return run_search(q, r, f, w, n, kk, 1, red, *fv)

        def step(delta):
            def go(q, r, f, w, n, kk, p, red, *fv):
                p = max(1, int(p or 1) + delta)
                return run_search(q, r, f, w, n, kk, p, red, *fv)
            return go

        search_outputs = [results, page]
        for trigger in (search_btn.click, query.submit):
            trigger(first_page, controls, search_outputs, js=url_js, api_visibility="private")
        prev_btn.click(step(-1), controls, search_outputs, js=url_js, api_visibility="private")
        next_btn.click(step(+1), controls, search_outputs, js=url_js, api_visibility="private")

        @_safe
        def run_compare(q, r, f, w, n, kk, p, red, *fv):
            return views.comparison(explorer.compare(q, settings_of(r, f, w, n, kk, 1, red, fv)))

        compare_btn.click(run_compare, controls, compared, api_visibility="private")
        compare_tab.select(run_compare, controls, compared, api_visibility="private")

        @_safe
        def open_document(i, q, red):
            return views.document(explorer.document(i, query=q or "", redact=bool(red)))

        for opened in (open_btn.click(open_document, [doc_id, query, redact], document, api_visibility="private"),
                       doc_id.submit(open_document, [doc_id, query, redact], document, api_visibility="private")):
            opened.success(None, [doc_id], None, js=_DOC_URL_JS, api_visibility="private")

        def open_clicked(q, red, evt: gr.EventData):
            try:
                i = evt.doc_id
            except (AttributeError, TypeError):  # a click without an id (the event carries no data)
                i = None
            if not isinstance(i, str) or not i:
                return gr.skip(), gr.skip(), gr.skip()
            return i, open_document(i, q, red), gr.Tabs(selected="document")

        for panel in (results, compared):
            panel.click(open_clicked, [query, redact], [doc_id, document, tabs], api_visibility="private") \
                .success(None, [doc_id], None, js=_DOC_URL_JS, api_visibility="private")

        @_safe
        def show_overview():
            o = explorer.overview()
            bars = pd.DataFrame({"words": o["length_bins"], "documents": o["length_counts"]})
            terms = pd.DataFrame(o["top_terms"], columns=["word", "count"])
            # Bins are labels; the plot keeps their order (shortest first) rather than sorting them as text.
            return views.overview(o, corpus.name), gr.BarPlot(value=bars, sort=o["length_bins"]), terms

        overview_tab.select(show_overview, None, [overview_html, lengths, top_terms], api_visibility="private")

        @_safe
        def run_export(f, q, r, fu, w, n, kk, p, red, *fv):
            res = explorer.search(q, settings_of(r, fu, w, n, kk, p, red, fv))
            path = export_dir / f"gaia_lite-{corpus.name}-results.{'txt' if f == 'trec' else f}"
            path.write_text(explorer.export(res, f), encoding="utf-8")
            return str(path)

        export_btn.click(run_export, [fmt, *controls], exported, api_visibility="private")

        @_safe
        def restore(request: gr.Request):
            """Reopen the search (and document) that the URL names."""
            params = dict(request.query_params) if request is not None else {}
            values = {
                "q": params.get("q", ""), "retriever": params.get("retriever", default_retriever),
                "fusion": params.get("fusion", "rrf"), "w": params.get("w", 0.5), "norm": params.get("norm", "minmax"),
                "k": params.get("k", 10), "page": params.get("pg", 1), "redact": params.get("redact", "1") != "0",
            }
            try:
                chosen = json.loads(params.get("filters") or "{}")
                chosen = chosen if isinstance(chosen, dict) else {}
            except ValueError:
                chosen = {}
            fv = [[v for v in (chosen.get(name) or []) if v in choices[name]] for name in filter_names]
            if values["retriever"] not in retrievers:
                values["retriever"] = default_retriever
            if values["fusion"] not in FUSIONS:
                values["fusion"] = "rrf"
            if values["norm"] not in NORMALIZATIONS:
                values["norm"] = "minmax"
            try:
                s = settings_of(values["retriever"], values["fusion"], values["w"], values["norm"], values["k"],
                                values["page"], values["redact"], fv)
            except GaiaLiteError:
                s = Settings(retriever=default_retriever)
            out_results = gr.skip()
            if values["q"]:
                out_results = views.results_table(explorer.search(values["q"], s))
            out_doc, out_doc_id, out_tab = gr.skip(), gr.skip(), gr.skip()
            if params.get("doc"):
                out_doc_id = params["doc"][:1000]
                try:
                    out_doc = views.document(explorer.document(out_doc_id, query=values["q"], redact=s.redact))
                except GaiaLiteError as e:  # a stale or edited link still reopens its search
                    out_doc = f'<p class="gl-note" id="gl-document-error">{escape(str(e))}</p>'
                out_tab = gr.Tabs(selected="document")
            return (values["q"][:MAX_QUERY_CHARS], s.retriever, s.fusion, s.bm25_weight, s.normalization, s.k,
                    s.page, s.redact, *fv, out_results, out_doc_id, out_doc, out_tab)

        demo.load(restore, None, [*controls, results, doc_id, document, tabs], api_visibility="private")

        # Named API endpoints for gradio_client: JSON in, JSON out.
        def search(query: str, retriever: str = default_retriever, fusion: str = "rrf", bm25_weight: float = 0.5,
                   k: int = 10, page: int = 1, redact: bool = True, filters: dict | None = None,
                   normalization: str = "minmax") -> dict:
            """Search the corpus; the hits carry each side's scores and ranks."""
            return explorer.search(query, Settings.make(
                retriever=retriever, fusion=fusion, bm25_weight=bm25_weight, k=k, page=page, redact=redact,
                filters=filters if isinstance(filters, dict) else None, normalization=normalization)).to_dict()

        def compare(query: str, k: int = 10, fusion: str = "rrf", bm25_weight: float = 0.5,
                    redact: bool = True) -> dict:
            """BM25, dense and hybrid top k side by side, with their overlap."""
            c = explorer.compare(query, Settings.make(k=k, fusion=fusion, bm25_weight=bm25_weight, redact=redact))
            return {"query": c.query, "overlap": c.overlap, "only": c.only,
                    "lists": {side: [{"rank": r.rank, "doc_id": r.doc_id, "score": r.score, "bm25_rank": r.bm25_rank,
                                      "dense_rank": r.dense_rank} for r in rows] for side, rows in c.lists.items()}}

        def document(doc_id: str, redact: bool = True) -> dict:
            """A document by id: title, text (bounded, redacted unless asked not to) and metadata."""
            view = explorer.document(doc_id, redact=redact, html=False)
            return {"id": view.doc_id, "title": view.title, "text": view.text, "characters": view.characters,
                    "words": view.words, "metadata": view.metadata}

        def overview() -> dict:
            """Document count, length distribution and most frequent words."""
            return explorer.overview()

        for fn in (search, compare, document, overview):
            gr.api(_safe(fn), api_name=fn.__name__, concurrency_limit=None)
    return demo
