"""Who may do what: every chat command and every button, for each kind of user.

One table (`EXPECTED`) says, for member, author, moderator, banned user and stranger, what
each command in `bot.app.COMMANDS` and each button `Action` does. Every cell runs against
one real bot (through the Bot API emulator) on a fresh little world of its own: a paper with
an approved summary by the author, a pending one, a publication waiting for review, a paused
channel. The test asserts what the user sees and, when refused, that no table changed.

Also here: per-user rate limits, and secrets never reaching logs or error texts.
"""

from __future__ import annotations

import io
import itertools
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.app import BUTTONS, COMMANDS
from bot.callbacks import Action
from bot.emulator import Message, User
from bot.ratelimit import Limit, RateLimiter
from config import Settings, configure_logging
from publisher.channels import build_channels
from publisher.dispatcher import Dispatcher
from publisher.service import link_maker
from storage.browse import venue_key
from storage.catalog.arxiv_source import ArxivSource
from storage.catalog.service import Catalog
from storage.channels import pause_channel
from storage.db import Database
from storage.drafts import drop_draft, start_draft
from storage.models import DraftKind, Publication, PublicationState
from storage.publications import (
    AttemptResult,
    Outcome,
    begin_attempt,
    claim_due,
    enqueue_publications,
    record_outcome,
)
from storage.summaries import submit_summary
from storage.users import ensure_user, set_banned
from tests.bot.harness import BOT_USERNAME, MODERATOR_ID, TOKEN, Chat
from tests.fakes import bluesky_api, facebook_api, mastodon_api, x_api
from tests.fakes.arxiv import FakeArxiv
from tests.paths import DATA
from tests.publisher.platforms import platforms
from tests.reliability.support import (
    BODY,
    UNLIMITED,
    bot_session,
    new_paper,
    snapshot,
    text_of,
)

REPO = DATA.parents[1]
ROLES = ("member", "author", "moderator", "banned", "stranger")
X_KEYS = {
    "x_consumer_key": x_api.CONSUMER_KEY,
    "x_consumer_secret": x_api.CONSUMER_SECRET,
    "x_access_token": x_api.ACCESS_TOKEN,
    "x_access_token_secret": x_api.ACCESS_TOKEN_SECRET,
    "x_api_url": "http://127.0.0.1:9",  # never called: the bot only enqueues for X
}


class Seen(Enum):
    """What a user sees, in kind; the exact words are in `refusal` and `ALLOWED`."""

    ALLOWED = "allowed"
    BANNED = "banned"
    MODERATORS_ONLY = "moderators only"
    AUTHOR_ONLY = "author or moderator only"
    OWN_VOTE = "not on one's own summary"
    NOT_PUBLISHED = "not published"
    NOTHING_TO_DO = "nothing to act on"


A, B, M, W, P, N, Z = (
    Seen.ALLOWED,
    Seen.BANNED,
    Seen.MODERATORS_ONLY,
    Seen.AUTHOR_ONLY,
    Seen.OWN_VOTE,
    Seen.NOT_PUBLISHED,
    Seen.NOTHING_TO_DO,
)

