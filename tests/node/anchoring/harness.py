"""Real processes for the anchoring tests: an anvil, a JSON-RPC proxy that can go down or refuse
large log ranges, and `credledger up` node processes that can be killed with SIGKILL."""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from credledger.node.auth import hash_token
from credledger.node.devnet import free_port
from tests.support.node_process import ADMIN_HEADERS, UpProcess, admin_env

# the service identity the anchoring tests anchor with (anchoring needs a token)
ANCHOR_TOKEN = "tok-anchoring-tests-" + "a" * 32
AUTH = {"Authorization": f"Bearer {ANCHOR_TOKEN}"}
SERVICE_TOKENS = json.dumps([{"name": "tests", "token_sha256": [hash_token(ANCHOR_TOKEN)]}])


class RpcProxy:
    """An HTTP JSON-RPC proxy in front of a chain: ``down()`` closes the port (connection
    refused), ``up()`` opens it again; ``max_log_blocks`` makes it refuse wider eth_getLogs."""

    def __init__(self, target: str, max_log_blocks: int | None = None) -> None:
        self.target = target
        self.blocked_methods: set[str] = set()  # answered by dropping the connection
        self.port = free_port()
        self.max_log_blocks = max_log_blocks
        self.refused = 0
        self.requests = 0
        self._server: ThreadingHTTPServer | None = None
        self._client = httpx.Client(timeout=30)
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def setup(self) -> None:
                super().setup()
                proxy._conns.add(self.connection)

            def finish(self) -> None:
                proxy._conns.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if proxy._server is None or proxy._blocked(body):
                    self.close_connection = True  # down: drop the connection without an answer
                    return
                proxy.requests += 1
                reply = proxy._refusal(body)
                if reply is None:
                    resp = proxy._client.post(
                        proxy.target, content=body, headers={"content-type": "application/json"}
                    )
                    reply = resp.content
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        return Handler

    def _blocked(self, body: bytes) -> bool:
        if not self.blocked_methods:
            return False
        req = json.loads(body)
        return isinstance(req, dict) and req.get("method") in self.blocked_methods

    def _refusal(self, body: bytes) -> bytes | None:
        if self.max_log_blocks is None:
            return None
        req = json.loads(body)
        if isinstance(req, dict) and req.get("method") == "eth_getLogs":
            f = req["params"][0]
            start, end = int(f["fromBlock"], 16), int(f["toBlock"], 16)
            if end - start + 1 > self.max_log_blocks:
                self.refused += 1
                err = {"code": -32005, "message": "query exceeds max block range"}
                return json.dumps({"jsonrpc": "2.0", "id": req["id"], "error": err}).encode()
        return None

    def up(self) -> None:
        with self._lock:
            if self._server is not None:
                return
            server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self._server = server

    def down(self) -> None:
        with self._lock:
            if self._server is None:
                return
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            for conn in list(self._conns):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class NodeProcess(UpProcess):
    """`credledger up --rpc …` as a real subprocess with its own data folder."""

    def __init__(
        self,
        rpc_urls: list[str],
        workdir: Path,
        manifest: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            workdir,
            rpc_urls=rpc_urls,
            manifest=manifest,
            env={
                "CREDLEDGER_ANCHORING__BATCH_INTERVAL": "0.3",
                "CREDLEDGER_INDEXER__POLL_INTERVAL": "0.2",
                **admin_env(),  # health() reads the admin-only rpcUrl and signer
                "CREDLEDGER_API__SERVICE_TOKENS": SERVICE_TOKENS,
                **(env or {}),
            },
        )
        self.rpc_urls = rpc_urls
        self.manifest = manifest

    def start(self, wait: bool = True) -> None:  # type: ignore[override]
        super().start(self.workdir / f"node-{self.starts}.log")
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:  # type: ignore[override]
        super().wait_ready("/v1/anchors/" + "00" * 32, lambda r: r.status_code == 404, timeout)

    # --- client helpers ---------------------------------------------------------------------

    def submit(self, hashes: list[bytes]) -> httpx.Response:
        return httpx.post(
            self.url + "/v1/anchors",
            json={"hashes": ["0x" + h.hex() for h in hashes]},
            headers=AUTH,
            timeout=30,
        )

    def record(self, h: bytes) -> dict[str, Any]:
        r = httpx.get(self.url + "/v1/anchors/0x" + h.hex(), timeout=30)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def health(self) -> dict[str, Any]:
        r = httpx.get(self.url + "/health", headers=ADMIN_HEADERS, timeout=30)
        body: dict[str, Any] = r.json()
        return body

    def wait_confirmed(self, hashes: list[bytes], timeout: float = 60) -> list[dict[str, Any]]:
        """Wait until every hash is confirmed (polls the first and last, then reads all)."""
        deadline = time.monotonic() + timeout
        probes = list(dict.fromkeys([hashes[0], hashes[-1]]))
        while time.monotonic() < deadline:
            if all(self.record(h)["status"] == "confirmed" for h in probes):
                break
            time.sleep(0.2)
        done: dict[bytes, dict[str, Any]] = {}
        while time.monotonic() < deadline:
            for h in hashes:
                if h not in done:
                    rec = self.record(h)
                    if rec["status"] == "confirmed":
                        done[h] = rec
            if len(done) == len(hashes):
                return [done[h] for h in hashes]
            time.sleep(0.2)
        raise AssertionError(f"{len(hashes) - len(done)} hashes not confirmed in {timeout}s")

    def wait_queue_empty(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = self.health()["anchoring"]
                if last["queueDepth"] == 0:
                    return
            except (httpx.HTTPError, KeyError):
                pass
            time.sleep(0.3)
        raise AssertionError(f"queue not empty after {timeout}s: {last}")

    def db(self, name: str = "anchoring.sqlite3") -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.data_dir / name}?mode=ro", uri=True)


def rpc(url: str, method: str, params: list[Any] | None = None) -> Any:
    r = httpx.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=30
    )
    body = r.json()
    if "error" in body:
        raise RuntimeError(body["error"])
    return body["result"]


def scrape(url: str) -> tuple[dict[str, str], dict[str, float]]:
    """``GET /metrics`` parsed with prometheus_client's own parser: (family name -> type,
    sample name with its labels -> value), e.g. ``samples['credledger_reorgs_total']``."""
    from prometheus_client.parser import text_string_to_metric_families

    types: dict[str, str] = {}
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(url + "/metrics").text):
        types[family.name] = family.type
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            samples[s.name + (f"{{{labels}}}" if labels else "")] = s.value
    return types, samples
