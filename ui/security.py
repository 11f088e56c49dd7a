"""Web guards: API token, per-client rate limit, request body size (one ASGI middleware).

With ``HOIDAP_API_TOKEN`` set every route needs the token — ``/api/*`` (including uploads),
the document viewer, the OpenAPI docs and the Gradio chat with its own upload route.
Programs send ``Authorization: Bearer <token>``; people open ``/login`` once and type it,
which sets an HttpOnly, SameSite=Strict cookie holding an HMAC of the token (never the
token itself). Without a token nothing is required: the server binds 127.0.0.1 by default.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from html import escape
from typing import Any
from urllib.parse import parse_qs, urlencode

from hoidap.config import LimitsConfig

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "hoidap_session"
LOGIN_PATH = "/login"
RATE_LIMITED = frozenset({"/api/ask", "/api/search"})
API_BODY_LIMIT = 1024 * 1024  # JSON bodies of /api/*: a question is at most a few KB
MAX_FILES_PER_UPLOAD = 10
LOGIN_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'"


class TokenBucket:
    """``rate_per_minute`` requests per minute per key, bursts up to one minute's worth."""

    def __init__(self, rate_per_minute: int, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 10_000) -> None:
        self.capacity = float(rate_per_minute)
        self.refill = rate_per_minute / 60.0
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0.0 when a request may go now, else the seconds to wait before retrying."""
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.pop(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.refill)
            wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.refill
            self._buckets[key] = (tokens - 1.0 if wait == 0.0 else tokens, now)
            while len(self._buckets) > self.max_keys:  # forget the least recently seen
                self._buckets.popitem(last=False)
            return wait


def session_value(token: str) -> str:
    """The cookie value for ``token``: an HMAC, so the cookie never holds the token."""
    return hmac.new(token.encode(), b"hoidap-session-v1", hashlib.sha256).hexdigest()


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _cookies(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        out[name] = value
    return out


def authorized(headers: dict[str, str], token: str) -> bool:
    """True when the request carries the token (Bearer header) or the session cookie."""
    scheme, _, given = headers.get("authorization", "").partition(" ")
    sent = given.strip().encode("latin-1", "replace")  # header bytes as they came
    if scheme.lower() == "bearer" and hmac.compare_digest(sent, token.encode()):
        return True
    cookie = _cookies(headers.get("cookie", "")).get(COOKIE, "")
    return hmac.compare_digest(cookie.encode(), session_value(token).encode())


def safe_next(target: str) -> str:
    """A local path to go to after login (never another site)."""
    if not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target:
        return "/"
    return target


def login_page(next_path: str, error: str = "") -> str:
    """The small sign-in form (all text escaped)."""
    note = f'<p style="color:#9a2f2f">{escape(error)}</p>' if error else ""
    return (
        '<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Đăng nhập · hoidap'
        '</title></head><body style="font-family:system-ui;max-width:28rem;margin:4rem auto">'
        f"<h1>Hỏi đáp tài liệu</h1><p>Máy chủ này yêu cầu mã truy cập (API token).</p>{note}"
        f'<form method="post" action="{LOGIN_PATH}"><input type="hidden" name="next" '
        f'value="{escape(next_path)}"><label>Mã truy cập <input type="password" name="token" '
        'autofocus required></label> <button type="submit">Vào</button></form></body></html>')


async def _send(send: Send, status: int, body: bytes, content_type: str,
                extra: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
    headers = [(b"content-type", content_type.encode()),
               (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, status: int, kind: str, message: str,
                     extra: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
    """A JSON error in the API's shape ``{"error", "message"}``."""
    body = json.dumps({"error": kind, "message": message}).encode()
    await _send(send, status, body, "application/json", extra)


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit or not message.get("more_body"):
            return b"".join(chunks)


