"""Load on the explorer app: many searches from concurrent gradio_client clients against a served SciFact.

The app runs in its own process (`gaia-lite app`), as a user would start it; the clients are threads here,
each with its own gradio_client.Client, calling the named `/search` endpoint. Every search is checked (a
reply without hits for a query that has some, or any exception, is an error). The peer, run side by side on
the same machine: the same searches through `Explorer.search` in one process, one at a time, with no HTTP,
queue or JSON in between, which is the floor the app's overhead is measured against.

    python benchmarks/bench_app.py --scifact ../shared/data/beir/scifact     # make bench-app

``--quick`` makes a short check run (24 searches from 2 clients, output under benchmarks/out/quick/). The
benchmark uses gaia_lite's public API only (``tests/test_benchmarks.py`` checks it).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter as perf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common, also when imported as a module (tests)
from _common import OtherLoad, log  # noqa: E402  (beside this script)

# What --quick sets, unless given: a short check run.
QUICK = {"searches": 24, "clients": 2, "out": REPO / "benchmarks" / "out" / "quick"}
# Each search cycles through these settings, so the load mixes what the app offers.
MIXES = [
    {"retriever": "hybrid", "fusion": "rrf", "bm25_weight": 0.5},
    {"retriever": "hybrid", "fusion": "weighted", "bm25_weight": 0.4},
    {"retriever": "bm25", "fusion": "rrf", "bm25_weight": 0.5},
    {"retriever": "dense", "fusion": "rrf", "bm25_weight": 0.5},
]


def pct(values, q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))] if values else float("nan")


def summary(ms: list[float]) -> dict:
    return {"n": len(ms), "p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95), "p99_ms": pct(ms, 99),
            "mean_ms": statistics.fmean(ms) if ms else float("nan"), "max_ms": max(ms) if ms else float("nan")}


def prepare(scifact: Path, root: Path) -> Path:
    """SciFact's corpus, Lucene and dense indexes under ``root`` (built where missing)."""
    from gaia_lite.dense import build_dense_index, dense_dir
    from gaia_lite.experiments import ensure_corpus
    from gaia_lite.sparse import build_sparse_index, sparse_dir

    corpus = ensure_corpus(scifact, "scifact", root=root, progress=False, log=log)
    if not sparse_dir(corpus.folder).is_dir():
        build_sparse_index(corpus, progress=False)
    if not dense_dir(corpus.folder).is_dir():
        log("encoding SciFact for the dense index (about 1 min here)")
        build_dense_index(corpus, progress=True)
    return corpus.folder


def queries(scifact: Path) -> list[str]:
    """SciFact's queries, quotes removed: in the app quotes mark exact phrases, and SciFact's quoted words
    ("artificial spermatid") are not meant as one (with them, that query rightly finds nothing)."""
    from gaia_lite.evaluate import load_queries

    return [text.replace('"', " ") for text in load_queries(scifact / "queries.jsonl").values()]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_app(folder: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gaia_lite", "app", str(folder), "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 180
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5):
                return proc
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise SystemExit(f"the app did not start:\n{proc.stdout.read()}")
            time.sleep(1)


def load(url: str, texts: list[str], searches: int, clients: int, k: int, server_pid: int) -> dict:
    from gradio_client import Client

    jobs = [(i, texts[i % len(texts)], MIXES[i % len(MIXES)]) for i in range(searches)]
    lock = threading.Lock()
    results: list[tuple[str, float]] = []
    errors: list[str] = []

    def worker(mine):
        client = Client(url, verbose=False)
        for _, text, mix in mine:
            t = perf()
            try:
                answer = client.predict(text, mix["retriever"], mix["fusion"], mix["bm25_weight"], k, 1, True, None,
                                        "minmax", api_name="/search")
                if len(answer["hits"]) != k:
                    raise ValueError(f"{len(answer['hits'])} hits for {text[:40]!r}")
            except Exception as e:  # noqa: BLE001 - every failure counts as an error
                with lock:
                    errors.append(f"{type(e).__name__}: {str(e)[:200]}")
                continue
            with lock:
                results.append((mix["retriever"] + ("-" + mix["fusion"] if mix["retriever"] == "hybrid" else ""),
                                (perf() - t) * 1000))

    threads = [threading.Thread(target=worker, args=(jobs[c::clients],)) for c in range(clients)]
    server_cpu = cpu_seconds(server_pid)
    with OtherLoad() as other:
        t0 = perf()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = perf() - t0
    server_cpu = cpu_seconds(server_pid) - server_cpu
    by_mix = {}
    for name, ms in results:
        by_mix.setdefault(name, []).append(ms)
    return {"searches": searches, "clients": clients, "ok": len(results), "errors": len(errors),
            "error_samples": errors[:5], "wall_s": wall, "searches_per_s": len(results) / wall,
            "all": summary([ms for _, ms in results]), "by_mix": {m: summary(v) for m, v in sorted(by_mix.items())},
            "server_cpu_ms_per_search": server_cpu * 1000 / max(1, len(results)),
            "clients_cores": other.own_cores, "other_load_cores": max(0.0, other.cores - server_cpu / wall)}


