"""A Telegram Bot API emulator that the real python-telegram-bot (22.8) can talk to.

The :class:`Emulator` holds a small world (users, groups, members, messages, pending updates)
and answers Bot API calls with Telegram-shaped JSON (see ``/work/shared/telegram-samples``).
Three ways connect it to a bot:

* in-process: ``ApplicationBuilder().token(em.token).request(em.request())
  .get_updates_request(em.request())``;
* HTTP on loopback: ``url = await em.serve()`` then
  ``ApplicationBuilder().token(em.token).base_url(url + "/bot").base_file_url(url + "/file/bot")``;
* webhook: after ``setWebhook`` the emulator POSTs each update to the URL (see
  :mod:`bot.emulator.webhook`).

Tests drive the world with the update producers (:meth:`Emulator.text`, :meth:`Emulator.press`,
...), which queue updates for ``getUpdates`` (or the webhook) and return them, and inspect what
the bot did with :attr:`Emulator.sent`, :meth:`Emulator.messages_to`,
:attr:`Emulator.callback_answers`, ...

The package, one concern a module: ``records`` (shapes, records, errors), ``entities`` (text and
markup), ``world`` (state), ``limits``, ``faults``, ``producers``, ``methods_*`` (the Bot API by
family), ``webhook``, ``transport`` (HTTP and in-process), ``core`` (the facade).
"""

from .core import Emulator
from .entities import ParseError, auto_entities, parse_html, parse_markdown, utf16_len
from .records import (
    FAULT_KINDS,
    GROUP_ANONYMOUS_BOT,
    MSG_NOT_MODIFIED,
    NOT_BY_DEFAULT,
    SERVICE_KEYS,
    UPDATE_TYPES,
    ApiError,
    Call,
    ChatRef,
    Fault,
    JSONDict,
    Sent,
    StoredFile,
    TransportFault,
    Upload,
    UserRef,
)
from .transport import EmulatorRequest, parse_multipart

__all__ = [
    "FAULT_KINDS",
    "GROUP_ANONYMOUS_BOT",
    "MSG_NOT_MODIFIED",
    "NOT_BY_DEFAULT",
    "SERVICE_KEYS",
    "UPDATE_TYPES",
    "ApiError",
    "Call",
    "ChatRef",
    "Emulator",
    "EmulatorRequest",
    "Fault",
    "JSONDict",
    "ParseError",
    "Sent",
    "StoredFile",
    "TransportFault",
    "Upload",
    "UserRef",
    "auto_entities",
    "parse_html",
    "parse_markdown",
    "parse_multipart",
    "utf16_len",
]
