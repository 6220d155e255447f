"""The one place for configuration: where artifacts live, JVM options, and YAML configs as frozen dataclasses.

Environment variables are read when a function is called, never at import time.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError

#: Environment variable naming the folder that holds built corpora (default: ``./indexes``).
HOME_ENV = "GAIA_LITE_HOME"
#: Extra JVM options, split on whitespace, added to the ones gaia_lite needs.
JAVA_OPTS_ENV = "GAIA_LITE_JAVA_OPTS"


def indexes_root(root: str | os.PathLike | None = None) -> Path:
    """The folder that holds one sub-folder per corpus: ``root``, else ``$GAIA_LITE_HOME``, else ``./indexes``."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get(HOME_ENV) or "indexes")


def corpus_dir(name_or_path: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """Resolve a corpus given by name (``scifact`` → ``<root>/scifact``) or by path (``indexes/scifact``, ``./x``).

    A bare name always means a folder under the indexes root, even where the current folder holds a folder
    of that name (a BEIR download called ``scifact``, say).
    """
    text = str(name_or_path)
    if os.sep in text or (os.altsep and os.altsep in text) or text.startswith(".") or Path(text).is_absolute():
        return Path(text)
    return indexes_root(root) / text


def java_options() -> list[str]:
    """Extra JVM options from ``$GAIA_LITE_JAVA_OPTS``."""
    return os.environ.get(JAVA_OPTS_ENV, "").split()


T = TypeVar("T")


def from_dict(cls: type[T], data: Any, where: str) -> T:
    """Build the frozen dataclass ``cls`` from a mapping, rejecting unknown keys and missing required ones.

    Nested dataclass fields are built recursively; ``where`` names the file or key for error messages.
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
        values[name] = value
    missing = [
        n for n, f in fields.items()
        if n not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{where}: missing required key(s) {missing}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from None


def load_yaml(path: str | os.PathLike) -> Any:
    """Read a YAML file, turning parse errors into :class:`ConfigError`."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
