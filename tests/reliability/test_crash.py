"""Crashes: the bot and the publisher SIGKILLed at random moments, restarted, and checked.

Bot: ``shortsci bot`` runs as its own process against the Bot API emulator (in this test
process) and a SQLite file. Users write summaries in parts, preview and submit them, while
the process is killed and restarted. Like people, a user whose message got no answer sends
it again once the bot is back. Afterwards: every summary the bot confirmed ("Thank you!
Summary #N") is in the database with its full text, every part the bot confirmed
("Saved (") is in it, and no summary holds anything but whole parts the user sent.

Publisher: ``shortsci publish --once`` runs against the platforms' fakes and is killed at
random moments, some of them while a platform has made the post but not yet answered
(between the platform's success and our commit). Afterwards: nothing is posted twice, and
every publication is posted or waits for a moderator with its reason.

The fast versions run in the normal suite; the issue's sizes (500 submissions from 50
users, 300 publications) run with ``SHORTSCI_SOAK=1``.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.emulator import BotApiEmulator, Message, User
from storage.db import Database
from storage.models import Publication, PublicationState, Summary
from storage.summaries import submit_summary
from storage.users import ensure_user
from tests.bot.harness import BOT_USERNAME, TOKEN
from tests.fakes._server import FakeServer, Fault
from tests.fakes.arxiv import FakeArxiv
from tests.paths import DATA
from tests.publisher.platforms import Platforms, platforms
from tests.reliability.support import BODY, new_paper

REPO = DATA.parents[1]
SHORTSCI = [sys.executable, "-c", "import sys, cli; sys.exit(cli.main(sys.argv[1:]))"]
CHANNELS = ("x", "facebook", "mastodon", "bluesky", "atom")


def _seed() -> int:
    seed = int(os.environ.get("SHORTSCI_CRASH_SEED", random.randrange(10**6)))
    print(f"crash seed: SHORTSCI_CRASH_SEED={seed}")
    return seed


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHORTSCI_")}
    return env | {"SHORTSCI_LOG_LEVEL": "WARNING"} | extra


# -- the bot ----------------------------------------------------------------------------------


class BotProcess:
    """``shortsci bot`` as a child process that can be killed and started again."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: asyncio.subprocess.Process | None = None
        self.started_at = 0.0
        self.kills = 0

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                *SHORTSCI, "bot", cwd=REPO, env=self.env, stdout=out, stderr=out
            )
        self.started_at = time.monotonic()

    async def kill(self) -> None:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            self.kills += 1
        await self.process.wait()

    async def stop(self) -> None:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                await self.kill()

    @property
    def settled(self) -> bool:
        """Alive for a while: whatever it fetched before has been handled by now."""
        alive = self.process is not None and self.process.returncode is None
        return alive and time.monotonic() - self.started_at > 2.5


@dataclass
class Tally:
    """What the users were told, and what they sent."""

    confirmed: dict[int, tuple[int, int]] = field(default_factory=dict)  # summary: user, paper
    saved: list[tuple[int, int, str]] = field(default_factory=list)  # user, paper, part
    sent: dict[tuple[int, int], set[str]] = field(default_factory=dict)  # parts per submission
    present_unconfirmed: int = 0
    resent: int = 0
    throttled: int = 0


