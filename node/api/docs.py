"""``/docs``: Swagger UI served by the node itself (no CDN: nodes often run without internet).

The Swagger UI 5 bundle and stylesheet come from the ``fastapi-offline`` package (a wheel with
the files inside; ``swagger-ui-bundle`` on PyPI ships Swagger UI 4, which cannot show the
OpenAPI 3.1 that FastAPI writes). Mounted as in FastAPI's "Self-hosting JavaScript and CSS for
docs"; the wallet can call :func:`install` on its own app the same way.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"


def assets_dir() -> Path:
    return Path(str(resources.files("fastapi_offline").joinpath("static")))


def install(app: FastAPI, docs_url: str = "/docs") -> None:
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")
    redirect_url = f"{docs_url}/oauth2-redirect"

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
            oauth2_redirect_url=redirect_url,
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
