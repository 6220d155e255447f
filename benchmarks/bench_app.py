"""Load on the explorer app: many searches from concurrent clients against a served corpus (SciFact by default).

The app runs in its own process (`gaia-lite app`), as a user would start it; the clients are threads here, each
calling the named `/search` API over its own kept-alive HTTP connection (Gradio's REST protocol, as curl would;
the parameters a search does not set take the endpoint's defaults, read from the app's API description).
Every search is checked (a reply with fewer than k hits where more documents match, or any exception, is an
error). The load runs at several levels (1, 2, 4 and 8 clients by default, closed loop: each client sends its
next search when the last one is answered), which gives the searches/s at which p95 crosses 300 ms. The peer, run side by
side on the same machine: the same searches through `Explorer.search` in one process, one at a time, with no
HTTP, queue or JSON in between, which is the floor the app's overhead is measured against. CPU per search is
the server process's own CPU time (from /proc) over the searches it answered.

    python benchmarks/bench_app.py --scifact ../shared/data/beir/scifact     # make bench-app
    python benchmarks/bench_app.py --corpus benchmarks/out/indexes/docstrings  # a corpus built by bench-dense

``--quick`` makes a short check run (24 searches from 2 clients, output under benchmarks/out/quick/). The
benchmark uses gaia_lite's public API only (``tests/test_benchmarks.py`` checks it).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from time import perf_counter as perf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helper modules, also when imported as a module (tests)
from _common import OtherLoad, add_quick, add_scifact, log, parse_args, utc_now, write_json  # noqa: E402
from _queries import first_sentence  # noqa: E402

# What --quick sets, unless given: a short check run.
QUICK = {"searches": 24, "clients": 2, "levels": "", "out": REPO / "benchmarks" / "out" / "quick"}
# Each search cycles through these settings, so the load mixes what the app offers.
# The weighted one is gaia_lite's default hybrid (z-score, equal weights, depth 1000).
MIXES = [
    {"retriever": "hybrid", "fusion": "rrf", "bm25_weight": 0.5, "normalization": "zscore"},
    {"retriever": "hybrid", "fusion": "weighted", "bm25_weight": 0.5, "normalization": "zscore"},
    {"retriever": "bm25", "fusion": "rrf", "bm25_weight": 0.5, "normalization": "zscore"},
    {"retriever": "dense", "fusion": "rrf", "bm25_weight": 0.5, "normalization": "zscore"},
]


def rank_pct(values, q: float) -> float:
    """The ``q``-th percentile of ``values`` by nearest rank (one of the values; NaN where there are none)."""
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))] if values else float("nan")


def summary(ms: list[float]) -> dict:
    return {"n": len(ms), "p50_ms": rank_pct(ms, 50), "p95_ms": rank_pct(ms, 95), "p99_ms": rank_pct(ms, 99),
            "mean_ms": statistics.fmean(ms) if ms else float("nan"), "max_ms": max(ms) if ms else float("nan")}


def mix_name(mix: dict) -> str:
    """``bm25``, ``dense``, ``hybrid-rrf`` or ``hybrid-weighted``: how the tables name a setting of ``MIXES``."""
    return mix["retriever"] + ("-" + mix["fusion"] if mix["retriever"] == "hybrid" else "")


def by_mix(results: list[tuple[str, float]]) -> dict:
    """The :func:`summary` of the milliseconds of each setting, from ``(mix name, ms)`` pairs, by name."""
    ms: dict[str, list[float]] = {}
    for name, value in results:
        ms.setdefault(name, []).append(value)
    return {name: summary(values) for name, values in sorted(ms.items())}


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


class HttpClient:
    """One user of the app's API: Gradio's REST calls (``POST /gradio_api/call/<name>``, then that event's
    stream) over one kept-alive HTTP connection, as curl or a browser would make them. It adds little CPU of its
    own on the machine it shares with the server (gradio_client, used before, took 1.2 of the 2 cores for 8
    clients and starved the server)."""

    def __init__(self, url: str):
        parsed = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
        self.session = uuid.uuid4().hex[:12]  # one session a user, as a browser or gradio_client keeps

    def call(self, name: str, *data):
        """The value endpoint ``name`` returns for ``data``; an error event raises."""
        body = json.dumps({"data": list(data), "session_hash": self.session})
        self.conn.request("POST", f"/gradio_api/call/{name}", body, {"Content-Type": "application/json"})
        answer = self.conn.getresponse()
        body = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"HTTP {answer.status}: {body[:200]!r}")
        self.conn.request("GET", f"/gradio_api/call/{name}/{json.loads(body)['event_id']}")
        answer = self.conn.getresponse()
        event = None
        for line in answer.read().decode("utf-8").splitlines():
            if line.startswith("event: "):
                event = line[7:].strip()
            elif line.startswith("data: ") and event in ("complete", "error"):
                if event == "error":
                    raise RuntimeError(f"error event: {line[6:206]}")
                return json.loads(line[6:])[0]
        raise RuntimeError("the event stream ended without a result")


def endpoint_parameters(url: str, name: str) -> list[tuple[str, object]]:
    """(name, default) of each parameter of the app's endpoint ``name``, in order, from its API description."""
    with urllib.request.urlopen(f"{url.rstrip('/')}/gradio_api/info", timeout=30) as answer:
        parameters = json.loads(answer.read())["named_endpoints"][f"/{name}"]["parameters"]
    return [(p["parameter_name"], p.get("parameter_default")) for p in parameters]


