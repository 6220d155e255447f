"""The ``gaia-lite`` command: ``corpus``, ``index``, ``search``, ``eval``, ``tune``, ``demo``, ``app``, ``space``,
``push``, ``pull``, ``contamination`` and ``duplicates``.

``main(argv) -> int`` holds the whole CLI so tests can call it in-process. Every error a user can cause prints
as one line (``error: …``, saying what to do) with exit status 2, argparse's own included; a closed stdout
(``gaia-lite search ... | head -1``) ends quietly with status 141, as a program killed by SIGPIPE does.

The retriever flags (``--retriever``, ``--fields``, ``--model``, ``--fusion``, ``--bm25-weight``...) set the
fields of :class:`~gaia_lite.config.RetrieverConfig` of the same names, with its defaults; ``search``, ``eval``,
``tune`` and ``app`` share them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from . import __version__
from .config import (COMPILE_MIN_DOCS, DEFAULT_K, DTYPES, INDEX_TYPES, RETRIEVERS, SPARSE_FIELDS, STEMMERS,
                     BuildConfig, DenseConfig, FusionConfig, RetrieverConfig, SparseConfig, check_k)
from .errors import ConfigError, GaiaLiteError, InputError, Terminated, sigterm_raises

DEMO_QUERY = "read a parquet file into a table"
#: Exit status of a program whose output pipe was closed: 128 + SIGPIPE, as the shell reports it.
BROKEN_PIPE_STATUS = 141
#: Exit status after SIGTERM (``kill``, a job scheduler), once the same clean-up as Ctrl+C has run: 128 + SIGTERM.
TERMINATED_STATUS = 143


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors read like every other gaia-lite error: one line, exit status 2."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def _positive_int(text: str) -> int:
    try:
        return check_k(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None


def _add_root(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", help="folder holding built corpora (default: $GAIA_LITE_HOME or ./indexes)")


def _to_stderr(line: str) -> None:
    """A progress or log line where it cannot mix with a command's output (``--json``)."""
    print(line, file=sys.stderr)


