"""What push, pull and export share around the Hub client: the token, its errors, and file checks.

Tokens come from huggingface_hub's usual places (``$HF_TOKEN``, then ``hf auth login``'s token file) unless
passed; they are handed to ``HfApi`` and never printed, logged or written anywhere.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import HubError
from .specs import RepoSpec


def token(token: str | None, *, required: bool) -> str | None:
    """``token``, else the one huggingface_hub finds ($HF_TOKEN, the login file); never shown anywhere."""
    if token is None:
        from huggingface_hub import get_token

        token = get_token()
    if required and not token:
        raise HubError("no Hugging Face token found: run `hf auth login` (a token with write access) or set "
                       "HF_TOKEN, or use --dry-run DIR to write the folder without uploading")
    return token


class hub_errors:
    """Turn the Hub client's errors into :class:`HubError` that says what to do; the token is scrubbed."""

    def __init__(self, spec: RepoSpec, token: str | None, action: str):
        self.spec, self.token, self.action = spec, token, action

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if error is None or isinstance(error, (HubError, KeyboardInterrupt)) or not isinstance(error, Exception):
            return False
        from huggingface_hub.errors import (
            GatedRepoError,
            HfHubHTTPError,
            OfflineModeIsEnabled,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        where = f"{self.action} {self.spec.repo_id}" + (f"@{self.spec.revision}" if self.spec.revision else "")
        if isinstance(error, OfflineModeIsEnabled):
            message = (f"cannot {where}: HF_HUB_OFFLINE is set; unset it where the Hub is reachable, or use a local "
                       "folder")
        elif isinstance(error, GatedRepoError):
            message = f"cannot {where}: the repo is gated; accept its conditions on the Hub first"
        elif isinstance(error, RepositoryNotFoundError):
            message = (f"cannot {where}: no such dataset repo, or no access to it; check the name, and for a private "
                       "repo log in with `hf auth login` or set HF_TOKEN")
        elif isinstance(error, RevisionNotFoundError):
            message = f"cannot {where}: no revision {self.spec.revision!r} in that repo"
        elif type(error).__module__.split(".")[0].rstrip("2") in ("httpx", "httpcore", "requests", "urllib3"):
            # The HTTP client's own errors (no DNS, refused, timed out) are not OSErrors.
            message = (f"cannot {where}: the Hub cannot be reached ({type(error).__name__}: {error}); check the "
                       "network or proxy settings, or push with --dry-run DIR and upload that folder later")
        elif isinstance(error, (HfHubHTTPError, OSError, ValueError)):
            message = (f"cannot {where} ({type(error).__name__}: {error}); check the repo id, your token's access, "
                       "and the network")
        else:
            return False
        if self.token:
            message = message.replace(self.token, "***")
        raise HubError(message) from None


def sha256(path: Path) -> str:
    """The hex SHA-256 of the file at ``path``, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_lfs_pointer(path: Path) -> bool:
    """Whether ``path`` is a Git LFS pointer file rather than the content it stands for."""
    try:
        with open(path, "rb") as f:
            return f.read(40).startswith(b"version https://git-lfs")
    except OSError:
        return False
