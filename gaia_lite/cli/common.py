"""What the commands share: the settings flags, derived from :mod:`gaia_lite.config`, the arguments several
commands take, and a few output helpers.

A settings flag is one field of a settings dataclass (:data:`SECTIONS`): ``--<field-name-with-dashes>`` unless
the field's metadata names another ``flag``; a bool becomes ``--x``/``--no-x``; the type, choices, metavar and
help come from the field. Its dest is ``<section>.<field>`` and its default None, meaning "not given", so that a
``--config`` file and the flags combine, the flags overriding the file (:func:`retriever_config`). The flags hold
no rule of their own: a value is checked once, when the dataclass is built, and a :class:`ConfigError` from
there is the CLI's one-line error.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from collections.abc import Callable
from dataclasses import replace

from ..config import (AuditConfig, BuildConfig, ContaminationConfig, DenseConfig, DuplicatesConfig, FusionConfig,
                      OverlapConfig, RetrieverConfig, SparseConfig, check_k)
from ..registry import Registry

#: The settings dataclasses that have flags, by section: the section is the flags' dest prefix and, for the
#: retriever's, the key of the config file's ``retriever`` section that they override.
SECTIONS: dict[str, type] = {
    "retriever": RetrieverConfig,
    "sparse": SparseConfig,
    "dense": DenseConfig,
    "fusion": FusionConfig,
    "build": BuildConfig,
    "contamination": ContaminationConfig,
    "duplicates": DuplicatesConfig,
    "audit": AuditConfig,
    "overlap": OverlapConfig,
}
TITLES = {
    "retriever": "retriever",
    "sparse": "BM25 side (retriever.sparse)",
    "dense": "dense side (retriever.dense)",
    "fusion": "hybrid fusion (retriever.fusion)",
    "build": "how the build runs (shards, workers, a Ray cluster)",
    "contamination": "what counts as contamination",
    "duplicates": "what counts as a duplicate",
    "audit": "what the audit computes",
    "overlap": "what counts as overlap",
}


def flag_name(field: dataclasses.Field) -> str:
    """The flag of a settings field: its metadata's ``flag``, else ``--<name-with-dashes>``."""
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def flag_type(hint) -> type:
    """The value type of a field's type hint (``int | None`` -> ``int``)."""
    types = [t for t in typing.get_args(hint) if t is not type(None)] or [hint]
    if len(types) != 1 or types[0] not in (bool, int, float, str):
        raise TypeError(f"no flag for a field of type {hint}: give it a no_flag reason in gaia_lite/config.py")
    return types[0]


def _help(field: dataclasses.Field) -> str:
    text = field.metadata.get("help", "")
    choices = field.metadata.get("choices")
    if isinstance(choices, Registry):  # each name with its one line
        text += ": " + "; ".join(f"{e.name}: {e.summary}" for e in choices.entries())
    default = field.default
    if default is not dataclasses.MISSING and default is not None:
        shown = ("on" if default else "off") if isinstance(default, bool) else default
        text += f" (default: {shown})"
    return text.replace("%", "%%")  # argparse formats help with %


def add_settings(parser: argparse.ArgumentParser, section: str, when: str | None = None) -> None:
    """A flag for each field of ``SECTIONS[section]`` that applies ``when`` (``build``, ``search``; None: every
    field), in a group of its own. Choices are read now, so that names registered at run time are offered."""
    cls = SECTIONS[section]
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(TITLES[section])
    for field in dataclasses.fields(cls):
        meta = field.metadata
        if meta.get("no_flag") or (when and meta.get("when") not in (None, when)):
            continue
        kind = flag_type(hints[field.name])
        options: dict = {"dest": f"{section}.{field.name}", "default": None, "help": _help(field)}
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        else:
            options["type"] = kind
            if meta.get("choices") is not None:
                options["choices"] = tuple(meta["choices"])  # a registry iterates over its names
            else:
                options["metavar"] = meta.get("metavar") or field.name.upper()
        group.add_argument(flag_name(field), **options)


def add_retriever(parser: argparse.ArgumentParser, *, kind: bool = True) -> None:
    """The retriever flags of a search command; ``kind`` adds ``--retriever`` itself."""
    for section in ("retriever", "sparse", "dense", "fusion")[0 if kind else 1:]:
        add_settings(parser, section, "search")


def configured(args: argparse.Namespace, section: str, base=None):
    """``base`` (default: the section's defaults) with the section's flags that were given."""
    prefix = f"{section}."
    given = {key[len(prefix):]: value for key, value in vars(args).items()
             if key.startswith(prefix) and value is not None}
    if base is None:
        return SECTIONS[section](**given)
    return replace(base, **given) if given else base


def retriever_config(args: argparse.Namespace, base: RetrieverConfig | None = None) -> RetrieverConfig:
    """``base`` (default :class:`RetrieverConfig`'s defaults, or a ``--config`` file's) with the retriever flags
    that were given."""
    config = base or RetrieverConfig()
    sides = {section: configured(args, section, getattr(config, section)) for section in ("sparse", "dense", "fusion")}
    return configured(args, "retriever", replace(config, **sides))


def config_file_retriever(path: str | None) -> RetrieverConfig | None:
    """The retriever section of an experiment config file (``search``/``app`` take only that part)."""
    if path is None:
        return None
    from ..config import ExperimentConfig

    return ExperimentConfig.from_yaml(path).retriever


def build_options(args: argparse.Namespace) -> dict:
    """The keyword arguments (shard_size, executor, workdir) of a sharded job that the build flags ask for."""
    from ..executors import build_options

    return build_options(configured(args, "build"))


# --- arguments several commands take ------------------------------------------------------------------------

def positive_int(text: str) -> int:
    """A count that is not a setting (``-k``, ``--threads``, ``--limit``): a whole number >= 1."""
    try:
        return check_k(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None


def add_command(sub, name: str, run: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    """The parser of the subcommand ``name`` that ``run(args)`` carries out. Its help and description are
    ``run``'s docstring, so that a command's help is written once: the first line (without its full stop) is the
    line of the command list, the paragraphs after it the description of ``--help``."""
    summary, _, description = (run.__doc__ or "").strip().partition("\n\n")
    parser = sub.add_parser(name, help=" ".join(summary.split()).rstrip(".").replace("%", "%%"),
                            description=" ".join(description.split()) or None)
    parser.set_defaults(func=run)
    return parser


def add_common(parser: argparse.ArgumentParser, *, progress: bool = True) -> None:
    """``--root`` and (with ``progress``) ``--no-progress``."""
    parser.add_argument("--root", help="folder holding built corpora (default: $GAIA_LITE_HOME or ./indexes)")
    if progress:
        parser.add_argument("--no-progress", dest="progress", action="store_false", help="hide progress bars")


# --- output -------------------------------------------------------------------------------------------------

def to_stderr(line: str) -> None:
    """A progress or log line where it cannot mix with a command's output (``--json``)."""
    print(line, file=sys.stderr)


def snippet(text: str, width: int = 100) -> str:
    """``text`` on one line, cut to ``width`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
