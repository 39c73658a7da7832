"""The enterprise's address book of grantees: list, add, rename, remove (credledger.wallet.
address_book holds the rules; this router only maps HTTP to it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from credledger.node.core.http.limits import BoundedJsonRoute
from credledger.wallet.api.deps import ERRORS, Body, CurrentCaller, Runtime

router = APIRouter(tags=["address book"], route_class=BoundedJsonRoute, responses=ERRORS)


class ErrorBody(BaseModel):
    """Every error answer: a stable code and a message (``details`` names the field)."""

    error: str
    message: str
    details: dict[str, Any] | None = None


def _err(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _err("no session token, or an expired one"),
    403: _err("this person may not see the address book"),
    429: _err("rate limited; see Retry-After"),
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    403: _err("only administrators and the legal representative change the address book"),
    404: _err("no such grantee in the address book"),
    409: _err("the address or the name is already in the address book"),
    413: _err("body over the limit"),
    422: _err("invalid input (the field is named as sent)"),
}


class EntryBody(Body):
    name: str = Field(max_length=200, description="what people call the grantee")
    address: str = Field(max_length=64, description="the grantee's Ethereum address")
    note: str | None = Field(default=None, max_length=500)


class RenameBody(Body):
    name: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=500, description='"" clears the note')


class Entry(BaseModel):
    name: str
    address: str
    note: str | None
    addedBy: str
    addedAt: float


class Entries(BaseModel):
    entries: list[Entry]


class Removed(BaseModel):
    removed: Entry


@router.get("/v1/address-book", response_model=Entries, responses=READ_ERRORS)
def list_entries(caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    """The enterprise's grantees by name, alphabetically."""
    return {"entries": runtime.grantees.list(caller)}


@router.post("/v1/address-book", status_code=201, response_model=Entry, responses=WRITE_ERRORS)
def add_entry(body: EntryBody, caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    """Name a grantee's address (administrators and the legal representative)."""
    return runtime.grantees.add(caller, body.name, body.address, body.note)


@router.get("/v1/address-book/{address}", response_model=Entry, responses=WRITE_ERRORS)
def get_entry(address: str, caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    return runtime.grantees.get(caller, address)


@router.patch("/v1/address-book/{address}", response_model=Entry, responses=WRITE_ERRORS)
def rename_entry(
    address: str, body: RenameBody, caller: CurrentCaller, runtime: Runtime
) -> dict[str, Any]:
    """A new name and/or note for a grantee."""
    return runtime.grantees.rename(caller, address, body.name, body.note)


@router.delete("/v1/address-book/{address}", response_model=Removed, responses=WRITE_ERRORS)
def remove_entry(address: str, caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    """Take a grantee out of the book (its grants stay; they show the address alone)."""
    return {"removed": runtime.grantees.remove(caller, address)}