@dataclass
class Writer:
    """One user writing summaries the way people do: wait for the answer, else resend."""

    emu: BotApiEmulator
    bot: BotProcess
    user: User
    tally: Tally
    pace: float = 0.0

    def _messages(self) -> list[Message]:
        return self.emu.messages(self.user) if self.emu.world.chats.get(self.user.id) else []

    async def _wait(self, before: int, want: Callable[[str], bool]) -> Message | None:
        """The first new message `want`s, or None once the bot has surely dropped the update."""
        deadline = time.monotonic() + 90
        last_count, quiet_since = -1, time.monotonic()
        while True:
            if time.monotonic() > deadline:
                seen = [m.text for m in self._messages()[before:]]
                raise AssertionError(f"user {self.user.id} stuck; the bot said {seen}")
            for message in self._messages()[before:]:
                text = message.text or ""
                if want(text):
                    return message
                if match := re.search(r"try again in (\d+) s", text):
                    self.tally.throttled += 1
                    await asyncio.sleep(int(match.group(1)) + 0.5)
                    return None
            count = len(self._messages())
            if count != last_count:
                last_count, quiet_since = count, time.monotonic()
            idle = time.monotonic() - quiet_since > 1.0
            if idle and self.bot.settled and not self.emu.pending_updates:
                return None  # the update was fetched, then the bot died before answering
            await asyncio.sleep(0.05)

    async def quiesce(self) -> None:
        """Let late answers to a resent message arrive before the next one is sent."""
        while not (self.bot.settled and not self.emu.pending_updates):
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)

    async def ask(self, text: str, want: Callable[[str], bool]) -> Message:
        for attempt in range(30):
            await asyncio.sleep(self.pace)  # a person types; 40 updates a minute is the limit
            before = len(self._messages())
            self.emu.send_text(self.user, text)
            reply = await self._wait(before, want)
            if reply is not None:
                if attempt:
                    await self.quiesce()
                return reply
            self.tally.resent += 1
        seen = [m.text for m in self._messages()[-4:]]
        raise AssertionError(f"{self.user.id} got no answer to {text[:40]!r}; last: {seen}")

    async def submit(self, paper: int, ref: str, parts: list[str]) -> None:
        tally = self.tally
        opened = await self.ask(
            f"/submit {ref}",
            lambda t: "Send your summary now" in t or "You already wrote a summary" in t,
        )
        if "You already wrote" in (opened.text or ""):
            tally.present_unconfirmed += 1
            return
        tally.sent.setdefault((self.user.id, paper), set())
        for part in parts:
            tally.sent[(self.user.id, paper)].add(part)
            await self.ask(part, lambda t: t.startswith("Saved ("))
            tally.saved.append((self.user.id, paper, part))
        for _ in range(30):
            question = await self.ask(
                "/done",
                lambda t: t == "Submit this summary?" or t.startswith("There is no draft"),
            )
            if (question.text or "").startswith("There is no draft"):
                # Submitted by an earlier press whose "Thank you" the kill swallowed, or lost.
                again = await self.ask(
                    f"/submit {ref}", lambda t: "already wrote" in t or "Send your summary" in t
                )
                assert "already wrote" in (again.text or ""), f"{self.user.id}'s draft is lost"
                tally.present_unconfirmed += 1
                return
            before = len(self._messages())
            query = self.emu.press_button(self.user, question, "ds:0", forge=True)
            thanks = await self._wait(before, lambda t: t.startswith("Thank you! Summary #"))
            if thanks is not None:
                number = int((thanks.text or "").split("#")[1].split()[0])
                tally.confirmed[number] = (self.user.id, paper)
                return
            answers = [a.text for a in self.emu.callback_answers if a.query_id == query]
            if answers and answers[0] and "no longer current" in answers[0]:
                again = await self.ask(f"/submit {ref}", lambda t: "already wrote" in t)
                assert "already wrote" in (again.text or "")
                tally.present_unconfirmed += 1
                return
            tally.resent += 1
        raise AssertionError(f"{self.user.id} could not submit paper {paper}")


def _parts(rng: random.Random, user: int, paper: int) -> list[str]:
    """Two to four whole parts, each unique, together over the 200-character minimum."""
    words = BODY.split()
    return [
        f"[u{user} p{paper} part {n}] " + " ".join(rng.sample(words, rng.randint(22, 34)))
        for n in range(rng.randint(2, 4))
    ]


