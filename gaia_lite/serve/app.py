"""A corpus kept in parts deployed as one Ray Serve application: one deployment per part (its replicas spread
over the nodes) and a front deployment, the HTTP ingress at ``/<corpus name>`` (:mod:`.front`).

:func:`deploy` checks what it can on this machine first (a part listed inside the corpus folder must be there,
built with the indexes the retriever needs), connects to the cluster, deploys, follows the replicas as they
start, and turns a replica that cannot start (a part folder missing on its node, parts built with different
settings) into one error line. The application then runs on the cluster until :func:`stop` (or
``serve shutdown``) ends it.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import RetrieverConfig, corpus_dir
from ..errors import ConfigError, GaiaLiteError, MissingArtifactError
from .front import FRONT_THREADS
from .part import DEFAULT_PART_TIMEOUT_S, STARTUP_ERROR

FRONT = "front"
#: Where Serve runs its HTTP proxies: on every node with a replica (Serve's default, behind a load balancer),
#: or on the head node only.
PROXY_LOCATIONS = {"every-node": "EveryNode", "head-only": "HeadOnly"}
#: How long :func:`deploy` waits for every replica to start by default.
DEFAULT_DEPLOY_TIMEOUT_S = 900.0


@dataclass
class Served:
    """What :func:`deploy` deployed: the application's name and address, the documents and parts served, and
    the node of each replica by deployment (the parts by name, then ``front``)."""

    name: str
    url: str
    num_rows: int
    parts: list[str]
    replicas: int
    nodes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def node_count(self) -> int:
        """How many nodes hold at least one replica."""
        return len({node for nodes in self.nodes.values() for node in nodes})


def served_parts(corpus: str | os.PathLike, root: str | os.PathLike | None = None):
    """The corpus folder, its metadata (size and fingerprint), and each part's line of it with the part's
    absolute path (``path``) and whether that path is inside the corpus folder (``inside``). A corpus kept in
    one part is served as one part, its own folder."""
    from ..artifacts import ArtifactMeta
    from ..corpus import DATASET_DIR
    from ..corpus.parts import is_parted, part_folders, part_name, read_parts

    folder = corpus_dir(corpus, root).resolve()
    if folder.name == DATASET_DIR:
        folder = folder.parent
    if is_parted(folder):
        meta = read_parts(folder)
        entries = [entry | {"path": str(path), "inside": not os.path.isabs(entry["path"])}
                   for entry, path in zip(meta.params["parts"], part_folders(folder, meta))]
    else:
        meta = ArtifactMeta.read(folder / DATASET_DIR, "corpus", f"gaia-lite corpus <source> --name {folder.name}")
        entries = [{"name": part_name(0), "path": str(folder), "num_rows": meta.num_rows,
                    "fingerprint": meta.fingerprint, "inside": True}]
    return folder, meta, entries


def check_here(folder: Path, entries: list[dict[str, Any]], config: RetrieverConfig,
               log: Callable[[str], None] | None = print) -> None:
    """Check the parts on this machine's disk before anything is deployed: a part listed inside the corpus
    folder must be there; a part that is here must hold the documents the corpus lists and have the indexes
    ``config`` searches, built with the settings of the other parts here (their metadata is read, nothing is
    opened). A part listed at a path outside the corpus folder that is not here may be on the nodes serving
    it: its replicas check it there, and the front checks every part's settings once they run."""
    from ..corpus import Corpus
    from ..corpus.parts import PARTS_DIR, check_part
    from ..parts import check_compatible

    built = []
    for entry in entries:
        path = Path(entry["path"])
        if not path.is_dir():
            if entry["inside"]:
                raise MissingArtifactError(
                    f"part {entry['name']} of corpus {folder.name} is not at {path}: mount or copy it there, or "
                    f"correct its path in {folder / PARTS_DIR / 'gaia_lite.json'}")
            if log:
                log(f"{entry['name']}: {path} is not on this machine; its replicas open it on their nodes")
            continue
        part = Corpus.load(path, verify=False)
        check_part(part, entry, f"corpus {folder.name}")
        built.append({"name": entry["name"]} | _built_settings(folder, part, config))
    if len(built) > 1:
        check_compatible(built)


def _built_settings(folder: Path, part, config: RetrieverConfig) -> dict[str, Any]:
    """What a part's indexes for ``config`` were built with, from their metadata, as
    :meth:`~gaia_lite.parts.LocalPart.info` gives it (the search-time k1 and b aside); a missing index is an error
    naming the command that builds it."""
    from ..artifacts import ArtifactMeta
    from ..sparse import sparse_dir
    from ..sparse.indexer import index_command

    out: dict[str, Any] = {}
    if config.uses_sparse:
        index = sparse_dir(part.folder, config.sparse)
        if not index.is_dir():
            raise MissingArtifactError(f"part {part.name} has no sparse index at {index}: build it with "
                                       f"`{index_command(folder, config.sparse)}`")
        params = ArtifactMeta.read(index, "sparse").params
        out["sparse"] = {"fields": params["fields"], "analyzer": params["analyzer"]}
    if config.uses_dense:
        from ..retriever import find_dense_index

        stored = ArtifactMeta.read(find_dense_index(part, config.dense), "dense").params["encoder"]
        out["dense"] = {key: stored[key] for key in ("model", "dim", "pooling", "normalize", "max_length",
                                                     "query_prefix", "document_prefix")}
    return out


