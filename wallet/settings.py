"""One typed settings object for the wallet service, validated at start-up.

Same pattern as the node's (``credledger.node.settings``), its own prefix: constructor arguments
(the CLI's flags), then environment variables ``CREDLEDGER_WALLET_…`` (nested with ``__``, e.g.
``CREDLEDGER_WALLET_RELAYER__DEV_ACCOUNT=7``), then an optional TOML file named by
``CREDLEDGER_WALLET_CONFIG``. Components receive their own section through their constructor.

Where the wallet's files live (the node's places, ``credledger.node.core.paths``; never the
checkout, never site-packages):

- data dir (``wallet.sqlite3``, ``master.key``, ``files/``): ``--data-dir`` /
  ``CREDLEDGER_WALLET_DATA_DIR``, else ``wallet/`` in the node's data dir — ``.credledger/wallet``
  in the current folder, or ``$CREDLEDGER_DATA_DIR/wallet`` — which is where ``credledger up``
  puts it;
- manifest: ``--manifest``, else the node's default for the chain
  (:func:`~credledger.node.core.paths.default_manifest`):
  ``<node data dir>/deployments/<chainId>.json`` for a local devnet,
  ``./deployments/<chainId>.json`` for any other chain;
- the CLI's session file: :func:`session_file`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from credledger.node.core import paths
from credledger.node.core.errors import ConfigError
from credledger.node.core.settings import ServeSettings, init_env_toml

ChainKind = Literal["devnet", "consortium", "public"]
#: The relayer's dev account on devnets (the node uses 0 and departments 1-4 in the demos).
DEFAULT_RELAYER_DEV_ACCOUNT = 7


class WalletChainSettings(BaseModel):
    rpc_urls: list[str] = Field(default_factory=lambda: ["http://127.0.0.1:8545"], min_length=1)
    kind: ChainKind = "devnet"
    #: blocks on top of a use's block before the wallet honours it (0: the including block)
    confirmations: int = Field(default=0, ge=0)
    request_timeout: float = Field(default=10.0, gt=0)


class RelayerSettings(BaseModel):
    """The wallet's own transaction key (pays the gas of grantBySig / revokeBySig)."""

    keystore: Path | None = None
    password_file: Path | None = None
    dev_account: int | None = Field(default=DEFAULT_RELAYER_DEV_ACCOUNT, ge=0)

    @model_validator(mode="after")
    def _one_source(self) -> RelayerSettings:
        if self.keystore is not None:
            if self.password_file is None:
                raise ValueError("relayer.keystore needs relayer.password_file")
            self.dev_account = None
        return self


class SecuritySettings(BaseModel):
    """Password hashing, key wrapping, sessions and login throttling."""

    session_ttl: float = Field(default=8 * 3600, gt=0, description="seconds a session lives")
    # argon2id for password hashes and for the key that wraps a person's keystore passphrase
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=64 * 1024, ge=8)
    argon2_parallelism: int = Field(default=1, ge=1)
    # scrypt N of the keystore v3 files (2**18 is geth's standard; tests lower it)
    keystore_scrypt_n: int = Field(default=2**18, ge=2**10)
    login_failures: int = Field(default=5, ge=1, description="failed logins per window")
    login_window: float = Field(default=300.0, gt=0, description="seconds")
    max_administrators: int = Field(default=5, ge=1, le=5)


class WalletApiSettings(ServeSettings):
    """How the wallet serves HTTP (``credledger.node.core.http.server``)."""


class MaterialSettings(BaseModel):
    max_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    max_name_chars: int = Field(default=200, ge=1)
    anchor_poll_interval: float = Field(default=0.5, gt=0)


