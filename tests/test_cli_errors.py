"""Every error a user can cause at the command line: one line on stderr (``error: …``, saying what to do), exit
status 2, never a traceback; a closed stdout ends quietly with status 141; JVM options set after the JVM started
are refused; a missing optional package names its ``pip install`` line.

The table runs the CLI in-process (``main(argv)``; argparse's ``SystemExit`` counts as the exit status) against
real corpora built once per module with the CLI itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gaia_lite.cli import BROKEN_PIPE_STATUS, main

from .conftest import TINY_DOCS, write_jsonl
from .test_experiments import _beir_folder


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    """``main(argv)``'s exit status (argparse's SystemExit included), stdout and stderr."""
    try:
        status = main(argv)
    except SystemExit as e:
        status = e.code
    out, err = capsys.readouterr()
    return status, out, err


def _subprocess_env(root: str) -> dict[str, str]:
    """The environment of a `gaia-lite` subprocess: offline, with ``root`` as the indexes root."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "GAIA_LITE_HOME": root}


@pytest.fixture(scope="module")
def env(tmp_path_factory, tiny_jsonl):
    """Paths the rows refer to: a root with corpus ``c`` (sparse flat index only) and ``cd`` (sparse and a flat
    dense index), all built with the CLI, and a set of bad inputs."""
    base = tmp_path_factory.mktemp("cli_errors")
    root = base / "root"
    for name in ("c", "cd"):
        assert main(["corpus", str(tiny_jsonl), "--name", name, "--root", str(root), "--no-progress"]) == 0
        assert main(["index", "sparse", name, "--root", str(root), "--no-progress"]) == 0
    assert main(["index", "dense", "cd", "--root", str(root), "--dtype", "float32", "--no-progress"]) == 0
    assert (root / "c" / "sparse-flat").is_dir() and not list((root / "c").glob("dense-*"))
    assert (root / "cd" / "dense-all-minilm-l6-v2").is_dir()
    # Documents of ~80 kB each: a few hits as JSON are far more than a pipe holds (64 kB).
    long = [dict(d, text=" ".join([d["text"]] * 500)) for d in TINY_DOCS]
    big = write_jsonl(base / "big.jsonl", long)
    assert main(["corpus", str(big), "--name", "big", "--root", str(root), "--no-progress"]) == 0
    assert main(["index", "sparse", "big", "--root", str(root), "--no-progress"]) == 0

    bad = base / "bad"
    bad.mkdir()
    write_jsonl(bad / "malformed.jsonl", TINY_DOCS[:2], raw_lines=['{"_id": "x", "text": \n'])
    write_jsonl(bad / "dup.jsonl", [TINY_DOCS[0], TINY_DOCS[1], TINY_DOCS[0]])
    write_jsonl(bad / "latin1.jsonl", TINY_DOCS[:1], raw_lines=[b'{"_id": "x", "text": "caf\xe9"}\n'])
    write_jsonl(bad / "array.jsonl", TINY_DOCS[:1], raw_lines=['["not", "an", "object"]\n'])
    (bad / "empty.jsonl").write_text("\n\n")
    (bad / "notes.txt").write_text("hello\n")
    (bad / "damaged.parquet").write_bytes(b"PAR1 and then nothing a parquet reader wants")
    (bad / "damaged.jsonl.gz").write_bytes(b"not gzip at all\n")
    (bad / "notbeir").mkdir()
    (bad / "emptyfolder").mkdir()
    (bad / "unknown_key.yaml").write_text("name: x\nretriever:\n  kind: bm25\n  sparse:\n    k3: 1\n")
    (bad / "list.yaml").write_text("- name: x\n- k: 10\n")
    (bad / "invalid.yaml").write_text("name: [unclosed\n")
    (bad / "bm25.yaml").write_text("name: b\nk: 10\n")
    (bad / "occupied").mkdir()
    (bad / "occupied" / "keep.txt").write_text("not a dry run\n")
    beir = _beir_folder(base)
    return {"root": str(root), "bad": str(bad), "beir": str(beir), "tmp": str(base)}


