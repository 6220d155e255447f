"""Reproducible experiments: a YAML config → build what is missing → retrieve → TREC run → metrics → OK/FAIL.

A config (see ``configs/*.yaml``) names a BEIR-format collection, the retriever and its parameters, and the
scores it is expected to reach; scores are compared at 4 decimals, as Anserini's regressions do.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .config import from_dict, load_yaml
from .corpus import Corpus, Source, build_corpus
from .dense.encoder import DEFAULT_MODEL
from .errors import ArtifactMismatchError, ConfigError, InputError, MissingArtifactError
from .evaluate import (DEFAULT_METRICS, evaluate_run, load_qrels, load_queries, ranked, remove_query_ids,
                       write_trec_run)
from .hybrid import FusionConfig
from .passages import aggregate_run


RETRIEVERS = ("bm25", "dense", "hybrid")


@dataclass(frozen=True)
class RetrieverConfig:
    """Which retriever and its parameters: the BM25 side, the dense side, and for ``hybrid`` the fusion."""

    kind: str = "bm25"
    # BM25 side
    fields: str = "flat"
    k1: float = 0.9
    b: float = 0.4
    stemmer: str = "porter"
    keep_stopwords: bool = False
    language: str = "en"
    # dense side
    model: str = DEFAULT_MODEL
    query_prefix: str = ""
    document_prefix: str = ""
    index_type: str = "flat"
    dtype: str = "float32"
    # hybrid
    fusion: FusionConfig = field(default_factory=FusionConfig)

    def __post_init__(self):
        if self.kind not in RETRIEVERS:
            raise ValueError(f"retriever kind {self.kind!r} is not available; available: {list(RETRIEVERS)}")

    def analyzer(self) -> dict:
        """The BM25 analyzer settings."""
        return {"stemmer": self.stemmer, "keep_stopwords": self.keep_stopwords, "language": self.language}

    def encoder_config(self):
        """The dense encoder settings."""
        from .dense import EncoderConfig

        return EncoderConfig(model=self.model, query_prefix=self.query_prefix, document_prefix=self.document_prefix,
                             dtype=self.dtype)


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
    #: Search passages instead of whole documents: ``{window: 256, stride: 240, depth: 3000}`` (words; depth =
    #: passages retrieved per query, default 3 x k); documents are then scored by their best passage.
    passages: dict | None = None

    def __post_init__(self):
        if self.passages is not None:
            unknown = set(self.passages) - {"window", "stride", "depth"}
            if unknown:
                raise ValueError(f"passages: unknown key(s) {sorted(unknown)}; valid: depth, stride, window")

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
    """The corpus built from ``collection`` under ``name``, building it where it is missing.

    A ``hf://owner/repo[@revision]`` name is a corpus pushed to the Hub: it is pulled (verified) and used as is;
    only the collection's queries and qrels are read.
    """
    if name.startswith("hf://"):
        return Corpus.load(name, root=root)
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
    searcher = open_searcher(corpus, config.retriever, progress=progress, log=log)
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
    return ExperimentResult(config, metrics, checks, run_path, len(qrels))


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


def open_searcher(corpus: Corpus, r: RetrieverConfig, *, progress: bool = True, log: Callable[[str], None] = print):
    """The searcher a retriever config describes, building its missing indexes first."""
    from .dense import DenseSearcher, Encoder, build_dense_index, dense_dir
    from .hybrid import HybridSearcher
    from .sparse import BM25Searcher, build_sparse_index, sparse_dir

    bm25 = dense = None
    if r.kind in ("bm25", "hybrid"):
        index = sparse_dir(corpus.folder, r.fields, **r.analyzer())
        if not index.is_dir():
            build_sparse_index(corpus, fields=r.fields, progress=progress, **r.analyzer())
            log(f"built sparse index: {index}")
        bm25 = BM25Searcher(index, corpus, k1=r.k1, b=r.b)
    if r.kind in ("dense", "hybrid"):
        encoder = Encoder(r.encoder_config())
        index = dense_dir(corpus.folder, r.model, r.index_type)
        if not index.is_dir():
            build_dense_index(corpus, encoder, index_type=r.index_type, progress=progress)
            log(f"built dense index: {index}")
        dense = DenseSearcher(index, corpus, encoder=encoder)
    if r.kind == "hybrid":
        return HybridSearcher(bm25, dense, r.fusion)
    return bm25 or dense


def results_table(results: list[ExperimentResult]):
    """A pandas DataFrame, one row per experiment: metrics, expected scores and OK/FAIL."""
    import pandas as pd

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
    return pd.DataFrame(rows)


def write_results_table(results: list[ExperimentResult], path: str | os.PathLike) -> tuple[Path, Path]:
    """Write the results table as ``<path>.md`` and ``<path>.json``."""
    table = results_table(results)
    base = Path(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    md, js = base.with_name(base.name + ".md"), base.with_name(base.name + ".json")
    md.write_text(table.to_markdown(index=False) + "\n")
    table.to_json(js, orient="records", indent=1)
    return md, js


def default_grid(method: str) -> list[dict]:
    """The fusion settings :func:`tune_fusion` tries by default for ``method``."""
    if method == "rrf":
        return [{"rrf_k": k} for k in (1, 5, 10, 20, 40, 60, 100)]
    if method == "weighted":
        return [{"weights": {"bm25": w / 10, "dense": 1 - w / 10}, "normalization": norm}
                for norm in ("minmax", "zscore") for w in range(11)]
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
    test). Both sides are searched once per query; only the fusion is redone per setting. Returns a pandas
    DataFrame, best first by the config's first metric."""
    import dataclasses

    import pandas as pd
    from tqdm.auto import tqdm

    if config.retriever.kind != "hybrid":
        raise ConfigError(f"{config.name}: tuning needs a hybrid retriever, not {config.retriever.kind!r}")
    folder = Path(collection if collection is not None else config.collection)
    queries_path, qrels_path = _collection_files(folder, split)
    corpus = ensure_corpus(folder, config.corpus or Path(folder.resolve()).name, root, progress, log)
    searcher = open_searcher(corpus, config.retriever, progress=progress, log=log)
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
        f = dataclasses.replace(base, **params)
        run = {qid: {h.doc_id: h.score for h in searcher.fuse(topics[qid], candidates[qid], config.k, f)}
               for qid in topics}
        if config.remove_query:
            run = remove_query_ids(run)
        metrics = evaluate_run(run, qrels, config.metrics)
        rows.append({"method": f.method, **{k: (v["bm25"] if k == "weights" else v) for k, v in params.items()},
                     **{m: round(v, 4) for m, v in metrics.items()}})
    table = pd.DataFrame(rows).rename(columns={"weights": "bm25 weight"})
    return table.sort_values(config.metrics[0], ascending=False, kind="stable").reset_index(drop=True)


def default_config(collection: str | os.PathLike, **overrides) -> ExperimentConfig:
    """A BM25 experiment on ``collection`` with default settings and no expected scores."""
    name = overrides.pop("name", None) or f"{Path(collection).resolve().name}-bm25"
    return ExperimentConfig(name=name, **overrides)


__all__ = ["ExperimentConfig", "ExperimentResult", "RetrieverConfig", "default_config", "open_searcher", "results_table",
           "run_experiment", "tune_fusion", "write_results_table"]