#: The table: what each command or button does for member, author, moderator, banned user and
#: stranger. A allowed, B banned, M moderators only, W writer (author) or moderator only, P not
#: on one's own summary, N not published, Z nothing to act on.
EXPECTED: dict[str, tuple[Seen, Seen, Seen, Seen, Seen]] = {
    "/start": (A, A, A, B, A),
    "/help": (A, A, A, B, A),
    "/paper": (A, A, A, B, A),
    "/search": (A, A, A, B, A),
    "/latest": (A, A, A, B, A),
    "/submit": (A, A, A, B, A),
    "/done": (A, A, A, B, Z),
    "/cancel": (A, A, A, B, Z),
    "/mine": (A, A, A, B, A),
    "/edit": (W, A, A, B, W),
    "/delete": (W, A, A, B, W),
    "/queue": (M, M, A, B, M),
    "/ban": (M, M, A, B, M),
    "/unban": (M, M, A, B, M),
    "/status": (M, M, A, B, M),
    "/review": (M, M, A, B, M),
    "/resume": (M, M, A, B, M),
    "/browse": (A, A, A, B, A),
    "/addpaper": (M, M, A, B, M),
    Action.VOTE: (A, P, A, B, A),
    Action.PAGE: (A, A, A, B, A),
    Action.LATEST: (A, A, A, B, A),
    Action.OPEN_PAPER: (A, A, A, B, A),
    Action.OPEN_SUMMARY: (N, A, A, B, N),
    Action.SUBMIT: (A, A, A, B, A),
    Action.DRAFT_SUBMIT: (A, A, A, B, Z),
    Action.DRAFT_EDIT: (A, A, A, B, Z),
    Action.DRAFT_CANCEL: (A, A, A, B, Z),
    Action.EDIT: (W, A, A, B, W),
    Action.DELETE: (W, A, A, B, W),
    Action.KEEP: (A, A, A, B, A),
    Action.APPROVE: (M, M, A, B, M),
    Action.REJECT: (M, M, A, B, M),
    Action.MARK_POSTED: (M, M, A, B, M),
    Action.POST_AGAIN: (M, M, A, B, M),
    Action.PICK: (Z, Z, Z, B, Z),  # no Crossref list was offered: nothing to pick from
    Action.ADD_PAPER: (M, M, Z, B, M),  # no finished /addpaper form
    Action.BROWSE: (A, A, A, B, A),
    Action.VENUES: (A, A, A, B, A),
}

#: Actions that change the database when allowed (the others only show something).
CHANGES = {
    "/submit",
    "/cancel",
    "/edit",
    "/ban",
    "/unban",
    "/resume",
    "/addpaper",
    Action.VOTE,
    Action.SUBMIT,
    Action.DRAFT_SUBMIT,
    Action.DRAFT_EDIT,
    Action.DRAFT_CANCEL,
    Action.EDIT,
    Action.DELETE,
    Action.APPROVE,
    Action.REJECT,
    Action.MARK_POSTED,
    Action.POST_AGAIN,
}

#: Actions that need the actor to have a draft with text in it.
NEEDS_DRAFT = {"/done", "/cancel", Action.DRAFT_SUBMIT, Action.DRAFT_EDIT, Action.DRAFT_CANCEL}


def test_the_table_covers_every_command_and_button() -> None:
    commands = {f"/{name}" for name, _, _ in COMMANDS}
    assert {k for k in EXPECTED if isinstance(k, str) and k.startswith("/")} == commands
    assert {k for k in EXPECTED if isinstance(k, Action)} == set(BUTTONS)


@dataclass
class Scene:
    """A cell's own world: ids the command or button names."""

    author: User
    paper_ref: str  # arXiv id of the paper with the approved summary
    paper_id: int
    title_words: str
    venue_key: str
    fresh_ref: str  # a paper without summaries
    fresh_id: int
    approved: int  # summary ids
    pending: int
    review: int  # a publication waiting for a moderator's decision
    victim: int  # a member to ban
    banned_victim: int  # a banned member to unban


@dataclass
class Bench:
    """The one bot every cell talks to, and a group where strangers see its buttons."""

    chat: Chat
    db: Database
    group_helper: User
    ids: Iterator[int]


_cells = itertools.count(1)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bench(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Bench]:
    directory = tmp_path_factory.mktemp("authorization")
    db = Database(f"sqlite+aiosqlite:///{directory / 'shortsci.db'}")
    await db.upgrade()
    with FakeArxiv() as fake_arxiv:
        source = ArxivSource(fake_arxiv.url, timeout=1.0, delay_seconds=0.0)
        catalog = Catalog(db, source)
        settings = Settings(
            database_url=db.url,
            admins=frozenset({MODERATOR_ID}),
            telegram_token=TOKEN,
            **X_KEYS,  # type: ignore[arg-type]
        )
        assert "x" in settings.enabled_channels()
        async with bot_session(
            db, catalog, settings, limiter=RateLimiter(UNLIMITED), telegram_rate_limit=False
        ) as chat:
            helper = chat.emu.add_user("Helper", "helper")
            yield Bench(chat, db, helper, itertools.count(7_000_000))
        source.close()
    await db.dispose()


