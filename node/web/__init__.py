"""The node's web pages: the clerk's counter (``/clerk``) and the enterprise-code page (``/e/…``).

Templates and static files live in this package and ship in the wheel; nothing is loaded from
another host (strict Content-Security-Policy, no inline script or style). Forms work without
JavaScript (POST → redirect → GET); sessions are server-side, the cookie is ``HttpOnly`` and
``SameSite=Strict``; every form carries a CSRF token. Labels come from one table per language
(``i18n/zh-CN.json``, ``i18n/en.json``), chosen by ``?lang=`` (remembered), else the browser's
``Accept-Language``; reasons and errors are shown by their code in that language, departments and
licence types by their names. Times are in the ``timezone`` setting (Asia/Shanghai), zone shown.
Modules: ``pages`` (shared: language, clock, names, rendering, static files, the icon),
``clerk``, ``enterprise``, ``credentials`` and ``oid4vp`` (the clerk's OpenID4VP panel and the
same-device result page) (their routes).
"""

from fastapi import APIRouter

from credledger.node.web import clerk, credentials, enterprise, oid4vp, pages

router = APIRouter(include_in_schema=False)
router.include_router(pages.router)
router.include_router(clerk.router)
router.include_router(enterprise.router)
router.include_router(credentials.router)
router.include_router(oid4vp.router)

__all__ = ["router"]
