"""The node's web pages: the clerk's counter (``/clerk``) and the enterprise-code page (``/e/…``).

Templates and static files live in this package and ship in the wheel; nothing is loaded from
another host (strict Content-Security-Policy, no inline script or style). Forms work without
JavaScript (POST → redirect → GET); sessions are server-side, the cookie is ``HttpOnly`` and
``SameSite=Strict``; every form carries a CSRF token. Labels come from one table per language
(``i18n/zh-CN.json``, ``i18n/en.json``). Routes hand templates plain view dicts.
"""

from credledger.node.web.pages import router

__all__ = ["router"]