class OpenID4VPSettings(BaseModel):
    """The wallet as an OpenID4VP 1.0 holder (docs/openid4vp.md, "Holder: our wallet")."""

    #: client_ids (``x509_hash:…``) the wallet trusts besides its own node's verifier
    trusted_verifiers: list[str] = Field(default_factory=list)
    #: PEM files of CA certificates: a verifier whose ``x5c`` chain ends at one is trusted
    trust_anchors: list[Path] = Field(default_factory=list)
    #: answer only trusted verifiers (else an unknown one may be answered, with a warning)
    only_trusted: bool = False
    #: http request and response URIs (always allowed on a devnet)
    allow_http: bool = False
    #: verifiers at private, loopback or link-local addresses (always allowed on a devnet)
    allow_private_hosts: bool = False
    timeout: float = Field(default=10.0, gt=0, description="seconds per call to a verifier")
    max_request_bytes: int = Field(default=64 * 1024, ge=1024)


class ClerkSettings(BaseModel):
    """A counter clerk the wallet trusts to file materials on an enterprise's behalf."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,39}$")
    display_name: str = ""
    token_sha256: list[str] = Field(default_factory=list)


def default_data_dir() -> Path:
    """``wallet/`` in the node's data dir (``.credledger/`` here, or ``$CREDLEDGER_DATA_DIR``)."""
    return paths.data_dir() / "wallet"


def session_file() -> Path:
    """The wallet CLI's session file: ``$CREDLEDGER_WALLET_SESSION``, else
    ``wallet-session.json`` in the node's data dir (``.credledger/`` here, or
    ``$CREDLEDGER_DATA_DIR``), as an absolute path."""
    named = os.environ.get("CREDLEDGER_WALLET_SESSION")
    if named:
        return Path(named).expanduser().absolute()
    return paths.data_dir() / "wallet-session.json"


class WalletSettings(BaseSettings):
    """Everything the wallet service needs, in one object."""

    model_config = SettingsConfigDict(
        env_prefix="CREDLEDGER_WALLET_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = Field(default=8700, ge=0, le=65535)
    node_url: str = "http://127.0.0.1:8600"
    #: the wallet's service token at the node (POST /v1/anchors needs one once the node
    #: checks it; the devnet demo's is ``devnet-wallet-token``)
    node_token: SecretStr | None = None
    node_timeout: float = Field(default=30.0, gt=0)
    manifest: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    chain: WalletChainSettings = Field(default_factory=WalletChainSettings)
    relayer: RelayerSettings = Field(default_factory=RelayerSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    api: WalletApiSettings = Field(default_factory=WalletApiSettings)
    materials: MaterialSettings = Field(default_factory=MaterialSettings)
    clerks: list[ClerkSettings] = Field(default_factory=list)
    openid4vp: OpenID4VPSettings = Field(default_factory=OpenID4VPSettings)

    @model_validator(mode="after")
    def _no_dev_keys_outside_devnet(self) -> WalletSettings:
        if self.chain.kind != "devnet" and self.relayer.keystore is None:
            raise ValueError(
                f"a {self.chain.kind} chain needs relayer.keystore and relayer.password_file; "
                "dev accounts are for devnets only"
            )
        return self

    @field_validator("data_dir")
    @classmethod
    def _data_dir_absolute(cls, v: Path) -> Path:
        return v.expanduser().absolute()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_env_toml(settings_cls, init_settings, env_settings, "CREDLEDGER_WALLET_CONFIG")

    def manifest_path(self, chain_id: int) -> Path:
        """``manifest`` if set, else where the node keeps the chain's manifest
        (:func:`~credledger.node.core.paths.default_manifest`)."""
        return self.manifest or paths.default_manifest(chain_id)


def load_wallet_settings(**overrides: object) -> WalletSettings:
    """Build and validate the settings; :class:`ConfigError` on any problem."""
    toml = os.environ.get("CREDLEDGER_WALLET_CONFIG")
    if toml and not Path(toml).is_file():
        raise ConfigError(f"CREDLEDGER_WALLET_CONFIG names {toml}, which is not a file")
    try:
        return WalletSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(f"invalid wallet setting {where}: {first['msg']}") from None
