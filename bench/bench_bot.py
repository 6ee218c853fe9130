"""Bot throughput and latency: 200 simulated users through the Bot API emulator into the real
bot on a database, side by side with a bare python-telegram-bot echo bot on the same emulator.

The mix: 60 % lookups (``/paper <arXiv id>``, half of them papers with summaries, so the card,
three summaries and a "More" button go out), 20 % submission messages (parts of an open draft),
20 % buttons (👍/👎 votes and "More summaries" pages). Throughput: a burst of `--updates`
updates, until every one is handled, best of `--rounds` alternating rounds. Latency: updates
offered at `--rate` per second for `--seconds`, from the moment getUpdates serves an update to
the first reply the emulator receives (a message to that chat, or the callback answer).

Each bot runs in its own process, as it would in production, and the emulator (Telegram's
side: validating and storing what the bot sends) and the simulated users run in this one, so
the emulator's work is not charged to the bot; both bots are measured the same way.

ShortSci sends its Bot API calls over aiohttp (`bot.transport`); the echo bot uses
python-telegram-bot's default transport, as the target names it. A third bot, the echo bot on
ShortSci's transport, is measured too (throughput only), so the table shows what the transport
gains apart from what the rest of ShortSci costs.

Both bots process up to 64 updates at once; neither uses AIORateLimiter (it would cap both at
Telegram's 30 messages/s, which is Telegram's limit, not our speed); ShortSci's per-user
anti-spam limits are raised so that simulated users are never throttled (their cost remains).

Usage: ``python bench/bench_bot.py [--updates N] [--rate R] [--seconds S] [--postgres URL]``

Targets (issue): throughput ratio to the echo bot >= 0.7; at 100 updates/s offered, p99
latency <= 50 ms and within 3x of the echo bot's p99; on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _catalog import sqlite_url
from _common import (
    CACHE,
    Stopwatch,
    percentile,
    postgres_url,
    postgres_version,
    print_machine,
    table,
    verdict,
)
from gen_snapshot import cached_snapshot
from sqlalchemy import insert, select, text
from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.app import build_application, start_polling, stop
from bot.context import Services
from bot.emulator import BotApiEmulator, Event
from bot.emulator.registry import Call
from bot.emulator.state import Message, User
from bot.ratelimit import Limit, RateLimiter
from bot.runner import freeze_startup_objects
from bot.transport import AiohttpRequest
from config import Settings
from storage.catalog.arxiv_source import ArxivSource
from storage.catalog.service import Catalog
from storage.db import Database
from storage.importer import import_snapshot
from storage.models import Paper, Summary, SummaryStatus
from storage.models import User as UserRow
from storage.summaries import render_stale

TOKEN = "5555555555:AAF_shortsci-bench-token-abcdefghijk"
USERS = 200
POPULAR = 300  # papers with five summaries each
CATALOG = 20_000
BODY = (
    "**Idea.** Learn a residual $F(x) = H(x) - x$ instead of $H(x)$ directly; identity "
    "shortcuts add no parameters.\n\n- Deeper nets train as easily as shallow ones.\n"
    "- ImageNet error drops to 3.57 %.\n\n*Why it matters:* depth became cheap. " * 2
)
DRAFT_PART = "The experiments cover ImageNet and CIFAR-10 with depths from 18 to 1202 layers. "
NO_LIMITS = {k: Limit(1_000_000, 60.0) for k in ("update", "lookup", "submit")}


class TimedEmulator(BotApiEmulator):
    """The emulator, noting when each update is first served by getUpdates."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.served: dict[int, float] = {}

    async def _dispatch(self, name: str, call: Call) -> Any:
        result = await super()._dispatch(name, call)
        if name.lower() == "getupdates" and result:
            now = time.perf_counter()
            for update in result:
                self.served.setdefault(update["update_id"], now)
        return result


@dataclass
class Sent:
    """One update the load generator sent, and when its first reply came."""

    update_id: int
    chat_id: int
    query_id: str | None
    kind: str  # of the mix: paper, draft, vote, page
    replied: float | None = None


