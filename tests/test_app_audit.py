"""The explorer's Overview of a corpus's audit (plots, tables, downloads), the Count box beside search, the
``/audit`` and ``/count`` endpoints, and two things users met on the page: a single listed benchmark is chosen
already, and an error shows once, as its message. Through the Python handlers, the built page, the API and a
real browser."""

from __future__ import annotations

import pytest

from gaia_lite.app.explorer import Explorer
from gaia_lite.corpus import Source

from .conftest import write_jsonl


def _component(demo, kind, label: str):
    """The one component of class ``kind`` labelled ``label`` in ``demo``."""
    found = [b for b in demo.blocks.values() if isinstance(b, kind) and getattr(b, "label", None) == label]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("names, chosen", [(["bench"], "bench"), (["bench", "other"], None), ([], None)])
def test_a_single_listed_benchmark_is_chosen_already(tiny_corpus, tmp_path, names, chosen):
    import gradio as gr

    from gaia_lite.app.ui import build_demo

    bench = write_jsonl(tmp_path / "b.jsonl", [{"id": "q1", "question": "a question"}])
    demo = build_demo(Explorer(tiny_corpus, benchmarks={n: Source(str(bench)) for n in names}))
    assert _component(demo, gr.Dropdown, "Listed benchmark").value == chosen


def test_a_page_error_is_one_notice_and_leaves_the_outputs_as_they_were(caplog, monkeypatch):
    """On the page, an error is its message once (a raised gr.Error would also put a red "Error" box on each
    output); from an API endpoint it stays an error, for the client to raise. (The browser test sees the page.)"""
    import gradio as gr

    from gaia_lite.app import ui
    from gaia_lite.errors import InputError

    def fails(what):
        if what == "input":
            raise InputError("choose <one> benchmark")
        raise RuntimeError("a secret detail")

    shown = []
    monkeypatch.setattr(ui, "_notice", shown.append)
    assert ui._on_page(fails)("input") == gr.skip()
    assert ui._on_page(fails)("bug") == gr.skip()
    assert shown == ["choose &lt;one&gt; benchmark", "Something went wrong; the server log has the details."]
    assert "a secret detail" in caplog.text  # the details go to the server log, never to the page
    with pytest.raises(gr.Error) as raised:
        ui._safe(fails)("input")
    assert raised.value.message == "choose &lt;one&gt; benchmark"
