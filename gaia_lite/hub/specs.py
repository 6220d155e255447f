"""Hub corpus specs: ``hf://owner/repo[@revision]`` names a dataset repo wherever a corpus is accepted.

The ``hf://`` prefix cannot be mistaken for a local corpus: a corpus name holds no ``:`` or ``/``, and no local
path starts with ``hf:``. Imported wherever a corpus spec is read, so it imports nothing heavy, and nothing of
gaia_lite but its errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import InputError

#: Prefix that marks a corpus spec as a Hub repo: ``hf://owner/repo[@revision]``.
HUB_PREFIX = "hf://"
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")


@dataclass(frozen=True)
class RepoSpec:
    """A Hub dataset repo and an optional revision (branch, tag or commit)."""

    repo_id: str
    revision: str | None = None

    @property
    def name(self) -> str:
        """The repo's name without its owner: the default local corpus name."""
        return self.repo_id.split("/", 1)[1]

    def __str__(self) -> str:
        return HUB_PREFIX + self.repo_id + (f"@{self.revision}" if self.revision else "")


def is_hub_spec(spec: Any) -> bool:
    """Whether ``spec`` is a ``hf://`` corpus spec."""
    return isinstance(spec, str) and spec.startswith(HUB_PREFIX)


def parse_spec(spec: str, revision: str | None = None) -> RepoSpec:
    """Parse ``hf://owner/repo[@revision]`` (or ``owner/repo[@revision]``); ``revision`` overrides the spec's."""
    text = spec.removeprefix(HUB_PREFIX)
    repo_id, _, rev = text.partition("@")
    if not _REPO_ID.fullmatch(repo_id):
        raise InputError(f"{spec!r} is not a Hub dataset repo: write it as owner/name or hf://owner/name[@revision]")
    return RepoSpec(repo_id, revision or rev or None)
