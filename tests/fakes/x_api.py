"""A local X API v2: the endpoints ShortSci uses, in X's wire format.

- ``POST /2/tweets`` (JSON ``{"text", "reply": {"in_reply_to_tweet_id"}}``) answers 201
  ``{"data": {"id", "text", "edit_history_tweet_ids"}}``. URLs in the text become t.co
  links, as X shows them. Identical text to an earlier tweet is refused as X does: 403
  ``You are not allowed to create a Tweet with duplicate content.``; text over 280 weighted
  characters is a 400.
- ``GET /2/users/me`` and ``GET /2/users/:id/tweets`` (newest first; ``entities`` and
  ``referenced_tweets`` only when asked for in ``tweet.fields``, with ``expanded_url``).
- Every request must carry a well-formed OAuth 1.0a ``Authorization`` header whose
  HMAC-SHA1 signature checks out against the known consumer and token secrets; otherwise
  401 in X's problem format. `revoke` makes the access token invalid.
- Faults (see `tests.fakes._server`): `rate_limit_next` (429 with ``x-rate-limit-*`` or
  ``x-user-limit-24hour-*`` headers), `fail_next`, `stall_next`, `reset_next`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

import twitter_text

from tests.fakes._server import FakeServer, Reply, Request

CONSUMER_KEY = "xvz1evFS4wEEPTGEFPHBog"
CONSUMER_SECRET = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"
ACCESS_TOKEN = "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"
ACCESS_TOKEN_SECRET = "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"
USER = {"id": "1630190477384302593", "name": "ShortSci", "username": "shortsci"}
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."

_URL = re.compile(r"https?://\S+")
_OAUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')
_REQUIRED = {
    "oauth_consumer_key",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
    "oauth_timestamp",
    "oauth_token",
}


def problem(status: int, title: str, detail: str, **extra: Any) -> Reply:
    """An error answer in X's problem-details format."""
    body = {"title": title, "detail": detail, "type": "about:blank", "status": status, **extra}
    return Reply(status, body, content_type="application/problem+json")


def _enc(value: str) -> str:
    return quote(value, safe="~-._")


@dataclass
class Tweet:
    """A stored tweet, as X holds it."""

    id: str
    text: str
    original: str
    urls: list[dict[str, Any]]
    created_at: str
    reply_to: str | None = None

    def view(self, fields: set[str]) -> dict[str, Any]:
        """The tweet object with the requested ``tweet.fields``."""
        data: dict[str, Any] = {
            "id": self.id,
            "text": self.text,
            "edit_history_tweet_ids": [self.id],
        }
        if "created_at" in fields:
            data["created_at"] = self.created_at
        if "author_id" in fields:
            data["author_id"] = USER["id"]
        if "entities" in fields and self.urls:
            data["entities"] = {"urls": self.urls}
        if "referenced_tweets" in fields and self.reply_to:
            data["referenced_tweets"] = [{"type": "replied_to", "id": self.reply_to}]
        return data


@dataclass
class XRequestLog:
    """Signature checks the fake made, so tests can see the header was verified."""

    verified: int = 0
    rejected: list[str] = field(default_factory=list)


