"""The one place where the node's FastAPI app is assembled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from credledger.node import __version__
from credledger.node.api.routes import health, metrics
from credledger.node.assembly import build_runtime
from credledger.node.errors import CredledgerError
from credledger.node.runtime import NodeRuntime
from credledger.node.settings import load_settings

# The node's own routers; each component contributes its own (runtime.routers).
ROUTERS = [health.router, metrics.router]


def create_app(runtime: NodeRuntime) -> FastAPI:
    """The HTTP app of ``runtime``; its lifespan starts the runtime's workers and stops them, so
    the app runs the whole node under any ASGI server."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            runtime.stop()

    app = FastAPI(title="credledger node", version=__version__, lifespan=lifespan)
    app.state.runtime = runtime

    @app.exception_handler(CredledgerError)
    async def _credledger_error(_: Request, exc: CredledgerError) -> JSONResponse:
        return JSONResponse(status_code=exc.http_status, content=exc.to_json())

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
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

    for router in [*ROUTERS[:1], *runtime.routers, *ROUTERS[1:]]:
        app.include_router(router)
    return app


def app_from_env() -> FastAPI:
    """An ASGI app factory for any server, settings from the environment and ``CREDLEDGER_CONFIG``
    (the contracts must be deployed): ``uvicorn --factory credledger.node.api.app:app_from_env``."""
    return create_app(build_runtime(load_settings()))