def peer(folder: Path, texts: list[str], searches: int, k: int, *, warmup: int = 10, encoder=None) -> dict:
    """The same searches in-process, one at a time: no server, no HTTP, no JSON. ``warmup`` searches first (model,
    JVM, caches); ``encoder``: an already loaded query encoder for the explorer."""
    from gaia_lite.app.explorer import Explorer, Settings

    explorer = Explorer(folder, encoder=encoder)
    for text in texts[:warmup]:
        explorer.search(text, Settings(k=k))
    ms = []
    by_mix: dict[str, list[float]] = {}
    with OtherLoad() as other:
        t0 = perf()
        for i in range(searches):
            mix = MIXES[i % len(MIXES)]
            t = perf()
            explorer.search(texts[i % len(texts)], Settings(retriever=mix["retriever"], fusion=mix["fusion"],
                                                            bm25_weight=mix["bm25_weight"], k=k))
            ms.append((perf() - t) * 1000)
            by_mix.setdefault(mix["retriever"] + ("-" + mix["fusion"] if mix["retriever"] == "hybrid" else ""),
                              []).append(ms[-1])
        wall = perf() - t0
    return {"searches": searches, "wall_s": wall, "searches_per_s": searches / wall, "all": summary(ms),
            "by_mix": {m: summary(v) for m, v in sorted(by_mix.items())}, "other_load_cores": other.cores,
            "cpu_ms_per_search": other.own_cores * wall * 1000 / searches}


def section(out: dict) -> str:
    a, p = out["app"], out["peer"]
    lines = [
        f"### Explorer under load (`make bench-app`, {out['date']})",
        "",
        f"SciFact ({out['documents']:,} documents), {a['searches']} searches from {a['clients']} concurrent "
        f"gradio_client clients against `gaia-lite app` in its own process, k={out['k']}, the settings cycling "
        "through hybrid RRF, hybrid weighted (0.4), BM25 and dense. Peer: the same searches through "
        "`Explorer.search` in one process, one at a time.",
        "",
        "| | searches | errors | p50 ms | p95 ms | p99 ms | searches/s |",
        "|---|---|---|---|---|---|---|",
        f"| app, {a['clients']} clients | {a['ok']} | {a['errors']} | {a['all']['p50_ms']:.1f} | "
        f"{a['all']['p95_ms']:.1f} | {a['all']['p99_ms']:.1f} | {a['searches_per_s']:.1f} |",
        f"| peer, in-process, 1 at a time | {p['searches']} | 0 | {p['all']['p50_ms']:.1f} | {p['all']['p95_ms']:.1f} | "
        f"{p['all']['p99_ms']:.1f} | {p['searches_per_s']:.1f} |",
        "",
        "| setting | app p50 / p95 ms | peer p50 / p95 ms |",
        "|---|---|---|",
    ]
    for mix in a["by_mix"]:
        lines.append(f"| {mix} | {a['by_mix'][mix]['p50_ms']:.1f} / {a['by_mix'][mix]['p95_ms']:.1f} | "
                     f"{p['by_mix'][mix]['p50_ms']:.1f} / {p['by_mix'][mix]['p95_ms']:.1f} |")
    lines += [
        "",
        f"- Throughput: the app served {a['searches_per_s']:.1f} searches/s, "
        f"{a['searches_per_s'] / p['searches_per_s']:.2f}x the peer's {p['searches_per_s']:.1f}.",
        f"- Latency: the app's p50 is {a['all']['p50_ms'] / p['all']['p50_ms']:.1f}x the peer's; with {a['clients']} "
        f"clients on {out['cpus']} cores, a search mostly waits for a core.",
        f"- CPU per search: the app's server process used {a['server_cpu_ms_per_search']:.1f} ms, the peer "
        f"{p['cpu_ms_per_search']:.1f} ms; the {a['clients']} client threads used {a['clients_cores']:.2f} of the "
        f"{out['cpus']} cores during the load.",
        f"- Other processes used {a['other_load_cores']:.2f} cores during the app run and "
        f"{p['other_load_cores']:.2f} during the peer's.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scifact", type=Path, default=REPO.parent / "shared/data/beir/scifact")
    p.add_argument("--root", type=Path, default=REPO / "benchmarks" / "out" / "indexes")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    p.add_argument("--searches", type=int, default=600)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--quick", action="store_true", help="a short check run: 24 searches from 2 clients, output "
                                                         "under benchmarks/out/quick/ (options given explicitly win)")
    args = p.parse_args(argv)
    if args.quick:  # shrink what was not given explicitly
        p.set_defaults(**QUICK)
        args = p.parse_args(argv)
    if not (args.scifact / "corpus.jsonl").is_file():
        p.error(f"no BEIR SciFact at {args.scifact}")
    folder = prepare(args.scifact, args.root)
    texts = queries(args.scifact)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # The peer runs first, in a process that has not yet started any client thread.
    log("peer: the searches in-process, one at a time")
    peer_result = peer(folder, texts, args.searches, args.k)
    log(f"starting the app over {folder} on port {port}")
    proc = start_app(folder, port)
    try:
        log(f"{args.searches} searches from {args.clients} clients")
        app = load(f"http://127.0.0.1:{port}/", texts, args.searches, args.clients, args.k, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "k": args.k, "cpus": os.cpu_count(),
           "documents": len((args.scifact / "corpus.jsonl").read_text(encoding="utf-8").splitlines()),
           "app": app, "peer": peer_result}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "app.json").write_text(json.dumps(out, indent=1))
    text = section(out)
    (args.out / "app_section.md").write_text(text)
    print(text)
    return 1 if app["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
