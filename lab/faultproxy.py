"""A fault-injecting HTTP proxy on loopback, in front of the lab's NetBox.

It forwards each request to NetBox, one request per connection (it asks both sides for
``Connection: close``), unless a rule matches the request line: then it answers with an error
status itself, waits before answering, cuts the answer short, or resets the connection. Rules
match a substring of the request line (``/api/dcim/devices/``, ``offset=``) and fire a set number
of times, or always. Tests start it with `FaultProxy(url)`; `python -m lab.faultproxy --target
URL` runs one from a shell, passing everything through.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["status", "slow", "truncate", "reset"]


@dataclass
class Rule:
    """`kind` on requests whose request line contains `match`, `times` times (None: always)."""

    kind: FaultKind
    match: str = ""
    times: int | None = None
    status: int = 503
    delay: float = 0.0
    fired: int = 0

    def takes(self, request_line: str) -> bool:
        return self.match in request_line and (self.times is None or self.fired < self.times)


class FaultProxy:
    """The proxy, listening on 127.0.0.1 on a free port (`url`)."""

    def __init__(self, target: str) -> None:
        hostport = target.split("//", 1)[-1].rstrip("/")
        host, port = hostport.rsplit(":", 1)
        self.target = (host, int(port))
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.rules: list[Rule] = []
        self.seen: list[str] = []  # request lines, in order
        self.faults: list[tuple[FaultKind, str]] = []  # what fired, on which request line
        self._lock = threading.Lock()
        self._open = True
        threading.Thread(target=self._accept, daemon=True, name="faultproxy").start()

    # -- control ------------------------------------------------------------------------------
    def add(self, kind: FaultKind, match: str = "", times: int | None = None, status: int = 503,
            delay: float = 0.0) -> Rule:
        rule = Rule(kind, match, times, status, delay)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def close(self) -> None:
        """NetBox gone: no connection is taken from here on. (On Linux, closing a socket does not
        wake an `accept()` blocked on it: `shutdown` does, and `_accept` drops what it took after.)"""
        self._open = False
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.server.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- serving ------------------------------------------------------------------------------
    def _accept(self) -> None:
        while self._open:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self._open:  # taken while closing: refused, as a stopped NetBox would
                client.close()
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with contextlib.closing(client):
            try:
                request = _read_request(client)
            except OSError:
                return
            if request is None:
                return
            line = request.split(b"\r\n", 1)[0].decode("latin-1")
            with self._lock:
                self.seen.append(line)
                rule = next((r for r in self.rules if r.takes(line)), None)
                if rule is not None:
                    rule.fired += 1
                    self.faults.append((rule.kind, line))
            try:
                self._answer(client, request, rule)
            except OSError:
                return

    def _answer(self, client: socket.socket, request: bytes, rule: Rule | None) -> None:
        if rule is not None and rule.kind == "reset":
            # SO_LINGER with a zero timeout: close() sends an RST, as a crashed load balancer does.
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if rule is not None and rule.kind == "status":
            body = f"<html><body><h1>{rule.status} injected by the lab's fault proxy</h1></body></html>".encode()
            client.sendall(f"HTTP/1.1 {rule.status} Fault\r\nContent-Type: text/html\r\n"
                           f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
            return
        with socket.create_connection(self.target, timeout=120) as upstream:
            upstream.sendall(_close_after(request))
            chunks = []
            while data := upstream.recv(65536):
                chunks.append(data)
        answer = b"".join(chunks)
        if rule is not None and rule.kind == "slow":
            time.sleep(rule.delay)
        if rule is not None and rule.kind == "truncate":
            head, _, body = answer.partition(b"\r\n\r\n")
            client.sendall(head + b"\r\n\r\n" + body[: max(1, len(body) // 2)])
            return
        client.sendall(answer)


def _read_request(sock: socket.socket) -> bytes | None:
    """One HTTP request: its head and, by Content-Length, its body. None: the client left."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for header in head.split(b"\r\n")[1:]:
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _close_after(request: bytes) -> bytes:
    """The request with ``Connection: close``: the upstream ends the answer by closing."""
    head, _, body = request.partition(b"\r\n\r\n")
    lines = [h for h in head.split(b"\r\n") if not h.lower().startswith((b"connection:", b"keep-alive:"))]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m lab.faultproxy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", required=True, help="NetBox's URL, e.g. http://127.0.0.1:18080")
    args = parser.parse_args()
    proxy = FaultProxy(args.target)
    print(proxy.url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
