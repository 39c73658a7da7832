"""`credledger wallet address-book list|add|rename|remove`: the enterprise's grantees by name."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from credledger.wallet.cli.common import (
    TokenOpt,
    UrlOpt,
    _client,
    _print_json,
    console,
    wallet_app,
    when,
)

book_app = typer.Typer(
    name="address-book",
    help="The enterprise's address book: grantees (banks …) by name, with their addresses.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
wallet_app.add_typer(book_app, name="address-book")

AddressArg = Annotated[str, typer.Argument(help="the grantee's 0x address")]


@book_app.command("list")
def list_cmd(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """The grantees in the address book."""
    out = _client(url, token).json("GET", "/v1/address-book")
    if as_json:
        _print_json(out)
        return
    if not out["entries"]:
        console.print("the address book is empty: `credledger wallet address-book add`")
        return
    table = Table("name", "address", "note", "added")
    for e in out["entries"]:
        table.add_row(e["name"], e["address"], e["note"] or "", when(e["addedAt"], "%Y-%m-%d"))
    console.print(table)


@book_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="what the enterprise calls the grantee")],
    address: AddressArg,
    note: Annotated[str | None, typer.Option(help="a note (no personal ID numbers)")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Name a grantee's address."""
    body = {"name": name, "address": address, **({"note": note} if note else {})}
    e = _client(url, token).json("POST", "/v1/address-book", json=body)
    console.print(f"added {e['name']}  {e['address']}", highlight=False)


@book_app.command("rename")
def rename(
    address: AddressArg,
    name: Annotated[str | None, typer.Option(help="the new name")] = None,
    note: Annotated[str | None, typer.Option(help='the new note ("" clears it)')] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Give a grantee a new name or note."""
    body = {k: v for k, v in (("name", name), ("note", note)) if v is not None}
    e = _client(url, token).json("PATCH", f"/v1/address-book/{address}", json=body)
    console.print(f"{e['address']} is now {e['name']}", highlight=False)


@book_app.command("remove")
def remove(address: AddressArg, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Take a grantee out of the address book (its grants stay)."""
    e = _client(url, token).json("DELETE", f"/v1/address-book/{address}")["removed"]
    console.print(f"removed {e['name']}  {e['address']}", highlight=False)
