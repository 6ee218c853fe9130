"""A local Bluesky PDS: the XRPC methods ShortSci uses, in atproto's wire format.

- ``com.atproto.server.createSession`` / ``refreshSession`` / ``getSession``: JWTs whose
  payload atproto reads (``exp`` `token_lifetime` seconds ahead; the SDK refreshes a token
  within 15 minutes of expiry); a wrong password is 401 ``AuthenticationRequired``.
- ``app.bsky.actor.getProfile``, ``describeServer``.
- ``com.atproto.repo.createRecord`` for ``app.bsky.feed.post``: the record is checked as the
  PDS does (``$type``, ``createdAt``, text at most 300 graphemes and 3000 bytes; otherwise
  400 ``InvalidRequest``); answers ``{"uri", "cid", "commit", "validationStatus"}``.
- ``com.atproto.repo.listRecords`` and ``app.bsky.feed.getAuthorFeed``, newest first.
- Tokens: `expire_tokens` makes current access tokens answer 400 ``ExpiredToken``;
  `revoke` changes the app password and kills every session (401 ``InvalidToken``).
- Faults: `rate_limit_next` (429 with ``ratelimit-*`` headers), `fail_next`, `stall_next`,
  `reset_next`.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grapheme

from tests.fakes._server import FakeServer, Reply, Request

HANDLE = "shortsci.test"
DID = "did:plc:z72i7hdynmk6r22z27h6tvur"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"
POST = "app.bsky.feed.post"
_XRPC = "/xrpc/"
_TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"
_B32 = "abcdefghijklmnopqrstuvwxyz234567"


def xrpc_error(status: int, error: str, message: str, **headers: str) -> Reply:
    """An XRPC error answer."""
    return Reply(status, {"error": error, "message": message}, headers=headers)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _tid() -> str:
    """A record key in TID syntax: microseconds since the epoch and a clock id, base32."""
    value = (time.time_ns() // 1000) << 10 | secrets.randbelow(1024)
    return "".join(_TID_CHARS[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def _cid() -> str:
    return "bafyrei" + "".join(secrets.choice(_B32) for _ in range(52))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class StoredPost:
    """A post record in the repo."""

    rkey: str
    cid: str
    record: dict[str, Any]
    indexed_at: str

    @property
    def uri(self) -> str:
        """The record's at:// URI."""
        return f"at://{DID}/{POST}/{self.rkey}"

    def links(self) -> list[str]:
        """What a Bluesky app shows as clickable: each link facet's byte slice of the text."""
        text = str(self.record.get("text", "")).encode("utf-8")
        shown = []
        for facet in self.record.get("facets") or []:
            index = facet["index"]
            for feature in facet["features"]:
                if feature.get("$type") == "app.bsky.richtext.facet#link":
                    shown.append(text[index["byteStart"] : index["byteEnd"]].decode("utf-8"))
        return shown


