"""The personal-ID scan for free text the wallet stores or answers with.

Material names, content types, folders, people's logins and names, presentation audiences,
device labels, address-book entries, grant purposes and idempotency keys end up in the wallet's
database, its events, its answers or on chain; none may carry a citizen ID number (GB 11643-1999,
check digit verified, in any spelling: full-width digits, separators, a lower-case x). There is
one scan for the node and the wallet: :func:`credledger.node.core.identifiers.refuse_citizen_ids`
(422 ``contains_citizen_id``; the message names the field, never the value).
"""

from __future__ import annotations

from typing import Any

from credledger.node.core.identifiers import refuse_citizen_ids


def refuse_personal_ids(value: Any, where: str) -> None:
    """PersonalIdError (422) if ``value`` (a string, or lists/dicts of them) holds a citizen ID."""
    if value is not None:
        refuse_citizen_ids(value, where)