async def _bot_crash(tmp_path: Path, users: int, each: int, kills: int, pace: float = 0.0) -> Tally:
    rng = random.Random(_seed())
    path = tmp_path / "shortsci.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.upgrade()
    refs = [await new_paper(db, f"Crash study paper {n}") for n in range(each)]
    await db.dispose()
    tally = Tally()
    with FakeArxiv() as arxiv:
        async with BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as emu:
            env = _env(
                {
                    "SHORTSCI_TELEGRAM_TOKEN": TOKEN,
                    "SHORTSCI_TELEGRAM_API_URL": emu.base_url,
                    "SHORTSCI_DATABASE_URL": f"sqlite:///{path}",
                    "SHORTSCI_ARXIV_API_URL": arxiv.url,
                }
            )
            bot = BotProcess(env, tmp_path / "bot.log")
            await bot.start()
            people = [emu.add_user(f"U{n}", f"u{n}") for n in range(users)]

            async def write(user: User) -> None:
                writer = Writer(emu, bot, user, tally, pace)
                for paper, ref in refs:
                    await writer.submit(paper.id, ref, _parts(rng, user.id, paper.id))

            async def killer() -> None:
                for _ in range(kills):
                    await asyncio.sleep(rng.uniform(0.5, 4.0))
                    await bot.kill()
                    await asyncio.sleep(rng.uniform(0.0, 0.5))
                    await bot.start()

            try:
                await asyncio.gather(killer(), *(write(u) for u in people))
            finally:
                await bot.stop()
            assert emu.errors == [], emu.errors

    db = Database(f"sqlite+aiosqlite:///{path}")
    async with db.sessions() as session:
        stored = {s.id: s for s in (await session.scalars(select(Summary))).all()}
    await db.dispose()
    for number, (user, paper) in tally.confirmed.items():
        summary = stored.get(number)
        assert summary is not None, f"confirmed summary #{number} is not in the database"
        assert (summary.author_id, summary.paper_id) == (user, paper)
    by_submission = {(s.author_id, s.paper_id): s for s in stored.values()}
    for (user, paper), sent in tally.sent.items():
        summary = by_submission.get((user, paper))
        if summary is None:
            continue
        pieces = summary.body.split("\n\n")
        assert set(pieces) <= sent, f"summary #{summary.id} holds text never sent whole"
    for user, paper, part in tally.saved:
        summary = by_submission.get((user, paper))
        assert summary is not None and part in summary.body.split("\n\n"), (user, paper, part)
    assert len(stored) == users * each, "every submission ended in the database"
    print(
        f"bot crash: {users} users x {each} submissions, {bot.kills} kills; "
        f"{len(tally.confirmed)} confirmed and all stored; {tally.present_unconfirmed} stored "
        f"but unconfirmed; {len(tally.saved)} confirmed parts all kept; {tally.resent} resent, "
        f"{tally.throttled} throttled; {len(stored)} summaries, 0 half-written"
    )
    return tally


async def test_bot_killed_at_random_loses_nothing_it_confirmed(tmp_path: Path) -> None:
    await _bot_crash(tmp_path, users=10, each=4, kills=3)


@pytest.mark.soak
async def test_soak_bot_killed_at_random(tmp_path: Path) -> None:
    await _bot_crash(tmp_path, users=50, each=10, kills=25, pace=1.6)


# -- the publisher ----------------------------------------------------------------------------

POST_ROUTES = {
    "x": "POST /2/tweets",
    "facebook": "POST /v21.0/",
    "mastodon": "POST /api/v1/statuses",
    "bluesky": "POST /xrpc/com.atproto.repo.createRecord",
}


def _made(fakes: Platforms, network: str) -> int:
    return {
        "x": len(fakes.x.tweets),
        "facebook": len(fakes.facebook.posts),
        "mastodon": len(fakes.mastodon.statuses),
        "bluesky": len(fakes.bluesky.posts),
    }[network]


def _fake(fakes: Platforms, network: str) -> FakeServer:
    server: FakeServer = getattr(fakes, network)
    return server


