"""The names of a pushed corpus's repo layout, shared by the push, the pull and the card."""

from __future__ import annotations

from ..artifacts import META_FILE

MANIFEST = META_FILE  # gaia_lite.json, at the repo root
MANIFEST_KIND = "hub-corpus"
#: Written beside a pulled corpus's artifacts: where it came from, so that a later resolve can reuse it.
PULL_RECORD = "hub.json"
CARD = "README.md"
DATA_DIR = "data"
INDEXES_DIR = "indexes"
SPLIT = "train"
EMBEDDINGS_PREFIX = "embeddings-"
REPO_TYPE = "dataset"
