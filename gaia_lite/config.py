"""The one place for configuration: where artifacts live, JVM options, and every setting as a frozen dataclass.

The vocabulary, from the index up:

- :class:`SparseConfig`: the BM25 side (Lucene fields, analyzer, k1 and b);
- :class:`EncoderConfig`: how text becomes vectors; :class:`DenseConfig` adds the FAISS index settings;
- :class:`FusionConfig`: how the two sides' lists are fused;
- :class:`RetrieverConfig`: which retriever (``bm25``, ``dense``, ``hybrid``) with the three above;
- :class:`ExperimentConfig`: a retriever on a BEIR collection, with metrics and expected scores.

Each default is written once, here, and each rule about settings is checked here (in ``__post_init__``), so YAML,
the Python API, the CLI and the explorer accept and refuse the same things. The CLI derives one flag from each
field (``--fields``, ``--model``, ``--bm25-weight``...) with the help text in the field's metadata
(:func:`setting`); a field without a flag says why there. The YAML keys (``retriever: {sparse: {fields}, dense:
{model}, fusion: {method, bm25_weight}}``), the explorer's controls and the Python API name these fields and mean
the same thing. The names a field may take (fusion methods, normalizations, retrievers, index types) come from
:mod:`gaia_lite.registry`. YAML is read with :func:`from_dict`, which rejects unknown keys; :func:`to_dict` writes
a config back.

Environment variables are read when a function is called, never at import time.
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError
from .registry import FUSION_METHODS, INDEX_TYPES, MISSING_RULES, NORMALIZATIONS, RETRIEVERS

#: Environment variable naming the folder that holds built corpora (default: ``./indexes``).
HOME_ENV = "GAIA_LITE_HOME"
#: Extra JVM options, split on whitespace, added to the ones gaia_lite needs.
JAVA_OPTS_ENV = "GAIA_LITE_JAVA_OPTS"

SPARSE_FIELDS = ("flat", "multifield")
STEMMERS = ("porter", "krovetz", "none")
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
POOLINGS = ("mean", "cls", "max")
DTYPES = ("auto", "float32", "bfloat16")
# torch.compile (frozen) costs 20-50 s a process on this project's 2-core machine, then encodes SciFact abstracts
# about 1.13x and docstrings about 1.2x as fast as uncompiled bf16 (BENCHMARKS.md): it pays on large builds only.
COMPILE_MIN_DOCS = 20_000
#: Hits a search returns unless told otherwise (CLI ``-k``, the explorer's page size, ``search(query, k)``).
DEFAULT_K = 10


# --- where things live ------------------------------------------------------------------------------------

def indexes_root(root: str | os.PathLike | None = None) -> Path:
    """The folder that holds one sub-folder per corpus: ``root``, else ``$GAIA_LITE_HOME``, else ``./indexes``."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get(HOME_ENV) or "indexes")


