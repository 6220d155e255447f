"""Corpus text made safe to show: HTML escaping, query-word highlights, snippets, and redaction of personal data.

Corpus text is untrusted: it can hold markup meant to run in the reader's browser, and e-mail addresses, phone
numbers, IP addresses and secrets the explorer should not show by default. Everything here works on positions
in the original text and escapes each piece as it is emitted, so no HTML is ever built from unescaped text, and
a redacted span is replaced as a whole (its characters never reach the output, not even in an attribute).

The detectors of personal data (:func:`find_pii`, :func:`redact_text`) live in :mod:`gaia_lite.analysis.pii`,
where the corpus audit counts them with the same definition; they are re-exported here.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

# The detectors live in the analysis layer (the audit counts them too); _PATTERNS is re-exported for the tests
# that check find_pii against every pattern.
from ..analysis.pii import _PATTERNS, MARGIN, PLACEHOLDER, REDACTION_KINDS, Span, find_pii, redact_text  # noqa: F401

# --- HTML -----------------------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def escape(text: str) -> str:
    """``text`` escaped for HTML content and attribute values (``& < > " '``)."""
    return html.escape(text, quote=True)


def word_forms(text: str, *, starting: Collection[str] | None = None) -> set[str]:
    """The lowercase forms of the words (runs of Unicode word characters) of ``text``; with ``starting``, only
    those that start with one of these (lowercase) strings."""
    if starting is None or "" in starting:
        return {w.lower() for w in set(_WORD.findall(text))}
    low = text.lower()
    if not _same_positions(text, low):
        return {w for w in word_forms(text) if w.startswith(tuple(starting))}
    return {form for start in starting for m in _words_at(text, low, start)
            if (form := m.group().lower()).startswith(start)}


def to_html(text: str, *, highlight: Collection[str] = (), redact: bool = True, limit: int | None = None,
            span: tuple[int, int] | None = None) -> str:
    """``text`` as safe HTML: escaped, words whose lowercase form is in ``highlight`` in ``<mark>``, personal
    data (with ``redact``) as a marked ``[EMAIL]``-style placeholder, newlines as ``<br>``. ``span`` (character
    offsets) is wrapped in ``<mark class="gl-span" id="gl-span">``: a passage shared with a benchmark item.

    With ``limit``, at most ``limit`` characters of ``text`` are shown (a redacted span across the cut shows as
    its placeholder), then a note saying how much was left out.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0 or None, got {limit}")
    end = len(text) if limit is None else min(limit, len(text))
    # Past the margin no span can start before the cut, so a long document is scanned only as far as it shows.
    spans = find_pii(text if end == len(text) else text[:end + MARGIN]) if redact else []
    marks = _marks(text[:end + 1], _lowered(highlight), spans)
    if span is not None and 0 <= span[0] < span[1] and span[0] < end:
        a, b = span[0], min(span[1], end)
        # Personal data is found in the whole text first: a span boundary never splits it unredacted.
        out = (_render(text, 0, a, spans, marks) + '<mark class="gl-span" id="gl-span">'
               + _render(text, a, b, spans, marks) + "</mark>" + _render(text, b, end, spans, marks))
    else:
        out = _render(text, 0, end, spans, marks)
    if end < len(text):
        out += f'<br><span class="gl-note">… (showing {end:,} of {len(text):,} characters)</span>'
    return out


def bounded(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, never inside personal data: a span across the cut is kept
    whole, so that snippets of the cut text redact it like the full text would."""
    if len(text) <= limit:
        return text
    crossing = [s for s in find_pii(text[:limit + MARGIN]) if s.start < limit < s.end]
    return text[:crossing[0].end if crossing else limit]


@dataclass(frozen=True)
class Snippet:
    """A snippet as HTML and as plain text (same window, same redactions), and how many items of each kind of
    personal data it hides."""

    html: str
    text: str
    hidden: dict[str, int]


def snippet(text: str, highlight: Collection[str] = (), *, redact: bool = True, width: int = 300) -> Snippet:
    """About ``width`` characters of ``text`` around its densest cluster of ``highlight`` words (the earliest of
    equals; the start of the text when none occurs), cut between words, with "…" where cut. The HTML is as
    :func:`to_html`; the plain text is redacted (with ``redact``) before it is cut, so a cut can never leave part
    of an address or key behind. The window and the redactions are found once for both."""
    start, end, spans, marks = _snippet(text, highlight, redact, width)
    shown = _overlapping(spans, start, end)
    before, after = ("… " if start > 0 else ""), (" …" if end < len(text) else "")
    pieces, pos = [], start
    for s in shown:
        pieces += [text[pos:s.start], PLACEHOLDER[s.kind]]
        pos = s.end
    pieces.append(text[pos:end])
    counts = Counter(s.kind for s in shown)
    return Snippet(before + _render(text, start, end, spans, marks) + after, before + "".join(pieces) + after,
                   {kind: counts[kind] for kind in REDACTION_KINDS if counts[kind]})


def snippet_html(text: str, highlight: Collection[str] = (), *, redact: bool = True, width: int = 300) -> str:
    """The HTML of :func:`snippet`."""
    return snippet(text, highlight, redact=redact, width=width).html


def snippet_text(text: str, highlight: Collection[str] = (), *, redact: bool = True, width: int = 300) -> str:
    """The plain text of :func:`snippet`, for exports and the API."""
    return snippet(text, highlight, redact=redact, width=width).text


def _lowered(highlight: Collection[str]) -> frozenset[str]:
    return frozenset(w.lower() for w in highlight)


def _overlapping(spans: list[Span], start: int, end: int) -> list[Span]:
    """The spans that reach into ``text[start:end]`` (spans are sorted and disjoint, so their ends are sorted)."""
    out = []
    for s in spans[bisect_right(spans, start, key=lambda s: s.end):]:
        if s.start >= end:
            break
        out.append(s)
    return out


def _render(text: str, start: int, end: int, spans: list[Span], marks: list[tuple[int, int]]) -> str:
    """HTML for ``text[start:end]``; a span that reaches into the range is shown whole, as its placeholder, and
    the words at ``marks`` (:func:`_marks`) that lie inside the range are in ``<mark>``."""
    out, pos = [], start
    for s in _overlapping(spans, start, end):
        if s.start > pos:
            out.append(_marked(text, pos, s.start, marks))
        out.append(f'<span class="gl-redacted" title="redacted {s.kind}">{PLACEHOLDER[s.kind]}</span>')
        pos = s.end
    if pos < end:
        out.append(_marked(text, pos, end, marks))
    return "".join(out)


def _marked(text: str, start: int, end: int, marks: list[tuple[int, int]]) -> str:
    out, pos = [], start
    for a, b in marks[bisect_left(marks, (start, start)):]:
        if b > end:  # marks are sorted and disjoint: the rest lie past the range too
            break
        out += [_plain(text[pos:a]), f"<mark>{escape(text[a:b])}</mark>"]
        pos = b
    out.append(_plain(text[pos:end]))
    return "".join(out)


def _plain(piece: str) -> str:
    return escape(piece).replace("\n", "<br>")


def _marks(text: str, lowered: frozenset[str], spans: list[Span]) -> list[tuple[int, int]]:
    """``(start, end)`` of the words of ``text`` to highlight (lowercase form in ``lowered``) outside ``spans``."""
    return [w for w in _word_spans(text, lowered) if not _overlapping(spans, *w)] if lowered else []


def _same_positions(text: str, low: str) -> bool:
    """Whether ``low`` (``text.lower()``) has each word's lowercase form at the word's position in ``text``: so
    while every character lowercases to one character without context (a capital sigma's lowercase depends on
    what follows it)."""
    return len(low) == len(text) and "\u03a3" not in text


def _word_spans(text: str, lowered: frozenset[str]) -> list[tuple[int, int]]:
    """``(start, end)`` of each word of ``text`` whose lowercase form is in ``lowered``, in order."""
    low = text.lower()
    # Each word is looked for in the lowercased text, which is much faster than visiting every word.
    if not _same_positions(text, low):
        return [m.span() for m in _WORD.finditer(text) if m.group().lower() in lowered]
    return sorted(m.span() for word in lowered for m in _words_at(text, low, word) if m.end() - m.start() == len(word))


def _words_at(text: str, low: str, piece: str):
    """The words of ``text`` (as ``_WORD`` matches) that start where ``piece`` occurs in ``low``, its lowercased
    text (:func:`_same_positions`). After each occurrence the search goes on past the word characters that
    follow it, since what starts inside a word is not a word of its own: a text is walked once however often
    ``piece`` recurs inside longer words ("aaaa…" for "a")."""
    i = low.find(piece) if piece else -1
    while i >= 0:
        m = _WORD.match(text, i)
        if m and (i == 0 or not _WORD.match(text, i - 1)):
            yield m
        i = low.find(piece, m.end() if m else i + 1)


def _snippet(text: str, highlight: Collection[str], redact: bool,
             width: int) -> tuple[int, int, list[Span], list[tuple[int, int]]]:
    """The window ``(start, end)`` of a snippet, the redaction spans and the words to highlight (:func:`_marks`)."""
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    spans = find_pii(text) if redact else []
    hits = _marks(text, _lowered(highlight), spans)
    # The run of hits that fits in `width` with the most hits; the earliest of equals.
    first = last = count = 0
    j = 0
    for i in range(len(hits)):
        j = max(j, i)
        while j + 1 < len(hits) and hits[j + 1][1] - hits[i][0] <= width:
            j += 1
        if j - i + 1 > count:
            first, last, count = i, j, j - i + 1
    g0, g1 = (hits[first][0], hits[last][1]) if hits else (0, 0)
    # Centre the hits in the window, then move both edges inwards to the nearest whitespace outside them.
    start = max(0, g0 - max(0, width - (g1 - g0)) // 2)
    end = min(len(text), start + max(width, g1 - g0))
    start = max(0, min(start, end - width))
    if start > 0:
        k = start
        while k < g0 and not text[k - 1].isspace():
            k += 1
        start = k if k < g0 or text[k - 1].isspace() else start
        while start < g0 and text[start].isspace():
            start += 1
    if end < len(text):
        k = end
        while k > g1 and not text[k].isspace():
            k -= 1
        end = k if k > g1 or text[k].isspace() else end
        while end > g1 and text[end - 1].isspace():
            end -= 1
    return start, end, spans, hits