def inputs(parameters: list[tuple[str, object]], **given) -> list:
    """A value for each of an endpoint's ``parameters`` (Gradio's REST call takes them all, in order): ``given``
    by name, the endpoint's defaults for the rest."""
    return [given.get(name, default) for name, default in parameters]


def load(url: str, texts: list[str], searches: int, clients: int, k: int, server_pid: int) -> dict:
    """``searches`` searches from ``clients`` concurrent clients (closed loop), the settings cycling through
    ``MIXES``: latency per setting, errors, throughput, and the CPU the server process used per search."""
    parameters = endpoint_parameters(url, "search")
    jobs = [(texts[i % len(texts)], MIXES[i % len(MIXES)]) for i in range(searches)]
    lock = threading.Lock()
    results: list[tuple[str, float]] = []
    errors: list[str] = []

    def worker(mine):
        client = HttpClient(url)
        for text, mix in mine:
            data = inputs(parameters, query=text, k=k, **mix)  # MIXES name the endpoint's parameters
            t = perf()
            try:
                answer = client.call("search", *data)
                # BM25 finds only the documents holding a query term: the answer's "matches" counts them.
                wanted = k if answer.get("matches") is None else min(k, answer["matches"])
                if len(answer["hits"]) != wanted:
                    raise ValueError(f"{len(answer['hits'])} hits for {text[:40]!r}, {wanted} expected")
            except Exception as e:  # noqa: BLE001 - every failure counts as an error
                with lock:
                    errors.append(f"{type(e).__name__}: {str(e)[:200]}")
                continue
            with lock:
                results.append((mix_name(mix), (perf() - t) * 1000))

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
    return {"searches": searches, "clients": clients, "ok": len(results), "errors": len(errors),
            "error_samples": errors[:5], "wall_s": wall, "searches_per_s": len(results) / wall,
            "all": summary([ms for _, ms in results]), "by_mix": by_mix(results),
            "server_cpu_ms_per_search": server_cpu * 1000 / max(1, len(results)),
            "clients_cores": other.own_cores, "other_load_cores": max(0.0, other.cores - server_cpu / wall)}


def peer(folder: Path, texts: list[str], searches: int, k: int, *, warmup: int = 10, encoder=None) -> dict:
    """The same searches in-process, one at a time: no server, no HTTP, no JSON. ``warmup`` searches first (model,
    JVM, caches); ``encoder``: an already loaded query encoder for the explorer. Each search is the call the app's
    ``/search`` endpoint makes: ``Explorer.search`` with a page of ``k`` hits and the setting's retriever and fusion."""
    from gaia_lite.app import Explorer, View

    explorer = Explorer(folder, encoder=encoder)
    view = View(k=k)
    for text in texts[:warmup]:
        explorer.search(text, view)
    results = []
    with OtherLoad() as other:
        t0 = perf()
        for i in range(searches):
            mix = MIXES[i % len(MIXES)]
            t = perf()
            explorer.search(texts[i % len(texts)], view, kind=mix["retriever"], method=mix["fusion"],
                            bm25_weight=mix["bm25_weight"], normalization=mix["normalization"])
            results.append((mix_name(mix), (perf() - t) * 1000))
        wall = perf() - t0
    return {"searches": searches, "wall_s": wall, "searches_per_s": searches / wall,
            "all": summary([ms for _, ms in results]), "by_mix": by_mix(results), "other_load_cores": other.cores,
            "cpu_ms_per_search": other.own_cores * wall * 1000 / searches}


