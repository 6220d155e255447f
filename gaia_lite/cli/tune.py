"""``gaia-lite tune``: the fusion settings of a hybrid config tried on a training split, best first."""

from __future__ import annotations

from dataclasses import replace

from .common import add_command, add_common, add_retriever, retriever_config


def add_parser(sub) -> None:
    """The ``tune`` subcommand's parser."""
    p = add_command(sub, "tune", run)
    p.add_argument("collection", help="BEIR-format folder")
    p.add_argument("--config", required=True, help="a hybrid experiment config")
    p.add_argument("--split", default="train", help="qrels split to tune on (default: train)")
    p.add_argument("--table", help="also write the table to TABLE.md and TABLE.json (with --grid study, also "
                                   "TABLE-families: the settings grouped across BM25 weights)")
    p.add_argument("--grid", choices=["default", "study"], default="default",
                   help="default: the config's fusion method's parameters; study: RRF and weighted fusion across "
                        "normalizations, rules for one-sided documents, weights and depths (the defaults study)")
    add_retriever(p, kind=False)
    add_common(p)


def run(args) -> int:
    """Try fusion settings of a hybrid config on a training split.

    Search the split's queries once with both sides, then evaluate each fusion setting of a grid (BM25 weight
    and normalization, or RRF's k). Tune on train, report on test.
    """
    from ..config import ExperimentConfig
    from ..experiments import GRIDS, fusion_families, tune_fusion
    from ..report import markdown_table, write_table

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
