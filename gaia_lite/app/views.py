"""HTML for the explorer's panels, built from the handlers' results.

Every value from the corpus or the user passes through :func:`.render.escape` here, or arrives as HTML that
:mod:`.render` made safe (snippets, document text). Nothing else builds HTML.
"""

from __future__ import annotations

from ..registry import FUSION_METHODS
from .analysis import MAX_CONTAMINATION_ROWS
from .documents import DocumentView
from .render import REDACTION_KINDS, escape, redact_text
from .search import Comparison, Results, Row

SIDE_NAMES = {"bm25": "BM25", "dense": "dense", "hybrid": "hybrid"}

CSS = """
.gl-table { width: 100%; border-collapse: collapse; font-size: 0.92em; }
.gl-table th, .gl-table td { border-bottom: 1px solid var(--border-color-primary); padding: 4px 6px;
  vertical-align: top; text-align: left; }
.gl-table td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.gl-open { cursor: pointer; color: var(--link-text-color); text-decoration: underline; background: none;
  border: none; padding: 0; font: inherit; text-align: left; overflow-wrap: anywhere; }
.gl-table td.gl-id { min-width: 7em; max-width: 22em; }
.gl-snippet { color: var(--body-text-color-subdued); margin-top: 2px; }
.gl-redacted { background: #333; color: #fff; border-radius: 3px; padding: 0 3px; font-size: 0.85em; }
.gl-badge { border-radius: 3px; padding: 0 4px; font-size: 0.8em; margin-right: 2px; }
.gl-bm25 { background: #dbeafe; color: #1e3a8a; } .gl-dense { background: #dcfce7; color: #14532d; }
.gl-cols { display: flex; gap: 12px; } .gl-cols > div { flex: 1; min-width: 0; }
.gl-up { color: #15803d; } .gl-down { color: #b91c1c; } .gl-new { color: #7c3aed; }
.gl-note { color: var(--body-text-color-subdued); font-size: 0.9em; }
.gl-warning { background: #fef2f2; color: #7f1d1d; border: 2px solid #dc2626; border-radius: 4px; padding: 6px 10px;
  margin: 4px 0; }
mark { background: #fde68a; color: inherit; padding: 0 1px; }
mark.gl-span { background: #fca5a5; }
"""


