"""What the settings objects of the node and of other packages (the wallet) share: where their
values come from. Each package keeps its own typed settings object; no core module reads one."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, TomlConfigSettingsSource


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
