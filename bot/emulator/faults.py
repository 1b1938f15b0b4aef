"""Injected failures: 429s, 403s, migrations, 5xx, time-outs and dropped connections."""

from __future__ import annotations

from typing import Any

from .records import (
    FAULT_KINDS,
    ApiError,
    ChatRef,
    Fault,
    TransportFault,
    bad_request,
    forbidden,
    too_many,
)
from .world import World


class Faults(World):
    """:meth:`inject` queues a fault; the dispatcher takes and raises matching ones."""

    def _init_faults(self) -> None:
        self.faults: list[Fault] = []

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
        connection), cant_parse (400 "can't parse entities"), rejected (any other
        permanent 400).
        """
        if error not in FAULT_KINDS:
            raise ValueError(f"unknown fault {error!r}")
        fault = Fault(
            method,
            None if chat_id is None else self._cid(chat_id),
            error,
            times,
            retry_after,
            migrate_to,
        )
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
            raise too_many(fault.retry_after)
        if kind == "blocked":
            raise forbidden("bot was blocked by the user")
        if kind == "not_started":
            raise forbidden("bot can't initiate conversation with a user")
        if kind == "chat_not_found":
            raise bad_request("chat not found")
        if kind == "cant_parse":
            raise bad_request('can\'t parse entities: Unsupported start tag "x" at byte offset 0')
        if kind == "rejected":
            raise bad_request("message must be non-empty")
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
            raise bad_request(
                "group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": new_id}
            )
