"""``gaia-lite demo``: the default corpus (the installed packages' docstrings) built where missing, a sample
query's BM25 hits, then the explorer."""

from __future__ import annotations

import time

from ..config import DEFAULT_K, RetrieverConfig
from .app import add_server, serve
from .common import add_command, add_common, positive_int, snippet

DEMO_QUERY = "read a parquet file into a table"


def add_parser(sub) -> None:
    """The ``demo`` subcommand's parser."""
    p = add_command(sub, "demo", run)
    p.add_argument("query", nargs="?", default=DEMO_QUERY, help=f"query (default: {DEMO_QUERY!r})")
    p.add_argument("-k", type=positive_int, default=DEFAULT_K, help=f"number of hits (default: {DEFAULT_K})")
    p.add_argument("--limit", type=positive_int, help="index only the first N docstrings")
    p.add_argument("--name", default="docstrings", help="corpus name (default: docstrings)")
    p.add_argument("--rebuild", action="store_true", help="rebuild the corpus and indexes even if present")
    p.add_argument("--no-dense", dest="dense", action="store_false",
                   help="skip the dense index (encoding every docstring is the longest step); the app then offers "
                        "BM25 only. Without it the app opens on BM25 and builds the dense index in the background")
    p.add_argument("--no-app", dest="app", action="store_false", help="print the hits and stop; do not open the app")
    add_server(p)
    add_common(p)


def run(args) -> int:
    """Build the default corpus (installed packages' docstrings) and open the explorer.

    The main job on the embedded default corpus: the docstrings of the installed Python packages. Builds the
    corpus, its Lucene index and its dense index where missing, prints the BM25 hits of a sample query, then
    opens the explorer app.
    """
    from ..dense import build_dense_index, dense_dir
    from ..retriever import open_searcher
    from ..sparse import build_sparse_index, sparse_dir

    corpus = _corpus(args)
    if args.rebuild or not sparse_dir(corpus.folder).is_dir():
        start = time.perf_counter()
        build_sparse_index(corpus, progress=args.progress)
        print(f"built sparse index in {time.perf_counter() - start:.1f} s -> {sparse_dir(corpus.folder)}")
    with open_searcher(corpus) as searcher:
        start = time.perf_counter()
        hits = searcher.search(args.query, args.k)
        ms = (time.perf_counter() - start) * 1000
    print(f"\nBM25 top {args.k} for {args.query!r} ({ms:.1f} ms):")
    for h in hits:
        doc = corpus.get(h.doc_id)
        print(f"{h.rank:>3}  {h.score:8.4f}  {h.doc_id}  [{doc.get('package', '')}]")
        print(f"     {snippet(doc['text'])}")
    missing = args.dense and (args.rebuild or not dense_dir(corpus.folder).is_dir())
    if missing and not (args.app and not args.rebuild):
        print(f"\nbuilding the dense index for {len(corpus):,} documents (--no-dense skips it)")
        start = time.perf_counter()
        path = build_dense_index(corpus, progress=args.progress)
        print(f"built dense index in {time.perf_counter() - start:.1f} s -> {path}")
    if not args.app:
        print(f"\nsearch it yourself: gaia-lite search {corpus.folder} \"your query\"  "
              f"(or: gaia-lite app {corpus.folder})")
        return 0
    return serve(corpus, args, RetrieverConfig(), build_dense=missing and not args.rebuild)


def _corpus(args):
    """The demo's corpus: the one built earlier, unless missing or ``--rebuild`` asks for a new one."""
    from ..corpus import Corpus, Source, build_corpus
    from ..errors import MissingArtifactError

    if not args.rebuild:
        try:
            corpus = Corpus.load(args.name, root=args.root)
        except MissingArtifactError:
            pass
        else:
            print(f"using corpus {corpus.name!r}: {len(corpus):,} documents in {corpus.folder}")
            return corpus
    start = time.perf_counter()
    corpus, report = build_corpus(Source("builtin:docstrings"), args.name, root=args.root, limit=args.limit,
                                  progress=args.progress)
    print(f"built corpus {corpus.name!r}: {report.rows:,} docstrings of installed packages in "
          f"{time.perf_counter() - start:.1f} s -> {corpus.folder / 'dataset'}")
    return corpus
