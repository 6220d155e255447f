"""``gaia-lite search``: a query against a built corpus (BM25, dense or hybrid), its hits printed, as JSON, or
saved as a result set."""

from __future__ import annotations

import json
import sys

from ..config import DEFAULT_K
from ..errors import InputError
from .common import (add_command, add_common, add_retriever, config_file_retriever, positive_int, retriever_config,
                     snippet, to_stderr)


def add_parser(sub) -> None:
    """The ``search`` subcommand's parser."""
    p = add_command(sub, "search", run)
    p.add_argument("corpus", help="corpus name, folder, or hf://owner/repo[@revision]")
    p.add_argument("query", help="query text (Lucene syntax has no special meaning)")
    p.add_argument("-k", type=positive_int, default=DEFAULT_K, help=f"number of hits (default: {DEFAULT_K})")
    add_retriever(p)
    p.add_argument("--config", help="a YAML config whose retriever section gives the settings (flags override it)")
    p.add_argument("--explain-terms", action="store_true", help="hybrid: split each BM25 score by query term")
    p.add_argument("--json", action="store_true", help="print the hits (with hybrid explanations) as JSON")
    p.add_argument("--export", metavar="PATH",
                   help="also save the result set (query, settings, hits, source rows) as a Dataset: .parquet, "
                        ".jsonl, or else a save_to_disk folder")
    p.add_argument("--push-results", metavar="OWNER/NAME",
                   help="also push the result set as a Dataset to this Hub repo (private)")
    add_common(p, progress=False)


def run(args) -> int:
    """Search a built corpus (BM25, dense or hybrid) and print the hits.

    Search a built corpus. A missing index is an error that says how to build it.
    """
    from ..retriever import open_corpus, open_searcher
    from ..types import hit_record

    if not args.query.strip():
        raise InputError("the query is empty: give words to search for")
    config = retriever_config(args, config_file_retriever(args.config))
    corpus = open_corpus(args.corpus, root=args.root)
    searcher = open_searcher(corpus, config, log=to_stderr)
    if config.kind == "hybrid":
        hits = searcher.search(args.query, args.k, explain_terms=args.explain_terms)
    else:
        hits = searcher.search(args.query, args.k)
    if args.export or args.push_results:
        _export(corpus, args, hits, {"retriever": config.kind, "k": args.k, **searcher.config.to_dict()})
    if args.json:
        records = []
        for h in hits:
            doc = corpus.get(h.doc_id)
            records.append(hit_record(h) | {"title": doc.get("title", ""), "text": doc["text"]})
        print(json.dumps(records, ensure_ascii=False, indent=1))
    else:
        _print_hits(corpus, hits)
    return 0


def _export(corpus, args, hits, settings: dict) -> None:
    from ..hub import export_results, results_dataset

    ds = results_dataset(corpus, {args.query: hits}, settings=settings)
    for where in filter(None, [args.export and export_results(ds, out=args.export),
                               args.push_results and export_results(ds, repo_id=args.push_results)]):
        print(f"saved the result set ({len(ds)} hits) -> {where}", file=sys.stderr)


def _print_hits(corpus, hits) -> None:
    from ..types import HybridHit

    if not hits:
        print("no hits")
    for h in hits:
        doc = corpus.get(h.doc_id)
        found = f"  found by {'+'.join(h.found_by)}" if isinstance(h, HybridHit) else ""
        print(f"{h.rank:>3}  {h.score:8.4f}  {h.doc_id}{found}")
        if doc.get("title"):
            print(f"     {snippet(doc['title'])}")
        print(f"     {snippet(doc['text'])}")
