"""bench_serve's served runs: a Ray cluster of ``--nodes`` nodes started on this machine
(``ray.cluster_utils.Cluster``, ``--node-cpus`` logical CPUs each), a parted corpus deployed on it with
``gaia_lite.serve.deploy`` (what ``gaia-lite serve CORPUS --ray ADDRESS --replicas R`` runs), and the front
queried over HTTP as any client would: ``POST /<name>/search`` with the JSON protocol of ``gaia_lite.serve.front``,
one keep-alive connection a client (``http.client``, the standard library).

- SciFact: every test query, one at a time, for each retriever; the hits come back as the run compared with one
  index (``_serve_identity.py``).
- The million corpus, for each ``--replicas`` value: latency one query at a time (after an untimed pass), then
  ``--clients`` concurrent clients for ``--seconds`` (queries/s, p50/p95, errors: a status other than 200 or an
  answer that is not complete), then each replica's resident memory (VmRSS of its process, found with
  ``gaia_lite.serve.app.replica_processes``; the nodes are on this machine).

The Serve proxy listens on a free port of 127.0.0.1 (another engineer's cluster may hold 8000). The cluster is
shut down by :meth:`Serving.close` (never ``ray stop``, which would end other clusters on the machine).
"""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import threading
import urllib.parse
from pathlib import Path
from time import perf_counter as perf

from _common import OtherLoad, log, pct
from gaia_lite.serve import deploy, stop  # an ImportError here: bench_serve skips the served runs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Client:
    """One keep-alive HTTP connection to a served corpus's front."""

    def __init__(self, url: str):
        u = urllib.parse.urlsplit(url)
        self.path, self.conn = u.path, http.client.HTTPConnection(u.hostname, u.port, timeout=120)

    def search(self, query: str, k: int, retriever: str = "") -> tuple[int, dict]:
        body = json.dumps({"query": query, "k": k, "retriever": retriever})
        self.conn.request("POST", f"{self.path}/search", body, {"Content-Type": "application/json"})
        response = self.conn.getresponse()
        return response.status, json.loads(response.read())

    def close(self) -> None:
        self.conn.close()


def ok(status: int, answer: dict) -> bool:
    return status == 200 and answer.get("parts", {}).get("complete", False)


def http_latency(url: str, queries: list[str], k: int) -> dict:
    """ms a query through the front, one at a time on one connection, after one untimed pass."""
    client, errors, times = Client(url), 0, []
    for q in queries:
        client.search(q, k)
    with OtherLoad(tree=True) as load:
        for q in queries:
            t = perf()
            status, answer = client.search(q, k)
            times.append(1000 * (perf() - t))
            errors += not ok(status, answer)
    client.close()
    return {"queries": len(queries), "p50_ms": pct(times, 50), "p95_ms": pct(times, 95),
            "mean_ms": statistics.mean(times), "qps": 1000 * len(times) / sum(times), "errors": errors,
            "others": round(load.cores, 2)}


def http_throughput(url: str, queries: list[str], k: int, clients: int, seconds: float) -> dict:
    """Queries/s from ``clients`` concurrent clients, each on its own connection, for ``seconds``; answers that
    failed (a status other than 200, a broken connection) and that came back without every part, apart."""
    times: list[float] = []
    counts = {"failed": 0, "incomplete": 0}
    lock = threading.Lock()
    stop_at = perf() + seconds

    def run(c: int) -> None:
        client, i, mine, failed, incomplete = Client(url), c * len(queries) // clients, [], 0, 0
        while perf() < stop_at:
            t = perf()
            try:
                status, answer = client.search(queries[i % len(queries)], k)
                failed += status != 200
                incomplete += status == 200 and not ok(status, answer)
            except (OSError, http.client.HTTPException, ValueError):
                failed += 1
                client.close()
                client = Client(url)
            mine.append(1000 * (perf() - t))
            i += 1
        client.close()
        with lock:
            times.extend(mine)
            counts["failed"] += failed
            counts["incomplete"] += incomplete

    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    with OtherLoad(tree=True) as load:
        t = perf()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = perf() - t
    return {"clients": clients, "seconds": wall, "queries": len(times), "qps": len(times) / wall,
            "p50_ms": pct(times, 50), "p95_ms": pct(times, 95), "max_ms": max(times),
            "errors": counts["failed"] + counts["incomplete"], **counts, "others": round(load.cores, 2)}


