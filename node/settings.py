"""One typed settings object for the node, validated at start-up.

Sources, highest priority first: constructor arguments (the CLI's flags), environment variables
with the ``CREDLEDGER_`` prefix (nested with ``__``, e.g. ``CREDLEDGER_ANCHORING__BATCH_INTERVAL``),
then an optional TOML file named by ``CREDLEDGER_CONFIG``. Components receive their own section
through their constructor; no core module reads global settings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from eth_utils.address import is_address, to_checksum_address
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from credledger.node.core import paths
from credledger.node.core.identifiers import IdentifierError, normalise_uscc
from credledger.node.core.settings import ServeSettings, init_env_toml

PLACEHOLDER_SECRET = "devnet-insecure-secret-change-me"
ChainKind = Literal["devnet", "consortium", "public"]


class ChainSettings(BaseModel):
    """Where the chain is and how final a block must be before we trust it."""

    rpc_urls: list[str] = Field(default_factory=lambda: ["http://127.0.0.1:8545"], min_length=1)
    kind: ChainKind = "devnet"
    # Blocks on top of the including block before a receipt is final, or "finalized" to wait for
    # the chain's finalized block tag (post-merge public chains). None: 1 on devnets and QBFT
    # (instant finality), 12 on public chains.
    confirmations: int | Literal["finalized"] | None = None
    request_timeout: float = Field(default=10.0, gt=0)
    poll_interval: float = Field(default=0.5, gt=0)

    @field_validator("confirmations")
    @classmethod
    def _confirmations_positive(cls, v: int | str | None) -> int | str | None:
        if isinstance(v, int) and v < 0:
            raise ValueError("confirmations must be 0 or more, or 'finalized'")
        return v

    @property
    def effective_confirmations(self) -> int | Literal["finalized"]:
        if self.confirmations is not None:
            return self.confirmations
        return 12 if self.kind == "public" else 1


class SignerSettings(BaseModel):
    """The node's transaction key: an encrypted keystore + password file, or a devnet account."""

    keystore: Path | None = None
    password_file: Path | None = None
    dev_account: int | None = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _one_source(self) -> SignerSettings:
        if self.keystore is not None:
            if self.password_file is None:
                raise ValueError("signer.keystore needs signer.password_file")
            self.dev_account = None
        return self