def corpus_dir(name_or_path: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """Resolve a corpus given by name (``scifact`` → ``<root>/scifact``) or by path (``indexes/scifact``, ``./x``).

    A bare name always means a folder under the indexes root, even where the current folder holds a folder
    of that name (a BEIR download called ``scifact``, say). A URL (``hf://owner/repo``) is not a local corpus:
    :func:`gaia_lite.retriever.open_corpus` opens those.
    """
    text = str(name_or_path)
    if "://" in text:
        raise ConfigError(f"{text!r} is not a local corpus name or folder: open it with "
                          "gaia_lite.open_corpus() (the CLI and the app do so for hf://owner/repo)")
    if os.sep in text or (os.altsep and os.altsep in text) or text.startswith(".") or Path(text).is_absolute():
        return Path(text)
    return indexes_root(root) / text


def java_options() -> list[str]:
    """Extra JVM options from ``$GAIA_LITE_JAVA_OPTS``."""
    return os.environ.get(JAVA_OPTS_ENV, "").split()


# --- the settings -----------------------------------------------------------------------------------------

def setting(default: Any = dataclasses.MISSING, help: str = "", *, factory: Any = dataclasses.MISSING,
            flag: str | None = None, choices=None, when: str | None = None, no_flag: str | None = None,
            metavar: str | None = None):
    """A settings field with what the CLI needs to offer it: ``help`` (the CLI adds the default where it is not
    None), ``flag`` where it is not ``--<field-name>``, ``choices`` (a tuple or a :mod:`~gaia_lite.registry`
    registry), ``when`` (``build`` or ``search``: the commands it applies to; None: both) and ``no_flag``, the
    reason a field has no flag."""
    meta = {"help": help, "flag": flag, "choices": choices, "when": when, "no_flag": no_flag, "metavar": metavar}
    return field(default=default, default_factory=factory, metadata=meta)


def _choice(name: str, value, valid) -> None:
    if value not in valid:
        raise ConfigError(f"unknown {name} {value!r}; valid: {', '.join(map(str, valid))}")


def _at_least(name: str, value, low) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
        bound = "positive" if low == 1 else f">= {low}"
        raise ConfigError(f"{name} must be {bound} (a whole number), got {value!r}")


def check_k(k) -> int:
    """``k`` as every search takes it: a whole number >= 1 (raises :class:`ConfigError` otherwise)."""
    _at_least("k", k, 1)
    return k


@dataclass(frozen=True)
class SparseConfig:
    """The BM25 side. ``fields``: ``flat`` (title + text in one field, as Anserini's BEIR flat regressions) or
    ``multifield`` (title and text as fields of weight 1). The analyzer (``language``, ``stemmer``,
    ``keep_stopwords``) defaults to Anserini's default English one and is fixed when the index is built; ``k1``
    and ``b`` are BM25's parameters at search time (Anserini's defaults)."""

    fields: str = setting("flat", "flat: title + text in one field; multifield: title and text as fields",
                          choices=SPARSE_FIELDS)
    stemmer: str = setting("porter", "the analyzer's stemmer", choices=STEMMERS)
    keep_stopwords: bool = setting(False, "index stopwords (default: drop Lucene's English stopwords)")
    language: str = setting("en", "Lucene analyzer language (Anserini's default: en)")
    k1: float = setting(0.9, "BM25 k1", when="search")
    b: float = setting(0.4, "BM25 b", when="search")

    def __post_init__(self):
        _choice("fields", self.fields, SPARSE_FIELDS)
        _choice("stemmer", self.stemmer, STEMMERS)
        if not isinstance(self.language, str) or not self.language.isalpha():
            raise ConfigError(f"language must be a language code such as 'en', got {self.language!r}")
        if not self.k1 >= 0:
            raise ConfigError(f"k1 must be >= 0, got {self.k1}")
        if not 0 <= self.b <= 1:
            raise ConfigError(f"b must be between 0 and 1, got {self.b}")

    def analyzer(self) -> dict:
        """The analyzer settings, as stored with an index and reapplied to queries."""
        return {"language": self.language, "stemmer": self.stemmer, "keep_stopwords": self.keep_stopwords}

    def index_name(self) -> str:
        """The index folder's name: ``sparse-<fields>``, plus each non-default analyzer setting
        (``sparse-flat-krovetz-stopwords``), so that indexes with different analyzers sit side by side."""
        name = f"sparse-{self.fields}"
        if self.language != "en":
            name += f"-{self.language}"
        if self.stemmer != "porter":
            name += f"-{self.stemmer}"
        if self.keep_stopwords:
            name += "-stopwords"
        return name


@dataclass(frozen=True)
class EncoderConfig:
    """How text becomes vectors: model, pooling, normalisation, prefixes, length, batching, device, precision.

    ``model``: a Hugging Face model id or local folder; None means all-MiniLM-L6-v2 when building and, when
    searching, the model of the dense index that is built (see :func:`gaia_lite.retriever.find_dense_index`).
    ``pooling``, ``normalize`` and ``max_length`` left as None are read from the model's sentence-transformers
    files. ``query_prefix``/``document_prefix`` (e5/bge-style models) and ``dtype`` left as None are, when
    building, empty and ``auto``, and when searching, the index's own. ``dtype="auto"`` uses bfloat16 where the
    hardware computes it natively (a CUDA GPU, or a CPU with AVX512-BF16 or AMX) and float32 elsewhere.
    ``compile``: encode documents through ``torch.compile`` (TorchInductor fuses the element-wise work between the
    matrix products); None compiles on a CPU when a call, or a build as a whole, encodes at least
    ``COMPILE_MIN_DOCS`` documents. Queries never compile. Where compiling fails (no C++ compiler), encoding goes
    on without it, with a warning.
    """

    model: str | None = setting(None, "HF model id or local folder (default: all-MiniLM-L6-v2 to build; to search, "
                                      "the model of the dense index built)")
    pooling: str | None = setting(None, "token pooling (default: the model's sentence-transformers setting)",
                                  choices=POOLINGS)
    normalize: bool | None = setting(None, "L2-normalise vectors (default: the model's sentence-transformers "
                                           "setting)")
    max_length: int | None = setting(None, "tokens per text (default: the model's)")
    query_prefix: str | None = setting(None, "text put before each query, for e5/bge-style models (default: none "
                                             "to build; to search, the index's)")
    document_prefix: str | None = setting(None, "text put before each document (default: none to build; to "
                                                "search, the index's)")
    batch_size: int = setting(64, "texts per forward pass")
    device: str | None = setting(None, "cpu, cuda, cuda:1... (default: a GPU where there is one)")
    dtype: str | None = setting(None, "auto: bfloat16 where the CPU/GPU computes it natively, else float32 "
                                      "(default: auto to build; to search, the index's)", choices=DTYPES)
    compile: bool | None = setting(None, "encode documents through torch.compile: faster on a CPU after 20-50 s "
                                         f"of compiling (default: on a CPU for {COMPILE_MIN_DOCS:,} documents or "
                                         "more)", when="build")

    def __post_init__(self):
        if self.pooling is not None:
            _choice("pooling", self.pooling, POOLINGS)
        if self.dtype is not None:
            _choice("dtype", self.dtype, DTYPES)
        _at_least("batch_size", self.batch_size, 1)
        _at_least("max_length", self.max_length, 1)


@dataclass(frozen=True)
class DenseConfig(EncoderConfig):
    """The dense side: an :class:`EncoderConfig` and the FAISS index over its vectors.

    ``index_type``: ``flat`` (exact inner product), or approximate: ``hnsw`` (a graph), ``ivf`` (inverted lists
    of full vectors) or ``ivfpq`` (inverted lists of product-quantized codes, ``pq_m`` bytes a vector: for
    millions of vectors in little memory; its hits are re-scored exactly from the stored vectors). None means
    flat when building and, when searching, whichever is built (flat where several are).
    ``hnsw_m`` and ``hnsw_ef_construction`` shape an HNSW graph when it is built, ``ef_search`` its search;
    ``ivf_lists`` is the number of IVF lists (None: 4·√documents), ``ivf_probe`` how many a search visits:
    64, because 32 missed recall@10 0.95 in ``make bench-scale`` (0.911 on 136k real vectors, 0.940 on 1M;
    64 gave 0.943 and 0.960 at 20x and 53x flat's speed). HNSW reached 0.99 at either size.
    """

    index_type: str | None = setting(None, "flat: exact inner product; approximate, for large corpora: hnsw, ivf, "
                                           "ivfpq (default: flat to build; to search, the one built)",
                                     choices=INDEX_TYPES)
    hnsw_m: int = setting(32, "HNSW links per node", when="build")
    hnsw_ef_construction: int = setting(200, "HNSW build-time beam", when="build")
    ef_search: int = setting(128, "HNSW search-time beam", when="search")
    ivf_lists: int | None = setting(None, "IVF lists (default: 4 x the square root of the documents)", when="build")
    ivf_probe: int = setting(64, "IVF lists a search visits", when="search")
    pq_m: int = setting(48, "ivfpq: bytes a vector, dividing the model's dimensions", when="build")

    def __post_init__(self):
        super().__post_init__()
        if self.index_type is not None:
            INDEX_TYPES.check(self.index_type)
        for name in ("hnsw_m", "hnsw_ef_construction", "ef_search", "ivf_lists", "ivf_probe", "pq_m"):
            _at_least(name, getattr(self, name), 1)

    def encoder_config(self) -> EncoderConfig:
        """The encoder part of these settings."""
        return EncoderConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(EncoderConfig)})


