"""Tests for gaia_lite.corpus.docstrings: a fake installed distribution in tmp_path, and the real venv."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gaia_lite.corpus.docstrings import MAX_FILE_BYTES, DocstringStats, iter_docstrings

KEYS = {"id", "title", "text", "package", "version", "module", "object", "kind"}

CORE = '''\
"""Core module.

    Indented second paragraph.
"""
raise RuntimeError("fakepkg.core must never be imported")


class Widget:
    """A widget.

    It does things.
    """

    def spin(self, times):
        """Spin the widget."""

        def helper():
            """Inner helper."""

        return helper

    def empty(self):
        """   """

    async def fetch(self):
        """
        Fetch asynchronously.

            Indented example.
        """


if True:
    def choose():
        """First choose."""
else:
    def choose():
        """Second choose."""

try:
    pass
except ImportError:
    def fallback():
        """Fallback function."""


def undocumented():
    return 1
'''


def _dist(site: Path, dirname: str, name: str, version: str, files: list[str]) -> None:
    info = site / dirname
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    record = [f"{f},," for f in files] + [f"{dirname}/METADATA,,", f"{dirname}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(record) + "\n")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    pkg = tmp_path / "fakepkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""The fake package."""\n\nimport fakepkg.core\n')
    (pkg / "core.py").write_text(CORE)
    (pkg / "broken.py").write_text('"""Looks fine."""\n\ndef oops(:\n    pass\n')
    (pkg / "big.py").write_text('"""Too big to read."""\n' + "#" * (MAX_FILE_BYTES + 1) + "\n")
    (pkg / "sub" / "__init__.py").write_text('def sub_func():\n    """In a subpackage."""\n')
    (pkg / "data.txt").write_text("not python\n")
    (pkg / "with space.py").write_text('"""Not a module name."""\n')
    (tmp_path / "ghost.py").write_text('"""From the duplicate distribution."""\n')
    _dist(
        tmp_path,
        "fake_pkg-1.2.3.dist-info",
        "Fake_Pkg",
        "1.2.3",
        [
            "fakepkg/sub/__init__.py",  # RECORD order is not the corpus order: paths are sorted
            "fakepkg/core.py",
            "fakepkg/__init__.py",
            "fakepkg/broken.py",
            "fakepkg/big.py",
            "fakepkg/missing.py",
            "fakepkg/data.txt",
            "../../bin/tool.py",
            "fakepkg/with space.py",
        ],
    )
    # Same normalized name, higher version in natural order (1.10.0 > 1.2.3): dropped, 1.2.3 comes first.
    _dist(tmp_path, "fake.pkg-1.10.0.dist-info", "fake.pkg", "1.10.0", ["ghost.py"])
    # A second distribution shipping the same module: its id gets a "#2" suffix.
    _dist(tmp_path, "zz_extra-0.1.dist-info", "zz-extra", "0.1", ["fakepkg/__init__.py"])
    return tmp_path


EXPECTED = [
    # (id, title, text, kind, package)
    ("fakepkg", "fakepkg", "The fake package.", "module", "Fake_Pkg"),
    ("fakepkg.core", "fakepkg.core", "Core module.\n\nIndented second paragraph.", "module", "Fake_Pkg"),
    ("fakepkg.core:Widget", "Widget", "A widget.\n\nIt does things.", "class", "Fake_Pkg"),
    ("fakepkg.core:Widget.spin", "Widget.spin", "Spin the widget.", "function", "Fake_Pkg"),
    ("fakepkg.core:Widget.spin.helper", "Widget.spin.helper", "Inner helper.", "function", "Fake_Pkg"),
    (
        "fakepkg.core:Widget.fetch",
        "Widget.fetch",
        "Fetch asynchronously.\n\n    Indented example.",
        "function",
        "Fake_Pkg",
    ),
    ("fakepkg.core:choose", "choose", "First choose.", "function", "Fake_Pkg"),
    ("fakepkg.core:choose#2", "choose", "Second choose.", "function", "Fake_Pkg"),
    ("fakepkg.core:fallback", "fallback", "Fallback function.", "function", "Fake_Pkg"),
    ("fakepkg.sub:sub_func", "sub_func", "In a subpackage.", "function", "Fake_Pkg"),
    ("fakepkg#2", "fakepkg", "The fake package.", "module", "zz-extra"),
]


