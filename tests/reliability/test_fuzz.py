"""Bad input: hypothesis throws messages, commands, button presses and files at the real bot.

Each test keeps one bot running (through the Bot API emulator) and plays every generated
example against it, from a worker thread, so examples cost a round trip each rather than a
bot start. After every step: Telegram (the emulator) refused nothing the bot sent, the bot's
error handler logged nothing ("unhandled error for update"), and if the summaries or votes
tables changed, the user was told of a success; a refused input changes neither table.

Texts are what Telegram delivers: at most 4,096 UTF-16 code units, never blank. Longer texts
(up to 100,000 characters and more) arrive as files. The ``reliability`` profile runs a few
hundred steps; ``SHORTSCI_SOAK=1`` (or ``HYPOTHESIS_PROFILE=soak``) runs tens of thousands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.app import COMMANDS
from bot.callbacks import Action
from bot.emulator import User, utf16_len
from bot.ratelimit import RateLimiter
from storage.catalog.service import Catalog
from storage.db import Database
from storage.summaries import submit_summary
from storage.users import ensure_user
from tests.bot.harness import MODERATOR_ID, Chat
from tests.reliability.conftest import profile
from tests.reliability.support import (
    BODY,
    UNLIMITED,
    bot_session,
    new_paper,
    settings_for,
    summaries_and_votes,
    text_of,
)

T = TypeVar("T")

#: What a user is told when a step changed the summaries or votes tables.
SUCCESS = (
    "Thank you! Summary #",
    "Saved",
    "Deleted",
    "is deleted",
    "Approved",
    "is approved",
    "is rejected",
    "👍 Thanks for your vote",
    "👎 Noted",
    "Vote withdrawn",
)

# -- strategies -------------------------------------------------------------------------------

TRICKY = [
    "\u202e",  # right-to-left override
    "\u200f",  # right-to-left mark
    "\u200b",  # zero-width space
    "\u200d",  # zero-width joiner
    "\ufeff",  # byte-order mark
    "\u0000",
    "\u0007",
    "\u001b[31m",
    "\r\n",
    "\t",
    "<b>",
    "</b>",
    "<a href='javascript:alert(1)'>x</a>",
    "<code>",
    "&amp;",
    "&",
    "<",
    ">",
    "<script>alert(1)</script>",
    "*bold*",
    "_it_",
    "`code`",
    "```\nblock\n```",
    "[link](http://127.0.0.1/)",
    "$x^2$",
    "$$\\frac{a}{b}$$",
    "\\",
    "#1",
    "@mo",
    "/done",
    "1512.03385",
    "2401.00001",
    "arxiv.org/abs/2401.00001",
    "https://doi.org/10.1000/xyz",
    "١٢",  # Arabic-Indic digits
    "１２",  # fullwidth digits
    "²",  # superscript two: a digit to str.isdigit, not to int()
    "🧪",
    "👍🏽",
    "🏳️‍🌈",
    "e\u0301",  # combining accent
    "\U0001d54f",  # mathematical double-struck X
    "ﷺ",
    "𒐫",
]

texts = st.one_of(
    st.text(min_size=1, max_size=60),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=300),
    st.lists(st.sampled_from(TRICKY), min_size=1, max_size=12).map("".join),
    st.lists(st.one_of(st.sampled_from(TRICKY), st.text(max_size=8)), max_size=20).map("".join),
    st.builds(
        lambda s, n: (s * n)[:4096], st.sampled_from([*TRICKY, "a", "word "]), st.integers(1, 5000)
    ),
)


def deliverable(text: str) -> str | None:
    """The text as Telegram would deliver it, or None if a client could not send it."""
    if not text.strip() or utf16_len(text) > 4096:
        return None
    return text


COMMAND_NAMES = [f"/{name}" for name, _, _ in COMMANDS] + [
    "/nosuch",
    "/START",
    "/start@shortsci_test_bot",
    "/start@other_bot",
    "/",
]

ids = st.one_of(
    st.integers(0, 6),
    st.integers(-(10**12), 10**13),
    st.sampled_from(["١", "１", "²", "0x1", "1e3", "01", "+1", "-0", "#1", "１٢", " 1", "9" * 30]),
    st.sampled_from([2**31 - 1, 2**31, 2**63, 10**12 - 1]).map(str),
)
args = st.one_of(
    st.just(""),
    ids.map(str),
    texts,
    st.sampled_from(["p_1", "s_1", "p_²", "s_١", "s_-1", "p_" + "9" * 40, "s_1_2", "@mo", "x"]),
)
commands = st.one_of(
    st.builds(lambda name, arg: f"{name} {arg}".strip(), st.sampled_from(COMMAND_NAMES), args),
    st.builds(
        lambda name, arg: f"{name}{arg}",
        st.sampled_from(["/edit ", "/delete ", "/edit #", "/start s_", "/start p_", "/ban "]),
        ids.map(str),
    ),
)

actions = st.sampled_from([a.value for a in Action] + ["zz", "V", "v ", ""])
callback_data = st.one_of(
    st.builds(lambda a, x: f"{a}:{x}", actions, ids.map(str)),
    st.builds(lambda a, x, y: f"{a}:{x}:{y}", actions, ids.map(str), ids.map(str)),
    st.text(max_size=64),
    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
).filter(lambda d: 0 < len(d.encode()) <= 64)

file_names = st.one_of(
    st.sampled_from(
        ["summary.md", "summary.txt", "x.MD", "notes.markdown", "a.pdf", "b.md.exe", ".md", "md"]
    ),
    st.builds(lambda s, ext: s + ext, st.text(max_size=20), st.sampled_from([".md", ".txt", ""])),
).filter(lambda n: bool(n) and "\x00" not in n and "/" not in n)
file_bodies = st.one_of(
    st.binary(max_size=2_000),
    texts.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.builds(
        lambda s, n: (s * n).encode(),
        st.sampled_from(["a", "é", "🧪", BODY]),
        st.integers(1, 110_000),
    ),
    st.just(("x" * 100_000).encode()),
    st.just(b"\xef\xbb\xbf" + BODY.encode()),
    st.just(BODY.encode("utf-16")),
    st.just(b""),
)


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Press:
    data: str


@dataclass(frozen=True)
class Upload:
    name: str
    content: bytes


Step = Say | Press | Upload

steps = st.one_of(
    texts.map(Say),
    commands.map(Say),
    callback_data.map(Press),
    st.builds(Upload, file_names, file_bodies),
)


# -- playing steps against the bot ------------------------------------------------------------


@dataclass
class Stats:
    steps: int = 0
    refused: int = 0
    changed: int = 0
    kinds: dict[str, int] = field(default_factory=dict)


@dataclass
class Player:
    """Plays steps as one of a few users against the running bot."""

    chat: Chat
    db: Database
    users: list[User]
    caplog: pytest.LogCaptureFixture
    stats: Stats = field(default_factory=Stats)

    async def play(self, user: User, step: Step) -> None:
        chat = self.chat
        errors = len(chat.emu.errors)
        logged = len(self._unhandled())
        before = await summaries_and_votes(self.db)
        answer: str | None = None
        if isinstance(step, Say):
            text = deliverable(step.text)
            if text is None:
                return
            shown = await chat.say(user, text)
        elif isinstance(step, Upload):
            shown = await chat.upload(user, step.name, step.content)
        else:
            history = chat.seen(user)
            anchor = next((m for m in reversed(history) if m.buttons), history[-1])
            answer, shown = await chat.press_data(user, anchor, step.data, forge=True)
        after = await summaries_and_votes(self.db)
        seen = "\n".join(filter(None, [answer, text_of(shown)]))
        self.stats.steps += 1
        kind = type(step).__name__
        self.stats.kinds[kind] = self.stats.kinds.get(kind, 0) + 1
        assert chat.emu.errors[errors:] == [], f"Telegram refused a reply to {step!r}"
        unhandled = self._unhandled()[logged:]
        assert unhandled == [], f"{step!r} raised: {unhandled[0]}"
        assert "something went wrong" not in seen, f"{step!r}: {seen}"
        if after != before:
            self.stats.changed += 1
            assert any(word in seen for word in SUCCESS), f"{step!r} changed data: {seen!r}"
        else:
            self.stats.refused += 1

    def _unhandled(self) -> list[str]:
        return [
            f"{r.getMessage()}\n{r.exc_text or ''}"
            for r in self.caplog.records
            if "unhandled error for update" in r.getMessage()
        ]


async def _world(chat: Chat, db: Database) -> list[User]:
    """Two papers, an approved and a pending summary, and users who have opened the chat."""
    paper, _ = await new_paper(db, "Deep residual learning for image recognition")
    other, _ = await new_paper(db, "Mask R-CNN")
    writer = chat.emu.add_user("Author", "author", user_id=101)
    await chat.say(writer, "/start")  # authors have a chat with the bot: approvals reach them
    async with db.transaction() as session:
        author = await ensure_user(session, writer.id, display_name="Author")
        await submit_summary(session, author, paper.id, BODY, moderated=False, channels=())
        await submit_summary(session, author, other.id, BODY, moderated=True, channels=())
    users = [chat.mod, chat.emu.add_user("Ada", "ada"), chat.emu.add_user("Bob", "bob")]
    for user in users:
        await chat.say(user, "/start")
    return users


def _in_loop(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=120)


async def _fuzz(
    db: Database, catalog: Catalog, caplog: pytest.LogCaptureFixture, strategy: Any
) -> Stats:
    caplog.set_level(logging.INFO)
    settings = settings_for(db, admins=frozenset({MODERATOR_ID}))
    async with bot_session(
        db, catalog, settings, limiter=RateLimiter(UNLIMITED), telegram_rate_limit=False
    ) as chat:
        users = await _world(chat, db)
        player = Player(chat, db, users, caplog)
        loop = asyncio.get_running_loop()

        @profile()
        @given(user=st.sampled_from(users), plan=st.lists(strategy, min_size=1, max_size=4))
        def example(user: User, plan: list[Step]) -> None:
            for step in plan:
                _in_loop(loop, player.play(user, step))

        await asyncio.to_thread(example)
    logging.getLogger(__name__).info("fuzz: %s", player.stats)
    print(f"fuzz stats: {player.stats}")
    return player.stats


async def test_fuzzed_messages_and_commands(
    db: Database, catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    stats = await _fuzz(db, catalog, caplog, st.one_of(texts.map(Say), commands.map(Say)))
    assert stats.steps > 0


async def test_fuzzed_buttons_and_files(
    db: Database, catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    stats = await _fuzz(
        db,
        catalog,
        caplog,
        st.one_of(
            callback_data.map(Press), st.builds(Upload, file_names, file_bodies), commands.map(Say)
        ),
    )
    assert stats.steps > 0


async def test_fuzzed_everything_mixed(
    db: Database, catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    stats = await _fuzz(db, catalog, caplog, steps)
    assert stats.steps > 0


# -- bugs found by fuzzing, pinned (strict: each turns red the day it is fixed) ---------------


async def test_fixed_bug_unicode_digits_in_ids(db: Database, catalog: Catalog) -> None:
    async with bot_session(db, catalog, settings_for(db, admins=frozenset({MODERATOR_ID}))) as chat:
        ada = chat.emu.add_user("Ada", "ada")
        for text in ("/edit ²", "/delete ²", "/start s_²", "/start p_²"):
            [shown] = await chat.say(ada, text)
            assert "something went wrong" not in (shown.text or ""), text
        for text in ("/ban ²", "/unban ²"):
            [shown] = await chat.say(chat.mod, text)
            assert "something went wrong" not in (shown.text or ""), text


async def test_fixed_bug_ids_beyond_the_integer_range(db: Database, catalog: Catalog) -> None:
    async with bot_session(db, catalog, settings_for(db, admins=frozenset({MODERATOR_ID}))) as chat:
        ada = chat.emu.add_user("Ada", "ada")
        for text in ("/edit 99999999999999999999", "/start s_99999999999999999999"):
            [shown] = await chat.say(ada, text)
            assert "something went wrong" not in (shown.text or ""), text


async def test_fixed_bug_callback_ids_beyond_int32_on_postgresql(
    db: Database, catalog: Catalog
) -> None:
    if db.dialect == "sqlite":
        pytest.skip("SQLite integers are 64-bit")
    async with bot_session(db, catalog, settings_for(db, admins=frozenset({MODERATOR_ID}))) as chat:
        ada = chat.emu.add_user("Ada", "ada")
        shown = await chat.say(ada, "/start")
        answer, _ = await chat.press_data(ada, shown[-1], "os:2147483648", forge=True)
        assert answer == "This button is no longer valid. Send /help to start again."


async def test_fixed_bug_nul_characters_on_postgresql(db: Database, catalog: Catalog) -> None:
    if db.dialect == "sqlite":
        pytest.skip("SQLite stores NUL characters")
    _, ref = await new_paper(db, "A paper to draft about")
    async with bot_session(db, catalog, settings_for(db, admins=frozenset({MODERATOR_ID}))) as chat:
        ada = chat.emu.add_user("Ada", "ada")
        [looked_up] = await chat.say(ada, "https://doi.org/10.1000/xyz\x00")
        await chat.say(ada, f"/submit {ref}")
        [saved] = await chat.say(ada, "First part\x00 of my summary")
        chat.emu.calls.clear()
        for shown in (looked_up, saved):
            assert "something went wrong" not in (shown.text or "")


async def test_fixed_bug_long_reference_is_echoed_past_telegrams_limit(
    db: Database, catalog: Catalog
) -> None:
    async with bot_session(db, catalog, settings_for(db, admins=frozenset({MODERATOR_ID}))) as chat:
        ada = chat.emu.add_user("Ada", "ada")
        text = "https://doi.org/10.1000/" + "x" * 4000
        assert utf16_len(text) <= 4096, "a message Telegram delivers"
        [shown] = await chat.say(ada, text)
        failed = chat.emu.errors
        chat.emu.calls.clear()  # so the session's own check does not fail the teardown
        assert failed == [] and "something went wrong" not in (shown.text or "")


async def test_fixed_bug_next_summary_pressed_twice(db: Database, catalog: Catalog) -> None:
    paper, ref = await new_paper(db, "A paper with four summaries")
    async with db.transaction() as session:
        for author_id in (201, 202, 203, 204):
            author = await ensure_user(session, author_id, display_name=f"Author {author_id}")
            await submit_summary(session, author, paper.id, BODY, moderated=False, channels=())
    async with bot_session(db, catalog, settings_for(db, admins=frozenset({MODERATOR_ID}))) as chat:
        ada = chat.emu.add_user("Ada", "ada")
        [more] = await chat.say(ada, f"/paper {ref}")
        data = next(d for d in more.callback_data if d.startswith("pg:"))
        first = chat.emu.press_button(ada, more, data)
        second = chat.emu.press_button(ada, more, data)  # the double tap
        await chat.emu.wait_for_callback_answer(first)
        await chat.emu.wait_for_callback_answer(second)
        await chat.settle()
        assert chat.emu.errors == [], "the second press finds the page shown: no edit is sent"
        assert "2 of 4" in (more.text or "") and len(more.history) == 1
        chat.emu.calls.clear()  # so the session's own check does not fail the teardown


async def test_fixed_bug_votes_pressed_in_a_row_show_the_final_score(
    db: Database, catalog: Catalog
) -> None:
    """Each press carries the message as it was before the others' edits (a quick 👍, 👍)."""
    paper, ref = await new_paper(db, "A paper with one summary")
    async with db.transaction() as session:
        author = await ensure_user(session, 201, display_name="Author 201")
        await submit_summary(session, author, paper.id, BODY, moderated=False, channels=())
    async with bot_session(db, catalog, settings_for(db, admins=frozenset({MODERATOR_ID}))) as chat:
        ada = chat.emu.add_user("Ada", "ada")
        [view] = await chat.say(ada, f"/paper {ref}")
        up = next(d for d in view.callback_data if d.startswith("v:") and d.endswith(":1"))
        presses = [chat.emu.press_button(ada, view, up) for _ in range(3)]  # vote, undo, vote
        for press in presses:
            await chat.emu.wait_for_callback_answer(press)
        await chat.settle()
        assert chat.emu.errors == [], "no edit Telegram would refuse"
        assert view.buttons[0][0].text == "👍 +1", "the last press's score is shown"
        presses = [chat.emu.press_button(ada, view, up) for _ in range(2)]  # undo, vote
        presses.append(chat.emu.press_button(ada, view, up))  # and undo again
        for press in presses:
            await chat.emu.wait_for_callback_answer(press)
        await chat.settle()
        assert chat.emu.errors == []
        assert view.buttons[0][0].text == "👍", "withdrawn: no score shown"
        chat.emu.calls.clear()  # so the session's own check does not fail the teardown


async def test_fixed_bug_first_page_pressed_on_a_card_just_sent(
    db: Database, catalog: Catalog
) -> None:
    """A forged "page 1" on a card the bot sent (never edited): it shows that page already."""
    paper, ref = await new_paper(db, "A paper with two summaries")
    async with db.transaction() as session:
        for author_id in (201, 202):
            author = await ensure_user(session, author_id, display_name=f"Author {author_id}")
            await submit_summary(session, author, paper.id, BODY, moderated=False, channels=())
    async with bot_session(db, catalog, settings_for(db, admins=frozenset({MODERATOR_ID}))) as chat:
        ada = chat.emu.add_user("Ada", "ada")
        [card] = await chat.say(ada, f"/paper {ref}")
        shown = (card.text, card.callback_data)
        await chat.press_data(ada, card, f"pg:{paper.id}:0", forge=True)
        assert chat.emu.errors == [], "no edit that changes nothing"
        assert (card.text, card.callback_data) == shown and len(card.history) == 0
        # a page the card does not show is still turned to
        await chat.press_data(ada, card, f"pg:{paper.id}:1", forge=True)
        assert "2 of 2" in (card.text or "") and chat.emu.errors == []
