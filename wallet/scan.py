"""The personal-ID scan for free text the wallet stores (names, folders, grant purposes).

Material names, folders and people's names end up in the wallet's database and in answers; they
must not carry a clear citizen ID number (GB 11643-1999, check digit verified). This is the one
place the wallet calls the scan, so it can switch to the node's shared hardening function.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from credledger.node.core import identifiers
from credledger.node.core.errors import InputError
from credledger.node.core.identifiers import is_citizen_id

_CANDIDATE = re.compile(r"\d{17}[\dX]")
_shared: Any = getattr(identifiers, "refuse_citizen_ids", None)


def refuse_personal_ids(value: Any, where: str) -> None:
    """InputError if ``value`` (a string, or lists/dicts of them) holds a citizen ID number."""
    if _shared is not None:  # the node's hardened scan, where the core library has it
        _shared(value, where)
        return
    if isinstance(value, str):
        folded = unicodedata.normalize("NFKC", value).upper()
        for m in _CANDIDATE.finditer(folded):
            if is_citizen_id(m.group(0)):
                raise InputError(f"{where} contains a citizen ID number; leave it out", field=where)
    elif isinstance(value, dict):
        for k, v in value.items():
            refuse_personal_ids(k, where)
            refuse_personal_ids(v, where)
    elif isinstance(value, list | tuple):
        for v in value:
            refuse_personal_ids(v, where)
