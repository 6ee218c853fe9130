"""The bot's HTTP client for the Bot API: python-telegram-bot's requests carried by aiohttp.

python-telegram-bot's default transport (httpx over httpcore and anyio) spends 1.3 ms of CPU on
a paper card (send_message with HTML and a keyboard, python-telegram-bot's own work included),
and 2.4 ms when 64 updates are handled at once (httpcore checks every pooled connection on each
request); on aiohttp the same call costs 0.7 ms either way (bench/bench_transport.py).
Everything above the transport (building the call, reading the answer, errors, retries, the
rate limiter) is python-telegram-bot's own, unchanged.

Errors never quote the bot's token: a Bot API path is cut to ``/bot<token>``, and the token
itself is replaced wherever else it appears (a ``base_url`` of another shape may hold it).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from yarl import URL

TOKEN_IN_URL = re.compile(r"/(?:file/)?bot[^/\s]+")

# A Telegram call waits this long at most, per stage (python-telegram-bot's defaults).
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 5.0
POOL_TIMEOUT = 1.0
MEDIA_WRITE_TIMEOUT = 20.0


_Proxy = tuple[URL | None, aiohttp.BasicAuth | None]


def _seconds(value: Any, default: float | None) -> float | None:
    """A per-call timeout as given, or `default` where python-telegram-bot left it unset."""
    return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value


def _total(*parts: float | None) -> float | None:
    """The whole exchange's ceiling: the stages added up, or none if any stage is unbounded."""
    return None if any(p is None for p in parts) else sum(p for p in parts if p is not None)


def redact(text: str, secret: str = "") -> str:
    """`text` with any Bot API path (``/bot...``) cut to ``/bot<token>``, and `secret` hidden."""
    text = TOKEN_IN_URL.sub("/bot<token>", text)
    return text.replace(secret, "<token>") if secret else text


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` on one aiohttp session with up to `pool_size` connections.

    `secret` (the bot's token) is hidden in every error this raises.
    """

    def __init__(
        self, pool_size: int = 64, read_timeout: float | None = READ_TIMEOUT, secret: str = ""
    ) -> None:
        self._secret = secret
        self._pool_size = pool_size
        self._read_timeout = read_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, _Proxy] = {}  # by scheme://host:port

    @property
    def read_timeout(self) -> float | None:
        """The default time to wait for Telegram's answer."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (connections are made on first use)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, keepalive_timeout=30)
            # Not trust_env=True: with it aiohttp looks up the proxy and reads ~/.netrc in a
            # worker thread on every request (two thread hops per call: the whole call cost
            # 2.4x the CPU at one caller). `_proxy` reads the environment once per host.
            self._session = aiohttp.ClientSession(connector=connector)
            self._proxies = {}

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One HTTP exchange; python-telegram-bot reads the status and the body."""
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data.multipart_data if request_data is not None else None
        read = _seconds(read_timeout, self._read_timeout)
        connect = _seconds(connect_timeout, CONNECT_TIMEOUT)
        pool = _seconds(pool_timeout, POOL_TIMEOUT)
        write = _seconds(write_timeout, MEDIA_WRITE_TIMEOUT if files else WRITE_TIMEOUT)
        timeout = aiohttp.ClientTimeout(
            total=_total(pool, connect, write, read),  # aiohttp has no separate write timeout
            connect=_total(pool, connect),  # includes waiting for a pooled connection
            sock_connect=connect,
            sock_read=read,
        )
        data: aiohttp.FormData | dict[str, str] | None = None
        if request_data is not None:
            data = request_data.json_parameters
            if files:
                # quote_fields=False: by default aiohttp percent-encodes file names
                # ("a b.pdf" arrives at Telegram as "a%20b.pdf"); httpx sends them as they are.
                form = aiohttp.FormData(data, quote_fields=False)
                for name, (filename, content, mimetype) in files.items():
                    form.add_field(name, content, filename=filename, content_type=mimetype)
                data = form
        proxy, proxy_auth = await self._proxy(url)
        try:
            async with self._session.request(
                method,
                url,
                data=data,
                timeout=timeout,
                headers={"User-Agent": self.USER_AGENT},
                proxy=proxy,
                proxy_auth=proxy_auth,
                allow_redirects=False,  # as httpx: Telegram never redirects; PTB reports a 3xx
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's timeouts (ServerTimeoutError) included
            error: NetworkError = TimedOut(
                f"Telegram did not answer in time ({type(exc).__name__})"
            )
        except aiohttp.ClientError as exc:
            error = NetworkError(f"aiohttp.{type(exc).__name__}: {redact(str(exc), self._secret)}")
        # Raised here, outside the handlers, so that aiohttp's exception (which may quote the
        # URL, token included) is neither its __cause__ nor its hidden __context__.
        raise error

    async def _proxy(self, url: str) -> _Proxy:
        """The proxy for `url`'s host from HTTP(S)_PROXY / NO_PROXY, as httpx honours them.

        Looked up once per host and session (the lookup may read ~/.netrc, so in a thread).
        """
        key = "/".join(url.split("/", 3)[:3])  # scheme://host:port, never the token
        proxy = self._proxies.get(key)
        if proxy is None:
            try:
                proxy = await asyncio.to_thread(get_env_proxy_for_url, URL(url))
            except (LookupError, ValueError):  # no proxy; not a URL (aiohttp will say so)
                proxy = (None, None)
            self._proxies[key] = proxy
        return proxy
