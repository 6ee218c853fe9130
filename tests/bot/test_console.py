"""`shortsci chat`: a person types, sees numbered buttons, presses them, switches users."""

from __future__ import annotations

import io
import os

from bot.console import MODERATOR_ID, Console, chat, with_console_moderator
from bot.context import Services
from markup import restore_blocks
from storage.catalog.service import Catalog
from storage.db import Database
from tests.bot.harness import running_bot
from tests.seed import seed_paper


async def test_console_shows_numbered_buttons_and_switches_users(
    db: Database, catalog: Catalog
) -> None:
    async with running_bot(db, catalog, admins=frozenset({MODERATOR_ID})) as bot:
        out = io.StringIO()
        console = Console(bot.emu, out)
        console.handle("/submit 1512.03385")
        await bot.settle()
        for part in restore_blocks(seed_paper("Deep Residual").summary).split("\n\n"):
            console.handle(part.replace("\n", " "))
            await bot.settle()
        console.handle("/done")
        await bot.settle()
        assert "[1] ✅ Submit  [2] ✏️ Edit  [3] ✖️ Cancel" in out.getvalue()
        console.handle("1")
        await bot.settle()
        assert "waits for a moderator" in out.getvalue()
        console.handle(":switch")
        console.handle("/queue")
        await bot.settle()
        assert "bot → moderator:" in out.getvalue()
        assert "[1] ✅ Approve  [2] ❌ Reject" in out.getvalue()
        console.handle("1")
        await bot.settle()
        assert "[Approved]" in out.getvalue()
        assert "is approved and published. Thank you!" in out.getvalue()
        console.handle("7")
        assert "(no button 7; there are 2)" in out.getvalue() or "no button" in out.getvalue()
        assert console.handle(":quit") is False


async def test_chat_command_starts_and_quits_cleanly(db: Database, catalog: Catalog) -> None:
    from config import Settings

    services = Services(settings=Settings(database_url=db.url), db=db, catalog=catalog)
    assert MODERATOR_ID in with_console_moderator(services).settings.admins
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as writer:
        writer.write(":help\n:quit\n")
    out = io.StringIO()
    with os.fdopen(read_end) as stdin:
        await chat(services, stdin=stdin, out=out, connected=False)
    text = out.getvalue()
    assert "No SHORTSCI_TELEGRAM_TOKEN is set" in text
    assert text.count(":switch") == 2, "the banner and :help both list the commands"
