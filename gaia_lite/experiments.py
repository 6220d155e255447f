"""Reproducible experiments: a YAML config → build what is missing → retrieve → TREC run → metrics → OK/FAIL.

A config (see ``configs/*.yaml``) names a BEIR-format collection, the retriever and its parameters, and the
scores it is expected to reach; scores are compared at 4 decimals, as Anserini's regressions do.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .config import ExperimentConfig, FusionConfig, RetrieverConfig
from .registry import FUSION_METHODS
from .corpus import Corpus, Source, build_corpus
from .errors import ArtifactMismatchError, ConfigError, InputError, MissingArtifactError
from .evaluate import (
    evaluate_run,
    load_qrels,
    load_queries,
    ranked,
    remove_query_ids,
    write_trec_run,
)
from .hybrid import Candidates
from .passages import aggregate_run
from .report import write_table
from .retriever import open_corpus, open_searcher


@dataclass
class ExperimentResult:
    """Metrics of a run, the checks against expected scores, and where the run file went."""

    config: ExperimentConfig
    metrics: dict[str, float]
    checks: dict[str, bool]
    run_path: Path
    num_queries: int

    @property
    def ok(self) -> bool:
        """True when every expected score was met."""
        return all(self.checks.values())

    def table(self) -> str:
        """A plain-text report: one line per metric with OK/FAIL where a score was expected."""
        lines = [f"{self.config.name}: {self.num_queries} queries, run {self.run_path}"]
        for name, value in self.metrics.items():
            line = f"  {name:<10} {value:.4f}"
            if name in self.config.expected:
                line += f"  expected {self.config.expected[name]:.4f}  {'OK' if self.checks[name] else 'FAIL'}"
            lines.append(line)
        return "\n".join(lines)


def _collection_files(folder: Path, split: str) -> tuple[Path, Path]:
    queries = folder / "queries.jsonl"
    qrels = folder / "qrels" / f"{split}.tsv"
    missing = [str(p) for p in (folder / "corpus.jsonl", queries, qrels) if not p.is_file()]
    if missing:
        raise InputError(f"{folder} is not a BEIR-format collection for split {split!r}: missing {', '.join(missing)}")
    return queries, qrels


def ensure_corpus(collection: Path, name: str, root=None, progress: bool = True, log: Callable[[str], None] = print
                  ) -> Corpus:
    """The corpus built from ``collection`` under ``name``, building it where it is missing.

    A ``hf://owner/repo[@revision]`` name is a corpus pushed to the Hub: it is pulled (verified) and used as is;
    only the collection's queries and qrels are read.
    """
    from .hub.specs import is_hub_spec

    if is_hub_spec(name):
        return open_corpus(name, root=root, verify=True)
    source = Source(str(collection.resolve()), format="beir")
    try:
        corpus = Corpus.load(name, root=root)
    except MissingArtifactError:
        corpus, report = build_corpus(source, name, root=root, progress=progress)
        log(f"built corpus {name}: {report.rows} documents in {corpus.folder / 'dataset'}")
        return corpus
    if corpus.meta.source != source.describe():
        raise ArtifactMismatchError(
            f"corpus {name!r} at {corpus.folder} was built from {corpus.meta.source}, not {source.describe()}: "
            "pass another corpus name, or remove that folder to rebuild it"
        )
    return corpus


def run_experiment(
    config: ExperimentConfig,
    collection: str | os.PathLike | None = None,
    *,
    root: str | os.PathLike | None = None,
    runs_dir: str | os.PathLike = "runs",
    threads: int = 1,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> ExperimentResult:
    """Run ``config`` end to end on a BEIR-format ``collection`` (default: the config's), building what is missing.

    ``log`` receives one line for each artifact built.
    """
    if collection is None and config.collection is None:
        raise ConfigError(f"{config.name}: no collection given; pass a BEIR folder")
    folder = Path(collection if collection is not None else config.collection)
    queries_path, qrels_path = _collection_files(folder, config.split)
    name = config.corpus or Path(folder.resolve()).name
    corpus = ensure_corpus(folder, name, root, progress, log)
    qrels = load_qrels(qrels_path)
    queries = load_queries(queries_path)
    missing = sorted(set(qrels) - set(queries))
    if missing:
        raise InputError(f"{qrels_path}: {len(missing)} judged queries are not in {queries_path}, e.g. {missing[:5]}")
    depth = config.k
    if config.passages is not None:
        corpus = ensure_passages(corpus, config.passages, progress, log)
        depth = config.passages.get("depth", 3 * config.k)
    searcher = open_searcher(corpus, config.retriever, build=True, progress=progress, log=log)
    topics = {qid: queries[qid] for qid in qrels}
    if config.retriever.kind == "bm25":
        run = searcher.search_batch(topics, k=depth, threads=threads)
    else:  # dense queries are encoded as one batch; hybrid fuses with the config's fusion
        run = searcher.search_batch(topics, k=depth)
    if config.passages is not None:
        run = {qid: dict(ranked(hits)[:config.k]) for qid, hits in aggregate_run(run).items()}
    if config.remove_query:
        run = remove_query_ids(run)
    run_path = write_trec_run(run, Path(runs_dir) / f"{config.name}.trec", tag=config.name)
    metrics = evaluate_run(run, qrels, config.metrics)
    checks = {
        m: abs(round(metrics[m], 4) - expected) <= config.tolerance + 1e-9
        for m, expected in config.expected.items()
        if m in metrics
    }
    unknown = sorted(set(config.expected) - set(metrics))
    if unknown:
        raise ConfigError(f"{config.name}: expected scores for {unknown}, which are not among metrics {list(metrics)}")
    return ExperimentResult(replace(config, retriever=searcher.config), metrics, checks, run_path, len(qrels))


def ensure_passages(corpus: Corpus, passages: dict, progress: bool = True, log: Callable[[str], None] = print
                    ) -> Corpus:
    """The passage corpus of ``corpus`` for ``{window, stride}``, building it where it is missing."""
    from .passages import build_passage_corpus, passages_name

    window, stride = passages.get("window", 256), passages.get("stride", 240)
    try:
        return Corpus.load(corpus.folder / passages_name(window, stride), verify=False)
    except MissingArtifactError:
        built, report = build_passage_corpus(corpus, window, stride, progress=progress)
        log(f"built passage corpus: {report.rows} passages of {len(corpus)} documents in {built.folder}")
        return built


def results_table(results: list[ExperimentResult]) -> list[dict]:
    """One record per experiment: metrics, expected scores and OK/FAIL, and where the run went."""
    rows = []
    for result in results:
        row = {"experiment": result.config.name, "retriever": result.config.retriever.kind,
               "queries": result.num_queries}
        for metric, value in result.metrics.items():
            row[metric] = round(value, 4)
            if metric in result.config.expected:
                row[f"{metric} expected"] = result.config.expected[metric]
        row["check"] = "-" if not result.checks else ("OK" if result.ok else "FAIL")
        row["run"] = str(result.run_path)
        rows.append(row)
    return rows


def write_results_table(results: list[ExperimentResult], path: str | os.PathLike) -> tuple[Path, Path]:
    """Write the results table as ``<path>.md`` and ``<path>.json``."""
    return write_table(results_table(results), path)


#: The rules for a document one side did not retrieve, as fusion settings: its real score on that side, 0 from
#: that side (after normalization), or the side's lowest normalized score.
MISSING_SETTINGS = {"real": {"fill_missing": True}, "zero": {"fill_missing": False, "missing": "zero"},
                    "min": {"fill_missing": False, "missing": "min"}}


def study_grid() -> list[dict]:
    """The grid of the fusion-defaults study: RRF (k 60, and 20) and weighted fusion (min-max and z-score, each
    rule for one-sided documents) at BM25 weights 0.3 to 0.7 and 100 or 1000 documents per side."""
    weights = (0.3, 0.4, 0.5, 0.6, 0.7)
    grid = [{"method": "rrf", "rrf_k": k, "depth": d, "bm25_weight": w}
            for k in (60, 20) for d in (100, 1000) for w in weights]
    grid += [{"method": "weighted", "normalization": n, "missing_rule": rule, "depth": d, "bm25_weight": w}
             for n in ("zscore", "minmax") for rule in MISSING_SETTINGS for d in (100, 1000) for w in weights]
    return grid


GRIDS = {"default": None, "study": study_grid}


def default_grid(method: str) -> list[dict]:
    """The fusion settings :func:`tune_fusion` tries by default for ``method``: its registry entry's grid."""
    return [dict(params) for params in FUSION_METHODS[method].grid]


def tune_fusion(
    config: ExperimentConfig,
    collection: str | os.PathLike | None = None,
    *,
    split: str = "train",
    grid: list[dict] | None = None,
    root: str | os.PathLike | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
):
    """Evaluate a hybrid config's fusion under each setting of ``grid`` on ``split`` (tune on train, report on
    test). Both sides are searched once per query, as deep as the deepest setting asks, with every one-sided
    document's real score on the other side; a setting's lists are cut from those (the same as searching at its
    depth), and only the fusion is redone per setting. A setting's ``missing_rule`` is a key of
    :data:`MISSING_SETTINGS`. Returns one record per setting, best first by the config's first metric."""
    from tqdm.auto import tqdm

    if config.retriever.kind != "hybrid":
        raise ConfigError(f"{config.name}: tuning needs a hybrid retriever, not {config.retriever.kind!r}")
    folder = Path(collection if collection is not None else config.collection)
    queries_path, qrels_path = _collection_files(folder, split)
    corpus = ensure_corpus(folder, config.corpus or Path(folder.resolve()).name, root, progress, log)
    searcher = open_searcher(corpus, config.retriever, build=True, progress=progress, log=log)
    qrels, queries = load_qrels(qrels_path), load_queries(queries_path)
    topics = {qid: queries[qid] for qid in qrels}
    base = config.retriever.fusion
    grid = grid or default_grid(base.method)
    settings = [replace(base, **{k: v for k, v in params.items() if k != "missing_rule"},
                        **MISSING_SETTINGS.get(params.get("missing_rule"), {})) for params in grid]
    deepest = max(max(f.side_depth("bm25"), f.side_depth("dense")) for f in settings)
    vectors = searcher.dense.encoder.encode_queries(list(topics.values()))
    candidates = {
        qid: searcher.candidates(text, vector, replace(base, depth=deepest, bm25_depth=None, dense_depth=None),
                                 fill=True)
        for (qid, text), vector in tqdm(list(zip(topics.items(), vectors)), desc=f"Searching {split} queries",
                                        disable=not progress)
    }
    rows = []
    for params, f in zip(grid, settings):
        run = {qid: {h.doc_id: h.score for h in searcher.fuse(topics[qid], _cut(candidates[qid], f), config.k, f)}
               for qid in topics}
        if config.remove_query:
            run = remove_query_ids(run)
        metrics = evaluate_run(run, qrels, config.metrics)
        rows.append({"method": f.method, **params, **{m: round(v, 4) for m, v in metrics.items()}})
    first = config.metrics[0]
    return sorted(rows, key=lambda row: -row[first])  # stable: equal scores keep the grid's order


def _cut(c: Candidates, f: FusionConfig) -> Candidates:
    """``c`` (both sides' lists and the real other-side scores of their one-sided documents) as a search at
    ``f``'s depths would have found it."""
    depth = {side: f.side_depth(side) for side in c.scores}
    if all(len(c.scores[side]) <= depth[side] for side in c.scores):
        return c
    ranks = {side: {d: r for d, r in c.ranks[side].items() if r <= depth[side]} for side in c.scores}
    scores = {side: {d: c.scores[side][d] for d in ranks[side]} for side in c.scores}
    filled = {}
    for side, other in (("bm25", "dense"), ("dense", "bm25")):
        real = {**c.filled[side], **c.scores[side]}
        filled[side] = {d: real[d] for d in scores[other] if d not in scores[side]}
    return Candidates(scores, ranks, filled)


def fusion_families(rows: list[dict], metrics: list[str]) -> list[dict]:
    """The study's rows grouped by everything but the BM25 weight: per family, the first of ``metrics`` at its
    worst, mean and best weight, the spread across weights, and the worst loss against the best setting of the
    whole grid (how much a user could lose by picking a weight without tuning). Most robust first: smallest
    worst loss."""
    metric = metrics[0]
    best = max(r[metric] for r in rows)
    families: dict[tuple, list[dict]] = {}
    for r in rows:
        families.setdefault(tuple((k, v) for k, v in r.items() if k != "bm25_weight" and k not in metrics),
                            []).append(r)
    out = []
    for key, members in families.items():
        values = [m[metric] for m in members]
        out.append({**dict(key), f"worst {metric}": min(values), f"mean {metric}": round(sum(values) / len(values), 4),
                    f"best {metric}": max(values), "spread": round(max(values) - min(values), 4),
                    "worst loss vs best": round(best - min(values), 4),
                    "best weight": max(members, key=lambda m: m[metric])["bm25_weight"]})
    return sorted(out, key=lambda r: (r["worst loss vs best"], -r[f"mean {metric}"]))


def default_config(collection: str | os.PathLike, retriever: RetrieverConfig | None = None, **settings
                   ) -> ExperimentConfig:
    """An experiment on ``collection`` with ``retriever`` (default BM25) and no expected scores, named after the
    collection and the retriever (``scifact-hybrid-weighted``) unless ``name`` is given."""
    retriever = retriever or RetrieverConfig()
    kind = retriever.kind + (f"-{retriever.fusion.method}" if retriever.kind == "hybrid" else "")
    name = settings.pop("name", None) or f"{Path(collection).resolve().name}-{kind}"
    return ExperimentConfig(name=name, retriever=retriever, **settings)


__all__ = ["ExperimentConfig", "ExperimentResult", "default_config", "results_table", "run_experiment",
           "tune_fusion", "write_results_table"]
