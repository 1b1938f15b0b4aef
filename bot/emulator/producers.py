"""Test-side update producers (a user writes, presses, joins, ...) and inspection helpers.

Producers change the world as Telegram would, queue the update for ``getUpdates`` (or the
webhook) when the bot may see it, and return it; :meth:`Producers.deliver` hands one straight
to a PTB ``Application`` instead.
"""

from __future__ import annotations

import json
from typing import Any

from .entities import auto_entities, sort_entities
from .records import ACTIVE, ChatRef, JSONDict, Sent, UserRef, snap
from .world import World


class Producers(World):
    """What users do in the world, and what tests read back about the bot's answers."""

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
        elif self.status_of(c, u) not in ACTIVE:
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
        entities = sort_entities(auto_entities(text))
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
                body["caption_entities"] = sort_entities(entities)
        return self._user_message(user, chat, body)

    def photo(
        self,
        user: UserRef,
        chat: ChatRef | None,
        caption: str | None = None,
        width: int = 1280,
        height: int = 960,
        content: bytes | None = None,
        reply_to: JSONDict | None = None,
    ) -> JSONDict:
        """A user sends a photo (a caption such as ``/hours 2 …`` carries its command entity,
        as Telegram marks commands in captions)."""
        data = content if content is not None else bytes(2048)
        stored = self._register_file("photo", data, None, "image/jpeg")
        body: JSONDict = {"photo": self._photo_sizes(stored, width, height)}
        if caption:
            body["caption"] = caption
            entities = auto_entities(caption)
            if entities:
                body["caption_entities"] = sort_entities(entities)
        return self._user_message(user, chat, body, reply_to)

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

    def media(self, user: UserRef, chat: ChatRef | None, kind: str) -> JSONDict:
        """A user sends a message of ``kind``: sticker, voice, audio, video, video_note,
        animation, poll, dice, venue (shaped like Telegram's, with small fake files)."""
        stored = self._register_file("document", bytes(512), None, "application/octet-stream")
        ref = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        bodies: dict[str, JSONDict] = {
            "sticker": {
                "sticker": {
                    **ref,
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                    "emoji": "👍",
                }
            },
            "voice": {"voice": {**ref, "duration": 3, "mime_type": "audio/ogg"}},
            "audio": {"audio": {**ref, "duration": 120, "title": "song"}},
            "video": {"video": {**ref, "width": 640, "height": 480, "duration": 5}},
            "video_note": {"video_note": {**ref, "length": 240, "duration": 4}},
            "animation": {"animation": {**ref, "width": 320, "height": 240, "duration": 2}},
            "poll": {
                "poll": {
                    "id": str(self.rng.randint(10**9, 10**10)),
                    "question": "?",
                    "options": [
                        {"persistent_id": "0", "text": "a", "voter_count": 0},
                        {"persistent_id": "1", "text": "b", "voter_count": 0},
                    ],
                    "total_voter_count": 0,
                    "is_closed": False,
                    "is_anonymous": True,
                    "type": "regular",
                    "allows_multiple_answers": False,
                    "allows_revoting": False,
                    "members_only": False,
                }
            },
            "dice": {"dice": {"emoji": "🎲", "value": 4}},
            "venue": {
                "venue": {
                    "location": {"latitude": 25.2, "longitude": 110.3},
                    "title": "雁山",
                    "address": "雁山区",
                }
            },
        }
        return self._user_message(user, chat, bodies[kind])

    def members_joined(self, chat: ChatRef, users: list[UserRef]) -> JSONDict:
        """Users join ``chat``: the ``new_chat_members`` service message (seen in privacy mode)."""
        c = self._chat(chat)
        joined = [self._user(u) for u in users]
        for u in joined:
            self.set_member(c, u, "member")
        msg = self._store_message(c, joined[0], {"new_chat_members": [snap(u) for u in joined]})
        return self._emit("message", msg, self._visible(c, msg))

    def press(self, user: UserRef, message: JSONDict, data: str) -> JSONDict:
        """A user presses an inline button with ``data`` on the bot's ``message``."""
        u = self._user(user)
        cid = message["chat"]["id"]
        stored = self.messages.get((cid, message["message_id"]))
        if stored is None:  # deleted: Telegram sends an InaccessibleMessage
            shown: JSONDict = {
                "chat": snap(message["chat"]),
                "message_id": message["message_id"],
                "date": 0,
            }
        else:
            shown = snap(stored)
        query_id = str(self.rng.randint(10**18, 9 * 10**18))
        self._queries[query_id] = {"answered": False, "chat_id": cid, "user_id": u["id"]}
        query = {
            "id": query_id,
            "from": snap(u),
            "message": shown,
            "chat_instance": self.chat_instance(cid),
            "data": data,
        }
        return self._emit("callback_query", query)

    def bot_added(self, chat: ChatRef, by_user: UserRef, status: str = "member") -> JSONDict:
        """``by_user`` adds the bot to ``chat`` (``my_chat_member`` update)."""
        return self._member_update(
            "my_chat_member", self._chat(chat), self._user(by_user), self.bot_user, status
        )

    def bot_removed(self, chat: ChatRef, by_user: UserRef) -> JSONDict:
        """``by_user`` removes the bot: ``left`` in basic groups, ``kicked`` in supergroups."""
        c = self._chat(chat)
        status = "left" if c["type"] == "group" else "kicked"
        return self._member_update("my_chat_member", c, self._user(by_user), self.bot_user, status)

    def user_blocked_bot(self, user: UserRef) -> JSONDict:
        """The user blocks the bot (private ``my_chat_member`` member → kicked)."""
        return self._private_bot_status(user, blocked=True)

    def user_unblocked_bot(self, user: UserRef) -> JSONDict:
        """The user unblocks the bot (private ``my_chat_member`` kicked → member)."""
        return self._private_bot_status(user, blocked=False)

    def _private_bot_status(self, user: UserRef, *, blocked: bool) -> JSONDict:
        """The bot's membership of a private chat flips between member and kicked."""
        u = self._user(user)
        c = self._chat(None, u)
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        body = {
            "chat": snap(c),
            "from": snap(u),
            "date": self.now(),
            "old_chat_member": self.member_object(c, self.bot_user, old),
            "new_chat_member": self.member_object(c, self.bot_user, new),
        }
        if blocked:
            self.blocked.add(u["id"])
        else:
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
        return snap(stored) if stored else None

    def clear_sent(self) -> None:
        """Forget recorded calls, sends, callback answers, documents and the error count."""
        self.sent.clear()
        self.calls.clear()
        self.callback_answers.clear()
        self.documents.clear()
        self.errors_returned = 0