def _add_progress(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-progress", dest="progress", action="store_false", help="hide progress bars")


# --- the retriever flags: one per RetrieverConfig field, dest "<section>.<field>", default None (= not given) ---

def _add_sparse(p: argparse.ArgumentParser, *, search: bool = True) -> None:
    d = SparseConfig()
    g = p.add_argument_group("BM25 side (retriever.sparse)")
    g.add_argument("--fields", dest="sparse.fields", choices=SPARSE_FIELDS,
                   help=f"flat: title + text in one field; multifield: title and text as fields (default: {d.fields})")
    g.add_argument("--stemmer", dest="sparse.stemmer", choices=STEMMERS, help=f"default: {d.stemmer}")
    g.add_argument("--keep-stopwords", dest="sparse.keep_stopwords", action="store_const", const=True,
                   help="index stopwords (default: drop English stopwords)")
    g.add_argument("--language", dest="sparse.language",
                   help=f"Lucene analyzer language (default: {d.language}, Anserini's default)")
    if search:
        g.add_argument("--k1", dest="sparse.k1", type=float, help=f"BM25 k1 (default: {d.k1})")
        g.add_argument("--b", dest="sparse.b", type=float, help=f"BM25 b (default: {d.b})")


def _add_dense(p: argparse.ArgumentParser, *, build: bool = False) -> None:
    d = DenseConfig()
    g = p.add_argument_group("dense side (retriever.dense)")
    g.add_argument("--model", dest="dense.model",
                   help="HF model id or local folder (default: all-MiniLM-L6-v2 to build; to search, the model of "
                        "the dense index built)")
    g.add_argument("--index-type", dest="dense.index_type", choices=INDEX_TYPES,
                   help="flat: exact inner product; approximate, for large corpora: hnsw (a graph), ivf (inverted "
                        "lists), ivfpq (compressed: 48 bytes a vector) (default: flat to build; "
                        "to search, the one built)")
    g.add_argument("--dtype", dest="dense.dtype", choices=DTYPES,
                   help="auto: bfloat16 where the CPU/GPU computes it natively, else float32 (default: auto to "
                        "build; to search, the index's)")
    g.add_argument("--batch-size", dest="dense.batch_size", type=_positive_int,
                   help=f"texts per forward pass (default: {d.batch_size})")
    g.add_argument("--query-prefix", dest="dense.query_prefix",
                   help="text put before each query, for e5/bge-style models (default: none to build; to search, "
                        "the index's)")
    g.add_argument("--document-prefix", dest="dense.document_prefix",
                   help="text put before each document (default: none to build; to search, the index's)")
    if build:
        g.add_argument("--compile", dest="dense.compile", action=argparse.BooleanOptionalAction,
                       help=f"encode documents through torch.compile: up to 1.3x faster on a CPU after 10-40 s of "
                            f"compiling (default: on a CPU for {COMPILE_MIN_DOCS:,} documents or more)")
        g.add_argument("--hnsw-m", dest="dense.hnsw_m", type=_positive_int, help=f"HNSW links per node (default: {d.hnsw_m})")
        g.add_argument("--hnsw-ef-construction", dest="dense.hnsw_ef_construction", type=_positive_int,
                       help=f"HNSW build-time beam (default: {d.hnsw_ef_construction})")
        g.add_argument("--ivf-lists", dest="dense.ivf_lists", type=_positive_int,
                       help="IVF lists (default: 4 x the square root of the documents)")
        g.add_argument("--pq-m", dest="dense.pq_m", type=_positive_int,
                       help=f"ivfpq: bytes a vector, dividing the model's dimensions (default: {d.pq_m})")
    else:
        g.add_argument("--ef-search", dest="dense.ef_search", type=_positive_int,
                       help=f"HNSW search-time beam (default: {d.ef_search})")
        g.add_argument("--ivf-probe", dest="dense.ivf_probe", type=_positive_int,
                       help=f"IVF lists a search visits (default: {d.ivf_probe})")


def _add_fusion(p: argparse.ArgumentParser) -> None:
    d = FusionConfig()
    g = p.add_argument_group("hybrid fusion (retriever.fusion)")
    g.add_argument("--fusion", dest="fusion.method", choices=["rrf", "weighted", "pyserini"],
                   help=f"rrf: reciprocal rank fusion; weighted: sum of normalized scores; pyserini: Pyserini's "
                        f"HybridSearcher (default: {d.method})")
    g.add_argument("--bm25-weight", dest="fusion.bm25_weight", type=float,
                   help=f"BM25's share w in [0, 1], dense gets the rest: weights w and 1-w (weighted), 2w and 2(1-w) "
                        f"(rrf, so 0.5 is RRF's usual 1 and 1) (default: {d.bm25_weight})")
    g.add_argument("--normalization", dest="fusion.normalization", choices=["minmax", "zscore", "none"],
                   help=f"weighted fusion's score normalization (default: {d.normalization})")
    g.add_argument("--depth", dest="fusion.depth", type=_positive_int,
                   help=f"documents retrieved per side (default: {d.depth})")
    g.add_argument("--rrf-k", dest="fusion.rrf_k", type=int, help=f"RRF's k (default: {d.rrf_k})")
    g.add_argument("--fill-missing", dest="fusion.fill_missing", action=argparse.BooleanOptionalAction,
                   help="give a document one side did not retrieve its real score on that side (default: on for "
                        "weighted, off for pyserini; rrf never fills)")
    g.add_argument("--missing", dest="fusion.missing", choices=["zero", "min"],
                   help=f"weighted fusion without filling: what a one-sided document gets from the other side "
                        f"(default: {d.missing})")
    g.add_argument("--alpha", dest="fusion.alpha", type=float,
                   help=f"pyserini fusion: alpha x BM25 + dense (default: {d.alpha})")


def _add_build(p: argparse.ArgumentParser) -> None:
    d = BuildConfig()
    g = p.add_argument_group("how the build runs (shards, workers, a Ray cluster)")
    g.add_argument("--shard-size", dest="build.shard_size", type=_positive_int,
                   help="documents per shard (default: automatic, 10,000 to 250,000 and about 4 shards a worker)")
    g.add_argument("--workers", dest="build.workers", type=_positive_int,
                   help=f"local worker processes, or with --ray the most encoding actors (default: {d.workers})")
    g.add_argument("--ray", dest="build.ray", metavar="auto|HOST:PORT",
                   help="run the shards on this Ray cluster (pip install gaia-lite[ray]; default: this machine)")
    g.add_argument("--workdir", dest="build.workdir",
                   help="where shards are made (default: beside the index; with --ray, storage every node reads)")


def build_config(args: argparse.Namespace) -> BuildConfig:
    """The :class:`BuildConfig` the build flags ask for."""
    given = {key.split(".", 1)[1]: v for key, v in vars(args).items() if key.startswith("build.") and v is not None}
    return BuildConfig(**given)


def _add_retriever(p: argparse.ArgumentParser, *, choose: bool = True) -> None:
    """Every retriever flag; ``choose`` adds ``--retriever`` itself."""
    if choose:
        p.add_argument("--retriever", dest="kind", choices=RETRIEVERS,
                       help=f"default: {RetrieverConfig().kind}")
    _add_sparse(p)
    _add_dense(p)
    _add_fusion(p)


def retriever_config(args: argparse.Namespace, base: RetrieverConfig | None = None) -> RetrieverConfig:
    """``base`` (default :class:`RetrieverConfig`'s defaults) with the retriever flags that were given."""
    config = base or RetrieverConfig()
    given: dict[str, dict] = {}
    for key, value in vars(args).items():
        if value is not None and "." in key and not key.startswith("build."):
            section, name = key.split(".", 1)
            given.setdefault(section, {})[name] = value
    updates = {section: replace(getattr(config, section), **values) for section, values in given.items()}
    if getattr(args, "kind", None):
        updates["kind"] = args.kind
    config = replace(config, **updates)
    if "bm25_weight" in given.get("fusion", {}) and config.fusion.method == "pyserini":
        raise ConfigError("--bm25-weight does not apply to pyserini fusion, which weighs BM25 with --alpha")
    return config


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
    p.add_argument("--limit", type=_positive_int, help="keep only the first N documents")
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


# --- index ----------------------------------------------------------------------------------------------

def _index_parser(sub) -> None:
    p = sub.add_parser("index", help="build an index over a corpus")
    kinds = p.add_subparsers(dest="index_kind", required=True, metavar="{sparse,dense}")
    s = kinds.add_parser("sparse", help="Lucene BM25 index (Pyserini/Anserini), docid = corpus id",
                         description="Build a Lucene index with positions, document vectors and raw documents.")
    s.add_argument("corpus", help="corpus name or folder")
    _add_sparse(s, search=False)
    s.add_argument("--threads", type=_positive_int, default=2, help="indexing threads per shard (default: 2)")
    _add_build(s)
    s.add_argument("--out", help="index folder (default: indexes/<name>/sparse-<fields>)")
    _add_root(s)
    _add_progress(s)
    s.set_defaults(func=_cmd_index_sparse)
    d = kinds.add_parser("dense", help="FAISS index of transformers embeddings, keyed by the corpus ids",
                         description="Encode the corpus (title + text) and build a FAISS index with a docid sidecar "
                                     "(Pyserini's layout); the embeddings are kept as a Dataset aligned to the ids.")
    d.add_argument("corpus", help="corpus name or folder")
    _add_dense(d, build=True)
    _add_build(d)
    d.add_argument("--out", help="index folder (default: indexes/<name>/dense-<model>)")
    _add_root(d)
    _add_progress(d)
    d.set_defaults(func=_cmd_index_dense)


def _cmd_index_sparse(args) -> int:
    from .retriever import open_corpus
    from .sparse import build_sparse_index

    corpus = open_corpus(args.corpus, root=args.root, verify=True)
    config = retriever_config(args).sparse
    start = time.perf_counter()
    path = build_sparse_index(corpus, config, threads=args.threads, out=args.out, progress=args.progress,
                              **build_config(args).options())
    _report_build(f"sparse index ({config.fields})", corpus, start, path, f"gaia-lite search {corpus.folder} \"your query\"")
    return 0


def _cmd_index_dense(args) -> int:
    from .artifacts import ArtifactMeta
    from .dense import build_dense_index
    from .retriever import open_corpus

    corpus = open_corpus(args.corpus, root=args.root, verify=True)
    config = retriever_config(args).dense
    start = time.perf_counter()
    path = build_dense_index(corpus, config, out=args.out, progress=args.progress, **build_config(args).options())
    encoder = ArtifactMeta.read(path, "dense").params["encoder"]
    _report_build(f"dense index ({config.index_type or 'flat'}, {encoder['dim']} dims, {encoder['dtype']})", corpus,
                  start, path, f"gaia-lite search {corpus.folder} \"your query\" --retriever hybrid")
    return 0


def _report_build(what: str, corpus, start: float, path, next_command: str) -> None:
    seconds = time.perf_counter() - start
    print(f"built {what} of {corpus.name!r}: {len(corpus):,} documents in {seconds:.1f} s "
          f"({len(corpus) / seconds:,.0f} docs/s) -> {path}")
    print(f"next: {next_command}")


# --- passages ---------------------------------------------------------------------------------------------

def _passages_parser(sub) -> None:
    p = sub.add_parser("passages", help="split a corpus's documents into overlapping word windows (a corpus)",
                       description="Build indexes/<name>/passages-w<window>-s<stride>: one row per window of words, "
                                   "id <doc_id>#p<n>, with doc_id and character offsets kept. Index it like any "
                                   "corpus; results aggregate back to documents by their best passage.")
    p.add_argument("corpus", help="corpus name or folder")
    p.add_argument("--window", type=_positive_int, default=256, help="words per passage (default: 256)")
    p.add_argument("--stride", type=_positive_int, default=240, help="words between passage starts (default: 240, "
                                                                     "i.e. 16 words of overlap)")
    _add_root(p)
    _add_progress(p)
    p.set_defaults(func=_cmd_passages)


def _cmd_passages(args) -> int:
    from .passages import build_passage_corpus
    from .retriever import open_corpus

    corpus = open_corpus(args.corpus, root=args.root)
    passages, report = build_passage_corpus(corpus, args.window, args.stride, progress=args.progress)
    print(f"built {report.rows:,} passages of {len(corpus):,} documents (window {args.window}, stride "
          f"{args.stride} words) -> {passages.folder}")
    print(f"next: gaia-lite index sparse {passages.folder}")
    return 0


# --- search -----------------------------------------------------------------------------------------------

def _search_parser(sub) -> None:
    p = sub.add_parser("search", help="search a built corpus (BM25, dense or hybrid) and print the hits",
                       description="Search a built corpus. A missing index is an error that says how to build it.")
    p.add_argument("corpus", help="corpus name, folder, or hf://owner/repo[@revision]")
    p.add_argument("query", help="query text (Lucene syntax has no special meaning)")
    p.add_argument("-k", type=_positive_int, default=DEFAULT_K, help=f"number of hits (default: {DEFAULT_K})")
    _add_retriever(p)
    p.add_argument("--config", help="a YAML config whose retriever section gives the settings (flags override it)")
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


def _config_file_retriever(path: str | None) -> RetrieverConfig | None:
    """The retriever section of an experiment config file (``search``/``app`` take only that part)."""
    if path is None:
        return None
    from .config import ExperimentConfig

    return ExperimentConfig.from_yaml(path).retriever


def _cmd_search(args) -> int:
    from .retriever import open_corpus, open_searcher
    from .types import hit_record

    if not args.query.strip():
        raise InputError("the query is empty: give words to search for")
    config = retriever_config(args, _config_file_retriever(args.config))
    corpus = open_corpus(args.corpus, root=args.root)
    searcher = open_searcher(corpus, config, log=_to_stderr)
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
    from .hub import export_results, results_dataset

    ds = results_dataset(corpus, {args.query: hits}, settings=settings)
    for where in filter(None, [args.export and export_results(ds, out=args.export),
                               args.push_results and export_results(ds, repo_id=args.push_results)]):
        print(f"saved the result set ({len(ds)} hits) -> {where}", file=sys.stderr)


def _print_hits(corpus, hits) -> None:
    from .types import HybridHit

    if not hits:
        print("no hits")
    for h in hits:
        doc = corpus.get(h.doc_id)
        found = f"  found by {'+'.join(h.found_by)}" if isinstance(h, HybridHit) else ""
        print(f"{h.rank:>3}  {h.score:8.4f}  {h.doc_id}{found}")
        if doc.get("title"):
            print(f"     {_snippet(doc['title'])}")
        print(f"     {_snippet(doc['text'])}")


# --- eval -------------------------------------------------------------------------------------------------

def _eval_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a retriever on a BEIR-format folder (builds what is missing)",
                       description="Build the corpus and indexes where missing, search the split's queries, write a "
                                   "TREC run, and report metrics (trec_eval -c semantics). The retriever comes from "
                                   "the flags (as for search) or from --config files, flags overriding them. With "
                                   "expected scores (a config's), print OK or FAIL: exit status 1 on FAIL.")
    p.add_argument("collection", nargs="?", help="BEIR-format folder (corpus.jsonl, queries.jsonl, qrels/)")
    p.add_argument("--config", action="append", default=[],
                   help="experiment config (configs/*.yaml) with parameters and expected scores; repeatable")
    p.add_argument("--dump-config", metavar="PATH",
                   help="after the run, write the config that reproduces it, with its scores as expected scores "
                        "(`gaia-lite eval FOLDER --config PATH` then checks them)")
    p.add_argument("--name", help="experiment name, for the run file and tables (default: <folder>-<retriever>)")
    _add_retriever(p)
    p.add_argument("--table", help="also write a results table to TABLE.md and TABLE.json")
    p.add_argument("--split", help="qrels split (default: test)")
    p.add_argument("--corpus-name", help="corpus name under the indexes root (default: the folder's name)")
    p.add_argument("-k", type=_positive_int, help="hits per query (default: 1000)")
    p.add_argument("--remove-query", action=argparse.BooleanOptionalAction, default=None,
                   help="drop hits whose doc id equals the query id (BEIR's rule; default: off unless the config says)")
    p.add_argument("--runs-dir", default="runs", help="where TREC run files go (default: runs/)")
    p.add_argument("--threads", type=_positive_int, default=1, help="BM25 search threads (default: 1)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    _add_root(p)
    _add_progress(p)
    p.set_defaults(func=_cmd_eval)


def _experiments(args) -> list:
    """The experiments an ``eval`` command line describes: each ``--config``, or one from the flags, with the
    flags applied."""
    from .config import ExperimentConfig
    from .experiments import default_config

    if args.collection is None and not args.config:
        raise ConfigError("give a BEIR-format folder, or a --config that names its collection")
    overrides = {key: value for key, value in (("split", args.split), ("corpus", args.corpus_name), ("k", args.k),
                                               ("remove_query", args.remove_query), ("name", args.name))
                 if value is not None}
    if not args.config:
        return [default_config(args.collection, retriever_config(args), **overrides)]
    if args.name and len(args.config) > 1:
        raise ConfigError("--name names one experiment: give one --config with it")
    configs = [ExperimentConfig.from_yaml(path) for path in args.config]
    return [replace(c, retriever=retriever_config(args, c.retriever), **overrides) for c in configs]


def _cmd_eval(args) -> int:
    from .experiments import run_experiment, write_results_table

    configs = _experiments(args)
    if args.dump_config and len(configs) > 1:
        raise ConfigError("--dump-config writes one experiment's config: give at most one --config with it")
    # With --json, stdout carries only the JSON; what was built is said on stderr.
    log = _to_stderr if args.json else print
    results = []
    for config in configs:
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
    if args.dump_config:
        _dump_config(results[0], args.dump_config, args.collection, log)
    return 0 if all(r.ok for r in results) else 1


def _dump_config(result, path: str, collection: str | None, log: Callable[[str], None]) -> None:
    """Write the config of ``result``'s run, resolved as it ran, with its figures as the expected scores."""
    from pathlib import Path

    config = replace(result.config, collection=collection or result.config.collection,
                     expected={m: round(v, 4) for m, v in result.metrics.items()})
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"# Written by `gaia-lite eval --dump-config` ({time.strftime('%Y-%m-%d %H:%M')}): this run's "
                      "settings and scores.\n" + config.to_yaml(), encoding="utf-8")
    log(f"config of this run: {target} (run it again: gaia-lite eval --config {target})")


