"""The one place where the node's FastAPI app is assembled."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from credledger.node import __version__
from credledger.node.api import docs
from credledger.node.api.routes import health, metrics
from credledger.node.api.security import install_security
from credledger.node.assembly import build_runtime
from credledger.node.core.http.errors import install_error_handlers
from credledger.node.core.http.limits import (
    BodyLimitMiddleware,
    restore_recursion_limit,
    settle_heap,
)
from credledger.node.runtime import NodeRuntime
from credledger.node.settings import load_settings

log = logging.getLogger("credledger.node.api")

# The node's own routers; each component contributes its own (runtime.routers).
ROUTERS = [health.router, metrics.router]


def create_app(runtime: NodeRuntime) -> FastAPI:
    """The HTTP app of ``runtime``; its lifespan starts the runtime's workers and stops them, so
    the app runs the whole node under any ASGI server."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        settle_heap()
        try:
            yield
        finally:
            runtime.stop()

    # docs_url/redoc_url off: /docs is served with local assets by node.api.docs
    app = FastAPI(
        title="credledger node",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime

    # --- hardening: bounded bodies, errors as JSON, tokens and rate limits (node.api.*) -------
    restore_recursion_limit()
    api = runtime.settings.api
    app.add_middleware(
        BodyLimitMiddleware,
        max_json_bytes=api.max_json_bytes,
        max_upload_bytes=api.max_request_bytes,
        body_timeout=api.body_timeout,
        body_deadline=api.body_deadline,
    )
    install_error_handlers(app, log)
    install_security(app, runtime.settings)
    docs.install(app)
    # --- end hardening --------------------------------------------------------------------------

    for router in [*ROUTERS[:1], *runtime.routers, *ROUTERS[1:]]:
        app.include_router(router)
    return app


def app_from_env() -> FastAPI:
    """An ASGI app factory for any server, settings from the environment and ``CREDLEDGER_CONFIG``
    (the contracts must be deployed): ``uvicorn --factory credledger.node.app:app_from_env``.

    ``credledger up`` serves with :func:`credledger.node.core.http.server.serve` (the header
    deadline, ``X-Forwarded-For`` only from ``api.trusted_proxies``); under another server, give
    it the same rules (uvicorn: ``--http`` of :func:`~credledger.node.core.http.server.
    protocol_class` and ``--forwarded-allow-ips``, which uvicorn defaults to 127.0.0.1)."""
    return create_app(build_runtime(load_settings()))
