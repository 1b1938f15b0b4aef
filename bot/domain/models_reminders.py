"""A reminder row: the database's record of one thing scheduled."""

from __future__ import annotations

from pydantic import BaseModel


class Reminder(BaseModel):
    """One scheduled step of a feature's reminder (kind, ref_id, step)."""

    id: int
    kind: str
    ref_id: int
    step: str
    due_at: float
    status: str = "pending"
    fired_at: float | None = None
