"""``shortsci chat``: talk to the real bot in a terminal, through the built-in emulator.

Two people share the terminal: you and a moderator (``:switch`` toggles). Buttons are shown
numbered; type the number to press one. ``:file PATH`` sends a file, ``:quit`` leaves.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from bot.app import build_application, start_polling, stop
from bot.context import Services
from bot.emulator import BotApiEmulator, Event
from bot.emulator.state import Message, User

TOKEN = "1000000000:CONSOLE-local-emulator-token-000000"  # noqa: S105 - local emulator only
BOT_USERNAME = "shortsci_local_bot"
MEMBER_ID, MODERATOR_ID = 1001, 1000
HELP = """Commands: type a message to the bot; a number presses that button of the last message;
:switch  talk as the other person (you / moderator)     :file PATH  send a file
:help    this text                                       :quit       leave"""


def banner(connected: bool) -> str:
    """What `shortsci run` says when it starts the console instead of real Telegram."""
    return (
        "ShortSci console chat: the real bot, talking to a local Telegram emulator.\n"
        + (
            ""
            if connected
            else "No SHORTSCI_TELEGRAM_TOKEN is set. To connect to real Telegram, "
            "create a bot with @BotFather and run: SHORTSCI_TELEGRAM_TOKEN=<token> shortsci run\n"
        )
        + HELP
    )


class Console:
    """Prints what the bot sends to the current person; reads what they type."""

    def __init__(self, emu: BotApiEmulator, out: TextIO) -> None:
        self.emu = emu
        self.out = out
        self.people = {
            "you": emu.add_user("You", "you", user_id=MEMBER_ID),
            "moderator": emu.add_user("Moderator", "moderator", user_id=MODERATOR_ID),
        }
        for person in self.people.values():
            emu.private_chat(person)  # both have opened the bot, so it can write to them
        self.current = "you"
        self.last_with_buttons: dict[int, Message] = {}
        emu.add_listener(self.on_event)

    @property
    def user(self) -> User:
        """Who is typing now."""
        return self.people[self.current]

    def on_event(self, event: Event) -> None:
        """Show the bot's messages, edits and button answers as they happen."""
        if event.kind in ("sent", "edited") and isinstance(event.subject, Message):
            self.show(event.subject, edited=event.kind == "edited")
        elif event.kind == "callback_answer" and getattr(event.subject, "text", None):
            print(f"  [{event.subject.text}]", file=self.out)

    def show(self, message: Message, *, edited: bool) -> None:
        """Print one bot message with numbered buttons."""
        who = next((name for name, u in self.people.items() if u.id == message.chat_id), None)
        prefix = f"bot → {who}" + (" (edited)" if edited else "")
        print(f"\n{prefix}:\n{message.text or ''}", file=self.out)
        if message.document is not None:
            print(
                f"  📎 {message.document.file_name} ({len(message.document.content)} bytes)",
                file=self.out,
            )
        buttons = [b for row in message.buttons for b in row]
        if buttons:
            self.last_with_buttons[message.chat_id] = message
            labels = "  ".join(f"[{n}] {b.text}" for n, b in enumerate(buttons, start=1))
            print(f"  {labels}", file=self.out)

    def handle(self, line: str) -> bool:
        """Act on one typed line; False to quit."""
        text = line.strip()
        if text in (":quit", ":q"):
            return False
        if text == ":help":
            print(HELP, file=self.out)
        elif text == ":switch":
            self.current = "moderator" if self.current == "you" else "you"
            print(f"(now typing as {self.current})", file=self.out)
        elif text.startswith(":file "):
            self.send_file(Path(text.removeprefix(":file ").strip()).expanduser())
        elif text.isdigit() and self.user.id in self.last_with_buttons:
            self.press(int(text))
        elif text:
            self.emu.send_text(self.user, text)
        return True

    def press(self, number: int) -> None:
        """Press button `number` of the last message with buttons."""
        message = self.last_with_buttons[self.user.id]
        buttons = [b for row in message.buttons for b in row]
        if not 1 <= number <= len(buttons):
            print(f"(no button {number}; there are {len(buttons)})", file=self.out)
            return
        button = buttons[number - 1]
        if button.url:
            print(f"(opens {button.url})", file=self.out)
        elif button.callback_data:
            self.emu.press_button(self.user, message, button.callback_data)

    def send_file(self, path: Path) -> None:
        """Upload a file as the current person."""
        try:
            content = path.read_bytes()
        except OSError as exc:
            print(f"(cannot read {path}: {exc.strerror})", file=self.out)
            return
        self.emu.send_document(self.user, path.name, content, "text/markdown")


async def _lines(stream: TextIO) -> asyncio.Queue[str | None]:
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def read() -> None:
        for line in stream:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    loop.run_in_executor(None, read)
    return queue


async def chat(
    services: Services,
    *,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
    connected: bool = True,
) -> None:
    """Run the bot against an in-process emulator and chat with it from the terminal."""
    services = with_console_moderator(services)
    async with BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as emu:
        console = Console(emu, out)
        application = build_application(
            services, TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url
        )
        async with application:
            await start_polling(application, poll_timeout=1)
            logging.getLogger().setLevel(logging.WARNING)  # the terminal is for the chat
            print(banner(connected), file=out)
            lines = await _lines(stdin)
            try:
                while (line := await lines.get()) is not None and console.handle(line):
                    pass
            finally:
                await stop(application)


def with_console_moderator(services: Services) -> Services:
    """The console's moderator is a moderator, whatever SHORTSCI_ADMINS says."""
    admins = services.settings.admins | {MODERATOR_ID}
    settings = services.settings.model_copy(update={"admins": admins})
    return replace(services, settings=settings)
