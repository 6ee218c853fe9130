"""Bot API transport: CPU time per Bot API call of python-telegram-bot's default httpx
transport against ShortSci's aiohttp one (`bot.transport.AiohttpRequest`).

Both carry the same call: `Bot.send_message` with a paper card and summary in HTML (about
1,000 characters, bold, italic, links, emoji) and a four-row inline keyboard, as the bot sends
for ``/paper``. Everything above the transport (building the request, parsing the answer into a
`Message`) is python-telegram-bot's and is the same for both, so it is counted for both.

- httpx: `HTTPXRequest(connection_pool_size=256)`, what `ApplicationBuilder` builds when given
  no request;
- aiohttp: `AiohttpRequest(pool_size=64)`, what `bot.app.build_application` uses.

Each is measured with 1 caller (one update at a time) and with 64 concurrent callers (the bot
handles up to 64 updates at once), `--calls` calls per measurement, in `--rounds` rounds that
alternate the order of the two transports. The figure is the CPU time of this process
(`time.process_time`) divided by the calls, median of the rounds; calls/s is wall-clock.

Telegram's side is a minimal HTTP/1.1 keep-alive server in a child process (so its CPU is not
counted): it answers getMe and sendMessage with Bot API JSON as Telegram sends it (the message
with its entities and reply_markup, Telegram's response headers).

Usage: ``python bench/bench_transport.py [--calls N] [--rounds N] [--callers N [N ...]]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from _common import PYTHON, Stopwatch, print_machine, table
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.request import BaseRequest, HTTPXRequest

from bot.transport import AiohttpRequest

TOKEN = "5555555555:AAF_shortsci-bench-token-abcdefghijk"
BOT_ID = 5555555555
CHAT_ID = 123456789
TRANSPORTS = ("httpx", "aiohttp")

# -- the message ------------------------------------------------------------------------------

# (text, entity) pieces: the HTML sent and the plain text plus entities Telegram answers with.
PIECES: list[tuple[str, dict[str, str] | None]] = [
    ("Attention Is All You Need", {"type": "bold"}),
    ("\nAshish Vaswani, Noam Shazeer, Niki Parmar et al.\nNeurIPS · 2017\n", None),
    ("arXiv:1706.03762", {"type": "text_link", "url": "https://arxiv.org/abs/1706.03762"}),
    (" · ", None),
    ("DOI 10.48550/arXiv.1706.03762", {"type": "text_link", "url": "https://doi.org/10.48550"}),
    ("\n📝 5 summaries\n\n", None),
    ("✍️ 1 of 5 · Summary #4211 by @ml_reader", {"type": "italic"}),
    ("\n\n", None),
    ("The Transformer", {"type": "bold"}),
    (
        " replaces recurrence and convolutions with attention alone: every position attends to"
        " every other in one step, so training parallelises across the sequence and long-range"
        " dependencies are one hop away instead of O(n). ",
        None,
    ),
    ("Multi-head attention", {"type": "italic"}),
    (
        " runs eight scaled dot-product attentions in parallel on learned projections; "
        "sinusoidal position encodings stand in for order. On WMT 2014 English–German it "
        "reaches 28.4 BLEU, ahead of the best ensembles, after 3.5 days on eight P100 GPUs — "
        "a fraction of the cost of earlier models. ",
        None,
    ),
    ("Why it matters:", {"type": "bold"}),
    (
        " the architecture became the basis of BERT, GPT and nearly every large language model "
        "since; the paper's ablations (heads, key size, dropout) are still the reference for "
        "tuning it. Code: ",
        None,
    ),
    ("tensor2tensor", {"type": "code"}),
    (".", None),
]
TAGS = {"bold": "b", "italic": "i", "code": "code"}


def html_text() -> str:
    """The message as the bot sends it (parse_mode HTML)."""
    out = []
    for text, entity in PIECES:
        if entity is None:
            out.append(text)
        elif entity["type"] == "text_link":
            out.append(f'<a href="{entity["url"]}">{text}</a>')
        else:
            tag = TAGS[entity["type"]]
            out.append(f"<{tag}>{text}</{tag}>")
    return "".join(out)


def plain_text() -> tuple[str, list[dict[str, Any]]]:
    """The message as Telegram returns it: text and entities (offsets in UTF-16 units)."""
    text, entities, offset = "", [], 0
    for piece, entity in PIECES:
        length = len(piece.encode("utf-16-le")) // 2
        if entity is not None:
            entities.append({**entity, "offset": offset, "length": length})
        text += piece
        offset += length
    return text, entities


def keyboard() -> InlineKeyboardMarkup:
    """The paper view's buttons: votes, paging, read it all, write."""
    button = InlineKeyboardButton
    return InlineKeyboardMarkup(
        [
            [button("👍 +12", callback_data="v:4211:1"), button("👎", callback_data="v:4211:-1")],
            [
                button("◂ Previous", callback_data="p:88:0"),
                button("Next ▸", callback_data="p:88:2"),
            ],
            [button("Read it all ▸", callback_data="o:4211")],
            [button("✍️ Write a summary", callback_data="s:88")],
        ]
    )


