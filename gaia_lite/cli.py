"""The ``gaia-lite`` command: ``corpus``, ``index``, ``search``, ``eval`` and ``demo``.

``main(argv) -> int`` holds the whole CLI so tests can call it in-process. Errors from gaia_lite print as one
line (``error: …``, saying what to do) with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__
from .errors import GaiaLiteError

DEMO_QUERY = "read a parquet file into a table"


def _add_root(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", help="folder holding built corpora (default: $GAIA_LITE_HOME or ./indexes)")


def _add_progress(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-progress", dest="progress", action="store_false", help="hide progress bars")


def _add_analyzer(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fields", choices=["flat", "multifield"], default="flat",
                   help="flat: title + text in one field (default); multifield: title and text as separate fields")
    p.add_argument("--stemmer", choices=["porter", "krovetz", "none"], default="porter", help="default: porter")
    p.add_argument("--keep-stopwords", action="store_true", help="index stopwords (default: drop English stopwords)")
    p.add_argument("--language", default="en", help="Lucene analyzer language (default: en, Anserini's default)")


# --- corpus -----------------------------------------------------------------------------------------------

def _corpus_parser(sub) -> None:
    p = sub.add_parser("corpus", help="turn a source into a canonical Dataset with ids under indexes/<name>/",
                       description="Read a JSONL file, BEIR folder, parquet file/folder, saved Dataset, Hub dataset "
                                   "(owner/name) or builtin:docstrings, and save it as a Dataset with a unique "
                                   "string id column.")
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
    p.add_argument("--limit", type=int, help="keep only the first N documents")
    _add_root(p)
    _add_progress(p)
    p.set_defaults(func=_cmd_corpus)


def _cmd_corpus(args) -> int:
    from .corpus import Source, build_corpus

    source = Source(args.source, format=args.format, config=args.config, split=args.split, revision=args.revision)
    start = time.perf_counter()
    corpus, report = build_corpus(
        source, args.name, root=args.root, id_column=args.id_column, text_column=args.text_column,
        title_column=args.title_column, empty=args.empty, limit=args.limit, progress=args.progress,
    )
    seconds = time.perf_counter() - start
    print(f"built corpus {corpus.name!r}: {report.rows:,} documents in {seconds:.1f} s "
          f"-> {corpus.folder / 'dataset'}")
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


# --- index ------------------------------------------------------------------------------------------------

def _index_parser(sub) -> None:
    p = sub.add_parser("index", help="build an index over a corpus")
    kinds = p.add_subparsers(dest="kind", required=True, metavar="{sparse,dense}")
    s = kinds.add_parser("sparse", help="Lucene BM25 index (Pyserini/Anserini), docid = corpus id",
                         description="Build a Lucene index with positions, document vectors and raw documents.")
    s.add_argument("corpus", help="corpus name or folder")
    _add_analyzer(s)
    s.add_argument("--threads", type=int, default=2, help="indexing threads (default: 2)")
    s.add_argument("--out", help="index folder (default: indexes/<name>/sparse-<fields>)")
    _add_root(s)
    _add_progress(s)
    s.set_defaults(func=_cmd_index_sparse)
    _dense_parser(kinds)


def _add_encoder(p: argparse.ArgumentParser) -> None:
    from .dense.encoder import DEFAULT_MODEL

    p.add_argument("--model", default=DEFAULT_MODEL, help=f"HF model id or local folder (default: {DEFAULT_MODEL})")


def _dense_parser(kinds) -> None:
    d = kinds.add_parser("dense", help="FAISS index of transformers embeddings, keyed by the corpus ids",
                         description="Encode the corpus (title + text) and build a FAISS index with a docid sidecar "
                                     "(Pyserini's layout); the embeddings are kept as a Dataset aligned to the ids.")
    d.add_argument("corpus", help="corpus name or folder")
    _add_encoder(d)
    d.add_argument("--query-prefix", default="", help="text put before each query (e5/bge-style models)")
    d.add_argument("--document-prefix", default="", help="text put before each document")
    d.add_argument("--index-type", choices=["flat", "hnsw"], default="flat",
                   help="flat: exact inner product (default); hnsw: approximate, for large corpora")
    d.add_argument("--dtype", choices=["auto", "float32", "bfloat16"], default="auto",
                   help="auto: bfloat16 where the CPU/GPU computes it natively, else float32")
    d.add_argument("--batch-size", type=int, default=64, help="texts per forward pass (default: 64)")
    d.add_argument("--out", help="index folder (default: indexes/<name>/dense-<model>)")
    _add_root(d)
    _add_progress(d)
    d.set_defaults(func=_cmd_index_dense)


def _cmd_index_dense(args) -> int:
    from .corpus import Corpus
    from .dense import Encoder, EncoderConfig, build_dense_index

    corpus = Corpus.load(args.corpus, root=args.root)
    encoder = Encoder(EncoderConfig(model=args.model, query_prefix=args.query_prefix,
                                    document_prefix=args.document_prefix, dtype=args.dtype, batch_size=args.batch_size))
    start = time.perf_counter()
    path = build_dense_index(corpus, encoder, index_type=args.index_type, out=args.out, progress=args.progress)
    _report_build(f"dense index ({args.index_type}, {encoder.dim} dims, {encoder.dtype})", corpus, start, path,
                  f"gaia-lite search {corpus.folder} \"your query\" --retriever hybrid")
    return 0


def _report_build(what: str, corpus, start: float, path, next_command: str) -> None:
    seconds = time.perf_counter() - start
    print(f"built {what} of {corpus.name!r}: {len(corpus):,} documents in {seconds:.1f} s "
          f"({len(corpus) / seconds:,.0f} docs/s) -> {path}")
    print(f"next: {next_command}")


def _cmd_index_sparse(args) -> int:
    from .corpus import Corpus
    from .sparse import build_sparse_index

    corpus = Corpus.load(args.corpus, root=args.root)
    start = time.perf_counter()
    path = build_sparse_index(
        corpus, fields=args.fields, stemmer=args.stemmer, keep_stopwords=args.keep_stopwords,
        language=args.language, threads=args.threads, out=args.out, progress=args.progress,
    )
    _report_build(f"sparse index ({args.fields})", corpus, start, path, f"gaia-lite search {corpus.folder} \"your query\"")
    return 0


# --- passages ---------------------------------------------------------------------------------------------

def _passages_parser(sub) -> None:
    p = sub.add_parser("passages", help="split a corpus's documents into overlapping word windows (a corpus)",
                       description="Build indexes/<name>/passages-w<window>-s<stride>: one row per window of words, "
                                   "id <doc_id>#p<n>, with doc_id and character offsets kept. Index it like any "
                                   "corpus; results aggregate back to documents by their best passage.")
    p.add_argument("corpus", help="corpus name or folder")
    p.add_argument("--window", type=int, default=256, help="words per passage (default: 256)")
    p.add_argument("--stride", type=int, default=240, help="words between passage starts (default: 240, "
                                                           "i.e. 16 words of overlap)")
    _add_root(p)
    _add_progress(p)
    p.set_defaults(func=_cmd_passages)


def _cmd_passages(args) -> int:
    from .corpus import Corpus
    from .passages import build_passage_corpus

    corpus = Corpus.load(args.corpus, root=args.root)
    passages, report = build_passage_corpus(corpus, args.window, args.stride, progress=args.progress)
    print(f"built {report.rows:,} passages of {len(corpus):,} documents (window {args.window}, stride "
          f"{args.stride} words) -> {passages.folder}")
    print(f"next: gaia-lite index sparse {passages.folder}")
    return 0


# --- search -----------------------------------------------------------------------------------------------

def _search_parser(sub) -> None:
    p = sub.add_parser("search", help="search a built corpus (BM25, dense or hybrid) and print the hits")
    p.add_argument("corpus", help="corpus name or folder")
    p.add_argument("query", help="query text (Lucene syntax has no special meaning)")
    p.add_argument("-k", type=int, default=10, help="number of hits (default: 10)")
    p.add_argument("--retriever", choices=["bm25", "dense", "hybrid"], default="bm25", help="default: bm25")
    _add_analyzer(p)
    _add_encoder(p)
    p.add_argument("--fusion", choices=["rrf", "weighted", "pyserini"], default="rrf",
                   help="hybrid fusion method (default: rrf)")
    p.add_argument("--bm25-weight", type=float,
                   help="hybrid: weight of BM25 (dense gets 1 - it) for weighted; alpha for pyserini")
    p.add_argument("--depth", type=int, default=100, help="hybrid: documents retrieved per side (default: 100)")
    p.add_argument("--explain-terms", action="store_true", help="hybrid: split each BM25 score by query term")
    p.add_argument("--json", action="store_true", help="print the hits (with hybrid explanations) as JSON")
    p.add_argument("--export", metavar="PATH",
                   help="also save the result set (query, settings, hits, source rows) as a Dataset: .parquet, "
                        ".jsonl, or else a save_to_disk folder")
    p.add_argument("--push-results", metavar="OWNER/NAME",
                   help="also push the result set as a Dataset to this Hub repo (private)")
    _add_root(p)
    p.set_defaults(func=_cmd_search)


def _snippet(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _open_searcher(args, corpus):
    from .experiments import RetrieverConfig, open_searcher
    from .hybrid import FusionConfig

    fusion = {"method": args.fusion, "depth": args.depth}
    if args.bm25_weight is not None:
        if args.fusion == "pyserini":
            fusion["alpha"] = args.bm25_weight
        else:
            fusion["weights"] = {"bm25": args.bm25_weight, "dense": 1 - args.bm25_weight}
    config = RetrieverConfig(kind=args.retriever, fields=args.fields, stemmer=args.stemmer,
                             keep_stopwords=args.keep_stopwords, language=args.language, model=args.model,
                             dtype="auto", fusion=FusionConfig(**fusion))
    return open_searcher(corpus, config, progress=False, log=lambda line: print(line, file=sys.stderr))


def _cmd_search(args) -> int:
    import dataclasses

    from .corpus import Corpus

    corpus = Corpus.load(args.corpus, root=args.root, verify=False)
    # A missing index is an error here (building one is `gaia-lite index ...`), not something to build silently.
    _require_indexes(args, corpus)
    searcher = _open_searcher(args, corpus)
    if args.retriever == "hybrid":
        hits = searcher.search(args.query, args.k, explain_terms=args.explain_terms)
    else:
        hits = searcher.search(args.query, args.k)
    if args.export or args.push_results:
        from .hub import export_results, results_dataset

        settings = {"retriever": args.retriever, "k": args.k, "fields": args.fields}
        if args.retriever != "bm25":
            settings["model"] = args.model
        if args.retriever == "hybrid":
            settings["fusion"] = dataclasses.asdict(searcher.fusion)
        ds = results_dataset(corpus, {args.query: hits}, settings=settings)
        for where in filter(None, [args.export and export_results(ds, out=args.export),
                                   args.push_results and export_results(ds, repo_id=args.push_results)]):
            print(f"saved the result set ({len(ds)} hits) -> {where}", file=sys.stderr)
    if args.json:
        out = []
        for h in hits:
            doc = corpus.get(h.doc_id)
            record = h._asdict() if hasattr(h, "_asdict") else dataclasses.asdict(h)
            record.update(title=doc.get("title", ""), text=doc["text"])
            out.append(record)
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return 0
    _print_hits(corpus, hits)
    return 0


def _require_indexes(args, corpus) -> None:
    from .dense import dense_dir
    from .errors import MissingArtifactError
    from .sparse import sparse_dir

    if args.retriever in ("bm25", "hybrid"):
        index = sparse_dir(corpus.folder, args.fields, args.stemmer, args.keep_stopwords, args.language)
        if not index.is_dir():
            raise MissingArtifactError(f"no sparse index at {index}: build it with "
                                       f"`gaia-lite index sparse {corpus.folder} --fields {args.fields}`")
    if args.retriever in ("dense", "hybrid"):
        index = dense_dir(corpus.folder, args.model)
        if not index.is_dir():
            raise MissingArtifactError(f"no dense index at {index}: build it with "
                                       f"`gaia-lite index dense {corpus.folder} --model {args.model}`")


def _print_hits(corpus, hits) -> None:
    if not hits:
        print("no hits")
    for h in hits:
        doc = corpus.get(h.doc_id)
        found = f"  found by {'+'.join(h.found_by)}" if hasattr(h, "found_by") else ""
        print(f"{h.rank:>3}  {h.score:8.4f}  {h.doc_id}{found}")
        if doc.get("title"):
            print(f"     {_snippet(doc['title'])}")
        print(f"     {_snippet(doc['text'])}")


# --- eval -------------------------------------------------------------------------------------------------

def _eval_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate BM25 on a BEIR-format folder (builds what is missing)",
                       description="Build the corpus and index where missing, search the split's queries, write a "
                                   "TREC run, and report metrics (trec_eval -c semantics). With --config, check "
                                   "the config's expected scores: exit status 1 on FAIL.")
    p.add_argument("collection", nargs="?", help="BEIR-format folder (corpus.jsonl, queries.jsonl, qrels/)")
    p.add_argument("--config", action="append", default=[],
                   help="experiment config (configs/*.yaml) with parameters and expected scores; repeatable")
    p.add_argument("--table", help="also write a results table to TABLE.md and TABLE.json")
    p.add_argument("--split", help="qrels split (default: test)")
    p.add_argument("--corpus-name", help="corpus name under the indexes root (default: the folder's name)")
    p.add_argument("--fields", choices=["flat", "multifield"], help="default: flat")
    p.add_argument("-k", type=int, help="hits per query (default: 1000)")
    p.add_argument("--remove-query", action=argparse.BooleanOptionalAction, default=None,
                   help="drop hits whose doc id equals the query id (BEIR's rule; default: off unless the config says)")
    p.add_argument("--runs-dir", default="runs", help="where TREC run files go (default: runs/)")
    p.add_argument("--threads", type=int, default=1, help="search threads (default: 1)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    _add_root(p)
    _add_progress(p)
    p.set_defaults(func=_cmd_eval)


def _cmd_eval(args) -> int:
    import dataclasses

    from .experiments import ExperimentConfig, default_config, run_experiment, write_results_table

    configs = [ExperimentConfig.from_yaml(c) for c in args.config] or [default_config(args.collection)]
    overrides = {}
    if args.split:
        overrides["split"] = args.split
    if args.corpus_name:
        overrides["corpus"] = args.corpus_name
    if args.k:
        overrides["k"] = args.k
    if args.remove_query is not None:
        overrides["remove_query"] = args.remove_query
    # With --json, stdout carries only the JSON; what was built is said on stderr.
    log = (lambda line: print(line, file=sys.stderr)) if args.json else print
    results = []
    for config in configs:
        if args.fields:
            overrides["retriever"] = dataclasses.replace(config.retriever, fields=args.fields)
        config = dataclasses.replace(config, **overrides)
        result = run_experiment(config, args.collection, root=args.root, runs_dir=args.runs_dir,
                                threads=args.threads, progress=args.progress, log=log)
        results.append(result)
        if not args.json:
            print(result.table())
            if result.checks:
                print("OK" if result.ok else "FAIL")
    if args.json:
        out = [{"name": r.config.name, "metrics": r.metrics, "checks": r.checks, "ok": r.ok, "run": str(r.run_path),
                "queries": r.num_queries} for r in results]
        print(json.dumps(out[0] if len(out) == 1 else out, indent=1))
    if args.table:
        md, js = write_results_table(results, args.table)
        log(f"results table: {md} and {js}")
    return 0 if all(r.ok for r in results) else 1


# --- tune -------------------------------------------------------------------------------------------------

def _tune_parser(sub) -> None:
    p = sub.add_parser("tune", help="try fusion settings of a hybrid config on a training split",
                       description="Search the split's queries once with both sides, then evaluate each fusion "
                                   "setting of a grid (weights and normalization, or RRF's k). Tune on train, "
                                   "report on test.")
    p.add_argument("collection", help="BEIR-format folder")
    p.add_argument("--config", required=True, help="a hybrid experiment config")
    p.add_argument("--split", default="train", help="qrels split to tune on (default: train)")
    p.add_argument("--table", help="also write the table to TABLE.md and TABLE.json")
    _add_root(p)
    _add_progress(p)
    p.set_defaults(func=_cmd_tune)


def _cmd_tune(args) -> int:
    from .experiments import ExperimentConfig, tune_fusion

    config = ExperimentConfig.from_yaml(args.config)
    table = tune_fusion(config, args.collection, split=args.split, root=args.root, progress=args.progress)
    print(f"{config.name}: fusion settings on split {args.split!r}, best first")
    print(table.to_markdown(index=False))
    if args.table:
        base = Path(args.table)
        base.parent.mkdir(parents=True, exist_ok=True)
        base.with_name(base.name + ".md").write_text(table.to_markdown(index=False) + "\n")
        table.to_json(base.with_name(base.name + ".json"), orient="records", indent=1)
    return 0


# --- demo -------------------------------------------------------------------------------------------------

def _demo_parser(sub) -> None:
    p = sub.add_parser("demo", help="build the default corpus (installed packages' docstrings) and open the explorer",
                       description="The main job on the embedded default corpus: the docstrings of the installed "
                                   "Python packages. Builds the corpus, its Lucene index and its dense index where "
                                   "missing, prints the BM25 hits of a sample query, then opens the explorer app.")
    p.add_argument("query", nargs="?", default=DEMO_QUERY, help=f"query (default: {DEMO_QUERY!r})")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--limit", type=int, help="index only the first N docstrings")
    p.add_argument("--name", default="docstrings", help="corpus name (default: docstrings)")
    p.add_argument("--rebuild", action="store_true", help="rebuild the corpus and indexes even if present")
    p.add_argument("--no-dense", dest="dense", action="store_false",
                   help="skip the dense index (its encoding takes about 12 min for 120,000 docstrings on 2 cores); "
                        "the app then offers BM25 only")
    p.add_argument("--no-app", dest="app", action="store_false", help="print the hits and stop; do not open the app")
    _add_server(p)
    _add_root(p)
    _add_progress(p)
    p.set_defaults(func=_cmd_demo)


def _add_server(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="address to serve on (default: 127.0.0.1; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, help="port (default: 7860, or the next free one)")
    p.add_argument("--share", action="store_true", help="also open a temporary public gradio.live link")


def _cmd_demo(args) -> int:
    from .corpus import Corpus, Source, build_corpus
    from .errors import MissingArtifactError
    from .sparse import BM25Searcher, build_sparse_index, sparse_dir

    try:
        if args.rebuild:
            raise MissingArtifactError("rebuild requested")
        corpus = Corpus.load(args.name, root=args.root)
        print(f"using corpus {corpus.name!r}: {len(corpus):,} documents in {corpus.folder}")
    except MissingArtifactError:
        start = time.perf_counter()
        corpus, report = build_corpus(Source("builtin:docstrings"), args.name, root=args.root, limit=args.limit,
                                      progress=args.progress)
        print(f"built corpus {corpus.name!r}: {report.rows:,} docstrings of installed packages in "
              f"{time.perf_counter() - start:.1f} s -> {corpus.folder / 'dataset'}")
    index = sparse_dir(corpus.folder)
    if args.rebuild or not index.is_dir():
        start = time.perf_counter()
        build_sparse_index(corpus, progress=args.progress)
        print(f"built sparse index in {time.perf_counter() - start:.1f} s -> {index}")
    with BM25Searcher(index, corpus) as searcher:
        start = time.perf_counter()
        hits = searcher.search(args.query, args.k)
        ms = (time.perf_counter() - start) * 1000
    print(f"\nBM25 top {args.k} for {args.query!r} ({ms:.1f} ms):")
    for h in hits:
        doc = corpus.get(h.doc_id)
        print(f"{h.rank:>3}  {h.score:8.4f}  {h.doc_id}  [{doc.get('package', '')}]")
        print(f"     {_snippet(doc['text'])}")
    if args.dense:
        from .dense import DEFAULT_MODEL, build_dense_index, dense_dir

        index = dense_dir(corpus.folder, DEFAULT_MODEL)
        if args.rebuild or not index.is_dir():
            print(f"\nbuilding the dense index ({DEFAULT_MODEL}) for {len(corpus):,} documents; about 6 ms a "
                  "document on 2 CPU cores (--no-dense skips it)")
            start = time.perf_counter()
            build_dense_index(corpus, progress=args.progress)
            print(f"built dense index in {time.perf_counter() - start:.1f} s -> {index}")
    if not args.app:
        print(f"\nsearch it yourself: gaia-lite search {corpus.folder} \"your query\"  (or: gaia-lite app {corpus.folder})")
        return 0
    return _serve(corpus, args)


# --- app --------------------------------------------------------------------------------------------------

def _app_parser(sub) -> None:
    p = sub.add_parser("app", help="open the explorer (a Gradio app) over a built corpus",
                       description="Serve the corpus explorer: BM25, dense and hybrid search side by side, documents "
                                   "by id, exact phrases, filters, an overview and exports. Needs the corpus's "
                                   "sparse index; the dense side appears where a dense index is built.")
    p.add_argument("corpus", nargs="?", default="docstrings", help="corpus name or folder (default: docstrings)")
    p.add_argument("--fields", choices=["flat", "multifield"], default="flat", help="which Lucene index (default: flat)")
    p.add_argument("--model", help="dense model whose index to use (default: all-MiniLM-L6-v2)")
    _add_server(p)
    _add_root(p)
    p.set_defaults(func=_cmd_app)


def _cmd_app(args) -> int:
    from .corpus import Corpus

    return _serve(Corpus.load(args.corpus, root=args.root, verify=False), args)


def _space_parser(sub) -> None:
    p = sub.add_parser("space", help="write a Hugging Face Space that serves the explorer")
    kinds = p.add_subparsers(dest="action", required=True, metavar="{build}")
    b = kinds.add_parser("build", help="write spaces/<name>/: app.py, pinned requirements, README, artifacts",
                         description="Write a Space folder that serves the explorer over a built corpus. "
                                     "`python spaces/<name>/app.py` serves it locally; push the folder to a "
                                     "Space (sdk: gradio) to serve it on the Hub.")
    b.add_argument("corpus", help="corpus name or folder")
    b.add_argument("--name", help="Space name (default: the corpus name)")
    b.add_argument("--out", help="folder to write (default: spaces/<name>)")
    b.add_argument("--hub-repo", help="pull the artifacts from this Hub repo at start instead of copying them in")
    b.add_argument("--title", help="the Space's title")
    _add_root(b)
    b.set_defaults(func=_cmd_space_build)


def _cmd_space_build(args) -> int:
    from .app.space import build_space

    start = time.perf_counter()
    folder = build_space(args.corpus, name=args.name, out=args.out, root=args.root, hub_repo=args.hub_repo,
                         title=args.title)
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    print(f"wrote Space {folder} ({size / 2**20:,.1f} MiB) in {time.perf_counter() - start:.1f} s")
    print(f"  serve it here:   python {folder / 'app.py'}")
    print(f"  put it on the Hub: create a Gradio Space, then upload the folder (git push, or "
          f"`huggingface-cli upload <user>/<space> {folder} . --repo-type space`)")
    return 0


def _serve(corpus, args) -> int:
    from .app import launch
    from .errors import ConfigError

    print(f"opening the explorer over {corpus.name!r} ({len(corpus):,} documents); Ctrl+C stops it")
    try:
        launch(corpus, host=args.host, port=args.port, share=args.share, fields=getattr(args, "fields", "flat"),
               model=getattr(args, "model", None))
    except OSError as e:
        if "port" not in str(e):
            raise
        raise ConfigError(f"port {args.port or 7860} is taken (another explorer running?): pass --port with a "
                          "free one, or stop the other server") from None
    return 0


# --- push / pull ------------------------------------------------------------------------------------------

def _push_parser(sub) -> None:
    p = sub.add_parser("push", help="put a built corpus and its indexes on the Hugging Face Hub (a dataset repo)",
                       description="Upload the corpus's Dataset (parquet, loadable with load_dataset), the "
                                   "embeddings of each dense index (a config per model), the index folders, a "
                                   "manifest with the sha256 of every file and a dataset card, in one commit. The "
                                   "token comes from `hf auth login` or $HF_TOKEN and is never shown.")
    p.add_argument("corpus", help="corpus name or folder")
    p.add_argument("repo_id", help="Hub dataset repo, owner/name")
    p.add_argument("--revision", help="branch to push to (created where missing; default: main)")
    p.add_argument("--public", dest="private", action="store_false",
                   help="create the repo public (default: private; an existing repo keeps its visibility)")
    p.add_argument("--results", action="append", default=[], metavar="TABLE.json",
                   help="a results table from `gaia-lite eval --table`, shown in the card; repeatable")
    p.add_argument("--dry-run", metavar="DIR", help="write the exact folder that would be uploaded to DIR; upload nothing")
    _add_root(p)
    _add_progress(p)
    p.set_defaults(func=_cmd_push)


def _cmd_push(args) -> int:
    from .hub import push_corpus

    start = time.perf_counter()
    report = push_corpus(args.corpus, args.repo_id, private=args.private, revision=args.revision,
                         dry_run_dir=args.dry_run, results=args.results, root=args.root, progress=args.progress)
    what = (f"{len(report.files)} files ({report.num_bytes / 2**20:,.1f} MiB): dataset, "
            + ", ".join(report.artifacts or ["no indexes"]))
    seconds = time.perf_counter() - start
    if report.folder is not None:
        print(f"dry run: wrote the folder `push` would upload to {args.repo_id}: {what} in {seconds:.1f} s "
              f"-> {report.folder}")
        print(f"nothing was uploaded; check it with: gaia-lite pull {report.folder} --name <name>")
        return 0
    print(f"pushed {what} in {seconds:.1f} s -> {report.url}"
          f"{f' (revision {report.revision})' if report.revision else ''}, "
          f"{'private' if report.private else 'public'}{f', commit {report.commit[:12]}' if report.commit else ''}")
    if report.deleted:
        print(f"  removed {len(report.deleted)} file(s) of an earlier push that this one no longer has")
    spec = f"hf://{report.repo_id}" + (f"@{report.revision}" if report.revision else "")
    print(f"next, anywhere: gaia-lite pull {report.repo_id}  (or: gaia-lite search {spec} \"your query\")")
    return 0


def _pull_parser(sub) -> None:
    p = sub.add_parser("pull", help="fetch a corpus pushed with `gaia-lite push` into indexes/<name>/, verified",
                       description="Download a pushed corpus (or read a local folder with its layout), check every "
                                   "file's sha256 and size, the row counts and the content fingerprint, then move "
                                   "it into indexes/<name>/. A failed check leaves the local copy as it was.")
    p.add_argument("repo", help="Hub dataset repo (owner/name or hf://owner/name[@revision]) or a local folder")
    p.add_argument("--revision", help="branch, tag or commit (default: main)")
    p.add_argument("--name", help="local corpus name (default: the repo's name)")
    p.add_argument("--force", action="store_true", help="replace a different corpus already under that name")
    _add_root(p)
    _add_progress(p)
    p.set_defaults(func=_cmd_pull)


def _cmd_pull(args) -> int:
    from .hub import pull_corpus

    start = time.perf_counter()
    corpus = pull_corpus(args.repo, revision=args.revision, name=args.name, root=args.root, force=args.force,
                         progress=args.progress)
    artifacts = sorted(p.name for p in corpus.folder.iterdir() if (p / "gaia_lite.json").is_file())
    print(f"pulled {args.repo}{f'@{args.revision}' if args.revision else ''} in "
          f"{time.perf_counter() - start:.1f} s -> {corpus.folder}: {len(corpus):,} documents, fingerprint "
          f"{corpus.meta.fingerprint[:19]}, verified; artifacts: {', '.join(artifacts)}")
    print(f"next: gaia-lite search {corpus.folder} \"your query\"")
    return 0


# --- main -------------------------------------------------------------------------------------------------

COMMANDS: dict[str, Callable] = {
    "corpus": _corpus_parser,
    "index": _index_parser,
    "passages": _passages_parser,
    "search": _search_parser,
    "eval": _eval_parser,
    "tune": _tune_parser,
    "demo": _demo_parser,
    "app": _app_parser,
    "space": _space_parser,
    "push": _push_parser,
    "pull": _pull_parser,
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="gaia-lite", description="BM25 + dense hybrid retrieval over Hugging Face datasets.")
    parser.add_argument("--version", action="version", version=f"gaia-lite {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    for add in COMMANDS.values():
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except GaiaLiteError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing half-built was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
