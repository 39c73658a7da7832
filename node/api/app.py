"""The one place where the node's FastAPI app is assembled."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from credledger.node import __version__
from credledger.node.api.routes import (
    anchors,
    enterprises,
    health,
    licences,
    metrics,
    presentations,
    verifications,
    verify,
)
from credledger.node.errors import CredledgerError
from credledger.node.runtime import NodeRuntime
from credledger.node.web import router as web_router

# Routers of every component; each is mounted as it is.
ROUTERS = [
    health.router,
    anchors.router,
    metrics.router,
    licences.router,
    enterprises.router,
    verify.router,
    verifications.router,
    presentations.router,
    web_router,
]


def create_app(runtime: NodeRuntime) -> FastAPI:
    app = FastAPI(title="credledger node", version=__version__)
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

    for router in ROUTERS:
        app.include_router(router)
    return app