@dataclass
class Tracker:
    """Matches replies to updates: callback answers by query id, messages by chat (FIFO)."""

    emu: TimedEmulator
    by_query: dict[str, Sent] = field(default_factory=dict)
    by_chat: defaultdict[int, deque[Sent]] = field(default_factory=lambda: defaultdict(deque))
    all: list[Sent] = field(default_factory=list)
    last_event: float = 0.0

    def add(self, sent: Sent) -> None:
        """Start waiting for this update's reply."""
        self.all.append(sent)
        if sent.query_id is not None:
            self.by_query[sent.query_id] = sent
        else:
            self.by_chat[sent.chat_id].append(sent)

    def on_event(self, event: Event) -> None:
        """An emulator event: maybe the first reply to a waiting update."""
        now = self.last_event = time.perf_counter()
        if event.kind == "callback_answer":
            sent = self.by_query.pop(event.subject.query_id, None)
            if sent is not None:
                sent.replied = now
        elif event.kind == "sent":
            waiting = self.by_chat.get(event.subject.chat.id)
            while waiting:  # the oldest served update of that chat that has no reply yet
                sent = waiting[0]
                if sent.update_id not in self.emu.served:
                    return
                waiting.popleft()
                if sent.replied is None:
                    sent.replied = now
                    return

    def latencies_ms(self) -> list[tuple[str, float]]:
        """Served-to-first-reply times, for updates that got a reply, with their kind."""
        return [
            (s.kind, (s.replied - self.emu.served[s.update_id]) * 1000)
            for s in self.all
            if s.replied is not None and s.update_id in self.emu.served
        ]


@dataclass
class Person:
    """A simulated user: who they are and what the bot showed them."""

    user: User
    votes: list[Message] = field(default_factory=list)
    paper_id: int = 0


@dataclass
class World:
    """The papers the mix asks for."""

    popular: list[tuple[int, str]]  # (paper id, arXiv id), five summaries each
    plain: list[str]  # arXiv ids without summaries


def next_update(
    rng: random.Random, person: Person, world: World
) -> tuple[str, str | None, Message | None]:
    """One update of the mix: (kind, text or callback data, message pressed on, if any)."""
    roll = rng.random()
    if roll < 0.6:
        arxiv_id = rng.choice(world.popular)[1] if rng.random() < 0.5 else rng.choice(world.plain)
        return "paper", f"/paper {arxiv_id}", None
    if roll < 0.8:
        return "draft", DRAFT_PART, None
    message = rng.choice(person.votes)
    if roll < 0.9:
        data = next((d for d in message.callback_data if d.endswith(":1")), "v:1:1")
        return "vote", data, message
    return "page", f"pg:{person.paper_id}:3", message


def offer(
    emu: TimedEmulator, tracker: Tracker, rng: random.Random, person: Person, world: World
) -> None:
    """Send one update of the mix from `person`."""
    kind, payload, message = next_update(rng, person, world)
    assert payload is not None
    if message is None:
        emu.send_text(person.user, payload)
        query_id = None
    else:
        query_id = emu.press_button(person.user, message, payload, forge=True)
    update_id = emu.world.updates[-1].update_id
    tracker.add(Sent(update_id, person.user.id, query_id, kind))


def waiting(system: Running, tracker: Tracker) -> int:
    """Updates not yet fetched, or fetched and still without their first reply."""
    unreplied = sum(1 for sent in tracker.all if sent.replied is None)
    return max(len(system.emu.world.updates), unreplied)


async def settle(system: Running, tracker: Tracker, *, patience: float = 10.0) -> None:
    """Wait until every update has its reply and the bot has gone quiet (its last edits too).

    An update that never gets a reply (refused by the emulator, say) ends the wait after
    `patience` seconds without progress, and is reported.
    """
    loop = asyncio.get_running_loop()
    progress, left = loop.time(), waiting(system, tracker)
    while left or time.perf_counter() - tracker.last_event < 0.05:
        await asyncio.sleep(0.005)
        now_left = waiting(system, tracker)
        if now_left < left:
            progress, left = loop.time(), now_left
        elif left and loop.time() - progress > patience:
            print(f"{system.label}: {left} updates got no reply", file=sys.stderr)
            return


async def burst(system: Running, n: int, seed: int) -> float:
    """Updates per second for `n` updates offered at once (until the bot's last reply)."""
    freeze_startup_objects()  # as in `paced`
    rng = random.Random(seed)
    tracker = Tracker(system.emu)
    system.emu.add_listener(tracker.on_event)
    started = time.perf_counter()
    for _ in range(n):
        offer(system.emu, tracker, rng, rng.choice(system.people), system.world)
    await settle(system, tracker)
    system.emu._listeners.remove(tracker.on_event)
    return n / (tracker.last_event - started)


