"""The one place where the node's FastAPI app is assembled."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from credledger.node import __version__
from credledger.node.api import docs
from credledger.node.api.errors import install_error_handlers
from credledger.node.api.limits import BodyLimitMiddleware, restore_recursion_limit
from credledger.node.api.routes import (
    anchors,
    enterprises,
    health,
    licences,
    metrics,
    verifications,
    verify,
)
from credledger.node.api.security import install_security
from credledger.node.runtime import NodeRuntime

log = logging.getLogger("credledger.node.api")

# Routers of every component; each is mounted as it is.
ROUTERS = [
    health.router,
    anchors.router,
    metrics.router,
    licences.router,
    enterprises.router,
    verify.router,
    verifications.router,
]


def create_app(runtime: NodeRuntime) -> FastAPI:
    # docs_url/redoc_url off: /docs is served with local assets by node.api.docs
    app = FastAPI(title="credledger node", version=__version__, docs_url=None, redoc_url=None)
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

    for router in ROUTERS:
        app.include_router(router)
    return app
