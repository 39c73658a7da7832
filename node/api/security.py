"""Who is calling, whether they may, and how often: the guards of the node's routes.

A route declares ``caller: Annotated[Principal | None, Depends(Guard(...))]``. The guard resolves
the bearer token in the node's one :class:`~credledger.node.auth.TokenBook`, refuses the wrong
kind of principal (401 without a token, 403 for the wrong kind) and spends one token of the
caller's rate-limit bucket (429 + ``Retry-After``). :class:`GuardedRoute` runs the route's guards
*before* FastAPI reads or validates the body, so an unauthenticated or throttled write never
costs a body parse and answers 401/429, not 422.

The read path's hot routes (verify a document, read a licence or an enterprise) take only the
``Request``: they call ``await guard.check(request)`` first thing and reach their service
through :mod:`credledger.node.api.deps`' plain functions, because FastAPI's dependency
resolution was a third of such a request's cost. ``BEARER_DOC`` declares the optional
token in their OpenAPI operation, as the dependency would have.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from credledger.node.auth import Principal, PrincipalKind, TokenBook, build_token_book
from credledger.node.core.errors import ForbiddenError, UnauthorizedError
from credledger.node.core.http.limits import BoundedJsonRoute
from credledger.node.core.http.ratelimit import RateLimiter, client_key
from credledger.node.settings import Settings

bearer = HTTPBearer(auto_error=False, description="a department, clerk, service or admin token")
# ``openapi_extra`` of a hot route that calls Guard.check itself: the scheme ``bearer`` declares
BEARER_DOC: dict[str, Any] = {"security": [{"HTTPBearer": []}]}
_SCOPE_KEY = "credledger.principal"


@dataclass
class Limits:
    """The node's rate limiters (one set per app)."""

    writes: RateLimiter  # per principal, cost 1 per write request
    public: RateLimiter  # per client address, requests without a token
    anchor_hashes: RateLimiter  # per principal (or address): hashes anchored

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        r = settings.api.rate_limits
        return cls(
            writes=RateLimiter.per_minute(r.writes_per_minute, r.write_burst, what="writes"),
            public=RateLimiter.per_minute(r.public_per_minute, r.public_burst, what="requests"),
            anchor_hashes=RateLimiter.per_second(
                r.anchor_hashes_per_hour / 3600.0, r.anchor_hash_burst, what="hashes"
            ),
        )


def token_book_for(settings: Settings) -> TokenBook:
    """Every token the node accepts: departments, clerks, admin, services (and the demo's)."""
    if settings.licences.demo:
        from credledger.node.demo.licences import demo_settings

        settings = demo_settings(settings)
    return build_token_book(
        departments=[(d.name, d.token_sha256) for d in settings.departments],
        clerks=[(c.name, c.department, c.token_sha256) for c in settings.clerks],
        services=[(s.name, s.token_sha256) for s in settings.api.service_tokens],
        admin=settings.licences.admin_token_sha256,
    )


def install_security(app: FastAPI, settings: Settings) -> None:
    app.state.token_book = token_book_for(settings)
    app.state.limits = Limits.from_settings(settings)
    app.state.public_anchoring = settings.api.public_anchoring


def limits_of(request: Request) -> Limits:
    limits: Limits = request.app.state.limits
    return limits


def rate_key(request: Request, caller: Principal | None) -> str:
    return caller.label if caller is not None else client_key(request)


class Guard:
    """A dependency: the caller, checked. ``kinds`` empty: a token is optional (a public read or
    verification, rate-limited by address without one). ``public`` names an ``app.state`` flag
    that, when true, lets callers without a token in (rate-limited by address)."""

    def __init__(self, *kinds: PrincipalKind, public: str | None = None, action: str) -> None:
        self.kinds = kinds
        self.public = public
        self.action = action

    async def __call__(
        self,
        request: Request,
        _credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    ) -> Principal | None:
        return await self.check(request)

    async def check(self, request: Request) -> Principal | None:
        """The caller, checked and charged to a rate-limit bucket (once per request)."""
        if _SCOPE_KEY in request.scope:
            cached: Principal | None = request.scope[_SCOPE_KEY]
            return cached
        book: TokenBook = request.app.state.token_book
        caller = book.authenticate(request.headers.get("authorization"))
        open_to_public = not self.kinds or (
            self.public is not None and bool(getattr(request.app.state, self.public, False))
        )
        if caller is None and not open_to_public:
            raise UnauthorizedError(
                f"a bearer token is needed to {self.action}: send 'Authorization: Bearer …'"
            )
        if caller is not None and self.kinds and caller.kind not in self.kinds:
            allowed = " or ".join(self.kinds)
            raise ForbiddenError(f"{caller.label} cannot {self.action}; only a {allowed} can")
        limits = limits_of(request)
        if caller is None:
            limits.public.take(client_key(request))
        else:
            limits.writes.take(caller.label)
        request.scope[_SCOPE_KEY] = caller
        return caller


class GuardedRoute(BoundedJsonRoute):
    """Runs the route's :class:`Guard` before the body is read (auth before validation)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        guards = [d.call for d in _walk(self.dependant) if isinstance(d.call, Guard)]

        async def guarded(request: Request) -> Response:
            for guard in guards:
                await guard(request)
            return await handler(request)

        return guarded


def _walk(dependant: Any) -> list[Any]:
    out = []
    for d in dependant.dependencies:
        out.append(d)
        out.extend(_walk(d))
    return out