# -- Telegram's side (the child process) ----------------------------------------------------


def canned_answers() -> tuple[bytes, tuple[bytes, bytes], bytes]:
    """getMe's body; sendMessage's body split around its message_id; the 404 body."""
    me = {"id": BOT_ID, "is_bot": True, "first_name": "ShortSci", "username": "shortsci_bot"}
    get_me = {
        "ok": True,
        "result": me
        | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        },
    }
    text, entities = plain_text()
    message = {
        "message_id": 424242,
        "from": me,
        "chat": {
            "id": CHAT_ID,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "username": "ada",
            "type": "private",
        },
        "date": 1764230400,
        "text": text,
        "entities": entities,
        "link_preview_options": {"is_disabled": True},
        "reply_markup": keyboard().to_dict(),
    }
    body = json.dumps({"ok": True, "result": message}, ensure_ascii=False).encode()
    head, tail = body.split(b"424242", 1)
    missing = b'{"ok":false,"error_code":404,"description":"Not Found"}'
    return json.dumps(get_me).encode(), (head, tail), missing


HEADERS = (
    "HTTP/1.1 {status}\r\n"
    "Server: nginx/1.18.0\r\n"
    "Date: {date}\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: {length}\r\n"
    "Connection: keep-alive\r\n"
    "Strict-Transport-Security: max-age=31536000; includeSubDomains; preload\r\n"
    "Access-Control-Allow-Origin: *\r\n"
    "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
    "Access-Control-Expose-Headers: Content-Length,Content-Type,Date,Server,Connection\r\n"
    "\r\n"
)


class BotApiProtocol(asyncio.Protocol):
    """One keep-alive connection: requests with Content-Length bodies, answered in order."""

    get_me, send_message, missing = canned_answers()
    message_ids = iter(range(1, 10**12))

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to answer on."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        """Answer every complete request in the buffer."""
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
                elif name.strip().lower() == "transfer-encoding":
                    raise RuntimeError("chunked request bodies are not supported")
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.answer(lines[0].split(" ")[1])

    def answer(self, path: str) -> None:
        """The Bot API's answer to one call."""
        method = path.rsplit("/", 1)[-1].lower()
        status = "200 OK"
        if method == "sendmessage":
            head, tail = self.send_message
            body = head + str(next(self.message_ids)).encode() + tail
        elif method == "getme":
            body = self.get_me
        else:
            status, body = "404 Not Found", self.missing
        date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
        head = HEADERS.format(status=status, date=date, length=len(body)).encode()
        assert self.transport is not None
        self.transport.write(head + body)