class FakeX(FakeServer):
    """The X API fake; point the channel's ``api_url`` at `url`."""

    def __init__(self) -> None:
        super().__init__()
        self.tweets: list[Tweet] = []
        self.oauth = XRequestLog()
        self.valid_token = ACCESS_TOKEN
        self._ids = itertools.count(1880000000000000001)

    @property
    def url(self) -> str:
        """The API base, as ``SHORTSCI_X_API_URL`` wants it."""
        return self.origin

    def revoke(self) -> None:
        """Invalidate the access token: every request now gets 401."""
        self.valid_token = "revoked"

    def rate_limit_next(self, reset: datetime, *, daily: bool = False, count: int = 1) -> None:
        """Answer the next tweet posts with 429; `daily` uses the 24-hour user limit headers."""
        epoch = str(int(reset.timestamp()))
        headers = {
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": "99" if daily else "0",
            "x-rate-limit-reset": str(int(datetime.now(UTC).timestamp()) + 900) if daily else epoch,
        }
        if daily:
            headers.update(
                {
                    "x-user-limit-24hour-limit": "17",
                    "x-user-limit-24hour-remaining": "0",
                    "x-user-limit-24hour-reset": epoch,
                }
            )
        reply = problem(429, "Too Many Requests", "Too Many Requests")
        reply.headers = headers
        self.reply_next("POST /2/tweets", reply, count)

    def fail_next(self, status: int = 503, count: int = 1) -> None:
        """Answer the next tweet posts with a server error."""
        titles = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
        title = titles.get(status, "Gateway Timeout")
        self.reply_next("POST /2/tweets", problem(status, title, title), count)

    def handle(self, request: Request) -> Reply:
        if not self._check_oauth(request):
            return problem(401, "Unauthorized", "Unauthorized")
        if request.line == "POST /2/tweets":
            return self._create(request.json())
        if request.line == "GET /2/users/me":
            return Reply(200, {"data": USER})
        if match := re.fullmatch(r"GET /2/users/(\d+)/tweets", request.line):
            return self._timeline(match.group(1), request)
        return problem(404, "Not Found Error", f"Could not find {request.path}")

    def _create(self, body: dict[str, Any]) -> Reply:
        text = str(body.get("text", ""))
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if any(t.original == text for t in self.tweets):
            return problem(403, "Forbidden", DUPLICATE)
        if twitter_text.parse_tweet(text).weightedLength > 280 or not text:
            return Reply(
                400,
                {
                    "errors": [{"parameters": {"text": [text]}, "message": "Invalid text length"}],
                    "title": "Invalid Request",
                    "detail": "One or more parameters to your request was invalid.",
                    "type": "https://api.twitter.com/2/problems/invalid-request",
                },
            )
        if reply_to is not None and not any(t.id == reply_to for t in self.tweets):
            return problem(400, "Invalid Request", "The replied-to Tweet does not exist.")
        shown, urls = self._shorten(text)
        tweet = Tweet(
            id=str(next(self._ids)),
            text=shown,
            original=text,
            urls=urls,
            created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            reply_to=reply_to,
        )
        self.tweets.append(tweet)
        data = {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}
        return Reply(201, {"data": data})

    @staticmethod
    def _shorten(text: str) -> tuple[str, list[dict[str, Any]]]:
        """Replace URLs by t.co links, returning the shown text and ``entities.urls``."""
        urls: list[dict[str, Any]] = []
        shown = ""
        last = 0
        for match in _URL.finditer(text):
            link = match.group(0)
            short = "https://t.co/" + secrets.token_urlsafe(8)[:10]
            shown += text[last : match.start()]
            start = len(shown)
            shown += short
            display = re.sub(r"^https?://(www\.)?", "", link)
            urls.append(
                {
                    "start": start,
                    "end": start + len(short),
                    "url": short,
                    "expanded_url": link,
                    "display_url": display[:23] + ("…" if len(display) > 23 else ""),
                }
            )
            last = match.end()
        return shown + text[last:], urls

    def _timeline(self, user_id: str, request: Request) -> Reply:
        if user_id != USER["id"]:
            return problem(404, "Not Found Error", "Could not find user")
        fields = set(filter(None, request.arg("tweet.fields").split(",")))
        limit = int(request.arg("max_results", "10"))
        tweets = [t.view(fields) for t in reversed(self.tweets)][:limit]
        meta: dict[str, Any] = {"result_count": len(tweets)}
        if tweets:
            meta.update(newest_id=tweets[0]["id"], oldest_id=tweets[-1]["id"])
            return Reply(200, {"data": tweets, "meta": meta})
        return Reply(200, {"meta": meta})

    def _check_oauth(self, request: Request) -> bool:
        """Verify the OAuth 1.0a header: all fields present and the HMAC-SHA1 signature."""
        header = request.headers.get("authorization", "")
        if not header.startswith("OAuth "):
            self.oauth.rejected.append("no OAuth header")
            return False
        params = {k: unquote(v) for k, v in _OAUTH_PARAM.findall(header)}
        if missing := _REQUIRED - params.keys():
            self.oauth.rejected.append(f"missing {sorted(missing)}")
            return False
        if params["oauth_signature_method"] != "HMAC-SHA1" or params["oauth_consumer_key"] != (
            CONSUMER_KEY
        ):
            self.oauth.rejected.append("bad method or consumer key")
            return False
        if params["oauth_token"] != self.valid_token:
            self.oauth.rejected.append("invalid token")
            return False
        signed = [(k, v) for k, v in params.items() if k != "oauth_signature"]
        signed += [(k, v) for k, values in request.query.items() for v in values]
        normalized = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted(signed))
        url = f"http://{request.headers['host']}{request.path}"
        base = "&".join(_enc(part) for part in (request.method, url, normalized))
        key = f"{_enc(CONSUMER_SECRET)}&{_enc(ACCESS_TOKEN_SECRET)}"
        digest = hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), params["oauth_signature"]):
            self.oauth.rejected.append("bad signature")
            return False
        self.oauth.verified += 1
        return True
