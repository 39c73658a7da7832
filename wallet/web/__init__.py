"""The wallet's web page at ``/``: sign in, assets, file a material, grants, "show QR", history.

The node's pages (``credledger.node.web``) are the model: jinja2 templates, static files and one
label table per language (``i18n/zh-CN.json``, ``i18n/en.json``) in this package, a strict
Content-Security-Policy (nothing from another host, no inline script or style), forms that work
without JavaScript (POST → redirect → GET). The session cookie holds the wallet session token
(``HttpOnly``, ``SameSite=Strict``); every POST carries a CSRF token bound to it (before sign-in:
a double-submit cookie). Routes only call the runtime's services; a domain error is a message on
the page. The node's ``style.css`` is served beside the wallet's own static files.
"""

from credledger.wallet.web.pages import STATIC_DIR, router, static_files

__all__ = ["STATIC_DIR", "router", "static_files"]
