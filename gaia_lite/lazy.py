"""Names a package exports without importing the modules behind them until first use, so that ``import
gaia_lite`` stays cheap (no JVM, torch, faiss or gradio)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, tuple[str, ...]]) -> tuple[list[str], Callable[[str], object]]:
    """``__all__`` and a module ``__getattr__`` for ``package`` exporting, from each module of ``exports``
    (``{module: (name, ...)}``), those names, each imported when first asked for."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(where[name]), name)

    return list(where), __getattr__