async def _scene(bench: Bench) -> Scene:
    db, emu, n = bench.db, bench.chat.emu, next(_cells)
    author = emu.add_user("Author", f"author{n}")
    emu.private_chat(author)
    venue = f"Specimen Venue {n}"
    paper, paper_ref = await new_paper(
        db, f"Residual shortcuts specimen{n} for deep networks", venue
    )
    fresh, fresh_ref = await new_paper(db, f"Untouched paper number {n}")
    other, _ = await new_paper(db, f"Pending review paper number {n}")
    async with db.transaction() as session:
        writer = await ensure_user(session, author.id, username=author.username, display_name="A")
        approved = await submit_summary(
            session, writer, paper.id, BODY, moderated=False, channels=()
        )
        pending = await submit_summary(session, writer, other.id, BODY, moderated=True, channels=())
        await enqueue_publications(session, approved.id, ["x"])
        victim = await ensure_user(session, next(bench.ids), display_name="Victim")
        banned = await ensure_user(session, next(bench.ids), display_name="Banned victim")
        banned.banned = True
        await pause_channel(session, "x", "re-authenticate: test")
        mod = await ensure_user(session, MODERATOR_ID, admins=frozenset({MODERATOR_ID}))
        await drop_draft(session, mod.id)
        ids = (approved.id, pending.id, victim.id, banned.id)
    async with db.transaction() as session:
        [claimed] = await claim_due(session, "w", channels=["x"], limit=1)
        publication = next(iter([claimed]))
    async with db.transaction() as session:
        attempt = await begin_attempt(session, publication.id, "w")
        await record_outcome(
            session, publication.id, attempt, "w", AttemptResult(Outcome.UNKNOWN, "timeout")
        )
    return Scene(
        author=author,
        paper_ref=paper_ref,
        paper_id=paper.id,
        title_words=f"specimen{n}",
        venue_key=venue_key(venue, 2024),
        fresh_ref=fresh_ref,
        fresh_id=fresh.id,
        approved=ids[0],
        pending=ids[1],
        review=publication.id,
        victim=ids[2],
        banned_victim=ids[3],
    )


async def _actor(bench: Bench, role: str, scene: Scene) -> User:
    emu = bench.chat.emu
    if role == "moderator":
        return bench.chat.mod
    if role == "author":
        return scene.author
    user = emu.add_user(role.title(), f"{role}{next(_cells)}")
    if role == "stranger":
        return user  # never seen by ShortSci: no row until this very update
    async with bench.db.transaction() as session:
        row = await ensure_user(session, user.id, username=user.username, display_name=role)
        if role == "banned":
            moderator = await ensure_user(session, MODERATOR_ID, admins=frozenset({MODERATOR_ID}))
            await set_banned(session, moderator, row.id, True)
    return user


def _command(name: str, scene: Scene) -> str:
    args = {
        "/paper": scene.paper_ref,
        "/search": scene.title_words,
        "/submit": scene.fresh_ref,
        "/edit": str(scene.approved),
        "/delete": str(scene.approved),
        "/ban": str(scene.victim),
        "/unban": str(scene.banned_victim),
        "/resume": "x",
    }
    return f"{name} {args[name]}" if name in args else name


def _button(action: Action, scene: Scene) -> str:
    arg = {
        Action.VOTE: scene.approved,
        Action.PAGE: scene.paper_id,
        Action.OPEN_PAPER: scene.paper_id,
        Action.OPEN_SUMMARY: scene.pending,
        Action.SUBMIT: scene.fresh_id,
        Action.EDIT: scene.approved,
        Action.DELETE: scene.approved,
        Action.KEEP: scene.approved,
        Action.APPROVE: scene.pending,
        Action.REJECT: scene.pending,
        Action.MARK_POSTED: scene.review,
        Action.POST_AGAIN: scene.review,
    }.get(action, 0)
    if action is Action.BROWSE:
        return f"{action}:{scene.venue_key}:0"
    extra = {Action.VOTE: 1, Action.PAGE: 0}.get(action, 0)
    two = (Action.VOTE, Action.PAGE, Action.PICK)
    return f"{action}:{arg}:{extra}" if action in two else f"{action}:{arg}"


