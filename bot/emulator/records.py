"""What the emulator records and answers: JSON shapes, call records, errors and small helpers.

A leaf module: every other module of the package may import it; it imports none of them.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass
from typing import Any

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
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
#: Update types Telegram leaves out unless ``allowed_updates`` names them.
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
FAULT_KINDS = frozenset(
    {
        "retry_after",
        "blocked",
        "not_started",
        "migrated",
        "chat_not_found",
        "timeout",
        "timeout_after",
        "server_error",
        "network",
        "cant_parse",
        "rejected",
    }
)
SERVICE_KEYS = frozenset(
    {
        "new_chat_members",
        "left_chat_member",
        "new_chat_title",
        "new_chat_photo",
        "delete_chat_photo",
        "group_chat_created",
        "supergroup_chat_created",
        "migrate_to_chat_id",
        "migrate_from_chat_id",
        "pinned_message",
    }
)
MSG_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
#: Parameters that are plain strings on the wire and must not be JSON-decoded.
STR_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "url",
        "name",
        "file_name",
        "language_code",
        "action",
        "title",
        "description",
        "short_description",
        "invite_link",
        "document",
        "photo",
        "file_id",
        "secret_token",
        "data",
        "inline_message_id",
        "custom_title",
        "emoji",
        "query",
        "ip_address",
        "business_connection_id",
    }
)
#: Member statuses that make someone (or the bot) part of a chat.
ACTIVE = frozenset({"creator", "administrator", "member", "restricted"})


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


def bad_request(description: str, parameters: JSONDict | None = None) -> ApiError:
    """A 400 ``Bad Request: ...`` error."""
    return ApiError(400, f"Bad Request: {description}", parameters)


def forbidden(description: str) -> ApiError:
    """A 403 ``Forbidden: ...`` error."""
    return ApiError(403, f"Forbidden: {description}")


def too_many(seconds: float) -> ApiError:
    """A 429 flood-wait error asking to retry after ``seconds`` (rounded up, at least 1)."""
    n = max(1, math.ceil(seconds))
    return ApiError(429, f"Too Many Requests: retry after {n}", {"retry_after": n})


def snap(obj: Any) -> Any:
    """Deep copy of a JSON-like value (dicts, lists and scalars only: faster than deepcopy)."""
    if isinstance(obj, dict):
        return {key: snap(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [snap(value) for value in obj]
    return obj


def dump(body: JSONDict) -> bytes:
    """Compact, ASCII-escaped JSON as Telegram sends it."""
    return json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def coerce(params: JSONDict) -> JSONDict:
    """Decode form-style string values (``"123"``, ``"true"``, JSON objects) to JSON types."""
    out: JSONDict = {}
    for key, value in params.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and key not in STR_PARAMS:
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        out[key] = value
    return out


def cid_of(chat: ChatRef) -> int:
    """The id of a Chat dict or a bare chat id."""
    return int(chat["id"]) if isinstance(chat, dict) else int(chat)


def uid_of(user: UserRef) -> int:
    """The id of a User dict or a bare user id."""
    return int(user["id"]) if isinstance(user, dict) else int(user)


@dataclass
class Described:
    """A method result Telegram answers with a ``description`` too (setWebhook, ...)."""

    result: Any
    description: str
