"""``gaia-lite pull``: a corpus pushed with ``gaia-lite push`` fetched into ``indexes/<name>/``, every file
checked before it replaces anything."""

from __future__ import annotations

import time

from .common import add_command, add_common


def add_parser(sub) -> None:
    """The ``pull`` subcommand's parser."""
    p = add_command(sub, "pull", run)
    p.add_argument("repo", help="Hub dataset repo (owner/name or hf://owner/name[@revision]) or a local folder")
    p.add_argument("--revision", help="branch, tag or commit (default: main)")
    p.add_argument("--name", help="local corpus name (default: the repo's name)")
    p.add_argument("--force", action="store_true", help="replace a different corpus already under that name")
    add_common(p)


def run(args) -> int:
    """Fetch a corpus pushed with `gaia-lite push` into indexes/<name>/, verified.

    Download a pushed corpus (or read a local folder with its layout), check every file's sha256 and size, the
    row counts and the content fingerprint, then move it into indexes/<name>/. A failed check leaves the local
    copy as it was.
    """
    from ..hub import pull_corpus

    start = time.perf_counter()
    corpus = pull_corpus(args.repo, revision=args.revision, name=args.name, root=args.root, force=args.force,
                         progress=args.progress)
    artifacts = list(corpus.artifacts())
    print(f"pulled {args.repo}{f'@{args.revision}' if args.revision else ''} in "
          f"{time.perf_counter() - start:.1f} s -> {corpus.folder}: {len(corpus):,} documents, fingerprint "
          f"{corpus.meta.fingerprint[:19]}, verified; artifacts: {', '.join(artifacts)}")
    print(f"next: gaia-lite search {corpus.folder} \"your query\"")
    return 0
