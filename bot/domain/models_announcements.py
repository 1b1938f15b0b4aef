"""Announcements, their copies per chat, acknowledgements and digest items."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Announcement(BaseModel):
    """One /announce: what was posted, by whom, from which chat."""

    id: int
    org_id: int
    chat_id: int
    author_id: int
    kind: str = "message"
    text: str = ""
    file_id: str | None = None
    urgent: bool = False
    created_at: float
    status: str = "sent"  # scheduled | sent | cancelled | missed | recalled
    send_at: float | None = None  # a scheduled one: when its copies are queued
    pin: bool = False
    edited_at: float | None = None
    edits: int = 0
    recalled_at: float | None = None


class Target(BaseModel):
    """One chat an announcement was addressed to, with what became of its copy."""

    chat_id: int
    org_id: int
    org_name: str = ""
    title: str = ""
    active: bool = True
    outbox_id: int | None = None
    status: str | None = None  # outbox status: pending | sent | failed | cancelled
    message_ids: list[int] = Field(default_factory=list)
    error: str | None = None
    sent_at: float | None = None
    digest_item: int | None = None  # folded into the evening digest
    digest_outbox: int | None = None
    digest_status: str | None = None
    digest_message_ids: list[int] = Field(default_factory=list)


class Ack(BaseModel):
    """One person's "Received" on one chat's copy."""

    user_id: int
    chat_id: int
    first_name: str
    acked_at: float


class DigestItem(BaseModel):
    """A group message over the daily budget, kept for the evening digest."""

    id: int
    chat_id: int
    kind: str
    payload: dict[str, Any]
    ref: str | None = None
    created_at: float