class FakeBluesky(FakeServer):
    """The PDS fake; point the channel's ``api_url`` at `url`."""

    def __init__(self, token_lifetime: int = 7200) -> None:
        super().__init__()
        self.token_lifetime = token_lifetime
        self.posts: list[StoredPost] = []
        self.password = APP_PASSWORD
        self.access: dict[str, bool] = {}  # token -> still valid (False: expired)
        self.refresh: set[str] = set()
        self.sessions_created = 0

    @property
    def url(self) -> str:
        """The PDS base, as ``SHORTSCI_BLUESKY_API_URL`` wants it."""
        return self.origin

    def expire_tokens(self) -> None:
        """Let every access token expire (the client must refresh or log in again)."""
        self.access = dict.fromkeys(self.access, False)

    def revoke(self) -> None:
        """Revoke the app password and every session made with it."""
        self.password = "revoked-" + secrets.token_hex(4)
        self.access.clear()
        self.refresh.clear()

    def rate_limit_next(self, reset: datetime, count: int = 1) -> None:
        """Answer the next post creations with 429 and the rate-limit headers."""
        reply = xrpc_error(
            429,
            "RateLimitExceeded",
            "Rate Limit Exceeded",
            **{
                "ratelimit-limit": "5000",
                "ratelimit-remaining": "0",
                "ratelimit-reset": str(int(reset.timestamp())),
                "ratelimit-policy": "5000;w=3600",
            },
        )
        self.reply_next("POST /xrpc/com.atproto.repo.createRecord", reply, count)

    def fail_next(self, status: int = 500, count: int = 1) -> None:
        """Answer the next post creations with a server error."""
        reply = xrpc_error(status, "InternalServerError", "Internal Server Error")
        self.reply_next("POST /xrpc/com.atproto.repo.createRecord", reply, count)

    def handle(self, request: Request) -> Reply:
        method = request.path.removeprefix(_XRPC)
        if method == "com.atproto.server.createSession":
            return self._create_session(request.json())
        if method == "com.atproto.server.describeServer":
            return Reply(200, {"did": "did:web:127.0.0.1", "availableUserDomains": [".test"]})
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if method == "com.atproto.server.refreshSession":
            if token not in self.refresh:
                return xrpc_error(400, "ExpiredToken", "Token has been revoked")
            self.refresh.discard(token)
            return Reply(200, self._session())
        if token not in self.access:
            return xrpc_error(401, "InvalidToken", "Token could not be verified")
        if not self.access[token]:
            return xrpc_error(400, "ExpiredToken", "Token has expired")
        if method == "com.atproto.server.getSession":
            session = self._session(tokens=False)
            return Reply(200, session)
        if method == "app.bsky.actor.getProfile":
            return Reply(200, self._profile())
        if method == "com.atproto.repo.createRecord":
            return self._create_record(request.json())
        limit = int(request.arg("limit", "50"))
        if method == "com.atproto.repo.listRecords":
            records = [{"uri": p.uri, "cid": p.cid, "value": p.record} for p in self._newest()]
            return Reply(200, {"records": records[:limit]})
        if method == "app.bsky.feed.getAuthorFeed":
            return Reply(200, {"feed": [{"post": self._view(p)} for p in self._newest()][:limit]})
        return xrpc_error(501, "MethodNotImplemented", f"Method Not Implemented: {method}")

    def _newest(self) -> list[StoredPost]:
        return list(reversed(self.posts))

    def _session(self, *, tokens: bool = True) -> dict[str, Any]:
        account = {
            "handle": HANDLE,
            "did": DID,
            "email": "team@example.org",
            "emailConfirmed": True,
            "active": True,
        }
        if not tokens:
            return account
        now = int(time.time())
        claims = {"iat": now, "exp": now + self.token_lifetime, "aud": "did:web:127.0.0.1"}
        claims["sub"] = DID
        head = _b64({"typ": "at+jwt", "alg": "ES256K"})
        access = (
            f"{head}.{_b64({'scope': 'com.atproto.appPass', **claims})}.{secrets.token_urlsafe(32)}"
        )
        refresh = (
            f"{head}.{_b64({'scope': 'com.atproto.refresh', **claims})}.{secrets.token_urlsafe(32)}"
        )
        self.access[access] = True
        self.refresh.add(refresh)
        return {"accessJwt": access, "refreshJwt": refresh, **account}

    def _create_session(self, body: dict[str, Any]) -> Reply:
        if body.get("identifier") not in (HANDLE, DID) or body.get("password") != self.password:
            return xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
        self.sessions_created += 1
        return Reply(200, self._session())

    def _profile(self) -> dict[str, Any]:
        return {
            "did": DID,
            "handle": HANDLE,
            "displayName": "ShortSci",
            "description": "Short summaries of research papers.",
            "followersCount": 12,
            "followsCount": 0,
            "postsCount": len(self.posts),
            "indexedAt": "2026-01-05T00:00:00.000Z",
            "createdAt": "2026-01-05T00:00:00.000Z",
            "labels": [],
        }

    def _create_record(self, body: dict[str, Any]) -> Reply:
        record = body.get("record") or {}
        if body.get("repo") not in (DID, HANDLE) or body.get("collection") != POST:
            return xrpc_error(400, "InvalidRequest", "Input/repo or collection is not valid")
        if record.get("$type") != POST or "createdAt" not in record:
            return xrpc_error(400, "InvalidRequest", f"Invalid {POST} record: Record is invalid")
        text = str(record.get("text", ""))
        if grapheme.length(text) > 300 or len(text.encode("utf-8")) > 3000:
            return xrpc_error(
                400,
                "InvalidRequest",
                f"Invalid {POST} record: Record/text must not be longer than 300 graphemes",
            )
        post = StoredPost(_tid(), _cid(), record, _now())
        self.posts.append(post)
        commit = {"cid": _cid(), "rev": _tid()}
        return Reply(
            200, {"uri": post.uri, "cid": post.cid, "commit": commit, "validationStatus": "valid"}
        )

    def _view(self, post: StoredPost) -> dict[str, Any]:
        author = {"did": DID, "handle": HANDLE, "displayName": "ShortSci", "labels": []}
        return {
            "uri": post.uri,
            "cid": post.cid,
            "author": author,
            "record": post.record,
            "replyCount": 0,
            "repostCount": 0,
            "likeCount": 0,
            "quoteCount": 0,
            "indexedAt": post.indexed_at,
            "labels": [],
        }
