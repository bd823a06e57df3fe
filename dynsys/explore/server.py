"""The explorer's local HTTP server: the page and its JSON endpoints (standard library only).

Routes::

    GET  /                      the page (static/index.html)
    GET  /static/NAME           the page's files: index.html, explore.js, explore.css only
    GET  /api/info              the target, its system and the starting view
    POST /api/field             \\
    POST /api/trajectories       | a JSON object in, a JSON object out (dynsys.explore.api)
    POST /api/reference          |
    POST /api/stability          |
    POST /api/reproduce         /

Errors are JSON {"error": one line}: 400 bad input, 404 unknown path, 405 wrong verb, 411 a
POST without Content-Length, 413 a body over :data:`MAX_BODY`, 403 a Host header that is not
the loopback (a page of another site reaching the local server), 422 a computation that
failed, 500 a fault of the server.  Responses of the API are not cached by the browser
(``Cache-Control: no-store``); the server keeps the last :data:`CACHE_ENTRIES` answers.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from ..errors import DynsysError, InputError
from . import api

MAX_BODY = 2**20
"""Bytes a request body may hold (1 MiB)."""
MAX_DRAIN = 16 * 2**20
"""A body over MAX_BODY but within MAX_DRAIN bytes is read and dropped before the 413 answer
(a client still sending would not see it); a larger one is not read."""
CACHE_ENTRIES = 64
"""Answers of the POST endpoints kept, by endpoint and body (least recently used dropped)."""
CACHE_BYTES = 64 * 2**20
"""Bytes of JSON the kept answers may hold in all."""
STATIC = {
    "index.html": "text/html; charset=utf-8",
    "explore.js": "text/javascript; charset=utf-8",
    "explore.css": "text/css; charset=utf-8",
}
"""The files of the page, the only ones served, and their types."""
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


class ExplorerServer(ThreadingHTTPServer):
    """A threading HTTP server bound to one :class:`~dynsys.explore.api.Target`; each request
    in its own daemon thread; :meth:`shutdown` stops serving and closes the socket."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # connections waiting to be accepted: 50 pages at once, not 5

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A page that went away mid-answer (a superseded request) is not a fault."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)

    def __init__(self, address: tuple[str, int], target: api.Target):
        self.target = target
        self.cache = api._Cache(CACHE_ENTRIES, CACHE_BYTES)
        self.loopback = address[0] in LOOPBACK
        if ":" in address[0]:  # an IPv6 address
            self.address_family = socket.AF_INET6
        super().__init__(address, ExplorerHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/"

    def shutdown(self) -> None:
        super().shutdown()
        self.server_close()


class ExplorerHandler(BaseHTTPRequestHandler):
    """Routes a request to the page's files or to a handler of :mod:`dynsys.explore.api`."""

    server: ExplorerServer
    server_version = "dynsys-explore"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the terminal is the user's
        pass

    # -- verbs ---------------------------------------------------------------------------------
    def do_GET(self) -> None:
        path = self._path()
        if path is None:
            return
        if path == "/" or path.startswith("/static/"):
            name = "index.html" if path == "/" else path[len("/static/") :]
            self._static(name)
        elif path == "/api/info":
            self._json(HTTPStatus.OK, api.info(self.server.target))
        elif path in api.HANDLERS:
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} takes POST", allow="POST")
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such path: {path}")

    def do_POST(self) -> None:
        path = self._path()
        if path is None:
            return
        handler = api.HANDLERS.get(path)
        if handler is None:
            if path in ("/", "/api/info") or path.startswith("/static/"):
                self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} takes GET", allow="GET")
            else:
                self._error(HTTPStatus.NOT_FOUND, f"no such path: {path}")
            return
        body = self._body()
        if body is None:
            return
        try:
            payload = json.loads(body, parse_constant=_no_constant)
        except (ValueError, RecursionError) as err:
            self._error(HTTPStatus.BAD_REQUEST, f"the body is not JSON: {_first_line(err)}")
            return
        key = (path, json.dumps(payload, sort_keys=True))
        try:
            answer = self.server.cache.get(
                key, lambda: _encode(handler(self.server.target, payload))
            )
        except api.RequestError as err:
            self._error(err.status, err.reason)
        except InputError as err:
            self._error(HTTPStatus.BAD_REQUEST, _first_line(err))
        except DynsysError as err:
            self._error(HTTPStatus.UNPROCESSABLE_ENTITY, _first_line(err))
        except MemoryError:
            self._error(HTTPStatus.UNPROCESSABLE_ENTITY, "ran out of memory: ask for less")
        except Exception as err:  # a fault of the server: one line to the page, the trace here
            traceback.print_exc(file=sys.stderr)
            self._error(
                HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {type(err).__name__}: {err}"
            )
        else:
            self._send(HTTPStatus.OK, answer, "application/json", {"Cache-Control": "no-store"})

    def _other(self) -> None:
        path = self._path()
        if path is None:
            return
        allow = "POST" if path in api.HANDLERS else "GET"
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not served", allow=allow)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other

    # -- pieces --------------------------------------------------------------------------------
    def _path(self) -> str | None:
        """The path without its query; None (answered 403) for a Host that is not the
        loopback while the server is bound to it."""
        if self.server.loopback:
            host = (self.headers.get("Host") or "").strip()
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in LOOPBACK:
                reason = f"host {host!r} is not served; use the URL printed"
                self._error(HTTPStatus.FORBIDDEN, reason)
                return None
        return self.path.split("?", 1)[0].split("#", 1)[0]

    def _body(self) -> bytes | None:
        """The request's body, or None when refused (answered already)."""
        if self.headers.get("Transfer-Encoding"):
            self._error(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
            return None
        length = self.headers.get("Content-Length")
        try:
            size = int(length) if length is not None else -1
        except ValueError:
            size = -1
        if size < 0:
            self._error(HTTPStatus.LENGTH_REQUIRED, "a POST needs a Content-Length")
            return None
        if size > MAX_BODY:
            self.close_connection = True
            if size <= MAX_DRAIN:  # read and dropped, so that the client reads the answer
                left = size
                while left > 0 and (chunk := self.rfile.read(min(2**16, left))):
                    left -= len(chunk)
            self._error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the body holds {size:,} bytes; at most {MAX_BODY:,}",
            )
            return None
        return self.rfile.read(size)

    def _static(self, name: str) -> None:
        kind = STATIC.get(name)
        if kind is None:
            self._error(HTTPStatus.NOT_FOUND, f"no such file: {name}")
            return
        try:
            data = resources.files(__package__).joinpath("static", name).read_bytes()
        except OSError:
            self._error(HTTPStatus.NOT_FOUND, f"no such file: {name} (not installed)")
            return
        self._send(HTTPStatus.OK, data, kind, {"Cache-Control": "no-cache"})

    def _json(self, status: int, value: Any) -> None:
        self._send(status, _encode(value), "application/json", {"Cache-Control": "no-store"})

    def _error(self, status: int, reason: str, allow: str | None = None) -> None:
        extra = {"Cache-Control": "no-store"}
        if allow:
            extra["Allow"] = allow
        data = json.dumps({"error": reason}).encode()
        self._send(status, data, "application/json", extra)

    def _send(self, status: int, data: bytes, kind: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _encode(value: Any) -> bytes:
    """Compact JSON (no nan or inf: the handlers give null for a number that is not finite)."""
    return json.dumps(value, allow_nan=False, separators=(",", ":")).encode()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def make_server(target: str | api.Target, host: str = "127.0.0.1", port: int = 0) -> ExplorerServer:
    """A server for ``target`` (a name, CONFIG.yaml, MODEL.npz or a loaded Target) bound to
    host:port (port 0: a free one), not yet serving; a thread readies the compiled time loop
    of the target's default method (:func:`api.warm_loop`)."""
    if not isinstance(target, api.Target):
        target = api.load_target(target)
    if not isinstance(host, str) or not host:
        raise InputError(f"host must be an address such as 127.0.0.1, got {host!r}")
    try:
        server = ExplorerServer((host, port), target)
    except (OSError, OverflowError) as err:  # no such address, a port in use or not allowed
        why = getattr(err, "strerror", None) or str(err)
        raise InputError(f"cannot listen on {host}:{port}: {why}") from None
    # the compiled time loop, loaded or compiled beside the first requests (under a second)
    threading.Thread(target=api.warm_loop, args=(target,), name="dynsys-warm", daemon=True).start()
    return server


def start_server(
    target: str | api.Target, host: str = "127.0.0.1", port: int = 0
) -> tuple[ExplorerServer, str]:
    """A server serving in a daemon thread, and its URL; ``server.shutdown()`` stops it."""
    server = make_server(target, host, port)
    thread = threading.Thread(target=server.serve_forever, name="dynsys-explore", daemon=True)
    thread.start()
    return server, server.url


def serve(
    target: str | api.Target,
    host: str = "127.0.0.1",
    port: int = 0,
    open_browser: bool = True,
    echo=print,
    warn=None,
) -> None:
    """Serve ``target`` until Ctrl-C: print the URL, open it in the browser (unless told not
    to), and on KeyboardInterrupt stop cleanly and say "stopped".  Listening on an address
    other than the loopback is said on stderr (``warn``)."""
    server = make_server(target, host, port)
    if not server.loopback:
        text = (
            f"warning: listening on {host}: other machines can reach the explorer and make this "
            "one compute; use the default 127.0.0.1 unless you mean it"
        )
        (warn or (lambda line: print(line, file=sys.stderr)))(text)
    echo(f"dynsys explore: {server.url} (Ctrl-C stops it)")
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    echo("stopped")
