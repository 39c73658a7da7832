"""The names a credential carries and a verifier resolves with the chain alone.

* **Issuer**: ``urn:credledger:eip155:<chainId>:<registry>:dept:<department>`` — the chain
  (CAIP-2 ``eip155:<chainId>``), the LicenceRegistry's address and the department's address, all
  hex in lower case. The department is the account the registry records as the licence's issuer.
* **Key id** (JWS ``kid``): ``urn:credledger:eip155:<chainId>:<registry>:key:<keyId>`` — the
  department key registry's id (``departmentKey(keyId)`` on that registry answers the department,
  the kind 2 = P-256, the registration and retirement times and the public key x || y).
* **Credential type** (SD-JWT VC ``vct``): ``urn:credledger:licence-type:<code>`` with the
  catalogue's type code (``BL-BUSINESS``), the GB/T 36902 code in the subject.

A ``urn:`` is a URL in the VC 2.0 sense (any scheme); nothing here needs a web server of the issuer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from credledger.node.core.errors import InputError

PREFIX = "urn:credledger:eip155:"
VCT_PREFIX = "urn:credledger:licence-type:"
_ADDR = r"0x[0-9a-f]{40}"
_ISSUER = re.compile(rf"^{PREFIX}([1-9][0-9]{{0,18}}):({_ADDR}):dept:({_ADDR})$")
_KID = re.compile(rf"^{PREFIX}([1-9][0-9]{{0,18}}):({_ADDR}):key:([1-9][0-9]{{0,9}})$")


@dataclass(frozen=True)
class IssuerRef:
    chain_id: int
    registry: str  # lower-case hex
    department: str  # lower-case hex


@dataclass(frozen=True)
class KeyRef:
    chain_id: int
    registry: str  # lower-case hex
    key_id: int


def issuer_urn(chain_id: int, registry: str, department: str) -> str:
    return f"{PREFIX}{chain_id}:{registry.lower()}:dept:{department.lower()}"


def key_urn(chain_id: int, registry: str, key_id: int) -> str:
    return f"{PREFIX}{chain_id}:{registry.lower()}:key:{key_id}"


def vct_of(type_code: str) -> str:
    return VCT_PREFIX + type_code


def parse_issuer(text: object) -> IssuerRef:
    m = _ISSUER.match(text) if isinstance(text, str) else None
    if m is None:
        raise InputError(
            f"issuer {text!r} is not a credledger department ({PREFIX}<chainId>:<registry>:dept:"
            "<address>)",
            field="issuer",
        )
    return IssuerRef(int(m.group(1)), m.group(2), m.group(3))


def parse_kid(text: object) -> KeyRef:
    m = _KID.match(text) if isinstance(text, str) else None
    if m is None or int(m.group(3)) >= 2**32:
        raise InputError(
            f"kid {text!r} is not a credledger department key ({PREFIX}<chainId>:<registry>:key:"
            "<keyId>)",
            field="kid",
        )
    return KeyRef(int(m.group(1)), m.group(2), int(m.group(3)))
