"""``gaia-lite eval``: a retriever on a BEIR-format folder, from flags or ``--config`` files (the flags override
them): builds what is missing, writes the TREC run, prints the metrics and OK/FAIL against expected scores."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import replace

from ..errors import ConfigError
from .common import add_command, add_common, add_retriever, positive_int, retriever_config, to_stderr


def add_parser(sub) -> None:
    """The ``eval`` subcommand's parser."""
    p = add_command(sub, "eval", run)
    p.add_argument("collection", nargs="?", help="BEIR-format folder (corpus.jsonl, queries.jsonl, qrels/)")
    p.add_argument("--config", action="append", default=[],
                   help="experiment config (configs/*.yaml) with parameters and expected scores; repeatable")
    p.add_argument("--dump-config", metavar="PATH",
                   help="after the run, write the config that reproduces it, with its scores as expected scores "
                        "(`gaia-lite eval FOLDER --config PATH` then checks them)")
    p.add_argument("--name", help="experiment name, for the run file and tables (default: <folder>-<retriever>)")
    add_retriever(p)
    p.add_argument("--table", help="also write a results table to TABLE.md and TABLE.json")
    p.add_argument("--split", help="qrels split (default: test)")
    p.add_argument("--corpus-name", help="corpus name under the indexes root (default: the folder's name)")
    p.add_argument("-k", type=positive_int, help="hits per query (default: 1000)")
    p.add_argument("--remove-query", action=argparse.BooleanOptionalAction, default=None,
                   help="drop hits whose doc id equals the query id (BEIR's rule; default: off unless the config says)")
    p.add_argument("--runs-dir", default="runs", help="where TREC run files go (default: runs/)")
    p.add_argument("--threads", type=positive_int, default=1, help="BM25 search threads (default: 1)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    add_common(p)


def experiments(args) -> list:
    """The experiments an ``eval`` command line describes: each ``--config``, or one from the flags, with the
    flags applied."""
    from ..config import ExperimentConfig
    from ..experiments import default_config

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


def run(args) -> int:
    """Evaluate a retriever on a BEIR-format folder (builds what is missing).

    Build the corpus and indexes where missing, search the split's queries, write a TREC run, and report metrics
    (trec_eval -c semantics). The retriever comes from the flags (as for search) or from --config files, flags
    overriding them. With expected scores (a config's), print OK or FAIL: exit status 1 on FAIL.
    """
    from ..experiments import run_experiment, write_results_table

    configs = experiments(args)
    if args.dump_config and len(configs) > 1:
        raise ConfigError("--dump-config writes one experiment's config: give at most one --config with it")
    # With --json, stdout carries only the JSON; what was built is said on stderr.
    log = to_stderr if args.json else print
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
