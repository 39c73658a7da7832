"""Where a licence's status bits live: :class:`StatusEntry` and the URL of each list.

An entry names the issuing department, which of its lists (lists roll over when full) and the
index in that list. The index is the licence's position among its issuer's ``LicenceIssued``
events in chain order (block, log index), so any node computes the same entry from the chain
alone, and it never changes for the licence's life (amendments, suspensions and holder bindings
keep the licence id and so its entry). List ``n`` of an issuer holds that issuer's licences
``n * capacity`` to ``(n + 1) * capacity - 1``.

URLs name an issuer and a list, never a credential: a verifier fetching a list tells the node
only which of ``capacity`` licences it may be checking (herd privacy).
"""

from __future__ import annotations

from dataclasses import dataclass

REVOCATION = "revocation"
SUSPENSION = "suspension"
PURPOSES = (REVOCATION, SUSPENSION)

# W3C Bitstring Status List v1.0: at least 131,072 entries (16 KiB) per list for herd privacy.
MIN_CAPACITY = 131_072
# one list holds 2^20 licences of one issuer (128 KiB per bitstring, 256 KiB as a 2-bit token
# list, a few KiB compressed); the next licence starts list 1, and so on
DEFAULT_CAPACITY = 1_048_576

STATUS_PATH = "/v1/status-lists"


def list_path(issuer: str, list_id: int) -> str:
    """The path of one issuer's list: ``/v1/status-lists/<issuer address>/<list>``."""
    return f"{STATUS_PATH}/{issuer}/{list_id}"


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """Where one licence's bits live (see the module docstring)."""

    issuer: str  # the issuing department's address (checksummed, as the chain emits it)
    list_id: int  # which list of that issuer (roll-over)
    index: int  # the bit index in that list

    def bitstring_url(self, base: str, purpose: str) -> str:
        """The W3C ``BitstringStatusListCredential`` for ``purpose`` (revocation | suspension)."""
        if purpose not in PURPOSES:
            raise ValueError(f"status purpose must be one of {PURPOSES}, not {purpose!r}")
        return f"{base.rstrip('/')}{list_path(self.issuer, self.list_id)}/{purpose}"

    def token_list_url(self, base: str) -> str:
        """The IETF Token Status List (``statuslist+jwt``, 2 bits per licence)."""
        return f"{base.rstrip('/')}{list_path(self.issuer, self.list_id)}/token"
