"""The emulated Telegram world: users, chats, members, messages, files and pending updates.

:class:`World` holds the state and the transitions every part of the emulator shares (storing a
message, queueing an update, resolving a ``chat_id``, upgrading a group). The Bot API methods
and the test-side producers are mixins built on it; :class:`~bot.emulator.core.Emulator`
composes them.
"""

from __future__ import annotations

import asyncio
import random
import string
from collections.abc import Callable, Iterable

from .records import (
    ACTIVE,
    GROUP_ANONYMOUS_BOT,
    NOT_BY_DEFAULT,
    SERVICE_KEYS,
    UPDATE_TYPES,
    Call,
    ChatRef,
    JSONDict,
    Sent,
    StoredFile,
    UserRef,
    bad_request,
    cid_of,
    forbidden,
    snap,
    uid_of,
)


class World:
    """The world's state and shared transitions (no Bot API method lives here)."""

    def __init__(
        self,
        bot_id: int,
        bot_username: str,
        bot_name: str,
        clock: Callable[[], float],
        *,
        privacy_mode: bool,
        seed: int | None,
    ) -> None:
        self.clock = clock
        self.bot_user: JSONDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
        }
        self.privacy_mode = privacy_mode
        self.rng = random.Random(seed)

        self.users: dict[int, JSONDict] = {}
        self.chats: dict[int, JSONDict] = {}
        self.members: dict[int, dict[int, str]] = {}
        #: (chat, user) → administrator rights that differ from the defaults (`set_rights`)
        self.rights: dict[tuple[int, int], dict[str, bool]] = {}
        self.messages: dict[tuple[int, int], JSONDict] = {}
        self.files: dict[str, StoredFile] = {}
        self.invite_links: dict[str, JSONDict] = {}
        self.started: set[int] = set()
        self.blocked: set[int] = set()
        self.migrated: dict[int, int] = {}
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        #: The webhook URL ("" while the bot uses getUpdates); see :mod:`bot.emulator.webhook`.
        self.webhook_url = ""
        self.allowed_updates: list[str] | None = None
        self.pending_updates: list[JSONDict] = []
        self.next_update_id = self.rng.randint(100_000_000, 900_000_000)

        self.sent: list[Sent] = []
        self.calls: list[Call] = []
        self.errors_returned = 0
        self.callback_answers: list[JSONDict] = []
        self.documents: list[JSONDict] = []

        self._msg_ids: dict[int, int] = {}
        self._chat_instances: dict[int, str] = {}
        self._primary_links: dict[int, str] = {}
        self._queries: dict[str, JSONDict] = {}
        self._update_event = asyncio.Event()

    # ------------------------------------------------------------------ people and chats

    def now(self) -> int:
        """Current time from the injected clock, in integer seconds."""
        return int(self.clock())

    def _unique(self, low: int, high: int, taken: Callable[[int], bool]) -> int:
        """A random number in [low, high] that `taken` does not claim (no scan of the world:
        a bench adds 12,000 people)."""
        while True:
            value = self.rng.randint(low, high)
            if not taken(value):
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
        uid = user_id or self._unique(
            5_000_000_000, 7_999_999_999, lambda v: v in self.users or v in self.chats
        )
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
        return snap(user)

    def add_group(
        self,
        title: str,
        members: Iterable[UserRef] = (),
        type: str = "group",  # Telegram's field name
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
                chat_id = -self._unique(4_000_000_000, 5_999_999_999, lambda v: -v in self.chats)
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
        return snap(chat)

    def _new_supergroup_id(self) -> int:
        return -(
            1_000_000_000_000
            + self._unique(
                2_000_000_000, 2_999_999_999, lambda v: -(v + 1_000_000_000_000) in self.chats
            )
        )

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
        return cid_of(chat)

    @staticmethod
    def _uid(user: UserRef) -> int:
        return uid_of(user)

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
        u = snap(self._user(user))
        status = status or self.status_of(chat, user)
        obj: JSONDict = {"user": u, "status": status}
        if status == "creator":
            obj["is_anonymous"] = False
        elif status == "administrator":
            obj.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": True,
                    "can_restrict_members": True,
                    "can_promote_members": False,
                    "can_change_info": True,
                    "can_invite_users": True,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                    "can_pin_messages": True,
                }
            )
            if self.chats.get(self._cid(chat), {}).get("type") == "supergroup":
                obj["can_manage_topics"] = False
            obj.update(self.rights.get((self._cid(chat), self._uid(user)), {}))
        elif status == "restricted":
            obj.update(
                {
                    "is_member": True,
                    "can_send_messages": False,
                    "can_send_audios": False,
                    "can_send_documents": False,
                    "can_send_photos": False,
                    "can_send_videos": False,
                    "can_send_video_notes": False,
                    "can_send_voice_notes": False,
                    "can_send_polls": False,
                    "can_send_other_messages": False,
                    "can_add_web_page_previews": False,
                    "can_change_info": False,
                    "can_invite_users": False,
                    "can_pin_messages": False,
                    "can_manage_topics": False,
                    "can_edit_tag": False,
                    "can_react_to_messages": False,
                    "until_date": 0,
                }
            )
        elif status == "kicked":
            obj["until_date"] = 0
        return obj

    # ------------------------------------------------------------------ messages and updates

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
        msg: JSONDict = {"message_id": mid, "from": snap(sender)}
        if sender_chat is not None:
            msg["sender_chat"] = snap(sender_chat)
        msg["chat"] = snap(chat)
        msg["date"] = self.now()
        if reply_to is not None:
            msg["reply_to_message"] = reply_to
        msg.update(snap(content))
        self.messages[(cid, mid)] = msg
        return snap(msg)

    def _reply_copy(self, message: JSONDict) -> JSONDict:
        key = (message["chat"]["id"], message["message_id"])
        stored = self.messages.get(key, message)
        return {k: snap(v) for k, v in stored.items() if k != "reply_to_message"}

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
            raise bad_request("message to be replied not found")
        return self._reply_copy(stored)

    def _record(
        self,
        method: str,
        chat_id: int | None,
        message_id: int | None,
        text: str | None,
        params: JSONDict,
        markup: JSONDict | None = None,
    ) -> None:
        self.sent.append(
            Sent(
                method,
                chat_id,
                message_id,
                text,
                params.get("parse_mode"),
                markup,
                params,
                self.now(),
            )
        )

    def _emit(self, kind: str, payload: JSONDict, visible: bool = True) -> JSONDict:
        update = {"update_id": self.next_update_id, kind: snap(payload)}
        self.next_update_id += 1
        if visible:
            self.pending_updates.append(update)
            self._wake()
        return snap(update)

    def _wake(self) -> None:
        event, self._update_event = self._update_event, asyncio.Event()
        event.set()

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

    def _visible(self, chat: JSONDict, msg: JSONDict) -> bool:
        """Whether the bot receives ``msg`` (membership and privacy mode)."""
        if chat["type"] == "private":
            return True
        status = self.bot_status(chat)
        if status not in ACTIVE:
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

    def _member_update(
        self,
        kind: str,
        chat: JSONDict,
        by: JSONDict,
        subject: JSONDict,
        new_status: str,
        invite_link: JSONDict | None = None,
    ) -> JSONDict:
        old = self.member_object(chat, subject)
        if chat["type"] != "private":
            self.set_member(chat, subject, new_status)
        body: JSONDict = {
            "chat": snap(chat),
            "from": snap(by),
            "date": self.now(),
            "old_chat_member": old,
            "new_chat_member": self.member_object(chat, subject, new_status),
        }
        if invite_link:
            body["invite_link"] = snap(invite_link)
        visible = True
        if kind == "chat_member":
            visible = self.bot_status(chat) in ("administrator", "creator")
        return self._emit(kind, body, visible)

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
            ranked = sorted(
                (u for u in roster if u in self.users),
                key=lambda u: (
                    ("creator", "administrator", "member").index(roster[u])
                    if roster[u] in ("creator", "administrator", "member")
                    else 3
                ),
            )
            by = self.users[ranked[0]] if ranked else GROUP_ANONYMOUS_BOT
        else:
            by = self._user(by_user)
        visible = self.bot_status(old) in ACTIVE
        m1 = self._store_message(old, by, {"migrate_to_chat_id": new_id})
        self.migrated[old["id"]] = new_id
        m2 = self._store_message(
            new, GROUP_ANONYMOUS_BOT, {"migrate_from_chat_id": old["id"]}, sender_chat=new
        )
        self._emit("message", m1, visible)
        self._emit("message", m2, visible)
        return snap(new)

    # ------------------------------------------------------------------ files

    def _register_file(
        self,
        kind: str,
        data: bytes,
        file_name: str | None,
        mime_type: str | None,
        size: int | None = None,
    ) -> StoredFile:
        prefix = {"document": "BQACAgUAAxkBAAI", "photo": "AgACAgUAAxkBAAI"}[kind]
        alphabet = string.ascii_letters + string.digits + "-_"
        file_id = prefix + "".join(self.rng.choice(alphabet) for _ in range(57))
        unique = "AgAD" + "".join(self.rng.choice(alphabet) for _ in range(11))
        ext = (
            file_name.rsplit(".", 1)[-1]
            if file_name and "." in file_name
            else ("jpg" if kind == "photo" else "bin")
        )
        folder = "photos" if kind == "photo" else "documents"
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=unique,
            file_path=f"{folder}/file_{len(self.files)}.{ext}",
            file_name=file_name,
            mime_type=mime_type,
            data=data,
            file_size=size if size is not None else len(data),
        )
        self.files[file_id] = stored
        return stored

    def _document_obj(self, stored: StoredFile) -> JSONDict:
        doc: JSONDict = {}
        if stored.file_name:
            doc["file_name"] = stored.file_name
        if stored.mime_type:
            doc["mime_type"] = stored.mime_type
        doc.update(
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": stored.file_size,
            }
        )
        return doc

    def _photo_sizes(
        self, stored: StoredFile, width: int = 1280, height: int = 960
    ) -> list[JSONDict]:
        longest = max(width, height, 1)
        sides = [s for s in (90, 320, 800) if s < longest] + [min(longest, 1280)]
        sizes = []
        for i, side in enumerate(sides):
            scale = side / longest
            sizes.append(
                {
                    "file_id": stored.file_id + str(i),
                    "file_unique_id": stored.file_unique_id + str(i),
                    "file_size": max(1, int(stored.file_size * scale * scale)),
                    "width": max(1, round(width * scale)),
                    "height": max(1, round(height * scale)),
                }
            )
        return sizes

    # ------------------------------------------------------------------ chat access

    def _target(self, params: JSONDict, *, access: bool = True) -> JSONDict:
        """Resolve ``chat_id`` and check the bot may act there."""
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            wanted = raw[1:].lower()
            found = [
                c
                for c in self.chats.values()
                if c["type"] != "private" and c.get("username", "").lower() == wanted
            ]
            if not found:
                raise bad_request("chat not found")
            chat = found[0]
        else:
            try:
                cid = int(raw)
            except (TypeError, ValueError):
                raise bad_request("chat not found") from None
            if cid in self.migrated:
                raise bad_request(
                    "group chat was upgraded to a supergroup chat",
                    {"migrate_to_chat_id": self.migrated[cid]},
                )
            if cid not in self.chats:
                raise bad_request("chat not found")
            chat = self.chats[cid]
        if access:
            self._check_access(chat)
        return chat

    def _check_access(self, chat: JSONDict) -> None:
        if chat["type"] == "private":
            if chat["id"] in self.blocked:
                raise forbidden("bot was blocked by the user")
            if chat["id"] not in self.started:
                raise forbidden("bot can't initiate conversation with a user")
            return
        status = self.bot_status(chat)
        if status in ACTIVE:
            return
        kind = "supergroup chat" if chat["type"] == "supergroup" else "group chat"
        if status == "kicked":
            raise forbidden(f"bot was kicked from the {kind}")
        raise forbidden(f"bot is not a member of the {kind}")