async def serve() -> None:
    """Listen on a free port, print it, answer until killed."""
    server = await asyncio.get_running_loop().create_server(BotApiProtocol, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


# -- the client (this process) -----------------------------------------------------------------


def build_request(transport: str, *, updates: bool = False) -> BaseRequest:
    """The transport as the bot would have it (the getUpdates one with a single connection)."""
    if transport == "httpx":
        return HTTPXRequest(connection_pool_size=1 if updates else 256)
    return AiohttpRequest(pool_size=1 if updates else 64)


@dataclass
class Sample:
    """One measurement."""

    cpu_us: float  # CPU time of this process per call
    rate: float  # calls per wall-clock second


async def measure(transport: str, callers: int, calls: int, base_url: str) -> Sample:
    """`calls` send_message calls by `callers` concurrent callers on a fresh, warmed Bot."""
    bot = Bot(
        TOKEN,
        base_url=base_url,
        request=build_request(transport),
        get_updates_request=build_request(transport, updates=True),
    )
    html, markup = html_text(), keyboard()
    expected, _ = plain_text()
    remaining = calls
    last: list[Message] = []

    async def caller() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            sent = await bot.send_message(
                CHAT_ID, html, parse_mode=ParseMode.HTML, reply_markup=markup
            )
            last[:] = [sent]

    async with bot:  # initialize: getMe
        for _ in range(2):  # open every connection the callers will use, warm both paths
            await asyncio.gather(
                *(
                    bot.send_message(CHAT_ID, html, parse_mode=ParseMode.HTML)
                    for _ in range(callers)
                )
            )
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(callers)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    [message] = last
    if message.text != expected or message.reply_markup != markup:
        raise AssertionError(f"{transport}: the answer was not parsed as sent")
    return Sample(cpu / calls * 1e6, calls / wall)


def cell(samples: list[Sample], value: Callable[[Sample], float], fmt: str) -> str:
    """The median of the rounds, then each round."""
    values = [value(s) for s in samples]
    each = ", ".join(format(v, fmt) for v in values)
    return f"{format(statistics.median(values), fmt)} (rounds {each})"


async def drive(args: argparse.Namespace) -> int:
    """Start Telegram's side, measure both transports in alternating rounds, print the table."""
    print_machine()
    watch = Stopwatch()
    server = await asyncio.create_subprocess_exec(
        PYTHON, __file__, "--serve", stdout=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    try:
        assert server.stdout is not None
        port = int(await asyncio.wait_for(server.stdout.readline(), 30))
        base_url = f"http://127.0.0.1:{port}/bot"
        samples: dict[tuple[int, str], list[Sample]] = defaultdict(list)
        for round_ in range(args.rounds):
            order = TRANSPORTS if round_ % 2 == 0 else TRANSPORTS[::-1]
            for callers in args.callers:
                for transport in order:
                    sample = await measure(transport, callers, args.calls, base_url)
                    samples[callers, transport].append(sample)
    finally:
        server.terminate()
        await server.wait()
    rows: list[list[object]] = []
    for callers in args.callers:
        httpx_, aiohttp_ = samples[callers, "httpx"], samples[callers, "aiohttp"]
        for transport, runs in (("httpx (PTB default)", httpx_), ("aiohttp (ShortSci)", aiohttp_)):
            rows.append(
                [
                    callers,
                    transport,
                    cell(runs, lambda s: s.cpu_us, ".0f"),
                    cell(runs, lambda s: s.rate, ".0f"),
                ]
            )
        cpu_ratio = statistics.median(s.cpu_us for s in httpx_) / statistics.median(
            s.cpu_us for s in aiohttp_
        )
        rate_ratio = statistics.median(s.rate for s in aiohttp_) / statistics.median(
            s.rate for s in httpx_
        )
        rows.append(
            [
                callers,
                "ratio",
                f"httpx / aiohttp = {cpu_ratio:.2f}x",
                f"aiohttp / httpx = {rate_ratio:.2f}x",
            ]
        )
    print(
        f"send_message, {len(html_text())} characters of HTML and a 4-row inline keyboard; "
        f"{args.calls:,} calls per measurement, {args.rounds} alternating rounds"
    )
    print(table(["callers", "transport", "CPU µs/call", "calls/s"], rows))
    print(f"bench wall time {watch.seconds:.0f} s")
    return 0


def main() -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--callers", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve())
        return 0
    return asyncio.run(drive(args))


if __name__ == "__main__":
    sys.exit(main())
