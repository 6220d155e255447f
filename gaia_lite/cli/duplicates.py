"""``gaia-lite duplicates``: exact and near-duplicate documents of a corpus (MinHash LSH), stored as clusters
beside it."""

from __future__ import annotations

import json

from .common import add_command, add_common, add_settings, build_options, configured, positive_int, snippet, to_stderr


def add_parser(sub) -> None:
    """The ``duplicates`` subcommand's parser."""
    p = add_command(sub, "duplicates", run)
    p.add_argument("corpus", help="corpus name or folder")
    add_settings(p, "duplicates")
    p.add_argument("--show", type=positive_int, default=5, help="largest clusters printed (default: 5)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    add_settings(p, "build")
    add_common(p)


def run(args) -> int:
    """Exact and near-duplicate documents of a corpus (MinHash LSH), stored as clusters beside it.

    Group documents with the same normalised words (exact) and documents whose word-shingle sets are similar
    (MinHash LSH over Jaccard similarity). The clusters go to <corpus>/duplicates/, where the explorer reads
    them; the corpus itself is not changed.
    """
    from ..analysis import find_duplicates
    from ..retriever import open_corpus

    config = configured(args, "duplicates")
    corpus = open_corpus(args.corpus, root=args.root)
    report = find_duplicates(corpus, config, progress=args.progress, log=to_stderr, **build_options(args))
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
        return 0
    print(f"{report.documents:,} documents of {report.corpus!r} in {report.seconds:.1f} s "
          f"({report.empty:,} without words, in no cluster)")
    for kind in ("exact", "near"):
        r = getattr(report, kind)
        print(f"{kind} duplicates: {r['duplicates']:,} ({100 * r['rate']:.2f}%) beyond the first of "
              f"{r['clusters']:,} clusters; sizes "
              + ", ".join(f"{k}: {v:,}" for k, v in r["size_distribution"].items()))
    print(f"near-duplicate settings: MinHash {report.config.num_perm} permutations, "
          f"{report.config.shingle}-word shingles, "
          f"{report.bands} bands x {report.rows}, threshold {report.config.threshold:g}")
    for cluster in report.near["largest"][:args.show]:
        print(f"  cluster {cluster['cluster_id']} ({cluster['size']:,} documents): "
              + " | ".join(f"{e['doc_id']}: {snippet(e['text'], 50)}" for e in cluster["examples"]))
    print(f"stored -> {corpus.folder / 'duplicates'} (the explorer hides near duplicates with it)")
    return 0
