"""Webhook mode: Telegram's calls are accepted only with the secret token."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from bot.app import build_application, stop
from bot.context import Services
from bot.emulator import BotApiEmulator
from bot.runner import start_webhook
from config import ConfigError, Settings
from storage.catalog.service import Catalog
from storage.db import Database
from tests.bot.harness import BOT_USERNAME, TOKEN


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_webhook_needs_the_secret_token(db: Database, catalog: Catalog) -> None:
    port = _free_port()
    settings = Settings(
        database_url=db.url,
        telegram_token=TOKEN,
        webhook_url=f"https://bot.example.org/telegram/{port}",
        webhook_secret="s3cret-Token_value",
        webhook_listen="127.0.0.1",
        webhook_port=port,
    )
    services = Services(settings=settings, db=db, catalog=catalog)
    async with BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as emu:
        app = build_application(
            services, TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url
        )
        ada = emu.add_user("Ada", "ada")
        emu.private_chat(ada)
        update = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 1_700_000_000,
                "chat": {"id": ada.id, "type": "private", "first_name": "Ada"},
                "from": {"id": ada.id, "is_bot": False, "first_name": "Ada"},
                "text": "/help",
                "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
            },
        }
        async with app:
            await start_webhook(app, settings)
            try:
                [set_call] = emu.calls_to("setWebhook")
                assert set_call.params["url"] == settings.webhook_url
                url = f"http://127.0.0.1:{port}/telegram/{port}"
                async with httpx.AsyncClient() as client:
                    missing = await client.post(
                        url,
                        content=json.dumps(update),
                        headers={"Content-Type": "application/json"},
                    )
                    wrong = await client.post(
                        url,
                        content=json.dumps(update),
                        headers={
                            "Content-Type": "application/json",
                            "X-Telegram-Bot-Api-Secret-Token": "guess",
                        },
                    )
                    right = await client.post(
                        url,
                        content=json.dumps(update),
                        headers={
                            "Content-Type": "application/json",
                            "X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_value",
                        },
                    )
                assert (missing.status_code, wrong.status_code, right.status_code) == (
                    403,
                    403,
                    200,
                )
                [help_text] = await emu.wait_for_messages(ada, 1)
                assert "/paper" in (help_text.text or "")
            finally:
                await stop(app)
        assert emu.errors == []


async def test_webhook_without_secret_refuses_to_start(db: Database, catalog: Catalog) -> None:
    settings = Settings(
        database_url=db.url, telegram_token=TOKEN, webhook_url="https://bot.example.org/t"
    )
    services = Services(settings=settings, db=db, catalog=catalog)
    app = build_application(services, TOKEN, base_url="http://127.0.0.1:9/bot")
    with pytest.raises(ConfigError, match="SHORTSCI_WEBHOOK_SECRET is required"):
        await start_webhook(app, settings)
