"""Concurrency: publishers side by side on PostgreSQL, and fifty users at once on SQLite.

- Two and four ``shortsci publish --once`` processes at the same moment, on one PostgreSQL
  database, against the platforms' fakes: every summary is posted exactly once on every
  platform, and every publication ends posted.
- Fifty users submitting and voting at the same time through the real bot on SQLite: no
  user is ever told "database is locked" or "something went wrong", and nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bot.emulator import Message, User
from publisher.channels.atom import AtomChannel
from publisher.channels.base import Post
from storage.catalog.service import Catalog
from storage.channels import channel_state
from storage.db import Database
from storage.models import Base, Publication, Summary, Vote
from storage.summaries import submit_summary
from storage.users import ensure_user
from tests.bot.harness import Chat
from tests.paths import DATA
from tests.publisher.platforms import platforms
from tests.reliability.support import BODY, bot_session, new_paper, settings_for

REPO = DATA.parents[1]
CHANNELS = ("x", "facebook", "mastodon", "bluesky", "atom")
NETWORKS = ("x", "facebook", "mastodon", "bluesky")


async def _seed(url: str, count: int, *, truncate: bool) -> list[int]:
    """`count` approved summaries, each due on every channel."""
    db = Database(url)
    if truncate:
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with db.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    else:
        await db.upgrade()
    ids = []  # no channel_states rows: the publishers create them together, race-free
    for n in range(count):
        paper, _ = await new_paper(db, f"Concurrent publishing study number {n}")
        async with db.transaction() as session:
            author = await ensure_user(session, 7, display_name="Seed Author")
            summary = await submit_summary(
                session, author, paper.id, f"{BODY} ({n})", moderated=False, channels=CHANNELS
            )
            ids.append(summary.id)
    await db.dispose()
    return ids


async def _states(url: str) -> dict[str, int]:
    db = Database(url)
    async with db.sessions() as session:
        rows = await session.execute(
            select(Publication.state, func.count()).group_by(Publication.state)
        )
        states = {state.value: count for state, count in rows.tuples()}
    await db.dispose()
    return states


def _publish(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, cli; sys.exit(cli.main(sys.argv[1:]))",
            "publish",
            "--once",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("publishers", [2, 4])
def test_publishers_side_by_side_post_each_summary_once(
    postgres_url: str, tmp_path: Path, publishers: int
) -> None:
    ids = asyncio.run(_seed(postgres_url, 12, truncate=True))
    sync_url = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    with platforms(tmp_path) as fakes:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHORTSCI_")}
        env |= fakes.env() | {"SHORTSCI_DATABASE_URL": sync_url, "SHORTSCI_LOG_LEVEL": "WARNING"}
        for _ in range(4):  # a batch is ten per channel: a few rounds empty the queue
            running = [_publish(env) for _ in range(publishers)]
            for process in running:
                _out, err = process.communicate(timeout=120)
                assert process.returncode == 0, err
            states = asyncio.run(_states(postgres_url))
            if states == {"posted": len(ids) * len(CHANNELS)}:
                break
        assert states == {"posted": len(ids) * len(CHANNELS)}, states
        for summary_id in ids:
            counts = fakes.counts(f"https://shortsci.example.org/s/{summary_id}")
            assert {n: counts[n] for n in NETWORKS} == dict.fromkeys(NETWORKS, 1), summary_id
            # The feed file is shared by the processes, under a lock file: exactly once too.
            assert counts["atom"] == 1, summary_id
        posts = len(fakes.x.tweets) + len(fakes.facebook.posts)
        posts += len(fakes.mastodon.statuses) + len(fakes.bluesky.posts)
        assert posts == len(ids) * len(NETWORKS), "no post was made twice"
        print(f"{publishers} publishers: {len(ids) * len(CHANNELS)} publications, 0 duplicates")


async def test_fixed_bug_channel_state_first_use_race(postgres_url: str) -> None:
    first, second = Database(postgres_url), Database(postgres_url)
    try:
        async with first.engine.begin() as conn:
            await conn.execute(text("DELETE FROM channel_states WHERE channel = 'race'"))
        holding = asyncio.Event()

        async def one() -> None:
            async with first.transaction() as session:
                await channel_state(session, "race")
                holding.set()
                await asyncio.sleep(0.3)  # the other publisher now waits on our new row

        async def other() -> None:
            await holding.wait()
            async with second.transaction() as session:
                await channel_state(session, "race")

        await asyncio.gather(one(), other())
    finally:
        await first.dispose()
        await second.dispose()


async def test_fixed_bug_atom_feed_shared_by_two_publishers(tmp_path: Path) -> None:
    first = AtomChannel(path=tmp_path / "feed.xml")
    second = AtomChannel(path=tmp_path / "feed.xml")
    posts = [
        Post(n, n, "text", f"https://shortsci.example.org/s/{n}", f"Title {n}", "<p>x</p>")
        for n in range(10, 40)
    ]
    await asyncio.gather(*((first if p.summary_id % 2 else second).publish(p) for p in posts))
    missing = [p.summary_id for p in posts if await first.find_existing(p) is None]
    assert missing == []


# -- fifty users at once on SQLite --------------------------------------------------------------

USERS = 50
BAD = ("database is locked", "something went wrong", "Something went wrong")


async def _reply(chat: Chat, user: User, count_before: int, words: str) -> Message:
    """Wait for the bot's message to `user` containing `words` (sent after `count_before`)."""

    def found() -> Message | None:
        return next(
            (m for m in chat.emu.messages(user)[count_before:] if words in (m.text or "")), None
        )

    await chat.emu.wait_until(lambda: found() is not None, 30.0, f"{words!r} for {user.id}")
    message = found()
    assert message is not None
    return message