@dataclass(frozen=True)
class FusionConfig:
    """How to fuse the two sides' lists, chosen per query.

    ``method``: ``rrf`` (reciprocal rank fusion, Cormack et al. 2009; ``rrf_k``), ``weighted`` (weighted sum of
    normalised scores; ``normalization``) or ``pyserini`` (Pyserini's HybridSearcher: ``alpha``·BM25 + dense,
    or BM25 + ``alpha``·dense with ``weight_on_dense``; ``pyserini_normalization``).

    ``bm25_weight`` w is BM25's share and the dense side gets the rest: weights w and 1 - w for ``weighted``,
    2w and 2(1 - w) for ``rrf``, so that 0.5 (the default, equal weights: a choice of principle rather than of
    tuning) is RRF's standard 1 and 1. ``pyserini`` weighs with ``alpha`` instead.

    ``depth`` is how many documents each side retrieves (``bm25_depth``/``dense_depth`` override it per side).
    ``fill_missing`` (``weighted`` and ``pyserini``; ``rrf`` never fills) gives a document that one side did not
    retrieve its real score on that side; where ``weighted`` does not fill, ``missing`` says what such a
    document gets from that side: ``zero`` (after normalization: CombSUM, ranx's ``wsum``) or ``min`` (the
    side's lowest normalized score).

    The defaults: weighted fusion of z-scores with equal weights over 1000 documents per side, a one-sided
    document getting 0 (the side's mean) from the other side. Chosen on SciFact's train split for robustness,
    not for the best figure: of the 16 families of settings studied (``make study-fusion``), z-score weighted
    fusion at depth 1000 loses at most 0.012 nDCG@10 to the best setting at any BM25 weight from 0.3 to 0.7
    (0.016 filling in real scores), RRF up to 0.047; equal weights need no tuning, and the zero rule needs no
    extra scoring. README, "Default
    fusion", gives the figures.
    """

    method: str = setting("weighted", "how the two lists are fused", flag="--fusion", choices=FUSION_METHODS)
    bm25_weight: float = setting(0.5, "BM25's share w in [0, 1], dense gets the rest: weights w and 1-w (weighted), "
                                      "2w and 2(1-w) (rrf, so 0.5 is RRF's usual 1 and 1)")
    normalization: str = setting("zscore", "weighted fusion's score normalization", choices=NORMALIZATIONS)
    depth: int = setting(1000, "documents retrieved per side")
    bm25_depth: int | None = setting(None, "documents BM25 retrieves (default: --depth)")
    dense_depth: int | None = setting(None, "documents the dense side retrieves (default: --depth)")
    rrf_k: int = setting(60, "RRF's k")
    alpha: float = setting(0.1, "pyserini fusion: alpha x BM25 + dense")
    weight_on_dense: bool = setting(False, "pyserini fusion: BM25 + alpha x dense instead")
    pyserini_normalization: bool = setting(False, "pyserini fusion: normalize each side as HybridSearcher does")
    fill_missing: bool = setting(False, "give a document one side did not retrieve its real score on that side "
                                        "(weighted and pyserini; rrf never fills)")
    missing: str = setting("zero", "weighted fusion without filling: what a one-sided document gets from the "
                                   "other side", choices=MISSING_RULES)

    def __post_init__(self):
        method = FUSION_METHODS[self.method]
        MISSING_RULES.check(self.missing)
        NORMALIZATIONS.check(self.normalization)
        for name, reason in method.refuses.items():
            if getattr(self, name) != getattr(FusionConfig, name):
                raise ConfigError(f"{name} does not apply to {self.method} fusion, {reason}")
        if isinstance(self.bm25_weight, bool) or not isinstance(self.bm25_weight, (int, float)) \
                or math.isnan(self.bm25_weight) or not 0 <= self.bm25_weight <= 1:
            raise ConfigError(f"bm25_weight must be between 0 and 1, got {self.bm25_weight!r}")
        for name in ("depth", "bm25_depth", "dense_depth"):
            _at_least(name, getattr(self, name), 1)
        _at_least("rrf_k", self.rrf_k, 0)
        if not self.alpha >= 0:
            raise ConfigError(f"alpha must be >= 0, got {self.alpha}")

    def side_depth(self, side: str) -> int:
        """How many documents ``side`` retrieves."""
        return getattr(self, f"{side}_depth") or self.depth

    @property
    def fills(self) -> bool:
        """Whether one-sided documents get their real score on the other side."""
        return "fill_missing" in FUSION_METHODS[self.method].settings and bool(self.fill_missing)

    def side_weights(self) -> dict[str, float]:
        """The factor each side's normalised value (or reciprocal rank) is multiplied by."""
        return FUSION_METHODS[self.method].weights(self)

    def params(self) -> dict:
        """Keyword arguments for :func:`gaia_lite.fusion.contributions`."""
        return FUSION_METHODS[self.method].params(self)


