"""gaia_lite's own Java classes, in ``java/io/gaialite/`` beside this file, and the jar built from them.

- ``GlobalStatsSearcher``: BM25 over a corpus kept in parts with the whole corpus's statistics
  (:mod:`gaia_lite.sparse.global_stats`);
- ``PostingsExport``: a field's postings and length norms as flat arrays for the impact matrix
  (:mod:`gaia_lite.sparse.impacts`).

The jar ships in the package (``java/gaia-lite.jar``, on the classpath :func:`gaia_lite.java.start_jvm` sets);
``python -m gaia_lite.sparse.jar`` rebuilds it from the sources with ``javac`` (a JDK 17 or newer, e.g. Debian's
``default-jdk-headless``), byte for byte the same where the compiler is the same, which a test checks.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ..errors import JavaError
from ..java import GAIA_LITE_JAR as JAR

JAVA_DIR = JAR.parent
#: The class file version the jar targets: Java 17, read by any JVM pyserini runs on (21 or newer).
RELEASE = "17"
# Zip entries carry a fixed date so that the same classes make the same jar.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def compile_classes(out: Path) -> list[Path]:
    """Compile the Java sources into ``out`` with ``javac`` and return the class files, sorted."""
    from ..java import anserini_jar

    sources = sorted(str(p) for p in JAVA_DIR.rglob("*.java"))
    try:
        subprocess.run(["javac", "--release", RELEASE, "-encoding", "UTF-8", "-cp", anserini_jar(), "-d", str(out),
                        *sources], check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise JavaError("javac not found: install a JDK 17 or newer (Debian: apt-get install default-jdk-headless) "
                        "to rebuild the jar") from None
    except subprocess.CalledProcessError as e:
        raise JavaError(f"javac failed: {e.stderr.strip()}") from None
    return sorted(out.rglob("*.class"))


def build_jar(jar: Path = JAR) -> Path:
    """Compile the sources and write them as ``jar``: entries in name order with a fixed date, so the same
    compiler makes the same bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        classes = compile_classes(Path(tmp))
        part = jar.with_suffix(".jar.part")
        with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as z:
            for path in classes:
                info = zipfile.ZipInfo(path.relative_to(tmp).as_posix(), _EPOCH)
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, path.read_bytes())
        part.replace(jar)
    return jar


if __name__ == "__main__":
    print(f"built {build_jar()}", file=sys.stderr)
