"""Accounts, sessions, people (administrators, agents) and key export."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import Field

from credledger.node.core.http.limits import BoundedJsonRoute
from credledger.wallet.api.deps import ERRORS, Body, CurrentCaller, Runtime
from credledger.wallet.scan import refuse_personal_ids

router = APIRouter(tags=["accounts"], route_class=BoundedJsonRoute, responses=ERRORS)


class RegisterBody(Body):
    uscc: str = Field(max_length=64)
    name: str = Field(max_length=200)
    password: str = Field(max_length=1024)
    address: str | None = Field(default=None, max_length=64, description="external holder address")
    keystore: dict[str, Any] | None = Field(default=None, description="keystore v3 to import")
    keystore_passphrase: str | None = Field(
        default=None, alias="keystorePassphrase", max_length=1024
    )


class LoginBody(Body):
    uscc: str = Field(max_length=64)
    password: str = Field(max_length=1024)
    login: str | None = Field(default=None, max_length=64)


class AdministratorBody(Body):
    login: str = Field(max_length=64)
    name: str = Field(max_length=200)
    password: str = Field(max_length=1024)


class AgentBody(AdministratorBody):
    assets: list[str] = Field(max_length=1000)
    actions: list[str] = Field(max_length=10)
    until: int = Field(ge=0, lt=2**63)


class ExportBody(Body):
    password: str = Field(max_length=1024)
    passphrase: str = Field(max_length=1024, description="the exported keystore's new passphrase")


@router.post("/v1/accounts", status_code=201)
def register(body: RegisterBody, runtime: Runtime) -> dict[str, Any]:
    """Register an enterprise: its USCC, name and the legal representative's password."""
    return runtime.accounts.register(
        body.uscc, body.name, body.password, address=body.address,
        keystore=body.keystore, keystore_passphrase=body.keystore_passphrase,
    )  # fmt: skip


@router.post("/v1/sessions", status_code=201)
def login(body: LoginBody, request: Request, runtime: Runtime) -> dict[str, Any]:
    """Log in (the legal representative without ``login``); a Bearer token that expires."""
    refuse_personal_ids(body.login, "login")  # never into a throttle key, a log or an event
    client = request.client.host if request.client else "?"
    return runtime.accounts.login(body.uscc, body.password, body.login, client)


@router.delete("/v1/sessions/current", status_code=204)
def logout(caller: CurrentCaller, runtime: Runtime) -> Response:
    runtime.accounts.logout(caller)
    return Response(status_code=204)


@router.get("/v1/me")
def me(caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    return runtime.accounts.me(caller)


@router.get("/v1/people")
def people(caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    return {"people": runtime.accounts.people(caller)}


@router.post("/v1/administrators", status_code=201)
def add_administrator(
    body: AdministratorBody, caller: CurrentCaller, runtime: Runtime
) -> dict[str, Any]:
    """The legal representative names a licence administrator (at most 5)."""
    return runtime.accounts.add_administrator(caller, body.login, body.name, body.password)


@router.post("/v1/agents", status_code=201)
def add_agent(body: AgentBody, caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    """An administrator authorises an agent for assets and actions until a date."""
    return runtime.accounts.add_agent(
        caller, body.login, body.name, body.password, body.assets, body.actions, body.until
    )


@router.delete("/v1/people/{login}", status_code=204)
def remove_person(login: str, caller: CurrentCaller, runtime: Runtime) -> Response:
    runtime.accounts.remove_person(caller, login)
    return Response(status_code=204)


@router.post("/v1/keys/export")
def export_key(body: ExportBody, caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    """The enterprise key as a keystore v3 under a new passphrase (a backup)."""
    return runtime.accounts.export_key(caller, body.password, body.passphrase)
