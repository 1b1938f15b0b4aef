"""A Telegram Bot API emulator that the real python-telegram-bot (22.8) can talk to.

The :class:`Emulator` holds a small world (users, groups, members, messages, pending updates)
and answers Bot API calls with Telegram-shaped JSON (see ``/work/shared/telegram-samples``).
Two transports reach it:

* in-process: ``ApplicationBuilder().token(em.token).request(em.request())
  .get_updates_request(em.request())``;
* HTTP on loopback: ``url = await em.serve()`` then
  ``ApplicationBuilder().token(em.token).base_url(url + "/bot").base_file_url(url + "/file/bot")``.

Tests drive the world with the update producers (:meth:`Emulator.text`, :meth:`Emulator.press`,
...), which queue updates for ``getUpdates`` and return them, and inspect what the bot did with
:attr:`Emulator.sent`, :meth:`Emulator.messages_to`, :attr:`Emulator.callback_answers`, ...
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import math
import mimetypes
import random
import re
import string
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

JSONDict = dict[str, Any]
ChatRef = JSONDict | int
UserRef = JSONDict | int

GROUP_ANONYMOUS_BOT: JSONDict = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
UPDATE_TYPES = (
    "message", "edited_message", "channel_post", "edited_channel_post",
    "business_connection", "business_message", "edited_business_message",
    "deleted_business_messages", "message_reaction", "message_reaction_count", "inline_query",
    "chosen_inline_result", "callback_query", "shipping_query", "pre_checkout_query",
    "purchased_paid_media", "poll", "poll_answer", "my_chat_member", "chat_member",
    "chat_join_request", "chat_boost", "removed_chat_boost",
)
#: Update types Telegram leaves out unless ``allowed_updates`` names them.
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
FAULT_KINDS = frozenset({
    "retry_after", "blocked", "not_started", "migrated", "chat_not_found", "timeout",
    "timeout_after", "server_error", "network",
})
SERVICE_KEYS = frozenset({
    "new_chat_members", "left_chat_member", "new_chat_title", "new_chat_photo",
    "delete_chat_photo", "group_chat_created", "supergroup_chat_created", "migrate_to_chat_id",
    "migrate_from_chat_id", "pinned_message",
})
MSG_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
# Parameters that are plain strings on the wire and must not be JSON-decoded.
_STR_PARAMS = frozenset({
    "text", "caption", "parse_mode", "callback_query_id", "url", "name", "file_name",
    "language_code", "action", "title", "description", "short_description", "invite_link",
    "document", "photo", "file_id", "secret_token", "data", "inline_message_id",
    "custom_title", "emoji", "query", "ip_address", "business_connection_id",
})
_ACTIVE = frozenset({"creator", "administrator", "member", "restricted"})


# --------------------------------------------------------------------------- records


@dataclass
class Sent:
    """One successful call the bot made that changed a chat (send, edit, delete, answer).

    ``text`` is the visible text (entities parsed out; the caption for media); the raw
    parameters are in ``params``.
    """

    method: str
    chat_id: int | None
    message_id: int | None
    text: str | None
    parse_mode: str | None
    reply_markup: JSONDict | None
    params: JSONDict
    date: int


@dataclass
class Call:
    """Every call that reached the emulator, including failed ones (``status`` 0: transport)."""

    method: str
    chat_id: int | str | None
    status: int


@dataclass
class Fault:
    """An injected failure; see :meth:`Emulator.inject`."""

    method: str | None
    chat_id: int | None
    error: str
    times: int | None
    retry_after: int = 3
    migrate_to: int | None = None


@dataclass
class StoredFile:
    """A file known to the emulator (uploaded by the bot or sent by a user)."""

    file_id: str
    file_unique_id: str
    file_path: str
    file_name: str | None
    mime_type: str | None
    data: bytes
    file_size: int


@dataclass
class Upload:
    """A file part of a multipart request."""

    file_name: str
    data: bytes
    mime_type: str | None = None


class ApiError(Exception):
    """A Bot API error answer (``{"ok": false, ...}``)."""

    def __init__(self, code: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> JSONDict:
        """The JSON body Telegram sends for this error."""
        body: JSONDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class TransportFault(Exception):
    """Raised by :meth:`Emulator.call` for injected transport failures (``timeout``/``network``)."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


def _bad(description: str, parameters: JSONDict | None = None) -> ApiError:
    return ApiError(400, f"Bad Request: {description}", parameters)


def _forbidden(description: str) -> ApiError:
    return ApiError(403, f"Forbidden: {description}")


def _too_many(seconds: float) -> ApiError:
    n = max(1, math.ceil(seconds))
    return ApiError(429, f"Too Many Requests: retry after {n}", {"retry_after": n})


