"""Long documents as passages: segmentation into overlapping word windows, and best-passage aggregation.

A passage corpus is an ordinary corpus (so the Lucene and dense indexes build on it unchanged) whose rows
are windows of ``window`` words taken every ``stride`` words (GAIA indexed web text as 256-token passages
overlapping by 16: ``window=256, stride=240``). Words are runs of non-space characters; each passage keeps
the character offsets of its text in the document's text. Columns:

- ``id``: ``<doc_id>#p<n>`` (n from 0), derived from the document id;
- ``doc_id``, ``passage``, ``char_start``, ``char_end``: where it comes from;
- ``title`` (the document's, repeated in each passage, where the corpus has titles) and ``text``.

Results come back per document by keeping each document's best passage (MaxP, Dai & Callan, SIGIR 2019):
:func:`best_passages` for a hit list, :func:`aggregate_run` for a run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .corpus.sources import Source
from .errors import ConfigError
from .types import Run

_WORD = re.compile(r"\S+")
SEPARATOR = "#p"


@dataclass(frozen=True)
class Passage:
    """One window of a document's text: its index and the character span ``text[char_start:char_end]``."""

    index: int
    char_start: int
    char_end: int


def segment(text: str, window: int = 256, stride: int = 240) -> list[Passage]:
    """Split ``text`` into windows of ``window`` words starting every ``stride`` words.

    A text of at most ``window`` words is one passage (an empty text too, so no document is lost). The last
    window ends at the last word; no window is only the overlap of the previous one.
    """
    if window < 1 or not 1 <= stride <= window:
        raise ConfigError(f"need window >= 1 and 1 <= stride <= window, got window={window}, stride={stride}")
    words = [m.span() for m in _WORD.finditer(text)]
    if len(words) <= window:
        return [Passage(0, words[0][0] if words else 0, words[-1][1] if words else 0)]
    passages = []
    for n, start in enumerate(range(0, len(words), stride)):
        end = min(start + window, len(words))
        passages.append(Passage(n, words[start][0], words[end - 1][1]))
        if end == len(words):
            break
    return passages


def passage_id(doc_id: str, index: int) -> str:
    """The id of passage ``index`` of document ``doc_id``."""
    return f"{doc_id}{SEPARATOR}{index}"


def document_id(pid: str) -> str:
    """The document id a passage id derives from (the part before the last ``#p``)."""
    head, sep, tail = pid.rpartition(SEPARATOR)
    return head if sep and tail.isdigit() else pid


def passages_name(window: int, stride: int) -> str:
    """The folder name of a corpus's passage corpus: ``passages-w<window>-s<stride>``."""
    return f"passages-w{window}-s{stride}"


def build_passage_corpus(corpus, window: int = 256, stride: int = 240, *, progress: bool = True):
    """Segment every document of ``corpus`` and save the passages as a corpus of their own, at
    ``indexes/<name>/passages-w<window>-s<stride>``. Returns ``(Corpus, CorpusReport)``."""
    from .corpus import Corpus, build_corpus

    if not isinstance(corpus, Corpus):
        corpus = Corpus.load(corpus, verify=False)
    segment(" ", window, stride)  # validates window and stride before anything is written
    name = passages_name(window, stride)
    command = f"gaia-lite passages {corpus.folder} --window {window} --stride {stride}"
    source = PassageSource(location=str(corpus.folder), window=window, stride=stride)
    return build_corpus(source, name, root=corpus.folder, progress=progress, command=command)


@dataclass(frozen=True)
class PassageSource(Source):
    """The passages of a built corpus (``location`` is its folder), as a corpus source."""

    window: int = 256
    stride: int = 240

    def resolved_format(self) -> str:
        return "passages"

    def describe(self) -> str:
        return f"passages:{self.location} window={self.window} stride={self.stride}"

    def records(self) -> Iterator[tuple[str, dict]]:
        from .corpus import Corpus

        corpus = Corpus.load(self.location, verify=False)
        columns = corpus.text_columns
        for batch in corpus.dataset.select_columns(columns).iter(batch_size=1000):
            titles = batch["title"] if corpus.has_title else None
            for i, (doc_id, text) in enumerate(zip(batch["id"], batch["text"])):
                for p in segment(text, self.window, self.stride):
                    record = {"id": passage_id(doc_id, p.index)}
                    if titles is not None:
                        record["title"] = titles[i]
                    record.update(text=text[p.char_start:p.char_end], doc_id=doc_id, passage=p.index,
                                  char_start=p.char_start, char_end=p.char_end)
                    yield f"document {doc_id} passage {p.index}", record


def best_passages(hits: Sequence, k: int | None = None) -> list[tuple[str, object]]:
    """Per document, its best-ranked passage hit, in rank order: ``[(doc_id, passage_hit), ...]`` (top ``k``).

    ``hits`` are passage hits in rank order (any hit type with ``doc_id``); the document's score is its best
    passage's score (MaxP).
    """
    seen: dict[str, object] = {}
    for hit in hits:
        seen.setdefault(document_id(hit.doc_id), hit)
        if k is not None and len(seen) >= k:
            break
    return list(seen.items())


def aggregate_run(run: Run) -> Run:
    """A passage run as a document run: each document scored by its best passage (MaxP)."""
    out: Run = {}
    for qid, hits in run.items():
        docs: dict[str, float] = {}
        for pid, score in hits.items():
            doc = document_id(pid)
            if doc not in docs or score > docs[doc]:
                docs[doc] = score
        out[qid] = docs
    return out


__all__ = ["Passage", "PassageSource", "aggregate_run", "best_passages", "build_passage_corpus", "document_id",
           "passage_id", "passages_name", "segment"]
