"""``gaia-lite overlap``: the n-grams and documents two corpora share, stored in the first corpus's folder."""

from __future__ import annotations

import json

from .common import add_command, add_common, add_settings, build_options, configured, snippet, to_stderr


def add_parser(sub) -> None:
    """The ``overlap`` subcommand's parser."""
    p = add_command(sub, "overlap", run)
    p.add_argument("a", metavar="A", help="first corpus: name or folder (the results are stored in its folder)")
    p.add_argument("b", metavar="B", help="second corpus: name or folder (may be A itself)")
    add_settings(p, "overlap")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    add_settings(p, "build")
    add_common(p)


def run(args) -> int:
    """The n-grams and documents two corpora share (contamination of one corpus by another).

    Compare every n-gram (n consecutive normalised words of one document: case, punctuation, whitespace and
    Unicode forms ignored) of corpus A with those of corpus B: the distinct n-grams of each and those both hold,
    the documents of each side that hold a shared one, the rate each way, and examples. Stored in
    <A>/overlap/<B's name>/ (summary.json, shared_documents.parquet).
    """
    from ..analysis import find_overlap
    from ..retriever import open_corpus

    config = configured(args, "overlap")
    # Both corpora are opened before any work, so a missing one is refused with nothing written.
    a = _open(open_corpus, args.a, args.root, "first")
    b = _open(open_corpus, args.b, args.root, "second")
    report = find_overlap(a, b, config, progress=args.progress, log=to_stderr, **build_options(args))
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
        return 0
    n = report.config.ngram
    print(f"{report.a.corpus!r} ({report.a.documents:,} documents) and {report.b.corpus!r} "
          f"({report.b.documents:,} documents) share {report.shared:,} distinct {n}-grams ({report.seconds:.1f} s)")
    for label, side in (("A", report.a), ("B", report.b)):
        print(f"  {label} {side.corpus}: {report.shared:,} of its {side.distinct:,} distinct {n}-grams are shared "
              f"({100 * side.ngram_rate:.2f}%); {side.overlapping:,} of its {side.with_ngrams:,} documents with "
              f"{n}-grams hold one ({100 * side.document_rate:.2f}%); {side.short:,} documents have fewer than "
              f"{n} words")
    if report.examples:
        print("examples:")
        for e in report.examples:
            print(f"  \"{snippet(e['ngram'], 90)}\"  A: {_held(e['a_id'], e['a_documents'])}  "
                  f"B: {_held(e['b_id'], e['b_documents'])}")
    print(f"stored -> {report.folder} (summary.json, shared_documents.parquet)")
    return 0


def _held(doc_id: str, documents: int) -> str:
    """A document holding an example, and how many others do."""
    return doc_id if documents == 1 else f"{doc_id} and {documents - 1:,} more"


def _open(open_corpus, spec: str, root, which: str):
    """The corpus ``spec`` names; a missing one is an error naming which of the two it is."""
    from ..errors import MissingArtifactError

    try:
        return open_corpus(spec, root=root)
    except MissingArtifactError as e:
        raise MissingArtifactError(f"the {which} corpus {spec!r} was not found ({e})") from None
