"""Slow-header clients (slowloris): connections that send a request's headers one byte a second."""

from __future__ import annotations

import selectors
import socket
import time

HEADER = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4096


def trickle(port: int, connections: int, give_up: float) -> list[float]:
    """Open ``connections`` to 127.0.0.1:``port``, each sending a request's header one byte a
    second and never finishing it; the seconds after which the server closed each one
    (``inf``: still open after ``give_up`` seconds)."""
    sel = selectors.DefaultSelector()
    start = time.monotonic()
    socks = []
    for _ in range(connections):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    cut: dict[socket.socket, float] = {}
    sent = 0
    next_byte = start
    try:
        while len(cut) < connections and time.monotonic() - start < give_up:
            now = time.monotonic()
            if now >= next_byte:
                for s in socks:
                    if s not in cut:
                        try:
                            s.send(HEADER[sent : sent + 1])
                        except OSError:
                            cut[s] = now - start
                sent += 1
                next_byte += 1.0
            for key, _ in sel.select(timeout=max(0.0, min(0.2, next_byte - now))):
                s = key.fileobj  # type: ignore[assignment]
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    cut.setdefault(s, time.monotonic() - start)  # type: ignore[arg-type]
                    sel.unregister(s)
    finally:
        for s in socks:
            s.close()
        sel.close()
    return [cut.get(s, float("inf")) for s in socks]
