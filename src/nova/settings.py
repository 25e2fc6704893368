"""Settings from the environment, all with the ``NOVA_`` prefix."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """Environment settings; nova.yaml holds everything that belongs to a workspace."""

    model_config = SettingsConfigDict(env_prefix="NOVA_", extra="ignore")

    database_url: str | None = None
    """SQLAlchemy URL of the run store (``postgresql+psycopg://…``); overrides nova.yaml."""
    workspace: Path | None = None
    """Workspace folder, when not found from the current directory."""
    debug: bool = False
    """Show tracebacks for errors."""
    catalog_max_age_days: int = 180
    """Catalog facts older than this are flagged as stale."""


def get_settings() -> Settings:
    """Read the settings from the environment now (not cached: tests change the env)."""
    return Settings()
