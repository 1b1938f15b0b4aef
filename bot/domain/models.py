"""Pydantic models shared by domain services and repositories (imports nothing of ours)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["secretary", "staff"]


class _Model(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class Org(_Model):
    id: int
    code: str
    name: str
    kind: str | None = None
    parent_id: int | None = None
    path: str = ""
    depth: int = 0


class Chat(_Model):
    id: int
    type: str
    title: str = ""
    active: bool = True
    is_admin: bool = False
    org_id: int | None = None


class User(_Model):
    id: int
    first_name: str = ""
    username: str | None = None
    tg_lang: str | None = None
    lang: Literal["zh", "en"] | None = None
    started: bool = False
    reachable: bool = True


class Person(_Model):
    user_id: int
    real_name: str
    phone: str | None = None
    org_id: int
    consent_at: float
    registered_at: float


class RoleGrant(_Model):
    org_id: int
    user_id: int
    role: Role


class Flow(_Model):
    user_id: int
    name: str
    state: dict[str, Any] = Field(default_factory=dict)


class OutboxItem(_Model):
    id: int
    chat_id: int
    user_id: int | None = None
    kind: str = "message"
    payload: dict[str, Any]
    ref: str | None = None
    status: str = "pending"
    attempts: int = 0
    failures: int = 0  # transient errors (timeouts, network); 429 waits are not failures
    not_before: float = 0.0
    created_at: float = 0.0
    sent_at: float | None = None
    message_ids: list[int] = Field(default_factory=list)
    error: str | None = None


class Actor(_Model):
    """Who is acting, as the domain sees it (built by handlers from a Telegram user)."""

    user_id: int
    first_name: str = ""
    username: str | None = None
    tg_lang: str | None = None


class RosterEntry(_Model):
    """A pre-registration from an imported roster, waiting for its person (matched by phone)."""

    phone: str
    real_name: str
    org_id: int
    role: str | None = None
    imported_at: float
