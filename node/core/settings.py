"""What the settings objects of the node and of other packages (the wallet) share: where their
values come from. Each package keeps its own typed settings object; no core module reads one."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, TomlConfigSettingsSource

from credledger.node.core.http.server import check_proxies


class ServeSettings(BaseModel):
    """How a service (the node, the wallet) serves HTTP: ``credledger.node.core.http.server``."""

    # seconds a request's headers may take before the connection is closed (slow clients)
    header_timeout: float = Field(default=10.0, gt=0)
    # addresses / CIDRs of reverse proxies whose X-Forwarded-For names the client (none: the
    # peer address is the client, whatever the headers say)
    trusted_proxies: list[str] = Field(default_factory=list)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: list[str]) -> list[str]:
        return check_proxies(v)


def init_env_toml(
    settings_cls: type[BaseSettings],
    init_settings: PydanticBaseSettingsSource,
    env_settings: PydanticBaseSettingsSource,
    config_var: str,
) -> tuple[PydanticBaseSettingsSource, ...]:
    """The settings sources of the node and the wallet, first wins: arguments, the environment,
    then the TOML file named by ``config_var`` (no .env files, no secrets directory)."""
    sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
    toml = os.environ.get(config_var)
    if toml:
        sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(toml)))
    return tuple(sources)