@dataclass(frozen=True)
class RetrieverConfig:
    """Which retriever, with the settings of each side it uses: ``kind`` is ``bm25`` (uses ``sparse``),
    ``dense`` (uses ``dense``) or ``hybrid`` (all three). :func:`gaia_lite.retriever.open_searcher` opens it."""

    kind: str = setting("bm25", "which retriever", flag="--retriever", choices=RETRIEVERS)
    sparse: SparseConfig = setting(factory=SparseConfig, no_flag="a section: its fields have flags")
    dense: DenseConfig = setting(factory=DenseConfig, no_flag="a section: its fields have flags")
    fusion: FusionConfig = setting(factory=FusionConfig, no_flag="a section: its fields have flags")

    def __post_init__(self):
        RETRIEVERS.check(self.kind)

    @property
    def uses_sparse(self) -> bool:
        """Whether this retriever searches the Lucene index."""
        return RETRIEVERS[self.kind].sparse

    @property
    def uses_dense(self) -> bool:
        """Whether this retriever searches a dense index."""
        return RETRIEVERS[self.kind].dense

    def to_dict(self) -> dict:
        """The settings this retriever uses, for YAML (the sections it does not use are left out)."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.uses_sparse:
            out["sparse"] = to_dict(self.sparse)
        if self.uses_dense:
            out["dense"] = to_dict(self.dense)
        if self.kind == "hybrid":
            out["fusion"] = to_dict(self.fusion)
        return out


@dataclass(frozen=True)
class BuildConfig:
    """How an index build runs. ``shard_size``: rows per shard (None: automatic, see
    :func:`gaia_lite.shards.plan_shards`). ``workers``: local worker processes, or with ``ray`` the most actors
    an encoding uses. ``ray``: None runs on this machine; ``auto`` or ``host:port`` on that Ray cluster.
    ``workdir``: where the shards are made (None: beside the index; on a cluster, storage every node reads)."""

    shard_size: int | None = setting(None, "documents per shard (default: automatic, 10,000 to 250,000 and about "
                                           "4 shards a worker)")
    workers: int = setting(1, "local worker processes, or with --ray the most encoding actors")
    ray: str | None = setting(None, "run the shards on this Ray cluster (pip install gaia-lite[ray]; default: this "
                                    "machine)", metavar="auto|HOST:PORT")
    workdir: str | None = setting(None, "where shards are made (default: beside the index; with --ray, storage "
                                        "every node reads)")

    def __post_init__(self):
        _at_least("shard_size", self.shard_size, 1)
        _at_least("workers", self.workers, 1)


@dataclass(frozen=True)
class ContaminationConfig:
    """Benchmark contamination (:mod:`gaia_lite.analysis.contamination`). A benchmark item is flagged when at
    least one of its ``ngram``-word n-grams occurs in a document (an item of fewer words is matched whole),
    words as :mod:`gaia_lite.analysis.text` normalises them. The default 13 is the n of GPT-3's and
    lm-evaluation-harness's decontamination. ``top_documents``: documents kept per item, by overlap."""

    ngram: int = setting(13, "n-gram length in words")
    top_documents: int = setting(5, "documents kept per item, most overlap first")

    def __post_init__(self):
        _at_least("ngram", self.ngram, 1)
        _at_least("top_documents", self.top_documents, 1)


