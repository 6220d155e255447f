"""Each document's language, for the corpus audit: Compact Language Detector 2 (``pycld2``), with ``py3langid``
for the texts CLD2 cannot call.

Chosen by ``benchmarks/compare_languages.py`` on a labelled sample of 30 languages (``tests/data/languages/``):
CLD2 is the fastest of the four libraries compared by an order of magnitude (about 0.02 ms for 500 characters;
py3langid 0.2 ms, lingua and langdetect about 2 ms), which an audit of millions of documents needs, and when it
says its answer is reliable it is almost always right; it declines short texts (word pairs, titles), and those
go to py3langid, more accurate than CLD2 on them and cheap on short texts. Both models ship in their wheels, and
both are deterministic (langdetect is not, unless seeded). lingua is the most accurate on the sample but
about 100 times slower than CLD2 and holds 1.2 GB in its high-accuracy mode.

A text longer than :data:`CUT` characters is identified by its first :data:`CUT` characters: enough for either
library to be sure, and it bounds the cost of very long documents.
"""

from __future__ import annotations

import re

#: Characters of a text that decide its language.
CUT = 2000
#: Names for reports.
DETECTOR = "pycld2 (CLD2), py3langid where CLD2 is unsure"
# CLD2 spells a few languages with their withdrawn ISO 639 codes.
_CLD2_CODES = {"iw": "he", "jw": "jv", "in": "id", "ji": "yi", "mo": "ro"}
# CLD2 rejects C0/C1 control characters (U+0080-U+009F: cp1252 text read as Latin-1) and lone surrogates as
# "invalid UTF-8"; they say nothing about the language.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class LanguageDetector:
    """Identifies a text's language as an ISO 639-1 code (a longer ISO 639 code for a language without one), with
    a score in 0..1; ``("", 0.0)`` for a text without letters. The score is CLD2's share of the text in that
    language where CLD2 is reliable, else py3langid's normalised probability. Make one per worker: py3langid's
    model takes about 0.4 s to load."""

    def __init__(self):
        import pycld2
        from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

        self._cld2 = pycld2
        self._langid = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)

    def detect(self, text: str) -> tuple[str, float]:
        """The language of ``text`` and its score (see the class)."""
        text = text[:CUT]
        if not any(c.isalpha() for c in text):
            return "", 0.0
        try:
            reliable, _, details = self._cld2.detect(text)
        except self._cld2.error:
            text = _CONTROLS.sub(" ", text)
            reliable, _, details = self._cld2.detect(text)
        code = details[0][1]
        if reliable and code != "un" and not code.startswith("xx"):
            code = code.split("-")[0]
            return _CLD2_CODES.get(code, code), details[0][2] / 100
        code, score = self._langid.classify(text)
        return code, float(score)

    def detect_batch(self, texts: list[str]) -> tuple[list[str], list[float]]:
        """:meth:`detect` for each of ``texts``: their codes and their scores."""
        found = [self.detect(t) for t in texts]
        return [c for c, _ in found], [s for _, s in found]