# (id, argv, fragment(s) of the one-line message that tell the user what to do). "{root}", "{bad}", "{beir}" and
# "{tmp}" are filled from the env fixture.
R = ["--root", "{root}"]
C = ["--root", "{root}", "--no-progress"]  # corpus rows: no progress bar on stderr (see test_progress_bar_then_...)
EVAL = ["--root", "{tmp}/eval-root", "--runs-dir", "{tmp}/runs", "--no-progress"]
ROWS = [
    # --- search: arguments ---
    ("search-k-0", ["search", "c", "q", "-k", "0", *R], "expected a whole number >= 1, got '0'"),
    ("search-k-negative", ["search", "c", "q", "-k", "-1", *R], "expected a whole number >= 1, got '-1'"),
    ("search-k-abc", ["search", "c", "q", "-k", "abc", *R], "expected a whole number >= 1, got 'abc'"),
    ("search-k-float", ["search", "c", "q", "-k", "2.5", *R], "expected a whole number >= 1"),
    ("search-depth-0", ["search", "c", "q", "--depth", "0", *R], "depth must be positive (a whole number), got 0"),
    ("search-depth-abc", ["search", "c", "q", "--depth", "abc", *R], "argument --depth: invalid int value: 'abc'"),
    ("search-bm25-depth-0", ["search", "c", "q", "--bm25-depth", "0", *R], "bm25_depth must be positive"),
    ("search-max-length-0", ["search", "c", "q", "--max-length", "0", *R], "max_length must be positive"),
    ("search-pooling-bogus", ["search", "c", "q", "--pooling", "sum", *R],
     ("invalid choice: 'sum'", "mean", "cls", "max")),
    ("search-fusion-bogus", ["search", "c", "q", "--fusion", "bogus", *R],
     ("invalid choice: 'bogus'", "rrf", "weighted", "pyserini")),
    ("search-retriever-bogus", ["search", "c", "q", "--retriever", "bogus", *R],
     ("invalid choice: 'bogus'", "bm25", "dense", "hybrid")),
    ("search-fields-bogus", ["search", "c", "q", "--fields", "both", *R],
     ("invalid choice: 'both'", "flat", "multifield")),
    ("search-normalization-bogus", ["search", "c", "q", "--normalization", "l2", *R],
     ("invalid choice: 'l2'", "minmax", "zscore")),
    ("search-ef-search-0", ["search", "c", "q", "--ef-search", "0", *R], "ef_search must be positive"),
    ("search-hnsw-m-is-a-build-setting", ["search", "c", "q", "--hnsw-m", "8", *R],
     "unrecognized arguments: --hnsw-m"),
    ("search-unknown-flag", ["search", "c", "q", "--top", "3", *R], "unrecognized arguments: --top"),
    ("search-missing-query", ["search", "c"], "required: query"),
    ("search-bm25-weight-above-1", ["search", "c", "q", "--bm25-weight", "1.5", *R],
     "bm25_weight must be between 0 and 1, got 1.5"),
    ("search-bm25-weight-negative", ["search", "c", "q", "--bm25-weight", "-0.1", *R],
     "bm25_weight must be between 0 and 1, got -0.1"),
    ("search-bm25-weight-nan", ["search", "c", "q", "--bm25-weight", "nan", *R], "bm25_weight must be between 0 and 1"),
    ("search-bm25-weight-text", ["search", "c", "q", "--bm25-weight", "half", *R], "invalid float value: 'half'"),
    ("search-bm25-weight-pyserini", ["search", "c", "q", "--bm25-weight", "0.3", "--fusion", "pyserini", *R],
     "bm25_weight does not apply to pyserini fusion"),
    ("search-rrf-k-negative", ["search", "c", "q", "--rrf-k", "-1", *R], "rrf_k must be >= 0"),
    ("search-alpha-negative", ["search", "c", "q", "--alpha", "-1", *R], "alpha must be >= 0"),
    ("search-k1-negative", ["search", "c", "q", "--k1", "-1", *R], "k1 must be >= 0"),
    ("search-b-above-1", ["search", "c", "q", "--b", "2", *R], "b must be between 0 and 1"),
    ("search-language-bogus", ["search", "c", "q", "--language", "e1", *R], "language code such as 'en'"),
    ("search-empty-query", ["search", "c", "", *R], "the query is empty: give words to search for"),
    ("search-blank-query", ["search", "c", "   ", *R], "the query is empty: give words to search for"),
    # --- search: artifacts ---
    ("search-unknown-corpus", ["search", "nope", "q", *R], "gaia-lite corpus"),
    ("search-bad-hub-spec", ["search", "hf://x", "q", *R], "write it as owner/name or hf://owner/name"),
    ("search-dense-unknown-model", ["search", "c", "q", "--retriever", "dense", "--model", "nope/model", *R],
     "gaia-lite index dense"),
    ("search-dense-other-model-lists-built", ["search", "cd", "q", "--retriever", "dense", "--model", "nope/model", *R],
     "built: dense-all-minilm-l6-v2"),
    ("search-dense-hnsw-not-built", ["search", "cd", "q", "--retriever", "dense", "--index-type", "hnsw", *R],
     "--index-type hnsw"),
    ("search-hybrid-no-dense", ["search", "c", "q", "--retriever", "hybrid", *R], "gaia-lite index dense"),
    ("search-multifield-not-built", ["search", "c", "q", "--fields", "multifield", *R],
     "gaia-lite index sparse"),
    ("search-krovetz-not-built", ["search", "c", "q", "--stemmer", "krovetz", *R], "--stemmer krovetz"),
    ("search-config-missing", ["search", "c", "q", "--config", "{bad}/missing.yaml", *R], "config file not found"),
    ("search-config-not-mapping", ["search", "c", "q", "--config", "{bad}/list.yaml", *R], "expected a mapping"),
    ("search-config-unknown-key", ["search", "c", "q", "--config", "{bad}/unknown_key.yaml", *R],
     "unknown key(s) ['k3']; valid keys are"),
    ("search-export-forbidden", ["search", "c", "q", "--export", "/proc/forbidden/x.parquet", *R],
     "/proc/forbidden"),
    ("search-export-into-a-users-folder", ["search", "c", "lucene", "--export", "{bad}/occupied", *R],
     "a folder holding other files"),
    ("search-export-under-a-file", ["search", "c", "lucene", "--export", "{bad}/notes.txt/x.parquet", *R],
     ("{bad}/notes.txt", "check the path")),
    # --- eval / tune ---
    ("eval-no-such-folder", ["eval", "/no/such/folder", *EVAL], "not a BEIR-format collection"),
    ("eval-not-beir", ["eval", "{bad}/notbeir", *EVAL], "missing {bad}/notbeir/corpus.jsonl"),
    ("eval-nothing", ["eval", *EVAL], "give a BEIR-format folder, or a --config"),
    ("eval-config-missing", ["eval", "--config", "{bad}/missing.yaml", *EVAL], "config file not found"),
    ("eval-config-unknown-key", ["eval", "{beir}", "--config", "{bad}/unknown_key.yaml", *EVAL],
     "unknown key(s) ['k3']"),
    ("eval-config-not-mapping", ["eval", "{beir}", "--config", "{bad}/list.yaml", *EVAL],
     "expected a mapping, got list"),
    ("eval-config-invalid-yaml", ["eval", "{beir}", "--config", "{bad}/invalid.yaml", *EVAL], "invalid YAML"),
    ("eval-config-is-folder", ["eval", "{beir}", "--config", "{bad}/notbeir", *EVAL], "is a folder, not a config"),
    ("eval-name-with-two-configs", ["eval", "{beir}", "--config", "{bad}/bm25.yaml", "--config", "{bad}/bm25.yaml",
                                    "--name", "x", *EVAL], "give one --config with it"),
    ("eval-dump-config-two-configs", ["eval", "{beir}", "--config", "{bad}/bm25.yaml", "--config",
                                      "{bad}/bm25.yaml", "--dump-config", "{tmp}/d.yaml", *EVAL],
     "give at most one --config"),
    ("eval-split-missing", ["eval", "{beir}", "--split", "dev", *EVAL], "qrels/dev.tsv"),
    ("eval-k-0", ["eval", "{beir}", "-k", "0", *EVAL], "argument -k: expected a whole number >= 1"),
    ("eval-bm25-weight", ["eval", "{beir}", "--bm25-weight", "7", *EVAL], "bm25_weight must be between 0 and 1"),
    ("tune-no-config", ["tune", "{beir}"], "required: --config"),
    ("tune-bm25-config", ["tune", "{beir}", "--config", "{bad}/bm25.yaml", "--root", "{tmp}/eval-root",
                          "--no-progress"], "tuning needs a hybrid retriever"),
    # --- corpus ---
    ("corpus-no-such-file", ["corpus", "/no/such.jsonl", *C], "/no/such.jsonl: no such file"),
    ("corpus-malformed", ["corpus", "{bad}/malformed.jsonl", *C], "malformed.jsonl:3: malformed JSON"),
    ("corpus-duplicate-ids", ["corpus", "{bad}/dup.jsonl", *C], "de-duplicate the source"),
    ("corpus-latin1", ["corpus", "{bad}/latin1.jsonl", *C], "re-encode the file as UTF-8"),
    ("corpus-not-object", ["corpus", "{bad}/array.jsonl", *C], "expected a JSON object per line, got list"),
    ("corpus-empty", ["corpus", "{bad}/empty.jsonl", *C], "empty.jsonl"),
    ("corpus-unknown-file-type", ["corpus", "{bad}/notes.txt", *C], "pass --format jsonl"),
    ("corpus-unknown-folder", ["corpus", "{bad}/emptyfolder", *C], "pass --format"),
    ("corpus-damaged-parquet", ["corpus", "{bad}/damaged.parquet", *C], "not a readable parquet file"),
    ("corpus-damaged-gzip", ["corpus", "{bad}/damaged.jsonl.gz", *C], "the file is damaged"),
    ("corpus-not-a-saved-dataset", ["corpus", "{bad}/damaged.parquet", "--format", "disk", *C],
     "not a dataset saved with save_to_disk"),
    ("corpus-hub-dataset-offline", ["corpus", "owner/nosuch", *C], "download it and pass a local path"),
    ("corpus-unknown-builtin", ["corpus", "builtin:nope", *C], "built-in corpora: docstrings"),
    ("corpus-id-column-missing", ["corpus", "{beir}/corpus.jsonl", "--id-column", "nope", "--name", "idc", *C],
     "nope"),
    ("corpus-text-column-missing", ["corpus", "{beir}/corpus.jsonl", "--text-column", "nope", "--name", "tc", *C],
     "pass --text-column"),
    ("corpus-root-is-a-file", ["corpus", "{beir}/corpus.jsonl", "--name", "r", "--root", "{bad}/notes.txt",
                               "--no-progress"], ("Not a directory: {bad}/notes.txt/r", "check the path")),
    ("corpus-limit-0", ["corpus", "{beir}/corpus.jsonl", "--limit", "0", *C], "argument --limit"),
    ("corpus-name-is-a-path", ["corpus", "{beir}/corpus.jsonl", "--name", "../evil", *C], ("no '/'", "--root")),
    ("corpus-format-bogus", ["corpus", "{beir}", "--format", "csv", *C], ("invalid choice: 'csv'", "jsonl", "parquet")),
    # --- index ---
    ("index-no-kind", ["index"], "required"),
    ("index-sparse-unknown-corpus", ["index", "sparse", "nope", *R], "gaia-lite corpus"),
    ("index-sparse-threads-0", ["index", "sparse", "c", "--threads", "0", *R], "argument --threads"),
    ("index-sparse-out-is-a-file", ["index", "sparse", "c", "--out", "{bad}/notes.txt", "--no-progress", *R],
     ("{bad}/notes.txt exists and is not something gaia_lite built", "choose another output folder")),
    ("index-sparse-out-is-a-users-folder", ["index", "sparse", "c", "--out", "{bad}/occupied", "--no-progress", *R],
     "{bad}/occupied exists and is not something gaia_lite built"),
    ("index-dense-batch-size-0", ["index", "dense", "c", "--batch-size", "0", *R],
     "batch_size must be positive (a whole number), got 0"),
    ("index-dense-unknown-model", ["index", "dense", "c", "--model", "nope/model", *R], "hf download nope/model"),
    ("index-dense-hnsw-m-0", ["index", "dense", "c", "--hnsw-m", "0", *R], "hnsw_m must be positive"),
    ("index-dense-workers-0", ["index", "dense", "c", "--workers", "0", *R], "workers must be positive"),
    ("index-sparse-k1-is-a-search-setting", ["index", "sparse", "c", "--k1", "1", *R], "unrecognized arguments: --k1"),
    # --- passages ---
    ("passages-window-0", ["passages", "c", "--window", "0", *R], "argument --window: expected a whole number >= 1"),
    ("passages-stride-above-window", ["passages", "c", "--window", "10", "--stride", "20", *R],
     "1 <= stride <= window"),
    ("passages-unknown-corpus", ["passages", "nope", *R], "gaia-lite corpus"),
    # --- app / space / demo ---
    ("app-port-70000", ["app", "c", "--port", "70000", *R], "a port is a number from 1 to 65535, got '70000'"),
    ("app-port-abc", ["app", "c", "--port", "abc", *R], "a port is a number from 1 to 65535"),
    ("app-unknown-corpus", ["app", "nope", *R], "gaia-lite corpus"),
    ("app-bm25-weight", ["app", "c", "--bm25-weight", "2", *R], "bm25_weight must be between 0 and 1"),
    ("space-no-action", ["space"], "required"),
    ("space-unknown-corpus", ["space", "build", "nope", "--out", "{tmp}/space", *R], "gaia-lite corpus"),
    ("demo-k-0", ["demo", "-k", "0", *R], "argument -k"),
    # --- push / pull ---
    ("push-bad-repo-id", ["push", "c", "not-a-repo-id", "--dry-run", "{tmp}/dry", *R], "write it as owner/name"),
    ("push-unknown-corpus", ["push", "nope", "owner/name", "--dry-run", "{tmp}/dry", *R], "gaia-lite corpus"),
    ("push-dry-run-occupied", ["push", "c", "owner/name", "--dry-run", "{bad}/occupied", *R],
     "pass an empty or new folder"),
    ("push-results-missing", ["push", "c", "owner/name", "--results", "{bad}/missing.json", "--dry-run", "{tmp}/dry2",
                              "--no-progress", *R], "pass the .json that `gaia-lite eval --table` writes"),
    ("pull-no-such-folder", ["pull", "./no/such/folder", *R], "give a folder written by `gaia-lite push --dry-run`"),
    ("pull-not-a-push", ["pull", "{bad}/emptyfolder", *R], "push it with `gaia-lite push"),
    ("pull-bad-repo-id", ["pull", "not a repo!", *R], "write it as owner/name"),
    ("pull-offline", ["pull", "owner/name", *R], ("cannot pull from owner/name", "HF_HUB_OFFLINE")),
    ("search-hub-offline", ["search", "hf://owner/name", "q", *R], ("cannot pull from owner/name", "HF_HUB_OFFLINE")),
    ("push-no-token", ["push", "c", "owner/name", *R], "hf auth login"),
    # --- contamination, duplicates ---
    ("contamination-unknown-field", ["contamination", "c", "{beir}", "--field", "nope", "--no-progress", *R],
     "unknown field 'nope'"),
    ("contamination-empty-benchmark", ["contamination", "c", "{bad}/empty.jsonl", *R], "the benchmark has no items"),
    ("contamination-duplicate-items", ["contamination", "c", "{bad}/dup.jsonl", *R], "occurs twice"),
    ("contamination-ngram-0", ["contamination", "c", "{beir}", "--ngram", "0", *R], "ngram must be positive"),
    ("contamination-no-such-split", ["contamination", "c", "{beir}", "--split", "dev", *R], "no qrels/dev.tsv"),
    ("contamination-no-corpus", ["contamination", "nosuch", "{beir}", *R], "build it with `gaia-lite corpus"),
    ("contamination-output-occupied", ["contamination", "c", "{beir}", "--output", "{bad}/occupied", "--no-progress",
                                       *R], "holding other files"),
    ("duplicates-threshold", ["duplicates", "c", "--threshold", "2", *R], "threshold must be between 0 and 1"),
    ("duplicates-shingle-0", ["duplicates", "c", "--shingle", "0", *R], "shingle must be positive"),
    ("duplicates-num-perm-1", ["duplicates", "c", "--num-perm", "1", *R], "num_perm must be >= 2"),
    ("duplicates-no-corpus", ["duplicates", "nosuch", *R], "build it with `gaia-lite corpus"),
    # --- audit, count, overlap ---
    ("audit-ngrams-0", ["audit", "c", "--ngrams", "0", *R], "n-gram sizes from 1 to 50"),
    ("audit-ngrams-51", ["audit", "c", "--ngrams", "2,51", *R], "n-gram sizes from 1 to 50"),
    ("audit-ngrams-abc", ["audit", "c", "--ngrams", "a,b", *R], "comma-separated whole numbers"),
    ("audit-top-0", ["audit", "c", "--top", "0", *R], "top must be positive"),
    ("audit-no-column", ["audit", "c", "--columns", "nope", *R], "nope"),
    ("audit-no-corpus", ["audit", "nosuch", *R], "build it with `gaia-lite corpus"),
    ("count-no-audit", ["count", "c", "the", *R], "run `gaia-lite audit"),
    ("count-no-words", ["count", "c", " ?! -- ", *R], "has no words"),
    ("count-no-corpus", ["count", "nosuch", "the", *R], "build it with `gaia-lite corpus"),
    ("overlap-no-second", ["overlap", "c", "nosuch", *R], "gaia-lite corpus"),
    ("overlap-ngram-0", ["overlap", "c", "c", "--ngram", "0", *R], "ngram must be positive"),
    ("overlap-ngram-51", ["overlap", "c", "c", "--ngram", "51", *R], "ngram must be from 1 to 50"),
    # --- serve ---
    ("serve-no-corpus", ["serve", "nosuch", "--ray", "127.0.0.1:9", *R], "build it with `gaia-lite corpus"),
    ("serve-replicas-0", ["serve", "c", "--ray", "auto", "--replicas", "0", *R], "expected a whole number >= 1"),
    ("serve-part-timeout-0", ["serve", "c", "--ray", "auto", "--part-timeout", "0", *R],
     "expected a number of seconds > 0"),
    # --- the command itself ---
    ("no-command", [], "required: {corpus"),
    ("unknown-command", ["serv"], "invalid choice: 'serv'"),
]