def _num(value, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _rank(value) -> str:
    return "–" if value is None else str(value)


def _open(doc_id: str) -> str:
    d = escape(doc_id)
    return f'<button class="gl-open" data-doc-id="{d}" title="open {d}">{d}</button>'


def _badges(found_by) -> str:
    return "".join(f'<span class="gl-badge gl-{s}">{SIDE_NAMES[s]}</span>' for s in found_by)


def _fusion(f) -> str:
    """The fusion method and the settings it reads (its registry entry's), as the configuration names them."""
    values = {name: getattr(f, name) for name in FUSION_METHODS[f.method].settings}
    shown = ", ".join(f"{name} {value:.2f}" if isinstance(value, float) else f"{name} {value}"
                      for name, value in values.items())
    return escape(f"{f.method} fusion" + (f" ({shown})" if shown else ""))


def note(text: str, elem_id: str | None = None) -> str:
    """A line of ``text`` in the page's note style."""
    where = f' id="{escape(elem_id)}"' if elem_id else ""
    return f'<div class="gl-note"{where}>{escape(text)}</div>'


def parts_answered(report: dict | None) -> str:
    """Which parts of a corpus kept in parts answered (:attr:`.search.Results.parts`): a note where all did; a
    warning naming each missing part, and why, where some did not. Nothing for a corpus in one part."""
    if not report:
        return ""
    answered = f"{len(report['answered'])} of {report['parts']} parts answered"
    if report["complete"]:
        return note(answered, "gl-parts")
    missing = "; ".join(f"<b>{escape(name)}</b> ({escape(why)})" for name, why in report["missing"].items())
    return (f'<div class="gl-warning" id="gl-parts-missing"><b>Partial answer: {answered}.</b> Missing: {missing}. '
            "These results leave out the missing parts' documents; search again once the cluster serves them.</div>")


#: How each BM25 route scores (BM25Searcher.route), shown over the results line's word for it.
ROUTES = {"impacts": "scored from the index's impact matrix: Lucene's scores, computed outside Lucene",
          "lucene": "scored by Lucene (phrases, filters, a corpus in parts, or an index without an impact matrix)"}


def summary(results: Results) -> str:
    """One line saying what was searched and how much was found."""
    kind, view = results.config.kind, results.view
    parts = [f"<b>{escape(SIDE_NAMES.get(kind, kind))}</b>"]
    if kind == "hybrid":
        parts.append(_fusion(results.config.fusion))
    if results.phrases:
        quoted = ", ".join(f"&ldquo;{escape(p)}&rdquo;" for p in results.phrases)
        parts.append(f"{results.pool:,} documents hold {quoted}")
    elif view.filters:
        parts.append(f"{results.pool:,} documents pass the filters")
    if results.matches is not None and kind == "bm25":
        parts.append(f"{results.matches:,} documents hold a query term")
    route = next((r.hit.bm25_route for r in results.rows if r.hit.bm25_route), None)
    if route:
        where = "from the impact matrix" if route == "impacts" else "in Lucene"
        parts.append(f'<span title="{ROUTES[route]}">BM25 {where}</span>')
    parts.append(f"page {view.page} of {results.pages}")
    parts.append(f"{results.elapsed_ms:.0f} ms")
    line = " · ".join(parts)
    notes = "".join(f'<div class="gl-note">{escape(n)}</div>' for n in results.notes)
    if view.redact:
        found = ", ".join(f"{n} {escape(k)}" for k, n in sorted(results.redactions.items()))
        notes += ('<div class="gl-note">Personal data redacted (' + ", ".join(REDACTION_KINDS) + ")"
                  + (f": {found} on this page" if found else "") + "</div>")
    else:
        notes += '<div class="gl-note"><b>Redaction is off</b>: text is shown as stored.</div>'
    return f"{parts_answered(results.parts)}<div>{line}</div>{notes}"


def results_table(results: Results) -> str:
    """The results page: rank, id, scores and ranks of each side, who found it, title and snippet."""
    if not results.rows:
        return summary(results) + "<p>No documents found.</p>"
    hybrid = results.config.kind == "hybrid"
    head = ["#", "id", "score"] + (["BM25", "BM25 #", "dense", "dense #", "found by"] if hybrid else []) + ["document"]
    rows = []
    for r in results.rows:
        h = r.hit
        cells = [f'<td class="num">{h.rank}</td>', f'<td class="gl-id">{_open(h.doc_id)}</td>',
                 f'<td class="num">{_num(h.score)}</td>']
        if hybrid:
            cells += [f'<td class="num">{_num(h.bm25_score)}</td>', f'<td class="num">{_rank(h.bm25_rank)}</td>',
                      f'<td class="num">{_num(h.dense_score)}</td>', f'<td class="num">{_rank(h.dense_rank)}</td>',
                      f"<td>{_badges(h.found_by)}</td>"]
        title = f"<b>{escape(r.title)}</b>" if r.title else ""
        cells.append(f'<td>{title}<div class="gl-snippet">{r.snippet_html}</div></td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    header = "".join(f"<th>{h}</th>" for h in head)
    return (summary(results) + f'<table class="gl-table" id="gl-results-table"><thead><tr>{header}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def _change(row: Row, side: str) -> str:
    before = row.hit.bm25_rank if side == "bm25" else row.hit.dense_rank
    if before is None:
        return f'<span class="gl-new" title="not in {SIDE_NAMES[side]}\'s list">new</span>'
    delta = before - row.hit.rank
    if delta > 0:
        return f'<span class="gl-up">↑{delta}</span>'
    if delta < 0:
        return f'<span class="gl-down">↓{-delta}</span>'
    return "="


def comparison(c: Comparison) -> str:
    """BM25, dense and hybrid side by side, with overlap, rank changes and what only one side found."""
    only = {side: set(ids) for side, ids in c.only.items()}
    columns = []
    for side in ("bm25", "dense", "hybrid"):
        items = []
        for r in c.lists[side]:
            mark = ""
            if side in only and r.hit.doc_id in only[side]:
                mark = f' <span class="gl-badge gl-{side}">only {SIDE_NAMES[side]}</span>'
            change = ""
            if side == "hybrid":
                change = f" <small>BM25 {_change(r, 'bm25')} · dense {_change(r, 'dense')}</small>"
            title = escape(r.title[:120]) if r.title else ""
            items.append(f"<li>{_open(r.hit.doc_id)}{mark}{change}<br><small>{title}</small></li>")
        columns.append(f"<div><h4>{SIDE_NAMES[side]}</h4><ol>{''.join(items) or '<p>none</p>'}</ol></div>")
    o = c.overlap
    head = (f"<p>BM25 and dense share <b>{o['bm25_dense']}</b> of their top {max(o['bm25'], o['dense'])}: "
            f"{len(c.only['bm25'])} only BM25 found, {len(c.only['dense'])} only dense found. "
            "Hybrid ranks show the move from each side's rank (↑ up, ↓ down, new: not in that side's list).</p>")
    return parts_answered(c.parts) + head + f'<div class="gl-cols" id="gl-compare">{"".join(columns)}</div>'


def build_status(status: dict) -> str:
    """One line on the dense side while it is built in the background (empty once it is ready or where none
    is being built)."""
    if status["state"] == "building":
        reused = f", {status['reused']} reused from an interrupted build" if status["reused"] else ""
        return (f'<div class="gl-note" id="gl-build">Building the dense index: <b>{status["percent"]}%</b> '
                f'({status["done"]:,} of {status["total"]:,} documents, {status["shards_done"]} of '
                f'{status["shards"]} shards{reused}). BM25 works now; dense and hybrid search turn on when it is '
                "complete.</div>")
    if status["state"] == "failed":
        return (f'<div class="gl-note" id="gl-build">Building the dense index failed: {escape(status["error"])}. '
                "BM25 still works; the server log has the details.</div>")
    return ""


def document(view: DocumentView) -> str:
    """A document's title, id, size and full text (bounded), then its metadata."""
    meta = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in view.metadata.items())
    title = f"<h3>{escape(view.title)}</h3>" if view.title else ""
    return (f'<div id="gl-document">{title}<div class="gl-note">id <code>{escape(view.doc_id)}</code> · '
            f"{view.words:,} words · {view.characters:,} characters</div>"
            f'<div class="gl-doc-text">{view.html}</div>'
            + (f'<table class="gl-table">{meta}</table>' if meta else "") + "</div>")


def contamination(report, redact: bool = True) -> str:
    """A contamination run: the rate, then the flagged items (most overlap first), each with its longest shared
    span and the document it is in (a click opens the document with the span marked); personal data in items
    and spans redacted unless ``redact`` is False."""

    def shown(text: str) -> str:
        return escape(redact_text(text)[0] if redact else text)

    s = report.summary()
    hist = ", ".join(f"{escape(label)}: {n:,}" for label, n in report.overlap_histogram())
    head = (f'<div id="gl-contamination"><p><b>{s["flagged"]:,} of {s["items"]:,}</b> items flagged '
            f'(<b>{100 * report.rate:.2f}%</b>) · {escape(report.benchmark)} [{escape(", ".join(report.fields))}] · '
            f'{report.config.ngram}-word n-grams · {report.num_documents:,} documents in {report.seconds:.1f} s</p>'
            f'<div class="gl-note">{escape(report.definition())}</div>'
            f'<div class="gl-note">overlap (share of an item\'s n-grams found): {hist}</div>')
    flagged = sorted(report.flagged, key=lambda r: (-r.overlap, -r.longest.words, r.item_id))
    rows = []
    for r in flagged[:MAX_CONTAMINATION_ROWS]:
        o = r.longest
        attrs = (f'data-doc-id="{escape(o.doc_id)}" data-field="{escape(o.field)}" data-start="{o.start}" '
                 f'data-end="{o.end}"')
        rows.append(f'<tr><td>{escape(r.item_id)}</td><td class="num">{r.overlap:.2f}</td>'
                    f'<td class="num">{r.documents:,}</td><td class="num">{o.words}</td>'
                    f'<td class="gl-id"><button class="gl-open" {attrs} title="open with the span marked">'
                    f'{escape(o.doc_id)}</button></td><td>{shown(r.text[:200])}'
                    f'<div class="gl-snippet">&hellip;<mark class="gl-span">{shown(o.span[:300])}</mark>&hellip;'
                    "</div></td></tr>")
    more = (f'<p class="gl-note">{len(flagged) - MAX_CONTAMINATION_ROWS:,} more flagged items: export the result '
            "set for all</p>") if len(flagged) > MAX_CONTAMINATION_ROWS else ""
    table = ('<table class="gl-table"><tr><th>item</th><th>overlap</th><th>docs</th><th>words</th>'
             f'<th>document</th><th>item · shared span</th></tr>{"".join(rows)}</table>') if rows else \
        "<p>No item is flagged.</p>"
    return head + table + more + "</div>"


def _duplicates(d: dict | None) -> str:
    if d is None:
        return "<li>duplicates: not analysed (run <code>gaia-lite duplicates</code>)</li>"
    out = []
    for kind in ("exact", "near"):
        k = d[kind]
        largest = "; ".join(f"{escape(c['cluster_id'])} ({c['size']:,})" for c in k["largest"][:5])
        out.append(f"<li>{kind} duplicates: <b>{k['duplicates']:,}</b> ({100 * k['rate']:.2f}%) beyond the first "
                   f"of {k['clusters']:,} clusters{'; largest: ' + largest if largest else ''}</li>")
    return "".join(out) + f'<li class="gl-note">{escape(d["definition"])}</li>'


def overview(o: dict, corpus_name: str) -> str:
    """The corpus in numbers: size, lengths, metadata columns, indexes and duplicates."""
    filters = ", ".join(f"{escape(c)} ({n} values)" for c, n in o["filters"].items()) or "none"
    sample = "" if o["sampled"] == o["documents"] else f" (from a sample of {o['sampled']:,} documents)"
    terms = ", ".join(f"{escape(w)} ({n:,})" for w, n in o["top_terms"][:30])
    return (f"<h3>{escape(corpus_name)}</h3><ul>"
            f"<li><b>{o['documents']:,}</b> documents, {o['words']:,} words; "
            f"{o['mean_words']:.1f} words on average, median {o['median_words']:.0f}; {o['empty']:,} empty</li>"
            f"<li>metadata columns: {', '.join(escape(c) for c in o['columns']) or 'none'}; "
            f"filterable: {filters}</li>"
            f"<li>indexes: {', '.join(escape(i) for i in o['indexes'])}</li>"
            + _duplicates(o.get("duplicates")) +
            f"<li>most frequent words{sample}: {terms}</li></ul>")


def _estimate(e: dict) -> str:
    """A count the audit estimated (or counted), with its bounds where they differ from it."""
    if e["lower"] == e["upper"] == e["estimate"]:
        return f"{e['estimate']:,}"
    return f"{e['estimate']:,} ({e['lower']:,}–{e['upper']:,} at {100 * e['confidence']:.0f}%)"


def audit_summary(s: dict) -> str:
    """The audit's summary (``summary.json``) as the Overview's headline: size, lengths, distinct n-grams, personal
    data, languages, offensive language, metadata, and the linked duplicate and contamination analyses."""
    t = s["text"]
    rows = [f"<li><b>{s['documents']:,}</b> documents, <b id='gl-audit-words'>{t['words']:,}</b> words, "
            f"{t['characters']:,} characters, {t['tokens']:,} tokens ({escape(t['tokenizer'])}); {t['empty']:,} empty, "
            f"{t['short']:,} shorter than {t['short_words']} words</li>"]
    lengths = "".join(f"<tr><td>{escape(m)}</td>" + "".join(f'<td class="num">{v[k]:,.0f}</td>' for k in
                                                            ("min", "mean", "p50", "p90", "p99", "max")) + "</tr>"
                      for m, v in s["lengths"].items() if isinstance(v, dict))
    distinct = "".join(f'<tr><td class="num">{n}</td><td class="num">{_estimate(d)}</td>'
                       f'<td class="num">{_estimate(s["singletons"][n])}</td></tr>' for n, d in s["distinct"].items())
    method = escape(next(iter(s["distinct"].values()))["method"]) if s["distinct"] else ""
    p = s["personal_data"]
    if p["enabled"]:
        found = ", ".join(f"{escape(k)}: {v['occurrences']:,} in {v['documents']:,} documents"
                          for k, v in p["types"].items())
        rows.append(f"<li>personal data: {found}</li>")
    lang = s["languages"]
    if lang["enabled"]:
        top = ", ".join(f"{escape(x['language'])} {100 * x['share']:.1f}%" for x in lang["top"][:8])
        rows.append(f"<li>languages ({escape(lang['detector'])}): {lang['documents_identified']:,} documents "
                    f"identified; {top}</li>")
    o = s["offensive"]
    if o["enabled"]:
        rows.append(f"<li>offensive language ({escape(o['model'])}, score ≥ {o['threshold']}): "
                    f"<b id='gl-audit-offensive'>{o['documents']:,}</b> documents ({100 * o['rate']:.2f}%)</li>")
    if s.get("metadata"):
        columns = []
        for c, m in s["metadata"].items():
            values = m.get("distinct")
            counted = "" if values is None else f", {'more than ' if m.get('capped') else ''}{values:,} values"
            columns.append(f"{escape(c)} ({escape(m['kind'])}{counted})")
        rows.append(f"<li>metadata: {', '.join(columns)}</li>")
    d = s.get("duplicates")
    if d and "error" not in d:
        rows.append("<li id='gl-audit-duplicates'>" + "; ".join(
            f"{kind} duplicates: {d[kind]['duplicates']:,} ({100 * d[kind]['rate']:.2f}%) in {d[kind]['clusters']:,} "
            "clusters" for kind in ("exact", "near")) + "</li>")
    elif d:  # stored, but not of these documents (or unreadable): say why rather than pretend there is none
        rows.append(f"<li id='gl-audit-duplicates'>duplicates: not used ({escape(d['error'][:300])})</li>")
    else:
        rows.append("<li id='gl-audit-duplicates'>duplicates: not analysed when the audit ran "
                    "(<code>gaia-lite duplicates</code>)</li>")
    rows.extend(_overlap(o) for o in s.get("overlap") or [])
    if s.get("contamination"):
        rows.append(f"<li>contamination: {escape(str(s['contamination']))[:300]}</li>")
    return (f'<div id="gl-audit"><h3>{escape(s["corpus"])}: the audit</h3><ul>{"".join(rows)}</ul>'
            '<div class="gl-cols"><div><table class="gl-table" id="gl-audit-lengths"><tr><th>length</th><th>min</th>'
            f"<th>mean</th><th>median</th><th>p90</th><th>p99</th><th>max</th></tr>{lengths}</table></div>"
            '<div><table class="gl-table" id="gl-audit-distinct"><tr><th>n</th><th>distinct n-grams</th>'
            f"<th>seen once</th></tr>{distinct}</table><div class='gl-note'>{method}</div></div></div>"
            f'<div class="gl-note">Words normalised as: {escape(s["normalization"])}. Audited in '
            f'{s["seconds"]:,.1f} s over {s["shards"]} shards.</div></div>')


def _overlap(o: dict) -> str:
    """One stored overlap with another corpus (``gaia-lite overlap``), as the audit linked it: the shared n-grams
    and the documents of each side holding one."""
    r = o.get("summary") or {}
    try:
        a, b = r["a"], r["b"]
        sides = "; ".join(f"{escape(x['corpus'])}: <b>{x['overlapping']:,}</b> of {x['with_ngrams']:,} documents "
                          f"({100 * x['document_rate']:.2f}%), {100 * x['ngram_rate']:.2f}% of its n-grams"
                          for x in (a, b))
        return (f"<li class='gl-audit-overlap'>overlap with {escape(b['corpus'])} ({r['config']['ngram']}-grams): "
                f"{r['shared']:,} shared; {sides}</li>")
    except (KeyError, TypeError):  # written by another version: link it rather than fail the whole summary
        return f"<li class='gl-audit-overlap'>overlap stored at {escape(str(o.get('path')))}</li>"


def no_audit(corpus_name: str, problem: str | None = None) -> str:
    """The note over the computed overview of a corpus that has no audit of its current documents (``problem``:
    why a stored one is not used)."""
    why = f"the stored audit is not used ({problem}); " if problem else ""
    return note(f"{why}run `gaia-lite audit {corpus_name}` for the lengths in characters, words and tokens, the most "
                "common n-grams with exact counts, personal data, languages, offensive language, metadata and exact "
                "phrase counts; below, a quick overview computed from the corpus", "gl-no-audit")


def examples(rows: list[dict], *, label: str, redact: bool = True) -> str:
    """Example snippets of an audit (``id``, ``text``, and ``type`` or ``score``), each id opening its document;
    personal data redacted unless ``redact`` is False (personal data examples are stored redacted)."""
    if not rows:
        return "<p>No examples.</p>"
    out = []
    for r in rows:
        text = redact_text(r["text"])[0] if redact else r["text"]
        kind = escape(r["type"]) if "type" in r else f"{r['score']:.2f}" if "score" in r else ""
        out.append(f'<tr><td class="gl-id">{_open(r["id"])}</td><td>{kind}</td><td>{escape(text)}</td></tr>')
    return (f'<table class="gl-table gl-examples"><tr><th>id</th><th>{escape(label)}</th><th>text</th></tr>'
            f"{''.join(out)}</table>")


def phrase_count(c) -> str:
    """An exact phrase count (a :class:`~gaia_lite.analysis.PhraseCount`): occurrences and documents, the words it
    was counted as, and the documents listed (each id opens the document) with their occurrences."""
    words = escape(" ".join(c.words))
    head = (f'<div id="gl-count"><p><b id="gl-count-occurrences">{c.occurrences:,}</b> occurrences in '
            f'<b id="gl-count-documents">{c.documents:,}</b> documents of &ldquo;{words}&rdquo; '
            f"({1000 * c.seconds:.0f} ms)</p>")
    if not c.ids:
        return head + "<p>No document holds it.</p></div>"
    more = (f'<div class="gl-note">the first {len(c.ids):,} of {c.documents:,} documents, in corpus order</div>'
            if c.documents > len(c.ids) else "")
    rows = "".join(f'<tr><td class="gl-id">{_open(i)}</td><td class="num">{n:,}</td></tr>'
                   for i, n in zip(c.ids, c.per_document))
    return (head + more + f'<table class="gl-table" id="gl-count-table"><tr><th>document</th><th>occurrences</th>'
            f"</tr>{rows}</table></div>")
