"""A real HTTP server on 127.0.0.1 for tests that need a signal feed (httpx's
`serve_in_thread` idea), shared by the provider tests and the end-to-end fault tests.

`serve()` starts a `ThreadingHTTPServer` on an ephemeral port in a thread. Tests register
replies per path (`feed.reply("/v3/x", status=429, headers={...})`, or
`feed.route("/v3/x", function_of_request)`), and read back what was sent
(`feed.seen(path)`). A reply may be delayed to provoke a client timeout; stopping cuts
delays short.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Reply:
    """What the server answers: status, a JSON-encodable body or raw bytes, headers, delay."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]


Route = Reply | Callable[[Seen], Reply]


class FeedServer:
    """Routes and records for one running server."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        self.stopping = threading.Event()
        self.url = ""

    def reply(
        self,
        path: str,
        *,
        status: int = 200,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        delay_seconds: float = 0.0,
    ) -> None:
        """Answer every GET of `path` the same way."""
        self.routes[path] = Reply(
            status=status, body=body, raw=raw, headers=headers or {}, delay_seconds=delay_seconds
        )

    def route(self, path: str, answer: Callable[[Seen], dict[str, Any]]) -> None:
        """Answer GETs of `path` with `Reply(**answer(request))`."""
        self.routes[path] = lambda seen: Reply(**answer(seen))

    def seen(self, path: str) -> list[Seen]:
        return [request for request in self.requests if request.path == path]


def _handler(feed: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            seen = Seen(
                path=parts.path,
                query={key: values[-1] for key, values in parse_qs(parts.query).items()},
                headers={key.lower(): value for key, value in self.headers.items()},
            )
            feed.requests.append(seen)
            route = feed.routes.get(parts.path, Reply(status=404, body={"error": "no route"}))
            reply = route(seen) if callable(route) else route
            if reply.delay_seconds and feed.stopping.wait(reply.delay_seconds):
                return
            payload = (
                reply.raw
                if reply.raw is not None
                else json.dumps(reply.body).encode()
                if reply.body is not None
                else b""
            )
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            del format, args  # keep test output clean

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out closes its socket; the late write fails. That is expected.
        del request, client_address


@contextmanager
def serve() -> Iterator[FeedServer]:
    """A feed server on 127.0.0.1, stopped (delays cut short) on exit."""
    feed = FeedServer()
    server = _QuietServer(("127.0.0.1", 0), _handler(feed))
    host, port = server.server_address[:2]
    feed.url = f"http://{host!s}:{port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield feed
    finally:
        feed.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
