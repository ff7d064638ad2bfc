"""A fault-injecting HTTP/1.1 proxy on 127.0.0.1, for a store reached over HTTP (the moto S3 server).

Clients point at :attr:`FaultProxy.url` instead of the server; the proxy forwards each request on
the client's keep-alive connection (request line, headers, a ``Content-Length`` or chunked body)
over a connection of its own to the server, and the response back, until a fault says otherwise.
Faults are set on demand, from a timer (:meth:`FaultProxy.after`) or when a given request arrives
(:meth:`FaultProxy.on_request`):

- :meth:`~FaultProxy.down`: an outage. New connections are reset as soon as they are accepted and
  the live ones are cut; :meth:`~FaultProxy.outage` is a down that ends by itself.
- :meth:`~FaultProxy.blackhole`: connections are accepted and requests read, never answered.
- :meth:`~FaultProxy.reset_request`: the connection carrying the next request(s) for one key (e.g.
  the ``GET`` of ``.../3.json``) is reset (``SO_LINGER`` 0, an RST) instead of forwarding it.
- :meth:`~FaultProxy.slow`: a delay before each request, and/or responses trickled at a byte rate.
- :meth:`~FaultProxy.restore`: back to forwarding (a slow-down and pending resets stay).

Everything is bounded: :meth:`~FaultProxy.close` wakes and joins every thread the proxy started
(accept loop, connection handlers, timers), closes every socket, and raises if a thread is left.
One proxy per side (the writer's, the reader's) in front of one server targets each side's traffic.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, Optional
from urllib.parse import urlsplit

from support.faults.schedule import Scheduler

HOST = "127.0.0.1"
JOIN_SECONDS = 5.0
"""How long :meth:`FaultProxy.close` waits for its threads."""
TRICKLE_PIECE = 256
"""Bytes sent at a time when responses are trickled."""

Mode = Literal["forward", "down", "blackhole"]


class _Cut(Exception):
    """The connection ended: the peer closed it, the proxy cut it, or the proxy is closing."""


@dataclass
class Rule:
    """What happens to the next ``times`` requests ``method path`` whose path ends with ``suffix``:
    ``action()`` runs first (if any); then the connection is reset if ``reset``."""

    method: str
    suffix: str
    action: Optional[Callable[[], object]] = None
    reset: bool = False
    times: int = 1
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        return self.fired < self.times and method == self.method and path.split("?", 1)[0].endswith(self.suffix)


@dataclass(frozen=True)
class Seen:
    """One request the proxy read, and what it did with it."""

    method: str
    path: str
    outcome: Literal["forwarded", "reset", "held", "cut"]
    at: float = field(default_factory=time.monotonic)


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with an RST rather than a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class _Stream:
    """Buffered reads of HTTP framing from a socket; :class:`_Cut` at its end."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> None:
        try:
            data = self.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            raise _Cut()
        self.buffer += data

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line + b"\r\n"

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def rest(self) -> bytes:
        """Everything until the peer closes."""
        try:
            while True:
                self._fill()
        except _Cut:
            data, self.buffer = self.buffer, b""
            return data

    def head(self) -> tuple[bytes, dict[str, str]]:
        """A start line and its headers (names lower-cased), raw bytes included in the first item."""
        raw = start = self.line()
        while start == b"\r\n":  # tolerated between messages
            raw = start = self.line()
        headers: dict[str, str] = {}
        while (header := self.line()) != b"\r\n":
            raw += header
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return raw + b"\r\n", headers

    def body(self, headers: dict[str, str], *, until_close: bool) -> bytes:
        """The raw body the headers announce (chunked framing kept as is)."""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raw = b""
            while True:
                size_line = self.line()
                raw += size_line
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while (trailer := self.line()) != b"\r\n":
                        raw += trailer
                    return raw + b"\r\n"
                raw += self.exactly(size + 2)
        if "content-length" in headers:
            return self.exactly(int(headers["content-length"]))
        return self.rest() if until_close else b""


