"""Who is asking: Telegram's Mini App `initData`, checked as Telegram documents, and our own
short-lived token that a valid `initData` is exchanged for.

initData (core.telegram.org/bots/webapps, "Validating data received via the Mini App"):
``secret_key = HMAC_SHA256(key="WebAppData", msg=bot_token)``; the data-check-string is every
field but ``hash``, as ``key=value`` (URL-decoded), sorted by key, joined with ``\\n``; the
``hash`` field must be the hex ``HMAC_SHA256(key=secret_key, msg=data_check_string)``. An
``auth_date`` older than the allowed age (default 1 h) is refused: a leaked initData stops
working.

The token: ``<payload>.<signature>``, the payload base64url JSON ``{"u": user id, "l":
language, "e": expiry, "s": the initData's auth_date}``, the signature hex ``HMAC_SHA256(key=HMAC_SHA256(key=
"TowerBotDashboard", msg=bot_token), msg=payload)``: a key of its own, so a token can never
pass as initData or the other way round. It lives 15 minutes; the page renews it while open.
No cookies: it travels in the Authorization header only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

#: minutes a token lives; the page asks for a fresh one well before
TOKEN_TTL = 15 * 60
#: renewals end this long after the initData the session started from: a token that leaked
#: cannot be kept alive for ever
MAX_SESSION = 12 * 3600
#: Telegram's clients and our server may disagree by a little about "now"
CLOCK_SKEW = 60
_TOKEN_KEY = b"TowerBotDashboard"


class NotAuthentic(Exception):
    """initData or token refused; the message says why (for logs and tests, not for people)."""


@dataclass(frozen=True)
class WebUser:
    """The person the page was opened by, as Telegram vouches for them."""

    user_id: int
    first_name: str
    language_code: str | None
    auth_date: int


def _secret(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def _check_string(fields: dict[str, str]) -> str:
    return "\n".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "hash")


def _parse(init_data: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise NotAuthentic("initData is not a query string") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields:
            raise NotAuthentic(f"field {key!r} given twice")
        fields[key] = value
    return fields


def validate(init_data: str, bot_token: str, *, now: float, max_age: float = 3600) -> WebUser:
    """The user of a genuine, fresh initData; NotAuthentic otherwise."""
    if not init_data or len(init_data) > 8192:
        raise NotAuthentic("no initData")
    fields = _parse(init_data)
    given = fields.get("hash", "")
    expected = hmac.new(
        _secret(bot_token), _check_string(fields).encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise NotAuthentic("hash does not match")
    try:
        auth_date = int(fields["auth_date"])
        user = json.loads(fields["user"])
        user_id = int(user["id"])
    except (KeyError, ValueError, TypeError):
        raise NotAuthentic("auth_date or user missing") from None
    if auth_date > now + CLOCK_SKEW or now - auth_date > max_age:
        raise NotAuthentic("initData is stale")
    lang = user.get("language_code")
    return WebUser(
        user_id=user_id,
        first_name=str(user.get("first_name") or ""),
        language_code=lang if isinstance(lang, str) else None,
        auth_date=auth_date,
    )


def sign(user: dict[str, object], bot_token: str, *, auth_date: int, **extra: str) -> str:
    """initData as Telegram would send it for `user` (tests, the demo's signed link)."""
    fields = {
        "auth_date": str(auth_date),
        "user": json.dumps(user, ensure_ascii=False, separators=(",", ":")),
        **extra,
    }
    fields["hash"] = hmac.new(
        _secret(bot_token), _check_string(fields).encode(), hashlib.sha256
    ).hexdigest()
    return urlencode(fields)


# --- our token ---------------------------------------------------------------------------------


def _token_key(bot_token: str) -> bytes:
    return hmac.new(_TOKEN_KEY, bot_token.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class Token:
    user_id: int
    lang: str
    since: int  # the auth_date of the initData the session started from


def issue(
    bot_token: str, user_id: int, lang: str, *, now: float, since: int, ttl: int = TOKEN_TTL
) -> str:
    """A token for `user_id`, valid `ttl` seconds from `now` (no later than MAX_SESSION after
    `since`)."""
    expires = min(int(now) + ttl, since + MAX_SESSION)
    body = json.dumps({"u": user_id, "l": lang, "e": expires, "s": since}, separators=(",", ":"))
    payload = _b64(body.encode())
    mac = hmac.new(_token_key(bot_token), payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{mac}"


def check(token: str, bot_token: str, *, now: float) -> Token:
    """A genuine token that has not expired; NotAuthentic otherwise."""
    payload, _, mac = token.partition(".")
    if not payload or len(token) > 512:
        raise NotAuthentic("malformed token")
    expected = hmac.new(_token_key(bot_token), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac.encode(), expected.encode()):
        raise NotAuthentic("token signature does not match")
    try:
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        user_id, lang, expires, since = (
            int(body["u"]),
            str(body["l"]),
            int(body["e"]),
            int(body["s"]),
        )
    except (KeyError, ValueError, TypeError):
        raise NotAuthentic("malformed token") from None
    if now >= expires:
        raise NotAuthentic("token expired")
    return Token(user_id=user_id, lang=lang, since=since)