@pytest.mark.parametrize("argv, fragment", [pytest.param(a, f, id=i) for i, a, f in ROWS])
def test_user_errors_are_one_line_and_exit_2(argv, fragment, env, capsys, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)  # push-no-token; HF_HOME is the session's empty one
    argv = [a.format(**env) for a in argv]
    fragments = [f.replace("{bad}", env["bad"]) for f in ((fragment,) if isinstance(fragment, str) else fragment)]
    status, out, err = _run(argv, capsys)
    assert status == 2, (status, out, err)
    assert "Traceback" not in out + err
    assert err.startswith("error: ") and err.endswith("\n") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err


def test_the_table_covers_every_command():
    from gaia_lite.cli import COMMANDS

    assert len(ROWS) >= 25 and len({i for i, _, _ in ROWS}) == len(ROWS)
    assert set(COMMANDS) <= {argv[0] for _, argv, _ in ROWS if argv}


def test_failed_builds_leave_nothing(env):
    """The rows that refused a source built nothing under the root; the refused dry runs wrote no folder."""
    names = sorted(p.name for p in Path(env["root"]).iterdir())
    assert names == ["big", "c", "cd"], names
    assert not Path(env["tmp"], "dry").exists() and not Path(env["tmp"], "dry2").exists()
    assert not Path(env["tmp"], "space").exists()
    assert Path(env["bad"], "notes.txt").read_text() == "hello\n"
    assert sorted(p.name for p in Path(env["bad"], "occupied").iterdir()) == ["keep.txt"]