P95_TARGET_MS = 300.0


def crossing(levels: dict) -> dict:
    """Where p95 crosses ``P95_TARGET_MS`` as the load grows (levels: ``{clients: load result}``): the searches/s
    interpolated between the last level under it and the first over it, or the bound the levels give."""
    points = [(r["searches_per_s"], r["all"]["p95_ms"]) for _, r in sorted(levels.items(), key=lambda kv: int(kv[0]))]
    for i, (rate, p95) in enumerate(points):
        if p95 > P95_TARGET_MS:
            if i == 0:
                return {"searches_per_s": rate, "bound": "below"}
            r0, q0 = points[i - 1]
            return {"searches_per_s": r0 + (P95_TARGET_MS - q0) * (rate - r0) / (p95 - q0), "bound": "at"}
    return {"searches_per_s": points[-1][0], "bound": "above"}


def section(out: dict) -> str:
    a, p = out["app"], out["peer"]
    cross = crossing(out["levels"])
    said = {"at": "at about", "below": "below", "above": "above"}[cross["bound"]]
    met = a["all"]["p95_ms"] <= P95_TARGET_MS and a["errors"] == 0
    lines = [
        f"### Explorer under load: {out['corpus']} (`make bench-app`, {out['date']})",
        "",
        f"{out['corpus']} ({out['documents']:,} documents), {a['searches']} searches from {a['clients']} "
        f"concurrent clients (threads of the benchmark, each calling the app's `/search` API over its own HTTP "
        f"connection) against `gaia-lite app` in its own process, k={out['k']}, the settings cycling "
        "through hybrid RRF, hybrid weighted (the default: z-score, 0.5, depth 1000), BM25 and dense. Peer: the "
        "same searches through `Explorer.search` in one process, one at a time. Queries: " + out["queries"] + ".",
        "",
        f"Target: p95 <= {P95_TARGET_MS:.0f} ms with 0 errors at {a['clients']} clients: "
        f"{a['all']['p95_ms']:.1f} ms, {a['errors']} errors, **{'met' if met else 'not met'}**.",
        "",
        "| | searches | errors | p50 ms | p95 ms | p99 ms | searches/s | server CPU ms/search |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for clients, r in sorted(out["levels"].items(), key=lambda kv: int(kv[0])):
        lines.append(f"| app, {clients} client{'s' * (int(clients) != 1)} | {r['ok']} | {r['errors']} | "
                     f"{r['all']['p50_ms']:.1f} | {r['all']['p95_ms']:.1f} | {r['all']['p99_ms']:.1f} | "
                     f"{r['searches_per_s']:.1f} | {r['server_cpu_ms_per_search']:.1f} |")
    lines += [
        f"| peer, in-process, 1 at a time | {p['searches']} | 0 | {p['all']['p50_ms']:.1f} | {p['all']['p95_ms']:.1f} | "
        f"{p['all']['p99_ms']:.1f} | {p['searches_per_s']:.1f} | {p['cpu_ms_per_search']:.1f} |",
        "",
        f"| setting | app p50 / p95 ms ({a['clients']} clients) | peer p50 / p95 ms |",
        "|---|---|---|",
    ]
    for mix in a["by_mix"]:
        lines.append(f"| {mix} | {a['by_mix'][mix]['p50_ms']:.1f} / {a['by_mix'][mix]['p95_ms']:.1f} | "
                     f"{p['by_mix'][mix]['p50_ms']:.1f} / {p['by_mix'][mix]['p95_ms']:.1f} |")
    lines += [
        "",
        f"- p95 crosses {P95_TARGET_MS:.0f} ms {said} {cross['searches_per_s']:.1f} searches/s (closed-loop levels "
        "above; interpolated between the two around it).",
        f"- Throughput at {a['clients']} clients: {a['searches_per_s']:.1f} searches/s, "
        f"{a['searches_per_s'] / p['searches_per_s']:.2f}x the peer's {p['searches_per_s']:.1f} one at a time.",
        f"- CPU per search: the app's server process used {a['server_cpu_ms_per_search']:.1f} ms at "
        f"{a['clients']} clients, the peer {p['cpu_ms_per_search']:.1f} ms; the client threads used "
        f"{a['clients_cores']:.2f} of the {out['cpus']} cores.",
        f"- Other processes used {a['other_load_cores']:.2f} cores during the app run and "
        f"{p['other_load_cores']:.2f} during the peer's.",
    ]
    return "\n".join(lines) + "\n"


def corpus_queries(folder: Path, n: int, seed: int) -> tuple[list[str], str]:
    """``n`` seeded first sentences (3 to 40 words) of the corpus's documents, quotes removed, as queries."""
    from gaia_lite.corpus import Corpus

    corpus = Corpus.load(folder, verify=False)
    rows = random.Random(seed).sample(range(len(corpus)), min(len(corpus), n * 5))
    # Quotes removed, as from SciFact's queries: in the app they mark an exact phrase.
    texts = [first_sentence(t).replace('"', " ") for t in corpus.dataset.select(sorted(rows))["text"]]
    picked = [t for t in texts if 3 <= len(t.split()) <= 40][:n]
    return picked, f"{len(picked)} seeded first sentences of its documents (3 to 40 words)"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_scifact(p, "corpus.jsonl, queries.jsonl")
    p.add_argument("--corpus", type=Path, help="a built corpus folder with its Lucene and dense indexes, instead of "
                                               "SciFact (queries: first sentences of its documents)")
    p.add_argument("--root", type=Path, default=REPO / "benchmarks" / "out" / "indexes")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    p.add_argument("--searches", type=int, default=600, help="searches at each load level")
    p.add_argument("--clients", type=int, default=8, help="the load the target is for: concurrent clients")
    p.add_argument("--levels", default="1,2,4", help="lighter loads also run, to find where p95 crosses the target")
    p.add_argument("-k", type=int, default=10)
    add_quick(p, "24 searches from 2 clients, output under benchmarks/out/quick/")
    args = parse_args(p, argv, QUICK)
    levels = sorted({int(c) for c in args.levels.split(",") if c.strip() and int(c) < args.clients} | {args.clients})
    if args.corpus:
        folder = args.corpus.resolve()
        texts, described = corpus_queries(folder, 300, 13)
        name = folder.name
    else:
        if not (args.scifact / "corpus.jsonl").is_file():
            p.error(f"no BEIR SciFact at {args.scifact}")
        folder = prepare(args.scifact, args.root)
        texts, described, name = queries(args.scifact), "SciFact's queries", "scifact"
    from gaia_lite.corpus import Corpus

    documents = len(Corpus.load(folder, verify=False))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # The peer runs first, in a process that has not yet started any client thread.
    log("peer: the searches in-process, one at a time")
    peer_result = peer(folder, texts, args.searches, args.k)
    log(f"starting the app over {folder} on port {port}")
    proc = start_app(folder, port)
    results = {}
    try:
        for clients in levels:
            log(f"{args.searches} searches from {clients} clients")
            results[str(clients)] = load(f"http://127.0.0.1:{port}/", texts, args.searches, clients, args.k, proc.pid)
            r = results[str(clients)]
            log(f"  p50 {r['all']['p50_ms']:.1f} ms, p95 {r['all']['p95_ms']:.1f} ms, {r['searches_per_s']:.1f}/s, "
                f"server {r['server_cpu_ms_per_search']:.1f} ms CPU a search, {r['errors']} errors")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out = {"date": utc_now(), "k": args.k, "cpus": os.cpu_count(),
           "corpus": name, "documents": documents, "queries": described, "levels": results,
           "app": results[str(args.clients)], "peer": peer_result}
    out["p95_crossing"] = crossing(results)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "app" if name == "scifact" else f"app-{name}"
    write_json(args.out / f"{stem}.json", out)
    text = section(out)
    (args.out / f"{stem}_section.md").write_text(text)
    print(text)
    return 1 if any(r["errors"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