@dataclass(frozen=True)
class DuplicatesConfig:
    """Duplicate analysis (:mod:`gaia_lite.analysis.duplicates`). Exact duplicates share their normalised
    words; near duplicates are found by MinHash LSH over sets of ``shingle``-word shingles, with ``num_perm``
    permutations and bands chosen by datasketch for Jaccard ``threshold``. The defaults are common settings of
    web-corpus deduplication (5-word shingles, datasketch's 128 permutations, threshold 0.8: a pair shares at
    least 80% of its shingles)."""

    shingle: int = setting(5, "words per shingle")
    threshold: float = setting(0.8, "Jaccard similarity of near duplicates, between 0 and 1")
    num_perm: int = setting(128, "MinHash permutations")
    seed: int = setting(1, "MinHash seed")

    def __post_init__(self):
        _at_least("shingle", self.shingle, 1)
        _at_least("num_perm", self.num_perm, 2)
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)) \
                or not 0 < self.threshold < 1:
            raise ConfigError(f"threshold must be between 0 and 1 (exclusive), got {self.threshold!r}")


#: The largest n an n-gram analysis accepts (WIMBD's longest n-grams are far shorter; 13 is contamination's).
MAX_NGRAM = 50


def _ngram_sizes(name: str, value) -> tuple[int, ...]:
    """``value`` ("1,2,3") as sorted distinct n-gram sizes, each from 1 to :data:`MAX_NGRAM`."""
    try:
        sizes = sorted({int(x) for x in str(value).split(",") if x.strip()})
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated whole numbers (as 1,2,3), got {value!r}") from None
    if not sizes or sizes[0] < 1 or sizes[-1] > MAX_NGRAM:
        raise ConfigError(f"{name} must be n-gram sizes from 1 to {MAX_NGRAM}, got {value!r}")
    return tuple(sizes)