def test_progress_bar_then_one_error_line(env, capsys):
    """With progress shown, the bar comes first (tqdm redraws it with carriage returns) and the error is the one
    line after it."""
    status, out, err = _run(["corpus", f"{env['bad']}/malformed.jsonl", "--root", env["root"]], capsys)
    assert status == 2 and "Traceback" not in out + err
    bar, error_line = err.rstrip("\n").rsplit("\n", 1)
    assert "\n" not in bar and "docs" in bar
    assert error_line.startswith("error: ") and "malformed.jsonl:3: malformed JSON" in error_line


def test_an_unreachable_hub_is_one_line(env, tmp_path):
    """The Hub client's own message spans lines; the CLI still prints one. (A subprocess: huggingface_hub reads
    HF_HUB_OFFLINE and HF_ENDPOINT when imported.)"""
    import socket

    with socket.socket() as s:  # a port nothing listens on: connections are refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = subprocess.run([sys.executable, "-m", "gaia_lite", "pull", "owner/name", "--root", str(tmp_path)],
                         capture_output=True, text=True, timeout=120,
                         env={**_subprocess_env(env["root"]), "HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf"),
                              "HF_ENDPOINT": f"http://127.0.0.1:{port}"})
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("error: cannot pull from owner/name") and out.stderr.count("\n") == 1, out.stderr
    assert "check the repo id, your token's access, and the network" in out.stderr
    assert "Traceback" not in out.stdout + out.stderr