def _allowed_sign(key: str | Action, scene: Scene) -> str:
    """Words the user sees when the action is carried out."""
    signs: dict[str | Action, str] = {
        "/start": "short, human-written summaries",
        "/help": "short, human-written summaries",
        "/paper": "Residual shortcuts specimen",
        "/search": "Papers matching",
        "/latest": "Latest summaries",
        "/submit": "Send your summary now",
        "/done": "Submit this summary?",
        "/cancel": "Draft dropped.",
        "/mine": "summaries",
        "/edit": "Send the new text",
        "/delete": f"Delete summary #{scene.approved}",
        "/queue": "Pending review paper number",
        "/ban": "is banned.",
        "/unban": "is unbanned.",
        "/status": "Publishing",
        "/review": "publication #",
        "/resume": "x is running again.",
        "/browse": "Summaries by venue and year",
        "/addpaper": "Let's add a paper by hand",
        Action.VOTE: "👍 Thanks for your vote",
        Action.PAGE: "identity shortcut",
        Action.LATEST: "Latest summaries",
        Action.OPEN_PAPER: "Residual shortcuts specimen",
        Action.OPEN_SUMMARY: "identity shortcut",
        Action.SUBMIT: "Send your summary now",
        Action.DRAFT_SUBMIT: "Thank you! Summary #",
        Action.DRAFT_EDIT: "Change it and send it back",
        Action.DRAFT_CANCEL: "Draft dropped.",
        Action.EDIT: "Send the new text",
        Action.DELETE: f"Summary #{scene.approved} is deleted.",
        Action.KEEP: "Kept",
        Action.APPROVE: f"Summary #{scene.pending} is approved",
        Action.REJECT: f"Why is summary #{scene.pending} rejected?",
        Action.MARK_POSTED: "Marked as posted",
        Action.POST_AGAIN: "It will be posted again",
        Action.BROWSE: f"#{scene.approved}",
        Action.VENUES: "Summaries by venue and year",
    }
    return signs[key]


def _refusal(seen: Seen, key: str | Action, scene: Scene) -> str:
    """The exact words of a refusal."""
    verb = "edit" if key in ("/edit", Action.EDIT) else "delete"
    nothing = {
        "/done": "There is no draft to finish. Start one with /submit <paper>.",
        "/cancel": "There was nothing to cancel.",
        Action.DRAFT_SUBMIT: "This preview is no longer current: there is no draft to submit.",
        Action.DRAFT_EDIT: "There is no draft to edit any more.",
        Action.DRAFT_CANCEL: "There was nothing to cancel.",
        Action.PICK: "That list of papers has expired; please search again.",
        Action.ADD_PAPER: "There is no finished paper form to add; start again with /addpaper.",
    }
    return {
        Seen.BANNED: "Sorry, you are banned from using ShortSci.",
        Seen.MODERATORS_ONLY: "This is for moderators only.",
        Seen.AUTHOR_ONLY: f"Only the author or a moderator can {verb} summary #{scene.approved}.",
        Seen.OWN_VOTE: "You cannot vote on your own summary.",
        Seen.NOT_PUBLISHED: f"Summary #{scene.pending} is not published.",
        Seen.NOTHING_TO_DO: nothing.get(key, ""),
    }[seen]