class Serving:
    """The local Ray cluster and the deployments the served runs make on it; started on first use."""

    def __init__(self, args, root: Path):
        self.args, self.root, self.cluster, self.port = args, root, None, free_port()
        self.facts: dict = {"nodes": args.nodes, "cpus_per_node": args.node_cpus, "port": self.port}

    def address(self) -> str:
        if self.cluster is None:
            from ray.cluster_utils import Cluster

            node = {"num_cpus": self.args.node_cpus, "object_store_memory": 256 * 2**20}
            log(f"[serve] starting a Ray cluster of {self.args.nodes} nodes on this machine")
            t = perf()
            self.cluster = Cluster(initialize_head=True, head_node_args=node | {"include_dashboard": False})
            for _ in range(self.args.nodes - 1):
                self.cluster.add_node(**node)
            self.cluster.wait_for_nodes()
            self.facts["cluster_start_s"] = perf() - t
        return self.cluster.address

    def deploy(self, corpus, kind: str, replicas: int):
        from gaia_lite.config import RetrieverConfig

        address = self.address()
        t = perf()
        served = deploy(corpus.folder, RetrieverConfig(kind=kind), address=address, replicas=replicas,
                        port=self.port, log=log)
        self.facts.setdefault("deploys", []).append({"corpus": corpus.name, "kind": kind, "replicas": replicas,
                                                     "seconds": perf() - t, "nodes_used": served.node_count})
        return served

    def stop(self, corpus) -> None:
        stop(corpus.folder, address=self.address(), log=log)

    def scifact(self, parted, topics: dict, kinds, k: int) -> tuple[dict, dict]:
        """Every SciFact query through the front, one at a time, for each retriever: ``{kind: run}``."""
        served = self.deploy(parted, "hybrid", 1)
        client, runs, incomplete = Client(served.url), {}, 0
        for kind in kinds:
            t, run = perf(), {}
            for qid, text in topics.items():
                status, answer = client.search(text, k, kind)
                incomplete += not ok(status, answer)
                run[qid] = {h["doc_id"]: h["score"] for h in answer.get("hits", [])}
            runs[kind], runs[kind + "_s"] = run, perf() - t
        client.close()
        self.stop(parted)
        return runs, {"url": served.url, "replicas": 1, "nodes_used": served.node_count,
                      "not_complete_or_failed": incomplete}

    def replica_memory(self, served, replicas: int, docs: dict) -> list[dict]:
        from gaia_lite.serve.app import replica_processes

        out = []
        for deployment in [*served.parts, "front"]:
            for r in replica_processes(served.name, deployment):
                out.append({"replicas": replicas, "name": deployment, "docs": docs.get(deployment),
                            "pid": r["pid"], "node": r["node_id"][:8], "rss_mib": rss_mib(r["pid"])})
        return out

    def failover(self, served, texts: list[str], k: int, replicas: int) -> dict:
        """A throughput run during which one replica of the first part is killed (SIGKILL, a third of the way in):
        the answers that failed or came back incomplete meanwhile."""
        import os
        import signal

        from gaia_lite.serve.app import replica_processes

        victim = replica_processes(served.name, served.parts[0])[0]
        seconds = self.args.seconds
        log(f"[serve] failover: killing {served.parts[0]}'s replica pid {victim['pid']} {seconds / 3:.0f} s into a "
            f"{seconds:g} s run of {self.args.clients} clients")
        timer = threading.Timer(seconds / 3, os.kill, (victim["pid"], signal.SIGKILL))
        timer.start()
        tp = http_throughput(served.url, texts, k, self.args.clients, seconds)
        timer.join()
        return tp | {"replicas": replicas, "killed": served.parts[0], "killed_at_s": seconds / 3}

    def million(self, parted, texts: list[str], k: int, one_lat: dict) -> dict:
        """Latency, throughput and replica memory of the served front over ``parted``, per replicas a part."""
        docs = {entry["name"]: entry["num_rows"] for entry in parted.meta.params["parts"]}
        out: dict = {"latency": [], "throughput": [], "replica_memory": []}
        for replicas in self.args.replicas:
            served = self.deploy(parted, "bm25", replicas)
            log(f"[serve] {replicas} replica(s) a part: latency, one query at a time")
            lat = http_latency(served.url, texts, k)
            out["latency"].append(lat | {"replicas": replicas, "p95_vs_one": lat["p95_ms"] / one_lat["p95_ms"]})
            log(f"[serve] {replicas} replica(s) a part: {self.args.clients} clients for {self.args.seconds:g} s")
            tp = http_throughput(served.url, texts, k, self.args.clients, self.args.seconds)
            out["throughput"].append(tp | {"replicas": replicas})
            out["replica_memory"] += self.replica_memory(served, replicas, docs)
            if replicas > 1:
                out["failover"] = self.failover(served, texts, k, replicas)
            self.stop(parted)
        return out

    def close(self) -> dict:
        if self.cluster is not None:
            from gaia_lite.executors import RayExecutor

            try:
                from ray import serve

                serve.shutdown()
            finally:
                RayExecutor.disconnect()  # not ray.shutdown(): the JVM in this process keeps its signal handlers
                self.cluster.shutdown()
        return self.facts
