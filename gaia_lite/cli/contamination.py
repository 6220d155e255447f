"""``gaia-lite contamination``: which items of a benchmark occur in a corpus (n-gram overlap), and where."""

from __future__ import annotations

import json
import sys

from .common import add_command, add_common, add_settings, build_options, configured, positive_int, snippet, to_stderr


def add_parser(sub) -> None:
    """The ``contamination`` subcommand's parser."""
    from ..analysis.benchmark import TEXT_FIELDS

    p = add_command(sub, "contamination", run)
    p.add_argument("corpus", help="corpus name or folder")
    p.add_argument("benchmark", help="JSONL or parquet file, saved Dataset, BEIR folder (its queries) or Hub dataset")
    p.add_argument("--field", action="append", dest="fields", metavar="FIELD",
                   help=f"text field of the items; repeat to join several, e.g. question and choices (default: "
                        f"the first of {', '.join(TEXT_FIELDS)})")
    p.add_argument("--id-field", help="field holding item ids (default: _id, id, qid ... else the row number)")
    p.add_argument("--format", default="auto", choices=["auto", "jsonl", "beir", "parquet", "disk", "hub"])
    p.add_argument("--config", help="Hub dataset configuration")
    p.add_argument("--split", help="Hub dataset / DatasetDict split (default: train); for a BEIR folder, the qrels "
                                   "split whose queries to check (default: all queries)")
    p.add_argument("--revision", help="Hub dataset revision (branch, tag or commit)")
    add_settings(p, "contamination")
    p.add_argument("--show", type=positive_int, default=20, help="flagged items printed (default: 20)")
    p.add_argument("--json", action="store_true", help="print the summary and every item as JSON")
    p.add_argument("--output", help="save the result set: a folder (Dataset + card), .parquet or .jsonl")
    p.add_argument("--push", metavar="OWNER/NAME", help="push the result set and its card to this Hub dataset repo")
    add_settings(p, "build")
    add_common(p)


def run(args) -> int:
    """Which items of a benchmark occur in a corpus (n-gram overlap), and where.

    Flag each benchmark item one of whose n-grams (normalised words: case, punctuation, whitespace and Unicode
    forms ignored) occurs in a corpus document; an item shorter than n words must occur whole. Prints the rate
    and the flagged items with their longest shared span.
    """
    from ..analysis import find_contamination, read_benchmark
    from ..corpus import Source
    from ..retriever import open_corpus

    config = configured(args, "contamination")
    source = Source(args.benchmark, format=args.format, config=args.config, revision=args.revision)
    benchmark = read_benchmark(source, args.fields, id_field=args.id_field, split=args.split)
    corpus = open_corpus(args.corpus, root=args.root)
    if args.output:
        from ..hub.results import check_output

        check_output(args.output)  # before the work, not after it
    report = find_contamination(corpus, benchmark, config, progress=args.progress, log=to_stderr,
                                **build_options(args))
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
    else:
        _print(report, args.show)
    if args.output or args.push:
        from ..artifacts import datasets_progress
        from ..hub import export_analysis

        with datasets_progress(args.progress):
            ds, card = report.to_dataset(), report.card()
            for where in filter(None, [args.output and export_analysis(ds, card, out=args.output),
                                       args.push and export_analysis(ds, card, repo_id=args.push)]):
                print(f"saved the result set ({len(ds)} items) -> {where}", file=sys.stderr)
    return 0


def _print(report, show: int) -> None:
    s = report.summary()
    print(f"{s['flagged']:,} of {s['items']:,} items flagged ({100 * report.rate:.2f}%): {report.benchmark} "
          f"[{', '.join(report.fields)}] in {report.corpus!r} ({report.num_documents:,} documents, "
          f"{report.config.ngram}-grams, {report.seconds:.1f} s)")
    print("overlap (share of an item's n-grams in the corpus): "
          + ", ".join(f"{label}: {n:,}" for label, n in report.overlap_histogram()))
    flagged = sorted(report.flagged, key=lambda r: (-r.overlap, -r.longest.words, r.item_id))[:show]
    if flagged:
        from ..report import markdown_table

        print(markdown_table([{"item": r.item_id, "overlap": f"{r.overlap:.2f}", "docs": r.documents,
                               "longest": r.longest.words,
                               "in": f"{r.longest.doc_id} [{r.longest.start}:{r.longest.end}]",
                               "span": snippet(r.longest.span, 60)} for r in flagged]))
        if len(report.flagged) > show:
            print(f"... {len(report.flagged) - show:,} more flagged items (--show, --json or --output for all)")
    if report.most_matched:
        print("documents holding the most items: "
              + ", ".join(f"{doc_id} ({n:,})" for doc_id, n in report.most_matched[:5]))
