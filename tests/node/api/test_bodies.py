"""Bounded parsing against a real node process: deep nesting, huge bodies, slow bodies.

Every refusal must come as a JSON 4xx while the node lives on, answers others, and keeps its
memory flat (RSS read from /proc).
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.node.api.conftest import TOKENS
from tests.node.licences.harness import Node

pytestmark = pytest.mark.chain

DEEP = b"[" * 100_000
MB = 1 << 20


def rss_mb(node: Node) -> float:
    assert node.proc is not None
    for line in Path(f"/proc/{node.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def alive(node: Node) -> None:
    assert node.proc is not None and node.proc.poll() is None, "the node died"
    assert node.get("/v1/licence-types").status_code == 200


def problem(r: httpx.Response, status: int, code: str | None = None) -> dict[str, object]:
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith("application/json")
    body: dict[str, object] = r.json()
    assert body["error"] and body["message"]
    if code is not None:
        assert body["error"] == code, body
    return body


def test_py_ecc_recursion_limit_makes_plain_json_crash_but_not_ours() -> None:
    """The cause, shown: with py_ecc imported json.loads of 100,000 '[' segfaults; loads_json
    refuses it before parsing, and the app restores the limit."""
    plain = "import py_ecc, json; json.loads(b'[' * 100000)"
    r = subprocess.run([sys.executable, "-c", plain], capture_output=True, timeout=60)
    assert r.returncode != 0  # -11 (SIGSEGV) on CPython 3.11
    ours = (
        "import sys, py_ecc\n"
        "from credledger.node.core.http.limits import loads_json, JsonTooDeepError\n"
        "from credledger.node.app import create_app\n"
        "try:\n    loads_json(b'[' * 100000)\nexcept JsonTooDeepError:\n    print('refused')\n"
        "from credledger.node.core.http.limits import restore_recursion_limit\n"
        "restore_recursion_limit(); print(sys.getrecursionlimit())\n"
    )
    r = subprocess.run([sys.executable, "-c", ours], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["refused", "1000"]


@pytest.mark.parametrize(
    ("path", "token", "status"),
    [
        ("/v1/anchors", None, 401),  # no token: refused before the body is read
        ("/v1/anchors", "service", 422),
        ("/v1/verify/document", None, 422),
        ("/v1/licences", "market", 422),
        ("/v1/licences:batch", "market", 422),
        ("/v1/licence-types", "admin", 422),
    ],
)
def test_deep_nesting_is_a_4xx_and_the_node_lives(
    hnode: Node, path: str, token: str | None, status: int
) -> None:
    r = hnode.post(
        path,
        TOKENS[token] if token else None,
        content=DEEP,
        headers={"content-type": "application/json"},
    )
    body = problem(r, status)
    if status == 422:
        assert body["error"] == "json_too_deep"
    # nested inside a valid-looking object and in a multipart metadata field too
    nested = b'{"hashes": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    r = hnode.post(
        path,
        TOKENS[token] if token else None,
        content=nested,
        headers={"content-type": "application/json"},
    )
    assert r.status_code == status, r.text
    alive(hnode)


def test_deep_metadata_in_multipart_is_refused(hnode: Node) -> None:
    form = {"type": "FOOD-OPERATION", "serialNumber": "S-1", "metadata": "[" * 30_000}
    r = hnode.post(
        "/v1/licences", TOKENS["market"], data=form, files={"document": ("d.txt", b"doc")}
    )
    problem(r, 422, "json_too_deep")
    alive(hnode)


def _raw_request(node: Node, head: str) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", node.port), timeout=30)
    s.sendall(head.encode())
    return s


def _read_response(s: socket.socket, timeout: float = 30) -> tuple[int, bytes]:
    s.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(
        (int(v) for k, _, v in (h.partition(b":") for h in head.split(b"\r\n")[1:])
         if k.strip().lower() == b"content-length"),
        0,
    )  # fmt: skip
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, rest


def test_content_length_over_the_limit_is_refused_before_the_body(hnode: Node) -> None:
    size = 200 * MB
    for ctype in ("application/json", "multipart/form-data; boundary=x"):
        s = _raw_request(
            hnode,
            f"POST /v1/anchors HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKENS['service']}"
            f"\r\nContent-Type: {ctype}\r\nContent-Length: {size}\r\n\r\n",
        )
        start = time.monotonic()
        status, body = _read_response(s)  # answered although not one body byte was sent
        s.close()
        assert status == 413
        assert json.loads(body)["error"] == "payload_too_large"
        assert time.monotonic() - start < 5
    alive(hnode)


@pytest.mark.parametrize(
    ("path", "ctype", "limit"),
    [
        ("/v1/anchors", "application/json", 2 * MB),
        ("/v1/verify/document", "multipart/form-data; boundary=xyz", 4 * MB),
        ("/v1/licences", "application/json", 2 * MB),
    ],
)
def test_200_mb_streamed_body_is_cut_at_the_limit_with_memory_flat(
    hnode: Node, path: str, ctype: str, limit: int
) -> None:
    """A chunked body (no Content-Length) is counted as it streams: 413 right after the limit,
    the rest is never read, and the node's RSS does not grow with the body."""
    before = rss_mb(hnode)
    token = TOKENS["service"] if path == "/v1/anchors" else TOKENS["market"]
    s = _raw_request(
        hnode,
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {ctype}\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    if ctype.startswith("multipart"):
        prefix = (
            b'--xyz\r\nContent-Disposition: form-data; name="document"; filename="big.bin"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n"
        )
        s.sendall(b"%x\r\n%s\r\n" % (len(prefix), prefix))
    chunk = b"[" * MB if ctype == "application/json" else b"\0" * MB
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    sent = 0
    peak = before
    s.settimeout(0.05)
    answered = False
    while sent < 200 * MB:
        try:
            s.sendall(frame)
        except OSError:  # the node closed the connection after its 413
            break
        sent += len(chunk)
        peak = max(peak, rss_mb(hnode))
        try:
            if s.recv(1, socket.MSG_PEEK):
                answered = True
                break
        except (TimeoutError, BlockingIOError):
            pass
        except OSError:
            break
    s.settimeout(30)
    status, body = _read_response(s)
    s.close()
    assert status == 413, body
    assert json.loads(body)["error"] == "payload_too_large"
    print(f"{path} {ctype}: cut after {sent / MB:.0f} MB sent, RSS {before:.0f} -> {peak:.0f} MB")
    # cut near the limit: the socket buffers hold a few MB at most, never the 200 MB
    assert sent < limit + 32 * MB, (answered, sent)
    assert peak - before < 40, f"RSS grew from {before:.0f} MB to {peak:.0f} MB"
    alive(hnode)


def test_slow_body_is_answered_408(tight: Node) -> None:
    """A body that stalls (body_timeout 2 s) or drags on (body_deadline 4 s) gets a 408."""
    head = (
        "POST /v1/verify/document HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n"
    )
    s = _raw_request(tight, head)
    s.sendall(b'{"documentHash": ')
    start = time.monotonic()
    status, body = _read_response(s, timeout=20)
    s.close()
    assert status == 408 and json.loads(body)["error"] == "request_timeout"
    assert 1.5 < time.monotonic() - start < 8

    s = _raw_request(tight, head)
    start = time.monotonic()
    status = 0
    for _ in range(60):  # one byte a second: each under the 2 s timeout, the whole over 4 s
        try:
            s.sendall(b" ")
        except OSError:
            break
        s.settimeout(1.0)
        try:
            if s.recv(1, socket.MSG_PEEK):
                break
        except TimeoutError:
            continue
    status, body = _read_response(s, timeout=20)
    s.close()
    assert status == 408
    assert time.monotonic() - start < 10


def test_slow_headers_do_not_block_other_callers(tight: Node) -> None:
    """Slowloris: 100 connections dribbling header bytes; the node still answers at once."""
    socks: list[socket.socket] = []
    stop = threading.Event()
    for _ in range(100):
        s = socket.create_connection(("127.0.0.1", tight.port), timeout=10)
        s.sendall(b"POST /v1/anchors HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)

    def dribble() -> None:
        while not stop.is_set():
            for s in socks:
                with contextlib.suppress(OSError):
                    s.sendall(b"X-a: b\r\n")
            time.sleep(0.5)

    t = threading.Thread(target=dribble, daemon=True)
    t.start()
    try:
        for _ in range(5):
            start = time.monotonic()
            assert httpx.get(tight.url + "/v1/reason-codes", timeout=10).status_code == 200
            assert time.monotonic() - start < 2
            time.sleep(0.3)
    finally:
        stop.set()
        t.join(timeout=5)
        for s in socks:
            s.close()
    alive(tight)
