"""Share a built corpus through the Hugging Face Hub: push it, pull it back verified, export result sets.

One dataset repo holds one corpus, written in one commit::

    README.md                                dataset card: YAML (configs, dataset_info) + what, how, rebuild
    gaia_lite.json                           manifest: name, row count, fingerprint, every artifact's metadata,
                                             sha256 and size of every file below
    data/train-00000-of-00001.parquet        config "default": the canonical Dataset (id, title, text, metadata)
    embeddings-<model>/train-00000-of-00001.parquet
                                             config "embeddings-<model>": (id, embedding), one per dense index
    indexes/sparse-flat/...                  the Lucene index folder as built (+ gaia_lite.json, rows.npy, impacts/)
    indexes/dense-<model>/{index,docid,gaia_lite.json}
                                             the FAISS index and docid sidecar (Pyserini's layout)

The parquet shards and the card's YAML are written as ``Dataset.push_to_hub`` writes them (same shard names,
same sharding rule, same ``configs``/``dataset_info`` metadata), so ``load_dataset(repo_id)`` and
``load_dataset(repo_id, "embeddings-<model>")`` work as on any Hub dataset. They are staged locally and uploaded
with the index folders and the manifest in a single commit, rather than by ``push_to_hub``'s own commits:
readers never see a half-pushed repo, the manifest can checksum the exact bytes uploaded, and ``--dry-run``
writes exactly the folder that would be uploaded. Embeddings are a config of their own, not a column: the
documents stay light for those who only read the text, several models can sit side by side, and each
config's rows line up with the corpus ids (the pull checks that they do).

Anywhere a corpus name or folder is accepted, ``hf://<owner>/<repo>[@<revision>]`` names such a repo: it is
pulled once into ``indexes/<repo>/`` and reused afterwards (no network) while the local copy still says it came
from that repo and revision.

Modules: :mod:`.specs` (``hf://`` specs), :mod:`.layout` (the repo's names), :mod:`.client` (token, Hub
errors, checksums), :mod:`.card` (the dataset card), :mod:`.push`, :mod:`.pull`, :mod:`.results` (result sets).
"""

from __future__ import annotations

from .pull import pull_corpus, resolve_corpus
from .push import PushReport, push_corpus
from .results import export_analysis, export_results, results_dataset
from .specs import HUB_PREFIX, RepoSpec, is_hub_spec, parse_spec

__all__ = ["HUB_PREFIX", "PushReport", "RepoSpec", "export_analysis", "export_results", "is_hub_spec", "parse_spec",
           "pull_corpus", "push_corpus", "resolve_corpus", "results_dataset"]
