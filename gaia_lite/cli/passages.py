"""``gaia-lite passages``: a corpus's documents split into overlapping word windows, saved as a corpus of their
own."""

from __future__ import annotations

from .common import add_command, add_common, positive_int


def add_parser(sub) -> None:
    """The ``passages`` subcommand's parser."""
    p = add_command(sub, "passages", run)
    p.add_argument("corpus", help="corpus name or folder")
    p.add_argument("--window", type=positive_int, default=256, help="words per passage (default: 256)")
    p.add_argument("--stride", type=positive_int, default=240, help="words between passage starts (default: 240, "
                                                                    "i.e. 16 words of overlap)")
    add_common(p)


def run(args) -> int:
    """Split a corpus's documents into overlapping word windows (a corpus).

    Build indexes/<name>/passages-w<window>-s<stride>: one row per window of words, id <doc_id>#p<n>, with
    doc_id and character offsets kept. Index it like any corpus; results aggregate back to documents by their
    best passage.
    """
    from ..passages import build_passage_corpus
    from ..retriever import open_corpus

    corpus = open_corpus(args.corpus, root=args.root)
    passages, report = build_passage_corpus(corpus, args.window, args.stride, progress=args.progress)
    print(f"built {report.rows:,} passages of {len(corpus):,} documents (window {args.window}, stride "
          f"{args.stride} words) -> {passages.folder}")
    print(f"next: gaia-lite index sparse {passages.folder}")
    return 0