def _snap(obj: Any) -> Any:
    """Deep copy of a JSON-like value (dicts, lists and scalars only: faster than deepcopy)."""
    if isinstance(obj, dict):
        return {key: _snap(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_snap(value) for value in obj]
    return obj


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (what entity offsets count)."""
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------- formatting

_HTML_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "a": "text_link", "code": "code", "pre": "pre", "span": "spoiler", "tg-spoiler": "spoiler",
    "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}
_HTML_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|lt|gt|amp|quot);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class ParseError(Exception):
    """Entity parsing failed; the message follows ``can't parse entities: ``."""


def _decode_entity(match: re.Match[str]) -> str:
    body = match.group(1)
    if body in _NAMED:
        return _NAMED[body]
    code = int(body[2:], 16) if body[1] in "xX" else int(body[1:])
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return match.group(0)
    return chr(code)


def parse_html(src: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram HTML into plain text and entities (UTF-16 offsets), like tdlib.

    A bare ``&`` that starts no known entity is kept literally (as Telegram does).
    """
    out: list[str] = []
    pos = 0  # UTF-16 offset in the output
    stack: list[tuple[str, int, JSONDict]] = []
    entities: list[JSONDict] = []
    i, n = 0, len(src)

    def byte_offset(index: int) -> int:
        return len(src[:index].encode("utf-8"))

    def emit(chunk: str) -> None:
        nonlocal pos
        out.append(chunk)
        pos += utf16_len(chunk)

    while i < n:
        ch = src[i]
        if ch == "&":
            m = _HTML_ENTITY.match(src, i)
            if m:
                emit(_decode_entity(m))
                i = m.end()
                continue
        if ch != "<":
            stop = i + 1
            while stop < n and src[stop] not in "<&":
                stop += 1
            emit(src[i:stop])
            i = stop
            continue
        begin = i
        i += 1
        if i < n and src[i] == "/":
            if not stack:
                raise ParseError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
            j = i + 1
            while j < n and not src[j].isspace() and src[j] != ">":
                j += 1
            name = src[i + 1 : j].lower()
            while j < n and src[j].isspace():
                j += 1
            if j >= n or src[j] != ">":
                raise ParseError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
            tag, start, attrs = stack[-1]
            if name and name != tag:
                raise ParseError(
                    f"Unmatched end tag at byte offset {byte_offset(begin)}, "
                    f'expected "</{tag}>", found "</{name}>"'
                )
            stack.pop()
            i = j + 1
            _close_html_tag(tag, attrs, start, pos, "".join(out), stack, entities)
            continue
        j = i
        while j < n and not src[j].isspace() and src[j] != ">":
            j += 1
        if j >= n:
            raise ParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
        name = src[i:j].lower()
        if name not in _HTML_TAGS:
            raise ParseError(f'Unsupported start tag "{name}" at byte offset {byte_offset(begin)}')
        attrs, j = _html_attrs(src, j, name, byte_offset(begin))
        i = j + 1
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise ParseError(f'Tag "span" must have class "tg-spoiler" at byte offset '
                             f"{byte_offset(begin)}")
        if name == "tg-emoji" and not attrs.get("emoji-id"):
            raise ParseError(f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset '
                             f"{byte_offset(begin)}")
        stack.append((name, pos, attrs))
    if stack:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), _sort_entities(entities)


def _html_attrs(src: str, j: int, tag: str, begin: int) -> tuple[JSONDict, int]:
    """Read attributes from ``src[j:]`` up to the closing ``>``; return them and its index."""
    attrs: JSONDict = {}
    n = len(src)
    while True:
        while j < n and src[j].isspace():
            j += 1
        if j >= n:
            raise ParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
        if src[j] == ">":
            return attrs, j
        k = j
        while k < n and not src[k].isspace() and src[k] not in "=>":
            k += 1
        key = src[j:k].lower()
        if not key:
            raise ParseError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
        while k < n and src[k].isspace():
            k += 1
        if k >= n or src[k] != "=":
            attrs[key] = ""
            j = k
            continue
        k += 1
        while k < n and src[k].isspace():
            k += 1
        if k < n and src[k] in "\"'":
            end = src.find(src[k], k + 1)
            if end < 0:
                raise ParseError(f"Unclosed start tag at byte offset {begin}")
            attrs[key] = _HTML_ENTITY.sub(_decode_entity, src[k + 1 : end])
            j = end + 1
        else:
            end = k
            while end < n and not src[end].isspace() and src[end] != ">":
                end += 1
            attrs[key] = src[k:end]
            j = end


def _close_html_tag(
    tag: str,
    attrs: JSONDict,
    start: int,
    pos: int,
    text: str,
    stack: list[tuple[str, int, JSONDict]],
    entities: list[JSONDict],
) -> None:
    kind = _HTML_TAGS[tag]
    if tag == "code" and stack and stack[-1][0] == "pre":
        lang = attrs.get("class", "")
        if lang.startswith("language-"):
            stack[-1][2]["_language"] = lang[len("language-"):]
            return
    length = pos - start
    if length <= 0:
        return
    ent: JSONDict = {"offset": start, "length": length, "type": kind}
    if tag == "a":
        url = attrs.get("href") or _utf16_slice(text, start, length)
        ent["url"] = url
    elif tag == "pre" and attrs.get("_language"):
        ent["language"] = attrs["_language"]
    elif tag == "blockquote" and "expandable" in attrs:
        ent["type"] = "expandable_blockquote"
    elif tag == "tg-emoji":
        ent["custom_emoji_id"] = attrs["emoji-id"]
    entities.append(ent)


def _utf16_slice(text: str, offset: int, length: int) -> str:
    raw = text.encode("utf-16-le")
    return raw[offset * 2 : (offset + length) * 2].decode("utf-16-le", "replace")


_MD_NAMES = {
    "*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough", "||": "Spoiler",
    "`": "Code", "```": "Pre", "[": "TextUrl",
}
_MD_TYPES = {
    "*": "bold", "_": "italic", "__": "underline", "~": "strikethrough", "||": "spoiler",
    "`": "code", "```": "pre", "[": "text_link",
}
_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")


def parse_markdown(src: str, v2: bool = True) -> tuple[str, list[JSONDict]]:
    """Parse MarkdownV2 (``v2=True``) or legacy Markdown into plain text and entities."""
    out: list[str] = []
    pos = 0
    stack: list[tuple[str, int, int, JSONDict]] = []  # marker, utf16 start, byte offset, extra
    entities: list[JSONDict] = []
    i, n = 0, len(src)
    markers = ("```", "||", "__", "*", "_", "~", "`") if v2 else ("```", "*", "_", "`")

    def emit(chunk: str) -> None:
        nonlocal pos
        out.append(chunk)
        pos += utf16_len(chunk)

    def close(marker: str) -> None:
        _, start, _, extra = stack.pop()
        if pos > start:
            ent: JSONDict = {"offset": start, "length": pos - start, "type": _MD_TYPES[marker]}
            ent.update(extra)
            entities.append(ent)

    while i < n:
        ch = src[i]
        top = stack[-1][0] if stack else None
        if ch == "\\" and i + 1 < n and (v2 or src[i + 1] in "_*`["):
            if v2 and ord(src[i + 1]) > 126:
                raise ParseError("Character '\\' is reserved and must be escaped with the "
                                 "preceding '\\'")
            emit(src[i + 1])
            i += 2
            continue
        if top in ("`", "```"):
            if src.startswith(top, i):
                close(top)
                i += len(top)
            else:
                emit(ch)
                i += 1
            continue
        marker = next((m for m in markers if src.startswith(m, i)), None)
        if marker == "```":
            extra: JSONDict = {}
            nl = src.find("\n", i + 3)
            lang = src[i + 3 : nl] if nl >= 0 else ""
            if nl >= 0 and lang and not any(c.isspace() for c in lang):
                extra["language"] = lang
                i = nl + 1
            else:
                i += 3
            stack.append(("```", pos, len(src[:i].encode()), extra))
            continue
        if marker is not None:
            if top == marker:
                close(marker)
            else:
                stack.append((marker, pos, len(src[:i].encode()), {}))
            i += len(marker)
            continue
        if ch == "[":
            stack.append(("[", pos, len(src[:i].encode()), {}))
            i += 1
            continue
        if ch == "]" and top == "[":
            if i + 1 >= n or src[i + 1] != "(":
                if v2:
                    raise ParseError("Character ']' is reserved and must be escaped with the "
                                     "preceding '\\'")
                stack.pop()
                i += 1
                continue
            j = i + 2
            url_chars: list[str] = []
            while j < n and src[j] != ")":
                if src[j] == "\\" and j + 1 < n:
                    j += 1
                url_chars.append(src[j])
                j += 1
            if j >= n:
                raise ParseError(f"Can't find end of a URL at byte offset {len(src[:i].encode())}")
            stack[-1][3]["url"] = "".join(url_chars)
            close("[")
            i = j + 1
            continue
        if v2 and ch in _MDV2_RESERVED:
            raise ParseError(f"Character '{ch}' is reserved and must be escaped with the "
                             "preceding '\\'")
        emit(ch)
        i += 1
    if stack:
        marker, _, offset, _ = stack[-1]
        if v2:
            raise ParseError(
                f"Can't find end of {_MD_NAMES[marker]} entity at byte offset {offset}")
        raise ParseError(f"Can't find end of the entity starting at byte offset {offset}")
    return "".join(out), _sort_entities(entities)


def _sort_entities(entities: list[JSONDict]) -> list[JSONDict]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


_AUTO_PATTERNS = (
    ("bot_command", re.compile(r"(?<![\w/@])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?!\w)")),
    ("url", re.compile(r"\bhttps?://[^\s<>\"]+[^\s<>\".,;:!?)\]}'，。）]")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}(?!\w)")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d]\w*")),
)
_NO_AUTO_INSIDE = frozenset({"code", "pre", "text_link", "text_mention", "custom_emoji", "url"})


def auto_entities(text: str, existing: Iterable[JSONDict] = ()) -> list[JSONDict]:
    """Entities Telegram detects by itself: bot commands, URLs, @mentions and hashtags."""
    blocked = [(e["offset"], e["offset"] + e["length"]) for e in existing
               if e["type"] in _NO_AUTO_INSIDE]
    found: list[JSONDict] = []
    for kind, pattern in _AUTO_PATTERNS:
        for m in pattern.finditer(text):
            off = utf16_len(text[: m.start()])
            length = utf16_len(m.group(0))
            end = off + length
            if any(a < end and off < b for a, b in blocked):
                continue
            found.append({"offset": off, "length": length, "type": kind})
            blocked.append((off, end))
    return found


def _strip(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Trim surrounding whitespace as Telegram does, moving entities accordingly."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    result = []
    for ent in entities:
        start = max(0, ent["offset"] - lead)
        end = min(total, ent["offset"] + ent["length"] - lead)
        if end > start:
            result.append({**ent, "offset": start, "length": end - start})
    return stripped, result


# --------------------------------------------------------------------------- multipart


def _disposition_param(header: str, key: str) -> str | None:
    m = re.search(rf"(?:^|;)\s*{key}\*=([^;]+)", header, re.I)
    if m:
        value = m.group(1).strip().strip('"')
        if "''" in value:
            value = value.split("''", 1)[1]
        return unquote(value)
    m = re.search(rf'(?:^|;)\s*{key}="((?:[^"\\]|\\.)*)"', header, re.I)
    if m:
        value = m.group(1).replace('\\"', '"')
        return value.replace("%22", '"').replace("%0A", "\n").replace("%0D", "\r")
    m = re.search(rf"(?:^|;)\s*{key}=([^;\s]+)", header, re.I)
    return m.group(1) if m else None


def parse_multipart(body: bytes, content_type: str) -> tuple[JSONDict, dict[str, Upload]]:
    """Split a ``multipart/form-data`` body into plain fields and file uploads."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        return {}, {}
    delim = b"--" + m.group(1).encode()
    fields: JSONDict = {}
    uploads: dict[str, Upload] = {}
    for part in body.split(delim)[1:]:
        if part.startswith(b"--"):
            break
        if part.startswith(b"\r\n"):
            part = part[2:]
        head, _, data = part.partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        disposition = headers.get("content-disposition", "")
        name = _disposition_param(disposition, "name")
        if name is None:
            continue
        filename = _disposition_param(disposition, "filename")
        if filename is None:
            fields[name] = data.decode("utf-8", "replace")
        else:
            uploads[name] = Upload(filename, data, headers.get("content-type"))
    return fields, uploads


# --------------------------------------------------------------------------- emulator


class Emulator:
    """The emulated Telegram world plus a Bot API dispatcher (:meth:`call`)."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        bot_id: int = 7481203956,
        bot_username: str = "TowerTestBot",
        bot_name: str = "塔群助手测试",
        clock: Callable[[], float] = time.time,
        *,
        limits: bool = True,
        per_chat_per_second: float | None = 1.0,
        per_chat_burst: int = 3,
        group_per_minute: int | None = 20,
        group_edits_per_minute: int | None = 20,
        global_per_second: float | None = None,
        privacy_mode: bool = True,
        seed: int | None = 0,
    ) -> None:
        self.token = token
        self.clock = clock
        self.bot_user: JSONDict = {
            "id": bot_id, "is_bot": True, "first_name": bot_name, "username": bot_username,
        }
        self.limits = limits
        self.per_chat_per_second = per_chat_per_second
        self.per_chat_burst = per_chat_burst
        self.group_per_minute = group_per_minute
        self.group_edits_per_minute = group_edits_per_minute
        self.global_per_second = global_per_second
        self.privacy_mode = privacy_mode
        self.latency = 0.0
        #: Seconds the HTTP server stalls on an injected ``timeout`` before dropping the socket.
        self.http_timeout_delay = 30.0
        self.rng = random.Random(seed)

        self.users: dict[int, JSONDict] = {}
        self.chats: dict[int, JSONDict] = {}
        self.members: dict[int, dict[int, str]] = {}
        self.messages: dict[tuple[int, int], JSONDict] = {}
        self.files: dict[str, StoredFile] = {}
        self.invite_links: dict[str, JSONDict] = {}
        self.started: set[int] = set()
        self.blocked: set[int] = set()
        self.migrated: dict[int, int] = {}
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.webhook_url = ""
        self.allowed_updates: list[str] | None = None
        self.pending_updates: list[JSONDict] = []
        self.next_update_id = self.rng.randint(100_000_000, 900_000_000)

        self.sent: list[Sent] = []
        self.calls: list[Call] = []
        self.callback_answers: list[JSONDict] = []
        self.documents: list[JSONDict] = []
        self.errors_returned = 0
        self.faults: list[Fault] = []

        self._msg_ids: dict[int, int] = {}
        self._chat_instances: dict[int, str] = {}
        self._primary_links: dict[int, str] = {}
        self._queries: dict[str, JSONDict] = {}
        self._send_times: dict[int, deque[float]] = {}
        self._edit_times: dict[int, deque[float]] = {}
        self._buckets: dict[int, tuple[float, float]] = {}
        self._global_times: deque[float] = deque()
        self._update_event = asyncio.Event()
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self.base_url: str | None = None
        self._handlers: dict[str, tuple[str, Callable[..., Any]]] = {
            name.lower(): (name, fn) for name, fn in {
                "getMe": self._get_me,
                "logOut": self._true,
                "close": self._true,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "answerCallbackQuery": self._answer_callback_query,
                "getChat": self._get_chat,
                "getChatMember": self._get_chat_member,
                "getChatMemberCount": self._get_chat_member_count,
                "getChatAdministrators": self._get_chat_administrators,
                "exportChatInviteLink": self._export_chat_invite_link,
                "createChatInviteLink": self._create_chat_invite_link,
                "sendDocument": self._send_document,
                "sendPhoto": self._send_photo,
                "getFile": self._get_file,
                "leaveChat": self._leave_chat,
                "sendChatAction": self._send_chat_action,
            }.items()
        }

    # ------------------------------------------------------------------ world building

    def now(self) -> int:
        """Current time from the injected clock, in integer seconds."""
        return int(self.clock())

    def _unique(self, low: int, high: int, taken: Iterable[int]) -> int:
        used = set(taken)
        while True:
            value = self.rng.randint(low, high)
            if value not in used:
                return value

    def add_user(
        self,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh-hans",
        user_id: int | None = None,
    ) -> JSONDict:
        """Create a user (and its private chat with the bot); return the User dict."""
        uid = user_id or self._unique(5_000_000_000, 7_999_999_999, [*self.users, *self.chats])
        user: JSONDict = {"id": uid, "is_bot": False, "first_name": first_name}
        chat: JSONDict = {"id": uid, "first_name": first_name}
        if last_name:
            user["last_name"] = chat["last_name"] = last_name
        if username:
            user["username"] = chat["username"] = username
        if language_code:
            user["language_code"] = language_code
        chat["type"] = "private"
        self.users[uid] = user
        self.chats[uid] = chat
        return _snap(user)

    def add_group(
        self,
        title: str,
        members: Iterable[UserRef] = (),
        type: str = "group",  # noqa: A002 - Telegram's field name
        chat_id: int | None = None,
        bot_status: str = "member",
        *,
        all_members_are_administrators: bool = True,
        username: str | None = None,
    ) -> JSONDict:
        """Create a ``group`` or ``supergroup`` with the given members; return the Chat dict."""
        if type not in ("group", "supergroup"):
            raise ValueError(f"unsupported chat type {type!r}")
        if chat_id is None:
            if type == "group":
                chat_id = -self._unique(4_000_000_000, 5_999_999_999, [-c for c in self.chats])
            else:
                chat_id = self._new_supergroup_id()
        chat: JSONDict = {"id": chat_id, "title": title}
        if username:
            chat["username"] = username
        chat["type"] = type
        if type == "group":
            chat["all_members_are_administrators"] = all_members_are_administrators
        self.chats[chat_id] = chat
        self.members[chat_id] = {self._uid(m): "member" for m in members}
        self.members[chat_id][self.bot_user["id"]] = bot_status
        return _snap(chat)

    def _new_supergroup_id(self) -> int:
        return -(1_000_000_000_000 + self._unique(
            2_000_000_000, 2_999_999_999, [-c - 1_000_000_000_000 for c in self.chats]))

    def set_member(self, chat_id: ChatRef, user_id: UserRef, status: str) -> None:
        """Set a member's status (creator/administrator/member/restricted/left/kicked)."""
        self.members.setdefault(self._cid(chat_id), {})[self._uid(user_id)] = status

    def status_of(self, chat: ChatRef, user: UserRef) -> str:
        """Membership status of ``user`` in ``chat`` (``left`` when unknown)."""
        cid = self._cid(chat)
        if cid > 0:
            return "member"
        return self.members.get(cid, {}).get(self._uid(user), "left")

    @staticmethod
    def _cid(chat: ChatRef) -> int:
        return int(chat["id"]) if isinstance(chat, dict) else int(chat)

    @staticmethod
    def _uid(user: UserRef) -> int:
        return int(user["id"]) if isinstance(user, dict) else int(user)

    def _user(self, user: UserRef) -> JSONDict:
        uid = self._uid(user)
        if uid == self.bot_user["id"]:
            return self.bot_user
        if uid == GROUP_ANONYMOUS_BOT["id"]:
            return GROUP_ANONYMOUS_BOT
        return self.users[uid]

    def _chat(self, chat: ChatRef | None, user: JSONDict | None = None) -> JSONDict:
        if chat is None:
            if user is None:
                raise ValueError("chat is required")
            return self.chats[user["id"]]
        return self.chats[self._cid(chat)]

    def bot_status(self, chat: ChatRef) -> str:
        """The bot's membership status in ``chat``."""
        return self.status_of(chat, self.bot_user["id"])

    def chat_instance(self, chat: ChatRef) -> str:
        """The stable ``chat_instance`` string used for callback queries from ``chat``."""
        cid = self._cid(chat)
        if cid not in self._chat_instances:
            self._chat_instances[cid] = str(self.rng.randint(-(2**63), 2**63 - 1))
        return self._chat_instances[cid]

    def member_object(self, chat: ChatRef, user: UserRef, status: str | None = None) -> JSONDict:
        """A ChatMember dict as getChatMember returns it."""
        u = _snap(self._user(user))
        status = status or self.status_of(chat, user)
        obj: JSONDict = {"user": u, "status": status}
        if status == "creator":
            obj["is_anonymous"] = False
        elif status == "administrator":
            obj.update({
                "can_be_edited": False, "is_anonymous": False, "can_manage_chat": True,
                "can_delete_messages": True, "can_manage_video_chats": True,
                "can_restrict_members": True, "can_promote_members": False,
                "can_change_info": True, "can_invite_users": True, "can_post_stories": False,
                "can_edit_stories": False, "can_delete_stories": False,
                "can_pin_messages": True,
            })
            if self.chats.get(self._cid(chat), {}).get("type") == "supergroup":
                obj["can_manage_topics"] = False
        elif status == "restricted":
            obj.update({
                "is_member": True, "can_send_messages": False, "can_send_audios": False,
                "can_send_documents": False, "can_send_photos": False, "can_send_videos": False,
                "can_send_video_notes": False, "can_send_voice_notes": False,
                "can_send_polls": False, "can_send_other_messages": False,
                "can_add_web_page_previews": False, "can_change_info": False,
                "can_invite_users": False, "can_pin_messages": False, "can_manage_topics": False,
                "can_edit_tag": False, "until_date": 0,
            })
        elif status == "kicked":
            obj["until_date"] = 0
        return obj

    # ------------------------------------------------------------------ messages & updates

    def _store_message(
        self,
        chat: JSONDict,
        sender: JSONDict,
        content: JSONDict,
        reply_to: JSONDict | None = None,
        sender_chat: JSONDict | None = None,
    ) -> JSONDict:
        cid = chat["id"]
        mid = self._msg_ids.get(cid, 0) + 1
        self._msg_ids[cid] = mid
        msg: JSONDict = {"message_id": mid, "from": _snap(sender)}
        if sender_chat is not None:
            msg["sender_chat"] = _snap(sender_chat)
        msg["chat"] = _snap(chat)
        msg["date"] = self.now()
        if reply_to is not None:
            msg["reply_to_message"] = reply_to
        msg.update(_snap(content))
        self.messages[(cid, mid)] = msg
        return _snap(msg)

    def _reply_copy(self, message: JSONDict) -> JSONDict:
        key = (message["chat"]["id"], message["message_id"])
        stored = self.messages.get(key, message)
        return {k: _snap(v) for k, v in stored.items() if k != "reply_to_message"}

    def _emit(self, kind: str, payload: JSONDict, visible: bool = True) -> JSONDict:
        update = {"update_id": self.next_update_id, kind: _snap(payload)}
        self.next_update_id += 1
        if visible:
            self.pending_updates.append(update)
            self._wake()
        return _snap(update)

    def _wake(self) -> None:
        event, self._update_event = self._update_event, asyncio.Event()
        event.set()

    def _visible(self, chat: JSONDict, msg: JSONDict) -> bool:
        """Whether the bot receives ``msg`` (membership and privacy mode)."""
        if chat["type"] == "private":
            return True
        status = self.bot_status(chat)
        if status not in _ACTIVE:
            return False
        if not self.privacy_mode or status in ("administrator", "creator"):
            return True
        if SERVICE_KEYS & msg.keys():
            return True
        reply = msg.get("reply_to_message")
        if reply and reply.get("from", {}).get("id") == self.bot_user["id"]:
            return True
        text = msg.get("text") or msg.get("caption") or ""
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            _, at, target = command.partition("@")
            return not at or target.lower() == self.bot_user["username"].lower()
        return False

    def _user_message(
        self,
        user: UserRef,
        chat: ChatRef | None,
        content: JSONDict,
        reply_to: JSONDict | None = None,
    ) -> JSONDict:
        u = self._user(user)
        c = self._chat(chat, u)
        if c["type"] == "private":
            if u["id"] in self.blocked:
                self.user_unblocked_bot(u)
            self.started.add(u["id"])
        elif self.status_of(c, u) not in _ACTIVE:
            self.set_member(c, u, "member")
        reply = self._reply_copy(reply_to) if reply_to else None
        msg = self._store_message(c, u, content, reply)
        return self._emit("message", msg, self._visible(c, msg))

    def text(
        self,
        user: UserRef,
        chat: ChatRef | None,
        text: str,
        reply_to: JSONDict | None = None,
    ) -> JSONDict:
        """A user sends ``text`` (``chat`` None: the user's private chat with the bot)."""
        content: JSONDict = {"text": text}
        entities = _sort_entities(auto_entities(text))
        if entities:
            content["entities"] = entities
        return self._user_message(user, chat, content, reply_to)

    command = text

    def contact(self, user: UserRef, phone: str, chat: ChatRef | None = None) -> JSONDict:
        """A user shares their own contact (as through a ``request_contact`` button)."""
        u = self._user(user)
        contact: JSONDict = {"phone_number": phone, "first_name": u["first_name"]}
        if u.get("last_name"):
            contact["last_name"] = u["last_name"]
        contact["user_id"] = u["id"]
        return self._user_message(u, chat, {"contact": contact})

    def _register_file(
        self, kind: str, data: bytes, file_name: str | None, mime_type: str | None,
        size: int | None = None,
    ) -> StoredFile:
        prefix = {"document": "BQACAgUAAxkBAAI", "photo": "AgACAgUAAxkBAAI"}[kind]
        alphabet = string.ascii_letters + string.digits + "-_"
        file_id = prefix + "".join(self.rng.choice(alphabet) for _ in range(57))
        unique = "AgAD" + "".join(self.rng.choice(alphabet) for _ in range(11))
        ext = (file_name.rsplit(".", 1)[-1] if file_name and "." in file_name
               else ("jpg" if kind == "photo" else "bin"))
        folder = "photos" if kind == "photo" else "documents"
        stored = StoredFile(
            file_id=file_id, file_unique_id=unique,
            file_path=f"{folder}/file_{len(self.files)}.{ext}", file_name=file_name,
            mime_type=mime_type, data=data, file_size=size if size is not None else len(data),
        )
        self.files[file_id] = stored
        return stored

    def document(
        self,
        user: UserRef,
        chat: ChatRef | None,
        file_name: str,
        mime_type: str = "application/pdf",
        file_size: int = 1234,
        caption: str | None = None,
        content: bytes | None = None,
    ) -> JSONDict:
        """A user sends a document (``content`` defaults to ``file_size`` zero bytes)."""
        data = content if content is not None else bytes(file_size)
        stored = self._register_file("document", data, file_name, mime_type, len(data))
        body: JSONDict = {"document": self._document_obj(stored)}
        if caption:
            body["caption"] = caption
            entities = auto_entities(caption)
            if entities:
                body["caption_entities"] = _sort_entities(entities)
        return self._user_message(user, chat, body)

    def photo(
        self,
        user: UserRef,
        chat: ChatRef | None,
        caption: str | None = None,
        width: int = 1280,
        height: int = 960,
        content: bytes | None = None,
    ) -> JSONDict:
        """A user sends a photo."""
        data = content if content is not None else bytes(2048)
        stored = self._register_file("photo", data, None, "image/jpeg")
        body: JSONDict = {"photo": self._photo_sizes(stored, width, height)}
        if caption:
            body["caption"] = caption
        return self._user_message(user, chat, body)

    def location(
        self,
        user: UserRef,
        chat: ChatRef | None,
        latitude: float,
        longitude: float,
        live_period: int | None = None,
        horizontal_accuracy: float | None = None,
    ) -> JSONDict:
        """A user sends a (live, when ``live_period`` is set) location."""
        loc: JSONDict = {"latitude": latitude, "longitude": longitude}
        if live_period is not None:
            loc["live_period"] = live_period
        if horizontal_accuracy is not None:
            loc["horizontal_accuracy"] = horizontal_accuracy
        return self._user_message(user, chat, {"location": loc})

    def press(self, user: UserRef, message: JSONDict, data: str) -> JSONDict:
        """A user presses an inline button with ``data`` on the bot's ``message``."""
        u = self._user(user)
        cid = message["chat"]["id"]
        stored = self.messages.get((cid, message["message_id"]))
        if stored is None:  # deleted: Telegram sends an InaccessibleMessage
            shown: JSONDict = {"chat": _snap(message["chat"]),
                               "message_id": message["message_id"], "date": 0}
        else:
            shown = _snap(stored)
        query_id = str(self.rng.randint(10**18, 9 * 10**18))
        self._queries[query_id] = {"answered": False, "chat_id": cid, "user_id": u["id"]}
        query = {"id": query_id, "from": _snap(u), "message": shown,
                 "chat_instance": self.chat_instance(cid), "data": data}
        return self._emit("callback_query", query)

    def _member_update(
        self, kind: str, chat: JSONDict, by: JSONDict, subject: JSONDict, new_status: str,
        invite_link: JSONDict | None = None,
    ) -> JSONDict:
        old = self.member_object(chat, subject)
        if chat["type"] != "private":
            self.set_member(chat, subject, new_status)
        body: JSONDict = {
            "chat": _snap(chat), "from": _snap(by), "date": self.now(),
            "old_chat_member": old,
            "new_chat_member": self.member_object(chat, subject, new_status),
        }
        if invite_link:
            body["invite_link"] = _snap(invite_link)
        visible = True
        if kind == "chat_member":
            visible = self.bot_status(chat) in ("administrator", "creator")
        return self._emit(kind, body, visible)

    def bot_added(self, chat: ChatRef, by_user: UserRef, status: str = "member") -> JSONDict:
        """``by_user`` adds the bot to ``chat`` (``my_chat_member`` update)."""
        return self._member_update("my_chat_member", self._chat(chat), self._user(by_user),
                                   self.bot_user, status)

    def bot_removed(self, chat: ChatRef, by_user: UserRef) -> JSONDict:
        """``by_user`` removes the bot: ``left`` in basic groups, ``kicked`` in supergroups."""
        c = self._chat(chat)
        status = "left" if c["type"] == "group" else "kicked"
        return self._member_update("my_chat_member", c, self._user(by_user), self.bot_user,
                                   status)

    def user_blocked_bot(self, user: UserRef) -> JSONDict:
        """The user blocks the bot (private ``my_chat_member`` member → kicked)."""
        u = self._user(user)
        c = self._chat(None, u)
        body = {"chat": _snap(c), "from": _snap(u), "date": self.now(),
                "old_chat_member": self.member_object(c, self.bot_user, "member"),
                "new_chat_member": self.member_object(c, self.bot_user, "kicked")}
        self.blocked.add(u["id"])
        return self._emit("my_chat_member", body)

    def user_unblocked_bot(self, user: UserRef) -> JSONDict:
        """The user unblocks the bot (private ``my_chat_member`` kicked → member)."""
        u = self._user(user)
        c = self._chat(None, u)
        body = {"chat": _snap(c), "from": _snap(u), "date": self.now(),
                "old_chat_member": self.member_object(c, self.bot_user, "kicked"),
                "new_chat_member": self.member_object(c, self.bot_user, "member")}
        self.blocked.discard(u["id"])
        return self._emit("my_chat_member", body)

    def user_joined(
        self, chat: ChatRef, user: UserRef, invite_link: str | JSONDict | None = None
    ) -> JSONDict:
        """``chat_member`` update for a join (queued only when the bot is an admin there)."""
        link = self.invite_links.get(invite_link) if isinstance(invite_link, str) else invite_link
        u = self._user(user)
        return self._member_update("chat_member", self._chat(chat), u, u, "member", link)

    def user_left(self, chat: ChatRef, user: UserRef) -> JSONDict:
        """``chat_member`` update for a user leaving ``chat``."""
        u = self._user(user)
        return self._member_update("chat_member", self._chat(chat), u, u, "left")

    def migrate(self, chat: ChatRef, by_user: UserRef | None = None) -> JSONDict:
        """Upgrade a basic group to a supergroup; queue both service messages; return new chat."""
        old = self._chat(chat)
        if old["type"] != "group" or old["id"] in self.migrated:
            raise ValueError("only a basic group that has not migrated yet can migrate")
        new_id = self._new_supergroup_id()
        new = {"id": new_id, "title": old["title"], "type": "supergroup"}
        self.chats[new_id] = new
        self.members[new_id] = dict(self.members.get(old["id"], {}))
        if by_user is None:
            roster = self.members.get(old["id"], {})
            ranked = sorted((u for u in roster if u in self.users),
                            key=lambda u: ("creator", "administrator", "member").index(roster[u])
                            if roster[u] in ("creator", "administrator", "member") else 3)
            by = self.users[ranked[0]] if ranked else GROUP_ANONYMOUS_BOT
        else:
            by = self._user(by_user)
        visible = self.bot_status(old) in _ACTIVE
        m1 = self._store_message(old, by, {"migrate_to_chat_id": new_id})
        self.migrated[old["id"]] = new_id
        m2 = self._store_message(new, GROUP_ANONYMOUS_BOT, {"migrate_from_chat_id": old["id"]},
                                 sender_chat=new)
        self._emit("message", m1, visible)
        self._emit("message", m2, visible)
        return _snap(new)

    def title(self, chat: ChatRef, new_title: str, by_user: UserRef) -> JSONDict:
        """``by_user`` renames ``chat``: ``new_chat_title`` service message."""
        c = self._chat(chat)
        c["title"] = new_title
        u = self._user(by_user)
        msg = self._store_message(c, u, {"new_chat_title": new_title})
        return self._emit("message", msg, self._visible(c, msg))

    async def deliver(self, app: Any, update: JSONDict) -> None:
        """Feed ``update`` to a PTB ``Application`` as if it came over the wire.

        The update is JSON round-tripped, removed from :attr:`pending_updates` (so polling will
        not deliver it again), and passed to ``app.process_update``.
        """
        from telegram import Update

        data = json.loads(json.dumps(update, ensure_ascii=True))
        self.pending_updates[:] = [
            u for u in self.pending_updates if u["update_id"] != update["update_id"]
        ]
        await app.process_update(Update.de_json(data, app.bot))

    # ------------------------------------------------------------------ inspection

    def messages_to(self, chat_id: ChatRef, method: str | None = "sendMessage") -> list[Sent]:
        """Successful records to ``chat_id`` (of ``method``; None: any method)."""
        cid = self._cid(chat_id)
        return [s for s in self.sent if s.chat_id == cid and (method is None or s.method == method)]

    def last_to(self, chat_id: ChatRef, method: str | None = "sendMessage") -> Sent | None:
        """The latest record to ``chat_id`` (of ``method``), or None."""
        found = self.messages_to(chat_id, method)
        return found[-1] if found else None

    def message(self, chat_id: ChatRef, message_id: int) -> JSONDict | None:
        """The stored (current) version of a message, or None if absent or deleted."""
        stored = self.messages.get((self._cid(chat_id), message_id))
        return _snap(stored) if stored else None

    def clear_sent(self) -> None:
        """Forget recorded calls, sends, callback answers, documents and the error count."""
        self.sent.clear()
        self.calls.clear()
        self.callback_answers.clear()
        self.documents.clear()
        self.errors_returned = 0

    # ------------------------------------------------------------------ faults

    def inject(
        self,
        method: str | None = "sendMessage",
        chat_id: ChatRef | None = None,
        error: str = "retry_after",
        times: int | None = 1,
        retry_after: int = 3,
        migrate_to: int | None = None,
    ) -> Fault:
        """Make the next ``times`` matching calls fail (``times`` None: forever).

        Kinds: retry_after, blocked, not_started, migrated, chat_not_found, server_error,
        timeout (no answer; in-process raises ``TimedOut``), timeout_after (the call takes
        effect, then times out), network (in-process raises ``NetworkError``; HTTP drops the
        connection).
        """
        if error not in FAULT_KINDS:
            raise ValueError(f"unknown fault {error!r}")
        fault = Fault(method, None if chat_id is None else self._cid(chat_id), error, times,
                      retry_after, migrate_to)
        self.faults.append(fault)
        return fault

    def _take_fault(self, method: str, chat_id: Any) -> Fault | None:
        for fault in self.faults:
            if fault.method is not None and fault.method.lower() != method.lower():
                continue
            if fault.chat_id is not None and fault.chat_id != chat_id:
                continue
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
            return fault
        return None

    def _raise_fault(self, fault: Fault, chat_id: Any) -> None:
        kind = fault.error
        if kind == "retry_after":
            raise _too_many(fault.retry_after)
        if kind == "blocked":
            raise _forbidden("bot was blocked by the user")
        if kind == "not_started":
            raise _forbidden("bot can't initiate conversation with a user")
        if kind == "chat_not_found":
            raise _bad("chat not found")
        if kind == "server_error":
            raise ApiError(500, "Internal Server Error")
        if kind in ("timeout", "network"):
            raise TransportFault(kind)
        if kind == "migrated":
            new_id = fault.migrate_to
            if new_id is None and isinstance(chat_id, int):
                if chat_id in self.migrated:
                    new_id = self.migrated[chat_id]
                elif self.chats.get(chat_id, {}).get("type") == "group":
                    new_id = self.migrate(chat_id)["id"]
            if new_id is None:
                new_id = self._new_supergroup_id()
            raise _bad("group chat was upgraded to a supergroup chat",
                       {"migrate_to_chat_id": new_id})

    # ------------------------------------------------------------------ dispatch

    async def call(
        self, method: str, params: JSONDict, files: dict[str, Upload] | None = None
    ) -> tuple[int, JSONDict]:
        """Run one Bot API method; return (HTTP status, JSON body).

        Raises :class:`TransportFault` for injected ``timeout``/``network`` faults.
        """
        if self.latency:
            await asyncio.sleep(self.latency)
        entry = self._handlers.get(method.lower())
        name = entry[0] if entry else method
        params = _coerce(params)
        chat_id = params.get("chat_id")
        status, body = 200, {}
        try:
            fault = self._take_fault(name, chat_id)
            if fault is not None and fault.error != "timeout_after":
                self._raise_fault(fault, chat_id)
            if entry is None:
                raise ApiError(404, "Not Found")
            result = entry[1](params, files or {})
            if inspect.isawaitable(result):
                result = await result
            body = {"ok": True, "result": _snap(result)}
            if fault is not None:
                raise TransportFault("timeout")
        except ApiError as exc:
            status, body = exc.code, exc.body()
            self.errors_returned += 1
        except TransportFault:
            self.calls.append(Call(name, chat_id, 0))
            raise
        self.calls.append(Call(name, chat_id, status))
        return status, body

    async def handle(
        self, token: str, method: str, params: JSONDict, files: dict[str, Upload] | None = None
    ) -> tuple[int, JSONDict]:
        """:meth:`call` behind a token check (401 for a wrong token), as transports use it."""
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        return await self.call(method, params, files)

    def file_bytes(self, token: str, path: str) -> bytes | None:
        """Content served at ``/file/bot<token>/<path>`` (None: 404)."""
        if token != self.token:
            return None
        for stored in self.files.values():
            if stored.file_path == path:
                return stored.data
        return None

    # ------------------------------------------------------------------ chat access

    def _target(self, params: JSONDict, *, access: bool = True) -> JSONDict:
        """Resolve ``chat_id`` and check the bot may act there."""
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            wanted = raw[1:].lower()
            found = [c for c in self.chats.values()
                     if c["type"] != "private" and c.get("username", "").lower() == wanted]
            if not found:
                raise _bad("chat not found")
            chat = found[0]
        else:
            try:
                cid = int(raw)
            except (TypeError, ValueError):
                raise _bad("chat not found") from None
            if cid in self.migrated:
                raise _bad("group chat was upgraded to a supergroup chat",
                           {"migrate_to_chat_id": self.migrated[cid]})
            if cid not in self.chats:
                raise _bad("chat not found")
            chat = self.chats[cid]
        if access:
            self._check_access(chat)
        return chat

    def _check_access(self, chat: JSONDict) -> None:
        if chat["type"] == "private":
            if chat["id"] in self.blocked:
                raise _forbidden("bot was blocked by the user")
            if chat["id"] not in self.started:
                raise _forbidden("bot can't initiate conversation with a user")
            return
        status = self.bot_status(chat)
        if status in _ACTIVE:
            return
        kind = "supergroup chat" if chat["type"] == "supergroup" else "group chat"
        if status == "kicked":
            raise _forbidden(f"bot was kicked from the {kind}")
        raise _forbidden(f"bot is not a member of the {kind}")

    # ------------------------------------------------------------------ rate limits

    def _check_send_limit(self, chat: JSONDict) -> None:
        if not self.limits:
            return
        now = self.clock()
        cid = chat["id"]
        waits: list[float] = []
        if chat["type"] != "private" and self.group_per_minute:
            times = self._send_times.setdefault(cid, deque())
            while times and times[0] <= now - 60:
                times.popleft()
            if len(times) >= self.group_per_minute:
                waits.append(times[0] + 60 - now)
        if self.per_chat_per_second:
            tokens = self._tokens(cid, now)
            if tokens < 1:
                waits.append((1 - tokens) / self.per_chat_per_second)
        if self.global_per_second:
            while self._global_times and self._global_times[0] <= now - 1:
                self._global_times.popleft()
            if len(self._global_times) >= self.global_per_second:
                waits.append(self._global_times[0] + 1 - now)
        if waits:
            raise _too_many(max(waits))

    def _tokens(self, cid: int, now: float) -> float:
        assert self.per_chat_per_second
        tokens, last = self._buckets.get(cid, (float(self.per_chat_burst), now))
        return min(float(self.per_chat_burst), tokens + (now - last) * self.per_chat_per_second)

    def _consume_send(self, chat: JSONDict) -> None:
        now = self.clock()
        cid = chat["id"]
        if chat["type"] != "private":
            self._send_times.setdefault(cid, deque()).append(now)
        if self.per_chat_per_second:
            self._buckets[cid] = (self._tokens(cid, now) - 1, now)
        self._global_times.append(now)

    def _check_edit_limit(self, chat: JSONDict) -> None:
        if not self.limits or chat["type"] == "private" or not self.group_edits_per_minute:
            return
        now = self.clock()
        times = self._edit_times.setdefault(chat["id"], deque())
        while times and times[0] <= now - 60:
            times.popleft()
        if len(times) >= self.group_edits_per_minute:
            raise _too_many(times[0] + 60 - now)
        times.append(now)

    # ------------------------------------------------------------------ content checks

    def _format(
        self, text: str, parse_mode: str | None, entities: Any, *, caption: bool = False
    ) -> tuple[str, list[JSONDict]]:
        what = "caption" if caption else "message text"
        mode = (parse_mode or "").lower()
        if entities:
            if not isinstance(entities, list):
                raise _bad("can't parse entities JSON object")
            plain, ents = text, [dict(e) for e in entities]
        else:
            try:
                if mode == "html":
                    plain, ents = parse_html(text)
                elif mode == "markdownv2":
                    plain, ents = parse_markdown(text, v2=True)
                elif mode == "markdown":
                    plain, ents = parse_markdown(text, v2=False)
                elif mode:
                    raise _bad(f"unsupported parse_mode {parse_mode!r}")
                else:
                    plain, ents = text, []
            except ParseError as exc:
                raise _bad(f"can't parse entities: {exc}") from None
        plain, ents = _strip(plain, ents)
        if not plain and not caption:
            raise _bad(f"{what} is empty")
        limit = 1024 if caption else 4096
        if len(plain) > limit:
            raise _bad("message caption is too long" if caption else "message is too long")
        return plain, _sort_entities(ents + auto_entities(plain, ents))

    def _markup(self, markup: Any) -> tuple[JSONDict | None, JSONDict | None]:
        """Validate ``reply_markup``; return (inline markup shown on the message, raw markup)."""
        if markup is None or markup == "":
            return None, None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return None, markup
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of '
                       "Arrays")
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad("can't parse inline keyboard button: Field \"text\" must be of "
                               "type String")
                if "callback_data" in button:
                    size = len(str(button["callback_data"]).encode("utf-8"))
                    if not 1 <= size <= 64:
                        raise _bad("BUTTON_DATA_INVALID")
                elif "url" in button:
                    if not re.match(r"^(https?|tg)://\S+$", str(button["url"])):
                        raise _bad("BUTTON_URL_INVALID")
                elif len(button) == 1:
                    raise _bad("can't parse inline keyboard button: Text buttons are "
                               "unallowed in the inline keyboard")
        return _snap(markup), markup

    def _reply_to(self, chat: JSONDict, params: JSONDict) -> JSONDict | None:
        rp = params.get("reply_parameters")
        if isinstance(rp, dict):
            mid, allow = rp.get("message_id"), bool(rp.get("allow_sending_without_reply"))
        else:
            mid = params.get("reply_to_message_id")
            allow = bool(params.get("allow_sending_without_reply"))
        if mid is None:
            return None
        stored = self.messages.get((chat["id"], int(mid)))
        if stored is None:
            if allow:
                return None
            raise _bad("message to be replied not found")
        return self._reply_copy(stored)

    def _record(self, method: str, chat_id: int | None, message_id: int | None,
                text: str | None, params: JSONDict, markup: JSONDict | None = None) -> None:
        self.sent.append(Sent(method, chat_id, message_id, text, params.get("parse_mode"),
                              markup, params, self.now()))

    # ------------------------------------------------------------------ methods

    def _true(self, params: JSONDict, files: dict[str, Upload]) -> bool:
        return True

    def _get_me(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages":
                not self.privacy_mode, "supports_inline_queries": False,
                "can_connect_to_business": False, "has_main_web_app": False}

    def _allowed(self) -> set[str]:
        if self.allowed_updates:
            return set(self.allowed_updates)
        return set(UPDATE_TYPES) - NOT_BY_DEFAULT

    def _ready_updates(self) -> list[JSONDict]:
        allowed = self._allowed()
        self.pending_updates[:] = [
            u for u in self.pending_updates if (u.keys() - {"update_id"}) & allowed
        ]
        return self.pending_updates

    async def _get_updates(self, params: JSONDict, files: dict[str, Upload]) -> list[JSONDict]:
        if self.webhook_url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is "
                                "active; use deleteWebhook to delete the webhook first")
        if isinstance(params.get("allowed_updates"), list):
            self.allowed_updates = list(params["allowed_updates"])
        offset = int(params.get("offset") or 0)
        limit = min(100, max(1, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        if offset > 0:
            self.pending_updates[:] = [u for u in self.pending_updates
                                       if u["update_id"] >= offset]
        elif offset < 0:
            del self.pending_updates[: max(0, len(self.pending_updates) + offset)]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            ready = self._ready_updates()
            remaining = deadline - loop.time()
            if ready or remaining <= 0:
                return _snap(ready[:limit])
            event = self._update_event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def _set_webhook(self, params: JSONDict, files: dict[str, Upload]) -> bool:
        self.webhook_url = str(params.get("url") or "")
        if isinstance(params.get("allowed_updates"), list):
            self.allowed_updates = list(params["allowed_updates"])
        if params.get("drop_pending_updates"):
            self.pending_updates.clear()
        return True

    def _delete_webhook(self, params: JSONDict, files: dict[str, Upload]) -> bool:
        self.webhook_url = ""
        if params.get("drop_pending_updates"):
            self.pending_updates.clear()
        return True

    def _get_webhook_info(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        info: JSONDict = {"url": self.webhook_url, "has_custom_certificate": False,
                          "pending_update_count": len(self.pending_updates)}
        if self.allowed_updates:
            info["allowed_updates"] = list(self.allowed_updates)
        return info

    @staticmethod
    def _commands_key(params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _set_my_commands(self, params: JSONDict, files: dict[str, Upload]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("can't parse commands JSON object")
        for cmd in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(cmd.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(cmd.get("description", ""))) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _get_my_commands(self, params: JSONDict, files: dict[str, Upload]) -> list[JSONDict]:
        return self.commands.get(self._commands_key(params), [])

    def _delete_my_commands(self, params: JSONDict, files: dict[str, Upload]) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _send_message(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        chat = self._target(params)
        text = params.get("text")
        plain, entities = self._format("" if text is None else str(text),
                                       params.get("parse_mode"), params.get("entities"))
        inline, raw_markup = self._markup(params.get("reply_markup"))
        reply = self._reply_to(chat, params)
        self._check_send_limit(chat)
        content: JSONDict = {"text": plain}
        if entities:
            content["entities"] = entities
        if inline:
            content["reply_markup"] = inline
        msg = self._store_message(chat, self.bot_user, content, reply)
        self._consume_send(chat)
        self._record("sendMessage", chat["id"], msg["message_id"], plain, params, raw_markup)
        return msg

    def _own_message(self, params: JSONDict, verb: str) -> tuple[JSONDict, JSONDict]:
        if params.get("inline_message_id"):
            raise _bad("inline messages are not supported by the emulator")
        chat = self._target(params)
        try:
            mid = int(params.get("message_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise _bad("message identifier is not specified") from None
        msg = self.messages.get((chat["id"], mid))
        if msg is None:
            raise _bad(f"message to {verb} not found")
        return chat, msg

    def _apply_edit(self, chat: JSONDict, msg: JSONDict, content: JSONDict) -> JSONDict:
        """Apply ``content`` to the stored ``msg`` (None values remove keys), set edit_date."""
        self._check_edit_limit(chat)
        rebuilt: JSONDict = {}
        for key, value in msg.items():
            if key == "edit_date" or (key in content and content[key] is None):
                continue
            rebuilt[key] = value
            if key == "date":
                rebuilt["edit_date"] = self.now()
        rebuilt.update({k: v for k, v in content.items() if v is not None})
        msg.clear()
        msg.update(rebuilt)
        return _snap(msg)

    def _edit_message_text(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        chat, msg = self._own_message(params, "edit")
        if msg["from"]["id"] != self.bot_user["id"]:
            raise _bad("message can't be edited")
        if "text" not in msg:
            raise _bad("there is no text in the message to edit")
        text = params.get("text")
        plain, entities = self._format("" if text is None else str(text),
                                       params.get("parse_mode"), params.get("entities"))
        inline, raw_markup = self._markup(params.get("reply_markup"))
        if (plain == msg["text"] and entities == msg.get("entities", [])
                and inline == msg.get("reply_markup")):
            raise _bad(MSG_NOT_MODIFIED)
        result = self._apply_edit(chat, msg, {"text": plain, "entities": entities or None,
                                              "reply_markup": inline})
        self._record("editMessageText", chat["id"], msg["message_id"], plain, params, raw_markup)
        return result

    def _edit_message_reply_markup(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        chat, msg = self._own_message(params, "edit")
        if msg["from"]["id"] != self.bot_user["id"]:
            raise _bad("message can't be edited")
        inline, raw_markup = self._markup(params.get("reply_markup"))
        if inline == msg.get("reply_markup"):
            raise _bad(MSG_NOT_MODIFIED)
        result = self._apply_edit(chat, msg, {"reply_markup": inline})
        self._record("editMessageReplyMarkup", chat["id"], msg["message_id"],
                     msg.get("text"), params, raw_markup)
        return result

    def _delete_message(self, params: JSONDict, files: dict[str, Upload]) -> bool:
        chat, msg = self._own_message(params, "delete")
        own = msg["from"]["id"] == self.bot_user["id"]
        admin = self.bot_status(chat) in ("administrator", "creator")
        too_old = self.now() - msg["date"] > 48 * 3600
        if (chat["type"] != "private" and not own and not admin) or (too_old and not admin):
            raise _bad("message can't be deleted")
        del self.messages[(chat["id"], msg["message_id"])]
        self._record("deleteMessage", chat["id"], msg["message_id"], None, params)
        return True

    def _answer_callback_query(self, params: JSONDict, files: dict[str, Upload]) -> bool:
        qid = str(params.get("callback_query_id") or "")
        query = self._queries.get(qid)
        if query is None or query["answered"]:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        query["answered"] = True
        answer = {"callback_query_id": qid, "text": params.get("text"),
                  "show_alert": bool(params.get("show_alert", False)), "url": params.get("url"),
                  "cache_time": params.get("cache_time")}
        self.callback_answers.append(answer)
        self._record("answerCallbackQuery", query["chat_id"], None, params.get("text"), params)
        return True

    def _get_chat(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        chat = self._target(params, access=False)
        info = {k: v for k, v in chat.items() if k != "all_members_are_administrators"}
        private = chat["type"] == "private"
        info.update({
            "accent_color_id": abs(chat["id"]) % 7,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": private, "limited_gifts": private, "unique_gifts": private,
                "premium_subscription": private, "gifts_from_channels": private,
            },
        })
        if chat["id"] in self._primary_links:
            info["invite_link"] = self._primary_links[chat["id"]]
        return info

    def _get_chat_member(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        chat = self._target(params)
        try:
            uid = int(params.get("user_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise _bad("invalid user_id specified") from None
        if uid not in self.users and uid != self.bot_user["id"]:
            raise _bad("user not found")
        return self.member_object(chat, uid)

    def _get_chat_member_count(self, params: JSONDict, files: dict[str, Upload]) -> int:
        chat = self._target(params)
        if chat["type"] == "private":
            return 2
        return sum(1 for s in self.members.get(chat["id"], {}).values() if s in _ACTIVE)

    def _get_chat_administrators(
        self, params: JSONDict, files: dict[str, Upload]
    ) -> list[JSONDict]:
        chat = self._target(params)
        roster = self.members.get(chat["id"], {})
        ranked = sorted((u for u, s in roster.items() if s in ("creator", "administrator")),
                        key=lambda u: roster[u] != "creator")
        return [self.member_object(chat, u) for u in ranked]

    def _require_admin(self, chat: JSONDict) -> None:
        if chat["type"] == "private" or self.bot_status(chat) not in ("administrator", "creator"):
            raise _bad("not enough rights to manage chat invite link")

    def _new_link(self) -> str:
        alphabet = string.ascii_letters + string.digits + "_-"
        return "https://t.me/+" + "".join(self.rng.choice(alphabet) for _ in range(16))

    def _export_chat_invite_link(self, params: JSONDict, files: dict[str, Upload]) -> str:
        chat = self._target(params)
        self._require_admin(chat)
        link = self._new_link()
        self._primary_links[chat["id"]] = link
        self.invite_links[link] = {"invite_link": link, "creator": _snap(self.bot_user),
                                   "creates_join_request": False, "is_primary": True,
                                   "is_revoked": False}
        return link

    def _create_chat_invite_link(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        chat = self._target(params)
        self._require_admin(chat)
        link: JSONDict = {"invite_link": self._new_link(), "creator": _snap(self.bot_user),
                          "creates_join_request": bool(params.get("creates_join_request")),
                          "is_primary": False, "is_revoked": False}
        for key in ("name", "expire_date", "member_limit"):
            if params.get(key) not in (None, ""):
                link[key] = params[key]
        self.invite_links[link["invite_link"]] = link
        return link

    def _input_file(self, kind: str, params: JSONDict, files: dict[str, Upload]) -> StoredFile:
        """The file of a send* call: an upload, an ``attach://`` part, a file_id or a URL."""
        value = params.get(kind)
        upload = files.get(kind)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value[len("attach://"):])
        if upload is not None:
            name = upload.file_name
            mime = mimetypes.guess_type(name)[0] if name else None
            mime = mime or upload.mime_type or "application/octet-stream"
            return self._register_file(kind, upload.data, name, mime)
        if isinstance(value, str) and value:
            if value in self.files:
                return self.files[value]
            if value[:-1] in self.files:  # a photo size's file_id (as _get_file knows)
                return self.files[value[:-1]]
            if re.match(r"^https?://", value):
                name = value.rstrip("/").rsplit("/", 1)[-1] or "file"
                return self._register_file(kind, b"", name, mimetypes.guess_type(name)[0])
            raise _bad("wrong file identifier/HTTP URL specified")
        raise _bad(f"there is no {kind} in the request")

    def _document_obj(self, stored: StoredFile) -> JSONDict:
        doc: JSONDict = {}
        if stored.file_name:
            doc["file_name"] = stored.file_name
        if stored.mime_type:
            doc["mime_type"] = stored.mime_type
        doc.update({"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                    "file_size": stored.file_size})
        return doc

    def _photo_sizes(
        self, stored: StoredFile, width: int = 1280, height: int = 960
    ) -> list[JSONDict]:
        longest = max(width, height, 1)
        sides = [s for s in (90, 320, 800) if s < longest] + [min(longest, 1280)]
        sizes = []
        for i, side in enumerate(sides):
            scale = side / longest
            sizes.append({
                "file_id": stored.file_id + str(i),
                "file_unique_id": stored.file_unique_id + str(i),
                "file_size": max(1, int(stored.file_size * scale * scale)),
                "width": max(1, round(width * scale)),
                "height": max(1, round(height * scale)),
            })
        return sizes

    def _send_media(self, kind: str, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        chat = self._target(params)
        stored = self._input_file(kind, params, files)
        caption = params.get("caption")
        plain, entities = "", []
        if caption:
            plain, entities = self._format(str(caption), params.get("parse_mode"),
                                           params.get("caption_entities"), caption=True)
        inline, raw_markup = self._markup(params.get("reply_markup"))
        reply = self._reply_to(chat, params)
        self._check_send_limit(chat)
        content: JSONDict = {}
        if kind == "document":
            content["document"] = self._document_obj(stored)
        else:
            content["photo"] = self._photo_sizes(stored)
        if plain:
            content["caption"] = plain
        if entities:
            content["caption_entities"] = entities
        if inline:
            content["reply_markup"] = inline
        msg = self._store_message(chat, self.bot_user, content, reply)
        self._consume_send(chat)
        method = "sendDocument" if kind == "document" else "sendPhoto"
        self.documents.append({"chat_id": chat["id"], "file_name": stored.file_name,
                               "bytes": stored.data, "mime_type": stored.mime_type,
                               "caption": plain or None, "message_id": msg["message_id"],
                               "file_id": stored.file_id, "kind": kind})
        self._record(method, chat["id"], msg["message_id"], plain or None, params, raw_markup)
        return msg

    def _send_document(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        return self._send_media("document", params, files)

    def _send_photo(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        return self._send_media("photo", params, files)

    def _get_file(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        file_id = str(params.get("file_id") or "")
        stored = self.files.get(file_id) or self.files.get(file_id[:-1])
        if stored is None:
            raise _bad("invalid file_id")
        return {"file_id": file_id, "file_unique_id": stored.file_unique_id,
                "file_size": stored.file_size, "file_path": stored.file_path}

    def _leave_chat(self, params: JSONDict, files: dict[str, Upload]) -> bool:
        chat = self._target(params)
        if chat["type"] == "private":
            raise _bad("chat member status can't be changed in private chats")
        self._member_update("my_chat_member", chat, self.bot_user, self.bot_user, "left")
        return True

    def _send_chat_action(self, params: JSONDict, files: dict[str, Upload]) -> bool:
        self._target(params)
        return True

    # ------------------------------------------------------------------ transports

    def request(self, read_timeout: float | None = 5.0) -> EmulatorRequest:
        """A PTB ``BaseRequest`` that calls this emulator in-process."""
        return EmulatorRequest(self, read_timeout)

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start the loopback HTTP server; return its base url (``http://host:port``)."""
        self._server = await asyncio.start_server(self._connection, host, port)
        sock_host, sock_port = self._server.sockets[0].getsockname()[:2]
        self.base_url = f"http://{sock_host}:{sock_port}"
        return self.base_url

    async def close(self) -> None:
        """Stop the HTTP server and drop open connections."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(BaseException):
                await task
        await self._server.wait_closed()
        self._server = None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            while True:
                request = await _read_http_request(reader)
                if request is None:
                    break
                verb, target, headers, body = request
                try:
                    status, ctype, payload = await self._http_dispatch(verb, target, headers, body)
                except TransportFault as fault:
                    if fault.kind == "timeout":
                        await asyncio.sleep(self.http_timeout_delay)
                    break
                phrase = _phrase(status)
                head = (f"HTTP/1.1 {status} {phrase}\r\nContent-Type: {ctype}\r\n"
                        f"Content-Length: {len(payload)}\r\nConnection: keep-alive\r\n\r\n")
                writer.write(head.encode("latin-1") + payload)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # the server is closing; ending quietly keeps asyncio from logging the cancellation
            pass
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _http_dispatch(
        self, verb: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        parts = urlsplit(target)
        path = unquote(parts.path)
        m = re.fullmatch(r"/file/bot([^/]+)/(.+)", path)
        if m:
            data = self.file_bytes(m.group(1), m.group(2))
            if data is None:
                return 404, "application/json", _dump(
                    {"ok": False, "error_code": 404, "description": "Not Found"})
            return 200, "application/octet-stream", data
        m = re.fullmatch(r"/bot([^/]+)/([A-Za-z0-9_]+)/?", path)
        if not m:
            return 404, "application/json", _dump(
                {"ok": False, "error_code": 404, "description": "Not Found"})
        params: JSONDict = dict(parse_qsl(parts.query, keep_blank_values=True))
        files: dict[str, Upload] = {}
        ctype = headers.get("content-type", "")
        if body:
            if ctype.startswith("multipart/form-data"):
                fields, files = parse_multipart(body, ctype)
                params.update(fields)
            elif ctype.startswith("application/json"):
                try:
                    params.update(json.loads(body))
                except ValueError:
                    return 400, "application/json", _dump(
                        {"ok": False, "error_code": 400,
                         "description": "Bad Request: can't parse JSON"})
            else:
                params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        status, payload = await self.handle(m.group(1), m.group(2), params, files)
        return status, "application/json", _dump(payload)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _dump(body: JSONDict) -> bytes:
    """Compact, ASCII-escaped JSON as Telegram sends it."""
    return json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _coerce(params: JSONDict) -> JSONDict:
    """Decode form-style string values (``"123"``, ``"true"``, JSON objects) to JSON types."""
    out: JSONDict = {}
    for key, value in params.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and key not in _STR_PARAMS:
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        out[key] = value
    return out


async def _read_http_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], bytes] | None:
    """Read one HTTP/1.1 request (Content-Length or chunked body); None at EOF."""
    line = await reader.readline()
    while line in (b"\r\n", b"\n"):
        line = await reader.readline()
    if not line:
        return None
    verb, target, *_ = line.decode("latin-1").split()
    headers: dict[str, str] = {}
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        key, _, value = raw.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                break
            chunks.append(await reader.readexactly(size))
            await reader.readline()
        body = b"".join(chunks)
    elif headers.get("content-length"):
        body = await reader.readexactly(int(headers["content-length"]))
    return verb.upper(), target, headers, body


_METHOD_URL = re.compile(r"/bot([^/]+)/([A-Za-z0-9_]+)/?$")
_FILE_URL = re.compile(r"/file/bot([^/]+)/(.+)$")


class EmulatorRequest(BaseRequest):
    """In-process PTB transport: ``do_request`` calls :meth:`Emulator.handle` directly."""

    def __init__(self, emulator: Emulator, read_timeout: float | None = 5.0):
        self._emulator = emulator
        self._read_timeout = read_timeout

    @property
    def read_timeout(self) -> float | None:
        """Default read timeout (PTB adds the long-polling timeout to it)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

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
        """Route ``url`` to the emulator; raise ``TimedOut``/``NetworkError`` for faults."""
        path = unquote(urlsplit(url).path)
        m = _FILE_URL.search(path)
        if m:
            data = self._emulator.file_bytes(m.group(1), m.group(2))
            if data is None:
                return 404, _dump({"ok": False, "error_code": 404, "description": "Not Found"})
            return 200, data
        m = _METHOD_URL.search(path)
        if not m:
            return 404, _dump({"ok": False, "error_code": 404, "description": "Not Found"})
        params: JSONDict = dict(request_data.json_parameters) if request_data else {}
        files: dict[str, Upload] = {}
        if request_data is not None and request_data.contains_files:
            for name, (file_name, content, mime) in request_data.multipart_data.items():
                data = content if isinstance(content, bytes) else content.read()
                files[name] = Upload(file_name, data, mime)
        timeout = self._read_timeout if read_timeout is BaseRequest.DEFAULT_NONE else read_timeout
        try:
            status, body = await asyncio.wait_for(
                self._emulator.handle(m.group(1), m.group(2), params, files),
                timeout if timeout else None,
            )
        except TransportFault as fault:
            if fault.kind == "network":
                raise NetworkError("Emulated network error") from None
            raise TimedOut() from None
        except TimeoutError:
            raise TimedOut() from None
        return status, _dump(body)