class ServiceTokenSettings(BaseModel):
    """A service identity (e.g. the wallet service): may anchor hashes, nothing else."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,39}$")
    token_sha256: list[str] = Field(default_factory=list)

    @field_validator("token_sha256")
    @classmethod
    def _hex(cls, v: list[str]) -> list[str]:
        for h in v:
            if len(h) != 64 or any(c not in "0123456789abcdef" for c in h.lower()):
                raise ValueError("token_sha256 entries are 64 hex chars")
        return v


class RateLimitSettings(BaseModel):
    """Token buckets: writes per principal, requests per client address without a token, and the
    number of hashes a principal may anchor (a quota that refills continuously)."""

    writes_per_minute: float = Field(default=1200.0, gt=0)
    write_burst: int = Field(default=200, ge=1)
    public_per_minute: float = Field(default=120.0, gt=0)
    public_burst: int = Field(default=30, ge=1)
    anchor_hashes_per_hour: float = Field(default=6_000_000.0, gt=0)
    anchor_hash_burst: int = Field(default=200_000, ge=1)


class ApiSettings(ServeSettings):
    host: str = "127.0.0.1"
    port: int = Field(default=8600, ge=0, le=65535)
    # one uploaded file; a whole multipart request; any other (JSON) body; JSON nesting depth
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    max_request_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    max_json_bytes: int = Field(default=2 * 1024 * 1024, gt=0)
    max_json_depth: int = Field(default=32, ge=2, le=200)
    # seconds: longest wait for the next body chunk, longest time for a whole body (else 408)
    body_timeout: float = Field(default=15.0, gt=0)
    body_deadline: float = Field(default=120.0, gt=0)
    # anyone may anchor (without a token), rate-limited by client address; off by default
    public_anchoring: bool = False
    # CREDLEDGER_API__SERVICE_TOKENS='[{"name": "wallet", "token_sha256": ["…"]}]'
    service_tokens: list[ServiceTokenSettings] = Field(default_factory=list)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)


class AnchoringSettings(BaseModel):
    batch_interval: float = Field(default=5.0, gt=0)
    max_batch: int = Field(default=4096, ge=1, le=1_000_000)
    max_hashes_per_request: int = Field(default=10_000, ge=1)
    stuck_after: float = Field(default=60.0, gt=0, description="seconds before a fee bump")
    fee_bump_percent: float = Field(default=12.5, ge=10.0)
    max_fee_gwei: float = Field(default=500.0, gt=0, description="cap for fee bumps")
    low_balance_wei: int = Field(default=10**17, ge=0)
    anchor_gas: int = Field(default=150_000, ge=30_000, description="gas limit of anchor()")
    reorg_window: int = Field(default=64, ge=1, description="blocks re-checked for reorgs")
    # the document fingerprint of a request that names none (docs/standards.md, SM3)
    fingerprint: Literal["sha256", "sm3"] = "sha256"


class IndexerSettings(BaseModel):
    chunk_blocks: int = Field(default=1000, ge=1, le=100_000)
    poll_interval: float = Field(default=1.0, gt=0)
    reorg_window: int = Field(default=128, ge=1, description="recent block hashes kept")


class DepartmentSettings(BaseModel):
    """A department this node acts for: its signing key, API token hashes and licence types.

    Tokens are never stored in clear: ``token_sha256`` holds ``sha256(token)`` in hex (tokens are
    long random strings, e.g. ``credledger token new``). ``issues`` / ``supervises`` name licence
    type codes from the catalogue; the chain holds the same roles and has the final word.
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$")
    #: the name pages show: Chinese (``display_name``) and English (``display_name_en``)
    display_name: str = ""
    display_name_en: str = ""
    #: the department's unified social credit code (GB 32100, check character validated): the
    #: issuer code of its licences' GB/T 36904 identifiers
    uscc: str | None = None
    keystore: Path | None = None
    password_file: Path | None = None
    dev_account: int | None = Field(default=None, ge=0)
    token_sha256: list[str] = Field(default_factory=list)
    issues: list[str] = Field(default_factory=list)
    supervises: list[str] = Field(default_factory=list)
    #: the SM2 e-seal key (docs/standards.md "E-seals"): its encrypted keystore, the passphrase
    #: from the env variable named here (or ``seal_passphrase``, for devnets), the SM2 user id
    seal_keystore: Path | None = None
    seal_passphrase_env: str = "CREDLEDGER_SEAL_PASSPHRASE"
    seal_passphrase: SecretStr | None = None
    seal_dist_id: str = Field(default="1234567812345678", min_length=1, max_length=64)
    #: devnets only: a seal key the chain does not have yet is registered by the department
    #: itself at its first sealed issuance (the demo does this for its departments)
    seal_register: bool = False
    #: the P-256 credential key (docs/credentials.md): encrypted PKCS#8 PEM, passphrase as above
    credential_keystore: Path | None = None
    credential_passphrase_env: str = "CREDLEDGER_CREDENTIAL_PASSPHRASE"
    credential_passphrase: SecretStr | None = None
    #: its certificate chain (PEM, leaf first; docs/credentials.md "Issuer certificates"), sent
    #: as x5c; unset on a devnet: a leaf of the node's devnet issuer CA
    credential_certificate_chain: Path | None = None

    @model_validator(mode="after")
    def _one_key(self) -> DepartmentSettings:
        if self.keystore is not None and self.password_file is None:
            raise ValueError(f"department {self.name}: keystore needs password_file")
        if self.keystore is None and self.dev_account is None:
            raise ValueError(f"department {self.name}: set keystore+password_file or dev_account")
        for h in self.token_sha256:
            if len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
                raise ValueError(f"department {self.name}: token_sha256 entries are 64 hex chars")
        if self.uscc is not None:
            try:
                self.uscc = normalise_uscc(self.uscc)
            except IdentifierError as exc:
                raise ValueError(f"department {self.name}: uscc: {exc.message}") from None
        return self


class ClerkSettings(BaseModel):
    """A service-counter clerk: verifies documents and presentations; cannot issue."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,39}$")
    department: str | None = None
    token_sha256: list[str] = Field(default_factory=list)


class CounterSettings(BaseModel):
    """The counter's presentation checks. ``single_use``: ``network`` (default) answers VALID for a
    single-use token only after this node's own on-chain spend on the PresentationLedger, so the
    token is refused at every other node on the chain; ``node`` keeps the spent statements in this
    node's database alone (no gas, no block wait; another node would accept the same token once
    more). docs/counter.md gives the costs of each."""

    single_use: Literal["network", "node"] = "network"


class OpenID4VPSettings(BaseModel):
    """The counter's OpenID4VP verifier (docs/openid4vp.md). Both unset (a devnet): a
    self-signed certificate generated in ``data_dir/openid4vp/``. For production, a certificate
    chain issued to the counter's operator: ``certificate_chain`` a PEM file (leaf first, then
    intermediates), ``key`` the leaf's P-256 key (unencrypted PEM); the node refuses to start
    when the key is not the leaf's."""

    certificate_chain: Path | None = None
    key: Path | None = None

    @model_validator(mode="after")
    def _both(self) -> OpenID4VPSettings:
        if (self.certificate_chain is None) != (self.key is None):
            raise ValueError("openid4vp: set both certificate_chain and key, or neither")
        return self