async def paced(system: Running, rate: float, seconds: float, seed: int) -> list[tuple[str, float]]:
    """Latencies (ms, with the update's kind) with updates offered at `rate` per second."""
    # The emulators keep every chat, so this process's heap grows phase after phase: collect
    # and freeze it first, or its full collections are measured as the bot's latency.
    freeze_startup_objects()
    rng = random.Random(seed)
    tracker = Tracker(system.emu)
    system.emu.add_listener(tracker.on_event)
    loop = asyncio.get_running_loop()
    start = loop.time()
    total = int(rate * seconds)
    for i in range(total):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        offer(system.emu, tracker, rng, rng.choice(system.people), system.world)
    await settle(system, tracker)
    system.emu._listeners.remove(tracker.on_event)
    return tracker.latencies_ms()


@dataclass
class Running:
    """A bot in its own process, polling its own emulator (in this process), with its users."""

    label: str
    emu: TimedEmulator
    bot: asyncio.subprocess.Process
    people: list[Person]
    world: World


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The echo bot: say it back."""
    message = update.effective_message
    if message is not None and message.text:
        await message.reply_text(message.text)


async def echo_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The echo bot: acknowledge a button."""
    if update.callback_query is not None:
        await update.callback_query.answer("ok")


def echo_application(
    api: str, file_api: str, *, our_transport: bool = False
) -> Application[Any, Any, Any, Any, Any, Any]:
    """A bare python-telegram-bot echo bot (the same concurrency as ours).

    `our_transport`: on ShortSci's Bot API transport instead of python-telegram-bot's default,
    to tell what the transport gains from what the rest of the bot costs.
    """
    builder = ApplicationBuilder().token(TOKEN).base_url(api).base_file_url(file_api)
    if our_transport:
        builder = builder.request(AiohttpRequest(pool_size=64))
        builder = builder.get_updates_request(AiohttpRequest(pool_size=1))
    app = builder.concurrent_updates(64).build()
    app.add_handler(MessageHandler(filters.ALL, echo))
    app.add_handler(CallbackQueryHandler(echo_press))
    return app


