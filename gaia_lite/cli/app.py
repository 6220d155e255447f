"""``gaia-lite app``: the explorer (a Gradio app) over a built corpus; :func:`add_server` and :func:`serve` are
``demo``'s too."""

from __future__ import annotations

import argparse

from ..config import RetrieverConfig
from ..errors import ConfigError
from .common import add_command, add_common, add_retriever, config_file_retriever, retriever_config


def add_parser(sub) -> None:
    """The ``app`` subcommand's parser."""
    p = add_command(sub, "app", run)
    p.add_argument("corpus", nargs="?", default="docstrings",
                   help="corpus name, folder, hf://owner/repo[@revision], or a served corpus's address, "
                        "http://HOST:PORT/NAME (gaia-lite serve) (default: docstrings)")
    add_retriever(p, kind=False)
    p.add_argument("--config", help="a YAML config whose retriever section gives the settings (flags override it)")
    p.add_argument("--no-dense", dest="dense", action="store_false",
                   help="where no dense index is built, serve BM25 only (default: build it in the background, "
                        "resuming an interrupted build, and turn dense and hybrid on when it is complete)")
    p.add_argument("--benchmark", action="append", default=[], metavar="SOURCE",
                   help="a benchmark the Contamination tab offers (a file, BEIR folder, saved Dataset or Hub "
                        "dataset); repeat for several. Users can also upload one.")
    add_server(p)
    add_common(p, progress=False)


def run(args) -> int:
    """Open the explorer (a Gradio app) over a built corpus.

    Serve the corpus explorer: BM25, dense and hybrid search side by side, documents by id, exact phrases,
    filters, an overview and exports. Needs the corpus's sparse index; the dense side appears where a dense
    index is built. The retriever flags choose the indexes and the page's initial fusion settings. Given a served
    corpus's address (gaia-lite serve), the explorer searches and reads documents through its front, and says
    which parts answered; what needs the whole corpus here (filters, overview, contamination) says so on the page.
    """
    from ..retriever import open_corpus
    from ..serve.client import ServedCorpus

    config = retriever_config(args, config_file_retriever(args.config))
    corpus = open_corpus(args.corpus, root=args.root)
    here = not isinstance(corpus, ServedCorpus)
    if not here and args.benchmark:
        raise ConfigError("--benchmark needs the corpus on this machine, not its address: drop it, or run the "
                          "explorer where the corpus is")
    return serve(corpus, args, config, build_dense=here and args.dense and not corpus.artifacts("dense"),
                 benchmarks=_benchmarks(args.benchmark))


def _benchmarks(locations: list[str]) -> dict:
    """``{name: Source}`` for the app's ``--benchmark`` flags, each checked now (a typo fails at start)."""
    from ..corpus import Source
    from ..corpus.sources import source_name

    out = {}
    for location in locations:
        source = Source(location)
        source.resolved_format()  # raises InputError for a path that is not there
        name = source_name(source)
        out[name if name not in out else location] = source
    return out


def add_server(p: argparse.ArgumentParser) -> None:
    """``--host``, ``--port`` and ``--share``: where the explorer is served."""
    p.add_argument("--host", help="address to serve on (default: 127.0.0.1; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=_port, help="port (default: 7860, or the next free one)")
    p.add_argument("--share", action="store_true", help="also open a temporary public gradio.live link")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535, got {text!r}")
    return port


def serve(corpus, args, config: RetrieverConfig, *, build_dense: bool = False, benchmarks=None) -> int:
    """Serve the explorer over ``corpus`` where ``add_server``'s flags say, until Ctrl+C."""
    from ..app import launch

    print(f"opening the explorer over {corpus.name!r} ({len(corpus):,} documents); Ctrl+C stops it")
    if build_dense:
        print("  BM25 now; the dense index is built in the background (progress on the page), then dense and hybrid "
              "search turn on. Stopping the app keeps the finished shards: the next start goes on from there.")
    try:
        launch(corpus, config, host=args.host, port=args.port, share=args.share, build_dense=build_dense,
               benchmarks=benchmarks)
    except OSError as e:
        if "port" not in str(e):
            raise
        raise ConfigError(f"port {args.port or 7860} is taken (another explorer running?): pass --port with a "
                          "free one, or stop the other server") from None
    return 0