class LicenceSettings(BaseModel):
    """The licence service: admin token hashes (register licence types), public URL for QR."""

    admin_token_sha256: list[str] = Field(default_factory=list)
    public_url: str | None = None
    demo: bool = Field(default=False, description="add demo departments, clerks and data (devnet)")
    #: unified social credit codes of departments other nodes act for, by chain address, so this
    #: node shows their licences' GB/T 36904 identifiers too (its own are in ``departments``)
    department_codes: dict[str, str] = Field(default_factory=dict)

    @field_validator("department_codes")
    @classmethod
    def _codes(cls, v: dict[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for address, code in v.items():
            if not is_address(address):
                raise ValueError(f"department_codes: {address!r} is not a 20-byte 0x address")
            try:
                out[to_checksum_address(address)] = normalise_uscc(code)
            except IdentifierError as exc:
                raise ValueError(f"department_codes: {address}: {exc.message}") from None
        return out


class Settings(BaseSettings):
    """Everything a node needs, in one object."""

    model_config = SettingsConfigDict(
        env_prefix="CREDLEDGER_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    # every file the node writes lives under data_dir (see node/core/paths.py); made absolute here
    data_dir: Path = Field(default=paths.DEFAULT_DATA_DIR, validate_default=True)
    manifest: Path | None = None
    subject_secret: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: the zone pages, CLI and CSV show times in (always with the zone named)
    timezone: str = "Asia/Shanghai"

    chain: ChainSettings = Field(default_factory=ChainSettings)
    signer: SignerSettings = Field(default_factory=SignerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    anchoring: AnchoringSettings = Field(default_factory=AnchoringSettings)
    indexer: IndexerSettings = Field(default_factory=IndexerSettings)
    departments: list[DepartmentSettings] = Field(default_factory=list)
    clerks: list[ClerkSettings] = Field(default_factory=list)
    licences: LicenceSettings = Field(default_factory=LicenceSettings)
    counter: CounterSettings = Field(default_factory=CounterSettings)
    openid4vp: OpenID4VPSettings = Field(default_factory=OpenID4VPSettings)

    @field_validator("data_dir")
    @classmethod
    def _data_dir_absolute(cls, v: Path) -> Path:
        return v.expanduser().absolute()

    @field_validator("subject_secret")
    @classmethod
    def _secret_not_empty(cls, v: SecretStr) -> SecretStr:
        if len(v.get_secret_value()) < 16:
            raise ValueError("subject_secret must be at least 16 characters")
        return v

    @model_validator(mode="after")
    def _no_placeholders_outside_devnet(self) -> Settings:
        if self.chain.kind != "devnet":
            if self.subject_secret.get_secret_value() == PLACEHOLDER_SECRET:
                raise ValueError(
                    "subject_secret is the devnet placeholder; set CREDLEDGER_SUBJECT_SECRET "
                    f"to a real secret for a {self.chain.kind} chain"
                )
            if self.signer.keystore is None:
                raise ValueError(
                    f"a {self.chain.kind} chain needs signer.keystore and signer.password_file; "
                    "dev accounts are for devnets only"
                )
            for dept in self.departments:
                if dept.keystore is None:
                    raise ValueError(
                        f"department {dept.name} needs a keystore on a {self.chain.kind} chain; "
                        "dev accounts are for devnets only"
                    )
            if self.licences.demo:
                raise ValueError(
                    f"licences.demo (demo tokens) is for devnets, not {self.chain.kind}"
                )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_env_toml(settings_cls, init_settings, env_settings, "CREDLEDGER_CONFIG")

    def manifest_path(self, chain_id: int) -> Path:
        """``manifest`` if set, else the chain's default (:func:`paths.default_manifest`)."""
        return self.manifest or paths.default_manifest(chain_id, self.data_dir)


def load_settings(**overrides: object) -> Settings:
    """Build and validate the settings; raise :class:`node.errors.ConfigError` on any problem."""
    from pydantic import ValidationError

    from credledger.node.core.errors import ConfigError

    toml = os.environ.get("CREDLEDGER_CONFIG")
    if toml and not Path(toml).is_file():
        raise ConfigError(f"CREDLEDGER_CONFIG names {toml}, which is not a file")
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(f"invalid setting {where}: {first['msg']}") from None
