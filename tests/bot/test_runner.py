"""`serve_bot`, as `shortsci bot` and `shortsci run` start it: polling, and its chores."""

from __future__ import annotations

import asyncio
import gc

from sqlalchemy import select, update

from bot.context import Services
from bot.emulator import BotApiEmulator
from bot.runner import serve_bot
from config import Settings
from markup import TELEGRAM_HTML_VERSION, to_telegram_html
from storage.catalog.service import Catalog
from storage.db import Database
from storage.models import Summary
from storage.summaries import submit_summary
from storage.users import ensure_user
from tests.bot.harness import BOT_USERNAME, TOKEN
from tests.seed import seed_paper


async def test_a_started_bot_answers_and_renders_stored_summaries(
    db: Database, catalog: Catalog
) -> None:
    body = seed_paper("Deep Residual").summary
    [paper] = await catalog.lookup("1512.03385")
    async with db.transaction() as session:
        author = await ensure_user(session, 7, display_name="Author")
        summary = await submit_summary(
            session, author, paper.id, body, moderated=False, channels=()
        )
        await session.flush()
        await session.execute(  # as if written before renders were stored
            update(Summary).where(Summary.id == summary.id).values(html=None, html_version=None)
        )
    async with BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as emu:
        settings = Settings(
            database_url=db.url, telegram_token=TOKEN, telegram_api_url=emu.base_url
        )
        stopping = asyncio.Event()
        serving = asyncio.create_task(
            serve_bot(Services(settings=settings, db=db, catalog=catalog), stopping)
        )
        ada = emu.add_user("Ada", "ada")
        emu.send_text(ada, "/help")
        async with asyncio.timeout(20):
            while not emu.messages(ada):
                await asyncio.sleep(0.02)
            while True:
                async with db.sessions() as session:
                    stored = await session.scalar(select(Summary).where(Summary.id == summary.id))
                if stored is not None and stored.html_version == TELEGRAM_HTML_VERSION:
                    break
                await asyncio.sleep(0.02)
        stopping.set()
        await serving
    assert "ShortSci" in (emu.messages(ada)[0].text or "")
    frozen = gc.get_freeze_count()
    gc.unfreeze()  # (this test process goes on: let the rest of the suite's garbage go)
    assert frozen > 0, "start-up objects are kept out of collections"
    assert stored.html == to_telegram_html(body)
