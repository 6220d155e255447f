"""``gaia-lite index sparse|dense``: the Lucene BM25 index or the FAISS index of embeddings over a corpus, built in
shards (here, on local worker processes, or on a Ray cluster)."""

from __future__ import annotations

import time

from .common import add_command, add_common, add_settings, build_options, configured, positive_int


def add_parser(sub) -> None:
    """The ``index`` subcommand's parser, with ``sparse`` and ``dense`` under it."""
    p = sub.add_parser("index", help="build an index over a corpus")
    kinds = p.add_subparsers(dest="index_kind", required=True, metavar="{sparse,dense}")
    s = add_command(kinds, "sparse", run_sparse)
    s.add_argument("corpus", help="corpus name or folder")
    add_settings(s, "sparse", "build")
    s.add_argument("--threads", type=positive_int, default=2, help="indexing threads per shard (default: 2)")
    add_settings(s, "build")
    s.add_argument("--out", help="index folder (default: indexes/<name>/sparse-<fields>)")
    add_common(s)
    d = add_command(kinds, "dense", run_dense)
    d.add_argument("corpus", help="corpus name or folder")
    add_settings(d, "dense", "build")
    add_settings(d, "build")
    d.add_argument("--out", help="index folder (default: indexes/<name>/dense-<model>)")
    add_common(d)


def run_sparse(args) -> int:
    """Lucene BM25 index (Pyserini/Anserini), docid = corpus id.

    Build a Lucene index with positions, document vectors and raw documents.
    """
    from ..retriever import open_corpus
    from ..sparse import build_sparse_index

    config = configured(args, "sparse")
    corpus = open_corpus(args.corpus, root=args.root, verify=True)
    start = time.perf_counter()
    path = build_sparse_index(corpus, config, threads=args.threads, out=args.out, progress=args.progress,
                              **build_options(args))
    _report(f"sparse index ({config.fields})", corpus, start, path, f"gaia-lite search {corpus.folder} \"your query\"")
    return 0


def run_dense(args) -> int:
    """FAISS index of transformers embeddings, keyed by the corpus ids.

    Encode the corpus (title + text) and build a FAISS index with a docid sidecar (Pyserini's layout); the
    embeddings are kept as a Dataset aligned to the ids.
    """
    from ..artifacts import ArtifactMeta
    from ..dense import build_dense_index
    from ..retriever import find_dense_index, open_corpus

    config = configured(args, "dense")
    corpus = open_corpus(args.corpus, root=args.root, verify=True)
    start = time.perf_counter()
    path = build_dense_index(corpus, config, out=args.out, progress=args.progress, **build_options(args))
    built = find_dense_index(corpus.parts[0], config) if hasattr(corpus, "parts") else path
    encoder = ArtifactMeta.read(built, "dense").params["encoder"]
    _report(f"dense index ({config.index_type or 'flat'}, {encoder['dim']} dims, {encoder['dtype']})", corpus,
            start, path, f"gaia-lite search {corpus.folder} \"your query\" --retriever hybrid")
    return 0


def _report(what: str, corpus, start: float, path, next_command: str) -> None:
    seconds = time.perf_counter() - start
    print(f"built {what} of {corpus.name!r}: {len(corpus):,} documents in {seconds:.1f} s "
          f"({len(corpus) / seconds:,.0f} docs/s) -> {path}")
    print(f"next: {next_command}")
