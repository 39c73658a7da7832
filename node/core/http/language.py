"""The page language both services' pages choose the same way: ``?lang=`` (the page then remembers
it in a cookie), else the remembered choice, else the browser's ``Accept-Language`` by its q values,
else the default. Each service names its own language values and cookie."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from starlette.requests import Request


def accepted(header: str, by_subtag: Mapping[str, str]) -> str | None:
    """The first language of ``by_subtag`` (primary subtag -> our value) an ``Accept-Language``
    header asks for, by its q values (ties: the earlier one)."""
    best: tuple[float, int, str] | None = None
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = by_subtag.get(tag.strip().lower().split("-")[0])
        if lang and q > 0 and (best is None or (q, -i) > (best[0], best[1])):
            best = (q, -i, lang)
    return best[2] if best else None


def choose(
    request: Request,
    *,
    values: Collection[str],
    by_subtag: Mapping[str, str],
    cookie: str,
    default: str,
) -> str:
    """``?lang=``, else the cookie, else ``Accept-Language``, else ``default``."""
    for chosen in (request.query_params.get("lang"), request.cookies.get(cookie)):
        if chosen is not None and chosen in values:
            return chosen
    return accepted(request.headers.get("accept-language", ""), by_subtag) or default
