"""The ``gaia-lite`` command: one module per subcommand, each with its parser function (``add_parser``) and its
command function (``run``), listed in :data:`COMMANDS`.

``main(argv) -> int`` runs the CLI in-process, so tests call it directly. Every error a user can cause prints as
one line (``error: …``, saying what to do) with exit status 2, argparse's own included; a closed stdout
(``gaia-lite search ... | head -1``) ends quietly with status 141, as a program killed by SIGPIPE does.

The settings flags (``--retriever``, ``--fields``, ``--model``, ``--fusion``, ``--bm25-weight``, ``--shard-size``...)
are derived from the fields of the settings dataclasses in :mod:`gaia_lite.config` (:mod:`.common`), which hold
their defaults, help and rules. Importing this package is cheap: the commands import what they run when they run.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..errors import GaiaLiteError, Terminated, sigterm_raises
from . import (app, audit, contamination, corpus, count, demo, duplicates, index, overlap, passages, pull, push, search,
               serve, space, tune)
from . import eval as evaluate
from .common import retriever_config

__all__ = ["BROKEN_PIPE_STATUS", "COMMANDS", "TERMINATED_STATUS", "build_parser", "main", "retriever_config"]

#: Exit status of a program whose output pipe was closed: 128 + SIGPIPE, as the shell reports it.
BROKEN_PIPE_STATUS = 141
#: Exit status after SIGTERM (``kill``, a job scheduler), once the same clean-up as Ctrl+C has run: 128 + SIGTERM.
TERMINATED_STATUS = 143

#: The subcommands, in the order ``--help`` lists them: name -> the function that adds its parser.
COMMANDS: dict[str, Callable[[argparse._SubParsersAction], None]] = {
    "corpus": corpus.add_parser,
    "index": index.add_parser,
    "passages": passages.add_parser,
    "search": search.add_parser,
    "serve": serve.add_parser,
    "eval": evaluate.add_parser,
    "tune": tune.add_parser,
    "demo": demo.add_parser,
    "app": app.add_parser,
    "space": space.add_parser,
    "push": push.add_parser,
    "pull": pull.add_parser,
    "contamination": contamination.add_parser,
    "duplicates": duplicates.add_parser,
    "count": count.add_parser,
    "overlap": overlap.add_parser,
    "audit": audit.add_parser,
}


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors read like every other gaia-lite error: one line, exit status 2."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(prog="gaia-lite", description="BM25 + dense hybrid retrieval over Hugging Face datasets.")
    parser.add_argument("--version", action="version", version=f"gaia-lite {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    for add in COMMANDS.values():
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``) and return the exit status.

    Usage errors exit through argparse (``SystemExit(2)``, one line); every other error a user can cause
    returns 2 after one line on stderr.
    """
    args = build_parser().parse_args(argv)
    try:
        with sigterm_raises():
            status = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return status
    except BrokenPipeError:
        _silence_stdout()
        return BROKEN_PIPE_STATUS
    except GaiaLiteError as e:  # a ConfigError from building the settings the flags ask for included
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return 2
    except OSError as e:  # the file system refused: a path that cannot be written, a full disk
        where = f": {e.filename}" if e.filename else ""
        print(f"error: {_one_line(e.strerror or e)}{where}; check the path, its permissions and the free space",
              file=sys.stderr)
        return 2
    except Terminated:  # before KeyboardInterrupt, which it is
        print("terminated; nothing half-built was kept", file=sys.stderr)
        return TERMINATED_STATUS
    except KeyboardInterrupt:
        print("interrupted; nothing half-built was kept", file=sys.stderr)
        return 130


def _one_line(message) -> str:
    """``message`` as one line: text quoted from other libraries (HTTP errors, parsers) may span several."""
    return " ".join(line.strip() for line in str(message).splitlines() if line.strip())


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that nothing more is written to the closed pipe (not even at exit)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (captured in tests)
        pass
