"""One error tree for gaia_lite. Every message says what went wrong and what to do next."""

from __future__ import annotations


class GaiaLiteError(Exception):
    """Root of all gaia_lite errors; the CLI prints these as one line and exits 2."""


class ConfigError(GaiaLiteError):
    """A configuration file or option is invalid."""


class InputError(GaiaLiteError):
    """Input data is malformed: a corpus source (bad JSON or UTF-8, missing or duplicate ids, no documents), a
    qrels or run file, or scores handed to fusion."""


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


class HubError(GaiaLiteError):
    """The Hugging Face Hub refused or could not be reached (no token, no such repo or revision, offline)."""


class JavaError(GaiaLiteError):
    """No suitable Java runtime, or the JVM was already started with other settings."""


class MissingDependencyError(GaiaLiteError):
    """An optional package is not installed."""

    def __init__(self, package: str, purpose: str):
        super().__init__(f"{purpose} needs the package {package!r}: pip install {package}")