def _capped(receive: Receive, limit: int) -> Receive:
    """``receive`` that fails with HTTP 413 once more than ``limit`` body bytes arrived
    (for bodies sent without a Content-Length)."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            from starlette.exceptions import HTTPException

            raise HTTPException(413, f"the request body is over the limit of {limit:,} bytes "
                                     "(HOIDAP_MAX_UPLOAD_MB)")
        return message

    return wrapped


class Guard:
    """ASGI middleware: body size limits, then the token, then the rate limit."""

    def __init__(self, app: ASGIApp, limits: LimitsConfig) -> None:
        self.app = app
        self.limits = limits
        self.token = limits.api_token
        self.bucket = TokenBucket(limits.rate_limit) if limits.rate_limit > 0 else None

    def body_limit(self, path: str) -> int | None:
        """Largest request body accepted on ``path`` (None: no limit here)."""
        if path == "/api/documents" or path.endswith("/upload"):
            per_file = self.limits.max_upload_mb * 1024 * 1024
            return int(per_file * MAX_FILES_PER_UPLOAD + 1024 * 1024) if per_file else None
        return API_BODY_LIMIT if path.startswith("/api/") else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, headers = scope["path"], _headers(scope)
        limit = self.body_limit(path)
        length = headers.get("content-length", "")
        if limit is not None and length.isdigit() and int(length) > limit:
            return await send_error(send, 413, "RequestTooLarge",
                                    f"the request body is {int(length):,} bytes; the limit "
                                    f"here is {limit:,} bytes (HOIDAP_MAX_UPLOAD_MB)")
        if limit is not None:
            receive = _capped(receive, limit)
        if self.token is not None:
            if path == LOGIN_PATH:
                return await self.login(scope, receive, send)
            if not authorized(headers, self.token):
                return await self.deny(scope, headers, send)
        if self.bucket is not None and path in RATE_LIMITED:
            client = (scope.get("client") or ("unknown",))[0]
            wait = self.bucket.take(client)
            if wait > 0:
                retry = str(max(1, math.ceil(wait)))
                return await send_error(
                    send, 429, "RateLimited",
                    f"too many requests from {client}: the limit is {self.limits.rate_limit} "
                    f"per minute (HOIDAP_RATE_LIMIT); retry in {retry} s",
                    [(b"retry-after", retry.encode())])
        return await self.app(scope, receive, send)

    async def deny(self, scope: Scope, headers: dict[str, str], send: Send) -> None:
        """401 for programs; a redirect to the sign-in form for people's browsers."""
        wants_page = (scope["method"] == "GET" and not scope["path"].startswith("/api/")
                      and "text/html" in headers.get("accept", ""))
        if wants_page:
            query = scope.get("query_string", b"").decode("latin-1")
            target = scope["path"] + (f"?{query}" if query else "")
            location = f"{LOGIN_PATH}?{urlencode({'next': target})}"
            return await _send(send, 303, b"", "text/plain", [(b"location", location.encode())])
        return await send_error(send, 401, "Unauthorized",
                                "this server needs an API token: send the header "
                                "'Authorization: Bearer <token>' (the value of "
                                "HOIDAP_API_TOKEN), or sign in at /login",
                                [(b"www-authenticate", b'Bearer realm="hoidap"')])

    async def login(self, scope: Scope, receive: Receive, send: Send) -> None:
        """GET: the form. POST: check the token, set the session cookie, go on."""
        html = [(b"content-security-policy", LOGIN_CSP.encode()),
                (b"x-content-type-options", b"nosniff")]
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if scope["method"] != "POST":
            page = login_page(safe_next(query.get("next", ["/"])[0]))
            return await _send(send, 200, page.encode(), "text/html; charset=utf-8", html)
        form = parse_qs((await _read_body(receive, 16 * 1024)).decode("utf-8", "replace"))
        given = form.get("token", [""])[0]
        target = safe_next(form.get("next", ["/"])[0])
        if not hmac.compare_digest(given.encode(), self.token.encode()):  # type: ignore[union-attr]
            page = login_page(target, "Mã truy cập không đúng.")
            return await _send(send, 401, page.encode(), "text/html; charset=utf-8", html)
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        cookie = (f"{COOKIE}={session_value(self.token)}; Path=/; HttpOnly; "  # type: ignore[arg-type]
                  f"SameSite=Strict{secure}")
        return await _send(send, 303, b"", "text/plain",
                           [(b"location", target.encode()), (b"set-cookie", cookie.encode())])