@dataclass(frozen=True)
class AuditConfig:
    """What ``gaia-lite audit`` (:mod:`gaia_lite.analysis.audit`) computes. ``ngrams``: the n of the most common
    n-gram tables (exact counts; WIMBD's ``topk``); ``top``: n-grams kept per n. Distinct n-grams are estimated
    for n = 1 to 5 whatever ``ngrams`` says. ``short_words``: a document of fewer words is "very short" (Gopher's
    quality filter drops documents under 50 words). ``url_column``, ``date_column``, ``columns``: the metadata to
    profile (None: found by name and type; a column named here must exist)."""

    ngrams: str = setting("1,2,3,5,10", "n of the most-common n-gram tables, comma-separated, each 1 to 50")
    top: int = setting(100, "most common n-grams kept per n, with exact counts")
    short_words: int = setting(50, "documents of fewer words count as very short")
    languages: bool = setting(True, "identify each document's language")
    offensive: bool = setting(True, "score offensive language")
    personal_data: bool = setting(True, "find personal data (e-mails, phone numbers, IP addresses, keys)")
    url_column: str | None = setting(None, "column of URLs whose registered domains are counted (default: a "
                                           "column named url, if any)")
    date_column: str | None = setting(None, "column of dates shown as a timeline (default: a column named date, "
                                            "timestamp or created_at, if any)")
    columns: str | None = setting(None, "metadata columns whose values are counted, comma-separated (default: "
                                        "string, boolean and numeric columns besides id, title and text)")

    def __post_init__(self):
        _ngram_sizes("ngrams", self.ngrams)
        _at_least("top", self.top, 1)
        _at_least("short_words", self.short_words, 1)

    @property
    def ngram_sizes(self) -> tuple[int, ...]:
        """The n of the most-common n-gram tables, sorted."""
        return _ngram_sizes("ngrams", self.ngrams)

    @property
    def column_list(self) -> tuple[str, ...] | None:
        """The metadata columns asked for (None: found automatically)."""
        return None if self.columns is None else tuple(c.strip() for c in self.columns.split(",") if c.strip())


