"""Python classes for the OpenZeppelin custom errors our contracts can revert with.

Registered in :mod:`node.contracts.errors` so a revert decodes to its own class. Only errors that
our contracts' ABIs contain are here; each carries the HTTP status the API answers with.
"""

from __future__ import annotations

from credledger.node.core.contracts.errors import register
from credledger.node.core.errors import ContractRevert


class AccessControlUnauthorizedAccount(ContractRevert):
    """The caller lacks the role the function needs (args: account, role)."""

    code = "not_authorised"
    http_status = 403
    template = "the signing key lacks the on-chain role for this"


class AccessControlBadConfirmation(ContractRevert):
    """``renounceRole`` must be called by the account renouncing."""

    code = "bad_confirmation"
    http_status = 400


class AccessControlEnforcedDefaultAdminRules(ContractRevert):
    """The default admin role moves only through the two-step, delayed hand-over."""

    code = "admin_rules"
    http_status = 409


class AccessControlEnforcedDefaultAdminDelay(ContractRevert):
    """The admin hand-over or delay change is not yet due (args: schedule)."""

    code = "admin_delay"
    http_status = 409


class AccessControlInvalidDefaultAdmin(ContractRevert):
    """The default admin cannot be this address (args: admin)."""

    code = "invalid_admin"
    http_status = 400


register(
    AccessControlUnauthorizedAccount,
    AccessControlBadConfirmation,
    AccessControlEnforcedDefaultAdminRules,
    AccessControlEnforcedDefaultAdminDelay,
    AccessControlInvalidDefaultAdmin,
)