async def _anchor(bench: Bench, user: User, role: str) -> tuple[Message, int]:
    """A bot message with a keyboard for `user` to press on, and the chat it is in.

    A stranger has no chat with the bot yet: they press a button in a group, where
    someone else asked for /latest.
    """
    chat = bench.chat
    if role == "stranger":
        group = chat.emu.add_group(f"Group {next(_cells)}", [bench.group_helper, user])
        chat.emu.send_text(bench.group_helper, f"/latest@{BOT_USERNAME}", chat=group)
        await chat.settle()
        return chat.emu.messages(group)[-1], group.id
    shown = await chat.say(user, "/latest")
    return shown[-1], user.id


CELLS = [
    pytest.param(role, key, EXPECTED[key][index], id=f"{role}-{key}")
    for key in EXPECTED
    for index, role in enumerate(ROLES)
]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("role", "key", "expected"), CELLS)
async def test_who_may_do_what(bench: Bench, role: str, key: str | Action, expected: Seen) -> None:
    scene = await _scene(bench)
    user = await _actor(bench, role, scene)
    if key in NEEDS_DRAFT and role != "stranger":
        async with bench.db.transaction() as session:
            row = await ensure_user(session, user.id, admins=frozenset({MODERATOR_ID}))
            await start_draft(session, row, DraftKind.SUMMARY, paper_id=scene.fresh_id, body=BODY)
    chat = bench.chat
    answer: str | None = None
    if isinstance(key, Action):
        anchor, where = await _anchor(bench, user, role)
        before_db = await snapshot(bench.db, ignore_user=user.id)
        before, edits = len(chat.emu.messages(where)), len(anchor.history)
        query = chat.emu.press_button(user, anchor, _button(key, scene), forge=True)
        answer = (await chat.emu.wait_for_callback_answer(query)).text
        await chat.settle()
        shown = chat.emu.messages(where)[before:]
        if len(anchor.history) > edits:  # shown in place of the pressed message
            shown.append(anchor)
    else:
        before_db = await snapshot(bench.db, ignore_user=user.id)
        shown = await chat.say(user, _command(key, scene))
    after_db = await snapshot(bench.db, ignore_user=user.id)
    seen = "\n".join(filter(None, [answer, text_of(shown)]))

    if expected is Seen.ALLOWED:
        assert _allowed_sign(key, scene) in seen, seen
        for refusal in (Seen.BANNED, Seen.MODERATORS_ONLY, Seen.AUTHOR_ONLY):
            assert _refusal(refusal, key, scene) not in seen
        if key in CHANGES:
            assert after_db != before_db, "allowed, so something must have changed"
    else:
        words = _refusal(expected, key, scene)
        assert words and words in seen, seen
        assert "something went wrong" not in seen
        assert after_db == before_db, "a refused action changed the database"
    assert chat.emu.errors == [], chat.emu.errors


# -- per-user rate limits ---------------------------------------------------------------------


async def test_per_user_limits_hold_and_stay_per_user(db: Database, catalog: Catalog) -> None:
    limits = {
        "update": Limit(6, 60.0),
        "lookup": Limit(100, 60.0),
        "submit": Limit(1, 3600.0),
    }
    settings = Settings(database_url=db.url, admins=frozenset({MODERATOR_ID}), telegram_token=TOKEN)
    _, ref = await new_paper(db, "Rate limited paper one")
    _, second_ref = await new_paper(db, "Rate limited paper two")
    async with bot_session(db, catalog, settings, limiter=RateLimiter(limits)) as chat:
        ada, bob = chat.emu.add_user("Ada", "ada"), chat.emu.add_user("Bob", "bob")
        await chat.say(ada, f"/submit {ref}")  # 1
        await chat.say(ada, BODY)  # 2
        preview = await chat.say(ada, "/done")  # 3
        answer, done = await chat.press(ada, preview[-1], "Submit")  # 4
        assert answer == "Saved" and "Thank you! Summary #" in text_of(done)
        await chat.say(ada, f"/submit {second_ref}")  # 5
        await chat.say(ada, BODY)  # 6
        before = await snapshot(db)
        [flood] = await chat.say(ada, "/done")  # 7: over the update limit
        assert (flood.text or "").startswith("You are sending a lot at once; try again in")
        [blocked] = await chat.say(ada, "/cancel")
        assert (blocked.text or "").startswith("You are sending a lot at once")
        assert await snapshot(db) == before, "a throttled update does nothing"
        [fine] = await chat.say(bob, "/latest")
        assert fine.text == "No summaries have been published yet. Write the first with /submit!"


