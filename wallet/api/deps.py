"""FastAPI dependencies: the runtime and the caller (from the session token)."""

from __future__ import annotations

from typing import Annotated

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
