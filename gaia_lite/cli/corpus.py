"""``gaia-lite corpus``: a source (JSON Lines, BEIR, parquet, a saved or Hub Dataset, builtin:docstrings) into a
canonical Dataset with string ids under ``indexes/<name>/``."""

from __future__ import annotations

import time

from .common import add_command, add_common, positive_int


def add_parser(sub) -> None:
    """The ``corpus`` subcommand's parser."""
    p = add_command(sub, "corpus", run)
    p.add_argument("source", help="path, Hub dataset name, or builtin:docstrings")
    p.add_argument("--name", help="corpus name (default: from the source)")
    p.add_argument("--format", default="auto", choices=["auto", "jsonl", "beir", "parquet", "disk", "hub", "builtin"])
    p.add_argument("--id-column", help="column holding document ids (default: _id, id, docid or doc_id)")
    p.add_argument("--text-column", help="column holding the text (default: text, contents, body or content)")
    p.add_argument("--title-column", help="column holding titles (default: title, where present)")
    p.add_argument("--config", help="Hub dataset configuration")
    p.add_argument("--split", default="train", help="Hub dataset / DatasetDict split (default: train)")
    p.add_argument("--revision", help="Hub dataset revision (branch, tag or commit)")
    p.add_argument("--empty", choices=["keep", "skip"], default="keep",
                   help="documents with blank title and text: keep (default) or skip; counted either way")
    p.add_argument("--limit", type=positive_int, help="keep only the first N documents")
    p.add_argument("--parts", type=positive_int, metavar="P",
                   help="keep the corpus as P parts, each indexed and served on its own (default: one part per "
                        "50M documents; README, \"Serving at scale\")")
    add_common(p)


def run(args) -> int:
    """Turn a source into a canonical Dataset with ids under indexes/<name>/.

    Read a JSONL file, BEIR folder, parquet file/folder, saved Dataset, Hub dataset (owner/name) or
    builtin:docstrings, and save it as a Dataset with a unique string id column.
    """
    from ..corpus import Source, build_corpus

    source = Source(args.source, format=args.format, config=args.config, split=args.split, revision=args.revision)
    start = time.perf_counter()
    corpus, report = build_corpus(
        source, args.name, root=args.root, id_column=args.id_column, text_column=args.text_column,
        title_column=args.title_column, empty=args.empty, limit=args.limit, parts=args.parts,
        progress=args.progress,
    )
    seconds = time.perf_counter() - start
    where = (f"{len(corpus.parts)} parts in {corpus.folder / 'parts'}" if hasattr(corpus, "parts")
             else corpus.folder / "dataset")
    print(f"built corpus {corpus.name!r}: {report.rows:,} documents in {seconds:.1f} s -> {where}")
    print(f"  columns: {', '.join(report.columns)}")
    if report.ids_generated:
        print("  the source has no id column: ids are the 0-based source row numbers")
    if report.ids_converted:
        print(f"  {report.ids_converted:,} integer ids converted to strings")
    if report.dropped_columns:
        dropped = ", ".join(f"{c!r} ({n:,} rows)" for c, n in report.dropped_columns.most_common())
        print(f"  not stored, absent from the first record (columns are fixed by it): {dropped}")
    if report.empty_kept or report.empty_skipped:
        print(f"  documents with empty text: {report.empty_kept:,} kept, {report.empty_skipped:,} skipped")
    print(f"next: gaia-lite index sparse {corpus.folder}")
    return 0
