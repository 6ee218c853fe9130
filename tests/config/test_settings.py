"""Settings come from the environment, .env and shortsci.toml; bad values are explained."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from config import ConfigError, load_settings
from config.logging import RedactSecrets


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("SHORTSCI_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_follow_the_architecture() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///shortsci.db"
    assert settings.telegram_token is None
    assert settings.telegram_api_url == "https://api.telegram.org/bot"
    assert settings.arxiv_api_url == "https://export.arxiv.org/api/query"
    assert settings.x_api_url == "https://api.twitter.com"
    assert settings.facebook_api_url == "https://graph.facebook.com/v21.0"
    assert settings.crossref_api_url == "https://api.crossref.org"
    assert settings.enabled_channels() == ("atom",)
    assert settings.resolved_feed_path == Path("feed.xml")


def test_environment_over_dotenv_over_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "shortsci.toml").write_text(
        'database_url = "sqlite:///data/toml.db"\nadmins = [5]\npublic_url = "https://toml.example"\n'
    )
    (tmp_path / ".env").write_text("SHORTSCI_PUBLIC_URL=https://dotenv.example\n")
    monkeypatch.setenv("SHORTSCI_ADMINS", "11, 12")
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///data/toml.db"
    assert settings.public_url == "https://dotenv.example"
    assert settings.admins == frozenset({11, 12})
    assert settings.resolved_feed_path == Path("data/feed.xml")


def test_postgres_urls_get_the_async_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHORTSCI_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    assert load_settings().database_url == "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def test_channels_are_on_only_with_all_their_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CONSUMER_KEY", "CONSUMER_SECRET", "ACCESS_TOKEN"):
        monkeypatch.setenv(f"SHORTSCI_X_{name}", "v" * 10)
    monkeypatch.setenv("SHORTSCI_FACEBOOK_PAGE_ID", "104958162837")
    monkeypatch.setenv("SHORTSCI_FACEBOOK_PAGE_TOKEN", "EAAB" + "t" * 20)
    assert load_settings().enabled_channels() == ("facebook", "atom")
    monkeypatch.setenv("SHORTSCI_X_ACCESS_TOKEN_SECRET", "s" * 10)
    monkeypatch.setenv("SHORTSCI_TELEGRAM_CHANNEL", "@shortsci")
    assert load_settings().enabled_channels() == ("x", "facebook", "atom")
    monkeypatch.setenv("SHORTSCI_TELEGRAM_TOKEN", "123:abc")
    assert "telegram" in load_settings().enabled_channels()


def test_bad_values_name_the_variable_the_problem_and_an_example(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHORTSCI_ADMINS", "12345,bob")
    monkeypatch.setenv("SHORTSCI_WEBHOOK_PORT", "http")
    monkeypatch.setenv("SHORTSCI_DATABASE_URL", "mysql://root@localhost/x")
    monkeypatch.setenv("SHORTSCI_X_API_URL", "api.x.com")
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert "SHORTSCI_ADMINS: 'bob' is not a numeric Telegram user id" in message
    assert "(for example SHORTSCI_ADMINS=12345678,87654321)" in message
    assert "SHORTSCI_WEBHOOK_PORT: Input should be a valid integer" in message
    assert (
        "SHORTSCI_DATABASE_URL: only sqlite:// and postgresql:// databases are supported" in message
    )
    assert "SHORTSCI_X_API_URL: must start with http:// or https://" in message


def test_secrets_never_show_in_reprs_or_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "123456:SUPER-secret-token-value"
    monkeypatch.setenv("SHORTSCI_TELEGRAM_TOKEN", secret)
    settings = load_settings()
    assert secret not in repr(settings) and secret not in str(settings)
    assert settings.telegram_token is not None
    assert settings.telegram_token.get_secret_value() == secret
    assert settings.secret_values() == [secret]
    monkeypatch.setenv("SHORTSCI_WEBHOOK_PORT", secret)  # a secret pasted into the wrong variable
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert secret not in str(err.value)


def test_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    secret = "EAABsecretPageToken42"
    logger = logging.getLogger("test.redaction")
    redact = RedactSecrets([secret])
    logger.addFilter(redact)
    try:
        with caplog.at_level(logging.INFO, logger="test.redaction"):
            logger.info("posting with token %s", secret)
            try:
                raise RuntimeError(f"https://graph.example/feed?access_token={secret}")
            except RuntimeError:
                logger.exception("request failed")
    finally:
        logger.removeFilter(redact)
    text = caplog.text
    assert secret not in text
    assert "posting with token ****" in text
    assert "access_token=****" in text
