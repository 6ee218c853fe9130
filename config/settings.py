"""The one `Settings` object; nothing else in ShortSci reads ``os.environ``.

Sources, strongest first: keyword arguments, environment variables (``SHORTSCI_*``),
a ``.env`` file, then ``shortsci.toml`` (keys are the variable names without the prefix,
lower case). A bad value stops start-up with a `ConfigError` naming the variable, what is
wrong and an example of a good value; secrets never appear in that message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "SHORTSCI_"
SQLITE_DEFAULT = "sqlite+aiosqlite:///shortsci.db"


class ConfigError(Exception):
    """A setting is missing or malformed; the message says which and how to fix it."""


def _optional(example: str) -> Any:
    """An optional setting (default None) with an example for error messages."""
    return Field(None, json_schema_extra={"example": example})


class Settings(BaseSettings):
    """Every setting ShortSci has, with the defaults from ARCHITECTURE.md."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        toml_file="shortsci.toml",
        extra="ignore",
        frozen=True,
    )

    database_url: str = Field(
        SQLITE_DEFAULT, json_schema_extra={"example": "sqlite:///shortsci.db"}
    )
    telegram_token: SecretStr | None = _optional("123456:ABC-DEF1234ghIkl")
    telegram_api_url: str = Field(
        "https://api.telegram.org/bot",
        json_schema_extra={"example": "https://api.telegram.org/bot"},
    )
    admins: Annotated[frozenset[int], NoDecode] = Field(
        frozenset(), json_schema_extra={"example": "12345678,87654321"}
    )
    arxiv_api_url: str = Field(
        "https://export.arxiv.org/api/query",
        json_schema_extra={"example": "https://export.arxiv.org/api/query"},
    )
    arxiv_timeout: float = Field(15.0, gt=0, json_schema_extra={"example": "15"})
    arxiv_delay_seconds: float = Field(3.0, ge=0, json_schema_extra={"example": "3"})

    x_consumer_key: SecretStr | None = _optional("xvz1evFS4wEEPTGEFPHBog")
    x_consumer_secret: SecretStr | None = _optional("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw")
    x_access_token: SecretStr | None = _optional(
        "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"
    )
    x_access_token_secret: SecretStr | None = _optional("LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE")
    x_api_url: str = Field(
        "https://api.twitter.com", json_schema_extra={"example": "https://api.x.com"}
    )

    facebook_page_id: str | None = _optional("104958162837")
    facebook_page_token: SecretStr | None = _optional("EAAB...")
    facebook_api_url: str = Field(
        "https://graph.facebook.com/v21.0",
        json_schema_extra={"example": "https://graph.facebook.com/v21.0"},
    )

    mastodon_url: str | None = _optional("https://mastodon.social")
    mastodon_token: SecretStr | None = _optional("ZA-Yj3aBD8U8Cm7lKUp-lm9O9BmDgdhHzDeqsY8tlL0")

    bluesky_handle: str | None = _optional("shortsci.bsky.social")
    bluesky_app_password: SecretStr | None = _optional("abcd-efgh-ijkl-mnop")
    bluesky_api_url: str = Field(
        "https://bsky.social", json_schema_extra={"example": "https://bsky.social"}
    )

    telegram_channel: str | None = _optional("@shortsci")
    feed_path: Path | None = _optional("/var/lib/shortsci/feed.xml")

    crossref_api_url: str = Field(
        "https://api.crossref.org", json_schema_extra={"example": "https://api.crossref.org"}
    )
    crossref_timeout: float = Field(15.0, gt=0, json_schema_extra={"example": "15"})
    contact_email: str | None = _optional("team@example.org")
    public_url: str | None = _optional("https://shortsci.example.org")

    webhook_url: str | None = _optional("https://bot.example.org/telegram")
    webhook_secret: SecretStr | None = _optional("a-long-random-string_1")
    webhook_listen: str = Field("127.0.0.1", json_schema_extra={"example": "0.0.0.0"})  # noqa: S104
    webhook_port: int = Field(8443, ge=1, le=65535, json_schema_extra={"example": "8443"})

    publish_interval_seconds: int = Field(60, ge=1, json_schema_extra={"example": "60"})
    publish_schedule: dict[str, str] = Field(
        default_factory=dict, json_schema_extra={"example": '{"x": "0 9-21/2 * * *"}'}
    )
    quiet_hours: dict[str, str] = Field(
        default_factory=dict, json_schema_extra={"example": '{"x": "22:00-07:00"}'}
    )
    daily_caps: dict[str, int] = Field(
        default_factory=lambda: {"x": 17}, json_schema_extra={"example": '{"x": 17}'}
    )
    x_thread: bool = Field(False, json_schema_extra={"example": "true"})
    publish_lease_seconds: int = Field(300, ge=1, json_schema_extra={"example": "300"})
    bot_username: str | None = _optional("shortsci_bot")
    log_level: str = Field("INFO", json_schema_extra={"example": "DEBUG"})

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment over ``.env`` over ``shortsci.toml``."""
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            TomlConfigSettingsSource(settings_cls),
        )

    @field_validator("admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
            for part in parts:
                if not part.lstrip("-").isdigit():
                    raise ValueError(f"{part!r} is not a numeric Telegram user id")
            return frozenset(int(p) for p in parts)
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept plain SQLAlchemy URLs and pick the async driver for them."""
        scheme, sep, rest = value.partition("://")
        if not sep:
            raise ValueError("is not a URL of the form dialect://...")
        base = scheme.split("+", 1)[0]
        if base == "sqlite":
            return f"sqlite+aiosqlite://{rest}"
        if base in ("postgresql", "postgres"):
            return f"postgresql+asyncpg://{rest}"
        raise ValueError("only sqlite:// and postgresql:// databases are supported")

    @field_validator(
        "telegram_api_url",
        "arxiv_api_url",
        "x_api_url",
        "facebook_api_url",
        "mastodon_url",
        "bluesky_api_url",
        "crossref_api_url",
        "public_url",
        "webhook_url",
    )
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if not value.endswith("/bot") else value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: dict[str, str]) -> dict[str, str]:
        for channel, span in value.items():
            start, sep, end = span.partition("-")
            if not sep or not all(_is_clock(t) for t in (start, end)):
                raise ValueError(f"{channel}: {span!r} is not a span like 22:00-07:00")
        return value

    @field_validator("publish_schedule")
    @classmethod
    def _schedule(cls, value: dict[str, str]) -> dict[str, str]:
        for channel, rule in value.items():
            fields = rule.split()
            if not (rule.strip().isdigit() or len(fields) == 5):
                raise ValueError(
                    f"{channel}: {rule!r} is neither seconds between runs nor a 5-field cron rule"
                )
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is an SQLite file."""
        return self.database_url.startswith("sqlite")

    @property
    def resolved_feed_path(self) -> Path:
        """Where the Atom feed is written: the setting, else ``feed.xml`` by the SQLite file."""
        if self.feed_path is not None:
            return self.feed_path
        if self.is_sqlite:
            db_file = self.database_url.partition(":///")[2]
            if db_file and db_file != ":memory:":
                return Path(db_file).parent / "feed.xml"
        return Path("feed.xml")

    def enabled_channels(self) -> tuple[str, ...]:
        """Names of the publishing channels whose credentials are all present."""
        channels = []
        x_keys = (
            self.x_consumer_key,
            self.x_consumer_secret,
            self.x_access_token,
            self.x_access_token_secret,
        )
        if all(x_keys):
            channels.append("x")
        if self.facebook_page_id and self.facebook_page_token:
            channels.append("facebook")
        if self.mastodon_url and self.mastodon_token:
            channels.append("mastodon")
        if self.bluesky_handle and self.bluesky_app_password:
            channels.append("bluesky")
        if self.telegram_channel and self.telegram_token:
            channels.append("telegram")
        channels.append("atom")
        return tuple(channels)

    def secret_values(self) -> list[str]:
        """Every secret's plain value, for redaction of logs."""
        values = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                values.append(value.get_secret_value())
        return values


def _is_clock(text: str) -> bool:
    hours, sep, minutes = text.strip().partition(":")
    return (
        bool(sep)
        and hours.isdigit()
        and minutes.isdigit()
        and int(hours) < 24
        and int(minutes) < 60
    )


def _describe(error: dict[str, Any]) -> str:
    """One line per bad value: variable, problem and an example; never the value itself."""
    field = str(error["loc"][0]) if error["loc"] else "?"
    variable = ENV_PREFIX + field.upper()
    problem = str(error["msg"]).removeprefix("Value error, ")
    info = Settings.model_fields.get(field)
    extra = info.json_schema_extra if info else None
    example = extra.get("example") if isinstance(extra, dict) else None
    hint = f" (for example {variable}={example})" if example else ""
    return f"{variable}: {problem}{hint}"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning validation errors into one friendly `ConfigError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = [_describe(dict(err)) for err in exc.errors(include_input=False)]
        raise ConfigError("Invalid configuration:\n  " + "\n  ".join(lines)) from None