async def _approve(url: str, count: int) -> list[int]:
    db = Database(url)
    await db.upgrade()
    ids = []
    for n in range(count):
        paper, _ = await new_paper(db, f"Publisher crash study {n}")
        async with db.transaction() as session:
            author = await ensure_user(session, 7, display_name="Seed Author")
            summary = await submit_summary(
                session, author, paper.id, f"{BODY} ({n})", moderated=False, channels=CHANNELS
            )
            ids.append(summary.id)
    await db.dispose()
    return ids


async def _publications(url: str) -> list[Publication]:
    db = Database(url)
    async with db.sessions() as session:
        rows = list((await session.scalars(select(Publication))).all())
    await db.dispose()
    return rows


def _publisher_crash(tmp_path: Path, summaries: int, kills: int) -> None:
    rng = random.Random(_seed())
    path = tmp_path / "shortsci.db"
    ids = asyncio.run(_approve(f"sqlite+aiosqlite:///{path}", summaries))
    with platforms(tmp_path) as fakes:
        env = _env(
            fakes.env()
            | {
                "SHORTSCI_DATABASE_URL": f"sqlite:///{path}",
                "SHORTSCI_PUBLISH_LEASE_SECONDS": "1",
                "SHORTSCI_DAILY_CAPS": '{"x": 1000}',  # a paid tier: X's free 17 a day is less
            }
        )
        in_window = 0
        for kill in range(kills):
            process = subprocess.Popen(
                [*SHORTSCI, "publish", "--once"],
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if kill == 0 or rng.random() < 0.6:  # kill while the platform holds a post it made
                network = rng.choice(list(POST_ROUTES))
                skip = rng.randint(0, 3)
                target = _made(fakes, network) + skip + 1
                _fake(fakes, network).inject(Fault(POST_ROUTES[network], delay=60, skip=skip))
                deadline = time.monotonic() + 20
                while _made(fakes, network) < target and time.monotonic() < deadline:
                    if process.poll() is not None:
                        break
                    time.sleep(0.01)
                in_window += _made(fakes, network) >= target and process.poll() is None
            else:
                time.sleep(rng.uniform(0.5, 3.0))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=20)
            for network in POST_ROUTES:
                _fake(fakes, network).faults.clear()
            time.sleep(1.1)  # the dead publisher's leases run out
        for _ in range(12):
            done = subprocess.run(
                [*SHORTSCI, "publish", "--once"],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            rows = asyncio.run(_publications(f"sqlite+aiosqlite:///{path}"))
            if all(
                r.state
                in (PublicationState.POSTED, PublicationState.REVIEW, PublicationState.FAILED)
                for r in rows
            ):
                break
        duplicates = review = posted = 0
        for row in rows:
            seen = fakes.counts(f"https://shortsci.example.org/s/{row.summary_id}")[row.channel]
            duplicates += max(seen - 1, 0)
            if row.state is PublicationState.POSTED:
                posted += 1
                assert seen == 1 or (row.channel == "atom" and summaries > 50), row.summary_id
            else:
                review += 1
                assert row.state in (PublicationState.REVIEW, PublicationState.FAILED), (
                    row.id,
                    row.channel,
                    row.state,
                    row.last_error,
                    row.next_attempt_at,
                )
                assert row.last_error, f"publication {row.id} waits without a reason"
        assert duplicates == 0
        assert len(rows) == len(ids) * len(CHANNELS)
    print(
        f"publisher crash: {len(rows)} publications, {kills} kills ({in_window} between the "
        f"platform's success and our commit); {posted} posted, {review} for review, "
        f"0 duplicates, 0 lost"
    )


def test_publisher_killed_at_random_posts_nothing_twice(tmp_path: Path) -> None:
    _publisher_crash(tmp_path, summaries=12, kills=3)


@pytest.mark.soak
def test_soak_publisher_killed_at_random(tmp_path: Path) -> None:
    _publisher_crash(tmp_path, summaries=60, kills=30)
