"""Duplicates: how much of a corpus is the same text again, exactly or nearly.

- **Exact duplicates** have the same normalised words (:mod:`gaia_lite.analysis.text`: case, punctuation,
  whitespace and Unicode forms do not count), title and text together.
- **Near duplicates** are found by MinHash locality-sensitive hashing (datasketch's ``MinHash``) over each
  document's set of word shingles (``shingle`` consecutive words; a document shorter than that is one shingle):
  the signature of ``num_perm`` minimums is cut into ``b`` bands of ``r`` values, ``b`` and ``r`` chosen by
  datasketch's ``MinHashLSH`` for the Jaccard ``threshold``, and two documents that agree on a whole band are
  linked. A near-duplicate cluster is a connected set of linked documents. Pairs are not verified after
  banding (as in text-dedup and datatrove): a pair of Jaccard similarity ``s`` is linked with probability
  ``1 - (1 - s^r)^b``, which :func:`link_probability` gives and the report states.

Each cluster is named by its first document (in row order), so a cluster's id is a document id and every
run over the same corpus gives the same ids. The clusters are stored beside the corpus in ``duplicates/``
(``clusters.parquet``: one row per document, in row order: ``id``, ``exact_cluster``, ``exact_size``,
``near_cluster``, ``near_size``; a document without words is in no cluster: empty id, size 0); the corpus and
its fingerprint are not changed. The work runs in shards on the same executors as the index builds: each
shard's MinHash signatures are reduced to band keys there, and the driver groups the keys.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..artifacts import ArtifactMeta, atomic_build, has_analysis
from ..config import DuplicatesConfig, configure
from ..corpus import Corpus
from ..errors import MissingArtifactError
from ..executors import ShardJob, run_sharded
from ..shards import BuildProgress, Shard, shard_batches
from .text import NORMALIZATION, words

DUPLICATES_DIR = "duplicates"
CLUSTERS_FILE = "clusters.parquet"
KEYS_FILE = "keys.npz"  # a shard's exact hashes and band keys, in the workdir
SUMMARY_FILE = "summary.json"
#: Clusters listed in a report, largest first, and examples shown of each.
LARGEST = 10
EXAMPLES = 3
#: Bins of the cluster-size distribution (lower bounds).
SIZE_BINS = (2, 3, 6, 11, 101, 1001)


def lsh_bands(config: DuplicatesConfig) -> tuple[int, int]:
    """The bands and rows per band (``b``, ``r``) datasketch's ``MinHashLSH`` picks for ``config``'s threshold and
    permutations (weighing false positives and false negatives equally)."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=config.threshold, num_perm=config.num_perm)
    return lsh.b, lsh.r


def link_probability(similarity: float, bands: int, rows: int) -> float:
    """The probability that two documents of Jaccard ``similarity`` share at least one band."""
    return 1.0 - (1.0 - similarity ** rows) ** bands


def shingles(doc_words: list[str], size: int) -> list[str]:
    """The word shingles of a document (one of all its words where it has fewer than ``size``)."""
    if len(doc_words) <= size:
        return [" ".join(doc_words)] if doc_words else []
    return [" ".join(doc_words[i:i + size]) for i in range(len(doc_words) - size + 1)]


@dataclass(frozen=True)
class Cluster:
    """A cluster of duplicates: its id (its first document's id), its size, and a few of its documents
    (``examples``: ``{"doc_id", "text"}``, the text's first characters)."""

    cluster_id: str
    size: int
    examples: list[dict[str, str]]