# --- tune -------------------------------------------------------------------------------------------------

def _tune_parser(sub) -> None:
    p = sub.add_parser("tune", help="try fusion settings of a hybrid config on a training split",
                       description="Search the split's queries once with both sides, then evaluate each fusion "
                                   "setting of a grid (BM25 weight and normalization, or RRF's k). Tune on train, "
                                   "report on test.")
    p.add_argument("collection", help="BEIR-format folder")
    p.add_argument("--config", required=True, help="a hybrid experiment config")
    p.add_argument("--split", default="train", help="qrels split to tune on (default: train)")
    p.add_argument("--table", help="also write the table to TABLE.md and TABLE.json (with --grid study, also "
                                   "TABLE-families: the settings grouped across BM25 weights)")
    p.add_argument("--grid", choices=["default", "study"], default="default",
                   help="default: the config's fusion method's parameters; study: RRF and weighted fusion across "
                        "normalizations, rules for one-sided documents, weights and depths (the defaults study)")
    _add_retriever(p, choose=False)
    _add_root(p)
    _add_progress(p)
    p.set_defaults(func=_cmd_tune)


def _cmd_tune(args) -> int:
    from .config import ExperimentConfig
    from .experiments import GRIDS, fusion_families, tune_fusion
    from .report import markdown_table, write_table

    config = ExperimentConfig.from_yaml(args.config)
    config = replace(config, retriever=retriever_config(args, config.retriever))
    grid = GRIDS[args.grid]() if GRIDS[args.grid] else None
    rows = tune_fusion(config, args.collection, split=args.split, grid=grid, root=args.root, progress=args.progress)
    print(f"{config.name}: fusion settings on split {args.split!r}, best first")
    print(markdown_table(rows))
    families = fusion_families(rows, list(config.metrics)) if args.grid == "study" else None
    if families:
        print("\nthe same settings grouped across BM25 weights, most robust first")
        print(markdown_table(families))
    if args.table:
        write_table(rows, args.table)
        if families:
            write_table(families, f"{args.table}-families")
    return 0


