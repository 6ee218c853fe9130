"""Configuration: one `Settings` object read from the environment, `.env` and `shortsci.toml`."""

from config.logging import configure_logging
from config.settings import ConfigError, Settings, load_settings

__all__ = ["ConfigError", "Settings", "configure_logging", "load_settings"]