# --- a closed stdout ------------------------------------------------------------------------------------------

def _no_traceback(err: str) -> None:
    for marker in ("Traceback", "BrokenPipeError", "Exception ignored", "Error"):
        assert marker not in err, err


def test_stdout_closed_before_reading_exits_141_quietly(env):
    p = subprocess.Popen([sys.executable, "-m", "gaia_lite", "search", "c", "search engine", "--json", "-k", "8"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_subprocess_env(env["root"]))
    p.stdout.close()  # the reader is gone before the first byte
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == BROKEN_PIPE_STATUS, err
    _no_traceback(err)
    assert err == ""


def test_piped_into_head_exits_141_quietly(env):
    """`gaia-lite search ... --json | head -1` over hits far larger than a pipe's buffer: head exits after the
    first line while the CLI is still writing."""
    err_file = Path(env["tmp"], "head.err")
    script = (f"{sys.executable} -m gaia_lite search big 'search engine' --json -k 8 2>{err_file} | head -1; "
              'echo "status=${PIPESTATUS[0]}"')
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=_subprocess_env(env["root"]),
                         timeout=120)
    assert out.stdout.splitlines() == ["[", f"status={BROKEN_PIPE_STATUS}"], out
    err = err_file.read_text()
    _no_traceback(err)
    assert err == ""


