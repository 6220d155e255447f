"""The one text normalisation of the corpus analyses: what counts as "the same words".

A text is cut into character clusters (a character and the combining marks after it); each cluster is
normalised with Unicode NFKC and case-folded; the words are then the maximal runs of letters, digits and
combining marks (anything else, punctuation, symbols, underscores and whitespace, separates words and is
dropped; combining marks stay, so Devanagari or a case-folded ``İ`` keep their words whole). Each word
keeps the character offsets, in the original text, of the clusters it came from, so a match found on
normalised words can be shown in the document as it is stored.

So ``"The Cat's   HAT!"`` and ``"the cat s hat"`` have the same words, and ``"ﬁne"`` (a ligature) is ``fine``.
"""

from __future__ import annotations

import re
import unicodedata

import regex

#: One sentence for cards, help texts and result sets.
NORMALIZATION = ("Unicode NFKC and case folding; words are maximal runs of letters, digits and combining marks, "
                 "everything else (punctuation, symbols, underscores, whitespace) separates words")

_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
_WORD = regex.compile(r"[\p{L}\p{N}\p{M}]+")


def words(text: str) -> list[str]:
    """The normalised words of ``text`` (see the module docstring)."""
    if text.isascii():
        return _ASCII_WORD.findall(text.lower())
    return [w for w, _, _ in word_spans(text)]


def word_spans(text: str) -> list[tuple[str, int, int]]:
    """The normalised words of ``text`` with their ``(start, end)`` character offsets in ``text``."""
    if text.isascii():  # NFKC changes nothing and case folding is lower(): offsets map one to one
        return [(m.group().lower(), m.start(), m.end()) for m in _ASCII_WORD.finditer(text)]
    folded = text.casefold()
    if len(folded) == len(text) and unicodedata.is_normalized("NFKC", text):
        # Already NFKC, and case folding expanded no character: offsets still map one to one.
        return [(m.group(), m.start(), m.end()) for m in _WORD.finditer(folded)]
    return _cluster_spans(text)


def _cluster_spans(text: str) -> list[tuple[str, int, int]]:
    """The general path: normalise cluster by cluster, remembering where each normalised character came from."""
    pieces: list[str] = []
    origin: list[tuple[int, int]] = []  # per normalised character: its cluster's offsets in ``text``
    start = 0
    for end in range(1, len(text) + 1):
        if end < len(text) and unicodedata.combining(text[end]):
            continue
        piece = unicodedata.normalize("NFKC", text[start:end]).casefold()
        pieces.append(piece)
        origin.extend([(start, end)] * len(piece))
        start = end
    normalised = "".join(pieces)
    return [(m.group(), origin[m.start()][0], origin[m.end() - 1][1]) for m in _WORD.finditer(normalised)]
