"""One error tree for gaia_lite. Every message says what went wrong and what to do next.

Every error a user can cause (a bad argument, a malformed file, a missing index, an unreachable Hub) is a
:class:`GaiaLiteError`; the CLI prints it as one line and exits 2. Errors about values (:class:`ConfigError`,
:class:`InputError`) are also ``ValueError``s, so code written against plain Python conventions catches them.
"""

from __future__ import annotations

import contextlib


class GaiaLiteError(Exception):
    """Root of all gaia_lite errors; the CLI prints these as one line and exits 2."""


class ConfigError(GaiaLiteError, ValueError):
    """A configuration file, option or argument is invalid."""


class InputError(GaiaLiteError, ValueError):
    """Input data is malformed: a corpus source (bad JSON or UTF-8, missing or duplicate ids, no documents), a
    qrels or run file, a query, or scores handed to fusion."""


class DuplicateIdError(InputError):
    """The source holds the same document id more than once."""

    def __init__(self, duplicates: dict[str, int], source: str):
        self.duplicates = duplicates
        shown = ", ".join(f"{doc_id!r} (x{n})" for doc_id, n in list(duplicates.items())[:10])
        more = f" and {len(duplicates) - 10} more" if len(duplicates) > 10 else ""
        super().__init__(
            f"{source}: {len(duplicates)} document id(s) occur more than once: {shown}{more}. "
            "Ids must be unique: de-duplicate the source, or pick another --id-column."
        )


class ArtifactError(GaiaLiteError):
    """A built artifact (corpus, index) is missing, unreadable or does not match its corpus."""


class MissingArtifactError(ArtifactError):
    """An artifact that should have been built is not there."""


class ArtifactMismatchError(ArtifactError):
    """Two artifacts that must describe the same documents disagree (count, fingerprint, ids)."""


class BuildInProgressError(ArtifactError):
    """Another build that is still running holds the working folder this build needs."""


class PartsMissingError(GaiaLiteError):
    """Some parts of a corpus kept in parts did not answer (no live replica, an unreachable node): the answer
    would be partial, so there is none; ``missing`` maps each part's name to why."""

    def __init__(self, missing: dict[str, str], total: int):
        self.missing, self.total = dict(missing), total
        listed = "; ".join(f"{name}: {why}" for name, why in self.missing.items())
        super().__init__(f"{len(self.missing)} of {total} parts did not answer ({listed}): the answer would be "
                         "partial; check the serving cluster (`serve status`) and try again")


class ModelError(GaiaLiteError):
    """A model cannot be found or loaded."""


class HubError(GaiaLiteError):
    """The Hugging Face Hub refused or could not be reached (no token, no such repo or revision, offline)."""


class JavaError(GaiaLiteError):
    """No suitable Java runtime, or the JVM was already started with other settings."""


class MissingDependencyError(GaiaLiteError):
    """A package that this feature needs is not installed; the message names the ``pip install`` line."""

    def __init__(self, package: str, purpose: str, install: str | None = None):
        self.package = package
        super().__init__(f"{purpose} needs the package {package!r}, which is not installed: "
                         f"pip install {install or package}")


def require(module: str, purpose: str, install: str | None = None):
    """Import and return ``module``, or raise :class:`MissingDependencyError` naming what to install.

    ``install`` is the ``pip install`` argument where it differs from the module's name (``faiss-cpu`` for
    ``faiss``, ``gaia-lite[ray]`` for an extra).
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        if e.name is not None and e.name.split(".")[0] != module.split(".")[0]:
            raise  # the package is there but broken inside: its own error says more than ours would
        raise MissingDependencyError(module.split(".")[0], purpose, install) from None


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a job scheduler's time limit, a container stopping), raised in the main thread inside
    :func:`sigterm_raises`: the work stops as after Ctrl+C, so scratch folders are removed, finished shards are
    kept for resuming and exit handlers run."""


@contextlib.contextmanager
def sigterm_raises():
    """While the block runs, SIGTERM raises :class:`Terminated` in the main thread, where by default it would end
    the process at once, skipping every ``finally`` and exit handler. Left alone outside the main thread and where
    the program has a handler of its own.

    A signal can land while Python runs a weakref callback or a ``__del__``, where an exception is printed as
    "Exception ignored" and dropped. Such a ``Terminated`` is delivered again once the callback has returned, so a
    kill is never lost to the garbage collector's timing; should the block end first, it raises there. A
    ``Terminated`` that the block's own code catches (Gradio's server stops on it and returns) stays caught.
    """
    import signal
    import sys
    import threading

    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL):
        yield
        return

    dropped = []  # Terminated exceptions Python dropped and not yet delivered again

    def deliver_again(unraisable):
        if isinstance(unraisable.exc_value, Terminated):
            dropped.append(True)
            sys.setprofile(raise_once_out)  # the profile hook runs at the next call or return, outside the callback
        else:
            previous_hook(unraisable)

    def raise_once_out(frame, event, arg):
        if not _runs_inside(frame, deliver_again):
            sys.setprofile(None)
            dropped.clear()
            raise Terminated()

    def terminate(signum, frame):
        if _runs_inside(frame, deliver_again):  # raised here, it would be dropped too
            dropped.append(True)
            sys.setprofile(raise_once_out)
            return
        raise Terminated()

    previous_hook = sys.unraisablehook
    signal.signal(signal.SIGTERM, terminate)
    sys.unraisablehook = deliver_again
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        sys.unraisablehook = previous_hook
        if sys.getprofile() is raise_once_out:
            sys.setprofile(None)
    if dropped:  # the block ended before the profile hook could deliver it
        raise Terminated()


def _runs_inside(frame, function) -> bool:
    """Whether ``function`` is on the stack that ends in ``frame``."""
    while frame is not None:
        if frame.f_code is function.__code__:
            return True
        frame = frame.f_back
    return False
