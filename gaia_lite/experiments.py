"""Reproducible experiments: a YAML config → build what is missing → retrieve → TREC run → metrics → OK/FAIL.

A config (see ``configs/*.yaml``) names a BEIR-format collection, the retriever and its parameters, and the
scores it is expected to reach; scores are compared at 4 decimals, as Anserini's regressions do.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .config import ExperimentConfig, RetrieverConfig
from .corpus import Corpus, Source, build_corpus
from .errors import ArtifactMismatchError, ConfigError, InputError, MissingArtifactError
from .evaluate import evaluate_run, load_qrels, load_queries, ranked, remove_query_ids, write_trec_run
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


def default_grid(method: str) -> list[dict]:
    """The fusion settings :func:`tune_fusion` tries by default for ``method``."""
    if method == "rrf":
        return [{"rrf_k": k} for k in (1, 5, 10, 20, 40, 60, 100)]
    if method == "weighted":
        return [{"bm25_weight": w / 10, "normalization": norm} for norm in ("minmax", "zscore") for w in range(11)]
    if method == "pyserini":
        return [{"alpha": a} for a in (0.01, 0.05, 0.1, 0.2, 0.5, 1.0)]
    raise ConfigError(f"no default grid for fusion method {method!r}")


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
    test). Both sides are searched once per query; only the fusion is redone per setting. Returns one record per
    setting, best first by the config's first metric."""
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
    vectors = searcher.dense.encoder.encode_queries(list(topics.values()))
    candidates = {
        qid: searcher.candidates(text, vector, base, fill=True)
        for (qid, text), vector in tqdm(list(zip(topics.items(), vectors)), desc=f"Searching {split} queries",
                                        disable=not progress)
    }
    rows = []
    for params in grid or default_grid(base.method):
        f = replace(base, **params)
        run = {qid: {h.doc_id: h.score for h in searcher.fuse(topics[qid], candidates[qid], config.k, f)}
               for qid in topics}
        if config.remove_query:
            run = remove_query_ids(run)
        metrics = evaluate_run(run, qrels, config.metrics)
        rows.append({"method": f.method, **params, **{m: round(v, 4) for m, v in metrics.items()}})
    first = config.metrics[0]
    return sorted(rows, key=lambda row: -row[first])  # stable: equal scores keep the grid's order


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
