"""The demo's Script: it acts for the people of the emulated world and prints the transcript."""

from __future__ import annotations

import asyncio
import html
import re
import textwrap
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.context import services_of
from bot.domain.clock import FakeClock
from bot.emulator import Emulator, Sent
from bot.texts import t

DAY = 86400


class Script:
    """Drives the emulated world and prints the conversation."""

    def __init__(self, em: Emulator, app: Any, lang: str, out: Path, clock: FakeClock) -> None:
        self.em = em
        self.app = app
        self.clock = clock
        self.lang = lang
        self.out = out
        self.printed = 0
        self.user_lang = "en" if lang == "en" else "zh-hans"

    # --- narration ---------------------------------------------------------------------------
    def n(self, key: str, **values: Any) -> str:
        return t(self.lang, key, **values)

    def scene(self, key: str) -> None:
        print(f"\n━━ {self.n(key)} ━━")

    def where(self, chat_id: int) -> str:
        chat = self.em.chats.get(chat_id, {})
        if chat.get("type") == "private":
            return self.n("demo_private", name=chat.get("first_name", chat_id))
        return chat.get("title", str(chat_id))

    muted = False

    def show(self, who: str, chat_id: int, text: str) -> None:
        if self.muted:
            return
        body = textwrap.indent(text, "      ").lstrip()
        print(f"  [{self.where(chat_id)}] {who}: {body}")

    def flush(self) -> None:
        """Print what the bot sent since the last flush."""
        for sent in self.em.sent[self.printed :]:
            if not self.muted:
                self._print_sent(sent)
        self.printed = len(self.em.sent)

    def _print_sent(self, sent: Sent) -> None:
        if sent.method == "answerCallbackQuery":
            if sent.text:
                print(f"      🤖 (toast) {sent.text}")
            if sent.params.get("url"):
                print(f"      🤖 (opens) {sent.params['url']}")
            return
        if sent.method in ("editMessageReplyMarkup", "deleteMessage"):
            return
        text = sent.text or ""
        if sent.method == "editMessageText":
            text = "✏️ " + text
        if sent.method == "sendDocument":
            caption = html.unescape(re.sub(r"<[^>]+>", "", str(sent.params.get("caption") or "")))
            text = "📎 " + str(sent.params.get("document_name") or caption)
        if sent.method == "sendPhoto":
            text = "🖼 " + (text or "chart")
        buttons = _buttons(sent.reply_markup)
        if buttons:
            text += "\n" + "  ".join(f"[{b}]" for b in buttons)
        self.show("🤖", sent.chat_id or 0, text)

    # --- the fast clock ----------------------------------------------------------------------
    async def advance(self, seconds: float) -> None:
        """Jump the clock ahead; due reminders fire at once."""
        from schedules.reminders import arm

        print("  " + self.n("demo_wait", time=_span(seconds, self.lang)))
        self.clock.advance(seconds)
        await arm(self.app)
        await self.settle(limit=20)

    async def next_reminder(self) -> None:
        """Jump to the next pending reminder."""
        due = await services_of(self.app).reminders.next_due()
        if due is not None:
            await self.advance(max(0.0, due - self.clock.time()) + 1)

    def local(self, seconds_ahead: float, hour: int | None = None) -> str:
        """'YYYY-MM-DD HH:MM' in the bot's zone, `seconds_ahead` from now (optionally at `hour`)."""
        settings = services_of(self.app).settings
        when = self.clock.now().astimezone(settings.tz) + timedelta(seconds=seconds_ahead)
        if hour is not None:
            when = when.replace(hour=hour, minute=0)
        return when.strftime("%Y-%m-%d %H:%M")

    def save_photo(self, name: str) -> Path | None:
        """Write the newest photo the bot sent to the demo folder."""
        return self.save_file(name, ".png")

    def save_file(self, name: str, suffix: str) -> Path | None:
        """Write the newest photo or document (by its file name's `suffix`) to the demo folder."""
        for doc in reversed(self.em.documents):
            photo = suffix == ".png" and doc.get("kind") == "photo"
            if photo or str(doc.get("file_name", "")).endswith(suffix):
                path = self.out / name
                path.write_bytes(doc["bytes"])
                print("  " + self.n("demo_file", path=path))
                return path
        return None

    # --- acting ------------------------------------------------------------------------------
    async def settle(self, quiet: float = 0.1, limit: float = 15.0) -> None:
        """Wait until the bot has taken every update and gone quiet."""
        deadline = time.monotonic() + limit
        seen = -1
        while time.monotonic() < deadline:
            services = services_of(self.app)
            busy = (
                bool(self.em.pending_updates)
                or not self.app.update_queue.empty()
                or self.app.update_processor.current_concurrent_updates > 0
            )
            if (
                not busy
                and len(self.em.sent) == seen
                and (services.sender is None or await services.sender.drain(0.5))
                and len(self.em.sent) == seen
            ):
                break
            seen = len(self.em.sent)
            await asyncio.sleep(quiet)
        self.flush()

    async def say(
        self, user: dict, chat: dict | None, text: str, reply_to: dict | None = None
    ) -> list[Sent]:
        mark = len(self.em.sent)
        self.show(user["first_name"], chat["id"] if chat else user["id"], text)
        self.em.text(user, chat, text, reply_to=reply_to)
        await self.settle()
        return self.em.sent[mark:]

    async def press(self, user: dict, sent: Sent, data: str) -> list[Sent]:
        mark = len(self.em.sent)
        label = next((b for b, d in _buttons_with_data(sent.reply_markup) if d == data), data)
        self.show(user["first_name"], sent.chat_id or 0, self.n("demo_presses", label=label))
        assert sent.chat_id is not None and sent.message_id is not None
        message = self.em.message(sent.chat_id, sent.message_id)
        assert message is not None, "pressed a button on a message that is gone"
        self.em.press(user, message, data)
        await self.settle()
        return self.em.sent[mark:]

    async def share_contact(self, user: dict, phone: str) -> list[Sent]:
        mark = len(self.em.sent)
        self.show(user["first_name"], user["id"], self.n("demo_shares"))
        self.em.contact(user, phone)
        await self.settle()
        return self.em.sent[mark:]

    async def send_photo(self, user: dict, chat: dict | None, caption: str) -> list[Sent]:
        mark = len(self.em.sent)
        where = chat["id"] if chat else user["id"]
        self.show(user["first_name"], where, self.n("demo_sends_photo", caption=caption))
        self.em.photo(user, chat, caption=caption)
        await self.settle()
        return self.em.sent[mark:]

    def last_with(self, chat_id: int, prefix: str) -> Sent:
        """The newest message in a chat carrying a button whose data starts with `prefix`."""
        for sent in reversed(self.em.sent):
            if sent.chat_id == chat_id and any(
                d.startswith(prefix) for _, d in _buttons_with_data(sent.reply_markup)
            ):
                return sent
        raise LookupError(f"no message with a {prefix!r} button in {chat_id}")

    def data_of(self, sent: Sent, prefix: str) -> str:
        return next(d for _, d in _buttons_with_data(sent.reply_markup) if d.startswith(prefix))

    async def register(
        self,
        user: dict,
        link_payload: str,
        real_name: str,
        phone: str | None = None,
        quiet: bool = False,
    ) -> None:
        if quiet:
            self.muted = True
        try:
            await self._register(user, link_payload, real_name, phone)
        finally:
            self.muted = False

    async def _register(
        self, user: dict, link_payload: str, real_name: str, phone: str | None
    ) -> None:
        await self.say(user, None, f"/start {link_payload}")
        await self.press(user, self.last_with(user["id"], "reg:age"), "reg:age:n")
        await self.say(user, None, real_name)
        if phone:
            consent = await self.share_contact(user, phone)
        else:
            skip = "Skip" if user.get("language_code", "").startswith("en") else "跳过"
            consent = await self.say(user, None, skip)
        consent_msg = self.last_with(user["id"], "reg:consent")
        del consent
        await self.press(user, consent_msg, "reg:consent:y")  # the summary and notice: one tap


def _span(seconds: float, lang: str) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    units = ("天", "小时", "分钟") if lang == "zh" else (" d", " h", " min")
    parts = [f"{v}{u}" for v, u in zip((days, hours, minutes), units, strict=True) if v]
    return (" " if lang == "en" else "").join(parts) or ("片刻" if lang == "zh" else "a moment")


def _buttons_with_data(markup: dict | None) -> list[tuple[str, str]]:
    if not markup or "inline_keyboard" not in markup:
        return []
    return [
        (b.get("text", ""), b.get("callback_data") or b.get("url") or "")
        for row in markup["inline_keyboard"]
        for b in row
    ]


def _buttons(markup: dict | None) -> list[str]:
    if not markup:
        return []
    if "keyboard" in markup:
        return [b.get("text", "") for row in markup["keyboard"] for b in row]
    return [label for label, _ in _buttons_with_data(markup)]
