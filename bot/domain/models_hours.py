"""Volunteer hours as repositories return them (quarter-hours; see storage/hours.py)."""

from __future__ import annotations

from typing import NamedTuple

from pydantic import BaseModel, ConfigDict


class HourEntry(BaseModel):
    """One logged entry of service hours, with joined names for display."""

    model_config = ConfigDict(frozen=True)

    id: int
    user_id: int
    org_id: int
    served_on: str
    quarters: int
    description: str
    status: str
    source: str = "self"
    created_at: float
    decided_by: int | None = None
    decided_at: float | None = None
    reason: str | None = None
    revoked_by: int | None = None
    revoked_at: float | None = None
    revoke_reason: str | None = None
    #: 'photo', 'checkin' (credited at /close for a check-in), 'marked' (by the organiser)
    evidence: str | None = None
    photo_file_id: str | None = None
    # joined for display (None when not asked for, or the person was forgotten)
    first_name: str | None = None
    real_name: str | None = None
    org_name: str | None = None
    org_code: str | None = None
    decider_name: str | None = None

    @property
    def hours(self) -> float:
        return self.quarters / 4


class EntryRow(NamedTuple):
    """An `HourEntry`'s fields as the subtree export reads them, a plain tuple: 200,000 rows
    skip a validation each (the columns are the database's own, the same types on SQLite and
    PostgreSQL)."""

    id: int
    user_id: int
    org_id: int
    served_on: str
    quarters: int
    description: str
    status: str
    source: str
    created_at: float
    decided_by: int | None
    decided_at: float | None
    reason: str | None
    revoked_by: int | None
    revoked_at: float | None
    revoke_reason: str | None
    evidence: str | None
    photo_file_id: str | None
    first_name: str | None
    real_name: str | None
    org_name: str | None
    org_code: str | None
    decider_name: str | None


class Draft(BaseModel):
    """A same-day duplicate waiting for the person's Yes or No."""

    model_config = ConfigDict(frozen=True)

    id: int
    user_id: int
    served_on: str
    quarters: int
    description: str
    created_at: float
    photo_file_id: str | None = None


class OrgSums(BaseModel):
    """Approved quarter-hours logged at one org (not rolled up)."""

    org_id: int
    quarters: int = 0
    year_quarters: int = 0
    entries: int = 0


class PersonSums(BaseModel):
    """One person's approved and pending quarter-hours."""

    user_id: int
    org_id: int | None
    real_name: str | None
    first_name: str | None
    approved: int = 0
    pending: int = 0
    entries: int = 0