async def _send(chat: Chat, user: User, text_: str, words: str) -> Message:
    before = len(chat.emu.messages(user)) if chat.emu.world.chats.get(user.id) else 0
    chat.emu.send_text(user, text_)
    return await _reply(chat, user, before, words)


async def _press(chat: Chat, user: User, message: Message, data: str) -> str | None:
    query = chat.emu.press_button(user, message, data, forge=True)
    return (await chat.emu.wait_for_callback_answer(query, timeout=30.0)).text


async def _write_and_vote(
    chat: Chat, user: User, ref: str, start: asyncio.Event, done: list[int], rng: random.Random
) -> int:
    await start.wait()
    await _send(chat, user, f"/submit {ref}", "Send your summary now")
    await _send(chat, user, f"{BODY} Written by {user.first_name}.", "Saved (")
    question = await _send(chat, user, "/done", "Submit this summary?")
    before = len(chat.emu.messages(user))
    assert await _press(chat, user, question, question.callback_data[0]) == "Saved"
    thanks = await _reply(chat, user, before, "Thank you! Summary #")
    mine = int((thanks.text or "").split("#")[1].split()[0])
    done.append(mine)
    votes = 0
    while len(done) < USERS:  # everyone writes first, then votes on what is there
        await asyncio.sleep(0.01)
    for summary_id in rng.sample([s for s in done if s != mine], 4):
        shown = await _send(chat, user, f"/start s_{summary_id}", "This paper shows")
        answer = await _press(chat, user, shown, f"v:{summary_id}:1")
        if answer == "👍 Thanks for your vote":
            votes += 1
        else:
            assert answer == "You cannot vote on your own summary.", answer
    return votes


async def test_fifty_users_write_and_vote_at_once_on_sqlite(
    tmp_path: Path, catalog: Catalog, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    if db.dialect != "sqlite":
        pytest.skip("the SQLite run; PostgreSQL has row locks")
    caplog.set_level(logging.INFO)
    rng = random.Random(7)
    refs = [(await new_paper(db, f"Crowded paper number {n}"))[1] for n in range(USERS)]
    settings = settings_for(db, admins=frozenset())
    async with bot_session(db, catalog, settings, telegram_rate_limit=False) as chat:
        users = [chat.emu.add_user(f"U{n}", f"u{n}") for n in range(USERS)]
        start, done = asyncio.Event(), list[int]()
        tasks = [
            asyncio.create_task(_write_and_vote(chat, u, r, start, done, rng))
            for u, r in zip(users, refs, strict=True)
        ]
        start.set()
        votes = sum(await asyncio.gather(*tasks))
        await chat.settle()
        for user in users:
            for message in chat.emu.messages(user):
                assert not any(bad in (message.text or "") for bad in BAD), message.text
        answers = [a.text or "" for a in chat.emu.callback_answers]
        assert not any(bad in a for a in answers for bad in BAD)
    assert "database is locked" not in caplog.text
    assert "unhandled error for update" not in caplog.text
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Summary)) == USERS
        assert await session.scalar(select(func.count()).select_from(Vote)) == votes
    assert votes == USERS * 4
    print(f"50 users: {USERS} summaries, {votes} votes, 0 locked")
