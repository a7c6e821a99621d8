"""A real S3-compatible server for tests (moto in server mode, on 127.0.0.1) and a small
proxy in front of it that answers chosen requests with 503 SlowDown, as S3 does when a
prefix gets more requests than it serves, and counts every request it forwards.

The code under test talks to the proxy (AWS_ENDPOINT_URL); fixtures are uploaded to moto
directly. Both listen on free ports of the loopback interface and stop when the test
session ends.
"""

from __future__ import annotations

import http.client
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
             b"<Message>Please reduce your request rate.</Message><RequestId>test</RequestId></Error>")
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}


@dataclass
class Fault:
    """Answer `times` requests whose `METHOD /path` matches `pattern` with 503 (-1: every one)."""

    pattern: str
    times: int = -1
    hits: int = 0


@dataclass
class Faults:
    """What the proxy does to requests, and what it saw (method, decoded path) per request."""

    rules: list[Fault] = field(default_factory=list)
    seen: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, pattern: str, times: int = -1) -> None:
        with self.lock:
            self.rules.append(Fault(pattern, times))

    def reset(self) -> None:
        with self.lock:
            self.rules.clear()
            self.seen.clear()

    def hit(self, method: str, target: str) -> bool:
        """Record the request; True when it is to fail."""
        path = unquote(urlsplit(target).path)
        listing = "list-type=2" in target
        with self.lock:
            self.seen[(method, path, listing)] += 1
            for rule in self.rules:
                if re.search(rule.pattern, f"{method} {path}") and rule.times != 0:
                    rule.times -= 1 if rule.times > 0 else 0
                    rule.hits += 1
                    return True
        return False

    def gets(self, suffix: str = "") -> int:
        """How many object GETs (not listings) the proxy forwarded or failed, for paths ending so."""
        return sum(n for (m, p, listing), n in self.seen.items() if m == "GET" and not listing and p.endswith(suffix))

    def listings(self) -> int:
        return sum(n for (m, _, listing), n in self.seen.items() if m == "GET" and listing)


def proxy(upstream: str, faults: Faults) -> ThreadingHTTPServer:
    """A started proxy on 127.0.0.1 forwarding to `upstream` (host:port) unless a fault says no."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if faults.hit(self.command, self.path):
                payload = b"" if self.command == "HEAD" else SLOW_DOWN
                self.send_response(503, "Slow Down")
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(SLOW_DOWN)))
                self.end_headers()
                self.wfile.write(payload)
                return
            conn = http.client.HTTPConnection(upstream, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in _HOP:
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def upload(fs: object, folder: Path, prefix: str) -> int:
    """Put every regular file below `folder` under `prefix` (a store has no symlinks)."""
    data = {}
    for here, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(here, name)
            if not os.path.islink(path):
                rel = os.path.relpath(path, folder).replace(os.sep, "/")
                data[f"{prefix}/{rel}"] = Path(path).read_bytes()
    fs.pipe(data)  # type: ignore[attr-defined]
    return len(data)