async def test_the_submit_limit_refuses_and_keeps_the_draft(db: Database, catalog: Catalog) -> None:
    limits = {**UNLIMITED, "submit": Limit(1, 3600.0)}
    settings = Settings(database_url=db.url, admins=frozenset(), telegram_token=TOKEN)
    _, first = await new_paper(db, "Submit limit paper one")
    _, second = await new_paper(db, "Submit limit paper two")
    async with bot_session(db, catalog, settings, limiter=RateLimiter(limits)) as chat:
        ada = chat.emu.add_user("Ada", "ada")
        for ref in (first, second):
            await chat.say(ada, f"/submit {ref}")
            await chat.say(ada, BODY)
            preview = await chat.say(ada, "/done")
            before = await snapshot(db)
            answer, shown = await chat.press(ada, preview[-1], "Submit")
        assert answer is not None and answer.startswith("Slow down a little: try again in")
        assert await snapshot(db) == before, "the second summary waits; the draft is kept"
        assert "Thank you" not in text_of(shown)


# -- secrets ----------------------------------------------------------------------------------

SECRETS = {
    "SHORTSCI_TELEGRAM_TOKEN": TOKEN,
    "SHORTSCI_X_CONSUMER_KEY": x_api.CONSUMER_KEY,
    "SHORTSCI_X_CONSUMER_SECRET": x_api.CONSUMER_SECRET,
    "SHORTSCI_X_ACCESS_TOKEN": x_api.ACCESS_TOKEN,
    "SHORTSCI_X_ACCESS_TOKEN_SECRET": x_api.ACCESS_TOKEN_SECRET,
    "SHORTSCI_FACEBOOK_PAGE_TOKEN": facebook_api.PAGE_TOKEN,
    "SHORTSCI_MASTODON_TOKEN": mastodon_api.TOKEN,
    "SHORTSCI_BLUESKY_APP_PASSWORD": bluesky_api.APP_PASSWORD,
    "SHORTSCI_WEBHOOK_SECRET": "webhook-secret-Zq81vR4nLp0s",
}


