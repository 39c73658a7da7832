"""The one exception tree of credledger.

Every error the node, the wallet or the CLI raises on purpose derives from :class:`CredledgerError`.
Each class carries the HTTP status the API answers with and a stable ``code`` for JSON bodies;
the CLI prints ``str(err)`` on one line and exits with ``exit_code``. Messages say what to do next.

Contract custom errors are decoded into subclasses of :class:`ContractRevert` (see
``node.contracts.errors``), which pick the HTTP status that fits (403, 404, 409 …).
"""

from __future__ import annotations

from typing import Any, ClassVar


class CredledgerError(Exception):
    """Root of every error credledger raises on purpose."""

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


# --- configuration and toolchain -------------------------------------------------------------


class ConfigError(CredledgerError, ValueError):
    """Settings are missing, malformed or unsafe (e.g. a placeholder secret on a real chain)."""

    code = "config_error"
    exit_code = 2


class ToolchainError(CredledgerError):
    """A tool the project needs (node, solc, anvil, ganache) is missing or failed."""

    code = "toolchain_error"
    exit_code = 2


class CompileError(ToolchainError):
    """The Solidity compiler reported errors."""

    code = "compile_error"


# --- caller errors --------------------------------------------------------------------------


class InputError(CredledgerError, ValueError):
    """The caller sent something malformed; nothing was written."""

    code = "invalid_input"
    http_status = 422
    exit_code = 2


class NotFoundError(CredledgerError, LookupError):
    """The thing asked for does not exist."""

    code = "not_found"
    http_status = 404


class ConflictError(CredledgerError):
    """The request conflicts with the current state (already revoked, already exists …)."""

    code = "conflict"
    http_status = 409


class UnauthorizedError(CredledgerError):
    """No credentials, or credentials that are not recognised."""

    code = "unauthorized"
    http_status = 401


class ForbiddenError(CredledgerError):
    """The caller is known but not allowed to do this."""

    code = "forbidden"
    http_status = 403


class PayloadTooLargeError(InputError):
    """An upload or a list is over the configured limit."""

    code = "payload_too_large"
    http_status = 413


# --- chain ----------------------------------------------------------------------------------


class ChainError(CredledgerError):
    """Something went wrong talking to the chain."""

    code = "chain_error"
    http_status = 502


class RpcUnavailableError(ChainError, ConnectionError):
    """No configured RPC endpoint answers."""

    code = "rpc_unavailable"
    http_status = 503
    exit_code = 2


class WrongChainError(ChainError):
    """A manifest, receipt or signature belongs to another chain id."""

    code = "wrong_chain"
    http_status = 409
    exit_code = 2


class DeploymentError(ChainError):
    """Deploying contracts failed, or the manifest does not fit the chain."""

    code = "deployment_error"
    exit_code = 2


class ContractRevert(ChainError):
    """A contract call reverted. Subclasses map each custom error of our contracts."""

    code = "contract_revert"
    http_status = 400
    # the message, formatted with the error's named arguments (bytes as 0x hex); see describe
    template: ClassVar[str] = ""

    def __init__(self, message: str, *, error_name: str = "", args: tuple[Any, ...] = ()) -> None:
        super().__init__(message, contract_error=error_name)
        self.error_name = error_name
        self.error_args = args

    @classmethod
    def describe(cls, args: dict[str, Any]) -> str:
        """The message for this error with these named arguments ('' without a template)."""
        shown = {k: "0x" + v.hex() if isinstance(v, bytes) else v for k, v in args.items()}
        try:
            return cls.template.format(**shown) if cls.template else ""
        except (KeyError, IndexError):
            return ""
