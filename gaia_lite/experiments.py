"""Reproducible experiments: a YAML config → build what is missing → retrieve → TREC run → metrics → OK/FAIL.

A config (see ``configs/*.yaml``) names a BEIR-format collection, the retriever and its parameters, and the
scores it is expected to reach; scores are compared at 4 decimals, as Anserini's regressions do.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .config import from_dict, indexes_root, load_yaml
from .corpus import Corpus, Source, build_corpus
from .errors import ArtifactMismatchError, ConfigError, InputError, MissingArtifactError
from .evaluate import DEFAULT_METRICS, evaluate_run, load_qrels, load_queries, remove_query_ids, write_trec_run


@dataclass(frozen=True)
class RetrieverConfig:
    """Which retriever and its parameters."""

    kind: str = "bm25"
    fields: str = "flat"
    k1: float = 0.9
    b: float = 0.4
    stemmer: str = "porter"
    keep_stopwords: bool = False
    language: str = "en"

    def __post_init__(self):
        if self.kind != "bm25":
            raise ValueError(f"retriever kind {self.kind!r} is not available; available: ['bm25']")


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: collection, retriever, evaluation settings, expected scores."""

    name: str
    collection: str | None = None  # a BEIR-format folder; the CLI's argument takes precedence
    corpus: str | None = None  # corpus name under the indexes root (default: the collection folder's name)
    split: str = "test"
    retriever: RetrieverConfig = field(default_factory=RetrieverConfig)
    k: int = 1000
    remove_query: bool = False
    metrics: tuple[str, ...] = DEFAULT_METRICS
    expected: dict[str, float] = field(default_factory=dict)
    tolerance: float = 0.0
    description: str = ""

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> ExperimentConfig:
        """Load a config file, rejecting unknown keys."""
        data = load_yaml(path)
        if isinstance(data, dict) and "metrics" in data:
            data = dict(data, metrics=tuple(data["metrics"]))
        return from_dict(cls, data, str(path))


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
    """The corpus built from ``collection`` under ``name``, building it where it is missing."""
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
    from .sparse import BM25Searcher, build_sparse_index, sparse_dir

    if collection is None and config.collection is None:
        raise ConfigError(f"{config.name}: no collection given; pass a BEIR folder")
    folder = Path(collection if collection is not None else config.collection)
    queries_path, qrels_path = _collection_files(folder, config.split)
    name = config.corpus or Path(folder.resolve()).name
    corpus = ensure_corpus(folder, name, root, progress, log)
    r = config.retriever
    analyzer = {"stemmer": r.stemmer, "keep_stopwords": r.keep_stopwords, "language": r.language}
    index = sparse_dir(corpus.folder, r.fields, **analyzer)
    if not index.is_dir():
        build_sparse_index(corpus, fields=r.fields, progress=progress, **analyzer)
        log(f"built sparse index: {index}")
    qrels = load_qrels(qrels_path)
    queries = load_queries(queries_path)
    missing = sorted(set(qrels) - set(queries))
    if missing:
        raise InputError(f"{qrels_path}: {len(missing)} judged queries are not in {queries_path}, e.g. {missing[:5]}")
    with BM25Searcher(index, corpus, k1=r.k1, b=r.b) as searcher:
        run = searcher.search_batch({qid: queries[qid] for qid in qrels}, k=config.k, threads=threads)
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
    return ExperimentResult(config, metrics, checks, run_path, len(qrels))


def default_config(collection: str | os.PathLike, **overrides) -> ExperimentConfig:
    """A BM25 experiment on ``collection`` with default settings and no expected scores."""
    name = overrides.pop("name", None) or f"{Path(collection).resolve().name}-bm25"
    return ExperimentConfig(name=name, **overrides)


__all__ = ["ExperimentConfig", "ExperimentResult", "RetrieverConfig", "default_config", "indexes_root", "run_experiment"]
