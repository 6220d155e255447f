"""A corpus kept in parts served on a Ray Serve cluster (``gaia-lite serve``): each part a deployment of its own,
its replicas spread over the nodes, and a front deployment, the HTTP ingress, that encodes queries and runs the
searchers of :mod:`gaia_lite.parts` over the served parts, with the answers of one index over the corpus.

- :mod:`.app`: :func:`deploy` (checks, deploys, follows the replicas starting) and :func:`stop`;
- :mod:`.part`: :class:`PartReplica` (a part's replica) and :class:`ServedPart` (a part called through its
  deployment, retried on another replica when one is lost);
- :mod:`.front`: :class:`Front` and its HTTP protocol (``GET info``, ``POST search``, ``documents``, ``count``);
- :mod:`.client`: a served corpus's address (``http://HOST:PORT/NAME``) as a corpus and a searcher, from any
  machine (the standard library only).

Importing this package is cheap: Ray is imported when a deployment is made or called.
"""

from __future__ import annotations

from ..lazy import lazy_exports

__all__, __getattr__ = lazy_exports("gaia_lite.serve", {
    "gaia_lite.serve.app": ("deploy", "stop", "Served"),
    "gaia_lite.serve.part": ("PartReplica", "ServedPart"),
    "gaia_lite.serve.front": ("Front",),
})