# --- demo -------------------------------------------------------------------------------------------------

def _demo_parser(sub) -> None:
    p = sub.add_parser("demo", help="build the default corpus (installed packages' docstrings) and open the explorer",
                       description="The main job on the embedded default corpus: the docstrings of the installed "
                                   "Python packages. Builds the corpus, its Lucene index and its dense index where "
                                   "missing, prints the BM25 hits of a sample query, then opens the explorer app.")
    p.add_argument("query", nargs="?", default=DEMO_QUERY, help=f"query (default: {DEMO_QUERY!r})")
    p.add_argument("-k", type=_positive_int, default=DEFAULT_K, help=f"number of hits (default: {DEFAULT_K})")
    p.add_argument("--limit", type=_positive_int, help="index only the first N docstrings")
    p.add_argument("--name", default="docstrings", help="corpus name (default: docstrings)")
    p.add_argument("--rebuild", action="store_true", help="rebuild the corpus and indexes even if present")
    p.add_argument("--no-dense", dest="dense", action="store_false",
                   help="skip the dense index (encoding every docstring is the longest step); the app then offers "
                        "BM25 only. Without it the app opens on BM25 and builds the dense index in the background")
    p.add_argument("--no-app", dest="app", action="store_false", help="print the hits and stop; do not open the app")
    _add_server(p)
    _add_root(p)
    _add_progress(p)
    p.set_defaults(func=_cmd_demo)