def test_fake_distribution_records(site: Path) -> None:
    stats = DocstringStats()
    records = list(iter_docstrings(site_dirs=[site], progress=False, stats=stats))
    got = [(r["id"], r["title"], r["text"], r["kind"], r["package"]) for r in records]
    assert got == EXPECTED

    for r in records:
        assert set(r) == KEYS
        assert all(type(v) is str for v in r.values())
        assert r["version"] == ("1.2.3" if r["package"] == "Fake_Pkg" else "0.1")
        assert r["title"] == (r["object"] or r["module"])
        assert r["id"].split("#")[0] == (f"{r['module']}:{r['object']}" if r["object"] else r["module"])
    by_id = {r["id"]: r for r in records}
    assert by_id["fakepkg.core:Widget.spin.helper"]["module"] == "fakepkg.core"
    assert by_id["fakepkg.core:Widget.spin.helper"]["object"] == "Widget.spin.helper"
    assert by_id["fakepkg.sub:sub_func"]["module"] == "fakepkg.sub"
    assert by_id["fakepkg"]["object"] == ""

    # Parsed, never imported (core.py raises on import; __init__.py imports core).
    assert "fakepkg" not in sys.modules and "fakepkg.core" not in sys.modules

    assert stats.distributions == 2
    assert stats.files_parsed == 4  # fakepkg/__init__, core, sub/__init__; zz-extra's fakepkg/__init__
    assert stats.files_failed == 1
    assert stats.failed_paths == [str(site / "fakepkg" / "broken.py")]
    assert stats.files_ignored == 4  # big.py, missing.py, ../../bin/tool.py, "with space.py"
    assert stats.files_skipped == 5
    assert stats.files_total == 9
    assert stats.records == len(EXPECTED)


def test_limit(site: Path) -> None:
    full = list(iter_docstrings(site_dirs=[site], progress=False))
    for n in (0, 1, 3, len(full), len(full) + 5):
        stats = DocstringStats()
        got = list(iter_docstrings(n, site_dirs=[site], progress=False, stats=stats))
        assert got == full[:n]
        assert stats.records == len(got)
    with pytest.raises(ValueError):
        list(iter_docstrings(-1, site_dirs=[site], progress=False))


def test_deterministic(site: Path) -> None:
    first = list(iter_docstrings(site_dirs=[site], progress=False))
    second = list(iter_docstrings(site_dirs=[str(site)], progress=False))
    assert first == second
    assert len({r["id"] for r in first}) == len(first)


def test_returns_stats_and_shows_progress(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gen = iter_docstrings(site_dirs=[site], progress=True)
    with pytest.raises(StopIteration) as stop:
        while True:
            next(gen)
    assert isinstance(stop.value.value, DocstringStats)
    assert stop.value.value.records == len(EXPECTED)
    captured = capsys.readouterr()
    assert "Reading docstrings" in captured.err
    assert captured.out == ""


def test_no_distributions(tmp_path: Path) -> None:
    stats = DocstringStats()
    assert list(iter_docstrings(site_dirs=[tmp_path], progress=False, stats=stats)) == []
    assert stats.distributions == 0 and stats.files_total == 0


def test_real_environment() -> None:
    records = list(iter_docstrings(2000, progress=False))
    assert len(records) == 2000  # the venv holds far more docstrings than that
    assert len({r["id"] for r in records}) == len(records)
    for r in records:
        assert set(r) == KEYS
        assert all(isinstance(v, str) for v in r.values())
        assert r["text"].strip()
        assert r["kind"] in {"module", "class", "function"}
