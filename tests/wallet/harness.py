"""A real wallet process (`python -m credledger.wallet serve`) for the wallet tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from credledger.node.auth import hash_token
from credledger.node.devnet import free_port
from tests.support.reaper import tied

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
CLERK_TOKEN = "clerk-token-" + "c" * 32
WALLET_NODE_TOKEN = "wallet-service-token-" + "w" * 32
# fast KDFs for tests (the defaults are argon2id 64 MiB and scrypt N=2**18)
FAST_KDF = {
    "CREDLEDGER_WALLET_SECURITY__ARGON2_MEMORY_KIB": "1024",
    "CREDLEDGER_WALLET_SECURITY__ARGON2_TIME_COST": "1",
    "CREDLEDGER_WALLET_SECURITY__KEYSTORE_SCRYPT_N": "1024",
}


def wallet_config(clerk_token: str = CLERK_TOKEN) -> str:
    return (
        "[[clerks]]\n"
        'name = "clerk-yangpu"\n'
        'display_name = "Yangpu service counter"\n'
        f'token_sha256 = ["{hash_token(clerk_token)}"]\n'
    )


def run_wallet_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m credledger.wallet …` (the same commands as `credledger wallet …`)."""
    return subprocess.run(
        [sys.executable, "-m", "credledger.wallet", *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=ROOT,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip


class Wallet:
    """One wallet service process with its own data dir, talking to a node and a chain."""

    def __init__(
        self,
        workdir: Path,
        rpc_url: str,
        node_url: str,
        manifest: Path,
        env: dict[str, str] | None = None,
        relayer_dev_account: int = 7,
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = workdir / "data"
        self.log_path = workdir / "wallet.log"
        (workdir / "wallet.toml").write_text(wallet_config(), encoding="utf-8")
        self.port = free_port()
        self.rpc_url = rpc_url
        self.env = {
            **os.environ,
            **FAST_KDF,
            "CREDLEDGER_WALLET_CONFIG": str(workdir / "wallet.toml"),
            "CREDLEDGER_WALLET_MANIFEST": str(manifest),
            "CREDLEDGER_WALLET_RELAYER__DEV_ACCOUNT": str(relayer_dev_account),
            "CREDLEDGER_WALLET_MATERIALS__ANCHOR_POLL_INTERVAL": "0.2",
            "CREDLEDGER_WALLET_LOG_LEVEL": "WARNING",
            "CREDLEDGER_WALLET_NODE_TOKEN": WALLET_NODE_TOKEN,
            **(env or {}),
        }
        self.node_url = node_url
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(base_url=self.url, timeout=60)
        # every response body, for the secrets scan
        self.responses: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "credledger.wallet", "serve", "--port", str(self.port),
             "--rpc", self.rpc_url, "--node", self.node_url, "--data-dir", str(self.data_dir)],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=tied(),
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"wallet exited; see {self.log_path}:\n{self.log()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if self.client.get("/v1/ping").status_code == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"wallet did not answer within {timeout}s")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def kill(self) -> None:
        """kill -9, no clean-up at all."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    # --- HTTP -----------------------------------------------------------------------------------

    def request(
        self, method: str, path: str, token: str | None = None, **kw: Any
    ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        r = self.client.request(method, path, headers=headers, **kw)
        self.responses.append(r.text if len(r.content) < 1 << 20 else "")
        return r

    def get(self, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        return self.request("GET", path, token, **kw)

    def post(self, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        return self.request("POST", path, token, **kw)

    def delete(self, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        return self.request("DELETE", path, token, **kw)

    @staticmethod
    def ok(r: httpx.Response, status: int = 200) -> dict[str, Any]:
        assert r.status_code == status, f"{r.status_code} {r.text}"
        body: dict[str, Any] = r.json()
        return body

    def register(self, uscc: str, name: str, **extra: Any) -> dict[str, Any]:
        body = {"uscc": uscc, "name": name, "password": PASSWORD, **extra}
        return self.ok(self.post("/v1/accounts", json=body), 201)

    def login(self, uscc: str, login: str | None = None, password: str = PASSWORD) -> str:
        body: dict[str, Any] = {"uscc": uscc, "password": password}
        if login:
            body["login"] = login
        token: str = self.ok(self.post("/v1/sessions", json=body), 201)["token"]
        return token

    def file(
        self, token: str, name: str, data: bytes, folder: str | None = None, status: int = 201
    ) -> dict[str, Any]:
        form = {"folder": folder} if folder else {}
        r = self.post("/v1/materials", token, files={"file": (name, data)}, data=form)
        return self.ok(r, status)

    def wait_state(
        self, token: str, material_id: str, state: str = "anchored", timeout: float = 30
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            m = self.ok(self.get(f"/v1/materials/{material_id}", token))
            if m["state"] == state or time.monotonic() > deadline:
                assert m["state"] == state, (
                    f"{material_id} still {m['state']}\n{self.log()[-2000:]}"
                )
                return m
            time.sleep(0.1)
