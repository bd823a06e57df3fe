"""The interactive explorer, ``dynsys explore``: a local page to click trajectories into the
phase plane, served by :mod:`.server` from the handlers of :mod:`.api` (all the maths is
dynsys's; the page in ``static/`` only draws what the server computes).

>>> from dynsys.explore import start_server
>>> server, url = start_server("van_der_pol")  # doctest: +SKIP
>>> server.shutdown()  # doctest: +SKIP
"""

from __future__ import annotations

from .api import LIMITS, Limits, RequestError, Target, load_target
from .server import ExplorerServer, make_server, serve, start_server

__all__ = [
    "LIMITS",
    "ExplorerServer",
    "Limits",
    "RequestError",
    "Target",
    "load_target",
    "make_server",
    "serve",
    "start_server",
]
