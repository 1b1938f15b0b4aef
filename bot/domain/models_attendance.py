"""Pydantic models of attendance marked by an organiser (a leaf)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RosterLine(BaseModel):
    """One confirmed person of an activity's roster, as the organiser marks them."""

    model_config = ConfigDict(frozen=True)

    user_id: int
    seq: int
    checked_in_at: float | None = None
    #: after /close: what counted ('present' / 'no_show')
    attendance: str | None = None
    #: the organiser's mark ('present' / 'no_show'; None: as the check-in says)
    marked: str | None = None
    hour_entry_id: int | None = None
    post_no: int | None = None
    first_name: str | None = None
    lang: str | None = None  # the person's chosen language, and Telegram's
    tg_lang: str | None = None
    real_name: str | None = None
    org_id: int | None = None


class Mark(BaseModel):
    """One attendance mark in the activity's log."""

    model_config = ConfigDict(frozen=True)

    id: int
    activity_id: int
    user_id: int
    mark: str
    by_user: int
    at: float
    after_close: bool = False
    credited: int | None = None
    revoked: int | None = None
