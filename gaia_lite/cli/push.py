"""``gaia-lite push``: a built corpus and its indexes put on the Hugging Face Hub as a dataset repo, in one
commit (or written to a folder with ``--dry-run``)."""

from __future__ import annotations

import time

from .common import add_command, add_common


def add_parser(sub) -> None:
    """The ``push`` subcommand's parser."""
    p = add_command(sub, "push", run)
    p.add_argument("corpus", help="corpus name or folder")
    p.add_argument("repo_id", help="Hub dataset repo, owner/name")
    p.add_argument("--revision", help="branch to push to (created where missing; default: main)")
    p.add_argument("--public", dest="private", action="store_false",
                   help="create the repo public (default: private; an existing repo keeps its visibility)")
    p.add_argument("--results", action="append", default=[], metavar="TABLE.json",
                   help="a results table from `gaia-lite eval --table`, shown in the card; repeatable")
    p.add_argument("--dry-run", metavar="DIR",
                   help="write the exact folder that would be uploaded to DIR; upload nothing")
    add_common(p)


def run(args) -> int:
    """Put a built corpus and its indexes on the Hugging Face Hub (a dataset repo).

    Upload the corpus's Dataset (parquet, loadable with load_dataset), the embeddings of each dense index (a
    config per model), the index folders, a manifest with the sha256 of every file and a dataset card, in one
    commit. The token comes from `hf auth login` or $HF_TOKEN and is never shown.
    """
    from ..hub import push_corpus

    start = time.perf_counter()
    report = push_corpus(args.corpus, args.repo_id, private=args.private, revision=args.revision,
                         dry_run_dir=args.dry_run, results=args.results, root=args.root, progress=args.progress)
    what = (f"{len(report.files)} files ({report.num_bytes / 2**20:,.1f} MiB): dataset, "
            + ", ".join(report.artifacts or ["no indexes"]))
    seconds = time.perf_counter() - start
    if report.folder is not None:
        print(f"dry run: wrote the folder `push` would upload to {args.repo_id}: {what} in {seconds:.1f} s "
              f"-> {report.folder}")
        print(f"nothing was uploaded; check it with: gaia-lite pull {report.folder} --name <name>")
        return 0
    print(f"pushed {what} in {seconds:.1f} s -> {report.url}"
          f"{f' (revision {report.revision})' if report.revision else ''}, "
          f"{'private' if report.private else 'public'}{f', commit {report.commit[:12]}' if report.commit else ''}")
    if report.deleted:
        print(f"  removed {len(report.deleted)} file(s) of an earlier push that this one no longer has")
    spec = f"hf://{report.repo_id}" + (f"@{report.revision}" if report.revision else "")
    print(f"next, anywhere: gaia-lite pull {report.repo_id}  (or: gaia-lite search {spec} \"your query\")")
    return 0