@dataclass
class DuplicatesReport:
    """What a duplicates run found. For each of ``exact`` and ``near``: ``clusters`` (of 2 documents or
    more), ``documents`` in them, ``duplicates`` (documents beyond the first of each cluster: what
    deduplication would remove) and their ``rate`` among the documents with words; the distribution of
    cluster sizes and the largest clusters."""

    corpus: str
    fingerprint: str
    documents: int
    empty: int
    config: DuplicatesConfig
    bands: int
    rows: int
    exact: dict[str, Any]
    near: dict[str, Any]
    seconds: float = 0.0
    nodes: list[str] = field(default_factory=list)  # the machines (or Ray nodes) that ran the shards

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        out = asdict(self)
        out["config"] = asdict(self.config)
        out["normalization"] = NORMALIZATION
        out["definition"] = self.definition()
        return out

    def definition(self) -> str:
        """How duplicates are defined in this run, in one paragraph."""
        c = self.config
        return (f"Exact duplicates have the same normalised words ({NORMALIZATION}). Near duplicates: MinHash "
                f"({c.num_perm} permutations, seed {c.seed}) over {c.shingle}-word shingles, LSH with "
                f"{self.bands} bands of {self.rows} for Jaccard threshold {c.threshold:g}; a cluster is a "
                f"connected set of documents sharing a band. A pair at the threshold is linked with probability "
                f"{link_probability(c.threshold, self.bands, self.rows):.3f}, a pair at Jaccard "
                f"{max(0.0, c.threshold - 0.2):.1f} with probability "
                f"{link_probability(max(0.0, c.threshold - 0.2), self.bands, self.rows):.3f}.")


def find_duplicates(corpus: Corpus | str, config: DuplicatesConfig | None = None, *, shard_size: int | None = None,
                    executor=None, workdir=None, progress: bool = True, log: Callable[[str], None] | None = print,
                    tracker: BuildProgress | None = None, **settings) -> DuplicatesReport:
    """Find the exact and near duplicates of ``corpus`` and store the clusters in its ``duplicates/`` folder
    (replacing an earlier run's, atomically). ``config`` (or its fields as keyword arguments: ``shingle``,
    ``threshold``, ``num_perm``, ``seed``) sets the definition. Sharding, executors and resuming work as in
    :func:`~gaia_lite.analysis.find_contamination`."""
    config = configure(DuplicatesConfig, config, settings)
    corpus = corpus if isinstance(corpus, Corpus) else Corpus.load(corpus, verify=False)
    bands, rows = lsh_bands(config)
    job = DuplicatesJob(str(corpus.folder), config, bands, rows)
    return run_sharded(job, corpus, corpus.folder / DUPLICATES_DIR, what=f"Duplicates in {corpus.name}",
                       shard_size=shard_size, executor=executor, workdir=workdir, progress=progress, log=log,
                       tracker=tracker)


def _command(corpus: Corpus, config: DuplicatesConfig) -> str:
    default = DuplicatesConfig()
    flags = "".join(f" --{k.replace('_', '-')} {v}" for k, v in asdict(config).items() if getattr(default, k) != v)
    return f"gaia-lite duplicates {corpus.folder}{flags}"


class DuplicatesJob(ShardJob):
    """Hash each shard of the corpus: each document's normalised words (exact) and its MinHash band keys (near);
    then group the keys of every shard into clusters, stored in the corpus's ``duplicates/`` folder (a
    :class:`~gaia_lite.executors.ShardJob`)."""

    kind = "duplicates"

    def __init__(self, corpus_folder: str, config: DuplicatesConfig, bands: int, rows: int, batch_size: int = 1000):
        self.corpus_folder, self.config = corpus_folder, config
        self.bands, self.rows = bands, rows
        self.batch_size = batch_size
        self._started = time.perf_counter()  # the report's seconds count from here

    def settings(self) -> dict:
        """The definition: shingles, threshold, permutations, seed, and the bands they give."""
        return {**asdict(self.config), "bands": self.bands, "rows": self.rows}

    def make_part(self, shard: Shard, folder: Path) -> dict:
        """Hash the shard's documents into ``folder``; returns how many have no words."""
        corpus = Corpus.load(self.corpus_folder, verify=False)
        signer = Signer(self.config)
        columns = ["title", "text"] if corpus.has_title else ["text"]
        exact = np.zeros((len(shard), 2), np.uint64)
        signatures = np.zeros((len(shard), self.config.num_perm), np.uint32)
        empty = np.zeros(len(shard), bool)
        i = 0
        for batch in shard_batches(corpus, shard, columns, self.batch_size):
            for k in range(len(batch["text"])):
                doc_words = [w for c in columns for w in words(batch[c][k] or "")]
                if not doc_words:
                    empty[i] = True
                else:
                    exact[i] = exact_hash(doc_words)
                    signatures[i] = signer.signature(doc_words)
                i += 1
        np.savez(folder / KEYS_FILE, exact=exact, bands=band_keys(signatures, self.bands, self.rows), empty=empty)
        return {"empty": int(empty.sum())}

    def combine(self, corpus: Corpus, parts: list[Path], records: list[dict]) -> DuplicatesReport:
        """Cluster the documents by the keys of every shard, store the clusters and return the report."""
        keys = [np.load(part / KEYS_FILE) for part in parts]
        empty = np.concatenate([k["empty"] for k in keys])
        exact_label = _exact_labels(np.concatenate([k["exact"] for k in keys]), empty)
        near_label = _near_labels(np.concatenate([k["bands"] for k in keys]), empty)
        config, bands, rows = self.config, self.bands, self.rows
        report = _report(corpus, config, bands, rows, exact_label, near_label, empty)
        report.nodes = sorted({r["node"] for r in records})
        with atomic_build(corpus.folder / DUPLICATES_DIR) as tmp:
            _write_clusters(tmp / CLUSTERS_FILE, corpus.ids, exact_label, near_label)
            report.seconds = round(time.perf_counter() - self._started, 3)
            (tmp / SUMMARY_FILE).write_text(json.dumps(report.to_dict(), indent=1, ensure_ascii=False) + "\n",
                                            encoding="utf-8")
            ArtifactMeta(kind="duplicates", num_rows=len(corpus), fingerprint=corpus.meta.fingerprint,
                         source=str(corpus.folder), params=self.settings(),
                         command=_command(corpus, config)).write(tmp)
        return report