def test_eval_into_a_closed_pipe_exits_141_quietly(env):
    """`eval` prints as it goes (what it built, then the table); the reader is gone before the first line."""
    err_file = Path(env["tmp"], "eval.err")
    script = (f"{sys.executable} -m gaia_lite eval {env['beir']} --root {env['tmp']}/pipe-root --runs-dir "
              f"{env['tmp']}/pipe-runs --no-progress 2>{err_file} | head -n 0; "
              'echo "status=${PIPESTATUS[0]}"')
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=_subprocess_env(env["root"]),
                         timeout=180)
    assert out.stdout.splitlines() == [f"status={BROKEN_PIPE_STATUS}"], out
    err = err_file.read_text()
    _no_traceback(err)
    assert err == ""
    # Like a program killed by SIGPIPE, it stops at a failed write; what it had finished building is whole.
    from gaia_lite.corpus import Corpus

    assert len(Corpus.load(Path(env["tmp"]) / "pipe-root" / "tinybeir", verify=True)) == len(TINY_DOCS)


# --- JVM options after the JVM started ------------------------------------------------------------------------

def test_jvm_options_given_after_start_raise_and_restoring_them_works(tiny_jsonl, tmp_path):
    code = textwrap.dedent(f"""
        import contextlib, io, json, os
        from gaia_lite import java
        from gaia_lite.cli import main
        from gaia_lite.corpus import build_corpus
        from gaia_lite.errors import JavaError
        from gaia_lite.retriever import open_searcher
        from gaia_lite.sparse import build_sparse_index

        os.environ.pop("GAIA_LITE_JAVA_OPTS", None)
        c, _ = build_corpus({str(tiny_jsonl)!r}, "t", root={str(tmp_path)!r}, progress=False)
        build_sparse_index(c, progress=False)
        with open_searcher(c) as s:
            first = s.search("search engine", 1)[0].doc_id
        os.environ["GAIA_LITE_JAVA_OPTS"] = "-Xmx1g"
        for attempt in (java.start_jvm, lambda: open_searcher(c), lambda: build_sparse_index(c, fields="multifield")):
            try:
                attempt()
            except JavaError as e:
                print("REFUSED", e)
            else:
                print("ACCEPTED")
        print("MULTIFIELD BUILT", (c.folder / "sparse-multifield").exists())
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            status = main(["search", c.folder.as_posix(), "lucene"])
        print("CLI", json.dumps([status, err.getvalue()]))
        del os.environ["GAIA_LITE_JAVA_OPTS"]
        runtime = java.start_jvm()
        with open_searcher(c) as s:
            print("AGAIN", s.search("search engine", 1)[0].doc_id == first, runtime is java.start_jvm())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 6, out.stdout
    for line in lines[:3]:  # start_jvm, opening a searcher, building an index
        assert line.startswith("REFUSED "), line
        assert "['-Xmx1g']" in line and "GAIA_LITE_JAVA_OPTS" in line
        assert "fixed once it starts" in line and "before the first index or search" in line
    assert lines[3] == "MULTIFIELD BUILT False"
    assert lines[4].startswith("CLI ")
    status, err = json.loads(lines[4].removeprefix("CLI "))  # the CLI, in the same process: one line, exit 2
    assert status == 2 and err.startswith("error: the JVM is already running") and err.count("\n") == 1, err
    assert lines[5] == "AGAIN True True"


# --- a missing optional package ---------------------------------------------------------------------------------

def test_app_and_space_without_gradio_name_the_install_line(env):
    code = textwrap.dedent(f"""
        import contextlib, io, json, sys
        sys.modules["gradio"] = None  # as if gradio were not installed
        from gaia_lite.cli import main
        corpus = {str(Path(env['root']) / 'c')!r}
        for argv in (["app", corpus, "--port", "7861"], ["space", "build", corpus, "--out", {env['tmp'] + '/sp'!r}]):
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                status = main(argv)
            print(json.dumps([status, err.getvalue()]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=_subprocess_env(env["root"]))
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    (app_status, app_err), (space_status, space_err) = map(json.loads, out.stdout.splitlines()[-2:])
    for status, err in ((app_status, app_err), (space_status, space_err)):
        assert status == 2 and err.startswith("error: ") and err.count("\n") == 1, err
        assert "needs the package 'gradio', which is not installed: pip install gradio==6.31.0" in err
    assert app_err.startswith("error: the explorer app needs")
    assert space_err.startswith("error: writing a Space needs")
    assert not Path(env["tmp"], "sp").exists()


def test_require_returns_a_present_module_and_names_the_install_line_for_a_missing_one(monkeypatch):
    import json as json_module

    from gaia_lite.errors import GaiaLiteError, MissingDependencyError, require

    assert require("json", "reading JSON") is json_module
    assert require("os.path", "paths") is os.path
    with pytest.raises(MissingDependencyError) as e:
        require("gaia_lite_no_such_module", "the frobnicator", "gaia-lite[frob]")
    assert isinstance(e.value, GaiaLiteError) and e.value.package == "gaia_lite_no_such_module"
    assert str(e.value) == ("the frobnicator needs the package 'gaia_lite_no_such_module', which is not installed: "
                            "pip install gaia-lite[frob]")
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(MissingDependencyError, match=r"pip install faiss-cpu$"):
        require("faiss", "dense search", "faiss-cpu")
    with pytest.raises(MissingDependencyError, match=r"pip install gaia_lite_nothing$"):
        require("gaia_lite_nothing.sub", "x")  # no install line: the top-level package's name


def test_require_lets_a_broken_package_s_own_import_error_through(tmp_path, monkeypatch):
    """A package that is installed but fails importing something else is not reported as missing."""
    (tmp_path / "gaia_lite_broken_pkg.py").write_text("import gaia_lite_missing_inner_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from gaia_lite.errors import require

    with pytest.raises(ImportError) as e:
        require("gaia_lite_broken_pkg", "x")
    assert e.value.name == "gaia_lite_missing_inner_dependency"
    assert type(e.value).__name__ == "ModuleNotFoundError"


def test_json_output_is_unaffected_by_the_error_handling(env, capsys):
    """The happy path still prints only JSON and exits 0 (the error handling did not swallow output)."""
    status, out, err = _run(["search", "c", "search engine", "--json", "-k", "8", "--root", env["root"]], capsys)
    assert status == 0 and err == ""
    assert [h["doc_id"] for h in json.loads(out)] == ["d7", "d4", "d3"]  # the documents that hold the words


def test_sigterm_raises_terminated_only_inside_the_block_and_keeps_a_program_s_own_handler():
    import signal

    from gaia_lite.errors import Terminated, sigterm_raises

    with pytest.raises(Terminated), sigterm_raises():
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(100):  # the handler runs between bytecodes
            pass
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL

    def own(signum, frame):
        own.calls += 1

    own.calls = 0
    signal.signal(signal.SIGTERM, own)
    try:
        with sigterm_raises():
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(100):
                pass
        assert own.calls == 1 and signal.getsignal(signal.SIGTERM) is own
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def test_a_sigterm_that_lands_in_a_weakref_callback_is_not_lost(capsys):
    """Python drops an exception raised inside a weakref callback ("Exception ignored"); a kill landing there
    must still stop the work (a CI run once saw a build exit 0 after SIGTERM this way)."""
    import signal
    import sys
    import time
    import weakref

    from gaia_lite.errors import Terminated, sigterm_raises

    class Node:
        pass

    hook = sys.unraisablehook
    work_finished = []
    with pytest.raises(Terminated), sigterm_raises():
        node = Node()
        ref = weakref.ref(node, lambda _: os.kill(os.getpid(), signal.SIGTERM))
        del node  # the callback runs here, the signal lands inside it, and Python swallows the Terminated
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the work goes on; the Terminated must come back within it
            time.sleep(0.001)
        work_finished.append(True)
    assert ref() is None and not work_finished
    assert "Exception ignored" not in capsys.readouterr().err
    assert sys.unraisablehook is hook and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
