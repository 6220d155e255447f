"""``gaia-lite count``: exact occurrences of a phrase in a corpus and the documents holding it, from the word
index of its audit."""

from __future__ import annotations

import json

from .common import add_command, add_common, positive_int, snippet

#: Characters of a document shown before and after the phrase.
CONTEXT = 60


def add_parser(sub) -> None:
    """The ``count`` subcommand's parser."""
    p = add_command(sub, "count", run)
    p.add_argument("corpus", help="corpus name or folder")
    p.add_argument("phrase", help="the words to count, e.g. \"return the\"")
    p.add_argument("--limit", type=positive_int, default=10, help="documents listed, in corpus order (default: 10)")
    p.add_argument("--json", action="store_true", help="print the count and the listed documents as JSON")
    add_common(p, progress=False)


def run(args) -> int:
    """Exact occurrences of a phrase in a corpus and the documents holding it.

    The phrase is normalised as the audit's words are (Unicode NFKC, case folding; punctuation and symbols
    separate words), so "Return the" counts "return the" wherever it occurs, overlapping occurrences included; a
    phrase never spans two documents. Reads the word index that `gaia-lite audit` stores in <corpus>/audit/words/.
    """
    from ..analysis.audit import count_phrase
    from ..retriever import open_corpus

    corpus = open_corpus(args.corpus, root=args.root)
    result = count_phrase(corpus, args.phrase, limit=args.limit)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=1))
        return 0
    print(f"{result.occurrences:,} occurrences in {result.documents:,} of {len(corpus):,} documents of "
          f"{corpus.name!r} ({1000 * result.seconds:.1f} ms)")
    print(f"counted as: {' '.join(result.words)!r} (normalised words)")
    if result.ids:
        shown = "" if len(result.ids) == result.documents else f" (the first {len(result.ids):,})"
        print(f"documents{shown}:")
        docs = corpus.get_many(result.ids)
        for doc_id, count, doc in zip(result.ids, result.per_document, docs):
            print(f"  {doc_id} ({count:,}x): {around(doc, result.words, corpus.text_columns)}")
    return 0


def around(doc: dict, phrase_words: list[str], columns: list[str]) -> str:
    """The text of ``doc`` around the first occurrence of ``phrase_words`` (its title's words come before its
    text's, as the audit reads a document), on one line."""
    from ..analysis.text import word_spans

    found = [(w, column, start, end) for column in ("title", "text") if column in columns
             for w, start, end in word_spans(doc.get(column) or "")]
    n = len(phrase_words)
    for i in range(len(found) - n + 1):
        if [w for w, *_ in found[i:i + n]] == phrase_words:
            _, column, start, _ = found[i]
            _, last_column, _, end = found[i + n - 1]
            left = max(0, start - CONTEXT)
            piece = ("…" if left else "") + doc[column][left:end + CONTEXT if last_column == column else None]
            if last_column != column:  # from the title into the text
                piece += " | " + doc[last_column][:end + CONTEXT]
            return snippet(piece, len(piece))
    return snippet(doc.get("text") or "", 2 * CONTEXT)
