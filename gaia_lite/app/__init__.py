"""The corpus explorer: a Gradio app over a built corpus, runnable locally or as a Hugging Face Space.

``explorer`` holds the handlers (plain Python), with one module per concern beside it: ``search`` (the view of a
search and its results), ``documents`` (documents, filters, overview), ``analysis`` (the audit, duplicates,
contamination), ``exports`` and ``build`` (the dense index built in the background); ``api`` the named endpoints.
``render`` and ``views`` make the safe HTML, ``ui`` the Gradio layout, ``space`` the Space folder. Gradio is
imported only in ``ui``, when an app is built.
"""

from __future__ import annotations

import contextlib
import os
import sys

from ..errors import sigterm_raises
from .build import DenseBuild
from .explorer import Explorer
from .search import View

__all__ = ["DenseBuild", "Explorer", "View", "build_demo", "launch"]

#: How many searches the app runs at once (the page's events and the named API alike); more queue. Lucene,
#: FAISS and torch release the GIL, so a few help on 2 cores: with 8 clients, 4 served 23.5 searches/s and 2
#: served 20.1 (make bench-app, 2026-11-30); unlimited (the API's setting before) ran all 8 at once. Once a
#: search's Python work had been cut by half, 2, 4 and 8 gave 39.0, 42.3 and 41.7 searches/s (p95 255-274 ms,
#: one run each, within this machine's noise), so 4 stays.
CONCURRENCY = 4
#: Gradio summarises the timing of every queued event it remembers (up to 10,000) for its API page, by default
#: after each event: a pandas DataFrame each time, 9 ms of CPU at 1,000 events and 18 ms at 10,000, 12% of the
#: server's CPU in a bench-app profile (gradio 6.31). Every this many events instead (unless set in the
#: environment; the variable is Gradio's, undocumented).
ANALYTICS_EVERY = 1000


def _one_thread_per_search() -> None:
    """A server runs searches side by side, one a core: each query encodes on one torch thread. On torch's two
    it took 14.5 ms of CPU for 7.3 ms; on one, 10.2 ms for 9.4 ms (a SciFact search: 43 -> 26 ms of CPU). The
    setting is the process's, so a background dense build that encodes on every core sets it when it ends."""
    import torch

    torch.set_num_threads(1)


def build_demo(corpus, config=None, *, root=None, title: str | None = None):
    """The explorer over ``corpus`` (a name, folder, ``hf://`` spec, a served corpus's ``http://HOST:PORT/NAME``,
    :class:`~gaia_lite.corpus.Corpus` or :class:`Explorer`) as a ``gr.Blocks``; ``config`` is a
    :class:`~gaia_lite.config.RetrieverConfig`."""
    from .ui import build_demo as _build

    explorer = corpus if isinstance(corpus, Explorer) else Explorer(corpus, config, root=root)
    demo = _build(explorer, title=title)
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(ANALYTICS_EVERY))  # read when the queue is made
    demo.queue(default_concurrency_limit=CONCURRENCY)
    return demo


def launch(corpus, config=None, *, host: str | None = None, port: int | None = None, share: bool = False, root=None,
           build_dense: bool = False, block: bool = True, benchmarks: dict | None = None, **launch_kwargs):
    """Build the explorer over ``corpus`` (as for :func:`build_demo`) and serve it (``host``/``port`` default to
    Gradio's, or ``$GRADIO_SERVER_NAME``/``$GRADIO_SERVER_PORT``); with ``build_dense``, a missing dense index
    is built in the background while BM25 serves; ``benchmarks`` (``{name: Source}``) are offered in the
    Contamination tab. Returns the running ``gr.Blocks``."""
    from .views import CSS

    explorer = corpus if isinstance(corpus, Explorer) else Explorer(corpus, config, root=root, build_dense=build_dense,
                                                                    benchmarks=benchmarks)
    if explorer.dense_build is not None:
        explorer.dense_build.then(_one_thread_per_search)  # the build encodes on every core until it ends
    elif "torch" in sys.modules:  # a dense side is served
        _one_thread_per_search()
    # One search before serving: the first user should not wait for Lucene's and torch's first-call costs.
    explorer.search("warm up")
    demo = build_demo(explorer)
    # Gradio stops serving on KeyboardInterrupt and returns; a SIGTERM (how a Space or a service manager stops
    # the app) then also ends the process through its exit handlers, which remove the app's exports.
    with sigterm_raises() if block else contextlib.nullcontext():
        demo.launch(server_name=host or os.environ.get("GRADIO_SERVER_NAME"),
                    server_port=port or (int(os.environ["GRADIO_SERVER_PORT"])
                                         if os.environ.get("GRADIO_SERVER_PORT") else None),
                    share=share, css=CSS, show_error=False, prevent_thread_lock=not block, footer_links=["api"],
                    **launch_kwargs)
    return demo
