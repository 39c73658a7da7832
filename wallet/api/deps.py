"""FastAPI dependencies: the runtime and the caller (from the session token)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pydantic import BaseModel, ConfigDict

from credledger.wallet.accounts import Caller
from credledger.wallet.runtime import WalletRuntime

MAX_JSON_BYTES = 256 * 1024


def get_runtime(request: Request) -> WalletRuntime:
    runtime: WalletRuntime = request.app.state.runtime
    return runtime


Runtime = Annotated[WalletRuntime, Depends(get_runtime)]


def get_caller(runtime: Runtime, authorization: Annotated[str | None, Header()] = None) -> Caller:
    return runtime.authenticate(authorization)


CurrentCaller = Annotated[Caller, Depends(get_caller)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ErrorBody(BaseModel):
    """Every error answer: a stable code and a message (``details`` names the field)."""

    error: str
    message: str
    details: dict[str, Any] | None = None


def error_doc(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


# The 4xx answers any wallet operation may give, declared on every router (``responses=``), so
# the OpenAPI documents them (schemathesis' status_code_conformance finds none undocumented).
ERRORS: dict[int | str, dict[str, Any]] = {
    400: error_doc("the body could not be parsed"),
    401: error_doc("no session token, or an expired or unknown one"),
    403: error_doc("this person may not do this (role or delegated assets)"),
    404: error_doc("no such thing in this enterprise"),
    409: error_doc("conflicts with the current state"),
    413: error_doc("body over the limit"),
    415: error_doc("unsupported media type"),
    422: error_doc("invalid input (the field is named as sent, its value never echoed)"),
    429: error_doc("rate limited; see Retry-After"),
}
