"""The one place where the wallet's FastAPI app is assembled."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from credledger.node.errors import CredledgerError, PayloadTooLargeError
from credledger.wallet import __version__
from credledger.wallet.api import accounts, grants, materials, presentations, uses
from credledger.wallet.api.deps import MAX_JSON_BYTES
from credledger.wallet.errors import TooManyAttemptsError
from credledger.wallet.runtime import WalletRuntime
from credledger.wallet.web import router as web_router
from credledger.wallet.web import static_files

ROUTERS = [accounts.router, materials.router, grants.router, presentations.router, uses.router]
MULTIPART_OVERHEAD = 64 * 1024


def create_app(runtime: WalletRuntime) -> FastAPI:
    app = FastAPI(title="credledger wallet", version=__version__)
    app.state.runtime = runtime
    max_upload = runtime.settings.materials.max_bytes + MULTIPART_OVERHEAD

    @app.middleware("http")
    async def _limits(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit():
            ctype = request.headers.get("content-type", "")
            limit = max_upload if ctype.startswith("multipart/") else MAX_JSON_BYTES
            if int(length) > limit:
                err = PayloadTooLargeError(
                    f"the request is over the {limit}-byte limit", limit=limit
                )
                return JSONResponse(status_code=413, content=err.to_json())
        response = await call_next(request)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    @app.exception_handler(CredledgerError)
    async def _credledger_error(_: Request, exc: CredledgerError) -> JSONResponse:
        headers = {}
        if isinstance(exc, TooManyAttemptsError):
            headers["Retry-After"] = str(exc.retry_after)
        if exc.http_status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse(status_code=exc.http_status, content=exc.to_json(), headers=headers)

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
        return JSONResponse(
            status_code=exc.status_code,
            content={"error": code, "message": str(exc.detail)},
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        # never echo the input: it may be a password or a keystore
        problems = [
            {"where": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()
        ]
        return JSONResponse(
            status_code=422,
            content={
                "error": "invalid_input",
                "message": "; ".join(f"{p['where']}: {p['problem']}" for p in problems),
                "details": {"problems": problems},
            },
        )

    @app.get("/health", tags=["health"])
    def health() -> dict[str, Any]:
        body: dict[str, Any] = {"status": "ok", "version": __version__}
        try:
            body["chain"] = {
                "chainId": runtime.chain.chain_id,
                "head": runtime.chain.w3.eth.block_number,
            }
        except Exception as exc:
            body["status"] = "degraded"
            body["chain"] = {"error": type(exc).__name__}
        body["relayer"] = runtime.relayer.address
        body["anchoring"] = {"lastError": runtime.anchor_worker.last_error}
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
