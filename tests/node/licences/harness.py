"""Real node processes for the licence tests: `credledger up --rpc … --no-demo` + TOML config."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx

from credledger.node.auth import hash_token
from tests.support.node_process import UpProcess

SUBJECT_SECRET = "licence-tests-subject-secret-0123456789"

# A test node usually serves a whole session of tests that share its tokens, so the default burst
# (200 writes per principal) is met by whichever test comes last and it answers 429 to a check of
# something else. Nodes whose config names no rate limits get limits no test reaches; the limiter
# itself is tested on nodes that set their own (tests/node/api `tight`).
SHARED_NODE_LIMITS = """
[api.rate_limits]
writes_per_minute = 6000000.0
write_burst = 1000000
public_per_minute = 6000000.0
public_burst = 1000000
"""


def toml_config(
    departments: list[dict[str, Any]],
    clerks: list[dict[str, Any]],
    admin_tokens: list[str],
    department_codes: dict[str, str] | None = None,
) -> str:
    """A node config; tokens are given in clear here and written as their SHA-256;
    ``department_codes``: other nodes' departments' USCCs by address."""

    def arr(xs: list[str]) -> str:
        return "[" + ", ".join(f'"{x}"' for x in xs) + "]"

    lines = [f'subject_secret = "{SUBJECT_SECRET}"', "", "[licences]"]
    lines.append(f"admin_token_sha256 = {arr([hash_token(t) for t in admin_tokens])}")
    if department_codes:
        codes = ", ".join(f'"{a}" = "{c}"' for a, c in department_codes.items())
        lines.append(f"department_codes = {{{codes}}}")
    for d in departments:
        lines += [
            "",
            "[[departments]]",
            f'name = "{d["name"]}"',
            f"dev_account = {d['dev_account']}",
            f"token_sha256 = {arr([hash_token(d['token'])])}",
            f"issues = {arr(d.get('issues', []))}",
            f"supervises = {arr(d.get('supervises', []))}",
        ]
        if d.get("uscc"):
            lines.append(f'uscc = "{d["uscc"]}"')
    for c in clerks:
        lines += [
            "",
            "[[clerks]]",
            f'name = "{c["name"]}"',
            f'department = "{c["department"]}"',
            f"token_sha256 = {arr([hash_token(c['token'])])}",
        ]
    return "\n".join(lines) + "\n"


class Node(UpProcess):
    """One node process with its own data folder, config, signer and HTTP client."""

    def __init__(
        self,
        name: str,
        rpc_url: str,
        workdir: Path,
        manifest: Path,
        config: str,
        signer_dev_account: int,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        if "rate_limits" not in config:
            config += SHARED_NODE_LIMITS
        (workdir / "config.toml").write_text(config, encoding="utf-8")
        super().__init__(
            workdir,
            rpc_urls=[rpc_url],
            manifest=manifest,
            demo=False,
            env={
                "CREDLEDGER_CONFIG": str(workdir / "config.toml"),
                "CREDLEDGER_SIGNER__DEV_ACCOUNT": str(signer_dev_account),
                "CREDLEDGER_ANCHORING__BATCH_INTERVAL": "0.3",
                "CREDLEDGER_INDEXER__POLL_INTERVAL": "0.2",
            },
        )
        self.name = name
        self.rpc_url = rpc_url
        self.client = httpx.Client(base_url=self.url, timeout=60)
        # every response body this node sent, for the privacy checks
        self.responses: list[str] = []
        self._lock = threading.Lock()

    def start(self, timeout: float = 60) -> None:  # type: ignore[override]
        super().start()
        self.wait_ready("/v1/licence-types", timeout=timeout)

    def stop(self) -> None:  # type: ignore[override]
        super().stop(timeout=20)
        self.client.close()

    # --- HTTP -----------------------------------------------------------------------------------

    def request(
        self, method: str, path: str, token: str | None = None, **kw: Any
    ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        r = self.client.request(method, path, headers=headers, **kw)
        with self._lock:
            self.responses.append(r.text)
        return r

    def get(self, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        return self.request("GET", path, token, **kw)

    def post(self, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        return self.request("POST", path, token, **kw)

    def ok(self, r: httpx.Response, status: int = 200) -> dict[str, Any]:
        assert r.status_code == status, f"{r.status_code} {r.text}"
        body: dict[str, Any] = r.json()
        return body

    def health(self) -> dict[str, Any]:
        return self.ok(self.get("/health"))

    def wait_indexed(self, block: int, timeout: float = 10.0) -> float:
        """Wait until this node's indexer has ``block``; return how long it took."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.health()["indexer"]["indexedHeight"] >= block:
                return time.monotonic() - start
            time.sleep(0.05)
        raise AssertionError(f"node {self.name} did not index block {block} in {timeout}s")