@dataclass(frozen=True)
class OverlapConfig:
    """Overlap of two corpora (:mod:`gaia_lite.analysis.overlap`): documents and ``ngram``-word n-grams that both
    hold, words as :mod:`gaia_lite.analysis.text` normalises them (13, as contamination). ``examples``: shared
    n-grams shown with a document of each corpus."""

    ngram: int = setting(13, "n-gram length in words, 1 to 50")
    examples: int = setting(10, "shared n-grams shown with a document of each corpus")

    def __post_init__(self):
        _at_least("ngram", self.ngram, 1)
        if self.ngram > MAX_NGRAM:
            raise ConfigError(f"ngram must be from 1 to {MAX_NGRAM}, got {self.ngram!r}")
        _at_least("examples", self.examples, 0)


DEFAULT_METRICS = ("nDCG@10", "R@100", "R@1000")


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: collection, retriever, evaluation settings, expected scores.

    ``expected`` scores are compared at 4 decimals within ``tolerance``, as Anserini's regressions do.
    ``passages`` searches passages instead of whole documents: ``{window: 256, stride: 240, depth: 3000}``
    (words; depth = passages retrieved per query, default 3 x k); documents are then scored by their best
    passage.
    """

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
    passages: dict | None = None

    def __post_init__(self):
        _at_least("k", self.k, 1)
        if self.passages is not None:
            unknown = set(self.passages) - {"window", "stride", "depth"}
            if unknown:
                raise ConfigError(f"passages: unknown key(s) {sorted(unknown)}; valid: depth, stride, window")

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> ExperimentConfig:
        """Load a config file, rejecting unknown keys."""
        return from_dict(cls, load_yaml(path), str(path))

    def to_yaml(self) -> str:
        """This config as YAML that :meth:`from_yaml` reads back to an equal config."""
        import yaml

        data = to_dict(self)
        data["retriever"] = self.retriever.to_dict()
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


# --- YAML -------------------------------------------------------------------------------------------------

T = TypeVar("T")


def from_dict(cls: type[T], data: Any, where: str) -> T:
    """Build the frozen dataclass ``cls`` from a mapping, rejecting unknown keys and missing required ones.

    Nested dataclass fields are built recursively, lists become tuples where the field is a tuple; ``where``
    names the file or key for error messages.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys are {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            value = from_dict(hint, value, f"{where}.{name}")
        elif typing.get_origin(hint) is tuple and isinstance(value, list):
            value = tuple(value)
        values[name] = value
    missing = [
        n for n, f in fields.items()
        if n not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{where}: missing required key(s) {missing}")
    try:
        return cls(**values)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from None


def to_dict(config) -> dict:
    """A config dataclass as plain YAML-ready values (tuples as lists), every field included."""
    def plain(value):
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return {f.name: plain(getattr(config, f.name)) if not dataclasses.is_dataclass(getattr(config, f.name))
            else to_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}


def configure(cls: type[T], config: T | None, overrides: dict[str, Any]) -> T:
    """``config`` (default ``cls()``) with ``overrides`` applied: the keyword-argument form of a settings
    dataclass that functions such as ``build_sparse_index(corpus, fields="multifield")`` accept."""
    config = config if config is not None else cls()
    if not isinstance(config, cls):
        raise ConfigError(f"expected a {cls.__name__} (or its fields as keyword arguments), got a "
                          f"{type(config).__name__}")
    if not overrides:
        return config
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(config)})
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} setting(s) {unknown}; valid: "
                          f"{', '.join(f.name for f in dataclasses.fields(config))}")
    return dataclasses.replace(config, **overrides)


def load_yaml(path: str | os.PathLike) -> Any:
    """Read a YAML file, turning parse errors into :class:`ConfigError`."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a config file") from None
    except yaml.YAMLError as e:  # its text spans several lines: keep the problem and where it is
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(getattr(e, "problem", None) or e).split())
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}; fix the file") from None