def exact_hash(doc_words: list[str]) -> np.ndarray:
    """A 128-bit hash of a document's normalised words, as two unsigned 64-bit integers."""
    import hashlib

    digest = hashlib.blake2b("\x1f".join(doc_words).encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return np.frombuffer(digest, np.uint64)


class Signer:
    """MinHash signatures of documents with datasketch, its permutations made once (making them is most of the
    cost of a new ``MinHash``). Shingles are hashed with xxHash-32 (datasketch's default SHA-1 gives the same
    estimates, several times slower)."""

    def __init__(self, config: DuplicatesConfig):
        import xxhash
        from datasketch import MinHash

        self.config = config
        self._minhash = MinHash
        self._hash = xxhash.xxh32_intdigest
        self._permutations = MinHash(num_perm=config.num_perm, seed=config.seed).permutations

    def signature(self, doc_words: list[str]) -> np.ndarray:
        """The MinHash signature (``num_perm`` uint32 values) of a document's shingle set."""
        m = self._minhash(num_perm=self.config.num_perm, seed=self.config.seed, hashfunc=self._hash,
                          permutations=self._permutations, scheme="affine32")
        m.update_batch([s.encode("utf-8", "surrogatepass") for s in shingles(doc_words, self.config.shingle)])
        return m.hashvalues


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per band of each signature: two documents share a key (collisions aside, about one in
    2^64) exactly where they agree on every value of that band."""
    keys = np.zeros((len(signatures), bands), np.uint64)
    multiplier = np.uint64(0x9E3779B97F4A7C15)
    for band in range(bands):
        h = np.full(len(signatures), band + 1, np.uint64)
        for value in signatures[:, band * rows:(band + 1) * rows].T:
            h = (h ^ value.astype(np.uint64)) * multiplier
        keys[:, band] = h
    return keys


def _exact_labels(exact: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """Per row, the first row of its exact-duplicate group (-1 for a document without words)."""
    label = np.full(len(exact), -1, np.int64)
    rows = np.flatnonzero(~empty)
    if not len(rows):
        return label
    _, first, inverse = np.unique(exact[rows], axis=0, return_index=True, return_inverse=True)
    label[rows] = rows[first][inverse.ravel()]  # np.unique's index is each group's first occurrence
    return label


def _near_labels(keys: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """Per row, the first row of its near-duplicate cluster (-1 for a document without words): the connected
    components of the graph linking documents that share a band key."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(keys)
    rows = np.flatnonzero(~empty)
    sources, targets = [], []
    for band in range(keys.shape[1]):
        order = rows[np.argsort(keys[rows, band], kind="stable")]
        same = keys[order[1:], band] == keys[order[:-1], band]
        sources.append(order[:-1][same])
        targets.append(order[1:][same])
    src, dst = np.concatenate(sources or [np.zeros(0, np.int64)]), np.concatenate(targets or [np.zeros(0, np.int64)])
    graph = coo_matrix((np.ones(len(src), np.int8), (src, dst)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    first = np.full(component.max() + 1 if n else 0, n, np.int64)
    np.minimum.at(first, component, np.arange(n))
    label = first[component]
    label[empty] = -1
    return label


def _sizes(label: np.ndarray) -> np.ndarray:
    """Per row, the size of its cluster (0 for a document in none)."""
    sizes = np.zeros(len(label), np.int64)
    member = label >= 0
    counts = np.bincount(label[member], minlength=len(label))
    sizes[member] = counts[label[member]]
    return sizes


def _summary(corpus: Corpus, label: np.ndarray, with_words: int) -> dict[str, Any]:
    sizes = _sizes(label)
    in_cluster = sizes >= 2
    firsts = np.unique(label[in_cluster])
    cluster_sizes = np.bincount(label[in_cluster])[firsts] if len(firsts) else np.zeros(0, np.int64)
    duplicates = int(in_cluster.sum() - len(firsts))
    order = np.lexsort((firsts, -cluster_sizes))[:LARGEST]
    largest = []
    for k in order:
        members = np.flatnonzero(label == firsts[k])[:EXAMPLES]
        examples = [{"doc_id": corpus.ids[m], "text": _snippet(corpus.dataset[int(m)]["text"])} for m in members]
        largest.append(asdict(Cluster(corpus.ids[firsts[k]], int(cluster_sizes[k]), examples)))
    bins = {}
    for low, high in zip(SIZE_BINS, (*SIZE_BINS[1:], None)):
        label_ = f"{low}" if high == low + 1 else (f"{low}-{high - 1}" if high else f"{low}+")
        bins[label_] = int(((cluster_sizes >= low) & ((cluster_sizes < high) if high else True)).sum())
    return {"clusters": int(len(firsts)), "documents": int(in_cluster.sum()), "duplicates": duplicates,
            "rate": round(duplicates / with_words, 6) if with_words else 0.0, "size_distribution": bins,
            "largest": largest}


def _snippet(text: str | None, length: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= length else text[:length - 1] + "…"


def _report(corpus, config, bands, rows, exact_label, near_label, empty) -> DuplicatesReport:
    with_words = int((~empty).sum())
    return DuplicatesReport(corpus.name, corpus.meta.fingerprint, len(corpus), int(empty.sum()), config, bands, rows,
                            _summary(corpus, exact_label, with_words), _summary(corpus, near_label, with_words))


def _write_clusters(path: Path, ids: list[str], exact_label: np.ndarray, near_label: np.ndarray) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def named(label):
        return [ids[i] if i >= 0 else "" for i in label.tolist()]

    table = pa.table({"id": ids, "exact_cluster": named(exact_label), "exact_size": _sizes(exact_label),
                      "near_cluster": named(near_label), "near_size": _sizes(near_label)})
    pq.write_table(table, path)


@dataclass(frozen=True)
class StoredDuplicates:
    """A corpus's stored duplicate analysis: the report, and per row its near-duplicate cluster (the cluster's
    first row, -1 for none) and cluster sizes."""

    report: dict[str, Any]
    near_cluster: np.ndarray
    near_size: np.ndarray
    exact_size: np.ndarray


def load_duplicates(corpus: Corpus) -> StoredDuplicates:
    """The duplicate analysis stored beside ``corpus`` by :func:`find_duplicates`, checked against the corpus's
    current documents."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    folder = corpus.folder / DUPLICATES_DIR
    if not check_duplicates(corpus):
        raise MissingArtifactError(f"no duplicate analysis at {folder}: run `gaia-lite duplicates {corpus.folder}`")
    table = pq.read_table(folder / CLUSTERS_FILE)
    # Clusters are named by their first document's id; the table's rows are the corpus's, in order.
    near = pc.fill_null(pc.index_in(table.column("near_cluster"), value_set=table.column("id")), -1)
    report = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
    return StoredDuplicates(report, near.to_numpy().astype(np.int64), table.column("near_size").to_numpy(),
                            table.column("exact_size").to_numpy())


def check_duplicates(corpus: Corpus) -> bool:
    """Whether ``corpus`` has a stored duplicate analysis (reading only its metadata); raises
    :class:`~gaia_lite.errors.ArtifactMismatchError` where it was made from other documents."""
    return has_analysis(corpus, DUPLICATES_DIR, "duplicates")