def deploy(corpus: str | os.PathLike, config: RetrieverConfig | None = None, *, address: str = "auto",
           root: str | os.PathLike | None = None, replicas: int = 1, front_replicas: int = 1,
           part_timeout_s: float = DEFAULT_PART_TIMEOUT_S, cpus_per_replica: float = 1.0, host: str = "127.0.0.1",
           port: int = 8000, proxy_location: str = "every-node", timeout_s: float = DEFAULT_DEPLOY_TIMEOUT_S,
           log: Callable[[str], None] | None = print) -> Served:
    """Serve ``corpus`` (a name under ``root``, or a folder) with ``config``'s retriever on the Ray cluster at
    ``address``: ``replicas`` replicas of each part, spread over the nodes, and ``front_replicas`` of the front
    (the HTTP ingress at ``http://host:port/<name>``); a part call finding no live replica for
    ``part_timeout_s`` leaves that part out of the answer, named. Returns once every replica runs (at most
    ``timeout_s``); ``log`` receives progress lines. A replica that cannot start is a
    :class:`~gaia_lite.errors.GaiaLiteError` naming why, and nothing stays deployed."""
    from ..executors import RayExecutor
    from .front import Front
    from .part import PartReplica

    config = config or RetrieverConfig()
    for name, value in (("replicas", replicas), ("front_replicas", front_replicas)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a whole number >= 1, got {value!r}")
    if proxy_location not in PROXY_LOCATIONS:
        raise ConfigError(f"proxy_location {proxy_location!r}: use one of {', '.join(PROXY_LOCATIONS)}")
    if not part_timeout_s > 0 or not timeout_s > 0 or not cpus_per_replica >= 0:
        raise ConfigError("part_timeout_s and timeout_s must be > 0 and cpus_per_replica >= 0")
    folder, meta, entries = served_parts(corpus, root)
    name = folder.name
    check_here(folder, entries, config, log)
    ray = RayExecutor(address).connect()
    from ray import serve

    nodes = sum(1 for node in ray.nodes() if node["Alive"])
    _log(log, f"deploying {name} ({meta.num_rows} documents, {config.kind}) on {nodes} node(s): {len(entries)} "
              f"part(s) x {replicas} replica(s), and {front_replicas} front replica(s)")
    serve.start(http_options={"host": host, "port": port}, proxy_location=PROXY_LOCATIONS[proxy_location])
    options = {"ray_actor_options": {"num_cpus": cpus_per_replica}}
    parts = [serve.deployment(PartReplica, name=entry["name"], num_replicas=replicas,
                              max_replicas_per_node=math.ceil(replicas / nodes), **options)
             .bind(entry["name"], entry["path"], _line(entry), config) for entry in entries]
    # The front mostly waits on the parts: it takes as many requests at once as its pool has threads.
    front = serve.deployment(Front, name=FRONT, num_replicas=front_replicas, max_ongoing_requests=FRONT_THREADS,
                             max_replicas_per_node=math.ceil(front_replicas / nodes), **options).bind(
        name, meta, [_line(entry) for entry in entries], parts, config, part_timeout_s, replicas, timeout_s)
    running = name in serve.status().applications  # an update: on failure, what still runs is left running
    serve.run_many([serve.RunTarget(front, name=name, route_prefix=f"/{name}")],
                   wait_for_ingress_deployment_creation=False, wait_for_applications_running=False)
    _wait_running(serve, name, timeout_s, log, keep=running)
    try:
        _client().wait_for_proxies_serving()  # the route is known to the proxies: the address answers
    except TimeoutError as e:
        raise GaiaLiteError(f"{name} runs but Serve's HTTP proxies are not serving ({e}): see `serve status`") from None
    url = _url(name)
    if not url.startswith((f"http://{host}:{port}/", f"http://{ray.util.get_node_ip_address()}:{port}/")):
        _log(log, f"Serve was already running on this cluster, its HTTP proxy at {url.rsplit('/', 1)[0]}: --host "
                  "and --port apply when Serve starts (`serve shutdown` stops it and every application)")
    served = Served(name, url, meta.num_rows, [entry["name"] for entry in entries], replicas,
                    replica_nodes(name))
    for deployment, where in served.nodes.items():
        _log(log, f"  {deployment}: {len(where)} replica(s) on node(s) {', '.join(sorted(n[:8] for n in where))}")
    _log(log, f"serving {name} on {served.node_count} node(s) at {served.url} (GET {served.url}/info, POST "
              f"{served.url}/search); it runs until `gaia-lite serve {name} --ray {address} --stop` (or "
              "`serve shutdown`, which stops every application)")
    return served


def stop(corpus: str | os.PathLike, *, address: str = "auto", root: str | os.PathLike | None = None,
         log: Callable[[str], None] | None = print) -> None:
    """Stop serving ``corpus`` on the Ray cluster at ``address`` (its application only)."""
    from ..executors import RayExecutor

    name = corpus_dir(corpus, root).name
    RayExecutor(address).connect()
    from ray import serve

    if name not in serve.status().applications:
        raise ConfigError(f"{name} is not served on the Ray cluster at {address}: `serve status` lists what is")
    serve.delete(name)
    _log(log, f"stopped serving {name}")


def replica_nodes(name: str) -> dict[str, list[str]]:
    """The node id of each running replica of the application ``name``, by deployment."""
    deployments = _client().get_serve_details()["applications"][name]["deployments"]
    return {deployment: [r["node_id"] for r in info["replicas"] if r["state"] == "RUNNING"]
            for deployment, info in deployments.items()}


def replica_processes(name: str, deployment: str) -> list[dict[str, Any]]:
    """The running replicas of one deployment of application ``name``: ``node_id``, ``pid``, ``actor_name``."""
    replicas = _client().get_serve_details()["applications"][name]["deployments"][deployment]["replicas"]
    return [{key: r[key] for key in ("node_id", "pid", "actor_name")} for r in replicas if r["state"] == "RUNNING"]


def startup_error(text: str) -> GaiaLiteError | None:
    """The error a replica's startup raised (:func:`~gaia_lite.serve.part.startup_failure`), found in the
    status text Serve reports; None where the text holds none."""
    from .. import errors

    found = re.search(re.escape(STARTUP_ERROR) + r"(\w+): (.+)", text)
    if found is None:
        return None
    kind = getattr(errors, found[1], None)
    if not (isinstance(kind, type) and issubclass(kind, GaiaLiteError)):
        kind = GaiaLiteError
    try:
        return kind(found[2].strip())
    except TypeError:  # an error class made from other arguments than its message
        return GaiaLiteError(found[2].strip())


def _wait_running(serve, name: str, timeout_s: float, log, keep: bool = False) -> None:
    """Follow the application's replicas until every one runs; a replica failing to start ends the wait with
    its error, and the application is deleted (unless ``keep``: an update of a running application, whose
    replicas of the version before keep serving, as Serve keeps them when an update fails)."""
    deadline, shown = time.monotonic() + timeout_s, None
    while True:
        app = serve.status().applications.get(name)
        if app is not None:
            line = "replicas running: " + ", ".join(
                f"{deployment} {d.replica_states.get('RUNNING', 0)}/{sum(d.replica_states.values())}"
                for deployment, d in sorted(app.deployments.items(), key=lambda kv: (kv[0] == FRONT, kv[0])))
            if line != shown and any(d.replica_states for d in app.deployments.values()):
                _log(log, f"  {line}")
                shown = line
            if app.status == "RUNNING":
                return
            texts = [d.message for d in app.deployments.values()] + [app.message]
            error = next(filter(None, map(startup_error, texts)), None)
            if error is None and app.status == "DEPLOY_FAILED":
                failed = [f"{deployment}: {_last_line(d.message)}" for deployment, d in app.deployments.items()
                          if d.status == "DEPLOY_FAILED"] or [_last_line(app.message)]
                error = GaiaLiteError(f"{name} could not be deployed ({'; '.join(failed)}): see `serve status` and "
                                      "the replicas' logs (/tmp/ray/session_latest/logs/serve on their nodes)")
            if error is not None:
                _give_up(serve, name, keep)
                raise error
        if time.monotonic() > deadline:
            _give_up(serve, name, keep)
            raise GaiaLiteError(f"{name}'s replicas did not all start within {timeout_s:g} s ({shown}): give the "
                                "cluster the resources (--cpus-per-replica) or the time (--deploy-timeout) they need")
        time.sleep(0.5)


def _client():
    """Serve's client in this process. Serve has no public call for where replicas run, what the proxy listens on
    or whether the proxies serve a new route; the controller's details are what `serve status` and the
    dashboard read, and ``serve.run`` waits for the proxies the same way."""
    from ray.serve.context import _get_global_client

    return _get_global_client()


def _give_up(serve, name: str, keep: bool) -> None:
    """Delete a deployment that failed, unless it updated an application that was running."""
    if not keep:
        serve.delete(name)


def _url(name: str) -> str:
    """The address to query the application at: the proxy's host (this machine's address where the proxy
    listens on every interface) and port."""
    import ray

    http = _client().get_serve_details().get("http_options") or {}
    host = http.get("host") or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = ray.util.get_node_ip_address()
    return f"http://{host}:{http.get('port', 8000)}/{name}"


def _line(entry: dict[str, Any]) -> dict[str, Any]:
    """A part's line of the parts metadata, as the replicas and the front get it."""
    return {key: entry[key] for key in ("name", "num_rows", "fingerprint")}


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def _log(log, line: str) -> None:
    if log:
        log(line)
