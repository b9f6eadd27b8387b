"""A real local HTTP receiver for tests, benchmarks and demos: it records every request and answers
from a scripted plan.

    with HttpSink() as sink:
        sink.respond_with(SinkResponse(status=500), SinkResponse(status=429, headers={"Retry-After": "7"}))
        post_to(sink.url + "/services/T000/B000/SECRET")
        [first, second] = sink.wait_for_requests(2, timeout_s=5)

A ``check`` stands for the vendor's validation: given each request, it returns the answer the
vendor gives a request it refuses (a 400 with the vendor's error body), or None to answer from the
plan.

It listens on 127.0.0.1 on an ephemeral port, serves each connection in its own thread
(http.server.ThreadingHTTPServer) and answers HTTP/1.0 (one request per connection, so no idle
keep-alive connection can hold up shutdown). Bounded: request bodies are stored up to
``max_body_bytes`` (1 MiB by default), at most ``max_requests`` requests are kept. A delayed or
hanging answer waits on an Event, so leaving the ``with`` block (close()) releases it at once and
shutdown stays prompt.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["MAX_BODY_BYTES", "HttpSink", "SinkRequest", "SinkResponse"]

MAX_BODY_BYTES = 1 << 20
MAX_REQUESTS = 10_000
#: A "hanging" answer gives up after this long even if the sink is never closed.
DEFAULT_HANG_LIMIT_S = 300.0
#: A request body larger than this is not even read to the end (the connection is closed).
_MAX_DISCARD_BYTES = 64 << 20
_READ_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class SinkResponse:
    """One scripted answer. ``delay_s`` waits before answering; ``hang`` never answers (until the
    sink closes, or the sink's hang limit passes) and then drops the connection."""

    status: int = 200
    body: bytes = b"ok"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    hang: bool = False


@dataclass(frozen=True, slots=True)
class SinkRequest:
    """One request as received."""

    method: str
    #: Path and query string, as sent.
    path: str
    #: Header names as sent; repeated headers joined with ", ". See header() for lookups.
    headers: dict[str, str]
    #: At most the sink's max_body_bytes.
    body: bytes
    body_truncated: bool
    #: The body parsed as JSON, or None when it is not JSON (or was truncated).
    json: Any
    #: time.monotonic() and time.time() when the request (headers and body) had been read.
    received_monotonic: float
    received_at: float
    #: The status the sink chose for it (None: it hung up without answering).
    response_status: int | None

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


class _Server(ThreadingHTTPServer):
    # Daemon handler threads (never holding up interpreter exit); close() joins them itself, since
    # socketserver only joins non-daemon ones.
    daemon_threads = True
    sink: HttpSink

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (or a connection closed by close()) is not worth a traceback."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"
    #: Socket timeout of one connection: a client that stalls mid-request is dropped.
    timeout = 10.0

    def setup(self) -> None:
        super().setup()
        self.server.sink._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.sink._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the sink records requests instead of logging them."""

    def _read_body(self, cap: int) -> tuple[bytes, bool]:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(cap)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        body = self.rfile.read(min(max(length, 0), cap)) if length > 0 else b""
        remaining = length - len(body)
        if 0 < remaining <= _MAX_DISCARD_BYTES:
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, _READ_CHUNK))
                if not chunk:
                    break
                remaining -= len(chunk)
        return body, length > cap

    def _read_chunked(self, cap: int) -> tuple[bytes, bool]:
        parts: list[bytes] = []
        stored = total = 0
        while total <= _MAX_DISCARD_BYTES:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            except ValueError:
                break
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers, up to the blank line
                    pass
                break
            left = size
            while left > 0:
                data = self.rfile.read(min(left, _READ_CHUNK))
                if not data:
                    return b"".join(parts), True
                left -= len(data)
                total += len(data)
                if stored < cap:
                    parts.append(data[: cap - stored])
                    stored += len(parts[-1])
            self.rfile.readline(8)  # the CRLF after the chunk
        return b"".join(parts), total > cap

    def _handle(self) -> None:
        sink = self.server.sink
        body, truncated = self._read_body(sink.max_body_bytes)
        if sink._closing.is_set():
            return  # cut short by close(): not a request worth recording
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        parsed: Any = None
        if body and not truncated:
            try:
                parsed = json.loads(body)
            except (UnicodeDecodeError, ValueError):
                parsed = None
        request = SinkRequest(
            method=self.command,
            path=self.path,
            headers=headers,
            body=body,
            body_truncated=truncated,
            json=parsed,
            received_monotonic=time.monotonic(),
            received_at=time.time(),
            response_status=None,
        )
        refused = sink.check(request) if sink.check is not None else None
        response = refused or sink._next_response()
        request = replace(request, response_status=None if response.hang else response.status)
        sink._record(request)
        if response.hang:
            sink._closing.wait(sink.hang_limit_s)
            self.close_connection = True
            return
        if response.delay_s > 0 and sink._closing.wait(response.delay_s):
            return  # closing: drop the connection instead of answering
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if not any(k.lower() == "content-type" for k in response.headers):
                self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except OSError:
            pass  # the client gave up (timeout) or the sink is closing

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class HttpSink:
    """A local HTTP server in a background thread that records requests (see the module doc).

    ``default`` answers every request once the plan given to respond_with() is used up.
    ``print_requests`` prints one line per request to stdout (for demos).
    """

    def __init__(
        self,
        *,
        default: SinkResponse | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_requests: int = MAX_REQUESTS,
        hang_limit_s: float = DEFAULT_HANG_LIMIT_S,
        print_requests: bool = False,
        check: Callable[[SinkRequest], SinkResponse | None] | None = None,
    ) -> None:
        self.default = default or SinkResponse()
        #: The vendor's validation (see the module doc); a refused request uses no scripted answer.
        self.check = check
        self.max_body_bytes = max_body_bytes
        self.max_requests = max_requests
        self.hang_limit_s = hang_limit_s
        self.print_requests = print_requests
        self._address = (host, port)
        self._plan: deque[SinkResponse] = deque()
        self._requests: list[SinkRequest] = []
        self._received = 0
        self._changed = threading.Condition()
        self._closing = threading.Event()
        #: Open connections and the threads serving them, for close() to shut down and join.
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> HttpSink:
        """Bind and serve in a background thread (idempotent)."""
        if self._server is not None:
            return self
        self._closing.clear()
        server = _Server(self._address, _Handler)
        server.sink = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"http-sink-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Release delayed and hanging answers, stop serving, close every socket, join the threads."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._closing.set()
        server.shutdown()
        with self._changed:
            connections = dict(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        deadline = time.monotonic() + 5
        for handler in [*connections.values(), thread]:
            if handler is not None:
                handler.join(timeout=max(deadline - time.monotonic(), 0))
        self._server = self._thread = None

    def __enter__(self) -> HttpSink:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # addresses

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sink is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("the sink is not started")
        host = self._server.server_address[0]
        return f"http://{host}:{self.port}"

    # the script

    def respond_with(self, *responses: SinkResponse) -> None:
        """Answer the next requests with ``responses``, in order (replacing any plan not yet used);
        ``default`` after that."""
        with self._changed:
            self._plan = deque(responses)

    def _next_response(self) -> SinkResponse:
        with self._changed:
            return self._plan.popleft() if self._plan else self.default

    # what was received

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._changed:
            if add:
                self._connections[connection] = threading.current_thread()
            else:
                self._connections.pop(connection, None)

    def _record(self, request: SinkRequest) -> None:
        with self._changed:
            self._received += 1
            if len(self._requests) < self.max_requests:
                self._requests.append(request)
            self._changed.notify_all()
        if self.print_requests:
            print(self._summary(request), flush=True)

    @staticmethod
    def _summary(request: SinkRequest) -> str:
        stamp = datetime.fromtimestamp(request.received_at, UTC).strftime("%H:%M:%S.%f")[:-3]
        what = ""
        if isinstance(request.json, dict):
            text = request.json.get("subject") or request.json.get("text")
            if isinstance(text, str):
                what = " " + " ".join(text.split())[:120]
        status = "no answer" if request.response_status is None else str(request.response_status)
        path = request.path if len(request.path) <= 60 else request.path[:59] + "…"
        return f"[sink {stamp}Z] {request.method} {path} {len(request.body)} B -> {status}{what}"

    @property
    def requests(self) -> list[SinkRequest]:
        """A snapshot of the requests kept so far, oldest first."""
        with self._changed:
            return list(self._requests)

    @property
    def received(self) -> int:
        """Requests received so far, including any beyond max_requests that were not kept."""
        with self._changed:
            return self._received

    def clear(self) -> None:
        """Forget the requests received so far (the plan stays)."""
        with self._changed:
            self._requests.clear()
            self._received = 0

    def wait_for_requests(self, n: int, timeout_s: float = 5.0) -> list[SinkRequest]:
        """Block until at least ``n`` requests were received; the snapshot. TimeoutError at the deadline."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while self._received < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"HttpSink received {self._received} of {n} requests in {timeout_s:g} s")
                self._changed.wait(min(left, 0.1))
            return list(self._requests)
