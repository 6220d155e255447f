"""Corpus-wide BM25 statistics for a corpus kept as parts, as Elasticsearch's DFS phase gathers them.

Lucene's ``IndexSearcher`` scores with the term and collection statistics of its own index, so a part searched
alone scores with the part's idf and average length, not the corpus's. A search over parts therefore asks each
part for the statistics the query's scoring reads (:meth:`~gaia_lite.sparse.BM25Searcher.local_stats`), sums
them here (:func:`sum_stats`), and scores every part with the sums
(:meth:`~gaia_lite.sparse.BM25Searcher.with_stats`): each document gets the score one index over all the parts
would give it.

The Java side is one class, ``io.gaialite.GlobalStatsSearcher`` (``java/io/gaialite/``), an ``IndexSearcher`` that
takes its statistics from the sums. Its jar ships in the package (``java/gaia-lite.jar``);
``python -m gaia_lite.sparse.global_stats`` (``make jar``) rebuilds it from the source with ``javac`` (a JDK 17 or
newer, e.g. Debian's ``default-jdk-headless``), byte for byte the same where the compiler is the same, which a
test checks.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

from ..errors import JavaError

JAVA_DIR = Path(__file__).parent / "java"
JAR = JAVA_DIR / "gaia-lite.jar"
#: The class file version the jar targets: Java 17, read by any JVM pyserini runs on (21 or newer).
RELEASE = "17"
# Zip entries carry a fixed date so that the same classes make the same jar.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def sum_stats(parts: Iterable[str]) -> str:
    """The corpus-wide statistics: each part's lines (as ``GlobalStatsSearcher.localStats`` writes them) summed
    field by field and term by term, in a stable order."""
    fields: dict[str, list[int]] = {}
    terms: dict[tuple[str, str], list[int]] = {}
    for text in parts:
        for line in text.splitlines():
            kind, *cols = line.split("\t")
            key, values = ((cols[0], cols[1:]) if kind == "F" else ((cols[0], cols[1]), cols[2:]))
            table = fields if kind == "F" else terms
            totals = table.setdefault(key, [0] * len(values))
            for i, value in enumerate(values):
                totals[i] += int(value)
    lines = ["F\t" + "\t".join([field, *map(str, v)]) for field, v in sorted(fields.items())]
    lines += ["T\t" + "\t".join([field, term, *map(str, v)]) for (field, term), v in sorted(terms.items())]
    return "".join(line + "\n" for line in lines)


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