async def serve(kind: str, api: str, file_api: str, url: str | None) -> int:
    """The bot-under-test process: poll until the bench closes our stdin."""
    db = Database(url) if url else None
    if kind == "shortsci":
        assert db is not None and url is not None
        settings = Settings(database_url=url, admins=frozenset({900}), telegram_token=TOKEN)
        arxiv = ArxivSource("http://127.0.0.1:9/api/query", timeout=0.5, delay_seconds=0)
        services = Services(
            settings=settings, db=db, catalog=Catalog(db, arxiv), limiter=RateLimiter(NO_LIMITS)
        )
        app = build_application(
            services, TOKEN, base_url=api, base_file_url=file_api, rate_limit=False
        )
    else:
        app = echo_application(api, file_api, our_transport=kind == "echo-aiohttp")
    await app.initialize()
    await start_polling(app, poll_timeout=1)
    if kind == "shortsci":
        freeze_startup_objects()  # as `shortsci bot` does once started
    print("polling", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until EOF
    await stop(app)
    await app.shutdown()
    if db is not None:
        await db.dispose()
    return 0


async def spawn(kind: str, emu: TimedEmulator, url: str | None) -> asyncio.subprocess.Process:
    """Start the bot under test in its own process; returns once it is polling `emu`."""
    command = [sys.executable, __file__, "--serve", kind, "--api", emu.base_url]
    command += ["--file-api", emu.base_file_url] + (["--db", url] if url else [])
    bot = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert bot.stdout is not None
    line = await asyncio.wait_for(bot.stdout.readline(), timeout=60)
    if line.strip() != b"polling":
        raise RuntimeError(f"the {kind} bot did not start (exit {await bot.wait()})")
    return bot


async def open_people(
    emu: TimedEmulator, bot: asyncio.subprocess.Process, world: World, label: str
) -> Running:
    """200 users, each with a paper's summaries on screen (vote buttons) and a draft open."""
    system = Running(label, emu, bot, [], world)
    tracker = Tracker(emu)
    emu.add_listener(tracker.on_event)
    rng = random.Random(5)
    for i in range(USERS):
        user = emu.add_user(f"Reader{i}", f"reader{i}")
        paper_id, arxiv_id = world.popular[i % len(world.popular)]
        system.people.append(Person(user, paper_id=paper_id))
        for command in (f"/paper {arxiv_id}", f"/submit {rng.choice(world.plain)}"):
            emu.send_text(user, command)
            tracker.add(Sent(emu.world.updates[-1].update_id, user.id, None, "opening"))
    await settle(system, tracker)
    emu._listeners.remove(tracker.on_event)
    for person in system.people:
        person.votes = [
            m for m in emu.messages(person.user) if m.callback_data and "v:" in m.callback_data[0]
        ]
        if not person.votes:  # the echo bot shows no summaries: press on its echo
            person.votes = emu.messages(person.user)[:1]
    return system


async def start(label: str, kind: str, world: World, url: str | None = None) -> Running:
    """An emulator here, the bot polling it from its own process, and the users set up."""
    emu = TimedEmulator(token=TOKEN, bot_username=f"{kind}_bench_bot")
    await emu.start()
    return await open_people(emu, await spawn(kind, emu, url), world, label)


async def shut(system: Running) -> int:
    """Stop a bot and its emulator; returns how many calls Telegram would have refused."""
    assert system.bot.stdin is not None
    system.bot.stdin.close()
    await asyncio.wait_for(system.bot.wait(), timeout=60)
    refused = Counter(f"{call.method}: {call.description}" for call in system.emu.errors)
    for reason, count in refused.most_common():
        print(f"{system.label}: Telegram would refuse {count} x {reason}", file=sys.stderr)
    await system.emu.stop()
    return refused.total()


async def prepare_database(url: str, pg: bool) -> World:
    """A catalog of papers (imported), popular ones with five summaries each."""
    if pg:
        reset = Database(url)
        async with reset.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await reset.dispose()
    db = Database(url)
    try:
        await db.upgrade()
        await import_snapshot(db, cached_snapshot(CATALOG, CACHE), workers=0)
        async with db.engine.begin() as conn:
            await conn.execute(
                insert(UserRow),
                [
                    {"id": 50 + a, "display_name": f"Author {a}", "role": "member", "banned": False}
                    for a in range(5)
                ],
            )
            rows = list(await conn.execute(select(Paper.id, Paper.arxiv_id).order_by(Paper.id)))
            rng = random.Random(3)
            popular = rng.sample(rows, POPULAR)
            chosen = {pid for pid, _ in popular}
            await conn.execute(
                insert(Summary),
                [
                    {
                        "paper_id": pid,
                        "author_id": 50 + a,
                        "body": BODY,
                        "status": SummaryStatus.APPROVED,
                        "score": a,
                    }
                    for pid, _ in popular
                    for a in range(5)
                ],
            )
        await render_stale(db)  # as the bot does for rows it did not write itself
        plain = [arxiv for pid, arxiv in rows if pid not in chosen]
        return World([(pid, str(a)) for pid, a in popular], [str(a) for a in plain])
    finally:
        await db.dispose()


async def measure_backend(
    label: str, url: str, pg: bool, args: argparse.Namespace
) -> list[list[object]]:
    """Throughput and latency of both bots on one database."""
    world = await prepare_database(url, pg)
    real = await start("ShortSci", "shortsci", world, url)
    plain = await start("echo", "echo", world)
    same = await start("echo on ShortSci's transport", "echo-aiohttp", world)
    try:
        ours: list[float] = []
        theirs: list[float] = []
        alike: list[float] = []
        for r in range(args.rounds):  # alternate, so noise hits all alike
            theirs.append(await burst(plain, args.updates, seed=100 + r))
            ours.append(await burst(real, args.updates, seed=100 + r))
            alike.append(await burst(same, args.updates, seed=100 + r))
        echo_low = [ms for _, ms in await paced(plain, args.low_rate, args.seconds, seed=8)]
        our_low = [ms for _, ms in await paced(real, args.low_rate, args.seconds, seed=8)]
        echo_lat = [ms for _, ms in await paced(plain, args.rate, args.seconds, seed=7)]
        our_kinds = await paced(real, args.rate, args.seconds, seed=7)
        our_lat = [ms for _, ms in our_kinds]
    finally:
        refused = await shut(real) + await shut(plain) + await shut(same)
    best_ours, best_echo, best_alike = max(ours), max(theirs), max(alike)
    ratio = best_ours / best_echo
    p99, p99_echo = percentile(our_lat, 99), percentile(echo_lat, 99)
    rows: list[list[object]] = [
        [
            label,
            "echo bot throughput",
            f"{best_echo:,.0f} updates/s (rounds: {', '.join(f'{x:,.0f}' for x in theirs)})",
            "",
            "",
        ],
        [
            label,
            "ShortSci throughput",
            f"{best_ours:,.0f} updates/s (rounds: {', '.join(f'{x:,.0f}' for x in ours)})",
            "",
            "",
        ],
        [
            label,
            "throughput ratio ShortSci / echo",
            f"{ratio:.2f}",
            ">= 0.7",
            verdict(ratio >= 0.7),
        ],
        [
            label,
            "echo bot on ShortSci's transport (context)",
            f"{best_alike:,.0f} updates/s (rounds: {', '.join(f'{x:,.0f}' for x in alike)}); "
            f"ShortSci / it = {best_ours / best_alike:.2f}",
            "",
            "",
        ],
        [
            label,
            f"echo latency at {args.rate:g}/s",
            f"p50 {percentile(echo_lat, 50):.1f} ms, p99 {p99_echo:.1f} ms",
            "",
            "",
        ],
        [
            label,
            f"ShortSci latency at {args.rate:g}/s",
            f"p50 {percentile(our_lat, 50):.1f} ms, p99 {p99:.1f} ms",
            "p99 <= 50 ms",
            verdict(p99 <= 50),
        ],
        [
            label,
            "p99 ShortSci / echo",
            f"{p99 / p99_echo:.1f}x" if p99_echo else "-",
            "<= 3x",
            verdict(p99 <= 3 * p99_echo),
        ],
    ]
    rows += [
        [
            label,
            f"echo latency at {args.low_rate:g}/s (context)",
            f"p50 {percentile(echo_low, 50):.1f} ms, p99 {percentile(echo_low, 99):.1f} ms",
            "",
            "",
        ],
        [
            label,
            f"ShortSci latency at {args.low_rate:g}/s (context)",
            f"p50 {percentile(our_low, 50):.1f} ms, p99 {percentile(our_low, 99):.1f} ms",
            "",
            "",
        ],
    ]
    by_kind = {
        kind: [ms for k, ms in our_kinds if k == kind]
        for kind in ("paper", "draft", "vote", "page")
    }
    rows.append(
        [
            label,
            f"ShortSci p50 / p99 by update kind at {args.rate:g}/s (context)",
            "; ".join(
                f"{kind} {percentile(ms, 50):.1f} / {percentile(ms, 99):.1f} ms"
                for kind, ms in by_kind.items()
                if ms
            ),
            "",
            "",
        ]
    )
    if refused:
        rows.append([label, "calls Telegram would refuse", str(refused), "0", verdict(False)])
    return rows


async def measure(args: argparse.Namespace) -> int:
    """SQLite, then PostgreSQL if given; print the table."""
    pg = postgres_url(args.postgres)
    print_machine({"postgresql": postgres_version(pg)} if pg else None)
    watch = Stopwatch()
    workdir = Path(tempfile.mkdtemp(prefix="shortsci-bench-"))
    rows: list[list[object]] = []
    try:
        rows += await measure_backend("SQLite", sqlite_url(workdir / "bot.db"), False, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    headers = ["database", "measure", "result", "target", "verdict"]
    print(table(headers, rows), flush=True)
    if pg:
        print(table(headers, await measure_backend("PostgreSQL", pg, True, args)))
    print(f"bench wall time {watch.seconds:.0f} s")
    return 0


def main() -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=2000, help="updates per throughput burst")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rate", type=float, default=100.0, help="offered updates/s (latency)")
    parser.add_argument("--seconds", type=float, default=15.0, help="latency phase length")
    parser.add_argument("--low-rate", type=float, default=25.0, help="a second, lighter load")
    parser.add_argument("--postgres", help="a PostgreSQL URL the bench may wipe")
    parser.add_argument(
        "--serve", choices=("shortsci", "echo", "echo-aiohttp"), help=argparse.SUPPRESS
    )
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--file-api", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:  # the bot under test, started by the bench itself
        return asyncio.run(serve(args.serve, args.api, args.file_api, args.db))
    return asyncio.run(measure(args))


if __name__ == "__main__":
    sys.exit(main())