def _leaks(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


OUR_LOGGERS = ("bot", "publisher", "storage", "config", "markup", "cli", "shortsci")


@contextmanager
def product_logging(secrets: list[str]) -> Iterator[io.StringIO]:
    """The logging `shortsci` sets up (`configure_logging` at DEBUG), written to a buffer.

    pytest's own handlers (caplog) stay attached, so the test sees both the raw records
    and what the product's handler writes.
    """
    root = logging.getLogger()
    kept, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    configure_logging("DEBUG", secrets)
    [ours] = [h for h in root.handlers if h not in kept]
    buffer = io.StringIO()
    assert isinstance(ours, logging.StreamHandler)
    ours.setStream(buffer)
    for handler in kept:
        root.addHandler(handler)
    try:
        yield buffer
    finally:
        root.removeHandler(ours)
        root.setLevel(level)
        for name, old in quiet.items():
            logging.getLogger(name).setLevel(old)


async def test_no_secret_reaches_the_logs_or_error_texts(
    db: Database, catalog: Catalog, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A full bot session and publish cycles with every channel on, logging at DEBUG."""
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    with platforms(tmp_path) as fakes, product_logging(list(SECRETS.values())) as written:
        env = {k.removeprefix("SHORTSCI_").lower(): v for k, v in fakes.env().items()}
        settings = Settings(
            database_url=db.url,
            admins=frozenset({MODERATOR_ID}),
            telegram_token=TOKEN,
            webhook_secret=SECRETS["SHORTSCI_WEBHOOK_SECRET"],
            **env,  # type: ignore[arg-type]
        )
        assert set(settings.enabled_channels()) >= {"x", "facebook", "mastodon", "bluesky"}
        async with bot_session(db, catalog, settings, limiter=RateLimiter(UNLIMITED)) as chat:
            ada = chat.emu.add_user("Ada", "ada")
            _, ref = await new_paper(db, "Secret keeping paper")
            await chat.say(chat.mod, f"/submit {ref}")
            await chat.say(chat.mod, BODY)
            preview = await chat.say(chat.mod, "/done")
            await chat.press(chat.mod, preview[-1], "Submit")
            await chat.say(ada, "/latest")
            await chat.say(chat.mod, "/status")
            await chat.upload(ada, "notes.bin", b"\x00\x01")
            # One cycle with every channel healthy, then one where every platform fails.
            channels = {c.name: c for c in build_channels(settings, timeout=0.5)}
            dispatcher = Dispatcher(db, channels, link_maker(settings, None), worker="w")
            report = await dispatcher.run_once()
            assert {o for outcomes in report.outcomes.values() for o in outcomes} == {"posted"}
            _, second = await new_paper(db, "Second secret keeping paper")
            await chat.say(chat.mod, f"/submit {second}")
            await chat.say(chat.mod, BODY)
            preview = await chat.say(chat.mod, "/done")
            await chat.press(chat.mod, preview[-1], "Submit")
            fakes.x.revoke()
            fakes.facebook.revoke()
            fakes.mastodon.fail_next(503)
            fakes.bluesky.revoke()
            for channel in channels.values():
                try:
                    await channel.publish(
                        dispatcher.compose(channel.name, channel, await _any_publication(db))
                    )
                except Exception as exc:
                    errors.append(exc)
            await dispatcher.run_once()
            for channel in channels.values():
                await channel.aclose()
            await chat.say(chat.mod, "/status")
            await chat.say(chat.mod, "/review")
    assert errors, "the failing platforms raised"
    assert "facebook is paused" in written.getvalue(), "the run was logged"
    assert "/bot****" in written.getvalue(), "the token was in a record, and masked"
    ours = [r for r in caplog.records if r.name.split(".")[0] in OUR_LOGGERS]
    assert ours, "our own modules logged"
    texts = [written.getvalue(), *(f"{e!s} {e!r}" for e in errors)]
    texts += [logging.Formatter("%(message)s").format(r) for r in ours]
    texts += [str(r.exc_info[1]) for r in caplog.records if r.exc_info and r.exc_info[1]]
    texts += [text_of(chat.emu.messages(u)) for u in (ada, chat.mod)]
    for text in texts:
        assert _leaks(text) == [], text[:2000]
    assert _leaks(repr(settings)) == [] and _leaks(str(settings)) == []


async def _any_publication(db: Database) -> Publication:
    from storage.channels import load_for_posting

    async with db.sessions() as session:
        ids = (
            await session.scalars(
                select(Publication.id).where(Publication.state == PublicationState.PENDING)
            )
        ).all()
        [publication] = await load_for_posting(session, [ids[0]])
    return publication


def test_no_secret_in_the_processes_output(tmp_path: Path) -> None:
    """`shortsci publish --once` and `shortsci status` at DEBUG, every channel on."""
    url = f"sqlite:///{tmp_path / 'shortsci.db'}"
    with platforms(tmp_path) as fakes:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHORTSCI_")}
        env |= fakes.env() | {
            "SHORTSCI_DATABASE_URL": url,
            "SHORTSCI_LOG_LEVEL": "DEBUG",
            "SHORTSCI_WEBHOOK_SECRET": SECRETS["SHORTSCI_WEBHOOK_SECRET"],
            "SHORTSCI_BOT_USERNAME": "shortsci_bot",
        }
        fakes.x.revoke()
        fakes.mastodon.revoke()
        outputs = []
        for args in (("publish", "--once"), ("status",)):
            done = subprocess.run(
                [sys.executable, "-c", "import sys, cli; sys.exit(cli.main(sys.argv[1:]))", *args],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            outputs.append(done.stdout + done.stderr)
    for output in outputs:
        assert _leaks(output) == [], output[:2000]
