"""The one place where the wallet's FastAPI app is assembled."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from credledger.node.core.http.errors import install_error_handlers
from credledger.node.core.http.limits import (
    BodyLimitMiddleware,
    restore_recursion_limit,
    settle_heap,
)
from credledger.wallet import __version__
from credledger.wallet.api import (
    accounts,
    address_book,
    credentials,
    grants,
    materials,
    openid4vp,
    presentations,
    uses,
)
from credledger.wallet.api.deps import MAX_JSON_BYTES
from credledger.wallet.runtime import WalletRuntime
from credledger.wallet.web import router as web_router
from credledger.wallet.web import static_files

log = logging.getLogger("credledger.wallet")
ROUTERS = [accounts.router, materials.router, grants.router, presentations.router, uses.router,
           address_book.router, credentials.router, openid4vp.router]  # fmt: skip
MULTIPART_OVERHEAD = 64 * 1024


@asynccontextmanager
async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
    settle_heap()  # the runtime is started by its owner (`wallet serve`, the tests)
    yield


def create_app(runtime: WalletRuntime) -> FastAPI:
    app = FastAPI(title="credledger wallet", version=__version__, lifespan=_lifespan)
    app.state.runtime = runtime
    # the node's hardening, reused: bounded bodies (streamed, depth-checked JSON), one JSON error
    # shape for every failure (never echoing input: it may be a password or a keystore)
    restore_recursion_limit()
    app.add_middleware(
        BodyLimitMiddleware,
        max_json_bytes=MAX_JSON_BYTES,
        max_upload_bytes=runtime.settings.materials.max_bytes + MULTIPART_OVERHEAD,
    )
    install_error_handlers(app, log, "wallet")

    @app.middleware("http")
    async def _headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.status_code == 401:
            response.headers.setdefault("WWW-Authenticate", "Bearer")
        return response

    @app.get("/health", tags=["health"])
    def health() -> dict[str, Any]:
        body: dict[str, Any] = {"status": "ok", "version": __version__}
        try:
            body["chain"] = {
                "chainId": runtime.chain.chain_id,
                "head": runtime.chain.block_number(),
            }
        except Exception as exc:
            body["status"] = "degraded"
            body["chain"] = {"error": type(exc).__name__}
        body["relayer"] = runtime.relayer.address
        body["anchoring"] = {"lastError": runtime.anchor_worker.last_error}
        body["signIn"] = {"passwordChecks": runtime.accounts.sessions.password_checks}
        return body

    @app.get("/v1/ping", tags=["health"])
    def ping() -> dict[str, bool]:
        """A trivial endpoint (benchmarks use it as the reference)."""
        return {"ok": True}

    for router in ROUTERS:
        app.include_router(router)
    app.include_router(web_router)  # the wallet page at / (credledger.wallet.web)
    app.mount("/static", static_files(), name="static")
    return app