def _add_server(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="address to serve on (default: 127.0.0.1; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=_port, help="port (default: 7860, or the next free one)")
    p.add_argument("--share", action="store_true", help="also open a temporary public gradio.live link")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535, got {text!r}")
    return port


def _cmd_demo(args) -> int:
    from .dense import build_dense_index, dense_dir
    from .retriever import open_searcher
    from .sparse import build_sparse_index, sparse_dir

    corpus = _demo_corpus(args)
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
        print(f"     {_snippet(doc['text'])}")
    missing = args.dense and (args.rebuild or not dense_dir(corpus.folder).is_dir())
    if missing and not (args.app and not args.rebuild):
        print(f"\nbuilding the dense index for {len(corpus):,} documents (--no-dense skips it)")
        start = time.perf_counter()
        path = build_dense_index(corpus, progress=args.progress)
        print(f"built dense index in {time.perf_counter() - start:.1f} s -> {path}")
    if not args.app:
        print(f"\nsearch it yourself: gaia-lite search {corpus.folder} \"your query\"  (or: gaia-lite app {corpus.folder})")
        return 0
    return _serve(corpus, args, RetrieverConfig(), build_dense=missing and not args.rebuild)


def _demo_corpus(args):
    """The demo's corpus: the one built earlier, unless missing or ``--rebuild`` asks for a new one."""
    from .corpus import Corpus, Source, build_corpus
    from .errors import MissingArtifactError

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


# --- app --------------------------------------------------------------------------------------------------

def _app_parser(sub) -> None:
    p = sub.add_parser("app", help="open the explorer (a Gradio app) over a built corpus",
                       description="Serve the corpus explorer: BM25, dense and hybrid search side by side, documents "
                                   "by id, exact phrases, filters, an overview and exports. Needs the corpus's "
                                   "sparse index; the dense side appears where a dense index is built. The "
                                   "retriever flags choose the indexes and the page's initial fusion settings.")
    p.add_argument("corpus", nargs="?", default="docstrings",
                   help="corpus name, folder, or hf://owner/repo[@revision] (default: docstrings)")
    _add_retriever(p, choose=False)
    p.add_argument("--config", help="a YAML config whose retriever section gives the settings (flags override it)")
    p.add_argument("--no-dense", dest="dense", action="store_false",
                   help="where no dense index is built, serve BM25 only (default: build it in the background, "
                        "resuming an interrupted build, and turn dense and hybrid on when it is complete)")
    p.add_argument("--benchmark", action="append", default=[], metavar="SOURCE",
                   help="a benchmark the Contamination tab offers (a file, BEIR folder, saved Dataset or Hub "
                        "dataset); repeat for several. Users can also upload one.")
    _add_server(p)
    _add_root(p)
    p.set_defaults(func=_cmd_app)


def _cmd_app(args) -> int:
    from .retriever import open_corpus

    config = retriever_config(args, _config_file_retriever(args.config))
    corpus = open_corpus(args.corpus, root=args.root)
    return _serve(corpus, args, config, build_dense=args.dense and not corpus.artifacts("dense"),
                  benchmarks=_benchmarks(args.benchmark))


def _benchmarks(locations: list[str]) -> dict:
    """``{name: Source}`` for the app's ``--benchmark`` flags, each checked now (a typo fails at start)."""
    from .corpus import Source
    from .corpus.sources import source_name

    out = {}
    for location in locations:
        source = Source(location)
        source.resolved_format()  # raises InputError for a path that is not there
        name = source_name(source)
        out[name if name not in out else location] = source
    return out


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


def _serve(corpus, args, config: RetrieverConfig, *, build_dense: bool = False, benchmarks=None) -> int:
    from .app import launch

    print(f"opening the explorer over {corpus.name!r} ({len(corpus):,} documents); Ctrl+C stops it")
    if build_dense:
        print("  BM25 now; the dense index is built in the background (progress on the page), then dense and hybrid "
              "search turn on. Stopping the app keeps the finished shards: the next start goes on from there.")
    try:
        launch(corpus, config, host=args.host, port=args.port, share=args.share, build_dense=build_dense,
               benchmarks=benchmarks)
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
    artifacts = list(corpus.artifacts())
    print(f"pulled {args.repo}{f'@{args.revision}' if args.revision else ''} in "
          f"{time.perf_counter() - start:.1f} s -> {corpus.folder}: {len(corpus):,} documents, fingerprint "
          f"{corpus.meta.fingerprint[:19]}, verified; artifacts: {', '.join(artifacts)}")
    print(f"next: gaia-lite search {corpus.folder} \"your query\"")
    return 0


# --- main -------------------------------------------------------------------------------------------------

# --- analysis ---------------------------------------------------------------------------------------------

def _contamination_parser(sub) -> None:
    from .analysis.benchmark import TEXT_FIELDS
    from .config import ContaminationConfig

    d = ContaminationConfig()
    p = sub.add_parser("contamination", help="which items of a benchmark occur in a corpus (n-gram overlap), and where",
                       description="Flag each benchmark item one of whose n-grams (normalised words: case, "
                                   "punctuation, whitespace and Unicode forms ignored) occurs in a corpus document; "
                                   "an item shorter than n words must occur whole. Prints the rate and the flagged "
                                   "items with their longest shared span.")
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
    p.add_argument("--ngram", type=_positive_int, default=d.ngram, help=f"n-gram length in words (default: {d.ngram})")
    p.add_argument("--top-documents", type=_positive_int, default=d.top_documents,
                   help=f"documents kept per item, most overlap first (default: {d.top_documents})")
    p.add_argument("--show", type=_positive_int, default=20, help="flagged items printed (default: 20)")
    p.add_argument("--json", action="store_true", help="print the summary and every item as JSON")
    p.add_argument("--output", help="save the result set: a folder (Dataset + card), .parquet or .jsonl")
    p.add_argument("--push", metavar="OWNER/NAME", help="push the result set and its card to this Hub dataset repo")
    _add_build(p)
    _add_root(p)
    _add_progress(p)
    p.set_defaults(func=_cmd_contamination)


def _cmd_contamination(args) -> int:
    from .analysis import find_contamination, read_benchmark
    from .config import ContaminationConfig
    from .corpus import Source
    from .retriever import open_corpus

    config = ContaminationConfig(ngram=args.ngram, top_documents=args.top_documents)
    source = Source(args.benchmark, format=args.format, config=args.config, revision=args.revision)
    benchmark = read_benchmark(source, args.fields, id_field=args.id_field, split=args.split)
    corpus = open_corpus(args.corpus, root=args.root)
    if args.output:
        from .hub.results import check_output

        check_output(args.output)  # before the work, not after it
    report = find_contamination(corpus, benchmark, config, progress=args.progress, log=_to_stderr,
                                **build_config(args).options())
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
    else:
        _print_contamination(report, args.show)
    if args.output or args.push:
        from .artifacts import datasets_progress
        from .hub import export_analysis

        with datasets_progress(args.progress):
            ds, card = report.to_dataset(), report.card()
            for where in filter(None, [args.output and export_analysis(ds, card, out=args.output),
                                       args.push and export_analysis(ds, card, repo_id=args.push)]):
                print(f"saved the result set ({len(ds)} items) -> {where}", file=sys.stderr)
    return 0


def _print_contamination(report, show: int) -> None:
    s = report.summary()
    print(f"{s['flagged']:,} of {s['items']:,} items flagged ({100 * report.rate:.2f}%): {report.benchmark} "
          f"[{', '.join(report.fields)}] in {report.corpus!r} ({report.num_documents:,} documents, "
          f"{report.config.ngram}-grams, {report.seconds:.1f} s)")
    print("overlap (share of an item's n-grams in the corpus): "
          + ", ".join(f"{label}: {n:,}" for label, n in report.overlap_histogram()))
    flagged = sorted(report.flagged, key=lambda r: (-r.overlap, -r.longest.words, r.item_id))[:show]
    if flagged:
        from .report import markdown_table

        print(markdown_table([{"item": r.item_id, "overlap": f"{r.overlap:.2f}", "docs": r.documents,
                               "longest": r.longest.words,
                               "in": f"{r.longest.doc_id} [{r.longest.start}:{r.longest.end}]",
                               "span": _snippet(r.longest.span, 60)} for r in flagged]))
        if len(report.flagged) > show:
            print(f"... {len(report.flagged) - show:,} more flagged items (--show, --json or --output for all)")
    if report.most_matched:
        print("documents holding the most items: "
              + ", ".join(f"{doc_id} ({n:,})" for doc_id, n in report.most_matched[:5]))


def _duplicates_parser(sub) -> None:
    from .config import DuplicatesConfig

    d = DuplicatesConfig()
    p = sub.add_parser("duplicates", help="exact and near-duplicate documents of a corpus (MinHash LSH), stored as "
                                          "clusters beside it",
                       description="Group documents with the same normalised words (exact) and documents whose "
                                   "word-shingle sets are similar (MinHash LSH over Jaccard similarity). The "
                                   "clusters go to <corpus>/duplicates/, where the explorer reads them; the corpus "
                                   "itself is not changed.")
    p.add_argument("corpus", help="corpus name or folder")
    p.add_argument("--shingle", type=_positive_int, default=d.shingle, help=f"words per shingle (default: {d.shingle})")
    p.add_argument("--threshold", type=float, default=d.threshold,
                   help=f"Jaccard similarity of near duplicates, between 0 and 1 (default: {d.threshold})")
    p.add_argument("--num-perm", type=_positive_int, default=d.num_perm,
                   help=f"MinHash permutations (default: {d.num_perm})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"MinHash seed (default: {d.seed})")
    p.add_argument("--show", type=_positive_int, default=5, help="largest clusters printed (default: 5)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_build(p)
    _add_root(p)
    _add_progress(p)
    p.set_defaults(func=_cmd_duplicates)


def _cmd_duplicates(args) -> int:
    from .analysis import find_duplicates
    from .config import DuplicatesConfig
    from .retriever import open_corpus

    config = DuplicatesConfig(shingle=args.shingle, threshold=args.threshold, num_perm=args.num_perm, seed=args.seed)
    corpus = open_corpus(args.corpus, root=args.root)
    report = find_duplicates(corpus, config, progress=args.progress, log=_to_stderr, **build_config(args).options())
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
              + " | ".join(f"{e['doc_id']}: {_snippet(e['text'], 50)}" for e in cluster["examples"]))
    print(f"stored -> {corpus.folder / 'duplicates'} (the explorer hides near duplicates with it)")
    return 0


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
    "contamination": _contamination_parser,
    "duplicates": _duplicates_parser,
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(prog="gaia-lite", description="BM25 + dense hybrid retrieval over Hugging Face datasets.")
    parser.add_argument("--version", action="version", version=f"gaia-lite {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    for add in COMMANDS.values():
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``) and return the exit status.

    Usage errors exit through argparse (``SystemExit(2)``, one line); every other error a user can cause
    returns 2 after one line on stderr.
    """
    args = build_parser().parse_args(argv)
    try:
        with sigterm_raises():
            status = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return status
    except BrokenPipeError:
        _silence_stdout()
        return BROKEN_PIPE_STATUS
    except GaiaLiteError as e:
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return 2
    except OSError as e:  # the file system refused: a path that cannot be written, a full disk
        where = f": {e.filename}" if e.filename else ""
        print(f"error: {_one_line(e.strerror or e)}{where}; check the path, its permissions and the free space",
              file=sys.stderr)
        return 2
    except Terminated:
        print("terminated; nothing half-built was kept", file=sys.stderr)
        return TERMINATED_STATUS
    except KeyboardInterrupt:
        print("interrupted; nothing half-built was kept", file=sys.stderr)
        return 130


def _one_line(message) -> str:
    """``message`` as one line: text quoted from other libraries (HTTP errors, parsers) may span several."""
    return " ".join(line.strip() for line in str(message).splitlines() if line.strip())


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that nothing more is written to the closed pipe (not even at exit)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (captured in tests)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
