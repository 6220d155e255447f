"""``gaia-lite serve``: a corpus kept in parts served on a Ray Serve cluster, one deployment per part and an HTTP
front (:mod:`gaia_lite.serve`)."""

from __future__ import annotations

import argparse

from .common import (add_command, add_common, add_retriever, config_file_retriever, positive_int, retriever_config,
                     to_stderr)


def add_parser(sub) -> None:
    """The ``serve`` subcommand's parser."""
    from ..serve.app import DEFAULT_DEPLOY_TIMEOUT_S, PROXY_LOCATIONS
    from ..serve.part import DEFAULT_PART_TIMEOUT_S

    p = add_command(sub, "serve", run)
    p.add_argument("corpus", help="corpus name or folder (kept in parts, or in one)")
    p.add_argument("--ray", required=True, metavar="auto|HOST:PORT", help="the Ray cluster to serve it on")
    p.add_argument("--replicas", type=positive_int, default=1,
                   help="replicas of each part, spread over the nodes (default: 1)")
    p.add_argument("--front-replicas", type=positive_int, default=1,
                   help="replicas of the HTTP front, which holds the query encoder (default: 1)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address Serve's HTTP proxy listens on (default: 127.0.0.1; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=positive_int, default=8000, help="port of Serve's HTTP proxy (default: 8000)")
    p.add_argument("--proxy-location", choices=tuple(PROXY_LOCATIONS), default="every-node",
                   help="where Serve runs HTTP proxies: every node with a replica (behind a load balancer), or the "
                        "head node only (default: every-node)")
    p.add_argument("--part-timeout", type=_seconds, default=DEFAULT_PART_TIMEOUT_S, metavar="SECONDS",
                   help="how long a call to a part looks for a live replica before the answer leaves that part out "
                        f"and names it (default: {DEFAULT_PART_TIMEOUT_S:g})")
    p.add_argument("--cpus-per-replica", type=_cpus, default=1.0, metavar="CPUS",
                   help="CPUs Ray reserves for each replica (default: 1; 0 packs replicas regardless of CPUs)")
    p.add_argument("--deploy-timeout", type=_seconds, default=DEFAULT_DEPLOY_TIMEOUT_S, metavar="SECONDS",
                   help=f"how long to wait for every replica to start (default: {DEFAULT_DEPLOY_TIMEOUT_S:g})")
    p.add_argument("--stop", action="store_true", help="stop serving the corpus instead")
    add_retriever(p)
    p.add_argument("--config", help="a YAML config whose retriever section gives the settings (flags override it)")
    add_common(p, progress=False)


def run(args) -> int:
    """Serve a corpus kept in parts on a Ray Serve cluster, behind an HTTP front.

    Deploys one Serve application named after the corpus: a deployment per part (--replicas replicas each,
    spread over the nodes), each replica opening its part's indexes, and a front at http://HOST:PORT/<name>
    (GET info, POST search, documents, count) that encodes queries and searches every part with the answers of
    one index over the corpus. A call that finds no live replica is tried on another until --part-timeout; past
    it, the answer names the missing part. Returns once every replica runs; the application keeps running on
    the cluster until `gaia-lite serve CORPUS --ray ADDRESS --stop` or `serve shutdown`.
    """
    import logging

    from ..serve.app import deploy, stop

    # Serve's own lines say what the progress lines say (and its warning of a proxy already running, too).
    logging.getLogger("ray.serve").setLevel(logging.ERROR)
    if args.stop:
        stop(args.corpus, address=args.ray, root=args.root, log=to_stderr)
        return 0
    config = retriever_config(args, config_file_retriever(args.config))
    served = deploy(args.corpus, config, address=args.ray, root=args.root, replicas=args.replicas,
                    front_replicas=args.front_replicas, part_timeout_s=args.part_timeout,
                    cpus_per_replica=args.cpus_per_replica, host=args.host, port=args.port,
                    proxy_location=args.proxy_location, timeout_s=args.deploy_timeout, log=to_stderr)
    print(served.url)
    return 0


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def _cpus(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number of CPUs >= 0, got {text!r}")
    return value
