"""``gaia-lite search``: a query against a built corpus (BM25, dense or hybrid), its hits printed, as JSON, or
saved as a result set; or against a corpus served by ``gaia-lite serve``, given by its address, saying which of its
parts answered."""

from __future__ import annotations

import json
import sys

from ..config import DEFAULT_K
from ..errors import ConfigError, InputError
from .common import (add_command, add_common, add_retriever, config_file_retriever, positive_int, retriever_config,
                     snippet, to_stderr)


def add_parser(sub) -> None:
    """The ``search`` subcommand's parser."""
    p = add_command(sub, "search", run)
    p.add_argument("corpus", help="corpus name, folder, hf://owner/repo[@revision], or the address of a served "
                                  "corpus, http://HOST:PORT/NAME (gaia-lite serve)")
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


#: Exit status of a search of a served corpus that some of its parts did not answer: the hits printed are those of
#: the parts that did (2 is a user's error, 1 a failed expected score).
PARTIAL_STATUS = 3


def run(args) -> int:
    """Search a built corpus (BM25, dense or hybrid) and print the hits.

    Search a built corpus. A missing index is an error that says how to build it. Given the address of a corpus
    served by `gaia-lite serve` (http://HOST:PORT/NAME), the front searches it, and a line on stderr says how
    many of its parts answered; where some did not, the hits of those that did are printed, a warning names the
    missing parts, and the exit status is 3.
    """
    from ..retriever import open_corpus, open_searcher
    from ..serve.client import ServedCorpus

    if not args.query.strip():
        raise InputError("the query is empty: give words to search for")
    config = retriever_config(args, config_file_retriever(args.config))
    corpus = open_corpus(args.corpus, root=args.root)
    searcher = open_searcher(corpus, config, log=to_stderr)
    if isinstance(corpus, ServedCorpus):
        return _served(searcher, args)
    if config.kind == "hybrid":
        hits = searcher.search(args.query, args.k, explain_terms=args.explain_terms)
    else:
        hits = searcher.search(args.query, args.k)
    if args.export or args.push_results:
        _export(corpus, args, hits, {"retriever": config.kind, "k": args.k, **searcher.config.to_dict()})
    _print(args, hits, corpus.get_many([h.doc_id for h in hits]))
    return 0


def _served(searcher, args) -> int:
    """The search through a served corpus's front: the hits with their documents in one call, then which parts
    answered; a partial answer is printed, named and exits with :data:`PARTIAL_STATUS`."""
    if args.export or args.push_results or args.explain_terms:
        flag = "--export" if args.export else "--push-results" if args.push_results else "--explain-terms"
        raise ConfigError(f"{flag} needs the corpus on this machine, not its address: run the search where the "
                          "corpus's parts are")
    hits, parts, documents = searcher.search_report(args.query, args.k, with_documents=True)
    _print(args, hits, documents)
    answered, total = len(parts.get("answered", ())), parts.get("parts", 0)
    if parts.get("complete", True):
        print(f"{answered} of {total} parts answered", file=sys.stderr)
        return 0
    missing = "; ".join(f"{name}: {why}" for name, why in parts.get("missing", {}).items())
    print(f"warning: partial answer, {answered} of {total} parts answered; missing {missing}. The hits above "
          "leave out those parts' documents: check the cluster (`serve status`) and search again", file=sys.stderr)
    return PARTIAL_STATUS


def _print(args, hits, documents) -> None:
    """The hits as JSON (each with its document's title and text) or as lines."""
    from ..types import hit_record

    if args.json:
        records = [hit_record(h) | {"title": (doc or {}).get("title", ""), "text": (doc or {}).get("text", "")}
                   for h, doc in zip(hits, documents)]
        print(json.dumps(records, ensure_ascii=False, indent=1))
    else:
        _print_hits(hits, documents)


def _export(corpus, args, hits, settings: dict) -> None:
    from ..hub import export_results, results_dataset

    ds = results_dataset(corpus, {args.query: hits}, settings=settings)
    for where in filter(None, [args.export and export_results(ds, out=args.export),
                               args.push_results and export_results(ds, repo_id=args.push_results)]):
        print(f"saved the result set ({len(ds)} hits) -> {where}", file=sys.stderr)


def _print_hits(hits, documents) -> None:
    from ..types import HybridHit

    if not hits:
        print("no hits")
    for h, doc in zip(hits, documents):
        doc = doc or {"text": ""}  # a served corpus's part that went away between the search and the documents
        found = f"  found by {'+'.join(h.found_by)}" if isinstance(h, HybridHit) else ""
        print(f"{h.rank:>3}  {h.score:8.4f}  {h.doc_id}{found}")
        if doc.get("title"):
            print(f"     {snippet(doc['title'])}")
        print(f"     {snippet(doc['text'])}")