class FaultProxy:
    """A proxy on 127.0.0.1 in front of the HTTP server at ``upstream`` (``http://host:port``),
    injecting faults into what passes through; a context manager that closes it."""

    def __init__(self, upstream: str, name: str = "proxy") -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or HOST, parts.port or 80)
        self.name = name
        self.mode: Mode = "forward"
        self.latency = 0.0
        """Seconds waited before each request is forwarded."""
        self.bytes_per_second: Optional[float] = None
        """Responses are sent at this rate (None: at once)."""
        self.rules: list[Rule] = []
        self.seen: list[Seen] = []
        """Every request read, in order."""
        self.connections = 0
        """How many connections were accepted."""
        self._outages = 0
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._live: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self.schedule = Scheduler(name)
        """Timed and triggered faults (:meth:`after`); stopped at :meth:`close`."""
        self._listener = socket.create_server((HOST, 0))
        self._listener.settimeout(0.05)
        self.url = f"http://{HOST}:{self._listener.getsockname()[1]}"
        self._accepting = self._spawn(self._accept_loop, "accept")

    # ----- faults -----

    def down(self) -> None:
        """An outage from now on: new connections reset at once, live ones cut."""
        self.mode = "down"
        self._cut_live()

    def blackhole(self) -> None:
        """From now on requests are read and never answered (new connections are still accepted)."""
        self.mode = "blackhole"

    def restore(self) -> None:
        """Forward again."""
        self.mode = "forward"

    def outage(self, seconds: float) -> None:
        """:meth:`down` now, :meth:`restore` after ``seconds`` (unless a later outage is on then)."""
        self._outages += 1
        this = self._outages

        def end() -> None:
            if this == self._outages:
                self.restore()

        self.down()
        self.after(seconds, end)

    def slow(self, *, latency: float = 0.0, bytes_per_second: Optional[float] = None) -> None:
        """Delay each request by ``latency`` seconds; send responses at ``bytes_per_second``."""
        self.latency, self.bytes_per_second = latency, bytes_per_second

    def reset_request(self, method: str, suffix: str, times: int = 1) -> Rule:
        """Reset the connection of the next ``times`` requests ``method`` of a path ending with ``suffix``."""
        return self._add(Rule(method, suffix, reset=True, times=times))

    def on_request(self, method: str, suffix: str, action: Callable[[], object], times: int = 1) -> Rule:
        """Run ``action`` when a request ``method`` of a path ending with ``suffix`` arrives, before
        the proxy decides what to do with it (so ``action=proxy.down`` fails that very request)."""
        return self._add(Rule(method, suffix, action=action, times=times))

    def after(self, seconds: float, action: Callable[[], object]) -> None:
        """Run ``action`` in ``seconds`` (not if the proxy is closed first)."""
        self.schedule.after(seconds, action)

    def outcomes(self, outcome: str) -> list[Seen]:
        """The requests the proxy dealt with this way."""
        return [seen for seen in self.seen if seen.outcome == outcome]

    # ----- life -----

    def close(self) -> None:
        """Stop: every connection cut, every thread joined; RuntimeError if one is left running."""
        self._closing.set()
        self.schedule.close(JOIN_SECONDS)
        deadline = time.monotonic() + JOIN_SECONDS
        self._accepting.join(JOIN_SECONDS)  # no connection is accepted (and no thread started) after this
        self._listener.close()
        self._cut_live()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        left = [thread.name for thread in threads if thread.is_alive()]
        if left:
            raise RuntimeError(f"{self.name}: threads still running after close: {left}")

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self, kind: Optional[type[BaseException]], error: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.close()

    # ----- inside -----

    def _add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def _spawn(self, target: Callable[..., None], what: str, *args: object) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name=f"{self.name} {what}", daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()
        return thread

    def _cut_live(self) -> None:
        with self._lock:
            live = list(self._live)
        for sock in live:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked on it, which closes it
            except OSError:
                pass

    def _accept_loop(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            self.connections += 1
            if self.mode == "down":
                _reset(client)
                continue
            client.settimeout(None)
            self._spawn(self._serve, "connection", client)

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._live.add(sock)
        if self._closing.is_set() or self.mode == "down":
            sock.shutdown(socket.SHUT_RDWR)

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._live.discard(sock)

    def _serve(self, client: socket.socket) -> None:
        """One client connection: its requests one after the other, until it or the proxy ends it."""
        server: Optional[socket.socket] = None
        reset = False
        try:
            self._track(client)
            stream = _Stream(client)
            server_stream: Optional[_Stream] = None
            while True:
                head, headers = stream.head()
                method, path = head.split(b" ", 2)[:2]
                request = (method.decode("latin-1"), path.decode("latin-1"))
                if headers.get("expect", "").lower() == "100-continue":  # answered here, not forwarded
                    client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                    head = _drop_header(head, b"expect")
                body = stream.body(headers, until_close=False)
                outcome = self._decide(*request)
                if outcome == "reset":
                    reset = True
                    self.seen.append(Seen(*request, "reset"))
                    return
                if outcome == "held":
                    self.seen.append(Seen(*request, "held"))
                    stream.rest()  # until the client gives up, or the proxy closes
                    return
                if self.latency and self._closing.wait(self.latency):
                    return
                if self.mode == "down":
                    self.seen.append(Seen(*request, "cut"))
                    reset = True
                    return
                if server is None or server_stream is None:
                    server = socket.create_connection(self.upstream)
                    self._track(server)
                    server_stream = _Stream(server)
                server.sendall(head + body)
                status, response_headers = server_stream.head()
                while status.split(b" ", 2)[1].startswith(b"1"):  # interim responses
                    client.sendall(status)
                    status, response_headers = server_stream.head()
                code = status.split(b" ", 2)[1]
                bodiless = request[0] == "HEAD" or code in (b"204", b"304")
                delimited = bodiless or "content-length" in response_headers or "transfer-encoding" in response_headers
                response_body = b"" if bodiless else server_stream.body(response_headers, until_close=True)
                if delimited and "close" in response_headers.get("connection", "").lower():
                    # the server (moto) closes after each response: the client's connection stays
                    # alive (as S3's do), the next request goes over a new server connection
                    status = _drop_header(status, b"connection")
                    self._untrack(server)
                    server.close()
                    server = server_stream = None
                # noted before the client has the answer, so that a test reading ``seen`` once its
                # request returned finds it there (as the other outcomes are noted before acting)
                self.seen.append(Seen(*request, "forwarded"))
                self._send(client, status + response_body)
                if not delimited or "close" in headers.get("connection", "").lower():
                    return
        except (_Cut, OSError, ValueError, IndexError):
            reset = True  # the other end sees the connection end abruptly, as a real outage does
        finally:
            self._untrack(client)
            if server is not None:
                self._untrack(server)
                _reset(server)
            _reset(client) if reset else client.close()

    def _decide(self, method: str, path: str) -> Literal["forward", "reset", "held"]:
        """Runs the rules that match; what to do with the request."""
        with self._lock:
            matching = [rule for rule in self.rules if rule.matches(method, path)]
            for rule in matching:
                rule.fired += 1
        for rule in matching:
            if rule.action is not None:
                rule.action()
        if self.mode == "down" or any(rule.reset for rule in matching):
            return "reset"
        if self.mode == "blackhole":
            return "held"
        return "forward"

    def _send(self, client: socket.socket, data: bytes) -> None:
        rate = self.bytes_per_second
        if not rate:
            client.sendall(data)
            return
        for start in range(0, len(data), TRICKLE_PIECE):
            client.sendall(data[start : start + TRICKLE_PIECE])
            if self._closing.wait(TRICKLE_PIECE / rate):
                raise _Cut()


def _drop_header(head: bytes, name: bytes) -> bytes:
    """``head`` without the header ``name`` (lower case)."""
    lines = head.split(b"\r\n")
    return b"\r\n".join(line for line in lines if not line.lower().startswith(name + b":"))
