"""The wallet's web page: sign in, then five views — assets (``/``), materials, grants,
show QR (``/qr``) and history — one tab each, every one fitting a phone.

The node's pages (``credledger.node.web``) are the model: jinja2 templates, static files and one
label table per language (``i18n/zh-CN.json``, ``i18n/en.json``) in this package, a strict
Content-Security-Policy (nothing from another host, no inline script or style), forms that work
without JavaScript (POST → redirect → GET). The language is ``?lang=`` (remembered in a cookie),
else the browser's ``Accept-Language``; errors are shown by their code in that language. The
session cookie holds the wallet session token (``HttpOnly``, ``SameSite=Strict``); every POST
carries a CSRF token bound to it (before sign-in: a double-submit cookie). Routes only call the
runtime's services. The node's ``style.css`` and favicon are served beside the wallet's own
static files. Modules: ``common`` (language, clock, rendering, session), ``views`` (the GET views
and sign in/out), ``actions`` (the POSTs), ``history`` (its rows and the CSV),
``credentials`` (an open credential of a licence, with the fields the enterprise ticks),
``openid4vp`` (scan to present: a verifier's OpenID4VP request, the consent page, the answer).
"""

from fastapi import APIRouter
from starlette.staticfiles import StaticFiles

from credledger.node.core.http.limits import BoundedStaticFiles
from credledger.wallet.web import actions, credentials, history, openid4vp, views
from credledger.wallet.web.common import STATIC_DIR

router = APIRouter(include_in_schema=False)
router.include_router(views.router)
router.include_router(actions.router)
router.include_router(history.router)
router.include_router(credentials.router)
router.include_router(openid4vp.router)


def static_files() -> StaticFiles:
    """The wallet's static files, and the node's pages' ``style.css`` beside them."""
    return BoundedStaticFiles(directory=STATIC_DIR, packages=[("credledger.node.web", "static")])


__all__ = ["STATIC_DIR", "router", "static_files"]
