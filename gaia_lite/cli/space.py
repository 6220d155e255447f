"""``gaia-lite space build``: a Hugging Face Space folder that serves the explorer over a built corpus."""

from __future__ import annotations

import time

from .common import add_command, add_common


def add_parser(sub) -> None:
    """The ``space`` subcommand's parser, with ``build`` under it."""
    p = sub.add_parser("space", help="write a Hugging Face Space that serves the explorer")
    kinds = p.add_subparsers(dest="action", required=True, metavar="{build}")
    b = add_command(kinds, "build", run_build)
    b.add_argument("corpus", help="corpus name or folder, or a served corpus's address, http://HOST:PORT/NAME "
                                  "(gaia-lite serve): the Space then searches through that front and carries no index")
    b.add_argument("--name", help="Space name (default: the corpus name)")
    b.add_argument("--out", help="folder to write (default: spaces/<name>)")
    b.add_argument("--hub-repo", help="pull the artifacts from this Hub repo at start instead of copying them in")
    b.add_argument("--title", help="the Space's title")
    add_common(b, progress=False)


def run_build(args) -> int:
    """Write spaces/<name>/: app.py, pinned requirements, README, artifacts.

    Write a Space folder that serves the explorer over a built corpus. `python spaces/<name>/app.py` serves it
    locally; push the folder to a Space (sdk: gradio) to serve it on the Hub.
    """
    from ..app.space import build_space

    start = time.perf_counter()
    folder = build_space(args.corpus, name=args.name, out=args.out, root=args.root, hub_repo=args.hub_repo,
                         title=args.title)
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    print(f"wrote Space {folder} ({size / 2**20:,.1f} MiB) in {time.perf_counter() - start:.1f} s")
    print(f"  serve it here:   python {folder / 'app.py'}")
    print(f"  put it on the Hub: create a Gradio Space, then upload the folder (git push, or "
          f"`huggingface-cli upload <user>/<space> {folder} . --repo-type space`)")
    return 0
